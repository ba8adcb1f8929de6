//! The kernel's GDB stub (feature `gdb`): a gdbstub `Target` over the
//! exception [`Frame`], GDB's hardware breakpoints and watchpoints through
//! the registry ([`hwbreak::gdb::GdbBreakpoints`]), and the interrupt
//! routing that turns traps into GDB stops, for `cargo xtask gdb ppc64-gdb`.
//!
//! The session (gdbstub's state machine, kept between stops) is
//! [`hwbreak_suite::gdb::Session`]; the wire is [`GdbVty`], a second
//! spapr-vty; the register file GDB sees is
//! [`hwbreak_suite::gdb::ppc64`]'s (core registers, no FPU).
//!
//! Stops:
//! - `twi 31, 0, 1` ([`TRAP_START`], in [`session`]): the session starts,
//!   GDB is told SIGTRAP;
//! - a hit of one of GDB's breakpoints (CIABR, a Trace interrupt) or
//!   watchpoints (DAWR, a Data Storage interrupt): the
//!   [`GdbStop`](hwbreak::gdb::GdbStop) the registry's handler left in the
//!   latch;
//! - the single step GDB asked for (MSR\[SE\], a Trace interrupt):
//!   `DoneStep`;
//! - `tw 31, 0, 0` ([`TRAP_GDB`], what GDB writes itself for `break`):
//!   SIGTRAP, PC left on it, where GDB finds its breakpoint (gdbstub
//!   refuses the `SwBreak` stop reason for a target without `Z0` support);
//! - `twi 31, 0, 2` ([`TRAP_EXIT`]): GDB is told the program exited (0).
//!
//! Every CPU is a thread for GDB (thread id = CPU number + 1, the online
//! CPUs listed in `qfThreadInfo`). A CPU that takes a stop for GDB first
//! stops the others (the board's round-up through XICS IPIs), serves GDB
//! with the world stopped and releases them when GDB resumes; a debug
//! interrupt while a session is active takes the round-up before looking
//! at GDB's stop latch, so one CPU at a time touches the stub. A stopped
//! CPU's registers are those of the interrupt it is in (the round-up's
//! IPI, or the debug interrupt it was handling), kept in
//! [`FRAMES`]; GDB's breakpoint changes go through
//! the registry's normal path, whose cross-CPU calls the stopped CPUs
//! answer. Only the CPU serving GDB can be single-stepped (MSR\[SE\] in the
//! SRR1 its `rfid` restores); GDB steps over a breakpoint or watchpoint
//! with the other threads held (scheduler locking), and the stub then
//! keeps the round-up across the step.
//!
//! Nesting: POWER has no switch that stops every watch at once. The
//! board's debug path disarms the armed slots around the registry's
//! dispatch and rewrites them after, and every `Z` packet arms its slot at
//! once (the registry loads every CPU), so the stub disarms this CPU's
//! slots around each memory access it makes for GDB ([`with_slots_off`])
//! and GDB's reads of a watched variable do not trap. CIABR cannot fire in
//! the stub: it holds an address of the debuggee's code.

use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gdbstub::common::{Signal, Tid};
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::target::ext::base::multithread::{MultiThreadBase, MultiThreadResumeOps};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpointOps, HwWatchpointOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use hwbreak::gdb::{GdbBreakpoints, StopLatch};
use hwbreak::native::{Ppc64, Trap, VECTOR_TRACE};
use hwbreak::Resume;
use hwbreak_suite::gdb::ppc64::{PowerPc64, PowerPc64Regs};
use hwbreak_suite::gdb::{cpu_of, on_thread, tid_of, ResumePlan, Served, Session};
use hwbreak_suite::Smp;

use crate::entry::Frame;
use crate::firmware::{self, MAX_CPUS};
use crate::gdb_vty::GdbVty;
use crate::platform::Pseries;
use crate::smp::{self, PseriesSmp};
use crate::trap::{self, FRAMES};
use crate::{println, REGISTRY};

/// `twi 31, 0, 1`: the boot stop that starts the session.
pub const TRAP_START: u32 = 0x0fe0_0001;
/// `twi 31, 0, 2`: the stop that reports the program's exit.
pub const TRAP_EXIT: u32 = 0x0fe0_0002;
/// `tw 31, 0, 0`: the breakpoint instruction GDB writes for `break` on
/// PowerPC.
pub const TRAP_GDB: u32 = 0x7fe0_0008;

/// RAM of the `ppc64-gdb` variant (`-m 512M`), from real address 0: the
/// only memory GDB may read or write. The kernel runs in real mode, so
/// every byte of it is reachable; anything else is refused, so GDB's
/// probes never raise a machine check in the kernel.
const RAM_END: u64 = 512 << 20;

/// Bytes `dcbst`/`icbi` step by after GDB writes memory: no POWER cache
/// line is shorter, so every line written is flushed.
const CACHE_STEP: u64 = 32;

/// What the debuggee returns when nobody changed its variables.
const DEBUGGEE_RESULT: u64 = 16 + 7 + 11;
/// The CPU the debuggee runs on.
const DEBUGGEE_CPU: u32 = 1;

/// GDB's breakpoints: one record per CPU.
static LATCH: StopLatch<MAX_CPUS> = StopLatch::new();
/// The gdbstub session, kept between stops.
static SESSION: Session<KernelTarget, GdbVty> = Session::new();
/// Between the boot stop and the end of the session: debug interrupts go
/// through the stub.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The one target.
static TARGET: TargetCell = TargetCell(UnsafeCell::new(KernelTarget {
    hw: GdbBreakpoints::new(&REGISTRY, &LATCH),
    plan: ResumePlan::new(),
}));

struct TargetCell(UnsafeCell<KernelTarget>);

// SAFETY: only the CPU owning the round-up uses it, in its interrupt
// handler, which does not nest (MSR[EE] is off in handlers, and the stub's
// memory accesses run with this CPU's slots disarmed); every other CPU is
// stopped or waiting for the round-up meanwhile.
unsafe impl Sync for TargetCell {}

/// The kernel as GDB sees it: one thread per CPU, each with the registers
/// of the interrupt it is in.
pub struct KernelTarget {
    hw: GdbBreakpoints<
        'static,
        Ppc64,
        Pseries,
        64,
        MAX_CPUS,
        8,
        { hwbreak::gdb::DEFAULT_CAPACITY },
        { hwbreak::native::SLOTS },
    >,
    /// The serving CPU and GDB's resume request (scheduler locking: GDB
    /// steps the stopped thread alone over a breakpoint or watchpoint, and
    /// the round-up then outlives the stop).
    plan: ResumePlan<MAX_CPUS>,
}

hwbreak::gdb_hw_extensions!(KernelTarget => hw);
hwbreak_suite::gdb_resume_extensions!(KernelTarget => plan);

impl KernelTarget {
    /// The interrupted context of the CPU behind `tid`: `NonFatal` (GDB
    /// shows an error) for a CPU in no interrupt.
    fn frame(&mut self, tid: Tid) -> TargetResult<&mut Frame, Self> {
        let cpu = cpu_of(tid, MAX_CPUS).ok_or(TargetError::NonFatal)?;
        let frame = FRAMES[cpu].load(Ordering::Acquire);
        if frame.is_null() || !smp::is_online(cpu) {
            return Err(TargetError::NonFatal);
        }
        // SAFETY: the stub runs with every other CPU stopped inside the
        // interrupt whose frame it published, which it returns from only
        // after the round-up ends; this CPU's is the handler's own frame,
        // which the handler leaves alone while the stub runs.
        Ok(unsafe { &mut *frame })
    }
}

impl Target for KernelTarget {
    type Arch = PowerPc64;
    type Error = ();

    fn base_ops(&mut self) -> BaseOps<'_, PowerPc64, ()> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    /// GDB's `break` writes `tw 31, 0, 0` into the kernel's text itself
    /// (memory writes are allowed and the stub reports that trap as
    /// SIGTRAP); the stub's own breakpoints are hardware ones.
    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }
}

impl Breakpoints for KernelTarget {
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

/// Bytes from `addr` (at most `len`) inside RAM.
fn in_ram(addr: u64, len: usize) -> usize {
    if addr < RAM_END {
        len.min((RAM_END - addr) as usize)
    } else {
        0
    }
}

/// Runs `f` with this CPU's armed slots disarmed, then rewrites them from
/// the registry's table (slots being stepped over stay off: the table
/// excludes them).
fn with_slots_off<R>(f: impl FnOnce() -> R) -> R {
    let armed = crate::slot_mask();
    crate::reload(armed, false);
    let r = f();
    crate::reload(armed, true);
    r
}

impl MultiThreadBase for KernelTarget {
    fn read_registers(&mut self, regs: &mut PowerPc64Regs, tid: Tid) -> TargetResult<(), Self> {
        let f = self.frame(tid)?;
        regs.r = f.gpr;
        regs.pc = f.srr0;
        regs.msr = f.srr1;
        regs.cr = f.cr as u32;
        regs.lr = f.lr;
        regs.ctr = f.ctr;
        regs.xer = f.xer as u32;
        Ok(())
    }

    /// Everything but the MSR: its translation, interrupt and step bits
    /// are the kernel's and the stub's (`rfid` restores them from SRR1), so
    /// an MSR GDB writes is not applied.
    fn write_registers(&mut self, regs: &PowerPc64Regs, tid: Tid) -> TargetResult<(), Self> {
        let f = self.frame(tid)?;
        f.gpr = regs.r;
        f.srr0 = regs.pc;
        f.cr = u64::from(regs.cr);
        f.lr = regs.lr;
        f.ctr = regs.ctr;
        // XER's upper half is reserved: what the kernel had stays.
        f.xer = (f.xer & !0xffff_ffff) | u64::from(regs.xer);
        Ok(())
    }

    /// Memory is the same for every thread (real mode, one address space).
    fn read_addrs(
        &mut self,
        start_addr: u64,
        data: &mut [u8],
        _tid: Tid,
    ) -> TargetResult<usize, Self> {
        let n = in_ram(start_addr, data.len());
        if n == 0 {
            return Err(TargetError::NonFatal);
        }
        with_slots_off(|| {
            for (i, b) in data[..n].iter_mut().enumerate() {
                // SAFETY: inside RAM, which real mode reaches directly: a
                // byte read cannot fault. This CPU's slots are disarmed, so
                // a watched byte does not trap here.
                *b = unsafe { core::ptr::read_volatile((start_addr + i as u64) as *const u8) };
            }
        });
        Ok(n)
    }

    fn write_addrs(&mut self, start_addr: u64, data: &[u8], _tid: Tid) -> TargetResult<(), Self> {
        if in_ram(start_addr, data.len()) != data.len() {
            return Err(TargetError::NonFatal);
        }
        with_slots_off(|| {
            for (i, &b) in data.iter().enumerate() {
                // SAFETY: inside RAM, as in `read_addrs`. GDB writes
                // variables and, for `break`, instructions of the stopped
                // kernel.
                unsafe { core::ptr::write_volatile((start_addr + i as u64) as *mut u8, b) };
            }
        });
        // GDB may have written instructions: push the data out and drop
        // stale instruction-cache lines over every line written.
        let end = start_addr + data.len() as u64;
        let mut line = start_addr & !(CACHE_STEP - 1);
        while line < end {
            // SAFETY: cache maintenance on RAM just written; no data
            // changes.
            unsafe {
                core::arch::asm!("dcbst 0, {0}", "sync", "icbi 0, {0}", in(reg) line, options(nostack))
            };
            line += CACHE_STEP;
        }
        // SAFETY: as above: orders the invalidations before later fetches.
        unsafe { core::arch::asm!("sync", "isync", options(nostack)) };
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

/// The target. Only the interrupt handler of the CPU owning the round-up
/// calls it.
fn target() -> &'static mut KernelTarget {
    // SAFETY: see `TargetCell`: one CPU at a time (the round-up's owner),
    // the non-nesting handler, and every caller drops the reference before
    // releasing the round-up.
    unsafe { &mut *TARGET.0.get() }
}

/// Takes the round-up for this CPU (unless it kept it across a locked
/// resume): every other CPU stops, and the target is this CPU's until
/// [`release`].
fn round_up() -> &'static mut KernelTarget {
    let me = smp::this_cpu();
    if !smp::stopped_by(me) {
        PseriesSmp.stop_others();
    }
    let t = target();
    t.plan.serve_on(me);
    t
}

/// Lets the other CPUs run on (each refreshes its breakpoints first),
/// unless GDB's last resume locked them.
fn release(t: &KernelTarget) {
    if !t.plan.locked() {
        PseriesSmp.resume_others();
    }
}

/// Serves GDB at a stop of this CPU (the caller holds the round-up), then
/// sets the single step both sides want: the registry's step-over
/// (`registry_step`) or GDB's.
fn serve(frame: &mut Frame, stop: MultiThreadStopReason<u64>, registry_step: bool) {
    let t = target();
    let me = t.plan.serving();
    t.plan.stop_reported();
    // SAFETY: the interrupt handler of the round-up's owner, not nested;
    // the target describes the stopped CPUs.
    let served = unsafe { SESSION.serve(t, stop, GdbVty::open) };
    if served == Served::Detached {
        // GDB detached, killed or was told the program exited: its
        // breakpoints go (the stopped CPUs answer the registry's calls),
        // the kernel runs on without a debugger.
        ACTIVE.store(false, Ordering::SeqCst);
        t.hw.clear();
        t.plan.end();
    }
    let gdb_step = t.plan.stepping(me);
    trap::set_step(frame, registry_step || gdb_step);
}

/// A debug interrupt the registry has handled (`resume` is what it asked
/// for). `false` when no session is active: the caller applies `resume`
/// as without GDB.
pub fn on_debug(frame: &mut Frame, trap: &Trap, resume: Resume) -> bool {
    if !ACTIVE.load(Ordering::SeqCst) {
        return false;
    }
    // Before the latch: the stub's tables are the round-up owner's.
    let t = round_up();
    let me = t.plan.serving();
    // A Trace interrupt with MSR[SE] set by this kernel is a step's end.
    let step_trap = trap.vector == VECTOR_TRACE && trap.stepping;
    let gdb_step = t.plan.stepping(me);
    let stop =
        hwbreak_suite::gdb::stop_after_debug_exception(t.hw.take_stop(), gdb_step, step_trap);
    let registry_step = trap::steps_after(resume);
    match stop {
        Some(stop) => serve(frame, on_thread(stop, me), registry_step),
        // Not GDB's (the end of the registry's step-over, a kernel
        // breakpoint): no stop; a step GDB asked for goes on.
        None => trap::set_step(frame, registry_step || gdb_step),
    }
    release(t);
    true
}

/// A SIGTRAP stop of thread `tid`.
fn sigtrap(tid: Tid) -> MultiThreadStopReason<u64> {
    MultiThreadStopReason::SignalWithThread {
        tid,
        signal: Signal::SIGTRAP,
    }
}

/// The program's exit (status 0).
fn exited(_: Tid) -> MultiThreadStopReason<u64> {
    MultiThreadStopReason::Exited(0)
}

/// A trap-type program interrupt (`tw`/`twi`; SRR0 is the trap
/// instruction). `false` when it is not the stub's: the caller reports an
/// unexpected interrupt.
pub fn on_trap_instruction(frame: &mut Frame) -> bool {
    // SAFETY: SRR0 of a program interrupt is the (real-mode) address of
    // the instruction that trapped, in RAM.
    let insn = unsafe { (frame.srr0 as usize as *const u32).read_volatile() };
    let active = ACTIVE.load(Ordering::SeqCst);
    let stop: Option<fn(Tid) -> MultiThreadStopReason<u64>> = match insn {
        // Past the trap before GDB looks: it sees (and resumes or steps
        // from) the next instruction.
        TRAP_START if !active => {
            frame.srr0 += 4;
            ACTIVE.store(true, Ordering::SeqCst);
            Some(sigtrap)
        }
        TRAP_EXIT => {
            frame.srr0 += 4;
            active.then_some(exited)
        }
        // GDB's own `tw`: it expects the PC on it and steps over it itself
        // (removing it first). Not `SwBreak`: gdbstub ends the session on
        // that stop reason when the target has no `Z0` support.
        TRAP_GDB if active => Some(sigtrap),
        _ => return false,
    };
    if let Some(stop) = stop {
        let t = round_up();
        let tid = tid_of(t.plan.serving());
        serve(frame, stop(tid), trap::stepping());
        release(t);
    }
    true
}

/// The debuggee's result, from CPU 1 (0 until it returned).
static RESULT: AtomicU64 = AtomicU64::new(0);

/// CPU 1's work: the debuggee, whose stops are then another thread's than
/// the boot stop's.
fn debuggee_on_cpu(_: usize) {
    RESULT.store(hwbreak_suite::gdb::debuggee(), Ordering::SeqCst);
}

/// The session, on the boot CPU with every CPU up and the registry
/// running: the boot stop, the debuggee on CPU 1 (the boot CPU waits with
/// interrupts on, so the round-ups of CPU 1's stops stop it too), the exit
/// stop. Powers off when the debuggee computed what it should (what GDB
/// saw, `cargo xtask gdb` checks in GDB's own transcript).
pub fn session() -> ! {
    println!("gdb: waiting for GDB on vty {:#x}", crate::gdb_vty::GDB_VTY);
    // SAFETY: the program interrupt routes this trap to
    // `on_trap_instruction`, which serves GDB and returns past it; GDB may
    // change registers and memory, which the `asm!` (no `nomem`) lets the
    // compiler assume.
    unsafe { core::arch::asm!(".long {0}", const TRAP_START, options(nostack)) };
    if let Err(e) = PseriesSmp.spawn(DEBUGGEE_CPU, debuggee_on_cpu, 0) {
        println!("gdb: CPU {DEBUGGEE_CPU} cannot run the debuggee: {e}");
        firmware::os_term(c"hwbreak: the debuggee did not start");
    }
    while !PseriesSmp.is_idle(DEBUGGEE_CPU) {
        core::hint::spin_loop();
    }
    let result = RESULT.load(Ordering::SeqCst);
    println!("gdb: debuggee returned {result} on CPU {DEBUGGEE_CPU} (expected {DEBUGGEE_RESULT})");
    // SAFETY: as above.
    unsafe { core::arch::asm!(".long {0}", const TRAP_EXIT, options(nostack)) };
    println!("gdb: session over");
    if result == DEBUGGEE_RESULT {
        firmware::power_off()
    } else {
        firmware::os_term(c"hwbreak: the debuggee computed a wrong result")
    }
}
