//! An x86_64 kernel written the way the Rust OS ecosystem writes them, using
//! hwbreak for its hardware breakpoints:
//!
//! - boot: PVH (`src/boot.rs`), so QEMU's `-kernel` loads the ELF directly;
//! - the `x86_64` crate for the GDT, TSS and IDT, with an
//!   `extern "x86-interrupt"` #DB handler on its own IST stack;
//! - `uart_16550` for the serial console (COM1);
//! - `spin::LazyLock` for the tables built at first use;
//! - `critical-section` implemented by masking interrupts (one CPU).
//!
//! It watches a static for writes and checks that its handler ran, then
//! puts an execute breakpoint on a function and checks that each call traps
//! once and still runs (the return sets RFLAGS.RF in the `x86_64` crate's
//! `InterruptStackFrame`). It prints one line per check and
//! `N passed, M failed, 0 skipped`, then leaves QEMU through
//! `isa-debug-exit` (status 33 when every check passed, 35 otherwise).
#![no_std]
#![no_main]
#![feature(abi_x86_interrupt)]

mod boot;

use core::fmt::Write;
use core::hint::black_box;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use hwbreak::native::{X86, frame};
use hwbreak::{CpuId, ErrorKind, Event, EventKind, Platform, Registry, Request, Zone};
use spin::LazyLock;
use uart_16550::backend::PioBackend;
use uart_16550::{Config, Uart16550Tty};
use x86_64::VirtAddr;
use x86_64::instructions::interrupts;
use x86_64::instructions::port::Port;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};
use x86_64::structures::tss::TaskStateSegment;

type Serial = Uart16550Tty<PioBackend>;

// ---------------------------------------------------------------------------
// hwbreak: the platform and the registry
// ---------------------------------------------------------------------------

/// What the registry needs from this kernel: one CPU, no user space yet.
struct Kernel;

impl Platform for Kernel {
    fn cpu_count(&self) -> u32 {
        1
    }
    fn current_cpu(&self) -> CpuId {
        CpuId(0)
    }
    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        // One CPU: run it here, with interrupts masked as on every CPU of
        // a multiprocessor kernel's cross-call.
        interrupts::without_interrupts(f)
    }
    fn user_limit(&self) -> u64 {
        0x0000_8000_0000_0000
    }
    fn no_breakpoint_zones(&self) -> &[Zone] {
        &*NO_BREAKPOINT_ZONES
    }
}

/// Up to 16 breakpoints, 1 CPU, 4 debug contexts, and the four slots
/// DR0-DR3 (`SLOTS`: the per-slot tables hold four, not the core's 16).
static HWBP: Registry<X86, Kernel, 16, 1, 4, { hwbreak::native::SLOTS }> =
    Registry::new(X86::new(), Kernel);

/// The registry's lock is a `critical_section`: with one CPU, masking
/// interrupts is the whole of it.
struct InterruptsMasked;
critical_section::set_impl!(InterruptsMasked);

// SAFETY: with one CPU, no other code runs while interrupts are masked;
// `release` restores exactly the state its `acquire` found, so nested
// sections unmask only when the outermost one ends.
unsafe impl critical_section::Impl for InterruptsMasked {
    unsafe fn acquire() -> bool {
        let were_enabled = interrupts::are_enabled();
        interrupts::disable();
        were_enabled
    }

    unsafe fn release(were_enabled: bool) {
        if were_enabled {
            interrupts::enable();
        }
    }
}

// ---------------------------------------------------------------------------
// Descriptor tables (the x86_64 crate)
// ---------------------------------------------------------------------------

/// IST slot of the #DB handler: a watch hit while the kernel stack is in
/// doubt still lands on a good stack.
const DEBUG_IST: u16 = 0;
const DEBUG_STACK_SIZE: usize = 16 * 1024;

/// Only the processor uses it, through the TSS.
#[repr(C, align(16))]
struct Stack {
    _bytes: [u8; DEBUG_STACK_SIZE],
}

static mut DEBUG_STACK: Stack = Stack {
    _bytes: [0; DEBUG_STACK_SIZE],
};

fn debug_stack() -> (u64, u64) {
    let start = (&raw const DEBUG_STACK) as u64;
    (start, start + DEBUG_STACK_SIZE as u64)
}

static TSS: LazyLock<TaskStateSegment> = LazyLock::new(|| {
    let mut tss = TaskStateSegment::new();
    tss.interrupt_stack_table[usize::from(DEBUG_IST)] = VirtAddr::new(debug_stack().1);
    tss
});

struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

static GDT: LazyLock<(GlobalDescriptorTable, Selectors)> = LazyLock::new(|| {
    let mut gdt = GlobalDescriptorTable::new();
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    let tss = gdt.append(Descriptor::tss_segment(&TSS));
    (gdt, Selectors { code, data, tss })
});

static IDT: LazyLock<InterruptDescriptorTable> = LazyLock::new(|| {
    let mut idt = InterruptDescriptorTable::new();
    let debug = idt.debug.set_handler_fn(debug_handler);
    // SAFETY: IST slot DEBUG_IST of the TSS loaded by `init_cpu` holds the
    // top of DEBUG_STACK, used by nothing else.
    unsafe { debug.set_stack_index(DEBUG_IST) };
    idt.breakpoint.set_handler_fn(breakpoint_handler);
    idt.general_protection_fault.set_handler_fn(gp_handler);
    idt.page_fault.set_handler_fn(page_fault_handler);
    idt.double_fault.set_handler_fn(double_fault_handler);
    idt
});

/// The #DB stack and the descriptor tables: a watch there would trap inside
/// exception entry.
static NO_BREAKPOINT_ZONES: LazyLock<[Zone; 4]> = LazyLock::new(|| {
    let (start, end) = debug_stack();
    [
        Zone::new(start, end),
        Zone::of(&*TSS),
        Zone::of(&GDT.0),
        Zone::of(&*IDT),
    ]
});

/// Loads the GDT (kernel code and data, the TSS with the #DB stack) and the
/// IDT.
fn init_cpu() {
    let (gdt, selectors) = &*GDT;
    gdt.load();
    // SAFETY: the selectors of the GDT just loaded: a 64-bit code segment,
    // a data segment and an available TSS.
    unsafe {
        CS::set_reg(selectors.code);
        DS::set_reg(selectors.data);
        ES::set_reg(selectors.data);
        SS::set_reg(selectors.data);
        load_tss(selectors.tss);
    }
    IDT.load();
}

/// The #DB entry: the whole hwbreak side is one call.
extern "x86-interrupt" fn debug_handler(mut stack_frame: InterruptStackFrame) {
    // SAFETY: the IDT's #DB entry, at ring 0; nothing has touched DR6
    // since the exception.
    unsafe { frame::on_debug_exception(&HWBP, &mut stack_frame) };
}

extern "x86-interrupt" fn breakpoint_handler(stack_frame: InterruptStackFrame) {
    panic!("unexpected #BP at {:#x}", stack_frame.instruction_pointer);
}

extern "x86-interrupt" fn gp_handler(stack_frame: InterruptStackFrame, code: u64) {
    panic!(
        "#GP (error code {code:#x}) at {:#x}",
        stack_frame.instruction_pointer
    );
}

extern "x86-interrupt" fn page_fault_handler(
    stack_frame: InterruptStackFrame,
    code: PageFaultErrorCode,
) {
    panic!("#PF ({code:?}) at {:#x}", stack_frame.instruction_pointer);
}

extern "x86-interrupt" fn double_fault_handler(stack_frame: InterruptStackFrame, _: u64) -> ! {
    panic!("#DF at {:#x}", stack_frame.instruction_pointer);
}

// ---------------------------------------------------------------------------
// What it watches
// ---------------------------------------------------------------------------

/// The watched static.
static WATCHED: AtomicU64 = AtomicU64::new(0);
/// Hits the watch handler saw, and the context word it was given.
static WATCH_HITS: AtomicU32 = AtomicU32::new(0);
static WATCH_CONTEXT: AtomicUsize = AtomicUsize::new(0);

fn on_watch(event: &Event) {
    if event.kind == EventKind::Hit {
        WATCH_HITS.fetch_add(1, Ordering::Relaxed);
        WATCH_CONTEXT.store(event.context, Ordering::Relaxed);
    }
}

/// Calls of the traced function, and the execute breakpoint's hits with the
/// address the registry reported.
static TRACED_CALLS: AtomicU32 = AtomicU32::new(0);
static EXEC_HITS: AtomicU32 = AtomicU32::new(0);
static EXEC_ADDRESS: AtomicU64 = AtomicU64::new(0);

fn on_exec(event: &Event) {
    if event.kind == EventKind::Hit {
        EXEC_HITS.fetch_add(1, Ordering::Relaxed);
        EXEC_ADDRESS.store(event.address.unwrap_or(0), Ordering::Relaxed);
    }
}

#[inline(never)]
fn traced(x: u64) -> u64 {
    TRACED_CALLS.fetch_add(1, Ordering::Relaxed);
    black_box(x) + 1
}

// ---------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------

struct Checks<'a> {
    serial: &'a mut Serial,
    passed: u32,
    failed: u32,
}

impl Checks<'_> {
    /// Prints what was seen, then the verdict in the boards' format
    /// (`test <name> ... ok` or `... FAILED`).
    fn check(&mut self, name: &str, ok: bool, seen: core::fmt::Arguments) {
        let _ = writeln!(self.serial, "example: {seen}");
        if ok {
            self.passed += 1;
            let _ = writeln!(self.serial, "test {name} ... ok");
        } else {
            self.failed += 1;
            let _ = writeln!(self.serial, "test {name} ... FAILED");
        }
    }
}

fn watch_a_static(c: &mut Checks) -> hwbreak::Result<()> {
    let addr = WATCHED.as_ptr() as u64;
    let h = HWBP.register(&Request::write(addr, 8).handler(on_watch, 7))?;
    WATCHED.store(1, Ordering::Relaxed);
    let hits = WATCH_HITS.load(Ordering::Relaxed);
    let context = WATCH_CONTEXT.load(Ordering::Relaxed);
    c.check(
        "example_watch_write_runs_handler",
        hits == 1 && context == 7,
        format_args!("store to {addr:#x}: {hits} hit(s), context {context}"),
    );
    let value = black_box(WATCHED.load(Ordering::Relaxed));
    let hits = WATCH_HITS.load(Ordering::Relaxed);
    c.check(
        "example_watch_ignores_reads",
        hits == 1 && value == 1,
        format_args!("load of {value}: {hits} hit(s) in all"),
    );
    HWBP.unregister(h)?;
    WATCHED.store(2, Ordering::Relaxed);
    let hits = WATCH_HITS.load(Ordering::Relaxed);
    c.check(
        "example_unregistered_watch_is_gone",
        hits == 1,
        format_args!("store after unregister: {hits} hit(s) in all"),
    );
    Ok(())
}

fn break_on_a_function(c: &mut Checks) -> hwbreak::Result<()> {
    let f: fn(u64) -> u64 = traced;
    let addr = f as usize as u64;
    let h = HWBP.register(&Request::execute(addr).handler(on_exec, 0))?;
    // Each call faults before its first instruction; the return sets RF, so
    // the instruction runs instead of faulting again forever.
    let mut sum = 0;
    for i in 0..3 {
        sum += black_box(f)(i);
    }
    HWBP.unregister(h)?;
    let calls = TRACED_CALLS.load(Ordering::Relaxed);
    let hits = EXEC_HITS.load(Ordering::Relaxed);
    let at = EXEC_ADDRESS.load(Ordering::Relaxed);
    c.check(
        "example_execute_breakpoint_resumes_with_rf",
        calls == 3 && hits == 3 && at == addr && sum == 6,
        format_args!("{calls} call(s), {hits} hit(s) at {at:#x}, function at {addr:#x}"),
    );
    black_box(f)(3);
    let hits = EXEC_HITS.load(Ordering::Relaxed);
    c.check(
        "example_unregistered_breakpoint_is_gone",
        hits == 3,
        format_args!("call after unregister: {hits} hit(s) in all"),
    );
    Ok(())
}

fn refusals(c: &mut Checks) {
    // x86 has no read-only watch: refused, never widened to read-write.
    let read = HWBP.register(&Request::read(WATCHED.as_ptr() as u64, 8));
    let kind = read.map(|_| ()).map_err(|e| e.kind());
    c.check(
        "example_read_only_watch_refused",
        kind == Err(ErrorKind::UnsupportedKind),
        format_args!("{kind:?}"),
    );
    let stack = debug_stack().0;
    let zone = HWBP
        .register(&Request::write(stack, 8))
        .map(|_| ())
        .map_err(|e| e.kind());
    c.check(
        "example_debug_stack_refused",
        zone == Err(ErrorKind::NoBreakpointZone),
        format_args!("{zone:?}"),
    );
}

// ---------------------------------------------------------------------------
// Entry, exit, panic
// ---------------------------------------------------------------------------

/// Called by the boot stub in long mode, on the boot stack.
#[unsafe(no_mangle)]
extern "C" fn kernel_main() -> ! {
    // SAFETY: COM1's eight ports belong to this driver from here on.
    let mut serial = unsafe { Serial::new_port(0x3f8, Config::default()) }
        .unwrap_or_else(|_| exit(ExitCode::Failed));
    let _ = writeln!(
        serial,
        "hwbreak example kernel: x86_64 crate IDT, uart_16550, PVH"
    );
    init_cpu();

    let mut c = Checks {
        serial: &mut serial,
        passed: 0,
        failed: 0,
    };
    let setup = HWBP.init().and_then(|()| HWBP.cpu_online());
    c.check(
        "example_registry_up",
        setup.is_ok(),
        format_args!("{setup:?}"),
    );
    if setup.is_ok() {
        if let Err(e) = watch_a_static(&mut c) {
            c.check(
                "example_watch_write_runs_handler",
                false,
                format_args!("{e:?}"),
            );
        }
        if let Err(e) = break_on_a_function(&mut c) {
            c.check(
                "example_execute_breakpoint_resumes_with_rf",
                false,
                format_args!("{e:?}"),
            );
        }
        refusals(&mut c);
    }
    let (passed, failed) = (c.passed, c.failed);
    let _ = writeln!(serial, "{passed} passed, {failed} failed, 0 skipped");
    exit(if failed == 0 && passed > 0 {
        ExitCode::Passed
    } else {
        ExitCode::Failed
    })
}

#[derive(Clone, Copy)]
#[repr(u32)]
enum ExitCode {
    /// QEMU exits with status 33.
    Passed = 0x10,
    /// QEMU exits with status 35.
    Failed = 0x11,
}

/// Leaves QEMU through its `isa-debug-exit` device (port 0xf4).
fn exit(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is QEMU's isa-debug-exit; writing it ends the VM.
    unsafe { Port::new(0xf4).write(code as u32) };
    loop {
        x86_64::instructions::hlt();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // SAFETY: the kernel is stopping; taking COM1 over again is harmless.
    if let Ok(mut serial) = unsafe { Serial::new_port(0x3f8, Config::default()) } {
        let _ = writeln!(serial, "panic: {info}");
    }
    exit(ExitCode::Failed)
}
