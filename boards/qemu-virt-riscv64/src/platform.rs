//! What the registry needs to know about this machine: one hart, paging
//! off, and the zones no breakpoint may touch.

use core::cell::UnsafeCell;

use hwbreak::{CpuId, Platform, Zone};

/// QEMU `virt`, one hart, paging off.
pub struct VirtPlatform {
    zones: Zones,
}

/// The no-breakpoint zones, filled once at boot (before the registry is
/// initialised) from linker symbols, read-only afterwards.
struct Zones(UnsafeCell<[Zone; 2]>);

// SAFETY: written once by the boot hart before anything reads it (see
// `VirtPlatform::init_zones`), only read afterwards.
unsafe impl Sync for Zones {}

/// Addresses below this are user space (nothing is mapped there; user
/// requests are validated against it). RAM, and the kernel, start here.
pub const USER_LIMIT: u64 = 0x8000_0000;

impl VirtPlatform {
    /// The platform, with zones not yet known.
    pub const fn new() -> Self {
        Self {
            zones: Zones(UnsafeCell::new([Zone::new(0, 0); 2])),
        }
    }

    /// Declares the trap entry code and the trap stack off-limits.
    ///
    /// # Safety
    /// Once, on the boot hart, before the registry is initialised.
    pub unsafe fn init_zones(&self) {
        extern "C" {
            static __trap_start: u8;
            static __trap_end: u8;
            static __trap_stack_bottom: u8;
            static __trap_stack_top: u8;
        }
        let a = |p: *const u8| p as u64;
        let zones = [
            Zone::new(a(&raw const __trap_start), a(&raw const __trap_end)),
            Zone::new(
                a(&raw const __trap_stack_bottom),
                a(&raw const __trap_stack_top),
            ),
        ];
        // SAFETY: the caller guarantees no reader exists yet.
        unsafe { *self.zones.0.get() = zones };
    }
}

impl Platform for VirtPlatform {
    fn cpu_count(&self) -> u32 {
        1
    }

    fn current_cpu(&self) -> CpuId {
        CpuId(0)
    }

    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        critical_section::with(|_| f());
    }

    fn user_limit(&self) -> u64 {
        USER_LIMIT
    }

    fn no_breakpoint_zones(&self) -> &[Zone] {
        // SAFETY: only written by `init_zones` before any reader.
        unsafe { &*self.zones.0.get() }
    }
}

/// Single-hart critical sections: interrupts off (`xstatus.xIE`), the
/// previous state restored afterwards.
struct IrqCriticalSection;
critical_section::set_impl!(IrqCriticalSection);

/// `xIE` of `xstatus`: SIE is bit 1 in S-mode, MIE bit 3 in M-mode.
#[cfg(feature = "machine")]
const IE: usize = 1 << 3;
#[cfg(not(feature = "machine"))]
const IE: usize = 1 << 1;

// SAFETY: with one hart, masking interrupts excludes every other context
// that could enter a critical section; `release` restores exactly what
// `acquire` saw, so nesting works.
unsafe impl critical_section::Impl for IrqCriticalSection {
    unsafe fn acquire() -> bool {
        let old: usize;
        // SAFETY: clearing xIE has no memory effect. The asm is left a
        // compiler barrier (no `nomem`): data the section protects must not
        // be moved out of it.
        unsafe {
            #[cfg(feature = "machine")]
            core::arch::asm!("csrrc {0}, mstatus, {1}", out(reg) old, in(reg) IE, options(nostack));
            #[cfg(not(feature = "machine"))]
            core::arch::asm!("csrrc {0}, sstatus, {1}", out(reg) old, in(reg) IE, options(nostack));
        }
        old & IE != 0
    }

    unsafe fn release(enabled: bool) {
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        if enabled {
            // SAFETY: interrupts were enabled before `acquire`.
            unsafe {
                #[cfg(feature = "machine")]
                core::arch::asm!("csrs mstatus, {0}", in(reg) IE, options(nostack));
                #[cfg(not(feature = "machine"))]
                core::arch::asm!("csrs sstatus, {0}", in(reg) IE, options(nostack));
            }
        }
    }
}
