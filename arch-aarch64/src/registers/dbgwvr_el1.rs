//! Debug Watchpoint Value Registers, `DBGWVR<n>_EL1` (n = 0..=15).
//!
//! The data virtual address compared by watchpoint n; paired with
//! [`DBGWCR<n>_EL1`](super::dbgwcr_el1). Encoded as `S2_0_C0_C<n>_6`.
//! Bits \[1:0\] are RES0; Arm deprecates DBGWVR\[2\] = 1 (a word-aligned
//! address, where only BAS\[3:0\] is used), so this crate always writes the
//! doubleword-aligned address and selects bytes with all eight BAS bits.

use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// Fields of DBGWVR_EL1 (the generated `Register` marker, `SET`/`CLEAR` and
    /// value constants carry the field documentation below).
    #[allow(missing_docs)]
    pub DBGWVR_EL1 [
        /// RESS: sign extension of VA\[48\] (all ones for high-half
        /// addresses, all zeros for low-half addresses).
        RESS OFFSET(49) NUMBITS(15) [],

        /// Bits \[48:2\] of the data address compared.
        VA OFFSET(2) NUMBITS(47) []
    ]
}

crate::registers::indexed_sysreg!("dbgwvr", DBGWVR_EL1);
