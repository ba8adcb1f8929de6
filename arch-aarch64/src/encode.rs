//! Pure validators and encoders: requests to DBGBCR/DBGBVR and DBGWCR/DBGWVR
//! images, and images back to the ranges they watch. No register is touched;
//! everything here is compiled and unit-tested on the host.
//!
//! Facts used (Arm ARM, ARM DDI 0487, D2 "AArch64 Self-hosted Debug" and the
//! D19 register descriptions):
//! - a watchpoint compares a doubleword-aligned address (DBGWVR) and selects
//!   any contiguous run of its 8 bytes with BAS\[7:0\] (bit i = byte i), or,
//!   with MASK = m in 3..=31 and BAS = 0xFF, a naturally aligned block of 2^m
//!   bytes (8 bytes to 2 GiB);
//! - LSC selects loads (0b01), stores (0b10) or both (0b11);
//! - with HMC = 0 and SSC = 0b00, PAC/PMC = 0b01 matches EL1 only and 0b10
//!   EL0 only, in both security states;
//! - an AArch64 instruction breakpoint compares a 4-byte aligned address with
//!   BAS = 0b1111 and BT = 0b0000 (unlinked address match);
//! - virtual addresses have 48 significant bits: bits \[63:48\] copy bit 47
//!   (low half from 0, high half up to 2^64 - 1). 52-bit VAs (FEAT_LVA) and
//!   tagged pointers (TBI) are not accepted: strip tags first.
//!
//! # Examples
//!
//! ```
//! use hwbreak_aarch64::encode::{watched_range, watchpoint};
//! use hwbreak_core::{AccessKind, Space};
//!
//! // Two bytes at 0x1004, stores, at EL1.
//! let image = watchpoint(0x1004, 2, AccessKind::Write, Space::Kernel)?;
//! // DBGWVR: the doubleword; DBGWCR: BAS = 0b0011_0000 (bytes 4 and 5),
//! // LSC = 0b10 (store), PAC = 0b01 (EL1), E = 1.
//! assert_eq!((image.value, image.control), (0x1000, 0x613));
//! assert_eq!(watched_range(&image), Some((0x1004, 2)));
//! # Ok::<(), hwbreak_core::Error>(())
//! ```

use hwbreak_core::{AccessKind, ErrorKind, Result, SlotImage, Space};
use tock_registers::fields::FieldValue;

use crate::registers::{DBGBCR_EL1, DBGWCR_EL1};

/// Bytes in the doubleword a BAS-selected watchpoint covers.
pub const GRANULE: u64 = 8;
/// Smallest usable MASK value (8-byte block).
pub const MIN_MASK: u32 = 3;
/// Largest MASK value (2 GiB block).
pub const MAX_MASK: u32 = 31;
/// Longest range one watchpoint covers (MASK = 31).
pub const MAX_WATCH_LEN: u64 = 1 << MAX_MASK;
/// Bytes of one AArch64 instruction.
pub const INSN_LEN: u64 = 4;
/// Significant virtual address bits.
pub const VA_BITS: u32 = 48;
/// First address past the low (user) half of the address space.
pub const LOW_HALF_END: u64 = 1 << VA_BITS;
/// First address of the high (kernel) half of the address space.
pub const HIGH_HALF_START: u64 = !(LOW_HALF_END - 1);

/// Which half of the 48-bit address space an address lies in.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::{half, Half};
/// assert_eq!(half(0xffff_8000_0000_0000), Some(Half::High));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Half {
    /// `0 ..= 0x0000_FFFF_FFFF_FFFF` (TTBR0: user space, or an identity-mapped kernel).
    Low,
    /// `0xFFFF_0000_0000_0000 ..= u64::MAX` (TTBR1: kernel space).
    High,
}

/// The half `addr` lies in, or `None` if it is not canonical for 48-bit VAs.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::{half, Half};
/// assert_eq!(half(0x4000_0000), Some(Half::Low));
/// assert_eq!(half(0xffff_0000_0000_0000), Some(Half::High));
/// assert_eq!(half(0x0001_0000_0000_0000), None);
/// ```
pub const fn half(addr: u64) -> Option<Half> {
    if addr < LOW_HALF_END {
        Some(Half::Low)
    } else if addr >= HIGH_HALF_START {
        Some(Half::High)
    } else {
        None
    }
}

/// Checks that `[addr, end)` is implementable: every byte canonical and in
/// one half; user ranges in the low half. `end == 0` means the range runs to
/// the top of the address space.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::check_va;
/// use hwbreak_core::{ErrorKind, Space};
/// assert!(check_va(0x1000, 0x1008, Space::User).is_ok());
/// let kernel = 0xffff_0000_0000_1000;
/// assert!(check_va(kernel, kernel + 8, Space::Kernel).is_ok());
/// assert_eq!(
///     check_va(kernel, kernel + 8, Space::User).unwrap_err().kind(),
///     ErrorKind::KernelAddressFromUser
/// );
/// // Ends past the low half: spans the non-canonical hole.
/// let top = 0x0000_ffff_ffff_fffc;
/// assert_eq!(check_va(top, top + 8, Space::Kernel).unwrap_err().kind(), ErrorKind::NonCanonical);
/// ```
pub fn check_va(addr: u64, end: u64, space: Space) -> Result<()> {
    let last = if end == 0 { u64::MAX } else { end - 1 };
    if last < addr {
        return Err(ErrorKind::AddressOverflow.into());
    }
    let (Some(first_half), Some(last_half)) = (half(addr), half(last)) else {
        return Err(ErrorKind::NonCanonical.into());
    };
    if first_half != last_half {
        // The range spans the non-canonical hole between the halves.
        return Err(ErrorKind::NonCanonical.into());
    }
    if space == Space::User && first_half == Half::High {
        return Err(ErrorKind::KernelAddressFromUser.into());
    }
    Ok(())
}

/// The LSC field value for a data access kind (`UnsupportedKind` for
/// execute and I/O).
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::lsc;
/// use hwbreak_core::AccessKind;
/// assert_eq!(lsc(AccessKind::Read)?.value, 0b01 << 3);
/// assert_eq!(lsc(AccessKind::ReadWrite)?.value, 0b11 << 3);
/// assert!(lsc(AccessKind::Execute).is_err());
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn lsc(kind: AccessKind) -> Result<FieldValue<u64, DBGWCR_EL1::Register>> {
    match kind {
        AccessKind::Read => Ok(DBGWCR_EL1::LSC::Load),
        AccessKind::Write => Ok(DBGWCR_EL1::LSC::Store),
        AccessKind::ReadWrite => Ok(DBGWCR_EL1::LSC::LoadStore),
        AccessKind::Execute | AccessKind::Io => Err(ErrorKind::UnsupportedKind.into()),
    }
}

/// The PAC value for a watchpoint in `space` (EL0 for user, EL1 for kernel;
/// never both), with HMC = 0 and SSC = 0b00.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::watch_privilege;
/// use hwbreak_core::Space;
/// assert_eq!(watch_privilege(Space::User).value, 0b10 << 1); // PAC = EL0
/// assert_eq!(watch_privilege(Space::Kernel).value, 0b01 << 1); // PAC = EL1
/// ```
pub fn watch_privilege(space: Space) -> FieldValue<u64, DBGWCR_EL1::Register> {
    match space {
        Space::User => DBGWCR_EL1::PAC::El0 + DBGWCR_EL1::HMC.val(0) + DBGWCR_EL1::SSC.val(0),
        Space::Kernel => DBGWCR_EL1::PAC::El1 + DBGWCR_EL1::HMC.val(0) + DBGWCR_EL1::SSC.val(0),
    }
}

/// The PMC value for a breakpoint in `space`, with HMC = 0 and SSC = 0b00.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::break_privilege;
/// use hwbreak_core::Space;
/// assert_eq!(break_privilege(Space::Kernel).value, 0b01 << 1); // PMC = EL1
/// ```
pub fn break_privilege(space: Space) -> FieldValue<u64, DBGBCR_EL1::Register> {
    match space {
        Space::User => DBGBCR_EL1::PMC::El0 + DBGBCR_EL1::HMC.val(0) + DBGBCR_EL1::SSC.val(0),
        Space::Kernel => DBGBCR_EL1::PMC::El1 + DBGBCR_EL1::HMC.val(0) + DBGBCR_EL1::SSC.val(0),
    }
}

/// The byte selection for `len` bytes at `addr` inside one doubleword:
/// `(granule address, BAS)`. Refuses runs that leave the doubleword
/// (`Misaligned`) or are longer than 8 bytes (`UnsupportedLength`).
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::byte_select;
/// use hwbreak_core::ErrorKind;
/// assert_eq!(byte_select(0x1003, 3)?, (0x1000, 0b0011_1000));
/// assert_eq!(byte_select(0x1006, 4).unwrap_err().kind(), ErrorKind::Misaligned);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn byte_select(addr: u64, len: u64) -> Result<(u64, u8)> {
    if len == 0 {
        return Err(ErrorKind::ZeroLength.into());
    }
    if len > GRANULE {
        return Err(ErrorKind::UnsupportedLength.into());
    }
    let offset = addr % GRANULE;
    if offset + len > GRANULE {
        return Err(ErrorKind::Misaligned.into());
    }
    // `len` ones, shifted to the byte offset: at most bits 0..=7.
    let bas = (((1u16 << len) - 1) << offset) as u8;
    Ok((addr - offset, bas))
}

/// The MASK value for the naturally aligned power-of-two block `[addr, addr + len)`
/// of 8 bytes to 2 GiB.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::mask_for;
/// use hwbreak_core::ErrorKind;
/// assert_eq!(mask_for(0x4000, 0x1000)?, 12); // a 4 KiB page
/// assert_eq!(mask_for(0x4008, 16).unwrap_err().kind(), ErrorKind::Misaligned);
/// assert_eq!(mask_for(0x4000, 24).unwrap_err().kind(), ErrorKind::UnsupportedLength);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn mask_for(addr: u64, len: u64) -> Result<u32> {
    if len == 0 {
        return Err(ErrorKind::ZeroLength.into());
    }
    if !len.is_power_of_two() || !(GRANULE..=MAX_WATCH_LEN).contains(&len) {
        return Err(ErrorKind::UnsupportedLength.into());
    }
    if !addr.is_multiple_of(len) {
        return Err(ErrorKind::Misaligned.into());
    }
    Ok(len.trailing_zeros())
}

/// The longest prefix of `[addr, addr + len)` one watchpoint covers exactly:
/// the largest naturally aligned power-of-two block (at least 8 bytes) that
/// starts at `addr` and fits, else the byte run up to the end of `addr`'s
/// doubleword. Greedy covering with this answer is minimal.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::max_data_piece;
/// // From an odd address: the rest of the doubleword.
/// assert_eq!(max_data_piece(0x1003, 20)?, 5);
/// // From 0x1000 with 48 bytes left: the largest aligned block, 32.
/// assert_eq!(max_data_piece(0x1000, 48)?, 32);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn max_data_piece(addr: u64, len: u64) -> Result<u64> {
    if len == 0 {
        return Err(ErrorKind::ZeroLength.into());
    }
    let offset = addr % GRANULE;
    if offset != 0 || len < GRANULE {
        return Ok(len.min(GRANULE - offset));
    }
    // `addr` is 8-aligned: grow the block while it stays aligned and fits.
    let mut block = GRANULE;
    while block < MAX_WATCH_LEN && addr.is_multiple_of(block * 2) && block * 2 <= len {
        block *= 2;
    }
    Ok(block)
}

/// The longest prefix one breakpoint covers: the instruction at a 4-byte
/// aligned `addr`, asked for with a length of 1 to 4.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::max_code_piece;
/// use hwbreak_core::ErrorKind;
/// assert_eq!(max_code_piece(0x8000, 4)?, 4);
/// assert_eq!(max_code_piece(0x8002, 1).unwrap_err().kind(), ErrorKind::Misaligned);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn max_code_piece(addr: u64, len: u64) -> Result<u64> {
    check_code(addr, len)?;
    Ok(len)
}

fn check_code(addr: u64, len: u64) -> Result<()> {
    if len == 0 {
        return Err(ErrorKind::ZeroLength.into());
    }
    if !addr.is_multiple_of(INSN_LEN) {
        return Err(ErrorKind::Misaligned.into());
    }
    if len > INSN_LEN {
        return Err(ErrorKind::UnsupportedLength.into());
    }
    Ok(())
}

/// Encodes a watchpoint: DBGWVR in `value`, DBGWCR (with E = 1) in `control`.
///
/// One 8-byte aligned doubleword uses BAS = 0xFF, MASK = 0; any shorter run
/// inside a doubleword uses the shifted BAS; a naturally aligned power-of-two
/// block of 16 bytes to 2 GiB uses MASK with BAS = 0xFF.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::watchpoint;
/// use hwbreak_core::{AccessKind, ErrorKind, Space};
///
/// // A 4 KiB page, loads and stores, at EL1: MASK = 12, BAS = 0xFF,
/// // LSC = 0b11, PAC = 0b01, E = 1.
/// let page = watchpoint(0x4000, 0x1000, AccessKind::ReadWrite, Space::Kernel)?;
/// assert_eq!((page.value, page.control), (0x4000, 0x0c00_1ffb));
/// // Three bytes that leave their doubleword need two watchpoints; the core
/// // splits them, this encoder refuses.
/// let err = watchpoint(0x1006, 3, AccessKind::Write, Space::Kernel).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Misaligned);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn watchpoint(addr: u64, len: u64, kind: AccessKind, space: Space) -> Result<SlotImage> {
    let lsc = lsc(kind)?;
    if len == 0 {
        return Err(ErrorKind::ZeroLength.into());
    }
    let end = addr.checked_add(len).ok_or(ErrorKind::AddressOverflow)?;
    check_va(addr, end, space)?;
    let (value, range) = if len <= GRANULE {
        let (granule, bas) = byte_select(addr, len)?;
        (
            granule,
            DBGWCR_EL1::BAS.val(bas.into()) + DBGWCR_EL1::MASK.val(0),
        )
    } else {
        let mask = mask_for(addr, len)?;
        (
            addr,
            DBGWCR_EL1::BAS.val(0xFF) + DBGWCR_EL1::MASK.val(mask.into()),
        )
    };
    let control = lsc
        + range
        + watch_privilege(space)
        + DBGWCR_EL1::WT::Unlinked
        + DBGWCR_EL1::LBN.val(0)
        + DBGWCR_EL1::E.val(1);
    Ok(SlotImage {
        value,
        control: control.value,
    })
}

/// Encodes an instruction breakpoint on the instruction at `addr` (4-byte
/// aligned; `len` 1..=4 names that one instruction): DBGBVR in `value`,
/// DBGBCR (with E = 1) in `control`.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::{breakpoint, breakpoint_address};
/// use hwbreak_core::Space;
/// // BT = 0 (unlinked address match), BAS = 0b1111, PMC = 0b01 (EL1), E = 1.
/// let image = breakpoint(0x8000, 4, Space::Kernel)?;
/// assert_eq!((image.value, image.control), (0x8000, 0x1e3));
/// assert_eq!(breakpoint_address(&image), Some(0x8000));
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn breakpoint(addr: u64, len: u64, space: Space) -> Result<SlotImage> {
    check_code(addr, len)?;
    // `end == 0` (the instruction ends at the top of the address space) is
    // understood by `check_va`.
    check_va(addr, addr.wrapping_add(INSN_LEN), space)?;
    let control = DBGBCR_EL1::BT::UnlinkedAddressMatch
        + DBGBCR_EL1::BAS.val(0b1111)
        + break_privilege(space)
        + DBGBCR_EL1::LBN.val(0)
        + DBGBCR_EL1::E.val(1);
    Ok(SlotImage {
        value: addr,
        control: control.value,
    })
}

/// The bytes `[start, start + len)` a watchpoint image watches, or `None`
/// if it is disabled or not an image [`watchpoint`] produces.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::{watched_range, watchpoint};
/// use hwbreak_core::{AccessKind, SlotImage, Space};
/// let page = watchpoint(0x4000, 0x1000, AccessKind::Write, Space::Kernel)?;
/// assert_eq!(watched_range(&page), Some((0x4000, 0x1000)));
/// assert_eq!(watched_range(&SlotImage::default()), None); // E = 0
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn watched_range(image: &SlotImage) -> Option<(u64, u64)> {
    let c = image.control;
    if c & 1 == 0 {
        return None;
    }
    let mask = (c >> DBGWCR_EL1::MASK.shift) & DBGWCR_EL1::MASK.mask;
    let bas = (c >> DBGWCR_EL1::BAS.shift) & DBGWCR_EL1::BAS.mask;
    if mask >= u64::from(MIN_MASK) {
        let len = 1u64 << mask;
        Some((image.value & !(len - 1), len))
    } else if mask == 0 && bas != 0 {
        let first = u64::from(bas.trailing_zeros());
        let count = u64::from(bas.count_ones());
        Some(((image.value & !(GRANULE - 1)) + first, count))
    } else {
        None
    }
}

/// Whether a watchpoint image matches loads (`write == false`) or stores.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::{watches_direction, watchpoint};
/// use hwbreak_core::{AccessKind, Space};
/// let stores = watchpoint(0x1000, 8, AccessKind::Write, Space::Kernel)?;
/// assert!(watches_direction(&stores, true));
/// assert!(!watches_direction(&stores, false));
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn watches_direction(image: &SlotImage, write: bool) -> bool {
    let lsc = (image.control >> DBGWCR_EL1::LSC.shift) & DBGWCR_EL1::LSC.mask;
    if write {
        lsc & 0b10 != 0
    } else {
        lsc & 0b01 != 0
    }
}

/// The instruction address a breakpoint image matches, or `None` if disabled.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::encode::breakpoint_address;
/// use hwbreak_core::SlotImage;
/// assert_eq!(breakpoint_address(&SlotImage { value: 0x8000, control: 0x1e3 }), Some(0x8000));
/// assert_eq!(breakpoint_address(&SlotImage { value: 0x8000, control: 0x1e2 }), None);
/// ```
pub fn breakpoint_address(image: &SlotImage) -> Option<u64> {
    if image.control & 1 == 0 {
        None
    } else {
        Some(image.value & !(INSN_LEN - 1))
    }
}
