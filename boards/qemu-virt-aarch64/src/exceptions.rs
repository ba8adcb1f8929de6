//! The Rust side of the exception vectors.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use hwbreak::Resume;
use hwbreak_aarch64::cpu;
use hwbreak_aarch64::Trap;

/// What the vector code saved, in its layout (see `boot.rs`).
#[repr(C)]
pub struct Frame {
    /// x0-x30.
    pub x: [u64; 31],
    /// ELR_EL1: where `eret` returns.
    pub elr: u64,
    /// SPSR_EL1: the PSTATE `eret` restores (SS, D, ...).
    pub spsr: u64,
    /// ESR_EL1.
    pub esr: u64,
    /// FAR_EL1.
    pub far: u64,
    /// FPCR.
    pub fpcr: u64,
    /// FPSR.
    pub fpsr: u64,
    /// SP_EL0: the interrupted kernel stack (the kernel runs on SP_EL0),
    /// written back before `eret` (the GDB stub lets GDB change it).
    pub sp_el0: u64,
    /// q0-q31.
    pub q: [u128; 32],
}

const _: () = assert!(core::mem::size_of::<Frame>() == 816);

/// Where debug exceptions go: a `fn(&Trap) -> Resume`, or 0 for none.
static DEBUG_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// Debug exceptions taken since boot (all kinds, steps included).
pub static DEBUG_EXCEPTIONS: AtomicU32 = AtomicU32::new(0);

/// Sends debug exceptions to `f` (or nowhere).
pub fn set_debug_handler(f: Option<fn(&Trap) -> Resume>) {
    DEBUG_HANDLER.store(f.map_or(0, |f| f as usize), Ordering::SeqCst);
}

const KINDS: [&str; 16] = [
    "sync (EL1, SP0)",
    "irq (EL1, SP0)",
    "fiq (EL1, SP0)",
    "serror (EL1, SP0)",
    "sync (EL1, SPx)",
    "irq (EL1, SPx)",
    "fiq (EL1, SPx)",
    "serror (EL1, SPx)",
    "sync (EL0, A64)",
    "irq (EL0, A64)",
    "fiq (EL0, A64)",
    "serror (EL0, A64)",
    "sync (EL0, A32)",
    "irq (EL0, A32)",
    "fiq (EL0, A32)",
    "serror (EL0, A32)",
];

/// Per CPU: the frame of the innermost exception it is handling (null in
/// the kernel's own context), for the GDB stub to show a stopped CPU's
/// registers.
#[cfg(feature = "gdb")]
pub static FRAMES: [core::sync::atomic::AtomicPtr<Frame>; crate::CPUS] =
    [const { core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()) }; crate::CPUS];

/// Called by the vector code with the saved frame and the vector number.
#[no_mangle]
extern "C" fn hwbreak_board_exception(frame: &mut Frame, kind: u64) {
    #[cfg(feature = "gdb")]
    {
        let cpu = crate::smp::current_cpu() as usize;
        let outer = FRAMES[cpu].swap(frame, Ordering::AcqRel);
        handle(frame, kind);
        FRAMES[cpu].store(outer, Ordering::Release);
    }
    #[cfg(not(feature = "gdb"))]
    handle(frame, kind);
}

/// What an exception of vector `kind` does with its saved `frame`.
fn handle(frame: &mut Frame, kind: u64) {
    // IRQ from the kernel (SP_EL0) or from an exception handler that
    // unmasked them (SP_EL1): the cross-CPU mailbox SGI.
    if kind == 1 || kind == 5 {
        crate::smp::on_irq();
        return;
    }
    let trap = Trap::new(frame.esr, frame.far, frame.elr);
    if kind == 0 && trap.is_debug() {
        DEBUG_EXCEPTIONS.fetch_add(1, Ordering::Relaxed);
        let handler = DEBUG_HANDLER.load(Ordering::SeqCst);
        if handler != 0 {
            // SAFETY: only `set_debug_handler` stores here, from a
            // `fn(&Trap) -> Resume`.
            let f: fn(&Trap) -> Resume = unsafe { core::mem::transmute(handler) };
            let resume = f(&trap);
            // With a GDB session active, the stub reports GDB's stops and
            // combines its single step with the registry's.
            #[cfg(feature = "gdb")]
            // SAFETY: this is the synchronous exception handler and `frame`
            // is what its `eret` restores.
            if unsafe { crate::gdb::on_debug(frame, &trap, resume) } {
                return;
            }
            // SAFETY: we are in the exception handler whose `eret` restores
            // `frame.spsr`.
            unsafe { cpu::apply_resume(resume, &mut frame.spsr) };
            return;
        }
    }
    // `brk #imm` (EC 0x3c, the immediate in ISS[15:0]): the GDB stub's stops.
    #[cfg(feature = "gdb")]
    if kind == 0 && trap.exception_class() == hwbreak_aarch64::decode::ec::BRK {
        // SAFETY: as above.
        if unsafe { crate::gdb::on_brk(frame, (frame.esr & 0xffff) as u16) } {
            return;
        }
    }
    crate::kprintln!(
        "unexpected exception: {} esr={:#x} (EC {:#x}) elr={:#x} far={:#x} spsr={:#x}",
        KINDS[(kind & 15) as usize],
        frame.esr,
        trap.exception_class(),
        frame.elr,
        frame.far,
        frame.spsr
    );
    crate::exit(false);
}
