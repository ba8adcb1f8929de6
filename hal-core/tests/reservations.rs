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
