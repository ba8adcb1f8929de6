//! Exception dispatch: debug interrupts go to the installed hook, the
//! external interrupt to the cross-CPU call path, the decrementer is
//! pushed back; anything else is fatal and reported. Built with `gdb`,
//! every CPU publishes the frame of the interrupt it is in (`FRAMES`),
//! debug interrupts go on to the GDB stub once the hook has handled them,
//! and trap-type program interrupts (`tw`/`twi`) are the stub's stops.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::firmware::MAX_CPUS;

use hwbreak::native::{access, Dsisr, Srr1, Trap, VECTOR_DSI, VECTOR_TRACE};
use hwbreak::Resume;

use crate::entry::Frame;
use crate::println;

/// Handles a debug interrupt; `None`: not ours (fatal).
pub type Hook = fn(&Trap) -> Option<Resume>;

static HOOK: AtomicUsize = AtomicUsize::new(0);
/// Per CPU: MSR\[SE\] was set on return for a step the hook asked for.
static STEPPING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// The external interrupt vector.
const VECTOR_EXTERNAL: u64 = 0x500;
/// The decrementer vector.
const VECTOR_DECREMENTER: u64 = 0x900;
/// The program interrupt vector.
#[cfg(feature = "gdb")]
const VECTOR_PROGRAM: u64 = 0x700;
/// SRR1 bit 46 of a program interrupt: a trap instruction (`tw`, `twi`)
/// trapped.
#[cfg(feature = "gdb")]
const SRR1_PROGRAM_TRAP: u64 = 1 << (63 - 46);

/// Per CPU: the frame of the innermost interrupt it is handling (null in
/// the kernel's own context), for the GDB stub to show a stopped CPU's
/// registers.
#[cfg(feature = "gdb")]
pub static FRAMES: [core::sync::atomic::AtomicPtr<Frame>; MAX_CPUS] =
    [const { core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

fn stepping_flag() -> &'static AtomicBool {
    &STEPPING[crate::smp::this_cpu()]
}

/// Installs the debug hook.
pub fn set_hook(hook: Hook) {
    HOOK.store(hook as usize, Ordering::SeqCst);
}

/// Whether a single step is in flight on this CPU.
pub fn stepping() -> bool {
    stepping_flag().load(Ordering::SeqCst)
}

/// Whether this CPU single-steps on return from the debug interrupt whose
/// registry outcome is `resume`: the registry's step-over starts, ends, or
/// stays as it was.
#[cfg(feature = "gdb")]
pub fn steps_after(resume: Resume) -> bool {
    match resume {
        Resume::SingleStep => true,
        Resume::EndSingleStep => false,
        Resume::Continue | Resume::SetResumeFlag => stepping(),
    }
}

/// Sets or clears MSR\[SE\] in the MSR `rfid` restores, and records it, so
/// the next Trace interrupt is known as the step's completion
/// ([`Trap::stepping`]).
fn set_single_step(frame: &mut Frame, on: bool) {
    frame.srr1 = Srr1(frame.srr1).with_single_step(on).0;
    stepping_flag().store(on, Ordering::SeqCst);
}

/// [`set_single_step`] for the GDB stub, which combines the registry's
/// step-over with the steps GDB asks for.
#[cfg(feature = "gdb")]
pub fn set_step(frame: &mut Frame, on: bool) {
    set_single_step(frame, on);
}

/// Called by the common exception path with the saved registers.
#[no_mangle]
pub extern "C" fn hwb_exception(frame: &mut Frame) {
    #[cfg(feature = "gdb")]
    {
        let cpu = crate::smp::this_cpu();
        let outer = FRAMES[cpu].swap(frame, Ordering::AcqRel);
        handle(frame);
        FRAMES[cpu].store(outer, Ordering::Release);
    }
    #[cfg(not(feature = "gdb"))]
    handle(frame);
}

/// What an interrupt does with its saved `frame`.
fn handle(frame: &mut Frame) {
    if frame.vector == VECTOR_EXTERNAL {
        crate::smp::on_external_interrupt();
        return;
    }
    if frame.vector == VECTOR_DECREMENTER {
        // Nothing here uses the timer: push the next decrementer interrupt
        // as far out as the 32-bit decrementer allows (it is pending while
        // the decrementer is negative, so this also dismisses it).
        // SAFETY: DEC (SPR 22) is this CPU's timer, used by nothing else.
        unsafe { core::arch::asm!("mtspr 22, {0}", in(reg) 0x7fff_ffffu64, options(nostack)) };
        return;
    }
    if frame.vector == VECTOR_DSI || frame.vector == VECTOR_TRACE {
        let access = if frame.vector == VECTOR_DSI && Dsisr(frame.dsisr).watchpoint_match() {
            // SAFETY: SRR0 is the (real-mode) address of the instruction
            // that trapped, in our own text.
            let insn = unsafe { (frame.srr0 as usize as *const u32).read_volatile() };
            access::decode(insn, &frame.gpr)
        } else {
            None
        };
        let trap = Trap {
            vector: frame.vector,
            srr0: frame.srr0,
            srr1: frame.srr1,
            dar: frame.dar,
            dsisr: frame.dsisr,
            access,
            stepping: stepping_flag().load(Ordering::SeqCst),
        };
        let hook = HOOK.load(Ordering::SeqCst);
        if hook != 0 {
            // SAFETY: only `set_hook` stores here, from a `Hook`.
            let hook: Hook = unsafe { core::mem::transmute::<usize, Hook>(hook) };
            if let Some(resume) = hook(&trap) {
                // With a GDB session active, the stub reports GDB's stops
                // and combines its single step with the registry's.
                #[cfg(feature = "gdb")]
                if crate::gdb::on_debug(frame, &trap, resume) {
                    return;
                }
                match resume {
                    Resume::SingleStep => set_single_step(frame, true),
                    Resume::EndSingleStep => set_single_step(frame, false),
                    Resume::Continue | Resume::SetResumeFlag => {}
                }
                return;
            }
        }
    }
    #[cfg(feature = "gdb")]
    if frame.vector == VECTOR_PROGRAM
        && frame.srr1 & SRR1_PROGRAM_TRAP != 0
        && crate::gdb::on_trap_instruction(frame)
    {
        return;
    }
    println!(
        "\nfatal interrupt {:#x}: srr0 {:#x} srr1 {:#x} dar {:#x} dsisr {:#x} lr {:#x}",
        frame.vector, frame.srr0, frame.srr1, frame.dar, frame.dsisr, frame.lr
    );
    crate::firmware::os_term(c"hwbreak: unexpected interrupt")
}
