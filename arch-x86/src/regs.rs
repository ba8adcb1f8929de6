//! The only code that touches the debug registers. Compiled only for x86 and
//! x86_64 targets; everything else in this crate is pure.
//!
//! DR0-DR3 and DR7 go through the `x86` crate. DR6 is accessed directly:
//! `x86::debugregs::dr6()` drops the always-one bits, and its writer takes
//! a bitflags type that cannot hold them, so the reset value
//! [`dr6::RESET`](crate::dr6::RESET) could not be written through it.

use crate::dr7::SLOTS;
use core::arch::asm;
use x86::debugregs::{self, Breakpoint};

/// Reads DR6 with every bit as the processor holds it.
///
/// # Safety
/// Ring 0 only (a debug-register access at CPL > 0 raises #GP; with DR7.GD
/// set it raises #DB instead).
#[inline]
pub unsafe fn read_dr6() -> u64 {
    let v: u64;
    // SAFETY: the caller runs at CPL 0; reading DR6 has no side effect.
    unsafe { asm!("mov {}, dr6", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Writes DR6 (normally [`dr6::RESET`](crate::dr6::RESET) after a #DB).
///
/// # Safety
/// Ring 0 only; bits 32-63 must be zero (else #GP).
#[inline]
pub unsafe fn write_dr6(value: u64) {
    // SAFETY: the caller runs at CPL 0 and passes a value with the upper
    // half clear; DR6 only records status.
    unsafe { asm!("mov dr6, {}", in(reg) value, options(nomem, nostack, preserves_flags)) };
}

/// Reads DR7.
///
/// # Safety
/// Ring 0 only.
#[inline]
pub unsafe fn read_dr7() -> u64 {
    // SAFETY: the caller runs at CPL 0; reading DR7 has no side effect.
    unsafe { debugregs::dr7().0 as u64 }
}

/// Writes DR7. Reserved bits are forced to their required values (bit 10
/// one; bits 11, 12, 14, 15 and 32-63 zero) so the write cannot raise #GP.
///
/// # Safety
/// Ring 0 only. Enabling a slot arms it: its address register must hold
/// what the caller means to watch.
#[inline]
pub unsafe fn write_dr7(value: u64) {
    let v = (value & !crate::dr7::RESERVED_ZERO) | crate::dr7::RESERVED_ONE;
    // SAFETY: CPL 0 per the caller; the value has valid reserved bits.
    unsafe { debugregs::dr7_write(debugregs::Dr7(v as usize)) };
}

/// Reads DRn (`n` below 4; other values read 0).
///
/// # Safety
/// Ring 0 only.
#[inline]
pub unsafe fn read_dr(n: usize) -> u64 {
    match breakpoint(n) {
        // SAFETY: CPL 0 per the caller; reading an address register has no
        // side effect.
        Some(bp) => unsafe { bp.dr() as u64 },
        None => 0,
    }
}

/// Writes DRn (`n` below 4; other values are ignored).
///
/// # Safety
/// Ring 0 only. If slot `n` is enabled in DR7, this arms the new address at
/// once.
#[inline]
pub unsafe fn write_dr(n: usize, value: u64) {
    if let Some(bp) = breakpoint(n) {
        // SAFETY: CPL 0 per the caller; any 64-bit value is a valid
        // address-register content in 64-bit mode.
        unsafe { bp.write(value as usize) };
    }
}

/// Clears every debug register on the current CPU: DR0-DR3 = 0, DR7 = its
/// reset value, DR6 = its reset value.
///
/// # Safety
/// Ring 0 only. Disarms whatever the OS had armed on this CPU.
pub unsafe fn clear_all() {
    // SAFETY: CPL 0 per the caller; DR7 first so no slot is armed while the
    // address registers change.
    unsafe {
        write_dr7(crate::dr7::RESET);
        for n in 0..SLOTS {
            write_dr(n, 0);
        }
        write_dr6(crate::dr6::RESET);
    }
}

/// Sets CR4.DE (bit 3, debugging extensions) on the current CPU, which
/// defines R/W = 10 as I/O breakpoints. Afterwards build the backend with
/// [`X86::with_io_breakpoints`](crate::X86::with_io_breakpoints).
///
/// # Safety
/// Ring 0 only, and on every CPU the registry serves.
pub unsafe fn enable_debugging_extensions() {
    use x86::controlregs::{cr4, cr4_write, Cr4};
    // SAFETY: CPL 0 per the caller; DE only changes the meaning of R/W = 10
    // and of DR4/DR5 accesses, which this crate never makes.
    unsafe { cr4_write(cr4() | Cr4::CR4_DEBUGGING_EXTENSIONS) };
}

fn breakpoint(n: usize) -> Option<Breakpoint> {
    Some(match n {
        0 => Breakpoint::Dr0,
        1 => Breakpoint::Dr1,
        2 => Breakpoint::Dr2,
        3 => Breakpoint::Dr3,
        _ => return None,
    })
}
