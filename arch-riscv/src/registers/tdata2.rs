//! `tdata2` (CSR 0x7a2): the compare value of an address trigger.
//!
//! With `match` = 0 (equal) it is the address itself. With `match` = 1
//! (NAPOT) a naturally aligned range of `2^k` bytes (k >= 1) at `base` is
//! written as `base | (2^(k-1) - 1)`: the lowest 0 bit marks the end of
//! the ignored low bits (spec 5.7.12, `match` = 1).
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::registers::tdata2;
//! // 8 bytes at 0x1000: 0x1000 | 0b011.
//! assert_eq!(tdata2::napot(0x1000, 8), Some(0x1003));
//! assert_eq!(tdata2::napot_range(0x1003), (0x1000, 8));
//! ```

/// The NAPOT value for `len` bytes at `base`, or `None` unless `len` is a
/// power of two of at least 2 and `base` a multiple of it. (A 2^64-byte
/// range has no encoding here: `len` is a `u64`.)
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::tdata2::napot;
/// assert_eq!(napot(0x2000, 2), Some(0x2000));
/// assert_eq!(napot(0x2000, 4096), Some(0x27ff));
/// assert_eq!(napot(0x2004, 8), None); // not aligned to its size
/// assert_eq!(napot(0x2000, 1), None); // one byte is match = 0's job
/// assert_eq!(napot(0x2000, 12), None);
/// ```
pub const fn napot(base: u64, len: u64) -> Option<u64> {
    if len < 2 || !len.is_power_of_two() || !base.is_multiple_of(len) {
        return None;
    }
    // `base` is aligned to `len`: its low bits are free for the ones.
    let mut v = base;
    v |= len / 2 - 1;
    Some(v)
}

/// The range `(base, len)` a NAPOT `tdata2` value names (the inverse of
/// [`napot`]; an all-ones value names the whole address space, reported as
/// `(0, 0)` because its length does not fit in 64 bits).
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::tdata2::napot_range;
/// assert_eq!(napot_range(0x2000), (0x2000, 2));
/// assert_eq!(napot_range(0x27ff), (0x2000, 4096));
/// assert_eq!(napot_range(u64::MAX), (0, 0));
/// ```
pub const fn napot_range(tdata2: u64) -> (u64, u64) {
    let ones = tdata2.trailing_ones();
    if ones >= 63 {
        return (0, 0);
    }
    let len = 1u64 << (ones + 1);
    (tdata2 & !(len - 1), len)
}
