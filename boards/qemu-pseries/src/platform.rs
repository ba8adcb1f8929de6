//! The OS services the registry needs: one CPU, interrupts off by default.

use hwbreak::{CpuId, Platform, Zone};

/// MSR\[EE\], ISA bit 48 (shift 15): external interrupts enabled.
const MSR_EE: u64 = 1 << 15;

/// This kernel has no user space: addresses below 2 MiB (vectors,
/// firmware) stand in for user space, the image at 4 MiB is kernel space.
pub const USER_LIMIT: u64 = 0x20_0000;

/// The pseries platform of this test kernel.
pub struct Pseries;

/// Vectors and their stubs: no breakpoint may watch them.
static ZONES: [Zone; 1] = [Zone::new(0, 0x1000)];

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

    fn no_breakpoint_zones(&self) -> &[Zone] {
        &ZONES
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
