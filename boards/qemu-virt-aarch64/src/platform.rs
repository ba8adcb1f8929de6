//! What the registry needs to know about this machine: its CPUs and how to
//! reach them (`smp.rs`), an identity-mapped kernel, the zones no
//! breakpoint may touch, and the critical section that serialises the
//! registry's updates across CPUs.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use hwbreak::{CpuId, Platform, Zone};

use crate::smp;

/// QEMU `virt`, up to [`CPUS`](crate::CPUS) CPUs, MMU off.
pub struct VirtPlatform {
    zones: Zones,
}

/// The no-breakpoint zones, filled once at boot (before the registry is
/// initialised) from linker symbols, read-only afterwards.
struct Zones(UnsafeCell<[Zone; 2]>);

// SAFETY: written once by the boot CPU before anything reads it (see
// `VirtPlatform::init_zones`), only read afterwards.
unsafe impl Sync for Zones {}

/// Addresses below this are user space (nothing is mapped there; user
/// requests are validated against it). RAM, and the kernel, start here.
pub const USER_LIMIT: u64 = 0x4000_0000;

impl VirtPlatform {
    /// The platform, with zones not yet known.
    pub const fn new() -> Self {
        Self {
            zones: Zones(UnsafeCell::new([Zone::new(0, 0); 2])),
        }
    }

    /// Declares the vector table and the exception stacks (every CPU's)
    /// off-limits.
    ///
    /// # Safety
    /// Once, on the boot CPU, before the registry is initialised.
    pub unsafe fn init_zones(&self) {
        extern "C" {
            static __vectors_start: u8;
            static __vectors_end: u8;
            static __exception_stack_bottom: u8;
            static __exception_stack_top: u8;
        }
        let a = |p: *const u8| p as u64;
        let zones = [
            Zone::new(a(&raw const __vectors_start), a(&raw const __vectors_end)),
            Zone::new(
                a(&raw const __exception_stack_bottom),
                a(&raw const __exception_stack_top),
            ),
        ];
        // SAFETY: the caller guarantees no reader exists yet.
        unsafe { *self.zones.0.get() = zones };
    }
}

impl Platform for VirtPlatform {
    /// The CPUs PSCI reported at boot (`smp::init_boot_cpu`).
    fn cpu_count(&self) -> u32 {
        smp::cpu_count()
    }

    /// From MPIDR_EL1's affinity fields: no lock, no memory access.
    fn current_cpu(&self) -> CpuId {
        CpuId(smp::current_cpu())
    }

    /// A GICv2 SGI to every other online CPU; see `smp.rs` for what the
    /// caller waits for and why two concurrent callers cannot deadlock.
    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        smp::run_on_each_cpu(f);
    }

    fn user_limit(&self) -> u64 {
        USER_LIMIT
    }

    fn no_breakpoint_zones(&self) -> &[Zone] {
        // SAFETY: only written by `init_zones` before any reader.
        unsafe { &*self.zones.0.get() }
    }
}

/// The CPU holding the critical section, or `u32::MAX`.
static CS_OWNER: AtomicU32 = AtomicU32::new(u32::MAX);
/// Set in the restore state of a nested `acquire` (this CPU already held
/// the section): its `release` keeps the section held. DAIF's own bits
/// are 9:6, so bit 63 is free.
const NESTED: u64 = 1 << 63;

/// Critical sections across CPUs: IRQ and FIQ masked on this CPU, then a
/// spinlock owned by the CPU number, so a CPU that already holds it (a
/// debug exception taken inside a section, whose handler enters one)
/// nests instead of deadlocking on itself.
///
/// Deadlock rule: a CPU inside the section, or spinning for it, has its
/// interrupts masked and answers no cross-CPU call or round-up, so code
/// inside a section must never wait for another CPU (no
/// `run_on_each_cpu`, no `Smp::stop_others`, no hotplug). The registry
/// keeps to that (it calls `run_on_each_cpu` after leaving its section),
/// and so does this board; every section is then bounded and every
/// spinner gets it.
struct SmpCriticalSection;
critical_section::set_impl!(SmpCriticalSection);

// SAFETY: the lock excludes every other CPU, masking interrupts excludes
// this CPU's own IRQ handlers, and a nested acquire on the owning CPU
// neither takes nor releases the lock; `release` restores exactly the
// interrupt masks `acquire` saw.
unsafe impl critical_section::Impl for SmpCriticalSection {
    unsafe fn acquire() -> u64 {
        let daif = smp::irq_save();
        let me = smp::current_cpu();
        // Only this CPU ever stores its own number here, so seeing it means
        // this CPU holds the section.
        if CS_OWNER.load(Ordering::Relaxed) == me {
            return daif | NESTED;
        }
        while CS_OWNER
            .compare_exchange_weak(u32::MAX, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        daif
    }

    unsafe fn release(state: u64) {
        if state & NESTED == 0 {
            CS_OWNER.store(u32::MAX, Ordering::Release);
        }
        smp::irq_restore(state & !NESTED);
    }
}
