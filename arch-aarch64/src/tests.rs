//! Host unit tests. Expected register values are derived by hand from the
//! Arm ARM field positions (DBGWCR: MASK\[28:24\], BAS\[12:5\], LSC\[4:3\],
//! PAC\[2:1\], E\[0\]; DBGBCR: BT\[23:20\], BAS\[8:5\], PMC\[2:1\], E\[0\]; ESR:
//! EC\[31:26\], IL\[25\], WnR = ISS\[6\]), each shown as a sum of shifted fields.

use hwbreak_core::cover::exact_cover;
use hwbreak_core::{
    AccessKind, Arch, ErrorKind, MemoryType, Piece, PoolId, Resume, SlotImage, SlotView, Space,
    MAX_SLOTS,
};

use crate::decode::{decode, Trap};
use crate::encode::{self, watched_range};
use crate::Aarch64;

const A: Aarch64 = Aarch64::with_counts(6, 4);

fn piece(addr: u64, len: u64, kind: AccessKind, space: Space) -> Piece {
    Piece {
        addr,
        len,
        kind,
        space,
        memory: MemoryType::Normal,
    }
}

fn enc(addr: u64, len: u64, kind: AccessKind, space: Space) -> Result<SlotImage, ErrorKind> {
    A.encode(&piece(addr, len, kind, space))
        .map_err(|e| e.kind())
}

fn kernel_write(addr: u64, len: u64) -> Result<SlotImage, ErrorKind> {
    enc(addr, len, AccessKind::Write, Space::Kernel)
}

// ---- pools and counts ----

#[test]
fn pools_and_counts() {
    assert_eq!(A.pool_of(AccessKind::Execute), Ok(PoolId::FIRST));
    for k in [AccessKind::Read, AccessKind::Write, AccessKind::ReadWrite] {
        assert_eq!(A.pool_of(k), Ok(PoolId::SECOND));
    }
    assert_eq!(
        A.pool_of(AccessKind::Io).map_err(|e| e.kind()),
        Err(ErrorKind::UnsupportedKind)
    );
    assert_eq!(A.slot_counts().0, [6, 4]);
    // 16 is the architectural maximum (4-bit "count minus one" fields).
    assert_eq!(Aarch64::with_counts(40, 17).slot_counts().0, [16, 16]);
    // On the host there are no identification registers to read.
    assert_eq!(Aarch64::new().slot_counts().0, [0, 0]);
    assert_eq!(
        A.control_word(PoolId::SECOND, &[Some(SlotImage::default())]),
        0
    );
}

// ---- watchpoint encodings ----

#[test]
fn one_byte_at_offset_3() {
    // BAS = 1 << 3 = 0x08 -> 0x08 << 5 = 0x100; LSC store 0b10 << 3 = 0x10;
    // PAC EL1 0b01 << 1 = 0x2; E = 0x1.
    assert_eq!(
        kernel_write(0x4010_0003, 1),
        Ok(SlotImage {
            value: 0x4010_0000,
            control: 0x100 | 0x10 | 0x2 | 0x1
        })
    );
}

#[test]
fn two_bytes_at_offset_6_user_read_write() {
    // BAS = 0b1100_0000 = 0xC0 -> 0xC0 << 5 = 0x1800; LSC 0b11 << 3 = 0x18;
    // PAC EL0 0b10 << 1 = 0x4; E = 1.
    assert_eq!(
        enc(0x7000_1006, 2, AccessKind::ReadWrite, Space::User),
        Ok(SlotImage {
            value: 0x7000_1000,
            control: 0x1800 | 0x18 | 0x4 | 0x1
        })
    );
}

#[test]
fn whole_doubleword_read_only() {
    // BAS = 0xFF << 5 = 0x1FE0; LSC load 0b01 << 3 = 0x8; PAC EL1 0x2; E 1.
    assert_eq!(
        enc(0x4010_0008, 8, AccessKind::Read, Space::Kernel),
        Ok(SlotImage {
            value: 0x4010_0008,
            control: 0x1FE0 | 0x8 | 0x2 | 0x1
        })
    );
}

#[test]
fn every_byte_run_in_a_granule() {
    for offset in 0..8u64 {
        for len in 1..=(8 - offset) {
            let img = kernel_write(0x1000 + offset, len).unwrap();
            // Bits 5 + offset .. 5 + offset + len set, nothing else in BAS.
            let bas = (img.control >> 5) & 0xFF;
            assert_eq!(
                bas,
                ((1u64 << len) - 1) << offset,
                "offset {offset} len {len}"
            );
            assert_eq!(img.value, 0x1000);
            assert_eq!(img.control >> 24, 0, "no MASK with byte selects");
            assert_eq!(watched_range(&img), Some((0x1000 + offset, len)));
        }
        // One byte more leaves the doubleword: refused, never truncated (a
        // 9-byte run from the start is no power of two: a length error).
        let want = if offset == 0 {
            ErrorKind::UnsupportedLength
        } else {
            ErrorKind::Misaligned
        };
        assert_eq!(kernel_write(0x1000 + offset, 9 - offset), Err(want));
    }
}

#[test]
fn mask_4k() {
    // MASK = 12 -> 12 << 24 = 0x0C00_0000; BAS 0xFF -> 0x1FE0; LSC store 0x10;
    // PAC EL1 0x2; E 1.
    assert_eq!(
        kernel_write(0x4020_0000, 4096),
        Ok(SlotImage {
            value: 0x4020_0000,
            control: 0x0C00_0000 | 0x1FE0 | 0x10 | 0x2 | 0x1
        })
    );
}

#[test]
fn mask_extremes() {
    // 16 bytes: MASK = 4 -> 0x0400_0000. 2 GiB: MASK = 31 -> 0x1F00_0000.
    assert_eq!(
        kernel_write(0x1010, 16).unwrap().control,
        0x0400_0000 | 0x1FE0 | 0x10 | 0x3
    );
    let img = kernel_write(0x8000_0000, 1 << 31).unwrap();
    assert_eq!(img.control, 0x1F00_0000 | 0x1FE0 | 0x10 | 0x3);
    assert_eq!(watched_range(&img), Some((0x8000_0000, 1 << 31)));
    // An aligned doubleword uses BAS = 0xFF without MASK (MASK = 3 would be
    // the same bytes).
    assert_eq!(kernel_write(0x18, 8).unwrap().control >> 24, 0);
    for m in 4..=31u32 {
        let len = 1u64 << m;
        let img = kernel_write(len * 3, len).unwrap();
        assert_eq!((img.control >> 24) & 0x1F, u64::from(m));
        assert_eq!(watched_range(&img), Some((len * 3, len)));
    }
}

#[test]
fn watch_refusals() {
    assert_eq!(kernel_write(0x1000, 0), Err(ErrorKind::ZeroLength));
    // Not a power of two, longer than a granule.
    assert_eq!(kernel_write(0x1000, 12), Err(ErrorKind::UnsupportedLength));
    // Power of two, not naturally aligned.
    assert_eq!(kernel_write(0x1008, 16), Err(ErrorKind::Misaligned));
    // Longer than the 2 GiB maximum.
    assert_eq!(kernel_write(0, 1 << 32), Err(ErrorKind::UnsupportedLength));
    // Crossing a doubleword.
    assert_eq!(kernel_write(0x1007, 2), Err(ErrorKind::Misaligned));
    assert_eq!(
        enc(0x1000, 4, AccessKind::Io, Space::Kernel),
        Err(ErrorKind::UnsupportedKind)
    );
    assert_eq!(
        kernel_write(u64::MAX - 1, 4),
        Err(ErrorKind::AddressOverflow)
    );
}

// ---- address checks ----

#[test]
fn canonical_halves() {
    // Bits [63:48] must copy bit 47.
    assert_eq!(
        kernel_write(0x0001_0000_0000_0000, 8),
        Err(ErrorKind::NonCanonical)
    );
    assert_eq!(
        kernel_write(0xFFFE_FFFF_FFFF_FFF8, 8),
        Err(ErrorKind::NonCanonical)
    );
    // The last low-half doubleword is fine; one that runs past it is not.
    assert!(kernel_write(0x0000_FFFF_FFFF_FFF8, 8).is_ok());
    assert_eq!(
        A.check_range(0x0000_FFFF_FFFF_FFF8, 0x0001_0000_0000_0008, Space::Kernel)
            .map_err(|e| e.kind()),
        Err(ErrorKind::NonCanonical)
    );
    // High half: kernel yes, user no.
    let img = kernel_write(0xFFFF_8000_0000_1000, 8).unwrap();
    assert_eq!(img.value, 0xFFFF_8000_0000_1000);
    assert_eq!(
        enc(0xFFFF_8000_0000_1000, 8, AccessKind::Write, Space::User),
        Err(ErrorKind::KernelAddressFromUser)
    );
    // An identity-mapped kernel in the low half is a kernel address.
    assert!(A
        .check_range(0x4008_0000, 0x4008_0010, Space::Kernel)
        .is_ok());
    // A range ending exactly at the top of the address space (end wraps to 0).
    assert!(A
        .check_range(0xFFFF_FFFF_FFFF_FFF0, 0, Space::Kernel)
        .is_ok());
    assert_eq!(
        A.check_range(0x2000, 0x1000, Space::Kernel)
            .map_err(|e| e.kind()),
        Err(ErrorKind::AddressOverflow)
    );
}

// ---- breakpoints ----

#[test]
fn breakpoint_encoding() {
    // BT 0 (unlinked address match); BAS 0b1111 << 5 = 0x1E0; PMC EL1 0b01 << 1
    // = 0x2; E 1.
    for len in 1..=4 {
        assert_eq!(
            enc(0x4008_1234, len, AccessKind::Execute, Space::Kernel),
            Ok(SlotImage {
                value: 0x4008_1234,
                control: 0x1E0 | 0x2 | 0x1
            })
        );
    }
    // PMC EL0 0b10 << 1 = 0x4.
    assert_eq!(
        enc(0x40_0000, 1, AccessKind::Execute, Space::User),
        Ok(SlotImage {
            value: 0x40_0000,
            control: 0x1E0 | 0x4 | 0x1
        })
    );
    assert_eq!(
        enc(0x4008_1236, 1, AccessKind::Execute, Space::Kernel),
        Err(ErrorKind::Misaligned)
    );
    assert_eq!(
        enc(0x4008_1235, 1, AccessKind::Execute, Space::Kernel),
        Err(ErrorKind::Misaligned)
    );
    assert_eq!(
        enc(0x4008_1234, 5, AccessKind::Execute, Space::Kernel),
        Err(ErrorKind::UnsupportedLength)
    );
    assert_eq!(
        enc(0x4008_1234, 0, AccessKind::Execute, Space::Kernel),
        Err(ErrorKind::ZeroLength)
    );
    assert_eq!(
        enc(0x0080_0000_0000_0000, 1, AccessKind::Execute, Space::Kernel),
        Err(ErrorKind::NonCanonical)
    );
    assert_eq!(
        enc(0xFFFF_0000_0000_0000, 1, AccessKind::Execute, Space::User),
        Err(ErrorKind::KernelAddressFromUser)
    );
    // The very last instruction of the address space.
    assert!(enc(0xFFFF_FFFF_FFFF_FFFC, 4, AccessKind::Execute, Space::Kernel).is_ok());
    assert_eq!(A.max_piece(AccessKind::Execute, 0x1000, 1), Ok(1));
    assert_eq!(
        A.max_piece(AccessKind::Execute, 0x1000, 8)
            .map_err(|e| e.kind()),
        Err(ErrorKind::UnsupportedLength)
    );
}

// ---- covering ----

fn cover(addr: u64, len: u64) -> Vec<(u64, u64)> {
    exact_cover(
        &A,
        addr,
        len,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        8,
    )
    .unwrap()
    .pieces()
    .map(|p| (p.addr, p.len))
    .collect()
}

#[test]
fn max_piece_examples() {
    // Unaligned start: to the end of the doubleword.
    assert_eq!(encode::max_data_piece(0x1003, 100), Ok(5));
    assert_eq!(encode::max_data_piece(0x1003, 2), Ok(2));
    // Aligned start: the largest aligned power-of-two block that fits.
    assert_eq!(encode::max_data_piece(0x1000, 0x1000), Ok(0x1000));
    assert_eq!(encode::max_data_piece(0x1000, 0xFFF), Ok(0x800));
    assert_eq!(encode::max_data_piece(0x1008, 0x1000), Ok(8));
    assert_eq!(encode::max_data_piece(0, u64::MAX), Ok(1 << 31));
    assert_eq!(encode::max_data_piece(0x1000, 5), Ok(5));
    assert_eq!(
        encode::max_data_piece(0x1000, 0).map_err(|e| e.kind()),
        Err(ErrorKind::ZeroLength)
    );
    assert_eq!(cover(0x1003, 13), vec![(0x1003, 5), (0x1008, 8)]);
    assert_eq!(cover(0x1000, 24), vec![(0x1000, 16), (0x1010, 8)]);
    assert_eq!(cover(0x1FFC, 8), vec![(0x1FFC, 4), (0x2000, 4)]);
    assert_eq!(cover(0x4000, 4096), vec![(0x4000, 4096)]);
}

/// The fewest encodable pieces covering `[addr, addr + len)`, by dynamic
/// programming over every piece `encode` accepts (the reference model).
fn min_pieces(addr: u64, len: u64) -> usize {
    let n = len as usize;
    let mut best = vec![usize::MAX; n + 1];
    best[n] = 0;
    for start in (0..n).rev() {
        for plen in 1..=(n - start) {
            if best[start + plen] != usize::MAX
                && kernel_write(addr + start as u64, plen as u64).is_ok()
            {
                best[start] = best[start].min(best[start + plen] + 1);
            }
        }
    }
    best[0]
}

#[test]
fn greedy_cover_is_minimal_and_encodable() {
    for addr in 0x1000..0x1000 + 40u64 {
        for len in 1..=72u64 {
            let pieces = cover_unbounded(addr, len);
            // Exact: contiguous, starting at addr, totalling len.
            let mut at = addr;
            for &(a, l) in &pieces {
                assert_eq!(a, at);
                let img = kernel_write(a, l).unwrap();
                assert_eq!(watched_range(&img), Some((a, l)), "piece {a:#x}+{l}");
                at += l;
            }
            assert_eq!(at, addr + len);
            assert_eq!(
                pieces.len(),
                min_pieces(addr, len),
                "addr {addr:#x} len {len}"
            );
        }
    }
}

fn cover_unbounded(addr: u64, len: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut at, mut left) = (addr, len);
    while left > 0 {
        let take = A.max_piece(AccessKind::Write, at, left).unwrap();
        assert!((1..=left).contains(&take));
        out.push((at, take));
        at += take;
        left -= take;
    }
    out
}

// ---- decoding ----

struct View {
    code: [Option<SlotImage>; MAX_SLOTS],
    data: [Option<SlotImage>; MAX_SLOTS],
}

impl View {
    fn new() -> Self {
        Self {
            code: [None; MAX_SLOTS],
            data: [None; MAX_SLOTS],
        }
    }
}

impl SlotView for View {
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
        if pool == PoolId::FIRST {
            self.code.get(index).copied().flatten()
        } else {
            self.data.get(index).copied().flatten()
        }
    }
}

// EC 0x35 << 26 = 0xD400_0000, IL (bit 25) = 0x0200_0000, DFSC 0x22 (debug);
// WnR = ISS bit 6 = 0x40.
const ESR_WATCH_WRITE: u64 = 0xD400_0000 | 0x0200_0000 | 0x40 | 0x22;
const ESR_WATCH_READ: u64 = 0xD400_0000 | 0x0200_0000 | 0x22;
// EC 0x31 << 26 = 0xC400_0000 | IL; EC 0x33 << 26 = 0xCC00_0000 | IL.
const ESR_BREAK: u64 = 0xC400_0000 | 0x0200_0000 | 0x22;
const ESR_STEP: u64 = 0xCC00_0000 | 0x0200_0000 | 0x22;

#[test]
fn decode_watch_exact() {
    let mut v = View::new();
    v.data[2] = Some(kernel_write(0x1003, 1).unwrap());
    v.data[0] = Some(kernel_write(0x2000, 8).unwrap());
    let d = decode(&Trap::new(ESR_WATCH_WRITE, 0x1003, 0x4008_0000), &v);
    assert_eq!(d.hits, [0, 0b100]);
    assert_eq!(d.address, Some(0x1003));
    assert_eq!(d.resume, Some(Resume::SingleStep));
    assert!(!d.step_complete);
}

#[test]
fn decode_wide_access_below_range() {
    // An 8-byte store at the doubleword reports FAR = 0x1000 while only byte
    // 3 is watched: attributed to that watchpoint, the access reaching 4 bytes.
    let mut v = View::new();
    v.data[1] = Some(kernel_write(0x1003, 1).unwrap());
    let d = decode(&Trap::new(ESR_WATCH_WRITE, 0x1000, 0), &v);
    assert_eq!(d.hits, [0, 0b10]);
    assert_eq!(d.address, Some(0x1000));
    assert_eq!(d.access_len, 4);
}

#[test]
fn decode_ambiguous_takes_nearest() {
    let mut v = View::new();
    v.data[0] = Some(kernel_write(0x1010, 8).unwrap());
    v.data[3] = Some(kernel_write(0x1008, 8).unwrap());
    let d = decode(&Trap::new(ESR_WATCH_WRITE, 0x1000, 0), &v);
    assert_eq!(d.hits, [0, 0b1000]);
}

#[test]
fn decode_far_beyond_slack_or_above_is_no_hit() {
    let mut v = View::new();
    v.data[0] = Some(kernel_write(0x2000, 4096).unwrap());
    // Far below (more than 2 KiB).
    assert!(!decode(&Trap::new(ESR_WATCH_WRITE, 0x1000, 0), &v).any_hit());
    // Inside the 4 KiB mask range, at its last byte: a hit.
    assert_eq!(
        decode(&Trap::new(ESR_WATCH_WRITE, 0x2FFF, 0), &v).hits,
        [0, 1]
    );
    // One byte past it: nothing.
    assert!(!decode(&Trap::new(ESR_WATCH_WRITE, 0x3000, 0), &v).any_hit());
}

#[test]
fn decode_respects_direction() {
    let mut v = View::new();
    v.data[0] = Some(enc(0x1000, 8, AccessKind::Read, Space::Kernel).unwrap());
    v.data[1] = Some(kernel_write(0x1000, 8).unwrap());
    assert_eq!(
        decode(&Trap::new(ESR_WATCH_READ, 0x1004, 0), &v).hits,
        [0, 0b01]
    );
    assert_eq!(
        decode(&Trap::new(ESR_WATCH_WRITE, 0x1004, 0), &v).hits,
        [0, 0b10]
    );
}

#[test]
fn decode_breakpoint_and_step() {
    let mut v = View::new();
    v.code[3] = Some(enc(0x4008_0100, 1, AccessKind::Execute, Space::Kernel).unwrap());
    v.code[5] = Some(enc(0x4008_0200, 1, AccessKind::Execute, Space::Kernel).unwrap());
    let d = decode(&Trap::new(ESR_BREAK, 0, 0x4008_0100), &v);
    assert_eq!(d.hits, [0b1000, 0]);
    assert_eq!(d.address, Some(0x4008_0100));
    assert_eq!(d.resume, Some(Resume::SingleStep));
    // A breakpoint exception at an address no slot holds (its owner just
    // removed it): no hit.
    assert!(!decode(&Trap::new(ESR_BREAK, 0, 0x4008_0104), &v).any_hit());
    let s = decode(&Trap::new(ESR_STEP, 0, 0x4008_0104), &v);
    assert!(s.step_complete);
    assert!(!s.any_hit());
    // EC 0x15 (SVC) is not a debug exception.
    let t = Trap::new(0x15 << 26, 0, 0);
    assert!(!t.is_debug());
    assert_eq!(decode(&t, &v), hwbreak_core::Decoded::default());
    assert_eq!(Trap::new(ESR_STEP, 0, 0).exception_class(), 0x33);
}

/// A cache maintenance operation on a watched range (ISS.CM = bit 8)
/// reports as a write whatever the watch's direction: a read-only watch
/// is hit by it too.
#[test]
fn decode_cache_maintenance_hits_any_direction() {
    let mut v = View::new();
    v.data[0] = Some(enc(0x1000, 8, AccessKind::Read, Space::Kernel).unwrap());
    // EC 0x35, IL, CM = 1 << 8, WnR = 1 << 6 (set for cache maintenance).
    let esr_cm = 0xD400_0000 | 0x0200_0000 | 0x100 | 0x40 | 0x22;
    assert_eq!(decode(&Trap::new(esr_cm, 0x1004, 0), &v).hits, [0, 0b1]);
    // The same write without CM does not hit the read-only watch.
    assert!(!decode(&Trap::new(ESR_WATCH_WRITE, 0x1004, 0), &v).any_hit());
}

/// Exactly the debug exception classes 0x30-0x35 are debug exceptions
/// (BRK, 0x3C, is the kernel's own).
#[test]
fn debug_exception_classes() {
    for ec in 0..0x40u64 {
        let t = Trap::new(ec << 26, 0, 0);
        assert_eq!(t.is_debug(), (0x30..=0x35).contains(&ec), "EC {ec:#x}");
    }
}

/// Counts are clamped to what the core can index, and a count at the
/// limit is kept as it is.
#[test]
fn counts_are_clamped_to_the_core_limit() {
    let max = MAX_SLOTS as u8;
    assert_eq!(Aarch64::with_counts(max + 4, 2).slot_counts().0, [max, 2]);
    assert_eq!(Aarch64::with_counts(2, max + 1).slot_counts().0, [2, max]);
    assert_eq!(Aarch64::with_counts(max, max).slot_counts().0, [max, max]);
    assert_eq!(
        Aarch64::with_counts(max - 1, max - 1).slot_counts().0,
        [max - 1, max - 1]
    );
}

/// The backend's `Arch::decode` is the decoder above.
#[test]
fn arch_decode_is_the_decoder() {
    let mut v = View::new();
    v.data[1] = Some(kernel_write(0x1000, 8).unwrap());
    let t = Trap::new(ESR_WATCH_WRITE, 0x1004, 0x4008_0000);
    assert_eq!(A.decode(&t, &v), decode(&t, &v));
    assert_eq!(A.decode(&t, &v).hits, [0, 0b10]);
}

/// The two halves of the 48-bit address space end and begin exactly at
/// their boundaries; everything between them is in neither.
#[test]
fn half_boundaries() {
    use crate::encode::{half, Half, HIGH_HALF_START, LOW_HALF_END};
    assert_eq!(LOW_HALF_END, 0x0001_0000_0000_0000);
    assert_eq!(HIGH_HALF_START, 0xffff_0000_0000_0000);
    assert_eq!(half(0x0000_ffff_ffff_ffff), Some(Half::Low));
    assert_eq!(half(0x0001_0000_0000_0000), None);
    assert_eq!(half(0xfffe_ffff_ffff_ffff), None);
    assert_eq!(half(0xffff_0000_0000_0000), Some(Half::High));
    assert_eq!(half(u64::MAX), Some(Half::High));
}

/// The nearest range above FAR wins whatever the slot order; two ranges
/// starting at the same byte are both hit (the access reached that byte,
/// which each watches), and the access is reported as reaching it.
#[test]
fn decode_below_the_ranges_takes_every_nearest() {
    let mut v = View::new();
    v.data[0] = Some(kernel_write(0x1008, 8).unwrap());
    v.data[2] = Some(kernel_write(0x1010, 8).unwrap());
    let d = decode(&Trap::new(ESR_WATCH_WRITE, 0x1000, 0), &v);
    assert_eq!((d.hits, d.access_len), ([0, 0b001], 9));
    // Slot 3 starts at the same byte as slot 0: both.
    v.data[3] = Some(kernel_write(0x1008, 4).unwrap());
    let d = decode(&Trap::new(ESR_WATCH_WRITE, 0x1000, 0), &v);
    assert_eq!((d.hits, d.access_len), ([0, 0b1001], 9));
    // A nearer one found last replaces them.
    v.data[1] = Some(kernel_write(0x1004, 2).unwrap());
    let d = decode(&Trap::new(ESR_WATCH_WRITE, 0x1000, 0), &v);
    assert_eq!((d.hits, d.access_len), ([0, 0b0010], 5));
    // A range holding FAR takes precedence over every range above it.
    v.data[4] = Some(kernel_write(0x0ff8, 8).unwrap());
    let d = decode(&Trap::new(ESR_WATCH_WRITE, 0x0ffc, 0), &v);
    assert_eq!((d.hits, d.access_len), ([0, 0b1_0000], 0));
}

/// FAR may be as far as [`FAR_SLACK`] (2 KiB, the largest DC ZVA block)
/// below the watched byte the access reached; one byte further is not
/// this range's hit.
#[test]
fn decode_slack_boundary() {
    use crate::decode::FAR_SLACK;
    assert_eq!(FAR_SLACK, 2048);
    let mut v = View::new();
    v.data[1] = Some(kernel_write(0x4000, 8).unwrap());
    let d = decode(&Trap::new(ESR_WATCH_WRITE, 0x4000 - 2048, 0), &v);
    assert_eq!(d.hits, [0, 0b10]);
    assert_eq!(d.access_len, u8::MAX); // 2049 bytes, saturated
    assert!(!decode(&Trap::new(ESR_WATCH_WRITE, 0x4000 - 2049, 0), &v).any_hit());
}

/// One watchpoint covers at most 2 GiB (MASK = 31): from a 4 GiB aligned
/// address with 8 GiB to cover, the first piece is 2 GiB.
#[test]
fn data_pieces_stop_at_two_gib() {
    assert_eq!(encode::max_data_piece(0x1_0000_0000, 1 << 33), Ok(1 << 31));
    assert_eq!(encode::max_data_piece(0, u64::MAX), Ok(1 << 31));
    assert_eq!(
        A.max_piece(AccessKind::Write, 0x2_0000_0000, 1 << 32),
        Ok(1 << 31)
    );
}

/// Images the encoder never produces watch nothing: E = 0 (disabled),
/// MASK = 1 or 2 (reserved in the Arm ARM), BAS = 0 with MASK = 0 (no byte
/// selected).
#[test]
fn watched_range_refuses_what_watches_nothing() {
    let page = kernel_write(0x4000, 0x1000).unwrap();
    let byte = kernel_write(0x1003, 1).unwrap();
    for img in [page, byte] {
        assert!(watched_range(&img).is_some());
        let off = SlotImage {
            control: img.control & !1,
            ..img
        };
        assert_eq!(watched_range(&off), None);
    }
    // MASK is DBGWCR[28:24].
    for mask in [1u64, 2] {
        let reserved = SlotImage {
            control: (byte.control & !(0x1f << 24)) | (mask << 24),
            ..byte
        };
        assert_eq!(watched_range(&reserved), None, "MASK {mask}");
    }
    // BAS is DBGWCR[12:5].
    let no_bytes = SlotImage {
        control: byte.control & !(0xff << 5),
        ..byte
    };
    assert_eq!(watched_range(&no_bytes), None);
    // A disabled watchpoint holding FAR is not hit.
    let mut v = View::new();
    v.data[0] = Some(SlotImage {
        control: byte.control & !1,
        ..byte
    });
    assert!(!decode(&Trap::new(ESR_WATCH_WRITE, 0x1003, 0), &v).any_hit());
}

/// A breakpoint image names the word-aligned instruction in DBGBVR
/// (bits [1:0] are RES0 and ignored), and nothing when E = 0.
#[test]
fn breakpoint_address_of_images() {
    use crate::encode::breakpoint_address;
    let img = enc(0x4008_0104, 4, AccessKind::Execute, Space::Kernel).unwrap();
    assert_eq!(breakpoint_address(&img), Some(0x4008_0104));
    let low_bits = SlotImage {
        value: 0x4008_0107,
        ..img
    };
    assert_eq!(breakpoint_address(&low_bits), Some(0x4008_0104));
    let off = SlotImage {
        control: img.control & !1,
        ..img
    };
    assert_eq!(breakpoint_address(&off), None);
    // A disabled breakpoint at ELR is not hit.
    let mut v = View::new();
    v.code[0] = Some(off);
    assert!(!decode(&Trap::new(ESR_BREAK, 0, 0x4008_0104), &v).any_hit());
    v.code[0] = Some(img);
    assert_eq!(
        decode(&Trap::new(ESR_BREAK, 0, 0x4008_0104), &v).hits,
        [1, 0]
    );
}
