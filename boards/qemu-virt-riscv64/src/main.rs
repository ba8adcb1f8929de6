//! hwbreak test kernel for QEMU's RISC-V `virt` machine.
//!
//! Two builds: S-mode under OpenSBI (default; triggers through SBI DBTR),
//! and M-mode with no firmware (feature `machine`; the trigger CSRs
//! directly). Both print through the 16550 UART, run the backend smoke
//! scenarios (the backend alone, pinning what QEMU emulates), then the
//! shared scenario suite with the RISC-V-only scenarios through the
//! registry, print one summary line and exit through the SiFive test
//! device with status 0 when nothing failed.
//!
//! QEMU's triggers implement only `match` = 0 and read `size` as the
//! length watched from `tdata2`, so the registry's backend uses
//! [`Matching::SizeAsLength`] (see `docs/qemu-deviations.md`).
#![no_std]
#![no_main]

mod boot;
mod console;
mod platform;
mod smoke;
mod trap;

use hwbreak::Registry;
use hwbreak_riscv::{Matching, Riscv, POOL};
use hwbreak_suite::{Board, Caps};
use qemu_exit::QEMUExit;

use platform::VirtPlatform;

/// This hart's SBI DBTR shared memory.
#[cfg(not(feature = "machine"))]
static SHMEM: hwbreak_riscv::SbiShmem = hwbreak_riscv::SbiShmem::new();

/// The calling hart's SBI DBTR shared memory (one hart on this board).
#[cfg(not(feature = "machine"))]
pub(crate) fn hart_shmem() -> &'static hwbreak_riscv::SbiShmem {
    &SHMEM
}

/// The backend for this build's privilege mode, with `matching`.
pub(crate) const fn backend(matching: Matching) -> Riscv {
    #[cfg(feature = "machine")]
    let r = Riscv::machine();
    #[cfg(not(feature = "machine"))]
    let r = Riscv::supervisor(hart_shmem);
    r.matching(matching)
}

/// Which mode this kernel runs in, for the console.
const MODE: &str = if cfg!(feature = "machine") {
    "M-mode, trigger CSRs"
} else {
    "S-mode, SBI DBTR"
};

/// The registry: 64 breakpoints, 1 hart, 8 debug contexts.
pub(crate) static REGISTRY: Registry<Riscv, VirtPlatform, 64, 1, 8> =
    Registry::new(backend(Matching::SizeAsLength), VirtPlatform::new());

/// This board, for the suite.
struct Virt;

impl Board for Virt {
    fn print(&self, s: &str) {
        console::print(s);
    }

    fn caps(&self) -> Caps {
        // Every trigger traps under QEMU TCG, for execute, loads and
        // stores; with `size` as length two triggers cover 13 bytes
        // exactly (seen: the smoke and riscv_* scenarios).
        let n = REGISTRY.slot_counts().get(POOL);
        Caps {
            data_traps: true,
            exec_traps: true,
            data_slots: n,
            exec_slots: n,
            exact_wide_ranges: true,
        }
    }

    unsafe fn clear_debug_registers(&self) {
        let arch = REGISTRY.arch();
        for i in 0..REGISTRY.slot_counts().get(POOL) {
            // SAFETY: this hart; the caller accepts that the registry's
            // tables disagree with the hardware until `cpu_online`.
            unsafe { hwbreak::Arch::write_slot(arch, POOL, i, None) };
        }
    }

    fn debug_stack(&self) -> (u64, u64) {
        let z = hwbreak::Platform::no_breakpoint_zones(REGISTRY.platform())[1];
        (z.start, z.end)
    }

    fn spurious_count(&self) -> u32 {
        trap::SPURIOUS.load(core::sync::atomic::Ordering::Relaxed)
    }
}

/// Leaves QEMU through the SiFive test device: status 0 on `pass`, 1
/// otherwise.
pub fn exit(pass: bool) -> ! {
    // SAFETY: QEMU `virt` has the SiFive test device at 0x10_0000 (and
    // OpenSBI leaves it reachable from S-mode).
    let q = unsafe { qemu_exit::RISCV64::new(0x10_0000) };
    if pass {
        q.exit_success()
    } else {
        q.exit_failure()
    }
}

#[no_mangle]
extern "C" fn hwbreak_board_main() -> ! {
    kprintln!("hwbreak: qemu-virt-riscv64 test kernel ({})", MODE);
    // SAFETY: once, on the boot hart, before the registry is initialised.
    unsafe { REGISTRY.platform().init_zones() };
    #[cfg(not(feature = "machine"))]
    {
        let phys = &raw const SHMEM as u64;
        // SAFETY: S-mode, hart 0, once; paging is off, so the address is
        // physical.
        if let Err(e) = unsafe { SHMEM.register(phys) } {
            kprintln!("SBI DBTR shared memory refused: error {}", e);
            exit(false);
        }
    }
    let (passed, failed) = smoke::run(&Virt);
    let mut summary = hwbreak_suite::Summary {
        passed,
        failed,
        skipped: 0,
    };
    trap::set_route(trap::Route::Registry);
    if let Err(e) = REGISTRY.init() {
        kprintln!("registry init failed: {}", e);
        exit(false);
    }
    if let Err(e) = REGISTRY.cpu_online() {
        kprintln!("cpu_online failed: {}", e);
        exit(false);
    }
    let t = REGISTRY.arch().triggers();
    kprintln!("registry: {} triggers ({:?})", t.count, t.kind);
    summary.add(hwbreak_suite::run_scenarios(&REGISTRY, &Virt));
    summary.print(&Virt);
    exit(summary.all_passed())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    kprintln!("panic: {}", info);
    exit(false)
}
