//! hwbreak test kernel for QEMU `-M microvm` (x86_64).
//!
//! PVH boot into long mode (see `boot.rs`), COM1 console, a TSS whose IST1
//! stack takes #DB, and a #DB entry that saves every general register and
//! hands DR6 to the registry. Runs the backend smoke checks (raw register
//! programming, before the registry owns the registers), then the shared
//! suite through the registry, prints one summary line and exits through
//! `isa-debug-exit` (status 3 = every scenario passed).
#![no_std]
#![no_main]
// The `gdb` build runs a GDB session instead of the checks: the suite's
// board glue stays compiled (it is the same kernel) but goes unused.
#![cfg_attr(feature = "gdb", allow(dead_code))]

mod boot;
mod cpu;
#[cfg(feature = "defmt-log")]
mod defmt_log;
#[cfg(feature = "gdb")]
mod gdb;
mod serial;
#[cfg(not(feature = "gdb"))]
mod smoke;

use core::arch::asm;
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use hwbreak::native::{regs, Trap, X86};
use hwbreak::{CpuId, Platform, Registry, Zone};
#[cfg(not(feature = "gdb"))]
use hwbreak_suite::Summary;
use hwbreak_suite::{Board, Caps};

/// Registrations, CPUs, debug contexts.
type Reg = Registry<hwbreak::ArchImpl, BoardPlatform, 64, 1, 8>;

/// The backend with I/O breakpoints on.
// SAFETY: `kmain` sets CR4.DE on the only CPU before the registry's `init`.
const BACKEND: X86 = unsafe { X86::with_io_breakpoints() };

/// The registry. I/O breakpoints are on: `kmain` sets CR4.DE before
/// anything is registered.
static REG: Reg = Registry::new(BACKEND, BoardPlatform);

/// What the #DB path reads and writes besides the registry: a
/// no-breakpoint zone.
struct DbState {
    /// #DB goes to the smoke checks' raw handler instead of the registry.
    raw_mode: AtomicBool,
    /// Debug exceptions the registry called spurious.
    spurious: AtomicU32,
}
static DB_STATE: DbState = DbState {
    raw_mode: AtomicBool::new(false),
    spurious: AtomicU32::new(0),
};
static RAW_MODE: &AtomicBool = &DB_STATE.raw_mode;
static SPURIOUS: &AtomicU32 = &DB_STATE.spurious;

/// Ranges no breakpoint may touch, filled in once at boot.
struct Zones(UnsafeCell<[Zone; 7]>);
// SAFETY: written once in `kmain` before the registry is initialised, then
// only read.
unsafe impl Sync for Zones {}
static ZONES: Zones = Zones(UnsafeCell::new([Zone::new(0, 0); 7]));

/// The platform: one CPU, 47-bit user half, the exception machinery as
/// no-breakpoint zones.
pub struct BoardPlatform;

impl Platform for BoardPlatform {
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
        0x0000_8000_0000_0000
    }

    fn no_breakpoint_zones(&self) -> &[Zone] {
        // SAFETY: see `Zones`.
        unsafe { &*ZONES.0.get() }
    }
}

struct X86CriticalSection;
critical_section::set_impl!(X86CriticalSection);

// SAFETY: single CPU: disabling interrupts excludes every other context
// (exceptions never take the lock: dispatch is lock-free).
unsafe impl critical_section::Impl for X86CriticalSection {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        let flags: u64;
        // SAFETY: ring 0; saves RFLAGS then clears IF.
        unsafe { asm!("pushfq", "pop {}", "cli", out(reg) flags, options(preserves_flags)) };
        flags & (1 << 9) != 0
    }

    unsafe fn release(was_enabled: critical_section::RawRestoreState) {
        if was_enabled {
            // SAFETY: ring 0; restores IF as it was at acquire.
            unsafe { asm!("sti", options(nomem, nostack)) };
        }
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
        cpu::DB_STACK.range()
    }

    fn spurious_count(&self) -> u32 {
        SPURIOUS.load(Ordering::SeqCst)
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
    // SAFETY: boot, once, single CPU.
    unsafe { cpu::init() };
    // SAFETY: ring 0; defines R/W = 10 as I/O breakpoints (REG was built
    // with `with_io_breakpoints`), before anything is armed.
    unsafe { regs::enable_debugging_extensions() };
    // SAFETY: nothing reads the zones yet.
    unsafe {
        let z = &mut *ZONES.0.get();
        let (a, b) = cpu::DB_STACK.range();
        z[0] = Zone::new(a, b);
        let (a, b) = cpu::DF_STACK.range();
        z[1] = Zone::new(a, b);
        let (a, b) = cpu::entry_code();
        z[2] = Zone::new(a, b);
        let (a, b) = cpu::gdt_range();
        z[3] = Zone::new(a, b);
        let (a, b) = cpu::idt_range();
        z[4] = Zone::new(a, b);
        let tss = cpu::TSS.get() as u64;
        z[5] = Zone::new(tss, tss + core::mem::size_of::<cpu::Tss>() as u64);
        z[6] = Zone::of(&DB_STATE);
    }
    let _ = writeln!(
        serial::Serial,
        "hwbreak qemu-x86_64 board: microvm, PVH boot"
    );

    #[cfg(feature = "gdb")]
    {
        // A GDB session instead of the checks: `cargo xtask gdb`.
        let ready = REG.init().and_then(|()| REG.cpu_online()).is_ok();
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

    match REG.init().and_then(|()| REG.cpu_online()) {
        Ok(()) => summary.add(hwbreak_suite::run_scenarios(&REG, board)),
        Err(_) => summary.report(
            board,
            "registry_init",
            Ok(Err("init or cpu_online refused")),
        ),
    }
    // Every #DB of the run must have been explained by an armed slot.
    let spurious = SPURIOUS.load(Ordering::SeqCst);
    if spurious != 0 {
        summary.report(
            board,
            "no_spurious_debug_exceptions",
            Ok(Err("spurious #DB seen")),
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
