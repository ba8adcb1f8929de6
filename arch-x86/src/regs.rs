//! The only code that touches the debug registers. Compiled only for x86 and
//! x86_64 targets; everything else in this crate is pure.
//!
//! DR0-DR3 and DR7 go through the `x86` crate. DR6 is accessed directly:
//! `x86::debugregs::dr6()` drops the always-one bits, and its writer takes
//! a bitflags type that cannot hold them, so the reset value
//! [`dr6::RESET`](crate::dr6::RESET) could not be written through it.
//!
//! A kernel using the registry does not call these: the backend does. They
//! are for code that owns the registers without a registry (early boot, a
//! self-test, a debugger with its own bookkeeping) and for handing the
//! registry clean registers ([`clear_all`]).
//!
//! # Examples
//!
//! ```no_run
//! // Not run: privileged instructions fault in a user-space test process.
//! use core::sync::atomic::AtomicU64;
//! use hwbreak_x86::dr7::{Condition, Dr7, Length, SlotControl};
//! use hwbreak_x86::regs;
//!
//! // A raw write watch on a word, without the registry (boot self-test).
//! static WORD: AtomicU64 = AtomicU64::new(0);
//! let w8 = SlotControl::enabled(Condition::Write, Length::Eight);
//! // SAFETY: ring 0, nothing else owns the debug registers yet, and the
//! // #DB handler is installed.
//! unsafe {
//!     regs::write_dr(0, WORD.as_ptr() as u64);
//!     regs::write_dr7(Dr7::from_slots([Some(w8), None, None, None]).bits());
//!     // ... store to WORD, see the #DB ...
//!     regs::clear_all();
//! }
//! ```

use crate::dr7::SLOTS;
use core::arch::asm;
use x86::debugregs::{self, Breakpoint};

/// Reads DR6 with every bit as the processor holds it.
///
/// # Safety
/// Ring 0 only (a debug-register access at CPL > 0 raises #GP; with DR7.GD
/// set it raises #DB instead).
///
/// # Examples
///
/// ```no_run
/// // Not run: it executes a privileged instruction, which faults in a
/// // user-space test process. Kernel code at ring 0 only.
/// use hwbreak_x86::dr6::Dr6;
/// // SAFETY: ring 0, first thing in the #DB handler.
/// let dr6 = Dr6::from_bits(unsafe { hwbreak_x86::regs::read_dr6() });
/// if dr6.single_step() { /* ... */ }
/// ```
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
///
/// # Examples
///
/// ```no_run
/// // Not run: it executes a privileged instruction, which faults in a
/// // user-space test process. Kernel code at ring 0 only.
/// // SAFETY: ring 0, at the end of the #DB handler.
/// unsafe { hwbreak_x86::regs::write_dr6(hwbreak_x86::dr6::RESET) };
/// ```
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
///
/// # Examples
///
/// ```no_run
/// // Not run: it executes a privileged instruction, which faults in a
/// // user-space test process. Kernel code at ring 0 only.
/// use hwbreak_x86::dr7::Dr7;
/// // SAFETY: ring 0.
/// let dr7 = Dr7::new(unsafe { hwbreak_x86::regs::read_dr7() });
/// assert!(dr7.is_some(), "DR7 always has valid reserved bits");
/// ```
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
///
/// # Examples
///
/// ```no_run
/// // Not run: it executes a privileged instruction, which faults in a
/// // user-space test process. Kernel code at ring 0 only.
/// use hwbreak_x86::dr7::Dr7;
/// // SAFETY: ring 0; nothing enabled, so nothing is armed.
/// unsafe { hwbreak_x86::regs::write_dr7(Dr7::DISABLED.bits()) };
/// ```
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
///
/// # Examples
///
/// ```no_run
/// // Not run: it executes a privileged instruction, which faults in a
/// // user-space test process. Kernel code at ring 0 only.
/// // SAFETY: ring 0.
/// let addresses = core::array::from_fn::<u64, 4, _>(|n| unsafe { hwbreak_x86::regs::read_dr(n) });
/// # let _ = addresses;
/// ```
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
///
/// # Examples
///
/// ```no_run
/// // Not run: it executes a privileged instruction, which faults in a
/// // user-space test process. Kernel code at ring 0 only.
/// // SAFETY: ring 0; DR7 does not enable slot 1 yet.
/// unsafe { hwbreak_x86::regs::write_dr(1, 0xffff_8000_0010_0000) };
/// ```
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
///
/// # Examples
///
/// ```no_run
/// // Not run: it executes a privileged instruction, which faults in a
/// // user-space test process. Kernel code at ring 0 only.
/// // SAFETY: ring 0, before the registry's `cpu_online` on this CPU,
/// // which rewrites every register from its tables anyway.
/// unsafe { hwbreak_x86::regs::clear_all() };
/// ```
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
///
/// # Examples
///
/// ```no_run
/// // Not run: it executes a privileged instruction, which faults in a
/// // user-space test process. Kernel code at ring 0 only.
/// use hwbreak_x86::{regs, X86};
/// // SAFETY: ring 0, on this (the only) CPU, before anything is armed.
/// unsafe { regs::enable_debugging_extensions() };
/// // SAFETY: CR4.DE is now set on every CPU the registry serves.
/// let arch = unsafe { X86::with_io_breakpoints() };
/// assert!(arch.io_breakpoints());
/// ```
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
