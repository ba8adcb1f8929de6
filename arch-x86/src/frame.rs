//! The #DB handler of a kernel built on the [`x86_64`] crate (feature
//! `x86_64`): its IDT calls an `extern "x86-interrupt"` function with an
//! [`InterruptStackFrame`], and the registry's [`Resume`] goes back into
//! that frame's saved RFLAGS.
//!
//! # Examples
//!
//! The handler an IDT's `debug` entry points at (the `x86-interrupt` ABI
//! needs nightly's `abi_x86_interrupt` feature):
//!
//! ```ignore
//! use x86_64::structures::idt::InterruptStackFrame;
//!
//! extern "x86-interrupt" fn debug_handler(mut frame: InterruptStackFrame) {
//!     // SAFETY: the #DB entry, at ring 0, before anything touched the
//!     // debug registers.
//!     unsafe { hwbreak::native::frame::on_debug_exception(&HWBP, &mut frame) };
//! }
//! ```
//!
//! What the return does with each answer, on a frame made by hand:
//!
//! ```
//! use hwbreak_core::Resume;
//! use hwbreak_x86::frame::apply_resume;
//! use x86_64::registers::rflags::RFlags;
//! use x86_64::structures::gdt::SegmentSelector;
//! use x86_64::structures::idt::InterruptStackFrame;
//! use x86_64::{PrivilegeLevel, VirtAddr};
//!
//! let mut frame = InterruptStackFrame::new(
//!     VirtAddr::new(0x10_2000),
//!     SegmentSelector::new(1, PrivilegeLevel::Ring0),
//!     RFlags::INTERRUPT_FLAG,
//!     VirtAddr::new(0x20_0000),
//!     SegmentSelector::new(0, PrivilegeLevel::Ring0),
//! );
//! apply_resume(&mut frame, Resume::Continue);
//! assert!(!frame.cpu_flags.contains(RFlags::RESUME_FLAG));
//! // An execute breakpoint: the instruction runs once on return.
//! apply_resume(&mut frame, Resume::SetResumeFlag);
//! assert_eq!(frame.cpu_flags, RFlags::INTERRUPT_FLAG | RFlags::RESUME_FLAG);
//! ```

use crate::resume_rflags;
#[cfg(target_arch = "x86_64")]
use crate::{Trap, X86};
use hwbreak_core::Resume;
#[cfg(target_arch = "x86_64")]
use hwbreak_core::{Outcome, Platform, Registry};
use x86_64::registers::rflags::RFlags;
use x86_64::structures::idt::InterruptStackFrame;

/// Applies the registry's answer to the saved RFLAGS in `frame`:
/// [`Resume::SetResumeFlag`] sets RF so the instruction whose execute
/// breakpoint faulted runs once; every other answer leaves the frame as it
/// is (this backend never asks for a single step). Nothing else in the
/// frame changes.
///
/// See the [module](self) for an example.
pub fn apply_resume(frame: &mut InterruptStackFrame, resume: Resume) {
    let saved = frame.cpu_flags.bits();
    let wanted = resume_rflags(resume, saved);
    if wanted == saved {
        return;
    }
    // SAFETY: only RFLAGS changes, and only in RF, which makes the return
    // skip instruction breakpoints for one instruction: the return address,
    // segments and stack stay as the processor saved them.
    unsafe {
        frame
            .as_mut()
            .update(|f| f.cpu_flags = RFlags::from_bits_retain(wanted))
    };
}

/// The whole #DB path of an `extern "x86-interrupt"` handler: reads DR6
/// ([`Trap::capture`]), lets `registry` run the handlers of what hit
/// ([`Registry::on_debug_exception`]) and applies the answer to `frame`
/// ([`apply_resume`]). Returns what the registry did.
///
/// # Safety
/// Call it first thing in the #DB handler (the IDT's `debug` entry), at
/// ring 0, with the frame the processor pushed for that exception; DR6 must
/// not have been touched since the exception.
///
/// # Examples
///
/// ```no_run
/// // Not run: reading DR6 faults in a user-space test process.
/// # use hwbreak_core::{CpuId, Platform, Registry};
/// # struct Kernel;
/// # impl Platform for Kernel {
/// #     fn cpu_count(&self) -> u32 { 1 }
/// #     fn current_cpu(&self) -> CpuId { CpuId(0) }
/// #     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) { f() }
/// #     fn user_limit(&self) -> u64 { 0x8000_0000_0000 }
/// # }
/// use hwbreak_x86::{frame, X86};
/// use x86_64::structures::idt::InterruptStackFrame;
///
/// static HWBP: Registry<X86, Kernel, 16, 1, 4, { hwbreak_x86::SLOTS }> =
///     Registry::new(X86::new(), Kernel);
///
/// /// What an `extern "x86-interrupt" fn debug(mut frame: InterruptStackFrame)`
/// /// does (that ABI needs nightly).
/// fn debug(frame: &mut InterruptStackFrame) {
///     // SAFETY: the #DB entry at ring 0; DR6 untouched since the exception.
///     let out = unsafe { frame::on_debug_exception(&HWBP, frame) };
///     let _ = out.delivered;
/// }
/// ```
#[cfg(target_arch = "x86_64")]
pub unsafe fn on_debug_exception<
    P: Platform,
    const BPS: usize,
    const CPUS: usize,
    const TASKS: usize,
    const SLOTS: usize,
>(
    registry: &Registry<X86, P, BPS, CPUS, TASKS, SLOTS>,
    frame: &mut InterruptStackFrame,
) -> Outcome {
    // SAFETY: the caller is at the start of the #DB handler at ring 0.
    let trap = unsafe { Trap::capture() };
    let out = registry.on_debug_exception(&trap);
    apply_resume(frame, out.resume);
    out
}
