//! Exception dispatch: debug interrupts go to the installed hook, the
//! external interrupt to the cross-CPU call path, the decrementer is
//! pushed back; anything else is fatal and reported.

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
/// Per CPU: MSR[SE] was set on return for a step the hook asked for.
static STEPPING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// The external interrupt vector.
const VECTOR_EXTERNAL: u64 = 0x500;
/// The decrementer vector.
const VECTOR_DECREMENTER: u64 = 0x900;

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

/// Called by the common exception path with the saved registers.
#[no_mangle]
pub extern "C" fn hwb_exception(frame: &mut Frame) {
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
                match resume {
                    Resume::SingleStep => {
                        frame.srr1 = Srr1(frame.srr1).with_single_step(true).0;
                        stepping_flag().store(true, Ordering::SeqCst);
                    }
                    Resume::EndSingleStep => {
                        frame.srr1 = Srr1(frame.srr1).with_single_step(false).0;
                        stepping_flag().store(false, Ordering::SeqCst);
                    }
                    Resume::Continue | Resume::SetResumeFlag => {}
                }
                return;
            }
        }
    }
    println!(
        "\nfatal interrupt {:#x}: srr0 {:#x} srr1 {:#x} dar {:#x} dsisr {:#x} lr {:#x}",
        frame.vector, frame.srr0, frame.srr1, frame.dar, frame.dsisr, frame.lr
    );
    crate::firmware::os_term(c"hwbreak: unexpected interrupt")
}
