//! GDB sessions in the board kernels (feature `gdb`).
//!
//! A board built with `gdb` runs no scenarios: it stops once at boot for
//! GDB to connect, runs [`debuggee`] (the program `cargo xtask gdb` drives
//! a real `gdb-multiarch` through: `hbreak`, `watch`, `rwatch`, `awatch`),
//! reports an exit to GDB and powers off.
//!
//! The board owns the exception entry, the registers and the wire; this
//! module owns what is the same everywhere: the program and the gdbstub
//! state machine kept between stops ([`Session`]). The board's target
//! implements gdbstub's `Target` with the breakpoint extensions forwarded to
//! a [`hwbreak::gdb::GdbBreakpoints`] (`hwbreak::gdb_hw_extensions!`), so
//! every `Z` packet GDB sends goes through the registry.

use core::cell::UnsafeCell;
use core::ptr::{addr_of, addr_of_mut};

use gdbstub::conn::ConnectionExt;
use gdbstub::stub::state_machine::{state, GdbStubStateMachine, GdbStubStateMachineInner};
use gdbstub::stub::{GdbStubBuilder, IntoStopReason};
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
) -> Option<gdbstub::stub::SingleThreadStopReason<u64>> {
    match hit {
        Some(hit) => Some(hit.into()),
        None if gdb_stepping && step_trap => Some(gdbstub::stub::SingleThreadStopReason::DoneStep),
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
/// Use it from the debug exception only, on one CPU at a time (the boards
/// have one), never nested: the boards' exception entries guarantee it
/// (x86 clears DR7 before any Rust code runs in #DB and #BP; AArch64 masks
/// debug exceptions on exception entry).
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

// SAFETY: see the type's documentation: only the debug exception of the
// one CPU touches it, never re-entered.
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
    /// trap) of the one CPU, never nested; `target` must describe the
    /// interrupted context.
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
