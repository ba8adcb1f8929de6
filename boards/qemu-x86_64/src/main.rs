//! hwbreak test kernel for QEMU `-M microvm` (x86_64).
//!
//! PVH boot into long mode (see `boot.rs`), COM1 console, per CPU a TSS
//! whose IST1 stack takes #DB, and a #DB entry that saves every general
//! register and hands DR6 to the registry. The secondaries start at boot
//! and idle (see `smp.rs`). Runs the backend smoke checks (raw register
//! programming on the boot CPU, before the registry owns its registers),
//! then the shared suite through the registry, prints one summary line and
//! exits through `isa-debug-exit` (status 3 = every scenario passed).
#![no_std]
#![no_main]
// The `gdb` build runs a GDB session instead of the checks: the suite's
// board glue stays compiled (it is the same kernel) but goes unused.
#![cfg_attr(feature = "gdb", allow(dead_code))]

mod apic;
mod boot;
mod cpu;
#[cfg(feature = "defmt-log")]
mod defmt_log;
#[cfg(feature = "gdb")]
mod gdb;
mod serial;
#[cfg(not(feature = "gdb"))]
mod smoke;
mod smp;

use core::arch::asm;
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use hwbreak::native::{regs, Trap, X86};
use hwbreak::{CpuId, Platform, Registry, Zone};
#[cfg(not(feature = "gdb"))]
use hwbreak_suite::Summary;
use hwbreak_suite::{Board, Caps, Smp};

/// Registrations, CPUs, debug contexts, slots per pool (DR0-DR3).
type Reg = Registry<
    hwbreak::ArchImpl,
    BoardPlatform,
    64,
    { smp::MAX_CPUS },
    8,
    { hwbreak::native::SLOTS },
>;

/// The backend with I/O breakpoints on.
// SAFETY: every CPU sets CR4.DE in its bring-up (`kmain`, `smp::ap_rust`)
// before its `cpu_online`.
const BACKEND: X86 = unsafe { X86::with_io_breakpoints() };

/// The registry. I/O breakpoints are on: every CPU sets CR4.DE before it
/// loads a slot.
static REG: Reg = Registry::new(BACKEND, BoardPlatform);

/// What the #DB path reads and writes besides the registry: a
/// no-breakpoint zone.
struct DbState {
    /// #DB goes to the smoke checks' raw handler instead of the registry.
    raw_mode: AtomicBool,
    /// Debug exceptions the registry called spurious.
    spurious: AtomicU32,
    /// Of those, the ones no slot enabled in DR7 explains either (see
    /// [`explained_by_hardware`]).
    unexplained: AtomicU32,
}
static DB_STATE: DbState = DbState {
    raw_mode: AtomicBool::new(false),
    spurious: AtomicU32::new(0),
    unexplained: AtomicU32::new(0),
};
static RAW_MODE: &AtomicBool = &DB_STATE.raw_mode;
static SPURIOUS: &AtomicU32 = &DB_STATE.spurious;
static UNEXPLAINED: &AtomicU32 = &DB_STATE.unexplained;

/// Whether the hardware explains a #DB: DR6 reports a hit in a slot DR7
/// enabled when it was taken (`dr7`, as the entry saved it), or a single
/// step or debug-register access. The registry calls a hit spurious also
/// when the slot's breakpoint is being removed while this CPU has not
/// reloaded yet (with other CPUs updating, that happens); such a hit is
/// explained, a #DB that fails this test is not.
#[link_section = ".text.entry"]
fn explained_by_hardware(dr6: hwbreak::native::dr6::Dr6, dr7: u64) -> bool {
    let enabled = (0..4).fold(0u32, |m, k| m | u32::from(dr7 >> (2 * k) & 3 != 0) << k);
    dr6.hits() & enabled != 0 || dr6.single_step() || dr6.debug_register_access()
}

/// Ranges no breakpoint may touch, filled in once at boot.
struct Zones(UnsafeCell<[Zone; 7]>);
// SAFETY: written once in `kmain` before the registry is initialised, then
// only read.
unsafe impl Sync for Zones {}
static ZONES: Zones = Zones(UnsafeCell::new([Zone::new(0, 0); 7]));

/// The platform: the CPUs QEMU gives (up to 4, numbered by APIC id),
/// cross-CPU calls by IPI, 47-bit user half, the exception machinery as
/// no-breakpoint zones.
pub struct BoardPlatform;

impl Platform for BoardPlatform {
    fn cpu_count(&self) -> u32 {
        smp::cpu_count()
    }

    fn current_cpu(&self) -> CpuId {
        CpuId(smp::current_cpu() as u32)
    }

    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        smp::run_on_each_cpu(f);
    }

    fn user_limit(&self) -> u64 {
        0x0000_8000_0000_0000
    }

    fn no_breakpoint_zones(&self) -> &[Zone] {
        // SAFETY: see `Zones`.
        unsafe { &*ZONES.0.get() }
    }
}

/// The board as the suite sees it.
struct QemuX86;

impl Board for QemuX86 {
    fn print(&self, s: &str) {
        let _ = serial::Serial.write_str(s);
    }

    fn caps(&self) -> Caps {
        Caps {
            data_traps: true,
            exec_traps: true,
            data_slots: 4,
            exec_slots: 4,
            exact_wide_ranges: true,
        }
    }

    unsafe fn clear_debug_registers(&self) {
        // SAFETY: ring 0; the caller restores them through cpu_online.
        unsafe { regs::clear_all() };
    }

    fn debug_stack(&self) -> (u64, u64) {
        cpu::DB_STACKS.range()
    }

    fn spurious_count(&self) -> u32 {
        SPURIOUS.load(Ordering::SeqCst)
    }

    fn smp(&self) -> Option<&dyn Smp> {
        Some(&smp::BoardSmp)
    }
}

/// #DB, called from `db_entry` on the IST1 stack with the saved frame.
#[no_mangle]
#[link_section = ".text.entry"]
extern "C" fn db_rust(frame: &mut cpu::Frame) {
    #[cfg(not(feature = "gdb"))]
    if RAW_MODE.load(Ordering::Relaxed) {
        smoke::on_debug(frame);
        return;
    }
    // SAFETY: first thing in the #DB handler, ring 0.
    let trap = unsafe { Trap::capture() };
    let out = REG.on_debug_exception(&trap);
    if out.spurious {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
        if !explained_by_hardware(trap.dr6, frame.dr7) {
            UNEXPLAINED.fetch_add(1, Ordering::Relaxed);
        }
    }
    match out.resume {
        hwbreak::Resume::SetResumeFlag => frame.rflags |= cpu::RFLAGS_RF,
        hwbreak::Resume::Continue => {}
        // x86 never asks for single steps; nothing else to apply.
        hwbreak::Resume::SingleStep | hwbreak::Resume::EndSingleStep => {}
    }
    #[cfg(feature = "gdb")]
    gdb::on_debug(frame, trap.dr6.single_step());
}

/// #BP (`int3`), called from `bp_entry` on the IST1 stack: only the GDB
/// stub's own stops use it.
#[no_mangle]
#[link_section = ".text.entry"]
extern "C" fn bp_rust(frame: &mut cpu::Frame) {
    #[cfg(feature = "gdb")]
    gdb::on_breakpoint(frame);
    #[cfg(not(feature = "gdb"))]
    {
        let _ = writeln!(serial::Serial, "\nFATAL: int3 at rip {:#x}", frame.rip);
        exit(false)
    }
}

/// Exits QEMU: status 3 on success, 1 on failure.
pub fn exit(success: bool) -> ! {
    use qemu_exit::QEMUExit;
    // SAFETY: the board's QEMU command line maps isa-debug-exit at 0xf4.
    let q = unsafe { qemu_exit::X86::new(0xf4, 3) };
    if success {
        q.exit_success()
    } else {
        q.exit_failure()
    }
}

#[no_mangle]
extern "C" fn kmain() -> ! {
    serial::init();
    // SAFETY: boot, once, on the boot CPU, interrupts off (since
    // `pvh_start`), before anything asks which CPU it runs on.
    let cpus = unsafe {
        cpu::init_idt();
        cpu::init_cpu(0);
        smp::init_boot_cpu()
    };
    // SAFETY: ring 0; defines R/W = 10 as I/O breakpoints (REG was built
    // with `with_io_breakpoints`), before anything is armed.
    unsafe { regs::enable_debugging_extensions() };
    // SAFETY: nothing reads the zones yet.
    unsafe {
        let z = &mut *ZONES.0.get();
        let (a, b) = cpu::DB_STACKS.range();
        z[0] = Zone::new(a, b);
        let (a, b) = cpu::DF_STACKS.range();
        z[1] = Zone::new(a, b);
        let (a, b) = cpu::entry_code();
        z[2] = Zone::new(a, b);
        let (a, b) = cpu::gdt_range();
        z[3] = Zone::new(a, b);
        let (a, b) = cpu::idt_range();
        z[4] = Zone::new(a, b);
        let (a, b) = cpu::tss_range();
        z[5] = Zone::new(a, b);
        z[6] = Zone::of(&DB_STATE);
    }
    let cpus = match cpus {
        Ok(n) => n,
        Err(why) => {
            let _ = writeln!(serial::Serial, "FATAL: SMP bring-up: {why}");
            exit(false)
        }
    };
    let _ = writeln!(
        serial::Serial,
        "hwbreak qemu-x86_64 board: microvm, PVH boot, {cpus} CPUs"
    );
    // The secondaries run `cpu_online` in their bring-up: the registry
    // must be initialised first.
    if REG.init().is_err() {
        let _ = writeln!(serial::Serial, "FATAL: registry init refused");
        exit(false)
    }
    if let Err(why) = smp::start_secondaries() {
        let _ = writeln!(serial::Serial, "FATAL: starting the secondaries: {why}");
        exit(false)
    }
    // The boot CPU answers cross-CPU calls from now on.
    // SAFETY: ring 0; the IDT and the APIC are set up, the 8259 masked:
    // the only interrupts are doorbells.
    unsafe { asm!("sti", options(nomem, nostack)) };

    #[cfg(feature = "gdb")]
    {
        // A GDB session instead of the checks: `cargo xtask gdb`.
        let ready = REG.cpu_online().is_ok();
        exit(ready && gdb::run())
    }
    #[cfg(not(feature = "gdb"))]
    run_checks(&QemuX86)
}

/// The smoke checks, then the scenario suite; exits with the verdict.
#[cfg(not(feature = "gdb"))]
fn run_checks(board: &QemuX86) -> ! {
    let mut summary = Summary::default();
    RAW_MODE.store(true, Ordering::SeqCst);
    summary.add(smoke::run(board));
    RAW_MODE.store(false, Ordering::SeqCst);
    // SAFETY: ring 0; hand the registry clean registers.
    unsafe { regs::clear_all() };

    summary.report(
        board,
        "x86_concurrent_cross_cpu_calls",
        Ok(smp::check_concurrent_calls()),
    );
    match REG.cpu_online() {
        Ok(()) => summary.add(hwbreak_suite::run_scenarios(&REG, board)),
        Err(_) => summary.report(board, "registry_init", Ok(Err("cpu_online refused"))),
    }
    // Every #DB of the run must have been explained by a slot armed in
    // DR7 (hits the registry dropped because their breakpoint was being
    // removed included).
    if UNEXPLAINED.load(Ordering::SeqCst) != 0 {
        summary.report(
            board,
            "no_spurious_debug_exceptions",
            Ok(Err("a #DB no armed slot explains")),
        );
    }
    #[cfg(feature = "defmt-log")]
    defmt_log::structured();
    summary.print(board);
    exit(summary.all_passed())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let _ = writeln!(serial::Serial, "\nPANIC: {info}");
    exit(false)
}
