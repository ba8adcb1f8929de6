//! Backend smoke scenarios: the AArch64 backend alone (encoders, the
//! unsafe register writes, the decoder on real traps, single step), without
//! the registry. Each proves a real trap, or a real absence of one followed
//! by a trap.

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hwbreak::{AccessKind, PoolId, Resume, SlotImage, Space};
use hwbreak_aarch64::cpu::{self, HardwareSlots};
use hwbreak_aarch64::decode::decode;
use hwbreak_aarch64::{encode, Trap};

use crate::exceptions::set_debug_handler;

static HITS: AtomicU32 = AtomicU32::new(0);
static STEPS: AtomicU32 = AtomicU32::new(0);
static LAST_EC: AtomicU32 = AtomicU32::new(0);
static LAST_FAR: AtomicU64 = AtomicU64::new(0);
static LAST_ELR: AtomicU64 = AtomicU64::new(0);
/// Bits 0-15: code slots disarmed for a step; bits 16-31: data slots.
static STEPPING: AtomicU32 = AtomicU32::new(0);
static SAVED: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
/// Address the handler reads when a hit is taken (0: none), and what it saw.
static PROBE: AtomicU64 = AtomicU64::new(0);
static PROBED: AtomicU64 = AtomicU64::new(0);

fn save_index(pool: PoolId, i: usize) -> usize {
    (pool.index() * 16 + i) * 2
}

/// Debug exception handler used while the smoke scenarios run.
fn handler(trap: &Trap) -> Resume {
    let d = decode(trap, &HardwareSlots::current());
    if d.step_complete {
        STEPS.fetch_add(1, Ordering::Relaxed);
        let mask = STEPPING.swap(0, Ordering::Relaxed);
        for bit in 0..32 {
            if mask & (1 << bit) != 0 {
                let (pool, i) = if bit < 16 {
                    (PoolId::FIRST, bit)
                } else {
                    (PoolId::SECOND, bit - 16)
                };
                let at = save_index(pool, i);
                let img = SlotImage {
                    value: SAVED[at].load(Ordering::Relaxed),
                    control: SAVED[at + 1].load(Ordering::Relaxed),
                };
                // SAFETY: current CPU, restoring an image read from the slot.
                unsafe { cpu::write_slot(pool, i, Some(img)) };
            }
        }
        return Resume::EndSingleStep;
    }
    HITS.fetch_add(1, Ordering::Relaxed);
    LAST_EC.store(u32::from(trap.exception_class()), Ordering::Relaxed);
    LAST_FAR.store(trap.far, Ordering::Relaxed);
    LAST_ELR.store(trap.elr, Ordering::Relaxed);
    let probe = PROBE.load(Ordering::Relaxed);
    if probe != 0 {
        // SAFETY: PROBE holds the address of a live `static u64`; debug
        // exceptions are masked here, so the read does not nest.
        PROBED.store(
            unsafe { read_volatile(probe as *const u64) },
            Ordering::Relaxed,
        );
    }
    let mut stepping = 0;
    for (p, pool) in [PoolId::FIRST, PoolId::SECOND].into_iter().enumerate() {
        for i in 0..16 {
            if d.hits[p] & (1 << i) != 0 {
                if let Some(img) = cpu::read_slot(pool, i) {
                    let at = save_index(pool, i);
                    SAVED[at].store(img.value, Ordering::Relaxed);
                    SAVED[at + 1].store(img.control, Ordering::Relaxed);
                }
                // SAFETY: current CPU; disarmed for the step over the hit.
                unsafe { cpu::write_slot(pool, i, None) };
                stepping |= 1 << (p * 16 + i);
            }
        }
    }
    if stepping == 0 {
        // Nothing matched: disarm everything rather than loop.
        clear_all();
        return Resume::Continue;
    }
    STEPPING.store(stepping, Ordering::Relaxed);
    Resume::SingleStep
}

fn clear_all() {
    for i in 0..16 {
        // SAFETY: current CPU; disarming.
        unsafe {
            cpu::write_slot(PoolId::FIRST, i, None);
            cpu::write_slot(PoolId::SECOND, i, None);
        }
    }
}

fn reset() {
    clear_all();
    HITS.store(0, Ordering::Relaxed);
    STEPS.store(0, Ordering::Relaxed);
    PROBE.store(0, Ordering::Relaxed);
    PROBED.store(0, Ordering::Relaxed);
    STEPPING.store(0, Ordering::Relaxed);
}

fn arm(pool: PoolId, index: usize, img: SlotImage) {
    // SAFETY: current CPU; the image comes from the backend's encoder and
    // the smoke handler is installed.
    unsafe {
        cpu::write_slot(pool, index, Some(img));
        cpu::enable_debug();
    }
}

static mut SMOKE_VAR: u64 = 0;
static TARGET_CALLS: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
fn smoke_target(x: u32) -> u32 {
    TARGET_CALLS.fetch_add(1, Ordering::Relaxed);
    x.wrapping_mul(3)
}

fn var_addr() -> u64 {
    (&raw const SMOKE_VAR) as u64
}

fn store(v: u64) {
    // SAFETY: a plain static, only touched by these scenarios (one CPU).
    unsafe { write_volatile(&raw mut SMOKE_VAR, v) };
}

fn load() -> u64 {
    // SAFETY: as in `store`.
    unsafe { read_volatile(&raw const SMOKE_VAR) }
}

fn check(ok: bool, why: &'static str) -> Result<(), &'static str> {
    if ok {
        Ok(())
    } else {
        Err(why)
    }
}

fn counts() -> Result<(), &'static str> {
    let (b, w) = cpu::implemented_pairs();
    check(
        b == 6 && w == 4,
        "ID_AA64DFR0_EL1 does not report 6 breakpoint and 4 watchpoint pairs",
    )
}

fn watch_write() -> Result<(), &'static str> {
    store(1);
    let img = encode::watchpoint(var_addr(), 8, AccessKind::Write, Space::Kernel)
        .map_err(|_| "encode refused")?;
    arm(PoolId::SECOND, 0, img);
    check(
        cpu::read_slot(PoolId::SECOND, 0) == Some(img),
        "DBGWVR0/DBGWCR0 read back differ",
    )?;
    PROBE.store(var_addr(), Ordering::Relaxed);
    store(0x1234);
    check(
        HITS.load(Ordering::Relaxed) == 1,
        "no watchpoint trap on store",
    )?;
    check(LAST_EC.load(Ordering::Relaxed) == 0x35, "EC is not 0x35")?;
    check(
        LAST_FAR.load(Ordering::Relaxed) == var_addr(),
        "FAR is not the stored address",
    )?;
    check(
        PROBED.load(Ordering::Relaxed) == 1,
        "the trap was not taken before the store",
    )?;
    check(
        load() == 0x1234,
        "the store did not complete after the step",
    )?;
    check(
        STEPS.load(Ordering::Relaxed) == 1,
        "no single-step completion",
    )?;
    check(
        cpu::read_slot(PoolId::SECOND, 0) == Some(img),
        "slot not re-armed after the step",
    )?;
    // A load does not trap a store-only watchpoint.
    let _ = load();
    check(
        HITS.load(Ordering::Relaxed) == 1,
        "a load trapped a store watchpoint",
    )?;
    store(5);
    check(
        HITS.load(Ordering::Relaxed) == 2,
        "second store did not trap",
    )?;
    // Disarmed: no trap.
    // SAFETY: current CPU.
    unsafe { cpu::write_slot(PoolId::SECOND, 0, None) };
    store(6);
    check(HITS.load(Ordering::Relaxed) == 2, "a disarmed slot trapped")
}

fn break_execute() -> Result<(), &'static str> {
    let f = smoke_target as *const () as u64;
    let img = encode::breakpoint(f, 4, Space::Kernel).map_err(|_| "encode refused")?;
    arm(PoolId::FIRST, 5, img);
    let r = smoke_target(7);
    check(HITS.load(Ordering::Relaxed) == 1, "no breakpoint trap")?;
    check(LAST_EC.load(Ordering::Relaxed) == 0x31, "EC is not 0x31")?;
    check(
        LAST_ELR.load(Ordering::Relaxed) == f,
        "ELR is not the function",
    )?;
    check(
        r == 21 && TARGET_CALLS.load(Ordering::Relaxed) == 1,
        "the function did not run exactly once",
    )?;
    let _ = smoke_target(1);
    check(
        HITS.load(Ordering::Relaxed) == 2,
        "the re-armed breakpoint did not trap again",
    )
}

fn double_lock_gates() -> Result<(), &'static str> {
    let img = encode::watchpoint(var_addr(), 8, AccessKind::Write, Space::Kernel)
        .map_err(|_| "encode refused")?;
    arm(PoolId::SECOND, 3, img);
    // SAFETY: current CPU; sets, then clears, the OS double lock.
    unsafe { cpu::set_double_lock(true) };
    store(7);
    let locked_hits = HITS.load(Ordering::Relaxed);
    // SAFETY: as above.
    unsafe { cpu::set_double_lock(false) };
    check(locked_hits == 0, "trapped with the OS double lock set")?;
    store(8);
    check(
        HITS.load(Ordering::Relaxed) == 1,
        "no trap after clearing the OS double lock",
    )
}

fn mde_gates() -> Result<(), &'static str> {
    let img = encode::watchpoint(var_addr(), 8, AccessKind::Write, Space::Kernel)
        .map_err(|_| "encode refused")?;
    arm(PoolId::SECOND, 1, img);
    // SAFETY: current CPU; turns MDSCR_EL1.MDE/KDE off, then on again.
    unsafe { cpu::disable_debug() };
    store(9);
    let off_hits = HITS.load(Ordering::Relaxed);
    // SAFETY: as above.
    unsafe { cpu::enable_debug() };
    check(off_hits == 0, "trapped with MDSCR_EL1.MDE clear")?;
    store(10);
    check(
        HITS.load(Ordering::Relaxed) == 1,
        "no trap after setting MDSCR_EL1.MDE",
    )
}

/// One smoke scenario.
pub struct Smoke {
    /// Reported name.
    pub name: &'static str,
    /// The check.
    pub run: fn() -> Result<(), &'static str>,
}

/// The backend smoke scenarios.
pub const SMOKE: &[Smoke] = &[
    Smoke {
        name: "aarch64_backend_slot_counts",
        run: counts,
    },
    Smoke {
        name: "aarch64_backend_watch_write",
        run: watch_write,
    },
    Smoke {
        name: "aarch64_backend_break_execute",
        run: break_execute,
    },
    Smoke {
        name: "aarch64_backend_double_lock_gates",
        run: double_lock_gates,
    },
    Smoke {
        name: "aarch64_backend_mde_gates",
        run: mde_gates,
    },
];

/// Runs the smoke scenarios with their own debug handler; returns
/// `(passed, failed)`. Leaves every slot disarmed and the debug enables off.
pub fn run() -> (u32, u32) {
    let (mut passed, mut failed) = (0, 0);
    set_debug_handler(Some(handler));
    for s in SMOKE {
        reset();
        match (s.run)() {
            Ok(()) => {
                passed += 1;
                crate::kprintln!("test {} ... ok", s.name);
            }
            Err(why) => {
                failed += 1;
                crate::kprintln!("test {} ... FAILED ({})", s.name, why);
            }
        }
    }
    reset();
    // SAFETY: current CPU; nothing is armed any more.
    unsafe { cpu::disable_debug() };
    set_debug_handler(None);
    (passed, failed)
}
