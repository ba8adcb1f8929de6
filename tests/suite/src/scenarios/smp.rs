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

use core::cell::UnsafeCell;

use crate::record::HandleCell;
use crate::{check, Api, Console, Ctx, Needs, Outcome, Scenario, Smp};
use hwbreak::{Event, EventKind, Handle, Request, Scope, TaskId};

/// CPUs the scenarios use: the boot CPU and three secondaries.
pub(crate) const CPUS: usize = 4;

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "smp_stress_repoint_watch",
        needs: Needs::DATA.cpus(CPUS as u8),
        run: stress,
    },
    Scenario {
        name: "smp_task_watch_migrates_between_cpus",
        needs: Needs::DATA.cpus(CPUS as u8),
        run: migrate,
    },
    Scenario {
        name: "smp_hotplug_restores_from_tables",
        needs: Needs::DATA.cpus(CPUS as u8),
        run: hotplug,
    },
    Scenario {
        name: "smp_debugger_install_with_world_stopped",
        needs: Needs::DATA.cpus(CPUS as u8),
        run: debugger_stop,
    },
    Scenario {
        name: "smp_modify_local_from_handler",
        needs: Needs::DATA.cpus(CPUS as u8),
        run: local_from_handler,
    },
];

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
/// Set while the boot CPU is inside an updating call: the writers store
/// in a loop only then, so their traps race the update instead of slowing
/// down the handshakes between updates.
static UPDATING: AtomicBool = AtomicBool::new(false);
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
    UPDATING.store(false, Ordering::SeqCst);
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

/// Updates the boot CPU makes (register, modify and unregister mixed):
/// 10 000, or `HWBREAK_SMP_UPDATES` when the kernel is built with it set
/// (a quicker local run; the counts line says how many ran).
const UPDATES: usize = match option_env!("HWBREAK_SMP_UPDATES") {
    Some(n) => parse_count(n),
    None => 10_000,
};

/// A decimal count at build time (a build with anything else fails).
const fn parse_count(s: &str) -> usize {
    let bytes = s.as_bytes();
    assert!(!bytes.is_empty(), "HWBREAK_SMP_UPDATES is empty");
    let mut n = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii_digit(),
            "HWBREAK_SMP_UPDATES is not a number"
        );
        n = n * 10 + (bytes[i] - b'0') as usize;
        i += 1;
    }
    assert!(n > 0, "HWBREAK_SMP_UPDATES is 0");
    n
}
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
        if UPDATING.load(Ordering::Relaxed) {
            // An update is in flight: race it.
            store(cpu, which, v);
            which ^= 1;
            v = v.wrapping_add(1);
        } else {
            core::hint::spin_loop();
        }
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
        UPDATING.store(true, Ordering::SeqCst);
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
        UPDATING.store(false, Ordering::SeqCst);
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

// ---------------------------------------------------------------------
// The registry for work on the secondaries and for handlers
// ---------------------------------------------------------------------

/// The scenario's registry, for [`Work`](crate::Work) and handlers (which
/// get only a `usize`). Set before any work is spawned, cleared after
/// every secondary is idle again.
struct RegistryCell(UnsafeCell<Option<*const (dyn Api + 'static)>>);

// SAFETY: written only by the boot CPU while no secondary runs scenario
// work and no watch of these scenarios is armed; read by work and
// handlers in between.
unsafe impl Sync for RegistryCell {}

static REGISTRY: RegistryCell = RegistryCell(UnsafeCell::new(None));

/// Lends `ctx`'s registry to work and handlers while `body` runs; every
/// secondary is idle again when it returns.
fn with_registry(ctx: &Ctx, smp: &dyn Smp, body: impl FnOnce() -> Outcome) -> Outcome {
    // SAFETY: the registry outlives the scenario (boards pass a `static`),
    // and the pointer is cleared below, once no work or handler can use
    // it any more.
    let erased: *const (dyn Api + 'static) = unsafe { core::mem::transmute(ctx.reg) };
    // SAFETY: see the `Sync` impl: no secondary runs scenario work now.
    unsafe { *REGISTRY.0.get() = Some(erased) };
    let result = body();
    wait_idle(smp);
    // SAFETY: as above.
    unsafe { *REGISTRY.0.get() = None };
    result
}

/// The lent registry.
fn registry() -> Option<&'static dyn Api> {
    // SAFETY: see `with_registry`: set for as long as work or handlers run.
    unsafe { (*REGISTRY.0.get()).map(|p| &*p) }
}

/// What a piece of work on a secondary found: 0 still running, 1 passed,
/// else 2 + the index of its failure in [`FAILURES`].
static RESULT: [AtomicUsize; CPUS] = [const { AtomicUsize::new(0) }; CPUS];
const RUNNING: usize = 0;
const PASSED: usize = 1;

static FAILURES: &[&str] = &[
    "no registry lent to the work",
    "switch_task refused on a secondary",
    "the task's watch did not trap on the CPU it moved to",
    "switching to the loaded task rewrote its slot",
    "switching away and back did not rewrite the slot",
    "the watch trapped on a CPU where its task is not loaded",
    "a watch removed while the CPU was down trapped after online",
    "a watch registered while the CPU was down did not trap after online",
    "the debugger's watch did not trap on a secondary",
    "the locally re-pointed watch still trapped at its old address",
    "the locally re-pointed watch did not trap at its new address",
    "another CPU's copy of the watch moved too",
    "a secondary's registration failed for another reason than a full pool",
];

fn fail(cpu: usize, why: usize) {
    RESULT[cpu].store(2 + why, Ordering::SeqCst);
}

/// Runs `work` on secondary `cpu` and waits for its verdict.
fn run_on(smp: &dyn Smp, cpu: usize, work: crate::Work) -> Outcome {
    RESULT[cpu].store(RUNNING, Ordering::SeqCst);
    smp.spawn(cpu as u32, work, cpu)
        .map_err(|_| "spawn refused")?;
    while !smp.is_idle(cpu as u32) || RESULT[cpu].load(Ordering::SeqCst) == RUNNING {
        core::hint::spin_loop();
    }
    match RESULT[cpu].load(Ordering::SeqCst) {
        PASSED => Ok(()),
        code => Err(FAILURES.get(code - 2).copied().unwrap_or("work failed")),
    }
}

/// Handler calls per CPU for the scenarios below (context: unused).
static CPU_HITS: [AtomicUsize; CPUS] = [const { AtomicUsize::new(0) }; CPUS];
static CPU_ADDR: [AtomicU64; CPUS] = [const { AtomicU64::new(0) }; CPUS];

fn per_cpu_handler(event: &Event) {
    let cpu = event.cpu.0 as usize;
    if event.kind == EventKind::Hit && cpu < CPUS {
        CPU_ADDR[cpu].store(event.address.unwrap_or(0), Ordering::SeqCst);
        CPU_HITS[cpu].fetch_add(1, Ordering::SeqCst);
    }
}

fn reset_cpu_hits() {
    for i in 0..CPUS {
        CPU_HITS[i].store(0, Ordering::SeqCst);
        CPU_ADDR[i].store(0, Ordering::SeqCst);
        RESULT[i].store(RUNNING, Ordering::SeqCst);
    }
}

/// Whether a store to `which` on `cpu` (the current CPU) traps.
fn store_traps(cpu: usize, which: usize) -> bool {
    let before = CPU_HITS[cpu].load(Ordering::SeqCst);
    store(cpu, which, before as u64);
    CPU_HITS[cpu].load(Ordering::SeqCst) != before
}

fn per_cpu(which: usize) -> Request {
    Request::write(var_addr(which), 8).handler(per_cpu_handler, 0)
}

// ---------------------------------------------------------------------
// A task's watch follows the task from CPU to CPU, with minimal writes
// ---------------------------------------------------------------------

const TASK: TaskId = TaskId(1);

/// On the CPU the task moves to: switch it in, prove its watch traps,
/// that switching to it again writes nothing (a slot emptied behind the
/// registry's back stays empty), that switching away and back rewrites the
/// slot, then switch it out again.
fn task_visit(cpu: usize) {
    let Some(reg) = registry() else {
        return fail(cpu, 0);
    };
    let verdict = (|| {
        let switch = |t: Option<TaskId>| reg.switch_task(t).map_err(|_| 1usize);
        switch(None)?;
        if store_traps(cpu, A) {
            return Err(5);
        }
        switch(Some(TASK))?;
        if !store_traps(cpu, A) {
            return Err(2);
        }
        let pool = reg
            .pool_of(hwbreak::AccessKind::Write)
            .map_err(|_| 1usize)?;
        let n = reg.slot_counts().get(pool);
        let Some(slot) = (0..n).find(|&k| matches!(reg.armed_slot(pool, k), Ok(Some(_)))) else {
            return Err(2);
        };
        // SAFETY: the switches below put the slot back.
        unsafe { reg.clear_slot(pool, slot) };
        switch(Some(TASK))?;
        let rewritten = store_traps(cpu, A);
        switch(None)?;
        switch(Some(TASK))?;
        let back = store_traps(cpu, A);
        switch(None)?;
        if rewritten {
            return Err(3);
        }
        if !back {
            return Err(4);
        }
        if store_traps(cpu, A) {
            return Err(5);
        }
        Ok(())
    })();
    match verdict {
        Ok(()) => RESULT[cpu].store(PASSED, Ordering::SeqCst),
        Err(why) => fail(cpu, why),
    }
}

fn migrate(ctx: &Ctx) -> Outcome {
    let smp = ctx.smp()?;
    reset_cpu_hits();
    let h = ctx
        .reg
        .register(&per_cpu(A).scope(Scope::Task(TASK)))
        .map_err(|_| "register refused")?;
    let result = with_registry(ctx, smp, || {
        // The task runs on CPUs 1, 2, 3, 1, 2, 3: each visit switches it
        // in on a CPU it left before.
        for _visit in 0..2 {
            for cpu in 1..CPUS {
                run_on(smp, cpu, task_visit)?;
            }
        }
        // The boot CPU never loaded the task: its stores do not trap.
        check(
            !store_traps(0, A),
            "trapped on a CPU that never ran the task",
        )
    });
    let removed = ctx.reg.unregister(h).map_err(|_| "unregister refused");
    result?;
    removed?;
    check(
        (1..CPUS).all(|c| CPU_HITS[c].load(Ordering::SeqCst) == 4),
        "hit counts per CPU differ from two visits' worth",
    )
}

// ---------------------------------------------------------------------
// Hotplug: a CPU brought back loads the registry's tables
// ---------------------------------------------------------------------

const HOTPLUG_CPU: usize = CPUS - 1;

fn after_online(cpu: usize) {
    if store_traps(cpu, A) {
        return fail(cpu, 6);
    }
    if !store_traps(cpu, B) {
        return fail(cpu, 7);
    }
    RESULT[cpu].store(PASSED, Ordering::SeqCst);
}

fn hotplug(ctx: &Ctx) -> Outcome {
    let smp = ctx.smp()?;
    reset_cpu_hits();
    let mut g = crate::Guard::new(ctx.reg);
    let old = g.register(&per_cpu(A)).map_err(|_| "register refused")?;
    let cpu = HOTPLUG_CPU as u32;
    smp.offline(cpu).map_err(|_| "offline refused")?;
    // While it is down: the watch it held goes, another one comes and is
    // moved once.
    let changed = (|| {
        g.unregister(old).map_err(|_| "unregister refused")?;
        let new = g.register(&per_cpu(A)).map_err(|_| "register refused")?;
        ctx.reg
            .modify(new, &per_cpu(B))
            .map_err(|_| "modify refused")
    })();
    let back = smp.online(cpu).map_err(|_| "online refused");
    changed?;
    back?;
    run_on(smp, HOTPLUG_CPU, after_online)?;
    // The CPUs that stayed up agree.
    check(
        !store_traps(0, A) && store_traps(0, B),
        "the boot CPU's watch is wrong",
    )
}

// ---------------------------------------------------------------------
// The debugger's lockless path with the world stopped
// ---------------------------------------------------------------------

/// A secondary's registration racing the debugger for the last slot:
/// 0 pending, 1 registered, 2 refused for lack of room.
static RACER: AtomicUsize = AtomicUsize::new(0);
static RACER_HANDLE: HandleCell = HandleCell::new();

fn racer(cpu: usize) {
    let Some(reg) = registry() else {
        return fail(cpu, 0);
    };
    match reg.register(&per_cpu(A)) {
        Ok(h) => {
            RACER_HANDLE.set(Some(h));
            RACER.store(1, Ordering::SeqCst);
        }
        Err(e) if e.kind() == hwbreak::ErrorKind::NoSlot => RACER.store(2, Ordering::SeqCst),
        Err(_) => return fail(cpu, 12),
    }
    RESULT[cpu].store(PASSED, Ordering::SeqCst);
}

fn debugger_hit(cpu: usize) {
    if !store_traps(cpu, B) {
        return fail(cpu, 8);
    }
    RESULT[cpu].store(PASSED, Ordering::SeqCst);
}

fn debugger_stop(ctx: &Ctx) -> Outcome {
    let smp = ctx.smp()?;
    reset_cpu_hits();
    RACER.store(0, Ordering::SeqCst);
    RACER_HANDLE.set(None);
    let pool = ctx.data_pool();
    let slots = ctx.reg.slot_counts().get(pool);
    let mut g = crate::Guard::new(ctx.reg);
    // Fill the pool but for one slot (pinned watches beside A and B).
    for i in 0..slots.saturating_sub(1) {
        g.register(&Request::write(crate::target::addr(8 * i), 8))
            .map_err(|_| "filling the pool refused")?;
    }
    let base = ctx.reg.pool_usage(pool);
    with_registry(ctx, smp, || {
        RESULT[1].store(RUNNING, Ordering::SeqCst);
        smp.spawn(1, racer, 1).map_err(|_| "spawn refused")?;
        // The debugger stops the world, wherever the registration is.
        smp.stop_others();
        let first = ctx.reg.debugger_install(&per_cpu(B));
        smp.resume_others();
        while !smp.is_idle(1) || RACER.load(Ordering::SeqCst) == 0 {
            if RESULT[1].load(Ordering::SeqCst) > PASSED {
                return Err(FAILURES[12]);
            }
            core::hint::spin_loop();
        }
        let normal_won = RACER.load(Ordering::SeqCst) == 1;
        check(
            normal_won != first.is_ok(),
            "both or neither of the registration and the debugger got the last slot",
        )?;
        let (load, debugger) = ctx.reg.pool_usage(pool);
        check(
            load + debugger == slots as u32 && debugger == u32::from(first.is_ok()),
            "the ledger does not account for exactly the slots given out",
        )?;
        // Make sure the debugger holds a slot, stopping the world again.
        let d = match first {
            Ok(d) => d,
            Err(_) => {
                let h = RACER_HANDLE
                    .get()
                    .ok_or("the registration left no handle")?;
                ctx.reg.unregister(h).map_err(|_| "unregister refused")?;
                smp.stop_others();
                let d = ctx.reg.debugger_install(&per_cpu(B));
                smp.resume_others();
                d.map_err(|_| "debugger_install refused with a free slot")?
            }
        };
        let traps_everywhere = (|| {
            check(
                store_traps(0, B),
                "the debugger's watch did not trap on CPU 0",
            )?;
            for cpu in 1..CPUS {
                run_on(smp, cpu, debugger_hit)?;
            }
            Ok(())
        })();
        let removed = ctx
            .reg
            .debugger_remove(d)
            .map_err(|_| "debugger_remove refused");
        if normal_won {
            // Already unregistered above.
        } else if let Some(h) = RACER_HANDLE.get() {
            let _ = ctx.reg.unregister(h);
        }
        traps_everywhere?;
        removed?;
        check(ctx.reg.pool_usage(pool) == base, "slots leaked")
    })
}

// ---------------------------------------------------------------------
// modify_local from inside a handler, with the other CPUs up
// ---------------------------------------------------------------------

const MOVER_CPU: usize = 2;
static MOVER: HandleCell = HandleCell::new();
static MOVED: AtomicUsize = AtomicUsize::new(0);

/// Counts the hit; on [`MOVER_CPU`], re-points the watch to B there.
fn mover_handler(event: &Event) {
    per_cpu_handler(event);
    if event.kind != EventKind::Hit || event.cpu.0 as usize != MOVER_CPU {
        return;
    }
    if let (Some(reg), Some(h)) = (registry(), MOVER.get()) {
        if reg.modify_local(h, &per_cpu(B)).is_ok() {
            MOVED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn mover_work(cpu: usize) {
    // The first store traps and re-points this CPU's copy to B.
    if !store_traps(cpu, A) {
        return fail(cpu, 9);
    }
    if store_traps(cpu, A) {
        return fail(cpu, 9);
    }
    if !store_traps(cpu, B) {
        return fail(cpu, 10);
    }
    RESULT[cpu].store(PASSED, Ordering::SeqCst);
}

fn bystander_work(cpu: usize) {
    if !store_traps(cpu, A) || store_traps(cpu, B) {
        return fail(cpu, 11);
    }
    RESULT[cpu].store(PASSED, Ordering::SeqCst);
}

fn local_from_handler(ctx: &Ctx) -> Outcome {
    let smp = ctx.smp()?;
    reset_cpu_hits();
    MOVED.store(0, Ordering::SeqCst);
    let mut g = crate::Guard::new(ctx.reg);
    let h = g
        .register(&Request::write(var_addr(A), 8).handler(mover_handler, 0))
        .map_err(|_| "register refused")?;
    MOVER.set(Some(h));
    let result = with_registry(ctx, smp, || {
        run_on(smp, MOVER_CPU, mover_work)?;
        run_on(smp, 1, bystander_work)?;
        run_on(smp, 3, bystander_work)?;
        check(
            store_traps(0, A) && !store_traps(0, B),
            "the boot CPU's copy of the watch moved",
        )?;
        let reported = CPU_ADDR[MOVER_CPU].load(Ordering::SeqCst);
        check(
            reported == 0 || reported == var_addr(B),
            "the hit on the re-pointed watch reported another address",
        )
    });
    MOVER.set(None);
    result?;
    check(
        MOVED.load(Ordering::SeqCst) >= 1,
        "the handler's modify_local failed",
    )
}
