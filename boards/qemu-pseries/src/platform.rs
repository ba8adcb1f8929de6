//! The OS services the registry needs: one CPU, interrupts off by default.

use core::cell::UnsafeCell;

use hwbreak::{CpuId, MemoryType, Platform, Zone};

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

/// The pseries platform of this test kernel.
pub struct Pseries {
    zones: UnsafeCell<[Zone; 2]>,
}

// SAFETY: `zones` is written once by `init_zones`, on the boot CPU, before
// the registry (the only reader) is initialised.
unsafe impl Sync for Pseries {}

impl Pseries {
    /// The platform, zones not yet known.
    pub const fn new() -> Self {
        Self {
            zones: UnsafeCell::new([Zone::new(0, 0x1000), Zone::new(0, 0)]),
        }
    }

    /// Declares the vectors and the stack exceptions run on as
    /// no-breakpoint zones.
    ///
    /// # Safety
    /// Once, before the registry is initialised.
    pub unsafe fn init_zones(&self) {
        let top = core::ptr::addr_of!(__stack_top) as u64;
        // SAFETY: no reader yet (contract).
        unsafe { (*self.zones.get())[1] = Zone::new(top - STACK_SIZE, top) };
    }

    /// `[start, end)` of the stack debug exceptions run on.
    pub fn debug_stack(&self) -> (u64, u64) {
        // SAFETY: written only before the registry started.
        let z = unsafe { (*self.zones.get())[1] };
        (z.start, z.end)
    }
}

impl Platform for Pseries {
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

struct Cs;
critical_section::set_impl!(Cs);

// SAFETY: one CPU; clearing MSR[EE] excludes every other context of it
// (this kernel takes no non-maskable interrupt that enters a critical
// section).
unsafe impl critical_section::Impl for Cs {
    unsafe fn acquire() -> bool {
        let msr = mfmsr();
        // SAFETY: `mtmsrd r, 1` changes only MSR[EE] and MSR[RI].
        unsafe {
            core::arch::asm!("mtmsrd {0}, 1", in(reg) msr & !MSR_EE, options(nostack));
        }
        msr & MSR_EE != 0
    }

    unsafe fn release(was_enabled: bool) {
        if was_enabled {
            // SAFETY: as in `acquire`; restores EE as it was.
            unsafe {
                core::arch::asm!("mtmsrd {0}, 1", in(reg) mfmsr() | MSR_EE, options(nostack));
            }
        }
    }
}
