//! Debug Watchpoint Control Registers, `DBGWCR<n>_EL1` (n = 0..=15).
//!
//! Hold control information for watchpoint n; paired with
//! [`DBGWVR<n>_EL1`](super::dbgwvr_el1), which holds the address. Encoded as
//! `S2_0_C0_C<n>_7` (op0 = 2, op1 = 0, CRn = 0, CRm = n, op2 = 7).

use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// Fields of DBGWCR_EL1 (the generated `Register` marker, `SET`/`CLEAR` and
    /// value constants carry the field documentation below).
    #[allow(missing_docs)]
    pub DBGWCR_EL1 [
        /// Address mask. The number of low address bits masked out of the
        /// comparison: 0b00000 = no mask (BAS selects bytes), 0b00001 and
        /// 0b00010 reserved, 0b00011..=0b11111 = a naturally aligned block of
        /// 2^MASK bytes (8 bytes to 2 GiB). When MASK is non-zero BAS must be
        /// all ones.
        MASK OFFSET(24) NUMBITS(5) [],

        /// Watchpoint type: 0 = unlinked data address match, 1 = linked to
        /// the context breakpoint named by LBN.
        WT OFFSET(20) NUMBITS(1) [
            Unlinked = 0,
            Linked = 1
        ],

        /// Linked breakpoint number (only with WT = 1).
        LBN OFFSET(16) NUMBITS(4) [],

        /// Security state control; with HMC and PAC selects the security
        /// states and exception levels the watchpoint matches in.
        SSC OFFSET(14) NUMBITS(2) [],

        /// Higher mode control; with SSC and PAC selects the exception levels
        /// (EL2/EL3) the watchpoint also matches in.
        HMC OFFSET(13) NUMBITS(1) [],

        /// Byte address select: bit i watches byte `DBGWVR + i` of the
        /// doubleword at DBGWVR (the selected bytes must be contiguous).
        BAS OFFSET(5) NUMBITS(8) [],

        /// Load/store access control.
        LSC OFFSET(3) NUMBITS(2) [
            /// Reserved: behaves as disabled.
            Reserved = 0b00,
            /// Match loads (including atomic loads and load-exclusive).
            Load = 0b01,
            /// Match stores.
            Store = 0b10,
            /// Match loads and stores.
            LoadStore = 0b11
        ],

        /// Privilege of access control (with HMC = 0, SSC = 0b00: 0b01 = EL1
        /// accesses, 0b10 = EL0 accesses, 0b11 = both).
        PAC OFFSET(1) NUMBITS(2) [
            El1 = 0b01,
            El0 = 0b10,
            El1El0 = 0b11
        ],

        /// Enable watchpoint n.
        E OFFSET(0) NUMBITS(1) []
    ]
}

crate::registers::indexed_sysreg!("dbgwcr", DBGWCR_EL1);
