//! A GDB stub on COM2 (feature `gdb`), for `cargo xtask gdb`.
//!
//! The kernel stops at boot (`int3` on the boot CPU) for GDB to connect,
//! runs the suite's [`debuggee`](hwbreak_suite::gdb::debuggee) on CPU 1,
//! tells GDB it exited (a second `int3`, on the boot CPU) and powers off.
//! Between the two, every stop GDB sees comes from the registry: GDB's `Z`
//! packets go through [`GdbBreakpoints`], and a #DB whose hit the adapter
//! recorded is reported as GDB's breakpoint or watchpoint.
//!
//! Threads: every online CPU is one (thread id = CPU number + 1, listed in
//! `qfThreadInfo`). A CPU that stops for GDB first stops the others (the
//! board's round-up, `smp::stop_others`), serves GDB with the world
//! stopped and releases them when GDB resumes. A debug exception while the
//! session is active takes the round-up before it looks at GDB's stop
//! latch, so one CPU at a time touches the stub, and two CPUs hitting
//! GDB's breakpoints at once are reported one after the other. A stopped
//! CPU's registers are those of the exception or doorbell it is in
//! (`smp::FRAMES`); one stopped outside any (in a wait loop of the
//! kernel's own code) has none, and GDB gets an error for them. GDB's
//! breakpoint changes go through the registry's normal path, whose
//! cross-CPU calls the stopped CPUs answer. Only the CPU serving GDB can
//! be single-stepped (RFLAGS.TF in its frame); GDB steps over an execute
//! breakpoint with the other threads held (scheduler locking): the stub
//! then keeps the round-up across the step.
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
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gdbstub::common::{Signal, Tid};
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::target::ext::base::multithread::{MultiThreadBase, MultiThreadResumeOps};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpointOps, HwWatchpointOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::reg::X86_64CoreRegs;
use gdbstub_arch::x86::X86_64_SSE;
use hwbreak::gdb::{GdbBreakpoints, StopLatch};
use hwbreak::native::regs;
use hwbreak_suite::gdb::{cpu_of, on_thread, tid_of, ResumePlan, Served, Session};

use crate::cpu::Frame;
use crate::serial::{inb, init_uart, outb};
use crate::smp::{self, MAX_CPUS};

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
    { MAX_CPUS },
    8,
    { hwbreak::gdb::DEFAULT_CAPACITY },
    { hwbreak::native::SLOTS },
>;

/// The kernel as GDB sees it: one thread per CPU, each with the registers
/// of the exception or doorbell it is in, and GDB's breakpoints.
pub struct Kernel {
    /// The serving CPU and GDB's resume request (with scheduler locking
    /// the round-up outlives the stop).
    plan: ResumePlan<{ MAX_CPUS }>,
    hw: Adapter,
}

impl Kernel {
    /// The saved frame of the CPU behind `tid`; `NonFatal` (GDB shows an
    /// error) for a CPU in no exception.
    fn frame(&mut self, tid: Tid) -> TargetResult<&mut Frame, Self> {
        let cpu = cpu_of(tid, MAX_CPUS).ok_or(TargetError::NonFatal)?;
        let frame = smp::FRAMES[cpu].load(Ordering::Acquire);
        if frame.is_null() || !smp::is_online(cpu) {
            return Err(TargetError::NonFatal);
        }
        // SAFETY: the stub runs with every other CPU stopped inside the
        // exception or doorbell whose frame it published, which it returns
        // from only after the round-up ends; the serving CPU's frame is its
        // own handler's, which the handler leaves alone while the stub runs.
        Ok(unsafe { &mut *frame })
    }
}

/// Runs `f` with every slot disabled, then puts DR7 back as it was.
fn with_dr7_off<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: ring 0, inside the #DB/#BP handler of the CPU serving GDB;
    // the value read is written back unchanged.
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
        BaseOps::MultiThread(self)
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

impl MultiThreadBase for Kernel {
    fn read_registers(&mut self, r: &mut X86_64CoreRegs, tid: Tid) -> TargetResult<(), Self> {
        let f = self.frame(tid)?;
        r.regs = general_registers(f).map(|v| *v);
        r.rip = f.rip;
        r.eflags = f.rflags as u32;
        r.segments.cs = f.cs as u32;
        r.segments.ss = f.ss as u32;
        Ok(())
    }

    fn write_registers(&mut self, r: &X86_64CoreRegs, tid: Tid) -> TargetResult<(), Self> {
        let f = self.frame(tid)?;
        for (saved, value) in general_registers(f).into_iter().zip(r.regs) {
            *saved = value;
        }
        f.rip = r.rip;
        // The upper half of RFLAGS is reserved (zero).
        f.rflags = u64::from(r.eflags);
        Ok(())
    }

    /// Memory is the same for every thread (one identity map).
    fn read_addrs(&mut self, start: u64, data: &mut [u8], _tid: Tid) -> TargetResult<usize, Self> {
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

    fn write_addrs(&mut self, start: u64, data: &[u8], _tid: Tid) -> TargetResult<(), Self> {
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

    fn list_active_threads(&mut self, thread_is_active: &mut dyn FnMut(Tid)) -> Result<(), ()> {
        for cpu in (0..MAX_CPUS).filter(|&c| smp::is_online(c)) {
            thread_is_active(tid_of(cpu));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

// Only the CPU serving GDB can be stepped: its frame's TF is the one the
// stub sets on the way out.
hwbreak_suite::gdb_resume_extensions!(Kernel => plan);

impl Breakpoints for Kernel {
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

hwbreak::gdb_hw_extensions!(Kernel => hw);

/// The target and the session: touched only by the CPU holding the
/// round-up, in its #DB/#BP handler, which does not nest (see the module
/// documentation); every other CPU is stopped or waits for the round-up.
struct Stub(UnsafeCell<Kernel>);
// SAFETY: see above.
unsafe impl Sync for Stub {}

static LATCH: StopLatch<{ MAX_CPUS }> = StopLatch::new();
static STUB: Stub = Stub(UnsafeCell::new(Kernel {
    plan: ResumePlan::new(),
    hw: GdbBreakpoints::new(&crate::REG, &LATCH),
}));
static SESSION: Session<Kernel, Com2> = Session::new();
/// Between the boot stop and the end of the session: debug exceptions go
/// through the stub.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The next `int3` is the exit stop.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Takes the round-up for this CPU (unless it kept it across a locked
/// resume): every other CPU stops, and the target is this CPU's until
/// [`release`].
fn round_up() -> &'static mut Kernel {
    let me = smp::current_cpu();
    if !smp::stopped_by(me) {
        smp::stop_others();
    }
    // SAFETY: see `Stub`: this CPU holds the round-up, and every caller
    // drops the reference before releasing it.
    let kernel = unsafe { &mut *STUB.0.get() };
    kernel.plan.serve_on(me);
    kernel
}

/// Lets the other CPUs run on (each reloads its breakpoints first), unless
/// GDB's last resume locked them.
fn release(kernel: &Kernel) {
    if !kernel.plan.locked() {
        smp::resume_others();
    }
}

/// Serves GDB at a stop described by `frame` (the round-up is held), then
/// prepares the return.
fn serve(kernel: &mut Kernel, frame: &mut Frame, stop: MultiThreadStopReason<u64>) {
    let me = kernel.plan.serving();
    kernel.plan.stop_reported();
    // SAFETY: only the CPU holding the round-up calls this, from its
    // non-nesting #DB/#BP handler; `kernel` describes the stopped CPUs.
    let served = unsafe { SESSION.serve(kernel, stop, Com2::open) };
    if served == Served::Detached {
        // GDB is gone: nothing of its may stay armed or stepping (the
        // stopped CPUs answer the registry's calls).
        ACTIVE.store(false, Ordering::SeqCst);
        kernel.plan.end();
        kernel.hw.clear();
    }
    let step = kernel.plan.stepping(me);
    frame.rflags = (frame.rflags & !RFLAGS_TF) | if step { RFLAGS_TF } else { 0 };
    crate::REG.reload_cpu();
}

/// Runs `body` with `frame` published as this CPU's (for GDB's register
/// reads of the CPU).
fn with_frame(frame: &mut Frame, body: impl FnOnce(&mut Frame)) {
    let me = smp::current_cpu();
    let outer = smp::FRAMES[me].swap(frame, Ordering::AcqRel);
    body(frame);
    smp::FRAMES[me].store(outer, Ordering::Release);
}

/// #BP: the boot stop (SIGTRAP) or the exit stop.
pub fn on_breakpoint(frame: &mut Frame) {
    with_frame(frame, |frame| {
        let exiting = EXITING.load(Ordering::Relaxed);
        if !exiting {
            ACTIVE.store(true, Ordering::SeqCst);
        }
        let kernel = round_up();
        let stop = if exiting {
            MultiThreadStopReason::Exited(0)
        } else {
            MultiThreadStopReason::SignalWithThread {
                tid: tid_of(kernel.plan.serving()),
                signal: Signal::SIGTRAP,
            }
        };
        serve(kernel, frame, stop);
        release(kernel);
    });
}

/// #DB, after the registry handled it: a hit of GDB's breakpoints, or the
/// end of a step GDB asked for, stops for GDB.
pub fn on_debug(frame: &mut Frame, single_step: bool) {
    if !ACTIVE.load(Ordering::SeqCst) {
        return;
    }
    with_frame(frame, |frame| {
        // Before the latch: the stub's tables are the round-up owner's.
        let kernel = round_up();
        let me = kernel.plan.serving();
        let stepping = kernel.plan.stepping(me);
        let hit = kernel.hw.take_stop();
        // Not GDB's (None): no stop; a step GDB asked for goes on.
        if let Some(stop) =
            hwbreak_suite::gdb::stop_after_debug_exception(hit, stepping, single_step)
        {
            serve(kernel, frame, on_thread(stop, me));
        }
        release(kernel);
    });
}

/// The debuggee's result, from CPU 1 (0 until it returned).
static RESULT: AtomicU64 = AtomicU64::new(0);

/// CPU 1's work: the debuggee, whose stops are then another thread's than
/// the boot stop's.
fn debuggee_on_cpu(_: usize) {
    RESULT.store(hwbreak_suite::gdb::debuggee(), Ordering::SeqCst);
}

/// The CPU the debuggee runs on.
const DEBUGGEE_CPU: u32 = 1;

/// The session: boot stop, the debuggee on CPU 1, exit stop. Whether the
/// debuggee computed what it should (what GDB saw, `cargo xtask gdb`
/// checks in GDB's own transcript).
pub fn run() -> bool {
    let mut console = crate::serial::Serial;
    let _ = writeln!(console, "gdb: waiting for GDB on COM2");
    // SAFETY: the #BP gate is installed; the handler returns to the next
    // instruction.
    unsafe { asm!("int3", options(nomem, nostack)) };
    if smp::spawn(DEBUGGEE_CPU, debuggee_on_cpu, 0).is_err() {
        let _ = writeln!(console, "gdb: CPU {DEBUGGEE_CPU} cannot run the debuggee");
        return false;
    }
    // Halts between checks (the round-ups of CPU 1's stops stop it in the
    // doorbell's frame) rather than spinning beside the vCPU it waits for.
    smp::wait_until_idle(DEBUGGEE_CPU);
    let result = RESULT.load(Ordering::SeqCst);
    EXITING.store(true, Ordering::Relaxed);
    // SAFETY: as above.
    unsafe { asm!("int3", options(nomem, nostack)) };
    let _ = writeln!(
        console,
        "gdb: debuggee returned {result} on CPU {DEBUGGEE_CPU} (expected {DEBUGGEE_RESULT}); session over"
    );
    result == DEBUGGEE_RESULT
}
