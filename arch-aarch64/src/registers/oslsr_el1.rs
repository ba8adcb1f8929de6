//! OS Lock Status Register, OSLSR_EL1 (read-only).
//!
//! Tells whether the OS lock is set. While it is, breakpoint, watchpoint and
//! software step exceptions are not generated. Encoded as `S2_0_C1_C1_4`.
//! The lock is set at cold reset; it is cleared by writing 0 to OSLAR_EL1
//! (`aarch64_cpu::registers::OSLAR_EL1`).

use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// Fields of OSLSR_EL1 (the generated `Register` marker, `SET`/`CLEAR` and
    /// value constants carry the field documentation below).
    #[allow(missing_docs)]
    pub OSLSR_EL1 [
        /// OS lock model, bit 1 (OSLM\[1\]); with bit 0 the value 0b10 means
        /// the OS lock is implemented (OSLAR_EL1 writable).
        OSLM1 OFFSET(3) NUMBITS(1) [],

        /// Not 32-bit access (RAZ in AArch64).
        NTT OFFSET(2) NUMBITS(1) [],

        /// OS lock status: 1 = locked (debug exceptions other than BRK off).
        OSLK OFFSET(1) NUMBITS(1) [
            Unlocked = 0,
            Locked = 1
        ],

        /// OS lock model, bit 0 (OSLM\[0\]).
        OSLM0 OFFSET(0) NUMBITS(1) []
    ]
}

crate::registers::fixed_sysreg!("oslsr_el1", OSLSR_EL1, read);

/// OSLSR_EL1 on the current CPU.
#[cfg(target_arch = "aarch64")]
pub const OSLSR_EL1: Reg = Reg;
