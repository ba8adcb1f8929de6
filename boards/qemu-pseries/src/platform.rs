//! The OS services the registry needs: CPU identity from PIR, cross-CPU
//! calls by XICS IPI ([`crate::smp`]), no-breakpoint zones, and the
//! `critical-section` implementation the registry serialises its updates
//! on.
//!
//! # The critical section
//! A spinlock taken with MSR\[EE\] off: it excludes every other CPU and
//! every interrupt of this one. Nesting on the same CPU is allowed (the
//! restore state says whether this level took the lock). A CPU inside it,
//! or spinning for it, takes no IPI, so nothing may wait for another CPU
//! while holding it: the registry calls `run_on_each_cpu` with no lock
//! held, and this board never waits for a CPU (cross-call, round-up,
//! hotplug) inside a critical section either.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use hwbreak::{CpuId, MemoryType, Platform, Zone};

use crate::smp;

/// MSR\[EE\], ISA bit 48 (shift 15): external interrupts enabled.
const MSR_EE: u64 = 1 << 15;

/// This kernel has no user space: addresses below 2 MiB (vectors,
/// firmware) stand in for user space, the image at 4 MiB is kernel space.
pub const USER_LIMIT: u64 = 0x20_0000;

/// A page this kernel declares cache-inhibited (never accessed), so
/// scenarios can check the POWER9 DAWR rule through the registry.
pub const CACHE_INHIBITED: Zone = Zone::new(0x1000_0000, 0x1000_1000);

/// Size of the boot stack below `__stack_top` (see linker.ld).
const STACK_SIZE: u64 = 0x10000;

extern "C" {
    static __stack_top: u8;
}

/// Zones: the vectors, the boot stack, the secondaries' stacks, the
/// exception stacks, the exception areas, the SMP mailboxes and the
/// common exception path's code.
const ZONES: usize = 7;

/// The pseries platform of this test kernel.
pub struct Pseries {
    zones: UnsafeCell<[Zone; ZONES]>,
}

// SAFETY: `zones` is written once by `init_zones`, on the boot CPU, before
// the registry (the only reader) is initialised and before any other CPU
// starts.
unsafe impl Sync for Pseries {}

impl Pseries {
    /// The platform, zones not yet known.
    pub const fn new() -> Self {
        Self {
            zones: UnsafeCell::new([Zone::new(0, 0x1000); ZONES]),
        }
    }

    /// Declares the vectors, the stacks, the per-CPU state the exception
    /// and cross-call paths touch, and the exception entry code as
    /// no-breakpoint zones.
    ///
    /// # Safety
    /// Once, on the boot CPU, before the registry is initialised.
    pub unsafe fn init_zones(&self) {
        let top = core::ptr::addr_of!(__stack_top) as u64;
        let (code_start, code_end) = crate::entry::exception_code();
        let [stacks, exception_stacks, areas, mailboxes] = smp::zones();
        // SAFETY: no reader yet (contract).
        unsafe {
            *self.zones.get() = [
                Zone::new(0, 0x1000),
                Zone::new(top - STACK_SIZE, top),
                stacks,
                exception_stacks,
                areas,
                mailboxes,
                Zone::new(code_start, code_end),
            ]
        };
    }

    /// `[start, end)` of the stack debug exceptions run on, on this CPU.
    pub fn debug_stack(&self) -> (u64, u64) {
        smp::exception_stack(smp::this_cpu())
    }
}

impl Platform for Pseries {
    fn cpu_count(&self) -> u32 {
        smp::cpu_count()
    }

    fn current_cpu(&self) -> CpuId {
        CpuId(smp::this_cpu() as u32)
    }

    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        smp::run_on_each_cpu(f);
    }

    fn user_limit(&self) -> u64 {
        USER_LIMIT
    }

    fn memory_type(&self, start: u64, end: u64) -> MemoryType {
        if CACHE_INHIBITED.overlaps(start, end) {
            MemoryType::CacheInhibited
        } else {
            MemoryType::Normal
        }
    }

    fn no_breakpoint_zones(&self) -> &[Zone] {
        // SAFETY: written only before the registry started.
        unsafe { &*self.zones.get() }
    }
}

fn mfmsr() -> u64 {
    let msr: u64;
    // SAFETY: reading the MSR has no side effect.
    unsafe { core::arch::asm!("mfmsr {0}", out(reg) msr, options(nomem, nostack)) };
    msr
}

/// Sets MSR\[EE\] to `on`.
fn set_ee(on: bool) {
    let msr = if on {
        mfmsr() | MSR_EE
    } else {
        mfmsr() & !MSR_EE
    };
    // SAFETY: `mtmsrd r, 1` changes only MSR[EE] and MSR[RI]. Not
    // `nomem`: memory accesses must not move across it.
    unsafe { core::arch::asm!("mtmsrd {0}, 1", in(reg) msr, options(nostack)) };
}

/// Turns external interrupts off; whether they were on.
pub fn interrupts_off() -> bool {
    let was = mfmsr() & MSR_EE != 0;
    set_ee(false);
    was
}

/// Turns external interrupts back on if `was_on` (from
/// [`interrupts_off`]).
pub fn interrupts_restore(was_on: bool) {
    if was_on {
        set_ee(true);
    }
}

/// Turns external interrupts on.
pub fn interrupts_on() {
    set_ee(true);
}

/// The CPU holding the critical section, or [`NO_OWNER`].
static CS_OWNER: AtomicU32 = AtomicU32::new(NO_OWNER);
const NO_OWNER: u32 = u32::MAX;

/// Restore-state bits: MSR\[EE\] was on; this level did not take the lock
/// (the CPU already held it).
const CS_EE_WAS_ON: u8 = 1;
const CS_NESTED: u8 = 2;

struct Cs;
critical_section::set_impl!(Cs);

// SAFETY: the lock excludes every other CPU (an atomic owner word taken
// with acquire and released with release ordering), MSR[EE] off excludes
// this CPU's interrupts, and this kernel takes no non-maskable interrupt
// that enters a critical section. A nested acquire on the owning CPU
// leaves the lock to the outer level.
unsafe impl critical_section::Impl for Cs {
    unsafe fn acquire() -> u8 {
        let ee = if interrupts_off() { CS_EE_WAS_ON } else { 0 };
        let me = smp::this_cpu() as u32;
        if CS_OWNER.load(Ordering::Relaxed) == me {
            return ee | CS_NESTED;
        }
        while CS_OWNER
            .compare_exchange_weak(NO_OWNER, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        ee
    }

    unsafe fn release(state: u8) {
        if state & CS_NESTED == 0 {
            CS_OWNER.store(NO_OWNER, Ordering::Release);
        }
        interrupts_restore(state & CS_EE_WAS_ON != 0);
    }
}
