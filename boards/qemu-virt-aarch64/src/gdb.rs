//! The kernel's GDB stub (feature `gdb`): a gdbstub `Target` over the
//! exception [`Frame`], GDB's hardware breakpoints and watchpoints through
//! the registry ([`hwbreak::gdb::GdbBreakpoints`]), and the exception routing
//! that turns traps into GDB stops.
//!
//! The session (gdbstub's state machine, kept between stops) is
//! [`hwbreak_suite::gdb::Session`]; the wire is [`GdbUart`], the second
//! PL011.
//!
//! Stops:
//! - `brk #0xf000` ([`initial_stop`]): the session starts, GDB is told
//!   SIGTRAP;
//! - a hit of one of GDB's breakpoints or watchpoints: the [`GdbStop`](hwbreak::gdb::GdbStop) the
//!   registry's handler left in the latch;
//! - the software step GDB asked for: `DoneStep`;
//! - `brk #0` (what GDB writes itself for `break`, `next`'s step-resume
//!   breakpoints, ...): SIGTRAP, PC left on the `brk`, where GDB finds its
//!   breakpoint (gdbstub refuses the `SwBreak` stop reason for a target
//!   without `Z0` support, so GDB is told a plain SIGTRAP);
//! - `brk #0xf001` ([`final_stop`]): GDB is told the program exited (0).
//!
//! Every CPU is a thread for GDB (thread id = CPU number + 1, the online
//! CPUs listed in `qfThreadInfo`). A CPU that takes a stop for GDB first
//! stops the others (the board's round-up, `smp::stop_others`), serves GDB
//! with the world stopped and releases them when GDB resumes; a debug
//! exception while a session is active takes the round-up before looking
//! at GDB's stop latch, so one CPU at a time touches the stub, and two
//! CPUs hitting GDB's breakpoints at once are reported one after the
//! other. A stopped CPU's registers are those of the context its latest
//! exception interrupted (the round-up's SGI, or a debug exception it was
//! handling when it was stopped), kept in [`FRAMES`](crate::exceptions::FRAMES);
//! a CPU stopped outside any exception (in a wait loop of the kernel's own
//! code) has none to show and GDB gets an error for its registers. GDB's
//! breakpoint changes go through the registry's normal path, whose
//! cross-CPU calls the stopped CPUs answer. Only the CPU that stopped can
//! be single-stepped (its MDSCR_EL1.SS is the one the stub can set); a
//! step GDB asks for on another thread is refused. GDB steps over a
//! breakpoint or watchpoint with the other threads held (scheduler
//! locking): the stub then keeps the round-up across the step, and the
//! others stay stopped until a resume that lets them go; a locked resume
//! of another thread than the stopped one is refused.
//!
//! Debug exceptions are masked while the stub runs: taking an exception to
//! EL1 sets PSTATE.D (with A, I and F), and arming slots for GDB's `Z`
//! packets does not clear it (the backend leaves PSTATE.D to the code
//! running), so the stub reads GDB's watched variables without trapping on
//! them.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use gdbstub::common::{Signal, Tid};
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::target::ext::base::multithread::{MultiThreadBase, MultiThreadResumeOps};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpointOps, HwWatchpointOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::aarch64::reg::AArch64CoreRegs;
use gdbstub_arch::aarch64::AArch64;
use hwbreak::gdb::{GdbBreakpoints, StopLatch};
use hwbreak::Resume;
use hwbreak_aarch64::decode::ec;
use hwbreak_aarch64::{cpu, Aarch64, Trap};
use hwbreak_suite::gdb::{cpu_of, on_thread, tid_of, ResumePlan, Served, Session};

use crate::exceptions::{Frame, FRAMES};
use crate::gdb_uart::GdbUart;
use crate::platform::VirtPlatform;
use crate::{smp, CPUS, REGISTRY};

/// `brk` immediate of the boot stop that starts the session.
const BRK_START: u16 = 0xf000;
/// `brk` immediate of the stop that reports the program's exit.
const BRK_EXIT: u16 = 0xf001;
/// `brk` immediate GDB writes for a software breakpoint (`break`).
const BRK_GDB: u16 = 0;

/// RAM of QEMU `virt` (128 MiB from 0x4000_0000, QEMU's default `-m`): the
/// only memory GDB may read or write. The kernel image lies inside it
/// (identity-mapped, MMU off); anything else (devices, holes) is refused so
/// GDB's probes never fault the kernel.
const RAM_START: u64 = 0x4000_0000;
const RAM_END: u64 = RAM_START + 128 * 1024 * 1024;

/// GDB's breakpoints: one record per CPU.
static LATCH: StopLatch<CPUS> = StopLatch::new();
/// The gdbstub session, kept between stops.
static SESSION: Session<KernelTarget, GdbUart> = Session::new();
/// Between the first stop and the end of the session: debug exceptions go
/// through the stub.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The one target.
static TARGET: TargetCell = TargetCell(UnsafeCell::new(KernelTarget {
    hw: GdbBreakpoints::new(&REGISTRY, &LATCH),
    plan: ResumePlan::new(),
}));

struct TargetCell(UnsafeCell<KernelTarget>);

// SAFETY: only the CPU owning the round-up (`smp::stop_others`) uses it, in
// its synchronous exception handler, which does not nest (debug exceptions
// are masked inside it, and nothing else routes here); every other CPU is
// stopped or waiting for the round-up meanwhile.
unsafe impl Sync for TargetCell {}

/// The kernel as GDB sees it: one thread per CPU, each with the
/// registers of the context its latest exception interrupted.
pub struct KernelTarget {
    hw: GdbBreakpoints<'static, Aarch64, VirtPlatform, 64, CPUS, 8>,
    /// The serving CPU and GDB's resume request (scheduler locking: GDB
    /// steps the stopped thread alone over a breakpoint or watchpoint, and
    /// the round-up then outlives the stop).
    plan: ResumePlan<CPUS>,
}

hwbreak::gdb_hw_extensions!(KernelTarget => hw);
hwbreak_suite::gdb_resume_extensions!(KernelTarget => plan);

impl KernelTarget {
    /// The interrupted context of the CPU behind `tid`: `NonFatal` (GDB
    /// shows an error) for a CPU with none.
    fn frame(&mut self, tid: Tid) -> TargetResult<&mut Frame, Self> {
        let cpu = cpu_of(tid, CPUS).ok_or(TargetError::NonFatal)?;
        let frame = FRAMES[cpu].load(Ordering::Acquire);
        if frame.is_null() || !smp::is_online(cpu as u32) {
            return Err(TargetError::NonFatal);
        }
        // SAFETY: the stub runs with every other CPU stopped, each inside
        // the exception whose frame it published, which it restores only
        // after the round-up ends; this CPU's is the handler's own frame,
        // which the handler does not touch while the stub runs.
        Ok(unsafe { &mut *frame })
    }
}

impl Target for KernelTarget {
    type Arch = AArch64;
    type Error = ();

    fn base_ops(&mut self) -> BaseOps<'_, AArch64, ()> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    /// GDB's `break` writes `brk #0` into the kernel's text itself (memory
    /// writes are allowed and the stub reports `brk #0` as SIGTRAP); the
    /// stub's own breakpoints are hardware ones.
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

/// NZCV (bits 31:28): the only PSTATE bits GDB may change. Mode, SP
/// selection, the masks and SS stay the stub's.
const CPSR_WRITABLE: u64 = 0xf000_0000;

/// Bytes from `addr` (at most `len`) inside RAM.
fn in_ram(addr: u64, len: usize) -> usize {
    if (RAM_START..RAM_END).contains(&addr) {
        len.min((RAM_END - addr) as usize)
    } else {
        0
    }
}

impl MultiThreadBase for KernelTarget {
    fn read_registers(&mut self, regs: &mut AArch64CoreRegs, tid: Tid) -> TargetResult<(), Self> {
        let f = self.frame(tid)?;
        regs.x = f.x;
        // The kernel runs on SP_EL0 and every routed exception comes from
        // there (vector "EL1, SP0"): the vector code saved that SP.
        regs.sp = f.sp_el0;
        regs.pc = f.elr;
        regs.cpsr = f.spsr as u32;
        regs.v = f.q;
        regs.fpcr = f.fpcr as u32;
        regs.fpsr = f.fpsr as u32;
        Ok(())
    }

    fn write_registers(&mut self, regs: &AArch64CoreRegs, tid: Tid) -> TargetResult<(), Self> {
        let f = self.frame(tid)?;
        f.x = regs.x;
        // The vector code writes SP_EL0 back before `eret`.
        f.sp_el0 = regs.sp;
        f.elr = regs.pc;
        f.spsr = (f.spsr & !CPSR_WRITABLE) | (u64::from(regs.cpsr) & CPSR_WRITABLE);
        f.q = regs.v;
        f.fpcr = u64::from(regs.fpcr);
        f.fpsr = u64::from(regs.fpsr);
        Ok(())
    }

    /// Memory is the same for every thread (one physical address space).
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
        for (i, b) in data[..n].iter_mut().enumerate() {
            // SAFETY: inside RAM, identity-mapped with the MMU off: a byte
            // read cannot fault (no alignment rule for bytes). Debug
            // exceptions are masked, so a watched byte does not trap here.
            *b = unsafe { core::ptr::read_volatile((start_addr + i as u64) as *const u8) };
        }
        Ok(n)
    }

    fn write_addrs(&mut self, start_addr: u64, data: &[u8], _tid: Tid) -> TargetResult<(), Self> {
        if in_ram(start_addr, data.len()) != data.len() {
            return Err(TargetError::NonFatal);
        }
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: inside RAM, as in `read_addrs`. GDB writes variables
            // and, for `break`, instructions of the stopped kernel.
            unsafe { core::ptr::write_volatile((start_addr + i as u64) as *mut u8, b) };
        }
        // SAFETY: cache maintenance only: GDB may have written instructions
        // (a `brk` for `break`), which must be fetched fresh.
        unsafe {
            core::arch::asm!(
                "dsb ish",
                "ic iallu",
                "dsb ish",
                "isb",
                options(nostack, preserves_flags)
            )
        };
        Ok(())
    }

    fn list_active_threads(&mut self, thread_is_active: &mut dyn FnMut(Tid)) -> Result<(), ()> {
        for cpu in 0..CPUS {
            if smp::is_online(cpu as u32) {
                thread_is_active(tid_of(cpu));
            }
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

/// The target. Only the exception handler of the CPU owning the round-up
/// calls it.
fn target() -> &'static mut KernelTarget {
    // SAFETY: see `TargetCell`: one CPU at a time (the round-up's owner),
    // the non-nesting exception handler, and every caller drops the
    // reference before releasing the round-up.
    unsafe { &mut *TARGET.0.get() }
}

/// Stops for GDB: the session starts here.
pub fn initial_stop() {
    // SAFETY: the synchronous exception handler takes `brk` (EC 0x3c),
    // serves GDB and returns past it; GDB may change registers and memory,
    // which the `asm!` (no `nomem`) lets the compiler assume.
    unsafe { core::arch::asm!("brk #0xf000", options(nostack)) };
}

/// Tells GDB the program exited (status 0); the session ends.
pub fn final_stop() {
    // SAFETY: as in `initial_stop`.
    unsafe { core::arch::asm!("brk #0xf001", options(nostack)) };
}

/// Serves GDB at a stop of this CPU, then sets the single step both sides
/// want. The caller holds the round-up (`smp::stop_others`).
///
/// # Safety
/// In the synchronous exception handler, with `frame` the one `eret`
/// restores (published in [`FRAMES`]).
unsafe fn serve(frame: &mut Frame, stop: MultiThreadStopReason<u64>, registry_step: bool) {
    let t = target();
    let me = t.plan.serving();
    t.plan.stop_reported();
    // SAFETY: the exception handler of the round-up's owner, not nested
    // (debug exceptions masked); the target describes the stopped CPUs.
    let served = unsafe { SESSION.serve(t, stop, GdbUart::open) };
    if served == Served::Detached {
        // GDB detached, killed or was told the program exited: its
        // breakpoints go (the stopped CPUs answer the registry's calls),
        // the kernel runs on without a debugger.
        ACTIVE.store(false, Ordering::SeqCst);
        t.hw.clear();
        t.plan.end();
    }
    let gdb_step = t.plan.stepping(me);
    // SAFETY: forwarded from the caller.
    unsafe { set_step(frame, registry_step || gdb_step) };
}

/// Takes the round-up for this CPU (unless it kept it across a locked
/// resume): every other CPU stops, and the target is this CPU's until
/// [`release`].
fn round_up() -> &'static mut KernelTarget {
    let me = smp::current_cpu();
    if !smp::stopped_by(me) {
        smp::stop_others();
    }
    let t = target();
    t.plan.serve_on(me as usize);
    t
}

/// Lets the other CPUs run on (each reloads its breakpoints first), unless
/// GDB's last resume locked them.
fn release(t: &KernelTarget) {
    if !t.plan.locked() {
        smp::resume_others();
    }
}

/// Single step on (the registry's step-over or GDB's `stepi`) or off.
///
/// # Safety
/// As for [`serve`].
unsafe fn set_step(frame: &mut Frame, on: bool) {
    if on {
        // GDB may step before anything armed the debug machinery: a step
        // needs the OS lock clear and debug exceptions unmasked in the
        // stepped code (the kernel runs with PSTATE.D clear anyway, see
        // `main`).
        if cpu::os_locked() {
            // SAFETY: current CPU; clearing the lock only lets the armed
            // slots and the step trap, which all go to the registry.
            unsafe { cpu::set_os_lock(false) };
        }
        frame.spsr &= !cpu::SPSR_D;
        // SAFETY: in the handler whose `eret` restores `frame.spsr`; the
        // step trap goes to the registry, then to `on_debug`.
        unsafe { cpu::begin_single_step(&mut frame.spsr) };
    } else {
        // SAFETY: as above.
        unsafe { cpu::end_single_step(&mut frame.spsr) };
    }
}

/// A debug exception the registry has handled (`resume` is what it asked
/// for). `false` when no session is active: the caller applies `resume` as
/// without GDB.
///
/// # Safety
/// In the synchronous exception handler, with `frame` the one `eret`
/// restores.
pub unsafe fn on_debug(frame: &mut Frame, trap: &Trap, resume: Resume) -> bool {
    if !ACTIVE.load(Ordering::SeqCst) {
        return false;
    }
    // Before the latch: the stub's tables are the round-up owner's.
    let t = round_up();
    let me = t.plan.serving();
    let step_trap = matches!(
        trap.exception_class(),
        ec::SOFTWARE_STEP_CURRENT | ec::SOFTWARE_STEP_LOWER
    );
    let gdb_step = t.plan.stepping(me);
    let stop =
        hwbreak_suite::gdb::stop_after_debug_exception(t.hw.take_stop(), gdb_step, step_trap);
    let registry_step = resume == Resume::SingleStep;
    match stop {
        // SAFETY: forwarded from the caller; we hold the round-up.
        Some(stop) => unsafe { serve(frame, on_thread(stop, me), registry_step) },
        // Not GDB's (the end of the registry's step-over, a kernel
        // breakpoint): no stop; a step GDB asked for goes on.
        // SAFETY: forwarded from the caller.
        None => unsafe { set_step(frame, registry_step || gdb_step) },
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

/// A `brk` (EC 0x3c) with immediate `imm`. `false` when it is not the
/// stub's: the caller reports an unexpected exception.
///
/// # Safety
/// In the synchronous exception handler, with `frame` the one `eret`
/// restores.
pub unsafe fn on_brk(frame: &mut Frame, imm: u16) -> bool {
    let active = ACTIVE.load(Ordering::SeqCst);
    let stop: Option<fn(Tid) -> MultiThreadStopReason<u64>> = match imm {
        // Past the `brk` before GDB looks: it sees (and resumes or steps
        // from) the next instruction.
        BRK_START if !active => {
            frame.elr += 4;
            ACTIVE.store(true, Ordering::SeqCst);
            Some(sigtrap)
        }
        BRK_EXIT => {
            frame.elr += 4;
            active.then_some(exited)
        }
        // GDB's own `brk`: it expects the PC on it and steps over it itself
        // (removing it first). Not `SwBreak`: gdbstub ends the session on
        // that stop reason when the target has no `Z0` support.
        BRK_GDB if active => Some(sigtrap),
        _ => return false,
    };
    if let Some(stop) = stop {
        let t = round_up();
        let tid = tid_of(t.plan.serving());
        // SAFETY: forwarded from the caller; we hold the round-up.
        unsafe { serve(frame, stop(tid), false) };
        release(t);
    }
    true
}
