//! hwbreak test kernel for QEMU's AArch64 `virt` machine.
//!
//! Boots at EL1 (MMU off, identity addresses), prints through the PL011,
//! runs the backend smoke scenarios (the backend alone, no registry), then
//! brings the registry up and starts the secondary CPUs (PSCI `CPU_ON`, up
//! to [`CPUS`]; see `smp.rs`), checks the SMP services themselves
//! (`smp_check.rs`), runs the shared scenario suite with the
//! AArch64-only scenarios through the registry, prints one summary line and
//! exits through semihosting with status 0 when nothing failed. Secondaries
//! idle until the suite's SMP scenarios give them work.
//!
//! Built with feature `gdb` (variant `aarch64-gdb`) it runs no scenarios:
//! it stops at boot for GDB, connected to the second PL011 (see `gdb.rs`),
//! runs `hwbreak_suite::gdb::debuggee`, reports its exit to GDB and exits
//! with status 0.
//!
//! FP/SIMD: `aarch64-unknown-none` (the target the project's toolchain file
//! installs) lets the compiler use q-registers anywhere, handlers included,
//! so the vectors save and restore q0-q31, FPCR and FPSR. The soft-float
//! target would avoid that cost but needs one more target installed.
#![no_std]
#![no_main]

mod boot;
mod console;
mod exceptions;
#[cfg(feature = "gdb")]
mod gdb;
#[cfg(feature = "gdb")]
mod gdb_uart;
mod gic;
mod platform;
mod psci;
#[cfg(not(feature = "gdb"))]
mod smoke;
mod smp;
#[cfg(not(feature = "gdb"))]
mod smp_check;

use core::sync::atomic::{AtomicU32, Ordering};

use hwbreak::{Registry, Resume};
use hwbreak_aarch64::{Aarch64, Trap};
use qemu_exit::QEMUExit;
#[cfg(not(feature = "gdb"))]
use {
    hwbreak::PoolId,
    hwbreak_aarch64::cpu,
    hwbreak_suite::{Board, Caps},
};

use platform::VirtPlatform;

/// CPUs the kernel can serve (QEMU runs it with `-smp 4`); linker.ld lays
/// out one stack pair per CPU for as many.
pub const CPUS: usize = 4;

/// The registry: 64 breakpoints, [`CPUS`] CPUs, 8 debug contexts.
pub(crate) static REGISTRY: Registry<Aarch64, VirtPlatform, 64, CPUS, 8> =
    Registry::new(Aarch64::new(), VirtPlatform::new());

static SPURIOUS: AtomicU32 = AtomicU32::new(0);

/// Debug exceptions go to the registry once it is initialised.
fn registry_debug(trap: &Trap) -> Resume {
    let out = REGISTRY.on_debug_exception(trap);
    if out.spurious {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
    }
    out.resume
}

/// This board, for the suite.
#[cfg(not(feature = "gdb"))]
struct Virt;

#[cfg(not(feature = "gdb"))]
impl Board for Virt {
    fn print(&self, s: &str) {
        console::print(s);
    }

    fn caps(&self) -> Caps {
        // QEMU TCG traps every implemented pair, BAS selects and MASK ranges
        // exactly (seen: see the smoke and aarch64_* scenarios).
        let (b, w) = cpu::implemented_pairs();
        Caps {
            data_traps: true,
            exec_traps: true,
            data_slots: usize::from(w),
            exec_slots: usize::from(b),
            exact_wide_ranges: true,
        }
    }

    unsafe fn clear_debug_registers(&self) {
        let (b, w) = cpu::implemented_pairs();
        // SAFETY: current CPU; the caller accepts that the registry's tables
        // disagree with the hardware until `cpu_online`.
        unsafe {
            for i in 0..usize::from(b) {
                cpu::write_slot(PoolId::FIRST, i, None);
            }
            for i in 0..usize::from(w) {
                cpu::write_slot(PoolId::SECOND, i, None);
            }
            cpu::disable_debug();
            // What a core coming out of reset has: the OS lock set.
            cpu::set_os_lock(true);
        }
    }

    fn debug_stack(&self) -> (u64, u64) {
        let z = hwbreak::Platform::no_breakpoint_zones(REGISTRY.platform())[1];
        (z.start, z.end)
    }

    fn spurious_count(&self) -> u32 {
        SPURIOUS.load(Ordering::Relaxed)
    }

    fn smp(&self) -> Option<&dyn hwbreak_suite::Smp> {
        (smp::cpu_count() > 1).then_some(&smp::VirtSmp as &dyn hwbreak_suite::Smp)
    }
}

/// Leaves QEMU: status 0 on `pass`, 1 otherwise.
pub fn exit(pass: bool) -> ! {
    let q = qemu_exit::AArch64::new();
    if pass {
        q.exit_success()
    } else {
        q.exit_failure()
    }
}

#[no_mangle]
extern "C" fn hwbreak_board_main() -> ! {
    kprintln!("hwbreak: qemu-virt-aarch64 test kernel");
    smp::init_boot_cpu();
    // The kernel's own code takes debug exceptions (as it would take
    // interrupts); nothing traps before slots are armed and MDSCR_EL1.MDE
    // and KDE are set.
    // SAFETY: EL1, boot CPU; the vectors (boot.rs) are installed.
    unsafe { hwbreak_aarch64::cpu::unmask_debug_exceptions() };
    // SAFETY: once, on the boot CPU, before the registry is initialised.
    unsafe { REGISTRY.platform().init_zones() };
    #[cfg(feature = "gdb")]
    gdb_session();
    #[cfg(not(feature = "gdb"))]
    run_suite();
}

/// Initialises the registry, routes debug exceptions to it, brings this
/// CPU online and starts the secondaries (each brings itself online);
/// exits QEMU with a failure if the registry refuses.
fn bring_up_registry() {
    if let Err(e) = REGISTRY.init() {
        kprintln!("registry init failed: {}", e);
        exit(false);
    }
    exceptions::set_debug_handler(Some(registry_debug));
    if let Err(e) = REGISTRY.cpu_online() {
        kprintln!("cpu_online failed: {}", e);
        exit(false);
    }
    smp::start_secondaries();
}

/// The smoke scenarios, then the shared suite; exits with the verdict.
#[cfg(not(feature = "gdb"))]
fn run_suite() -> ! {
    let (passed, failed) = smoke::run();
    let mut summary = hwbreak_suite::Summary {
        passed,
        failed,
        skipped: 0,
    };
    bring_up_registry();
    let (passed, failed, skipped) = smp_check::run();
    summary.passed += passed;
    summary.failed += failed;
    summary.skipped += skipped;
    let counts = REGISTRY.slot_counts();
    kprintln!(
        "registry: {} breakpoint and {} watchpoint slots",
        counts.get(PoolId::FIRST),
        counts.get(PoolId::SECOND)
    );
    summary.add(hwbreak_suite::run_scenarios(&REGISTRY, &Virt));
    summary.print(&Virt);
    exit(summary.all_passed())
}

/// The `gdb` build: a GDB session over `hwbreak_suite::gdb::debuggee`
/// instead of the scenarios. The session starts with a stop on the boot
/// CPU; the debuggee then runs on CPU 1 (the boot CPU itself on a one-CPU
/// machine), so GDB's breakpoints and watchpoints trap on another CPU than
/// the one that stopped first, and the boot CPU, waiting, is rounded up
/// at each of their stops. Exits QEMU with status 0 when the program has
/// run (GDB judges the stops; `cargo xtask gdb` judges GDB).
#[cfg(feature = "gdb")]
fn gdb_session() -> ! {
    bring_up_registry();
    kprintln!("gdb: stopping for GDB (second PL011)");
    gdb::initial_stop();
    let (result, cpu) = if smp::cpu_count() > 1 {
        if let Err(e) = smp::spawn(1, run_debuggee, 0) {
            kprintln!("gdb: cannot start the debuggee on CPU 1: {}", e);
            exit(false);
        }
        while !smp::is_idle(1) {
            core::hint::spin_loop();
        }
        (DEBUGGEE_RESULT.load(Ordering::Acquire), 1)
    } else {
        (hwbreak_suite::gdb::debuggee(), 0)
    };
    kprintln!("gdb: debuggee returned {} on CPU {}", result, cpu);
    gdb::final_stop();
    kprintln!("gdb: session over");
    exit(true)
}

/// What the debuggee returned on CPU 1.
#[cfg(feature = "gdb")]
static DEBUGGEE_RESULT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Spawned work: the debuggee, its result kept for the boot CPU.
#[cfg(feature = "gdb")]
fn run_debuggee(_: usize) {
    DEBUGGEE_RESULT.store(hwbreak_suite::gdb::debuggee(), Ordering::Release);
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    kprintln!("panic: {}", info);
    exit(false)
}
