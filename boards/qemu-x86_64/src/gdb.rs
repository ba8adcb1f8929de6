//! A GDB stub on COM2 (feature `gdb`), for `cargo xtask gdb`.
//!
//! The kernel stops at boot (`int3`) for GDB to connect, runs the suite's
//! [`debuggee`](hwbreak_suite::gdb::debuggee), tells GDB it exited (a
//! second `int3`) and powers off. Between the two, every stop GDB sees
//! comes from the registry: GDB's `Z` packets go through
//! [`GdbBreakpoints`], and a #DB whose hit the adapter recorded is reported
//! as GDB's breakpoint or watchpoint.
//!
//! Nesting: the #DB and #BP entries clear DR7 before any Rust code runs,
//! but a `Z` packet served here arms DR7 again at once (the registry loads
//! the CPU on every update), so every memory access the stub makes for GDB
//! runs with DR7 cleared and restored around it ([`with_dr7_off`]). On the
//! way out [`Registry::reload_cpu`](hwbreak::Registry::reload_cpu) writes
//! the control word the registry holds.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use gdbstub::common::Signal;
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::SingleThreadStopReason;
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpointOps, HwWatchpointOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::reg::X86_64CoreRegs;
use gdbstub_arch::x86::X86_64_SSE;
use hwbreak::gdb::{GdbBreakpoints, StopLatch};
use hwbreak::native::regs;
use hwbreak_suite::gdb::{Served, Session};

use crate::cpu::Frame;
use crate::serial::{inb, init_uart, outb};

/// COM2: the 16550 QEMU gives `-device isa-serial,iobase=0x2f8`.
const COM2: u16 = 0x2f8;
/// Line status: data ready, transmitter empty.
const LSR_DR: u8 = 0x01;
const LSR_THRE: u8 = 0x20;
/// RFLAGS.TF: trap after the next instruction.
const RFLAGS_TF: u64 = 1 << 8;
/// The RAM QEMU gives the board (`-m 128M`); the boot tables map it 1:1.
/// GDB may probe any address; outside this range it gets an error, never a
/// page fault in the stub.
const RAM: core::ops::Range<u64> = 0x1000..128 << 20;
/// DR7 with every slot disabled (bit 10 reads as 1).
const DR7_OFF: u64 = 0x400;
/// EFAULT, as GDB's `E` replies number it.
const EFAULT: u8 = 14;
/// What the debuggee returns when nobody changed its variables.
const DEBUGGEE_RESULT: u64 = 16 + 7 + 11;

/// COM2 as gdbstub's wire, with the one byte of look-ahead `peek` needs
/// (a 16550 cannot show a byte without consuming it).
pub struct Com2 {
    ahead: Option<u8>,
}

impl Com2 {
    fn open() -> Self {
        init_uart(COM2);
        Self { ahead: None }
    }

    fn ready() -> bool {
        // SAFETY: COM2 line status register; reading it has no side effect
        // on the data.
        unsafe { inb(COM2 + 5) & LSR_DR != 0 }
    }

    fn take() -> u8 {
        // SAFETY: COM2 receive buffer, read only when data is ready.
        unsafe { inb(COM2) }
    }
}

impl Connection for Com2 {
    type Error = ();

    fn write(&mut self, byte: u8) -> Result<(), ()> {
        // SAFETY: COM2 line status and transmit registers.
        unsafe {
            while inb(COM2 + 5) & LSR_THRE == 0 {
                core::hint::spin_loop();
            }
            outb(COM2, byte);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ()> {
        Ok(())
    }
}

impl ConnectionExt for Com2 {
    fn read(&mut self) -> Result<u8, ()> {
        if let Some(b) = self.ahead.take() {
            return Ok(b);
        }
        // GDB drives the session: the CPU has nothing else to do while
        // stopped, so it waits for the next byte.
        while !Self::ready() {
            core::hint::spin_loop();
        }
        Ok(Self::take())
    }

    fn peek(&mut self) -> Result<Option<u8>, ()> {
        if self.ahead.is_none() && Self::ready() {
            self.ahead = Some(Self::take());
        }
        Ok(self.ahead)
    }
}

type Adapter = GdbBreakpoints<
    'static,
    hwbreak::ArchImpl,
    crate::BoardPlatform,
    64,
    { crate::smp::MAX_CPUS },
    8,
>;

/// The kernel as GDB sees it: the interrupted context of the current stop
/// and GDB's breakpoints.
pub struct Kernel {
    /// The saved frame of the stop being served (null between stops).
    frame: *mut Frame,
    /// GDB asked for a single step.
    step: bool,
    hw: Adapter,
}

impl Kernel {
    fn frame(&mut self) -> &mut Frame {
        // SAFETY: `serve` sets `frame` to the live exception frame for the
        // whole session call and clears it after; gdbstub calls the target
        // only inside that call.
        unsafe { &mut *self.frame }
    }
}

/// Runs `f` with every slot disabled, then puts DR7 back as it was.
fn with_dr7_off<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: ring 0, inside the #DB/#BP handler of the only CPU; the value
    // read is written back unchanged.
    let saved = unsafe { regs::read_dr7() };
    // SAFETY: as above; disabling every slot has no other effect.
    unsafe { regs::write_dr7(DR7_OFF) };
    let r = f();
    // SAFETY: as above.
    unsafe { regs::write_dr7(saved) };
    r
}

/// The frame's general registers in the order of GDB's x86-64 register
/// file (`X86_64CoreRegs::regs`): one list for reads and writes.
fn general_registers(f: &mut Frame) -> [&mut u64; 16] {
    [
        &mut f.rax, &mut f.rbx, &mut f.rcx, &mut f.rdx, &mut f.rsi, &mut f.rdi, &mut f.rbp,
        &mut f.rsp, &mut f.r8, &mut f.r9, &mut f.r10, &mut f.r11, &mut f.r12, &mut f.r13,
        &mut f.r14, &mut f.r15,
    ]
}

/// Whether `[start, start + len)` is RAM the stub may touch.
fn in_ram(start: u64, len: usize) -> bool {
    start >= RAM.start
        && start
            .checked_add(len as u64)
            .is_some_and(|end| end <= RAM.end)
}

impl Target for Kernel {
    type Arch = X86_64_SSE;
    type Error = ();

    fn base_ops(&mut self) -> BaseOps<'_, X86_64_SSE, ()> {
        BaseOps::SingleThread(self)
    }

    // Only hardware breakpoints: GDB's `break` would patch the kernel's
    // text, which is not what this board demonstrates.
    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadBase for Kernel {
    fn read_registers(&mut self, r: &mut X86_64CoreRegs) -> TargetResult<(), Self> {
        let f = self.frame();
        r.regs = general_registers(f).map(|v| *v);
        r.rip = f.rip;
        r.eflags = f.rflags as u32;
        r.segments.cs = f.cs as u32;
        r.segments.ss = f.ss as u32;
        Ok(())
    }

    fn write_registers(&mut self, r: &X86_64CoreRegs) -> TargetResult<(), Self> {
        let f = self.frame();
        for (saved, value) in general_registers(f).into_iter().zip(r.regs) {
            *saved = value;
        }
        f.rip = r.rip;
        // The upper half of RFLAGS is reserved (zero).
        f.rflags = u64::from(r.eflags);
        Ok(())
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        if !in_ram(start, data.len()) {
            return Err(TargetError::Errno(EFAULT));
        }
        with_dr7_off(|| {
            for (i, b) in data.iter_mut().enumerate() {
                // SAFETY: inside the RAM the boot tables map 1:1; volatile,
                // so the compiler cannot assume anything about it.
                *b = unsafe { ((start + i as u64) as *const u8).read_volatile() };
            }
        });
        Ok(data.len())
    }

    fn write_addrs(&mut self, start: u64, data: &[u8]) -> TargetResult<(), Self> {
        if !in_ram(start, data.len()) {
            return Err(TargetError::Errno(EFAULT));
        }
        with_dr7_off(|| {
            for (i, b) in data.iter().enumerate() {
                // SAFETY: as in `read_addrs`; GDB asked for this write.
                unsafe { ((start + i as u64) as *mut u8).write_volatile(*b) };
            }
        });
        Ok(())
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for Kernel {
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), ()> {
        self.step = false;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadSingleStep for Kernel {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), ()> {
        self.step = true;
        Ok(())
    }
}

impl Breakpoints for Kernel {
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

hwbreak::gdb_hw_extensions!(Kernel => hw);

/// The target and the session: touched only by the #DB/#BP handlers of
/// the one CPU, which never nest (see the module documentation).
struct Stub(UnsafeCell<Kernel>);
// SAFETY: see above.
unsafe impl Sync for Stub {}

static LATCH: StopLatch<{ crate::smp::MAX_CPUS }> = StopLatch::new();
static STUB: Stub = Stub(UnsafeCell::new(Kernel {
    frame: core::ptr::null_mut(),
    step: false,
    hw: GdbBreakpoints::new(&crate::REG, &LATCH),
}));
static SESSION: Session<Kernel, Com2> = Session::new();
/// The next `int3` is the exit stop.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Serves GDB at a stop described by `frame`, then prepares the return.
fn serve(frame: &mut Frame, stop: SingleThreadStopReason<u64>) {
    // SAFETY: only the #DB/#BP handlers call this, never nested.
    let kernel = unsafe { &mut *STUB.0.get() };
    kernel.frame = frame;
    // SAFETY: as above; `kernel` describes the interrupted context.
    let served = unsafe { SESSION.serve(kernel, stop, Com2::open) };
    if served == Served::Detached {
        // GDB is gone: nothing of its may stay armed or stepping.
        kernel.step = false;
        kernel.hw.clear();
    }
    kernel.frame = core::ptr::null_mut();
    frame.rflags = (frame.rflags & !RFLAGS_TF) | if kernel.step { RFLAGS_TF } else { 0 };
    crate::REG.reload_cpu();
}

/// #BP: the boot stop (SIGTRAP) or the exit stop.
pub fn on_breakpoint(frame: &mut Frame) {
    let stop = if EXITING.load(Ordering::Relaxed) {
        SingleThreadStopReason::Exited(0)
    } else {
        SingleThreadStopReason::Signal(Signal::SIGTRAP)
    };
    serve(frame, stop);
}

/// #DB, after the registry handled it: a hit of GDB's breakpoints, or the
/// end of a step GDB asked for, stops for GDB.
pub fn on_debug(frame: &mut Frame, single_step: bool) {
    // SAFETY: only the #DB handler calls this, never nested; the reference
    // ends before `serve` takes its own.
    let (hit, stepping) = unsafe {
        let kernel = &*STUB.0.get();
        (kernel.hw.take_stop(), kernel.step)
    };
    if let Some(stop) = hwbreak_suite::gdb::stop_after_debug_exception(hit, stepping, single_step) {
        serve(frame, stop);
    }
}

/// The session: boot stop, the debuggee, exit stop. Whether the debuggee
/// computed what it should (what GDB saw, `cargo xtask gdb` checks in GDB's
/// own transcript).
pub fn run() -> bool {
    let mut console = crate::serial::Serial;
    let _ = writeln!(console, "gdb: waiting for GDB on COM2");
    // SAFETY: the #BP gate is installed; the handler returns to the next
    // instruction.
    unsafe { asm!("int3", options(nomem, nostack)) };
    let result = hwbreak_suite::gdb::debuggee();
    EXITING.store(true, Ordering::Relaxed);
    // SAFETY: as above.
    unsafe { asm!("int3", options(nomem, nostack)) };
    let _ = writeln!(
        console,
        "gdb: debuggee returned {result} (expected {DEBUGGEE_RESULT}); session over"
    );
    result == DEBUGGEE_RESULT
}
