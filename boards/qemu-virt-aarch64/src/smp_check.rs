//! Board checks of the SMP services themselves (before the suite, which
//! uses them through the registry): cross-CPU calls made from every CPU at
//! once, the round-up with calls in flight, and a hotplug cycle. Each
//! would hang (QEMU's timeout) or count wrong if the board deadlocked,
//! lost a call or let a stopped CPU run.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::{smp, CPUS};

/// Calls each CPU makes in the first check.
const ROUNDS: u32 = 25;
/// Round-ups the boot CPU makes in the second check.
const STOPS: u32 = 10;

/// Per CPU: cross-call functions it ran.
static RAN: [AtomicU32; CPUS] = [const { AtomicU32::new(0) }; CPUS];
/// Cross-call functions that ran with IRQs unmasked.
static UNMASKED: AtomicU32 = AtomicU32::new(0);
/// Per CPU: turns of the progress loop.
static PROGRESS: [AtomicU32; CPUS] = [const { AtomicU32::new(0) }; CPUS];
/// Ends the progress loops.
static DONE: AtomicBool = AtomicBool::new(false);

/// The cross-call function: counts where it ran and checks that IRQs are
/// masked there.
fn count_here() {
    RAN[smp::current_cpu() as usize].fetch_add(1, Ordering::SeqCst);
    let daif: u64;
    // SAFETY: reads DAIF, no side effect.
    unsafe {
        core::arch::asm!("mrs {0}, daif", out(reg) daif, options(nomem, nostack, preserves_flags))
    };
    if daif & (1 << 7) == 0 {
        UNMASKED.fetch_add(1, Ordering::SeqCst);
    }
}

fn snapshot() -> [u32; CPUS] {
    core::array::from_fn(|i| RAN[i].load(Ordering::SeqCst))
}

/// Spawned work: [`ROUNDS`] cross-CPU calls.
fn calls(_: usize) {
    for _ in 0..ROUNDS {
        smp::run_on_each_cpu(&count_here);
    }
}

/// Spawned work: counts turns, with a cross-CPU call every 8th, until
/// [`DONE`].
fn progress(cpu: usize) {
    while !DONE.load(Ordering::SeqCst) {
        let turn = PROGRESS[cpu].fetch_add(1, Ordering::SeqCst);
        if turn.is_multiple_of(8) {
            smp::run_on_each_cpu(&count_here);
        }
    }
}

fn wait_idle(n: u32) {
    for cpu in 1..n {
        while !smp::is_idle(cpu) {
            core::hint::spin_loop();
        }
    }
}

fn spawn_all(n: u32, work: fn(usize)) -> Result<(), &'static str> {
    for cpu in 1..n {
        smp::spawn(cpu, work, cpu as usize)?;
    }
    Ok(())
}

/// Every CPU makes [`ROUNDS`] calls at the same time: each CPU ran every
/// call exactly once, with IRQs masked.
fn calls_from_every_cpu(n: u32) -> Result<(), &'static str> {
    let before = snapshot();
    spawn_all(n, calls)?;
    calls(0);
    wait_idle(n);
    let after = snapshot();
    for cpu in 0..n as usize {
        if after[cpu] - before[cpu] != n * ROUNDS {
            return Err("a CPU did not run every call exactly once");
        }
    }
    if UNMASKED.load(Ordering::SeqCst) != 0 {
        return Err("a call ran with IRQs unmasked");
    }
    Ok(())
}

/// The secondaries count turns and make calls; the boot CPU stops them
/// [`STOPS`] times. While stopped, none moves on, and a call the stopper
/// makes runs once on each of them.
fn round_up_with_calls_in_flight(n: u32) -> Result<(), &'static str> {
    DONE.store(false, Ordering::SeqCst);
    spawn_all(n, progress)?;
    let mut result = Ok(());
    for _ in 0..STOPS {
        smp::stop_others();
        let turns: [u32; CPUS] = core::array::from_fn(|i| PROGRESS[i].load(Ordering::SeqCst));
        let before = snapshot();
        smp::run_on_each_cpu(&count_here);
        let after = snapshot();
        for _ in 0..10_000 {
            core::hint::spin_loop();
        }
        let frozen = (1..n as usize).all(|i| PROGRESS[i].load(Ordering::SeqCst) == turns[i]);
        let once = (0..n as usize).all(|i| after[i] == before[i] + 1);
        smp::resume_others();
        if !frozen {
            result = Err("a stopped CPU moved on");
        } else if !once {
            result = Err("the stopper's call did not run once on every CPU");
        }
        if result.is_err() {
            break;
        }
    }
    DONE.store(true, Ordering::SeqCst);
    wait_idle(n);
    if (1..n as usize).any(|i| PROGRESS[i].load(Ordering::SeqCst) == 0) {
        return Err("a secondary never ran");
    }
    result
}

/// CPU 1 goes down and comes back: calls skip it while it is down and
/// reach it again afterwards.
fn hotplug_cycle(n: u32) -> Result<(), &'static str> {
    smp::offline(1)?;
    if smp::is_idle(1) {
        return Err("CPU 1 is idle after going offline");
    }
    let before = snapshot();
    smp::run_on_each_cpu(&count_here);
    let down = snapshot();
    smp::online(1)?;
    smp::run_on_each_cpu(&count_here);
    let up = snapshot();
    if down[1] != before[1] || up[1] != before[1] + 1 {
        return Err("CPU 1 ran a call while down, or none once back");
    }
    if (0..n as usize).any(|i| i != 1 && up[i] != before[i] + 2) {
        return Err("an online CPU missed a call");
    }
    Ok(())
}

/// One check.
struct Check {
    name: &'static str,
    run: fn(u32) -> Result<(), &'static str>,
}

const CHECKS: &[Check] = &[
    Check {
        name: "aarch64_board_cross_calls_from_every_cpu",
        run: calls_from_every_cpu,
    },
    Check {
        name: "aarch64_board_round_up_with_calls_in_flight",
        run: round_up_with_calls_in_flight,
    },
    Check {
        name: "aarch64_board_hotplug_cycle",
        run: hotplug_cycle,
    },
];

/// Runs the checks (after the secondaries are up, before the suite);
/// returns `(passed, failed, skipped)`. On one CPU they are skipped.
pub fn run() -> (u32, u32, u32) {
    let n = smp::cpu_count();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for c in CHECKS {
        if n < 2 {
            skipped += 1;
            crate::kprintln!("test {} ... skipped (one CPU)", c.name);
            continue;
        }
        match (c.run)(n) {
            Ok(()) => {
                passed += 1;
                crate::kprintln!("test {} ... ok", c.name);
            }
            Err(why) => {
                failed += 1;
                crate::kprintln!("test {} ... FAILED ({})", c.name, why);
            }
        }
    }
    (passed, failed, skipped)
}
