//! The Sdtrig trigger registers, one file per register as the RISC-V
//! Debug Specification (version 1.0, chapter 5, "Sdtrig") names them, with
//! their fields for XLEN = 64.
//!
//! | CSR | number | what it holds |
//! |---|---|---|
//! | [`tselect`] | 0x7a0 | which trigger `tdata1`-`tdata3` and `tinfo` show |
//! | [`tdata1`] | 0x7a1 | the selected trigger's type and control: [`mcontrol`] (type 2) or [`mcontrol6`] (type 6) |
//! | [`tdata2`] | 0x7a2 | its compare value (an address here) |
//! | tdata3 | 0x7a3 | `textra` context matching, always written 0 by this crate |
//! | [`tinfo`] | 0x7a4 | which types the selected trigger supports |
//!
//! All of them are M-mode CSRs: an S-mode kernel reaches them only through
//! the SBI Debug Triggers extension ([`crate::sbi`]).
//!
//! Every type here is a plain value with pure accessors, tested on the host.
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::registers::{mcontrol6::Mcontrol6, tdata1, AccessBits, MatchKind, Privilege};
//! let c = Mcontrol6::new(AccessBits::STORE, Privilege::SUPERVISOR, MatchKind::Equal, 0);
//! assert_eq!(tdata1::trigger_type(c.bits()), tdata1::TYPE_MCONTROL6);
//! ```

pub mod mcontrol;
pub mod mcontrol6;
pub mod tdata1;
pub mod tdata2;
pub mod tinfo;
pub mod tselect;

/// CSR numbers of the trigger registers.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::csr;
/// assert_eq!(csr::TDATA1, csr::TSELECT + 1);
/// ```
pub mod csr {
    /// `tselect`.
    pub const TSELECT: u16 = 0x7a0;
    /// `tdata1`.
    pub const TDATA1: u16 = 0x7a1;
    /// `tdata2`.
    pub const TDATA2: u16 = 0x7a2;
    /// `tdata3`.
    pub const TDATA3: u16 = 0x7a3;
    /// `tinfo`.
    pub const TINFO: u16 = 0x7a4;
}

/// The `execute`, `store` and `load` bits (bits 2, 1, 0) that `mcontrol`
/// and `mcontrol6` share: which operations a trigger compares.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::AccessBits;
/// assert_eq!((AccessBits::LOAD | AccessBits::STORE).0, 0b011);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AccessBits(pub u64);

impl AccessBits {
    /// `load` (bit 0): loads from the address.
    pub const LOAD: Self = Self(0b001);
    /// `store` (bit 1): stores to the address.
    pub const STORE: Self = Self(0b010);
    /// `execute` (bit 2): fetching the instruction at the address.
    pub const EXECUTE: Self = Self(0b100);
    /// The three bits.
    pub const MASK: u64 = 0b111;

    /// Whether every bit of `other` is set here.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::AccessBits;
    /// assert!((AccessBits::LOAD | AccessBits::STORE).contains(AccessBits::STORE));
    /// assert!(!AccessBits::LOAD.contains(AccessBits::STORE));
    /// ```
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for AccessBits {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The privilege-mode bits `m` (6), `s` (4) and `u` (3) that `mcontrol`
/// and `mcontrol6` share: in which modes the trigger matches.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::Privilege;
/// assert_eq!(Privilege::MACHINE.0, 1 << 6);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Privilege(pub u64);

impl Privilege {
    /// `u` (bit 3): U-mode.
    pub const USER: Self = Self(1 << 3);
    /// `s` (bit 4): S-mode.
    pub const SUPERVISOR: Self = Self(1 << 4);
    /// `m` (bit 6): M-mode.
    pub const MACHINE: Self = Self(1 << 6);
    /// The three bits: 6, 4 and 3.
    pub const MASK: u64 = 0b101_1000;
}

/// The `match` field (bits 10:7) of `mcontrol` and `mcontrol6`: how the
/// compare value (the accessed or fetched address) is compared with
/// `tdata2`. Only the kinds this crate uses are listed.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::MatchKind;
/// assert_eq!(MatchKind::Napot as u64, 1);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u64)]
pub enum MatchKind {
    /// 0: the compare value equals `tdata2`.
    Equal = 0,
    /// 1: the top bits of the compare value equal those of `tdata2`, down
    /// to (and excluding) the lowest 0 bit of `tdata2` and the ones below
    /// it: a naturally aligned power-of-two range of at least 2 bytes.
    Napot = 1,
    /// 2: the compare value is at least `tdata2`.
    GreaterOrEqual = 2,
    /// 3: the compare value is below `tdata2`.
    Less = 3,
}

impl MatchKind {
    /// The field's position.
    pub const SHIFT: u32 = 7;
    /// The field's mask, in place.
    pub const MASK: u64 = 0xf << Self::SHIFT;

    /// The kind a `match` value names, if it is one of those listed.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::MatchKind;
    /// assert_eq!(MatchKind::from_field(3), Some(MatchKind::Less));
    /// assert_eq!(MatchKind::from_field(4), None); // mask low: not used here
    /// ```
    pub const fn from_field(v: u64) -> Option<Self> {
        match v {
            0 => Some(Self::Equal),
            1 => Some(Self::Napot),
            2 => Some(Self::GreaterOrEqual),
            3 => Some(Self::Less),
            _ => None,
        }
    }
}

/// Bits 15:12 of `mcontrol` and `mcontrol6`: what a firing trigger does.
/// This crate always uses 0 (raise a breakpoint exception), the only
/// action a native kernel can receive.
pub const ACTION_MASK: u64 = 0xf << 12;
/// Bit 11 of `mcontrol` and `mcontrol6`: `chain`. This crate never sets
/// it (see the crate documentation: the core's pieces are one slot each).
pub const CHAIN: u64 = 1 << 11;
