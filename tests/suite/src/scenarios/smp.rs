//! Multiprocessor scenarios: the update protocol with other CPUs hitting
//! the breakpoint being changed, per-task breakpoints migrating between
//! CPUs, hotplug, the kernel debugger's lockless path with the world
//! stopped, and the atomic-context modify.
//!
//! They need the board's [`Smp`](crate::Smp) services and at least
//! [`CPUS`] CPUs; elsewhere they are `skipped`. The CPUs other than the
//! boot CPU run [`Work`](crate::Work) the scenario spawns; scenario and
//! work share only the statics of this module.

use core::fmt::Write as _;
use core::sync::atomic::{compiler_fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::{check, Console, Ctx, Needs, Outcome, Scenario, Smp};
use hwbreak::{Event, EventKind, Handle, Request};

/// CPUs the scenarios use: the boot CPU and three secondaries.
pub(crate) const CPUS: usize = 4;

pub(crate) static SCENARIOS: &[Scenario] = &[Scenario {
    name: "smp_stress_repoint_watch",
    needs: Needs::DATA.cpus(CPUS as u8),
    run: stress,
}];

// ---------------------------------------------------------------------
// Shared variables and the secondaries' bookkeeping
// ---------------------------------------------------------------------

/// The two watched variables, in separate 256-byte halves of one block
/// (no hardware granule holds both).
#[repr(C, align(512))]
struct Vars {
    a: AtomicU64,
    _pad: [u64; 31],
    b: AtomicU64,
}

static VARS: Vars = Vars {
    a: AtomicU64::new(0),
    _pad: [0; 31],
    b: AtomicU64::new(0),
};

/// Which variable: `A` or `B`.
const A: usize = 0;
const B: usize = 1;

fn var(which: usize) -> &'static AtomicU64 {
    if which == A {
        &VARS.a
    } else {
        &VARS.b
    }
}

fn var_addr(which: usize) -> u64 {
    var(which) as *const AtomicU64 as u64
}

/// Stores to `which` on CPU `cpu`, saying so first: a handler running on
/// `cpu` compares what it was told to watch with this.
fn store(cpu: usize, which: usize, v: u64) {
    WRITING[cpu].store(which, Ordering::Relaxed);
    // The handler runs on this CPU from inside the store below: program
    // order is all it needs, as long as the compiler keeps it.
    compiler_fence(Ordering::SeqCst);
    var(which).store(v, Ordering::Relaxed);
    compiler_fence(Ordering::SeqCst);
}

/// Per CPU: the variable it is storing to.
static WRITING: [AtomicUsize; CPUS] = [const { AtomicUsize::new(A) }; CPUS];
/// Per CPU: handler calls.
static HITS: [AtomicUsize; CPUS] = [const { AtomicUsize::new(0) }; CPUS];
/// Per CPU: the generation of its last handler call.
static LAST_GEN: [AtomicUsize; CPUS] = [const { AtomicUsize::new(0) }; CPUS];
/// Handler calls whose watch is not the variable the CPU was storing to
/// (or that reported an address outside it).
static MISATTRIBUTED: AtomicUsize = AtomicUsize::new(0);
/// Handler calls for a generation older than the one every CPU has
/// acknowledged (a hit after removal).
static AFTER_REMOVAL: AtomicUsize = AtomicUsize::new(0);
/// Handshake stores that did not trap with the settings just installed.
static LOST: AtomicUsize = AtomicUsize::new(0);
/// The generation current on every CPU: set once the updating call that
/// installed it returned (every CPU has reloaded by then).
static ACKED: AtomicUsize = AtomicUsize::new(0);
/// What is watched now: `1 + A`, `1 + B`, or 0 for nothing.
static WATCHED: AtomicUsize = AtomicUsize::new(0);
/// Bumped after each update; each writer answers in [`ANSWERED`].
static EPOCH: AtomicUsize = AtomicUsize::new(0);
static ANSWERED: [AtomicUsize; CPUS] = [const { AtomicUsize::new(0) }; CPUS];
/// Tells the writers to return.
static STOP: AtomicBool = AtomicBool::new(false);

fn reset_shared() {
    for i in 0..CPUS {
        WRITING[i].store(A, Ordering::SeqCst);
        HITS[i].store(0, Ordering::SeqCst);
        LAST_GEN[i].store(0, Ordering::SeqCst);
        ANSWERED[i].store(0, Ordering::SeqCst);
    }
    for c in [
        &MISATTRIBUTED,
        &AFTER_REMOVAL,
        &LOST,
        &ACKED,
        &WATCHED,
        &EPOCH,
    ] {
        c.store(0, Ordering::SeqCst);
    }
    STOP.store(false, Ordering::SeqCst);
}

/// A handler context: the generation of the update that installed the
/// watch and the variable it watches.
const fn context(generation: usize, which: usize) -> usize {
    generation << 1 | which
}

/// The stress scenario's handler: checks each call against what the CPU
/// was storing to and against the acknowledged generation.
fn attributing_handler(event: &Event) {
    if event.kind != EventKind::Hit {
        return;
    }
    let cpu = event.cpu.0 as usize;
    if cpu >= CPUS {
        MISATTRIBUTED.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let (generation, which) = (event.context >> 1, event.context & 1);
    let addr = var_addr(which);
    let outside = event
        .address
        .is_some_and(|a| !(addr..addr + 8).contains(&a));
    if WRITING[cpu].load(Ordering::Relaxed) != which || outside {
        MISATTRIBUTED.fetch_add(1, Ordering::SeqCst);
    }
    if generation < ACKED.load(Ordering::SeqCst) {
        AFTER_REMOVAL.fetch_add(1, Ordering::SeqCst);
    }
    LAST_GEN[cpu].store(generation, Ordering::Relaxed);
    HITS[cpu].fetch_add(1, Ordering::Relaxed);
}

/// Waits until every secondary has returned from its work.
fn wait_idle(smp: &dyn Smp) {
    for cpu in 1..CPUS as u32 {
        while !smp.is_idle(cpu) {
            core::hint::spin_loop();
        }
    }
}

/// Spawns `work(cpu)` on every secondary.
fn spawn_all(smp: &dyn Smp, work: crate::Work) -> Outcome {
    for cpu in 1..CPUS {
        if smp.spawn(cpu as u32, work, cpu).is_err() {
            STOP.store(true, Ordering::SeqCst);
            wait_idle(smp);
            return Err("spawn refused");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Stress: re-pointing a system-wide watch while three CPUs store
// ---------------------------------------------------------------------

/// Updates the boot CPU makes (register, modify and unregister mixed).
const UPDATES: usize = 10_000;
/// Updates per register .. unregister cycle (register, modifies,
/// unregister).
const CYCLE: usize = 8;

/// A secondary's loop: alternate stores to A and B; after each update,
/// one store to what is watched now, which must trap with the settings of
/// that update.
fn writer(cpu: usize) {
    let mut seen = 0;
    let mut which = A;
    let mut v = 0u64;
    while !STOP.load(Ordering::Acquire) {
        let epoch = EPOCH.load(Ordering::Acquire);
        if epoch != seen {
            seen = epoch;
            let generation = ACKED.load(Ordering::Acquire);
            match WATCHED.load(Ordering::Acquire) {
                0 => {
                    // Nothing is watched: a trap now is a hit after
                    // removal, which the handler counts.
                    store(cpu, A, v);
                    store(cpu, B, v);
                }
                w => {
                    let before = HITS[cpu].load(Ordering::Relaxed);
                    store(cpu, w - 1, v);
                    let hit = HITS[cpu].load(Ordering::Relaxed) == before + 1
                        && LAST_GEN[cpu].load(Ordering::Relaxed) == generation;
                    if !hit {
                        LOST.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            ANSWERED[cpu].store(epoch, Ordering::Release);
        }
        store(cpu, which, v);
        which ^= 1;
        v = v.wrapping_add(1);
    }
}

fn stress(ctx: &Ctx) -> Outcome {
    let smp = ctx.smp()?;
    reset_shared();
    spawn_all(smp, writer)?;
    let result = repoint(ctx);
    STOP.store(true, Ordering::SeqCst);
    wait_idle(smp);
    let result = result.and_then(|h| match h {
        Some(h) => ctx
            .reg
            .unregister(h)
            .map_err(|_| "final unregister refused"),
        None => Ok(()),
    });
    let hits: [usize; CPUS] = core::array::from_fn(|i| HITS[i].load(Ordering::SeqCst));
    let (mis, after, lost) = (
        MISATTRIBUTED.load(Ordering::SeqCst),
        AFTER_REMOVAL.load(Ordering::SeqCst),
        LOST.load(Ordering::SeqCst),
    );
    let _ = writeln!(
        Console(ctx.board),
        "smp stress: cpus={CPUS} updates={} hits={}/{}/{} misattributed={mis} after_removal={after} lost={lost}",
        EPOCH.load(Ordering::SeqCst),
        hits[1],
        hits[2],
        hits[3],
    );
    result?;
    check(
        mis == 0,
        "a hit ran the handler of a watch its CPU did not hold",
    )?;
    check(after == 0, "a hit after every CPU acknowledged its removal")?;
    check(
        lost == 0,
        "a store after an update did not trap with its settings",
    )?;
    check(hits[1..].iter().all(|&h| h > 0), "a writer never trapped")
}

/// The boot CPU's part of [`stress`]: [`UPDATES`] updates, each followed by
/// the writers' handshake. Returns the handle still registered.
fn repoint(ctx: &Ctx) -> Result<Option<Handle>, &'static str> {
    let mut handle = None;
    let mut which = A;
    for update in 1..=UPDATES {
        let generation = update;
        let req = |w: usize| {
            Request::write(var_addr(w), 8).handler(attributing_handler, context(generation, w))
        };
        let watched = match handle {
            None => {
                handle = Some(
                    ctx.reg
                        .register(&req(which))
                        .map_err(|_| "register refused")?,
                );
                1 + which
            }
            Some(h) if update % CYCLE == 0 => {
                ctx.reg.unregister(h).map_err(|_| "unregister refused")?;
                handle = None;
                0
            }
            Some(h) => {
                which ^= 1;
                ctx.reg
                    .modify(h, &req(which))
                    .map_err(|_| "modify refused")?;
                1 + which
            }
        };
        // Every CPU has reloaded: older generations are gone everywhere.
        ACKED.store(generation, Ordering::SeqCst);
        WATCHED.store(watched, Ordering::SeqCst);
        EPOCH.store(update, Ordering::SeqCst);
        for answered in &ANSWERED[1..] {
            while answered.load(Ordering::Acquire) != update {
                core::hint::spin_loop();
            }
        }
    }
    Ok(handle)
}
