//! Debug Breakpoint Value Registers, `DBGBVR<n>_EL1` (n = 0..=15).
//!
//! The instruction virtual address (or context) compared by breakpoint n;
//! paired with [`DBGBCR<n>_EL1`](super::dbgbcr_el1). Encoded as
//! `S2_0_C0_C<n>_4`. For an address match bits \[1:0\] are RES0 (AArch64
//! instructions are 4-byte aligned).

use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// Fields of DBGBVR_EL1 (the generated `Register` marker, `SET`/`CLEAR` and
    /// value constants carry the field documentation below).
    #[allow(missing_docs)]
    pub DBGBVR_EL1 [
        /// RESS: sign extension of VA\[48\] (address-match types).
        RESS OFFSET(49) NUMBITS(15) [],

        /// Bits \[48:2\] of the instruction address compared (address-match
        /// types).
        VA OFFSET(2) NUMBITS(47) [],

        /// Context ID compared (context-match types).
        ContextID OFFSET(0) NUMBITS(32) []
    ]
}

crate::registers::indexed_sysreg!("dbgbvr", DBGBVR_EL1);
