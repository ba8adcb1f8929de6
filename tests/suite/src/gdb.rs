//! GDB sessions in the board kernels (feature `gdb`).
//!
//! A board built with `gdb` runs no scenarios: it stops once at boot for
//! GDB to connect, runs [`debuggee`] (the program `cargo xtask gdb` drives
//! a real `gdb-multiarch` through: `hbreak`, `watch`, `rwatch`, `awatch`),
//! reports an exit to GDB and powers off.
//!
//! The board owns the exception entry, the registers, the wire and the
//! round-up that stops its CPUs; this module owns what is the same
//! everywhere: the program, the gdbstub state machine kept between stops
//! ([`Session`]) and, for stubs that show every CPU as a thread, GDB's
//! resume request ([`ResumePlan`], with gdbstub's resume extensions over
//! it from [`gdb_resume_extensions!`](crate::gdb_resume_extensions)) and
//! the thread numbering ([`tid_of`], [`cpu_of`], [`on_thread`]). The
//! board's target
//! implements gdbstub's `Target` with the breakpoint extensions forwarded to
//! a [`hwbreak::gdb::GdbBreakpoints`] (`hwbreak::gdb_hw_extensions!`), so
//! every `Z` packet GDB sends goes through the registry.

#[path = "gdb_ppc64.rs"]
pub mod ppc64;

use core::cell::UnsafeCell;
use core::ptr::{addr_of, addr_of_mut};

use gdbstub::common::{Signal, Tid};
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::state_machine::{state, GdbStubStateMachine, GdbStubStateMachineInner};
use gdbstub::stub::{
    GdbStubBuilder, IntoStopReason, MultiThreadStopReason, SingleThreadStopReason,
};
use gdbstub::target::Target;

/// Bytes of gdbstub's packet buffer: enough for GDB's largest register
/// packet on AArch64 (the `g` reply with 32 q-registers, hex-encoded).
pub const PACKET_BUFFER: usize = 4096;

// The variables GDB watches. `#[no_mangle]` keeps their names plain for
// GDB; they are only touched through raw pointers with volatile accesses,
// so the compiler keeps every access the program makes.

/// Written once by [`debuggee`] (1 -> 2): `watch GDB_WRITE_ME`.
#[no_mangle]
pub static mut GDB_WRITE_ME: u64 = 1;
/// Read once by [`debuggee`] (value 7): `rwatch GDB_READ_ME`.
#[no_mangle]
pub static mut GDB_READ_ME: u64 = 7;
/// Written (10 -> 11) then read by [`debuggee`]: `awatch GDB_ACCESS_ME`.
#[no_mangle]
pub static mut GDB_ACCESS_ME: u64 = 10;

/// The function GDB sets `hbreak` on.
#[no_mangle]
#[inline(never)]
pub extern "C" fn gdb_hbreak_target(x: u64) -> u64 {
    // Plain operators: a library call inlined here would make GDB report
    // the stop in that inlined frame instead of this function.
    x * 3 + 1
}

/// The program GDB debugs: a call, then one write, one read, one write and
/// one read of the watched variables, in that order. Returns a value
/// depending on all of them, so nothing is optimised away.
pub fn debuggee() -> u64 {
    // Opaque to the optimiser, so the call stays a call.
    let a = gdb_hbreak_target(core::hint::black_box(5));
    // SAFETY: the variables are only accessed by this function (and by GDB
    // while the CPU is stopped), through raw pointers, never references.
    unsafe {
        addr_of_mut!(GDB_WRITE_ME).write_volatile(2);
        let r = addr_of!(GDB_READ_ME).read_volatile();
        addr_of_mut!(GDB_ACCESS_ME).write_volatile(11);
        let b = addr_of!(GDB_ACCESS_ME).read_volatile();
        a + r + b
    }
}

/// What GDB is told of a debug exception the registry has handled: a hit
/// of GDB's own breakpoints (the adapter's latch), else the end of a step
/// GDB asked for; `None` for anything else (the kernel's own breakpoints,
/// the registry's step-overs), which GDB never sees.
pub fn stop_after_debug_exception(
    hit: Option<hwbreak::gdb::GdbStop>,
    gdb_stepping: bool,
    step_trap: bool,
) -> Option<SingleThreadStopReason<u64>> {
    match hit {
        Some(hit) => Some(hit.into()),
        None if gdb_stepping && step_trap => Some(SingleThreadStopReason::DoneStep),
        None => None,
    }
}

/// What [`Session::serve`] ended with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// GDB resumed the target (continue or step): return from the
    /// exception and apply the target's resume request.
    Resume,
    /// The session is over (GDB detached or killed, the target exited, or
    /// the wire failed): go on without GDB.
    Detached,
}

/// A gdbstub session kept across stops: its packet buffer and, while the
/// kernel runs, the resumed state machine.
///
/// Use it from a stop's exception handler only, never nested, and on one
/// CPU at a time: on a multi-CPU board the CPU that stopped for GDB first
/// stops every other one (the board's round-up) and serves GDB while it
/// holds them, so the session moves from CPU to CPU with the round-up but
/// is never touched by two at once. The boards' exception entries keep it
/// from nesting (x86 clears DR7 before any Rust code runs in #DB and #BP;
/// AArch64 masks debug exceptions on exception entry; 64-bit PowerPC
/// and RISC-V disarm their slots around the stub's memory accesses).
pub struct Session<T: Target + 'static, C: ConnectionExt + 'static> {
    phase: UnsafeCell<Phase<T, C>>,
    buffer: UnsafeCell<[u8; PACKET_BUFFER]>,
}

/// Where a [`Session`] is between stops.
enum Phase<T: Target + 'static, C: ConnectionExt + 'static> {
    /// GDB has not been served yet.
    NotStarted,
    /// GDB resumed the kernel; the next stop is reported to it.
    Running(GdbStubStateMachineInner<'static, state::Running, T, C>),
    /// The session ended (or is being served right now).
    Over,
}

// SAFETY: see the type's documentation: only the stop handler of the CPU
// holding the board's round-up touches it (one CPU at a time, the others
// stopped), never re-entered.
unsafe impl<T: Target + 'static, C: ConnectionExt + 'static> Sync for Session<T, C> {}

impl<T: Target + 'static, C: ConnectionExt + 'static> Session<T, C> {
    /// A session not started yet.
    pub const fn new() -> Self {
        Self {
            phase: UnsafeCell::new(Phase::NotStarted),
            buffer: UnsafeCell::new([0; PACKET_BUFFER]),
        }
    }

    /// Serves GDB at a stop until it resumes the target or the session
    /// ends. The first call starts the session on `connect()`'s wire (GDB
    /// asks why the target stopped and is told SIGTRAP); later calls report
    /// `stop` to GDB first. After [`Served::Detached`] every call returns
    /// `Detached` at once.
    ///
    /// # Safety
    /// Called only from the debug exception (or the board's own stop
    /// trap), never nested, by one CPU at a time (on a multi-CPU board the
    /// one holding the round-up, every other CPU stopped); `target` must
    /// describe the interrupted context.
    pub unsafe fn serve<R: IntoStopReason<T>>(
        &'static self,
        target: &mut T,
        stop: R,
        connect: impl FnOnce() -> C,
    ) -> Served {
        // SAFETY: the caller guarantees exclusive, non-nested use.
        let phase = unsafe { &mut *self.phase.get() };
        let machine = match core::mem::replace(phase, Phase::Over) {
            Phase::Running(gdb) => gdb.report_stop(target, stop),
            Phase::Over => return Served::Detached,
            Phase::NotStarted => {
                // SAFETY: the buffer is handed out once, here, for the
                // whole life of the kernel (the phase never returns to
                // `NotStarted`).
                let buffer: &'static mut [u8] = unsafe { &mut *self.buffer.get() };
                match GdbStubBuilder::new(connect())
                    .with_packet_buffer(buffer)
                    .build()
                {
                    Ok(gdb) => gdb.run_state_machine(target),
                    Err(_) => return Served::Detached,
                }
            }
        };
        let Ok(mut machine) = machine else {
            return Served::Detached;
        };
        loop {
            let next = match machine {
                GdbStubStateMachine::Idle(mut gdb) => match gdb.borrow_conn().read() {
                    Ok(byte) => gdb.incoming_data(target, byte),
                    Err(_) => return Served::Detached,
                },
                GdbStubStateMachine::Running(gdb) => {
                    *phase = Phase::Running(gdb);
                    return Served::Resume;
                }
                // A Ctrl-C is only read while the kernel runs, and the
                // kernel reads nothing then: nothing to stop.
                GdbStubStateMachine::CtrlCInterrupt(gdb) => {
                    gdb.interrupt_handled(target, None::<R>)
                }
                GdbStubStateMachine::Disconnected(_) => return Served::Detached,
            };
            machine = match next {
                Ok(m) => m,
                Err(_) => return Served::Detached,
            };
        }
    }
}

impl<T: Target + 'static, C: ConnectionExt + 'static> Default for Session<T, C> {
    fn default() -> Self {
        Self::new()
    }
}

/// GDB's thread for CPU `cpu`: thread ids start at 1 (0 means "any" in
/// the remote protocol), so CPU `n` is thread `n + 1`.
pub fn tid_of(cpu: usize) -> Tid {
    match Tid::new(cpu.wrapping_add(1)) {
        Some(tid) => tid,
        // Only CPU `usize::MAX` wraps to 0; no board has that many.
        None => Tid::MIN,
    }
}

/// The CPU behind GDB's thread `tid` on a board of `cpus` CPUs, if it is
/// one.
pub fn cpu_of(tid: Tid, cpus: usize) -> Option<usize> {
    let cpu = tid.get() - 1;
    (cpu < cpus).then_some(cpu)
}

/// `stop` (the rule of [`stop_after_debug_exception`], stated for one
/// thread) as a stop of CPU `cpu`'s thread.
pub fn on_thread(stop: SingleThreadStopReason<u64>, cpu: usize) -> MultiThreadStopReason<u64> {
    let tid = tid_of(cpu);
    match stop {
        SingleThreadStopReason::DoneStep => MultiThreadStopReason::DoneStep,
        SingleThreadStopReason::HwBreak(()) => MultiThreadStopReason::HwBreak(tid),
        SingleThreadStopReason::Watch { kind, addr, .. } => {
            MultiThreadStopReason::Watch { tid, kind, addr }
        }
        // The rule yields nothing else; anything new is a SIGTRAP.
        _ => MultiThreadStopReason::SignalWithThread {
            tid,
            signal: Signal::SIGTRAP,
        },
    }
}

/// Why a multi-threaded stub refused one of GDB's resume actions.
///
/// gdbstub ends the session on a refusal (it sends no error reply for a
/// `vCont` action), so a board only refuses what it cannot do at all.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResumeRefused {
    /// A step of a thread other than the serving CPU's: only the CPU in
    /// the stop's exception handler can set its own step bit on the way
    /// out.
    StepOfAnotherThread,
    /// Scheduler locking with another thread than the serving CPU's
    /// resumed: the others stay in the round-up, so only the serving CPU
    /// can run alone.
    LockedOthers,
}

/// GDB's resume request, one stop at a time, for a stub that shows every
/// CPU as a thread and stops them all at each stop (a round-up): which CPU
/// serves GDB, whether GDB resumed other threads than that CPU's, whether
/// it keeps the threads it did not name stopped (scheduler locking), and
/// which CPUs GDB single-steps.
///
/// The board keeps one in its gdbstub target and touches it only while it
/// holds the round-up; it implements gdbstub's resume extensions over it
/// with [`gdb_resume_extensions!`](crate::gdb_resume_extensions). `CPUS`
/// is the board's CPU capacity.
///
/// ```
/// use gdbstub::common::Tid;
/// use hwbreak_suite::gdb::{tid_of, ResumePlan, ResumeRefused};
///
/// let mut plan = ResumePlan::<4>::new();
/// plan.serve_on(1);
/// // `vCont;s:2` (GDB steps thread 2 alone over a breakpoint).
/// plan.clear();
/// assert_eq!(plan.step(tid_of(1)), Ok(()));
/// assert_eq!(plan.lock(), Ok(()));
/// assert!(plan.stepping(1) && plan.locked());
/// // Another CPU cannot be stepped from here.
/// assert_eq!(plan.step(tid_of(2)), Err(ResumeRefused::StepOfAnotherThread));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumePlan<const CPUS: usize> {
    /// The CPU serving GDB.
    serving: usize,
    /// GDB's resume names another thread than the serving CPU's.
    others_resumed: bool,
    /// GDB's resume keeps the threads it does not name stopped: the
    /// round-up then outlives the stop.
    locked: bool,
    /// Per CPU: GDB's last resume of it is a single step.
    step: [bool; CPUS],
}

impl<const CPUS: usize> ResumePlan<CPUS> {
    /// No stop served yet: CPU 0 serving, nothing resumed, locked or
    /// stepped.
    pub const fn new() -> Self {
        Self {
            serving: 0,
            others_resumed: false,
            locked: false,
            step: [false; CPUS],
        }
    }

    /// `cpu` took the round-up: it serves GDB from now on. Its step flag is
    /// kept: the stop may be the end of the step GDB asked for.
    pub fn serve_on(&mut self, cpu: usize) {
        self.serving = cpu;
    }

    /// The CPU serving GDB.
    pub fn serving(&self) -> usize {
        self.serving
    }

    /// GDB is about to be told of a stop of the serving CPU: the step GDB
    /// asked of it, if any, is over.
    pub fn stop_reported(&mut self) {
        self.set_step(self.serving, false);
    }

    /// Whether GDB's last resume of `cpu` is a single step.
    pub fn stepping(&self, cpu: usize) -> bool {
        self.step.get(cpu).copied().unwrap_or(false)
    }

    /// Whether GDB's last resume keeps the other threads stopped (the
    /// board keeps its round-up across it).
    pub fn locked(&self) -> bool {
        self.locked
    }

    /// `clear_resume_actions`: a new resume request begins.
    pub fn clear(&mut self) {
        self.set_step(self.serving, false);
        self.others_resumed = false;
        self.locked = false;
    }

    /// `set_resume_action_continue`: thread `tid` continues. A kernel has
    /// no signals to deliver, so the signal GDB may pass is the caller's
    /// to drop.
    pub fn resume(&mut self, tid: Tid) {
        if cpu_of(tid, CPUS) != Some(self.serving) {
            self.others_resumed = true;
        }
    }

    /// `set_resume_action_scheduler_lock`: the threads GDB did not name
    /// stay stopped.
    ///
    /// # Errors
    /// [`ResumeRefused::LockedOthers`] when GDB resumed another thread than
    /// the serving CPU's; nothing changes then.
    pub fn lock(&mut self) -> Result<(), ResumeRefused> {
        if self.others_resumed {
            return Err(ResumeRefused::LockedOthers);
        }
        self.locked = true;
        Ok(())
    }

    /// `set_resume_action_step`: thread `tid` single-steps.
    ///
    /// # Errors
    /// [`ResumeRefused::StepOfAnotherThread`] when `tid` is not the serving
    /// CPU's thread; nothing changes then.
    pub fn step(&mut self, tid: Tid) -> Result<(), ResumeRefused> {
        if cpu_of(tid, CPUS) != Some(self.serving) {
            return Err(ResumeRefused::StepOfAnotherThread);
        }
        self.set_step(self.serving, true);
        Ok(())
    }

    /// The session ended: nothing of GDB's may step or keep the others
    /// stopped.
    pub fn end(&mut self) {
        self.set_step(self.serving, false);
        self.locked = false;
    }

    fn set_step(&mut self, cpu: usize, on: bool) {
        if let Some(s) = self.step.get_mut(cpu) {
            *s = on;
        }
    }
}

impl<const CPUS: usize> Default for ResumePlan<CPUS> {
    fn default() -> Self {
        Self::new()
    }
}

/// gdbstub's resume types, for [`gdb_resume_extensions!`](crate::gdb_resume_extensions).
#[doc(hidden)]
pub use gdbstub as __gdbstub;

/// Implements gdbstub's `MultiThreadResume`, `MultiThreadSingleStep` and
/// `MultiThreadSchedulerLocking` for a stub's target type by forwarding to
/// its [`ResumePlan`] field. The target's `Error` type must be `()`; the
/// resume itself does nothing (every CPU runs on when the board's
/// round-up ends, a step is set on the way out of the exception).
///
/// ```ignore
/// struct Kernel { plan: ResumePlan<4>, /* ... */ }
/// hwbreak_suite::gdb_resume_extensions!(Kernel => plan);
/// ```
#[macro_export]
macro_rules! gdb_resume_extensions {
    ($target:ty => $field:ident) => {
        impl $crate::gdb::__gdbstub::target::ext::base::multithread::MultiThreadResume
            for $target
        {
            fn resume(&mut self) -> ::core::result::Result<(), ()> {
                Ok(())
            }

            fn clear_resume_actions(&mut self) -> ::core::result::Result<(), ()> {
                self.$field.clear();
                Ok(())
            }

            fn set_resume_action_continue(
                &mut self,
                tid: $crate::gdb::__gdbstub::common::Tid,
                _signal: ::core::option::Option<$crate::gdb::__gdbstub::common::Signal>,
            ) -> ::core::result::Result<(), ()> {
                self.$field.resume(tid);
                Ok(())
            }

            fn support_single_step(
                &mut self,
            ) -> ::core::option::Option<
                $crate::gdb::__gdbstub::target::ext::base::multithread::MultiThreadSingleStepOps<
                    '_,
                    Self,
                >,
            > {
                Some(self)
            }

            fn support_scheduler_locking(
                &mut self,
            ) -> ::core::option::Option<
                $crate::gdb::__gdbstub::target::ext::base::multithread::MultiThreadSchedulerLockingOps<
                    '_,
                    Self,
                >,
            > {
                Some(self)
            }
        }

        impl $crate::gdb::__gdbstub::target::ext::base::multithread::MultiThreadSchedulerLocking
            for $target
        {
            fn set_resume_action_scheduler_lock(&mut self) -> ::core::result::Result<(), ()> {
                self.$field.lock().map_err(|_| ())
            }
        }

        impl $crate::gdb::__gdbstub::target::ext::base::multithread::MultiThreadSingleStep
            for $target
        {
            fn set_resume_action_step(
                &mut self,
                tid: $crate::gdb::__gdbstub::common::Tid,
                _signal: ::core::option::Option<$crate::gdb::__gdbstub::common::Signal>,
            ) -> ::core::result::Result<(), ()> {
                self.$field.step(tid).map_err(|_| ())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: usize) -> Tid {
        Tid::new(n).unwrap()
    }

    #[test]
    fn threads_are_cpus_plus_one_and_nothing_past_the_last_cpu() {
        assert_eq!(tid_of(0), t(1));
        assert_eq!(tid_of(3), t(4));
        assert_eq!(cpu_of(t(1), 4), Some(0));
        assert_eq!(cpu_of(t(4), 4), Some(3));
        assert_eq!(cpu_of(t(5), 4), None);
    }

    #[test]
    fn stops_are_told_on_the_stopping_cpu_thread() {
        let watch = SingleThreadStopReason::Watch {
            tid: (),
            kind: hwbreak::gdb::WatchKind::Read,
            addr: 0x40,
        };
        assert!(matches!(
            on_thread(watch, 2),
            MultiThreadStopReason::Watch { tid, kind: hwbreak::gdb::WatchKind::Read, addr: 0x40 }
                if tid == t(3)
        ));
        assert!(matches!(
            on_thread(SingleThreadStopReason::HwBreak(()), 1),
            MultiThreadStopReason::HwBreak(tid) if tid == t(2)
        ));
        assert!(matches!(
            on_thread(SingleThreadStopReason::DoneStep, 1),
            MultiThreadStopReason::DoneStep
        ));
        assert!(matches!(
            on_thread(SingleThreadStopReason::Signal(Signal::SIGINT), 0),
            MultiThreadStopReason::SignalWithThread { tid, signal: Signal::SIGTRAP } if tid == t(1)
        ));
    }

    #[test]
    fn only_the_serving_cpu_steps_and_a_refusal_changes_nothing() {
        let mut plan = ResumePlan::<4>::new();
        plan.serve_on(2);
        plan.clear();
        let before = plan.clone();
        assert_eq!(plan.step(t(2)), Err(ResumeRefused::StepOfAnotherThread));
        assert_eq!(plan.step(t(9)), Err(ResumeRefused::StepOfAnotherThread));
        assert_eq!(plan, before);
        assert_eq!(plan.step(t(3)), Ok(()));
        assert!(plan.stepping(2));
        assert!(!plan.stepping(1) && !plan.stepping(3) && !plan.stepping(0));
    }

    #[test]
    fn locking_is_refused_once_another_thread_is_resumed() {
        let mut plan = ResumePlan::<4>::new();
        plan.serve_on(1);
        plan.clear();
        // `vCont;s:2` with nothing else: the serving CPU alone.
        plan.resume(t(2));
        assert_eq!(plan.lock(), Ok(()));
        assert!(plan.locked());
        // `vCont;s:2;c:3` then a lock: thread 3 cannot run with the others
        // held.
        plan.clear();
        assert!(!plan.locked());
        plan.resume(t(3));
        assert_eq!(plan.lock(), Err(ResumeRefused::LockedOthers));
        assert!(!plan.locked());
    }

    #[test]
    fn clear_and_a_reported_stop_end_only_the_serving_cpu_step() {
        let mut plan = ResumePlan::<4>::new();
        plan.serve_on(1);
        plan.step(t(2)).unwrap();
        plan.lock().unwrap();
        // CPU 3 takes the next stop; CPU 1's step is still in flight.
        plan.serve_on(3);
        assert!(plan.stepping(1));
        plan.stop_reported();
        assert!(plan.stepping(1));
        plan.clear();
        assert!(plan.stepping(1) && !plan.locked());
        // CPU 1's step ends in its own stop.
        plan.serve_on(1);
        assert!(plan.stepping(1));
        plan.stop_reported();
        assert!(!plan.stepping(1));
    }

    #[test]
    fn the_end_of_the_session_stops_stepping_and_locking() {
        let mut plan = ResumePlan::<2>::new();
        plan.serve_on(1);
        plan.step(t(2)).unwrap();
        plan.lock().unwrap();
        plan.end();
        assert!(!plan.stepping(1) && !plan.locked());
        // Out-of-range CPUs are never stepping.
        assert!(!plan.stepping(7));
    }
}
