//! The only code that touches debug hardware: slot writes, the debug
//! enables (OS lock, MDSCR_EL1.MDE/KDE, PSTATE.D) and single step. Compiled
//! only for AArch64.
//!
//! A kernel using the registry needs one function from here,
//! [`apply_resume`], in its debug exception vector; the backend calls the
//! rest. The others serve code that owns the registers without a registry
//! (self-tests, a debugger with its own bookkeeping).
//!
//! # Examples
//!
//! The Rust side of a synchronous-exception vector (the
//! `qemu-virt-aarch64` board has a complete one):
//!
//! ```no_run
//! // Not run: EL1 system registers; this module exists only on AArch64.
//! # use hwbreak_core::{CpuId, Platform, Registry};
//! # struct Kernel;
//! # impl Platform for Kernel {
//! #     fn cpu_count(&self) -> u32 { 1 }
//! #     fn current_cpu(&self) -> CpuId { CpuId(0) }
//! #     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) { f() }
//! #     fn user_limit(&self) -> u64 { 1 << 48 }
//! # }
//! use hwbreak_aarch64::{cpu, Aarch64, Trap};
//!
//! static HWBP: Registry<Aarch64, Kernel, 64, 1, 8> = Registry::new(Aarch64::new(), Kernel);
//!
//! /// Called by the vector code with the registers it saved.
//! fn sync_exception(esr: u64, far: u64, elr: u64, saved_spsr: &mut u64) {
//!     let trap = Trap::new(esr, far, elr);
//!     if trap.is_debug() {
//!         let out = HWBP.on_debug_exception(&trap);
//!         // SAFETY: in the exception handler whose `eret` restores `saved_spsr`.
//!         unsafe { cpu::apply_resume(out.resume, saved_spsr) };
//!     }
//! }
//! # let mut spsr = 0;
//! # sync_exception(0, 0, 0, &mut spsr);
//! ```

use aarch64_cpu::registers::{
    ReadWriteable, Readable, Writeable, ID_AA64DFR0_EL1, MDSCR_EL1, OSLAR_EL1,
};
use hwbreak_core::{PoolId, Resume, SlotImage};

use crate::registers::{dbgbcr_el1, dbgbvr_el1, dbgwcr_el1, dbgwvr_el1, OSLSR_EL1};

/// SPSR_ELx.SS, bit 21: the software step state restored into PSTATE.SS by
/// the exception return. Set by [`begin_single_step`].
pub const SPSR_SS: u64 = 1 << 21;
/// SPSR_ELx.D, bit 9: debug exceptions masked after the return. Clear it
/// in a saved SPSR whose context should take debug exceptions.
pub const SPSR_D: u64 = 1 << 9;

/// Breakpoint and watchpoint pairs this CPU implements, from
/// ID_AA64DFR0_EL1.BRPs\[15:12\] and WRPs\[23:20\] (each "number minus one").
///
/// # Examples
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// let (breakpoints, watchpoints) = hwbreak_aarch64::cpu::implemented_pairs();
/// assert!((2..=16).contains(&breakpoints) && (2..=16).contains(&watchpoints));
/// ```
pub fn implemented_pairs() -> (u8, u8) {
    let brps = ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::BRPs) as u8 + 1;
    let wrps = ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::WRPs) as u8 + 1;
    (brps, wrps)
}

/// Whether this CPU implements pair `index` of `pool`.
fn implemented(pool: PoolId, index: usize) -> bool {
    let (b, w) = implemented_pairs();
    index < usize::from(if pool == PoolId::FIRST { b } else { w })
}

fn isb() {
    // SAFETY: an instruction barrier has no memory or register effect
    // beyond synchronising the context (here: debug register writes).
    unsafe { core::arch::asm!("isb", options(nostack, preserves_flags)) };
}

/// Writes slot `index` of `pool` (`None`: disable it): the control register
/// is cleared first, then the value, then the control with E = 1, then ISB.
/// An index past the pairs this CPU implements writes nothing (those
/// registers are UNDEFINED there).
///
/// # Safety
/// Current CPU; the image must come from this crate's encoders. Arming a
/// slot makes matching accesses raise debug exceptions, which the OS's
/// vector code must be ready to hand to the registry.
///
/// # Examples
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// use hwbreak_aarch64::{cpu, encode};
/// use hwbreak_core::{AccessKind, PoolId, Space};
/// // A self-test without the registry: watchpoint 0 on a word, then off.
/// static WORD: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// let image = encode::watchpoint(WORD.as_ptr() as u64, 8, AccessKind::Write, Space::Kernel)?;
/// // SAFETY: EL1; the vectors handle the watchpoint exception this arms.
/// unsafe {
///     cpu::write_slot(PoolId::SECOND, 0, Some(image));
///     cpu::enable_debug();
/// }
/// assert_eq!(cpu::read_slot(PoolId::SECOND, 0), Some(image));
/// // SAFETY: as above; disarms it.
/// unsafe { cpu::write_slot(PoolId::SECOND, 0, None) };
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub unsafe fn write_slot(pool: PoolId, index: usize, image: Option<SlotImage>) {
    if !implemented(pool, index) {
        return;
    }
    if pool == PoolId::FIRST {
        let (Some(cr), Some(vr)) = (dbgbcr_el1::at(index), dbgbvr_el1::at(index)) else {
            return;
        };
        cr.set(0);
        if let Some(img) = image {
            vr.set(img.value);
            cr.set(img.control);
        }
    } else {
        let (Some(cr), Some(vr)) = (dbgwcr_el1::at(index), dbgwvr_el1::at(index)) else {
            return;
        };
        cr.set(0);
        if let Some(img) = image {
            vr.set(img.value);
            cr.set(img.control);
        }
    }
    isb();
}

/// Reads slot `index` of `pool` back from the hardware: `None` when its
/// control register has E = 0 or the CPU does not implement the pair.
/// See [`write_slot`] for an example.
pub fn read_slot(pool: PoolId, index: usize) -> Option<SlotImage> {
    if !implemented(pool, index) {
        return None;
    }
    let (value, control) = if pool == PoolId::FIRST {
        (dbgbvr_el1::at(index)?.get(), dbgbcr_el1::at(index)?.get())
    } else {
        (dbgwvr_el1::at(index)?.get(), dbgwcr_el1::at(index)?.get())
    };
    (control & 1 == 1).then_some(SlotImage { value, control })
}

fn step_active() -> bool {
    MDSCR_EL1.is_set(MDSCR_EL1::SS)
}

/// Turns the debug machinery on: OS lock cleared (OSLAR_EL1 = 0),
/// MDSCR_EL1.MDE and KDE set.
///
/// PSTATE.D is left alone: it belongs to the code running, and the
/// registry arms slots from anywhere, exception handlers and debugger stops
/// included, where unmasking would let the handler's own accesses to
/// watched data trap inside it. A kernel unmasks debug exceptions once per
/// CPU at bring-up ([`unmask_debug_exceptions`]), as it does interrupts;
/// exception entry masks them and `eret` restores the interrupted code's D.
///
/// # Safety
/// Current CPU; the vector code must be ready for debug exceptions.
///
/// # Examples
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// use hwbreak_aarch64::cpu;
/// // SAFETY: EL1, vectors installed.
/// unsafe { cpu::enable_debug() };
/// assert!(cpu::debug_enabled() && cpu::kernel_debug_enabled());
/// // SAFETY: EL1.
/// unsafe { cpu::disable_debug() };
/// assert!(!cpu::debug_enabled());
/// ```
pub unsafe fn enable_debug() {
    OSLAR_EL1.write(OSLAR_EL1::OSLK::Unlocked);
    isb();
    MDSCR_EL1.modify(MDSCR_EL1::MDE::SET + MDSCR_EL1::KDE::SET);
    isb();
}

/// Unmasks debug exceptions at the current level (clears PSTATE.D): call it
/// once per CPU at bring-up, in the kernel's own context, after the vectors
/// can take them. Nothing traps until slots are armed and
/// [`enable_debug`] ran.
///
/// # Safety
/// Current CPU, EL1; the vector code must be ready for debug exceptions.
///
/// # Examples
///
/// ```no_run
/// // Not run: writes PSTATE; this module exists only on AArch64.
/// use hwbreak_aarch64::cpu;
/// // SAFETY: EL1, vectors installed, at bring-up.
/// unsafe { cpu::unmask_debug_exceptions() };
/// ```
pub unsafe fn unmask_debug_exceptions() {
    // SAFETY: clears PSTATE.D of the current context only; the caller
    // guarantees the vectors handle debug exceptions.
    unsafe { core::arch::asm!("msr daifclr, #8", "isb", options(nostack, preserves_flags)) };
}

/// Turns breakpoint/watchpoint exceptions off (MDSCR_EL1.MDE = 0) and, unless
/// a single step is in progress, kernel debug exceptions (KDE = 0).
///
/// # Safety
/// Current CPU.
///
/// See [`enable_debug`] for an example.
pub unsafe fn disable_debug() {
    if step_active() {
        MDSCR_EL1.modify(MDSCR_EL1::MDE::CLEAR);
    } else {
        MDSCR_EL1.modify(MDSCR_EL1::MDE::CLEAR + MDSCR_EL1::KDE::CLEAR);
    }
    isb();
}

/// Sets (`true`) or clears the OS lock through OSLAR_EL1. While it is set no
/// breakpoint, watchpoint or step exception is generated (the reset state).
///
/// # Safety
/// Current CPU. Setting it silences every armed slot until it is cleared.
///
/// # Examples
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// use hwbreak_aarch64::cpu;
/// // SAFETY: EL1; nothing needs to trap while the lock is set.
/// unsafe { cpu::set_os_lock(true) };
/// assert!(cpu::os_locked());
/// // SAFETY: EL1, vectors ready for what the armed slots raise.
/// unsafe { cpu::set_os_lock(false) };
/// ```
pub unsafe fn set_os_lock(locked: bool) {
    if locked {
        OSLAR_EL1.write(OSLAR_EL1::OSLK::Locked);
    } else {
        OSLAR_EL1.write(OSLAR_EL1::OSLK::Unlocked);
    }
    isb();
}

/// Whether the OS lock is set (OSLSR_EL1.OSLK). Under QEMU (seen with
/// 10.0.2) it reads back set while watchpoints still trap: see the crate
/// documentation. See [`set_os_lock`] for an example.
pub fn os_locked() -> bool {
    OSLSR_EL1.is_set(crate::registers::oslsr_el1::OSLSR_EL1::OSLK)
}

/// Whether MDSCR_EL1.MDE (breakpoint and watchpoint exceptions) is set.
/// See [`enable_debug`] for an example.
pub fn debug_enabled() -> bool {
    MDSCR_EL1.is_set(MDSCR_EL1::MDE)
}

/// Arms single step of the instruction the exception returns to: MDSCR_EL1.SS
/// and KDE on this CPU, SPSR.SS in the saved state `spsr`.
///
/// # Safety
/// Inside the exception handler whose return uses `spsr`; the next debug
/// exception (EC 0x32/0x33) must go to the registry.
///
/// Kernels normally call [`apply_resume`] instead.
///
/// # Examples
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// use hwbreak_aarch64::cpu;
/// # let mut saved_spsr = 0u64;
/// // SAFETY: inside the handler that returns with `saved_spsr`.
/// unsafe { cpu::begin_single_step(&mut saved_spsr) };
/// assert_ne!(saved_spsr & cpu::SPSR_SS, 0);
/// ```
pub unsafe fn begin_single_step(spsr: &mut u64) {
    MDSCR_EL1.modify(MDSCR_EL1::SS::SET + MDSCR_EL1::KDE::SET);
    isb();
    *spsr |= SPSR_SS;
}

/// Ends single step: MDSCR_EL1.SS and SPSR.SS cleared, and KDE too when no
/// slot is armed (MDE = 0).
///
/// # Safety
/// Inside the exception handler whose return uses `spsr`.
///
/// Kernels normally call [`apply_resume`] instead.
///
/// # Examples
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// use hwbreak_aarch64::cpu;
/// # let mut saved_spsr = cpu::SPSR_SS;
/// // SAFETY: inside the step exception's handler, which returns with `saved_spsr`.
/// unsafe { cpu::end_single_step(&mut saved_spsr) };
/// assert_eq!(saved_spsr & cpu::SPSR_SS, 0);
/// ```
pub unsafe fn end_single_step(spsr: &mut u64) {
    if debug_enabled() {
        MDSCR_EL1.modify(MDSCR_EL1::SS::CLEAR);
    } else {
        MDSCR_EL1.modify(MDSCR_EL1::SS::CLEAR + MDSCR_EL1::KDE::CLEAR);
    }
    isb();
    *spsr &= !SPSR_SS;
}

/// Applies a registry [`Resume`] to the saved SPSR of the exception being
/// handled: `SingleStep` arms a step, `EndSingleStep` ends it, the others do
/// nothing (AArch64 has no resume flag).
///
/// # Safety
/// As for [`begin_single_step`].
///
/// # Examples
///
/// See the [module documentation](self) for its place in a vector.
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// use hwbreak_aarch64::cpu;
/// use hwbreak_core::Resume;
/// let mut saved_spsr = 0x3c5; // EL1h, DAIF masked
/// // SAFETY: in the handler whose `eret` restores `saved_spsr`.
/// unsafe { cpu::apply_resume(Resume::SingleStep, &mut saved_spsr) };
/// assert_eq!(saved_spsr, 0x3c5 | cpu::SPSR_SS);
/// ```
pub unsafe fn apply_resume(resume: Resume, spsr: &mut u64) {
    match resume {
        // SAFETY: forwarded from the caller's contract.
        Resume::SingleStep => unsafe { begin_single_step(spsr) },
        // SAFETY: forwarded from the caller's contract.
        Resume::EndSingleStep => unsafe { end_single_step(spsr) },
        Resume::Continue | Resume::SetResumeFlag => {}
    }
}

/// The slots as the hardware holds them (enabled control registers), for a
/// decoder used without the registry (a GDB stub or kernel debugger owning
/// the registers directly, or a self-test).
///
/// # Examples
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// use hwbreak_aarch64::{cpu::HardwareSlots, decode, Trap};
/// /// A debugger that programmed the pairs itself decodes its own traps.
/// fn which_hit(trap: &Trap) -> [u32; 2] {
///     decode::decode(trap, &HardwareSlots::current()).hits
/// }
/// # let _ = which_hit(&Trap::new(0, 0, 0));
/// ```
#[derive(Copy, Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HardwareSlots {
    /// `(breakpoints, watchpoints)` to look at.
    pub counts: (u8, u8),
}

impl HardwareSlots {
    /// A view of every pair this CPU implements. See [`HardwareSlots`] for
    /// an example.
    pub fn current() -> Self {
        Self {
            counts: implemented_pairs(),
        }
    }
}

impl hwbreak_core::SlotView for HardwareSlots {
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
        let count = if pool == PoolId::FIRST {
            self.counts.0
        } else {
            self.counts.1
        };
        if index < usize::from(count) {
            read_slot(pool, index)
        } else {
            None
        }
    }
}

/// Sets (`true`) or clears the OS double lock (OSDLR_EL1.DLK). While it is
/// set no breakpoint, watchpoint or step exception is generated.
///
/// # Safety
/// Current CPU. Setting it silences every armed slot until it is cleared.
///
/// # Examples
///
/// ```no_run
/// // Not run: EL1 system registers; this module exists only on AArch64.
/// use hwbreak_aarch64::cpu;
/// // Before powering the core down: no debug exception from here on.
/// // SAFETY: EL1, on the CPU going down.
/// unsafe { cpu::set_double_lock(true) };
/// ```
pub unsafe fn set_double_lock(locked: bool) {
    use crate::registers::osdlr_el1::{OSDLR_EL1, OSDLR_EL1 as F};
    OSDLR_EL1.write(if locked {
        F::DLK::Locked
    } else {
        F::DLK::Unlocked
    });
    isb();
}

/// Whether MDSCR_EL1.KDE (debug exceptions at EL1) is set. See
/// [`enable_debug`] for an example.
pub fn kernel_debug_enabled() -> bool {
    MDSCR_EL1.is_set(MDSCR_EL1::KDE)
}
