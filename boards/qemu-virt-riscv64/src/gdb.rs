//! The kernel's GDB stub (feature `gdb`): a gdbstub `Target` over the trap
//! [`Frame`], GDB's hardware breakpoints and watchpoints through the
//! registry ([`hwbreak::gdb::GdbBreakpoints`]), and the trap routing that
//! turns breakpoint exceptions into GDB stops. One hart, one thread.
//!
//! The session (gdbstub's state machine, kept between stops) is
//! [`hwbreak_suite::gdb::Session`]; the wire is [`GdbUart`], the 16550.
//!
//! Stops:
//! - the `ebreak` of [`initial_stop`]: the session starts, GDB is told
//!   SIGTRAP;
//! - a hit of one of GDB's breakpoints or watchpoints: the
//!   [`GdbStop`](hwbreak::gdb::GdbStop) the registry's handler left in the
//!   latch;
//! - the single step GDB asked for: `DoneStep`. The hart has no step trap:
//!   the trap handler arms an execute trigger on the next instruction, as
//!   for the registry's step-over;
//! - any other `ebreak` (what GDB writes itself for `break`): SIGTRAP, PC
//!   left on the `ebreak`, where GDB finds its breakpoint (gdbstub refuses
//!   the `SwBreak` stop reason for a target without `Z0` support);
//! - the `ebreak` of [`final_stop`]: GDB is told the program exited (0).
//!
//! The trap handler disarms every trigger before it calls in here and
//! rewrites them from the registry's table after, so the stub's reads of
//! GDB's watched variables do not trap. A `Z` packet arms its trigger at
//! once, though (the registry writes the slot), so the stub disarms every
//! trigger again before it touches memory for GDB.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use gdbstub::common::Signal;
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
use gdbstub_arch::riscv::reg::RiscvCoreRegs;
use gdbstub_arch::riscv::Riscv64;
use hwbreak::gdb::{GdbBreakpoints, StopLatch};
use hwbreak_riscv::Riscv;
use hwbreak_suite::gdb::{Served, Session};

use crate::gdb_uart::GdbUart;
use crate::platform::VirtPlatform;
use crate::trap::{disarm_all, Frame};
use crate::REGISTRY;

/// The end of QEMU `virt`'s RAM (128 MiB from 0x8000_0000, QEMU's default
/// `-m`, spelled out in the variant). GDB may read and write from the
/// kernel's load address up to here only: below the kernel, in S-mode,
/// lies OpenSBI, which PMP guards from S-mode (an access would fault the
/// stub); devices and holes are refused too.
const RAM_END: u64 = 0x8000_0000 + 128 * 1024 * 1024;

/// GDB's breakpoints: one record per hart (this board has one).
static LATCH: StopLatch<1> = StopLatch::new();
/// The gdbstub session, kept between stops.
static SESSION: Session<KernelTarget, GdbUart> = Session::new();
/// Between the first stop and the end of the session: breakpoint
/// exceptions go through the stub.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The one target.
static TARGET: TargetCell = TargetCell(UnsafeCell::new(KernelTarget {
    hw: GdbBreakpoints::new(&REGISTRY, &LATCH),
    frame: core::ptr::null_mut(),
    step: false,
}));

struct TargetCell(UnsafeCell<KernelTarget>);

// SAFETY: only the trap handler of the one hart uses it, and that handler
// does not nest (every trigger is off while it runs, interrupts are off in
// a trap, and it makes no other trapping access).
unsafe impl Sync for TargetCell {}

// The stub's own stops: an `ebreak` at a known address each (uncompressed,
// so the handler steps 4 bytes past it).
core::arch::global_asm!(
    ".section .text.gdb_stops, \"ax\"",
    ".balign 4",
    ".option push",
    ".option norvc",
    ".globl hwbreak_gdb_start",
    "hwbreak_gdb_start:",
    "ebreak",
    "ret",
    ".globl hwbreak_gdb_exit",
    "hwbreak_gdb_exit:",
    "ebreak",
    "ret",
    ".option pop",
);

extern "C" {
    fn hwbreak_gdb_start();
    fn hwbreak_gdb_exit();
}

/// The kernel as GDB sees it: one thread, the interrupted context's
/// registers in the trap frame.
pub struct KernelTarget {
    hw: GdbBreakpoints<'static, Riscv, VirtPlatform, 64, 1, 8>,
    /// The frame of the stop being served; null while the kernel runs.
    frame: *mut Frame,
    /// GDB's last resume was a single step.
    step: bool,
}

hwbreak::gdb_hw_extensions!(KernelTarget => hw);

impl KernelTarget {
    fn frame(&mut self) -> &mut Frame {
        assert!(!self.frame.is_null(), "the stub runs only at a stop");
        // SAFETY: `serve` points it at the handler's frame for the duration
        // of the session call and does not touch the frame itself meanwhile.
        unsafe { &mut *self.frame }
    }
}

impl Target for KernelTarget {
    type Arch = Riscv64;
    type Error = ();

    fn base_ops(&mut self) -> BaseOps<'_, Riscv64, ()> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    /// GDB's `break` writes an `ebreak` into the kernel's text itself
    /// (memory writes are allowed and the stub reports a foreign `ebreak`
    /// as SIGTRAP); the stub's own breakpoints are hardware ones.
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

/// Bytes from `addr` (at most `len`) inside the kernel's RAM.
fn in_ram(addr: u64, len: usize) -> usize {
    extern "C" {
        static __kernel_start: u8;
    }
    let start = &raw const __kernel_start as u64;
    if (start..RAM_END).contains(&addr) {
        len.min((RAM_END - addr) as usize)
    } else {
        0
    }
}

impl SingleThreadBase for KernelTarget {
    fn read_registers(&mut self, regs: &mut RiscvCoreRegs<u64>) -> TargetResult<(), Self> {
        let f = self.frame();
        // x2 is the interrupted `sp` (the entry code saved it from
        // `xscratch`); x0 was saved as 0.
        regs.x = f.regs;
        regs.pc = f.epc;
        Ok(())
    }

    fn write_registers(&mut self, regs: &RiscvCoreRegs<u64>) -> TargetResult<(), Self> {
        let f = self.frame();
        // The entry code restores x1-x31 (x2 last, as `sp`) and `xepc`; x0
        // stays 0 whatever GDB sends.
        f.regs = regs.x;
        f.regs[0] = 0;
        f.epc = regs.pc;
        Ok(())
    }

    fn read_addrs(&mut self, start_addr: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        let n = in_ram(start_addr, data.len());
        if n == 0 {
            return Err(TargetError::NonFatal);
        }
        // A `Z` packet served before this one may have armed a trigger on
        // these bytes; the handler rewrites every trigger after the stop.
        disarm_all();
        for (i, b) in data[..n].iter_mut().enumerate() {
            // SAFETY: inside the kernel's RAM, paging off: a byte read
            // cannot fault, and no trigger is armed.
            *b = unsafe { core::ptr::read_volatile((start_addr + i as u64) as *const u8) };
        }
        Ok(n)
    }

    fn write_addrs(&mut self, start_addr: u64, data: &[u8]) -> TargetResult<(), Self> {
        if in_ram(start_addr, data.len()) != data.len() {
            return Err(TargetError::NonFatal);
        }
        disarm_all();
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: as in `read_addrs`. GDB writes variables and, for
            // `break`, instructions of the stopped kernel.
            unsafe { core::ptr::write_volatile((start_addr + i as u64) as *mut u8, b) };
        }
        // SAFETY: an instruction fetch fence only: GDB may have written
        // instructions (an `ebreak` for `break`), which must be fetched
        // fresh.
        unsafe { core::arch::asm!("fence.i", options(nostack, preserves_flags)) };
        Ok(())
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for KernelTarget {
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), ()> {
        // A kernel has no signals to deliver: a signal GDB passes is dropped.
        self.step = false;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadSingleStep for KernelTarget {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), ()> {
        self.step = true;
        Ok(())
    }
}

/// The target. Only the trap handler calls it.
fn target() -> &'static mut KernelTarget {
    // SAFETY: see `TargetCell`: one hart, the non-nesting trap handler, and
    // every caller drops the reference before returning.
    unsafe { &mut *TARGET.0.get() }
}

/// Stops for GDB: the session starts here.
pub fn initial_stop() {
    // SAFETY: its `ebreak` traps to the handler, which serves GDB and
    // returns past it; an external call lets the compiler assume GDB
    // changed any memory.
    unsafe { hwbreak_gdb_start() };
}

/// Tells GDB the program exited (status 0); the session ends.
pub fn final_stop() {
    // SAFETY: as in `initial_stop`.
    unsafe { hwbreak_gdb_exit() };
}

/// Serves GDB at a stop. Returns whether GDB asked for a single step.
fn serve(frame: &mut Frame, stop: SingleThreadStopReason<u64>) -> bool {
    let t = target();
    t.frame = frame;
    t.step = false;
    // SAFETY: the trap handler of the one hart, not nested; the target
    // describes the interrupted context.
    let served = unsafe { SESSION.serve(t, stop, GdbUart::open) };
    t.frame = core::ptr::null_mut();
    if served == Served::Detached {
        // GDB detached, killed or was told the program exited: its
        // breakpoints go, the kernel runs on without a debugger.
        ACTIVE.store(false, Ordering::SeqCst);
        t.hw.clear();
        t.step = false;
    }
    t.step
}

/// A breakpoint exception the registry has handled; `stepping`: it is the
/// step trigger firing. Returns whether a step GDB asked for is (still)
/// due. Without an active session: `false`, nothing else.
pub fn on_debug(frame: &mut Frame, stepping: bool) -> bool {
    if !ACTIVE.load(Ordering::SeqCst) {
        return false;
    }
    let t = target();
    match hwbreak_suite::gdb::stop_after_debug_exception(t.hw.take_stop(), t.step, stepping) {
        Some(stop) => serve(frame, stop),
        // Not GDB's (the end of the registry's step-over, a kernel
        // breakpoint): no stop; a step GDB asked for goes on.
        None => t.step,
    }
}

/// An `ebreak` at `frame.epc`. `None` when it is not the stub's (the
/// caller reports it as fatal); else whether GDB asked for a single step.
pub fn on_ebreak(frame: &mut Frame) -> Option<bool> {
    let active = ACTIVE.load(Ordering::SeqCst);
    let start = hwbreak_gdb_start as unsafe extern "C" fn() as usize as u64;
    let exit = hwbreak_gdb_exit as unsafe extern "C" fn() as usize as u64;
    match frame.epc {
        pc if pc == start && !active => {
            // Past the `ebreak` before GDB looks: it sees (and resumes or
            // steps from) the next instruction.
            frame.epc += 4;
            ACTIVE.store(true, Ordering::SeqCst);
            Some(serve(
                frame,
                SingleThreadStopReason::Signal(Signal::SIGTRAP),
            ))
        }
        pc if pc == exit => {
            frame.epc += 4;
            Some(active && serve(frame, SingleThreadStopReason::Exited(0)))
        }
        // GDB's own `ebreak`: it expects the PC on it and steps over it
        // itself (removing it first). Not `SwBreak`: gdbstub ends the
        // session on that stop reason when the target has no `Z0` support.
        _ if active => Some(serve(
            frame,
            SingleThreadStopReason::Signal(Signal::SIGTRAP),
        )),
        _ => None,
    }
}
