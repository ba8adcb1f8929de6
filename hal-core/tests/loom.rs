//! Model checking of the lockless reservation ledger with loom: every
//! interleaving of the kernel debugger's path (`Ledger::debugger_take` /
//! `Ledger::debugger_give`, which takes no lock) against the normal path
//! (`Ledger::commit_load`, called under the registry's lock the way
//! `Reservations::adjust` commits: raise each pool, roll back the raised
//! ones if one is refused, then lower).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p hwbreak-core --test loom --release`.
//!
//! Over-commit is observed through shadow counters each thread raises only
//! after its reservation succeeded and lowers before giving it back (so the
//! shadows never exceed what the ledger granted): if the ledger could grant
//! more than the pool has, some interleaving makes the shadows exceed it at
//! an assertion. Lost or leaked slots are checked on the final counts.
#![cfg(loom)]

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;

use hwbreak_core::reserve::Ledger;
use hwbreak_core::PoolId;

const DATA: PoolId = PoolId::SECOND;
const CODE: PoolId = PoolId::FIRST;

/// What the threads believe they hold, per pool.
struct Shadow {
    load: [AtomicU32; 2],
    debugger: [AtomicU32; 2],
}

impl Shadow {
    fn new() -> Self {
        Self {
            load: [AtomicU32::new(0), AtomicU32::new(0)],
            debugger: [AtomicU32::new(0), AtomicU32::new(0)],
        }
    }

    fn assert_within(&self, pool: PoolId, slots: u32) {
        let p = pool.index();
        let load = self.load[p].load(Ordering::SeqCst);
        let debugger = self.debugger[p].load(Ordering::SeqCst);
        assert!(
            load + debugger <= slots,
            "over-commit in {pool:?}: load {load} + debugger {debugger} > {slots}"
        );
    }
}

/// A debugger thread: take a slot, check, give it back (`rounds` times).
/// Returns how many takes succeeded.
fn debugger(ledger: &Ledger, shadow: &Shadow, pool: PoolId, slots: u32, rounds: u32) -> u32 {
    let mut won = 0;
    for _ in 0..rounds {
        if ledger.debugger_take(pool, slots).is_ok() {
            won += 1;
            shadow.debugger[pool.index()].fetch_add(1, Ordering::SeqCst);
            shadow.assert_within(pool, slots);
            shadow.debugger[pool.index()].fetch_sub(1, Ordering::SeqCst);
            ledger.debugger_give(pool);
        }
    }
    won
}

/// The normal path publishing a new load for one pool, as
/// `Reservations::commit` does: a raise may be refused, a lowering never.
fn publish(ledger: &Ledger, shadow: &Shadow, pool: PoolId, from: u32, to: u32, slots: u32) -> bool {
    let p = pool.index();
    if to > from {
        if !ledger.commit_load(pool, to, slots) {
            return false;
        }
        shadow.load[p].store(to, Ordering::SeqCst);
        shadow.assert_within(pool, slots);
    } else {
        shadow.load[p].store(to, Ordering::SeqCst);
        assert!(ledger.commit_load(pool, to, slots), "lowering refused");
    }
    true
}

/// One normal-path raise against two debuggers on a pool of 2 with a load
/// of 1 already published: at every point load + debugger <= 2, and the
/// final counts are exact.
#[test]
fn raise_against_two_debuggers() {
    loom::model(|| {
        let slots = 2;
        let ledger = Arc::new(Ledger::new());
        let shadow = Arc::new(Shadow::new());
        assert!(ledger.commit_load(DATA, 1, slots));
        shadow.load[DATA.index()].store(1, Ordering::SeqCst);
        let debuggers: Vec<_> = (0..2)
            .map(|_| {
                let (l, s) = (ledger.clone(), shadow.clone());
                thread::spawn(move || debugger(&l, &s, DATA, slots, 1))
            })
            .collect();
        let raised = publish(&ledger, &shadow, DATA, 1, 2, slots);
        let won: u32 = debuggers.into_iter().map(|t| t.join().unwrap()).sum();
        // No lost slot: every debugger slot was given back, and the load is
        // what the normal path last published.
        assert_eq!(ledger.debugger_slots(DATA), 0);
        assert_eq!(ledger.load(DATA), if raised { 2 } else { 1 });
        // With a load of 1 of 2, something always fits: a refused raise
        // means a debugger held the free slot at that moment.
        assert!(raised || won >= 1);
    });
}

/// Lowering while debuggers take and keep their slots: the load published
/// last and the debugger slots held add up, and nothing is lost.
#[test]
fn lower_against_two_debuggers_holding() {
    loom::model(|| {
        let slots = 2;
        let ledger = Arc::new(Ledger::new());
        assert!(ledger.commit_load(DATA, 2, slots));
        let debuggers: Vec<_> = (0..2)
            .map(|_| {
                let l = ledger.clone();
                thread::spawn(move || l.debugger_take(DATA, slots).is_ok())
            })
            .collect();
        assert!(ledger.commit_load(DATA, 0, slots), "lowering refused");
        let held = debuggers
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&ok| ok)
            .count() as u32;
        assert_eq!(ledger.load(DATA), 0);
        assert_eq!(ledger.debugger_slots(DATA), held);
        assert!(held <= slots);
        // Slots are not lost: with the load gone, the rest can be taken.
        for _ in held..slots {
            ledger.debugger_take(DATA, slots).unwrap();
        }
        assert!(ledger.debugger_take(DATA, slots).is_err());
    });
}

/// Two debuggers racing for the last slot: exactly one wins.
#[test]
fn two_debuggers_race_for_one_slot() {
    loom::model(|| {
        let slots = 1;
        let ledger = Arc::new(Ledger::new());
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let l = ledger.clone();
                thread::spawn(move || l.debugger_take(CODE, slots).is_ok())
            })
            .collect();
        let wins = racers
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&ok| ok)
            .count();
        assert_eq!(wins, 1);
        assert_eq!(ledger.debugger_slots(CODE), 1);
        // The normal path cannot raise past the debugger's slot.
        assert!(!ledger.commit_load(CODE, 1, slots));
        ledger.debugger_give(CODE);
        assert!(ledger.commit_load(CODE, 1, slots));
    });
}

/// The normal path's two-pool transaction (raise code, raise data, roll
/// code back if data is refused, as `Reservations::commit` does) against
/// a debugger taking and giving a data slot: the transaction is
/// all-or-nothing and never over-commits either pool.
#[test]
fn two_pool_transaction_rolls_back_against_a_debugger() {
    loom::model(|| {
        let slots = 1;
        let ledger = Arc::new(Ledger::new());
        let shadow = Arc::new(Shadow::new());
        let dbg = {
            let (l, s) = (ledger.clone(), shadow.clone());
            thread::spawn(move || debugger(&l, &s, DATA, slots, 1))
        };
        let holder = {
            let l = ledger.clone();
            thread::spawn(move || {
                // A second debugger that keeps its code slot if it wins it.
                l.debugger_take(CODE, slots).is_ok()
            })
        };
        let code = publish(&ledger, &shadow, CODE, 0, 1, slots);
        let committed = code && {
            let data = publish(&ledger, &shadow, DATA, 0, 1, slots);
            if !data {
                // Roll the raised pool back.
                publish(&ledger, &shadow, CODE, 1, 0, slots);
            }
            data
        };
        dbg.join().unwrap();
        let code_held = holder.join().unwrap();
        assert_eq!(ledger.debugger_slots(DATA), 0);
        assert_eq!(ledger.debugger_slots(CODE), u32::from(code_held));
        let expect = u32::from(committed);
        assert_eq!(ledger.load(CODE), expect, "code pool: all-or-nothing");
        assert_eq!(ledger.load(DATA), expect, "data pool: all-or-nothing");
        assert!(!(code_held && committed), "code slot granted twice");
    });
}

/// Three threads, several rounds each: the normal path raises and lowers
/// twice while two debuggers take and give twice. Bounded preemptions keep
/// the search finite; within them every interleaving is explored.
#[test]
fn repeated_rounds_three_threads() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let slots = 2;
        let ledger = Arc::new(Ledger::new());
        let shadow = Arc::new(Shadow::new());
        let debuggers: Vec<_> = (0..2)
            .map(|_| {
                let (l, s) = (ledger.clone(), shadow.clone());
                thread::spawn(move || debugger(&l, &s, DATA, slots, 2))
            })
            .collect();
        let mut load = 0;
        for _ in 0..2 {
            if publish(&ledger, &shadow, DATA, load, 2, slots) {
                load = 2;
            }
            if publish(&ledger, &shadow, DATA, load, 1, slots) {
                load = 1;
            }
        }
        for t in debuggers {
            t.join().unwrap();
        }
        assert_eq!(ledger.debugger_slots(DATA), 0);
        assert_eq!(ledger.load(DATA), load);
    });
}

/// Giving a slot back publishes what was done with it: the debugger
/// empties its slot, then gives it back; the normal path, once the ledger
/// lets it raise into that slot, must find it empty.
#[test]
fn giving_a_slot_back_publishes_the_emptied_slot() {
    loom::model(|| {
        let slots = 1;
        let ledger = Arc::new(Ledger::new());
        ledger.debugger_take(DATA, slots).unwrap();
        // What the debugger's slot holds (1: its watch).
        let slot = Arc::new(AtomicU32::new(1));
        let dbg = {
            let (l, s) = (ledger.clone(), slot.clone());
            thread::spawn(move || {
                s.store(0, Ordering::Relaxed);
                l.debugger_give(DATA);
            })
        };
        if ledger.commit_load(DATA, 1, slots) {
            assert_eq!(
                slot.load(Ordering::Relaxed),
                0,
                "the normal path was given a slot still in use"
            );
        }
        dbg.join().unwrap();
    });
}

/// The same the other way: the normal path empties the slot it no longer
/// needs, then lowers its load; a debugger the ledger then lets in must
/// find the slot empty.
#[test]
fn lowering_a_load_publishes_the_emptied_slot() {
    loom::model(|| {
        let slots = 1;
        let ledger = Arc::new(Ledger::new());
        assert!(ledger.commit_load(DATA, 1, slots));
        let slot = Arc::new(AtomicU32::new(1));
        let normal = {
            let (l, s) = (ledger.clone(), slot.clone());
            thread::spawn(move || {
                s.store(0, Ordering::Relaxed);
                assert!(l.commit_load(DATA, 0, slots));
            })
        };
        if ledger.debugger_take(DATA, slots).is_ok() {
            assert_eq!(
                slot.load(Ordering::Relaxed),
                0,
                "the debugger was given a slot still in use"
            );
        }
        normal.join().unwrap();
    });
}
