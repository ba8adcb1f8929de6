//! PSCI calls through the HVC conduit.
//!
//! QEMU `virt` booted with `-kernel` at EL1 (no EL2 or EL3 firmware)
//! implements PSCI 1.0 itself and answers `hvc #0`: its device tree says
//! `method = "hvc"` in `/psci` (seen with QEMU 10.0.2, `dumpdtb`). The
//! function ids are PSCI's SMC64 ones (SMC32 for those without 64-bit
//! arguments).

/// `PSCI_VERSION`: major in bits 31:16, minor in 15:0.
const VERSION: u64 = 0x8400_0000;
/// `CPU_OFF`: powers the calling CPU down; returns only on failure.
const CPU_OFF: u64 = 0x8400_0002;
/// `CPU_ON` (SMC64): target MPIDR, entry point, context id (the target's
/// x0 at the entry point).
const CPU_ON: u64 = 0xc400_0003;
/// `AFFINITY_INFO` (SMC64): target MPIDR, lowest affinity level.
const AFFINITY_INFO: u64 = 0xc400_0004;

/// `AFFINITY_INFO`'s answer for a CPU that is off.
#[cfg(not(feature = "gdb"))]
pub const AFFINITY_OFF: i64 = 1;

/// One PSCI call: function id and three arguments in x0-x3, result in x0.
fn call(function: u64, a1: u64, a2: u64, a3: u64) -> i64 {
    let ret: u64;
    // SAFETY: `hvc #0` is a PSCI call to QEMU's built-in firmware (see the
    // module docs), which reads x0-x3 and writes x0; SMCCC lets it clobber
    // x0-x17, all declared. CPU_ON's entry point is the kernel's own
    // `_secondary_start`; CPU_OFF does not return on success.
    unsafe {
        core::arch::asm!(
            "hvc #0",
            inout("x0") function => ret,
            inout("x1") a1 => _,
            inout("x2") a2 => _,
            inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            out("x8") _, out("x9") _, out("x10") _, out("x11") _,
            out("x12") _, out("x13") _, out("x14") _, out("x15") _,
            out("x16") _, out("x17") _,
            options(nostack),
        );
    }
    ret as i64
}

/// The PSCI version as (major, minor).
pub fn version() -> (u16, u16) {
    let v = call(VERSION, 0, 0, 0) as u64;
    ((v >> 16) as u16, v as u16)
}

/// Starts the CPU `mpidr` at `entry` with `context` in x0. PSCI's error
/// code (negative) on refusal: -4 `ALREADY_ON`, -2 `INVALID_PARAMETERS`,
/// ...
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> Result<(), i64> {
    match call(CPU_ON, mpidr, entry, context) {
        0 => Ok(()),
        e => Err(e),
    }
}

/// Powers the calling CPU off. Returns PSCI's error code if it refused.
pub fn cpu_off() -> i64 {
    call(CPU_OFF, 0, 0, 0)
}

/// The power state of the CPU `mpidr` (0 on, [`AFFINITY_OFF`], 2
/// on-pending), or a negative error (-2 `INVALID_PARAMETERS`: no
/// such CPU).
pub fn affinity_info(mpidr: u64) -> i64 {
    call(AFFINITY_INFO, mpidr, 0, 0)
}
