//! The Rust side of the trap vector: breakpoint exceptions go to the
//! registry (or, before it runs, to the smoke scenarios' recorder); any
//! other trap is fatal.
//!
//! Around the registry, as the backend's documentation asks: every trigger
//! is disarmed while the registry and its handlers run (a handler touching
//! a watched variable must not trap again), and rewritten from the
//! registry's table afterwards. When the registry answers
//! [`Resume::SingleStep`], an execute trigger is armed on the next
//! instruction in a slot the registry reports empty (there is one: the hit
//! slots were just disarmed); its exception completes the step.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use hwbreak::{Arch, Resume, SlotImage, Space};
use hwbreak_riscv::{insn, Trap, CAUSE_BREAKPOINT, POOL};

use crate::{exit, REGISTRY};

/// What `trap_entry` saved, in its layout (see `boot.rs`).
#[repr(C)]
pub struct Frame {
    /// x0-x31 (x0 saved as 0; x2 is the interrupted `sp`).
    pub regs: [u64; 32],
    /// `xepc`: where `xret` returns.
    pub epc: u64,
    /// `xcause`.
    pub cause: u64,
    /// `xtval`.
    pub tval: u64,
    /// `xstatus`.
    pub status: u64,
}

const _: () = assert!(core::mem::size_of::<Frame>() == 288);

/// No step trigger armed.
const NO_STEP: usize = usize::MAX;
/// The slot holding the step trigger, or [`NO_STEP`].
static STEP_SLOT: AtomicUsize = AtomicUsize::new(NO_STEP);
/// The instruction the step trigger is on.
static STEP_TARGET: AtomicU64 = AtomicU64::new(0);
/// Debug exceptions the registry reported spurious.
pub static SPURIOUS: AtomicU32 = AtomicU32::new(0);

/// Where breakpoint exceptions go.
#[derive(Copy, Clone, PartialEq, Eq)]
pub enum Route {
    /// The smoke scenarios: record the trap, disarm every trigger.
    Record = 0,
    /// The registry.
    Registry = 1,
}

static ROUTE: AtomicUsize = AtomicUsize::new(Route::Record as usize);

/// Sends breakpoint exceptions to `route` from now on.
pub fn set_route(route: Route) {
    ROUTE.store(route as usize, Ordering::SeqCst);
}

/// The last trap [`Route::Record`] saw, and how many it saw.
pub static RECORDED: critical_section::Mutex<core::cell::Cell<(u32, Trap, u64)>> =
    critical_section::Mutex::new(core::cell::Cell::new((
        0,
        Trap {
            cause: 0,
            epc: 0,
            tval: 0,
            access: None,
            stepping: false,
        },
        0,
    )));

/// The instruction at `pc` (a compressed one in the low 16 bits).
fn fetch(pc: u64) -> u32 {
    // SAFETY: `pc` is where the kernel's own code trapped: mapped, readable
    // (paging off), 2-byte aligned.
    unsafe {
        let low = core::ptr::read_volatile(pc as *const u16);
        if insn::length(low) == 2 {
            u32::from(low)
        } else {
            u32::from(low) | u32::from(core::ptr::read_volatile((pc + 2) as *const u16)) << 16
        }
    }
}

/// Writes `image` to slot `i` (or disarms it).
fn store(i: usize, image: Option<SlotImage>) {
    // SAFETY: this hart, inside its trap handler; images come from the
    // registry's table or the backend's `step_image`.
    unsafe { REGISTRY.arch().write_slot(POOL, i, image) };
}

fn triggers() -> usize {
    REGISTRY.arch().slot_counts().get(POOL)
}

#[no_mangle]
extern "C" fn trap_handler(frame: &mut Frame) {
    if frame.cause != CAUSE_BREAKPOINT {
        crate::kprintln!(
            "fatal trap: cause {:#x} epc {:#x} tval {:#x}",
            frame.cause,
            frame.epc,
            frame.tval
        );
        exit(false);
    }
    let word = fetch(frame.epc);
    if insn::is_ebreak(word) {
        // This kernel has no software breakpoints: an `ebreak` is a bug.
        crate::kprintln!("fatal: ebreak at {:#x}", frame.epc);
        exit(false);
    }
    let mut trap = Trap {
        cause: frame.cause,
        epc: frame.epc,
        tval: frame.tval,
        access: insn::access(word, &frame.regs),
        stepping: false,
    };
    if ROUTE.load(Ordering::SeqCst) == Route::Record as usize {
        // The access has not happened (triggers fire before it): with every
        // trigger off, returning runs it.
        let old = trap.access.map_or(0, |a| {
            // SAFETY: the address the kernel's own instruction is about to
            // access: mapped and readable.
            unsafe { core::ptr::read_volatile(a.addr as *const u8) }
        });
        critical_section::with(|cs| {
            let (n, _, _) = RECORDED.borrow(cs).get();
            RECORDED.borrow(cs).set((n + 1, trap, u64::from(old)));
        });
        for i in 0..triggers() {
            store(i, None);
        }
        return;
    }

    // A step trigger armed earlier goes first: it is no slot of the registry.
    let step = STEP_SLOT.swap(NO_STEP, Ordering::Relaxed);
    let target = STEP_TARGET.load(Ordering::Relaxed);
    if step != NO_STEP {
        store(step, None);
        trap.stepping = target == frame.epc;
    }
    let n = triggers();
    for i in 0..n {
        store(i, None);
    }
    let out = REGISTRY.on_debug_exception(&trap);
    for i in 0..n {
        store(i, REGISTRY.armed_slot(POOL, i).ok().flatten());
    }
    if out.spurious {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
    }
    let step_at = match out.resume {
        Resume::SingleStep => insn::next_pc(word, frame.epc, &frame.regs),
        // Another trigger fired on the stepped instruction and asked for
        // nothing new: the step it interrupted is still due.
        _ if step != NO_STEP && !trap.stepping => Some(target),
        _ => return,
    };
    let Some(pc) = step_at else {
        crate::kprintln!("cannot step over the instruction at {:#x}", frame.epc);
        exit(false);
    };
    let free = (0..n).find(|&i| matches!(REGISTRY.armed_slot(POOL, i), Ok(None)));
    match (free, REGISTRY.arch().step_image(pc, Space::Kernel)) {
        (Some(i), Ok(image)) => {
            store(i, Some(image));
            STEP_TARGET.store(pc, Ordering::Relaxed);
            STEP_SLOT.store(i, Ordering::Relaxed);
        }
        _ => {
            crate::kprintln!("no trigger free to step over {:#x}", frame.epc);
            exit(false);
        }
    }
}
