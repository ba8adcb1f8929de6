//! `tselect` (CSR 0x7a0): the index of the trigger that `tdata1`-`tdata3`
//! and `tinfo` show.
//!
//! The register is WARL: writing an index past the last trigger leaves a
//! value other than the one written (spec 5.7.1), so the trigger count is
//! found by writing 0, 1, 2, ... and reading each back ([`count_from`]).
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::registers::tselect::count_from;
//! // A hart whose tselect keeps 0 and 1 but not 2 (QEMU's `virt` hart).
//! assert_eq!(count_from(|i| if i < 2 { i } else { 1 }, 16), 2);
//! ```

/// The number of triggers, from `write_read(i)`: write `i` to `tselect` and
/// return what it reads back. Counting stops at the first index that does
/// not stick, or at `max`.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::tselect::count_from;
/// assert_eq!(count_from(|i| i, 4), 4); // every index sticks: capped at max
/// assert_eq!(count_from(|_| 0, 4), 1); // only trigger 0
/// ```
pub fn count_from(mut write_read: impl FnMut(u64) -> u64, max: u64) -> u64 {
    let mut n = 0;
    while n < max && write_read(n) == n {
        n += 1;
    }
    n
}
