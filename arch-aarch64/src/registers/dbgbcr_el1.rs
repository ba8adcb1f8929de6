//! Debug Breakpoint Control Registers, `DBGBCR<n>_EL1` (n = 0..=15).
//!
//! Hold control information for breakpoint n; paired with
//! [`DBGBVR<n>_EL1`](super::dbgbvr_el1). Encoded as `S2_0_C0_C<n>_5`.

use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// Fields of DBGBCR_EL1 (the generated `Register` marker, `SET`/`CLEAR` and
    /// value constants carry the field documentation below).
    #[allow(missing_docs)]
    pub DBGBCR_EL1 [
        /// Breakpoint type.
        BT OFFSET(20) NUMBITS(4) [
            /// Unlinked instruction address match.
            UnlinkedAddressMatch = 0b0000,
            /// Linked instruction address match.
            LinkedAddressMatch = 0b0001,
            /// Unlinked context ID match.
            UnlinkedContextIdMatch = 0b0010,
            /// Linked context ID match.
            LinkedContextIdMatch = 0b0011,
            /// Unlinked instruction address mismatch (AArch32 only).
            UnlinkedAddressMismatch = 0b0100,
            /// Linked instruction address mismatch (AArch32 only).
            LinkedAddressMismatch = 0b0101
        ],

        /// Linked breakpoint number (for linked types).
        LBN OFFSET(16) NUMBITS(4) [],

        /// Security state control (with HMC and PMC).
        SSC OFFSET(14) NUMBITS(2) [],

        /// Higher mode control (with SSC and PMC).
        HMC OFFSET(13) NUMBITS(1) [],

        /// Byte address select. For an AArch64 instruction address match it
        /// must be 0b1111 (the whole 4-byte instruction).
        BAS OFFSET(5) NUMBITS(4) [],

        /// Privilege mode control (with HMC = 0, SSC = 0b00: 0b01 = EL1,
        /// 0b10 = EL0, 0b11 = both).
        PMC OFFSET(1) NUMBITS(2) [
            El1 = 0b01,
            El0 = 0b10,
            El1El0 = 0b11
        ],

        /// Enable breakpoint n.
        E OFFSET(0) NUMBITS(1) []
    ]
}

crate::registers::indexed_sysreg!("dbgbcr", DBGBCR_EL1);
