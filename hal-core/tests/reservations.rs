//! The admission counts on their own (`Reservations` and the `Ledger`):
//! requests far past any pool are refused without leaving a trace, and a
//! change of zero is accepted and changes nothing.

use hwbreak_core::reserve::{Change, Ledger, Reservations};
use hwbreak_core::{CpuId, ErrorKind, PoolId, Scope, TaskId};

const POOL: PoolId = PoolId::FIRST;

fn fresh() -> (Ledger, Reservations<2, 4>) {
    let mut r = Reservations::new();
    r.init(2, [4, 0]).unwrap();
    (Ledger::new(), r)
}

/// Counts past what a context's counters hold (65 535), for any-CPU and
/// CPU-bound task breakpoints alike: refused with `NoSlot`, and the counts
/// are exactly as before, so the whole pool is still there to reserve.
#[test]
fn an_absurd_reservation_is_refused_and_leaves_no_trace() {
    let t = TaskId(1);
    for scope in [Scope::Task(t), Scope::TaskOnCpu(t, CpuId(1))] {
        for n in [65_536, 70_000, 1 << 20] {
            let (ledger, mut r) = fresh();
            let before = r.clone();
            let err = r.reserve(&ledger, POOL, scope, n).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NoSlot, "{scope:?} {n}");
            assert_eq!(r, before, "{scope:?} {n}: nothing changed");
            assert_eq!(r.held(POOL, scope), 0);
            assert_eq!(ledger.load(POOL), 0);
            r.reserve(&ledger, POOL, scope, 4).unwrap();
            assert_eq!(r.max_load(POOL), 4);
        }
    }
}

/// A change of zero slots, even for a binding the context does not have
/// yet, is no change: accepted, and the counts are as before.
#[test]
fn a_change_of_zero_is_accepted_and_changes_nothing() {
    let t = TaskId(2);
    for scope in [
        Scope::AllCpus,
        Scope::Cpu(CpuId(0)),
        Scope::Task(t),
        Scope::TaskOnCpu(t, CpuId(1)),
    ] {
        let (ledger, mut r) = fresh();
        r.adjust(
            &ledger,
            &[Change {
                pool: POOL,
                scope,
                delta: 0,
            }],
        )
        .unwrap_or_else(|e| panic!("{scope:?}: {e:?}"));
        assert_eq!(r.max_load(POOL), 0);
        assert_eq!(r.held(POOL, scope), 0);
    }
}

/// The ledger counts the debugger's slots per pool, beside the normal
/// path's load: each take adds one to its own pool only, each give takes
/// one back, and a take that would not fit beside the load is refused
/// without counting.
#[test]
fn the_ledger_counts_the_debuggers_slots_per_pool() {
    let ledger = Ledger::new();
    assert!(ledger.commit_load(POOL, 2, 4));
    ledger.debugger_take(POOL, 4).unwrap();
    ledger.debugger_take(POOL, 4).unwrap();
    assert_eq!(ledger.debugger_slots(POOL), 2);
    assert_eq!(ledger.debugger_slots(PoolId::SECOND), 0);
    assert_eq!(ledger.load(POOL), 2, "the debugger's slots are not load");
    let full = ledger.debugger_take(POOL, 4).unwrap_err();
    assert_eq!(full.kind(), ErrorKind::NoSlot);
    assert_eq!(ledger.debugger_slots(POOL), 2);
    ledger.debugger_give(POOL);
    assert_eq!(ledger.debugger_slots(POOL), 1);
}

/// `init` takes 1..=CPUS CPUs and clamps each pool to `MAX_SLOTS`; the
/// scopes it then accepts are exactly the CPUs and contexts it serves.
#[test]
fn init_and_check_scope_bound_the_cpus_and_contexts_served() {
    let mut r = Reservations::<4, 16>::new();
    assert_eq!(r.init(0, [4, 4]).unwrap_err().kind(), ErrorKind::BadCpu);
    assert_eq!(r.init(5, [4, 4]).unwrap_err().kind(), ErrorKind::BadCpu);
    r.init(3, [6, 99]).unwrap();
    assert_eq!(r.slots(POOL), 6);
    assert_eq!(r.slots(PoolId::SECOND), hwbreak_core::MAX_SLOTS as u32);
    assert!(r.check_scope(Scope::Cpu(CpuId(2))).is_ok());
    assert!(r
        .check_scope(Scope::TaskOnCpu(TaskId(15), CpuId(0)))
        .is_ok());
    let bad_cpu = [Scope::Cpu(CpuId(3)), Scope::TaskOnCpu(TaskId(0), CpuId(3))];
    for s in bad_cpu {
        assert_eq!(
            r.check_scope(s).unwrap_err().kind(),
            ErrorKind::BadCpu,
            "{s:?}"
        );
    }
    let bad_task = [
        Scope::Task(TaskId(16)),
        Scope::TaskOnCpu(TaskId(16), CpuId(0)),
    ];
    for s in bad_task {
        assert_eq!(
            r.check_scope(s).unwrap_err().kind(),
            ErrorKind::BadTask,
            "{s:?}"
        );
    }
    // A refused scope reserves nothing.
    let ledger = Ledger::new();
    assert!(r.reserve(&ledger, POOL, Scope::Cpu(CpuId(3)), 1).is_err());
    assert_eq!((r.max_load(POOL), ledger.load(POOL)), (0, 0));
    // A pool reserves up to its own size on a served CPU, not more.
    r.reserve(&ledger, POOL, Scope::Cpu(CpuId(2)), 6).unwrap();
    assert!(r.reserve(&ledger, POOL, Scope::Cpu(CpuId(2)), 1).is_err());
}

/// What each scope holds, read back exactly: a context's weight on a CPU
/// is its any-CPU count plus what it has bound to that CPU alone.
#[test]
fn held_and_weight_read_back_each_scope() {
    let (ledger, mut r) = fresh();
    let t = TaskId(1);
    r.reserve(&ledger, POOL, Scope::AllCpus, 1).unwrap();
    r.reserve(&ledger, POOL, Scope::Cpu(CpuId(1)), 1).unwrap();
    r.reserve(&ledger, POOL, Scope::Task(t), 2).unwrap();
    r.reserve(&ledger, POOL, Scope::TaskOnCpu(t, CpuId(0)), 1)
        .unwrap();
    assert_eq!(r.held(POOL, Scope::AllCpus), 1);
    assert_eq!(r.held(POOL, Scope::Cpu(CpuId(1))), 1);
    assert_eq!(r.held(POOL, Scope::Cpu(CpuId(0))), 0);
    assert_eq!(r.held(POOL, Scope::Task(t)), 2);
    assert_eq!(r.held(POOL, Scope::TaskOnCpu(t, CpuId(0))), 1);
    assert_eq!(r.held(POOL, Scope::TaskOnCpu(t, CpuId(1))), 0);
    assert_eq!(r.weight(POOL, t, CpuId(0)), 3);
    assert_eq!(r.weight(POOL, t, CpuId(1)), 2);
    assert_eq!(r.weight(POOL, TaskId(2), CpuId(0)), 0);
    assert_eq!(r.weight(PoolId::SECOND, t, CpuId(0)), 0);
}
