//! What the registry needs to know about this machine: one CPU, an
//! identity-mapped kernel, and the zones no breakpoint may touch.

use core::cell::UnsafeCell;

use hwbreak::{CpuId, Platform, Zone};

/// QEMU `virt`, one CPU, MMU off.
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

    /// Declares the vector table and the exception stack off-limits.
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

/// Single-CPU critical sections: IRQ and FIQ masked, the previous DAIF
/// restored afterwards.
struct DaifCriticalSection;
critical_section::set_impl!(DaifCriticalSection);

// SAFETY: with one CPU, masking interrupts excludes every other context that
// could enter a critical section; `release` restores exactly what `acquire`
// saw, so nesting works.
unsafe impl critical_section::Impl for DaifCriticalSection {
    unsafe fn acquire() -> u64 {
        let daif: u64;
        // SAFETY: reading DAIF and masking IRQ/FIQ has no memory effect.
        unsafe {
            core::arch::asm!("mrs {0}, daif", "msr daifset, #3", out(reg) daif, options(nomem, nostack, preserves_flags));
        }
        daif
    }

    unsafe fn release(daif: u64) {
        // Only the I (bit 7) and F (bit 6) masks are restored: D may have been
        // cleared inside the section (the debug machinery being armed) and
        // must stay as it is now.
        if daif & (1 << 7) == 0 {
            // SAFETY: unmasks IRQs, which were unmasked before `acquire`.
            unsafe {
                core::arch::asm!("msr daifclr, #2", options(nomem, nostack, preserves_flags))
            };
        }
        if daif & (1 << 6) == 0 {
            // SAFETY: unmasks FIQs, which were unmasked before `acquire`.
            unsafe {
                core::arch::asm!("msr daifclr, #1", options(nomem, nostack, preserves_flags))
            };
        }
    }
}
