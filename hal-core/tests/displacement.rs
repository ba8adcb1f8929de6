//! Which breakpoints a higher-priority request displaces: only armed
//! flexible ones of strictly lower priority that compete with it for a
//! slot on some CPU, the lowest priorities first, and no more of them than
//! it needs. A refusal displaces nothing.

mod common;

use common::*;
use hwbreak_core::model::Config;
use hwbreak_core::{
    AccessKind, CpuId, ErrorKind, EventKind, Handle, Priority, Request, Scope, State, TaskId,
};

const BASE: u64 = 0xffff_8000_0030_0000;

/// An 8-byte write watch at the `n`th distinct address, counted by a fresh
/// handler context (returned).
fn watch(n: u64, scope: Scope, priority: u8) -> (Request, usize) {
    let ctx = counter();
    let req = Request::write(BASE + 64 * n, 8)
        .scope(scope)
        .priority(Priority(priority))
        .handler(count, ctx);
    (req, ctx)
}

struct Placed {
    handle: Handle,
    ctx: usize,
}

fn place(r: &Rig, n: &mut u64, scope: Scope, priority: u8, flexible: bool) -> Placed {
    let (mut req, ctx) = watch(*n, scope, priority);
    *n += 1;
    if flexible {
        req = req.flexible();
    }
    let handle = r.reg.register(&req).unwrap();
    assert_eq!(r.reg.state(handle).unwrap(), State::Armed);
    Placed { handle, ctx }
}

fn displaced(r: &Rig, p: &Placed) -> bool {
    let waiting = r.reg.state(p.handle).unwrap() == State::Waiting;
    assert_eq!(
        waiting,
        events_of(p.ctx) == [EventKind::Displaced],
        "the state and the events told must agree"
    );
    waiting
}

const T1: TaskId = TaskId(1);
const T2: TaskId = TaskId(2);
const C0: CpuId = CpuId(0);
const C1: CpuId = CpuId(1);

/// For each case: four flexible breakpoints of priority 5 in `filler` fill
/// the pool where the new pinned request of priority 9 in `new` needs a
/// slot; each `decoy` is a flexible breakpoint of priority 1 (the lowest,
/// so tried first) that holds a slot the new request cannot use. The new
/// request displaces exactly one filler and no decoy. A request considers
/// at most eight breakpoints for displacement, so the last two cases
/// register eight decoys first: ones that cannot help must not take the
/// places of those that can.
#[test]
fn only_competing_breakpoints_are_displaced() {
    const C2: CpuId = CpuId(2);
    const T3: TaskId = TaskId(3);
    let (c1, c2) = (Scope::Cpu(C1), Scope::Cpu(C2));
    let other_cpus = [c1, c1, c1, c1, c2, c2, c2, c2];
    let (t2, t3) = (Scope::TaskOnCpu(T2, C0), Scope::TaskOnCpu(T3, C0));
    let other_tasks = [t2, t2, t2, t2, t3, t3, t3, t3];
    let cases: [(Scope, Scope, &[Scope]); 8] = [
        (Scope::Cpu(C0), Scope::Cpu(C0), &[Scope::Cpu(C1)]),
        (
            Scope::Cpu(C0),
            Scope::TaskOnCpu(T1, C0),
            &[Scope::TaskOnCpu(T1, C1)],
        ),
        (Scope::Task(T1), Scope::Task(T1), &[Scope::Task(T2)]),
        (
            Scope::Task(T1),
            Scope::TaskOnCpu(T1, C0),
            &[Scope::TaskOnCpu(T2, C0)],
        ),
        (
            Scope::TaskOnCpu(T1, C0),
            Scope::TaskOnCpu(T1, C0),
            &[Scope::TaskOnCpu(T2, C0), Scope::TaskOnCpu(T1, C1)],
        ),
        (
            Scope::TaskOnCpu(T1, C0),
            Scope::Task(T1),
            &[Scope::Task(T2)],
        ),
        (Scope::Cpu(C0), Scope::Cpu(C0), &other_cpus),
        (
            Scope::TaskOnCpu(T1, C0),
            Scope::TaskOnCpu(T1, C0),
            &other_tasks,
        ),
    ];
    for (new, filler, decoys) in cases {
        let r = rig(Config::x86_like(3));
        let mut n = 0;
        let decoys: Vec<Placed> = decoys
            .iter()
            .map(|&s| place(&r, &mut n, s, 1, true))
            .collect();
        let fillers: Vec<Placed> = (0..4).map(|_| place(&r, &mut n, filler, 5, true)).collect();
        let (req, _) = watch(n, new, 9);
        r.reg
            .register(&req)
            .unwrap_or_else(|e| panic!("{new:?} over {filler:?}: {e:?}"));
        for d in &decoys {
            assert!(!displaced(&r, d), "{new:?} displaced a non-competing decoy");
        }
        let gone = fillers.iter().filter(|f| displaced(&r, f)).count();
        assert_eq!(gone, 1, "{new:?} over {filler:?}");
    }
}

/// Equal priority is not enough: a pinned request of the same priority as
/// the flexible ones holding the pool is refused and displaces nothing.
#[test]
fn equal_priority_does_not_displace() {
    let r = rig(Config::x86_like(1));
    let mut n = 0;
    let held: Vec<Placed> = (0..4)
        .map(|_| place(&r, &mut n, Scope::AllCpus, 5, true))
        .collect();
    let (req, _) = watch(n, Scope::AllCpus, 5);
    assert_eq!(r.reg.register(&req).unwrap_err().kind(), ErrorKind::NoSlot);
    assert!(held.iter().all(|h| !displaced(&r, h)));
    // One step higher is enough.
    let (req, _) = watch(n + 1, Scope::AllCpus, 6);
    r.reg.register(&req).unwrap();
    assert_eq!(held.iter().filter(|h| displaced(&r, h)).count(), 1);
}

/// Four CPUs full of flexible CPU-bound breakpoints, more candidates than
/// one request considers: a system-wide pinned request needs one slot on
/// every CPU and gets it by displacing the lowest-priority breakpoint of
/// each CPU, even though those were registered last.
#[test]
fn the_lowest_priorities_are_chosen_among_many_candidates() {
    let r = rig(Config::x86_like(4));
    let mut n = 0;
    // CPU c holds three of priorities 10 + 3c ..= 12 + 3c ...
    let mut high = Vec::new();
    for c in 0..4 {
        for k in 0..3 {
            high.push(place(
                &r,
                &mut n,
                Scope::Cpu(CpuId(c)),
                10 + 3 * c as u8 + k,
                true,
            ));
        }
    }
    // ... and one of priority 1 + c.
    let low: Vec<Placed> = (0..4)
        .map(|c| place(&r, &mut n, Scope::Cpu(CpuId(c)), 1 + c as u8, true))
        .collect();
    let (req, _) = watch(n, Scope::AllCpus, 100);
    r.reg.register(&req).unwrap();
    assert!(low.iter().all(|l| displaced(&r, l)));
    assert!(high.iter().all(|h| !displaced(&r, h)));
}

/// When displacing every candidate it may consider would still not make
/// room (one CPU is full of pinned breakpoints), the request is refused
/// and nothing is displaced.
#[test]
fn a_refused_request_displaces_nothing() {
    let r = rig(Config::x86_like(4));
    let mut n = 0;
    let mut flexible = Vec::new();
    for c in 0..3 {
        for _ in 0..4 {
            flexible.push(place(&r, &mut n, Scope::Cpu(CpuId(c)), 1 + c as u8, true));
        }
    }
    for _ in 0..4 {
        place(&r, &mut n, Scope::Cpu(CpuId(3)), 1, false);
    }
    let (req, _) = watch(n, Scope::AllCpus, 100);
    assert_eq!(r.reg.register(&req).unwrap_err().kind(), ErrorKind::NoSlot);
    assert!(flexible.iter().all(|f| !displaced(&r, f)));
}

/// When one call frees room for more waiting breakpoints than it can
/// report, every breakpoint it arms again is told so: none comes back
/// silently.
#[test]
fn every_breakpoint_armed_again_is_told() {
    let r = rig(Config::x86_like(1));
    // 32 aligned bytes: all four slots.
    let wide = r
        .reg
        .register(&Request::write(BASE + 0x1000, 32).priority(Priority(200)))
        .unwrap();
    let mut waiting = Vec::new();
    let mut n = 0;
    for t in 0..8 {
        for _ in 0..4 {
            let (req, ctx) = watch(n, Scope::Task(TaskId(t)), 1);
            n += 1;
            let handle = r.reg.register(&req.flexible()).unwrap();
            assert_eq!(r.reg.state(handle).unwrap(), State::Waiting);
            waiting.push(Placed { handle, ctx });
        }
    }
    r.reg.unregister(wide).unwrap();
    let mut armed = 0;
    for w in &waiting {
        let is_armed = r.reg.state(w.handle).unwrap() == State::Armed;
        assert_eq!(
            is_armed,
            events_of(w.ctx) == [EventKind::Reinstated],
            "armed again exactly when told so"
        );
        armed += usize::from(is_armed);
    }
    assert!(armed > 0);
}

/// Identical flexible requests share one slot, so they are displaced and
/// armed again together: every sharer's state changes, and every sharer's
/// handler is told, not only the first registered.
#[test]
fn sharers_of_a_displaced_slot_are_all_told() {
    let r = rig(Config::x86_like(1));
    let mut n = 0;
    let (req, _) = watch(n, Scope::AllCpus, 1);
    n += 1;
    // More sharers than any fixed list of events an operation could carry.
    let shared: Vec<Placed> = (0..20)
        .map(|_| {
            let ctx = counter();
            let handle = r.reg.register(&req.flexible().handler(count, ctx)).unwrap();
            Placed { handle, ctx }
        })
        .collect();
    let _fillers: Vec<Placed> = (0..3)
        .map(|_| place(&r, &mut n, Scope::AllCpus, 5, false))
        .collect();
    let pinned = place(&r, &mut n, Scope::AllCpus, 9, false);
    for s in &shared {
        assert!(displaced(&r, s), "every sharer waits and is told so");
    }
    r.reg.unregister(pinned.handle).unwrap();
    for s in &shared {
        assert_eq!(r.reg.state(s.handle).unwrap(), State::Armed);
        assert_eq!(
            events_of(s.ctx),
            [EventKind::Displaced, EventKind::Reinstated]
        );
    }
}

/// Registers a pinned watch of priority 100 needing two slots (16 aligned
/// bytes: two 8-byte pieces) at the `n`th address; it must be armed.
/// Returns which of `placed` were displaced for it.
fn gave_way_to_two_slots(r: &Rig, n: u64, placed: &[Placed]) -> Vec<bool> {
    let new = Request::write(BASE + 64 * n, 16).priority(Priority(100));
    let h = r.reg.register(&new).unwrap();
    assert_eq!(r.reg.state(h).unwrap(), State::Armed);
    placed.iter().map(|p| displaced(r, p)).collect()
}

/// Candidates found in no particular order of priority: a request that
/// needs two slots takes them from the two lowest priorities, wherever
/// they sit in the table, and leaves the higher ones armed.
#[test]
fn the_two_lowest_priorities_give_way_whatever_their_order() {
    let r = rig(Config::x86_like(1));
    let mut n = 0;
    let placed: Vec<Placed> = [10, 5, 7, 8]
        .into_iter()
        .map(|p| place(&r, &mut n, Scope::AllCpus, p, true))
        .collect();
    assert_eq!(
        gave_way_to_two_slots(&r, n, &placed),
        [false, true, true, false]
    );
    assert!(r.consistent(0));
}

/// Candidates found highest priority first, behind a pinned breakpoint: a
/// request that needs two slots takes the two lowest, and the pinned one,
/// never a candidate, keeps its slot.
#[test]
fn candidates_found_in_falling_priority_give_way_lowest_first() {
    let r = rig(Config::x86_like(1));
    let mut n = 0;
    let pinned = place(&r, &mut n, Scope::AllCpus, 1, false);
    let placed: Vec<Placed> = [10, 9, 8]
        .into_iter()
        .map(|p| place(&r, &mut n, Scope::AllCpus, p, true))
        .collect();
    assert_eq!(gave_way_to_two_slots(&r, n, &placed), [false, true, true]);
    assert_eq!(r.reg.state(pinned.handle).unwrap(), State::Armed);
    assert!(events_of(pinned.ctx).is_empty());
    assert!(r.consistent(0));
}

/// Equal priorities give way in a fixed order, the lower handle index
/// first: a request needing two slots of a pool full of four flexible
/// watches of one priority displaces the first two in the table, and the
/// same calls on a fresh registry displace the same two.
#[test]
fn among_equal_priorities_the_lower_index_gives_way_first() {
    for _ in 0..2 {
        let r = rig(Config::x86_like(1));
        let mut n = 0;
        let placed: Vec<Placed> = (0..4)
            .map(|_| place(&r, &mut n, Scope::AllCpus, 5, true))
            .collect();
        let indices: Vec<u32> = placed.iter().map(|p| p.handle.index()).collect();
        assert!(indices.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            gave_way_to_two_slots(&r, n, &placed),
            [true, true, false, false]
        );
        assert!(r.consistent(0));
    }
}

/// The lowest priorities can sit where the request needs only part of
/// them: CPU 0 holds four breakpoints of priority 1, CPU 1 four of priority
/// 2, and a system-wide request needs one slot on each CPU. Taking the
/// lowest first, room on CPU 1 comes only after all of CPU 0's have been
/// tried; only one of each CPU is displaced (the lower index), and the
/// other three of CPU 0 stay armed and are told nothing.
#[test]
fn only_the_breakpoints_needed_are_displaced_when_the_lowest_sit_on_one_cpu() {
    let r = rig(Config::x86_like(2));
    let mut n = 0;
    let on_c0: Vec<Placed> = (0..4)
        .map(|_| place(&r, &mut n, Scope::Cpu(C0), 1, true))
        .collect();
    let on_c1: Vec<Placed> = (0..4)
        .map(|_| place(&r, &mut n, Scope::Cpu(C1), 2, true))
        .collect();
    let (req, ctx) = watch(n, Scope::AllCpus, 9);
    r.reg.register(&req).unwrap();
    for held in [&on_c0, &on_c1] {
        let gone: Vec<bool> = held.iter().map(|p| displaced(&r, p)).collect();
        assert_eq!(gone, [true, false, false, false]);
    }
    // What stayed armed still traps, and so does the new watch on both CPUs.
    for cpu in 0..2 {
        assert!(r.consistent(cpu));
        r.access(cpu, BASE + 64 * n, 8, AccessKind::Write);
    }
    assert_eq!(hits(ctx), 2);
    r.access(0, BASE + 64, 8, AccessKind::Write);
    assert_eq!(hits(on_c0[1].ctx), 1);
}
