//! OS Double Lock Register, OSDLR_EL1.
//!
//! While the double lock is set (and the CPU is not in Debug state) no debug
//! exception other than BRK is generated; it exists to quiesce debug before
//! powering a core down. Encoded as `S2_0_C1_C3_4`.

use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// Fields of OSDLR_EL1 (the generated `Register` marker, `SET`/`CLEAR` and
    /// value constants carry the field documentation below).
    #[allow(missing_docs)]
    pub OSDLR_EL1 [
        /// OS double lock control: 1 = locked.
        DLK OFFSET(0) NUMBITS(1) [
            Unlocked = 0,
            Locked = 1
        ]
    ]
}

crate::registers::fixed_sysreg!("osdlr_el1", OSDLR_EL1, read_write);

/// OSDLR_EL1 on the current CPU.
#[cfg(target_arch = "aarch64")]
pub const OSDLR_EL1: Reg = Reg;
