//! The nine constraint scenarios of the upstream kernel's breakpoint
//! constraint test, restated for this crate's reservation layer, for pools
//! of 1, 2, 4 and 16 slots; and a comparison against a naive reference.

use hwbreak_core::reserve::{Ledger, Reservations};
use hwbreak_core::{CpuId, PoolId, Scope, TaskId};
use proptest::prelude::*;

const P: PoolId = PoolId::FIRST;

struct Rig {
    r: Box<Reservations<4, 8>>,
    l: Ledger,
}

fn rig(slots: u32) -> Rig {
    let mut r = Box::new(Reservations::new());
    r.init(4, [slots, 0]).unwrap();
    Rig {
        r,
        l: Ledger::new(),
    }
}

impl Rig {
    fn take(&mut self, scope: Scope, n: u32) -> bool {
        (0..n).all(|_| self.r.reserve(&self.l, P, scope, 1).is_ok())
    }
    fn can(&mut self, scope: Scope) -> bool {
        let ok = self.r.reserve(&self.l, P, scope, 1).is_ok();
        if ok {
            self.r.release(&self.l, P, scope, 1);
        }
        ok
    }
}

fn cpu(c: u32) -> Scope {
    Scope::Cpu(CpuId(c))
}
fn task(t: u32) -> Scope {
    Scope::Task(TaskId(t))
}
fn task_on(t: u32, c: u32) -> Scope {
    Scope::TaskOnCpu(TaskId(t), CpuId(c))
}

const SIZES: [u32; 4] = [1, 2, 4, 16];

#[test]
fn one_cpu_full() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(cpu(0), s));
        assert!(!g.can(cpu(0)), "slots={s}");
        assert!(g.can(cpu(1)));
        assert!(!g.can(task(0)), "a task may run on the full CPU");
        assert!(g.can(task_on(0, 1)));
    }
}

#[test]
fn many_cpus_independent() {
    for s in SIZES {
        let mut g = rig(s);
        for c in 0..4 {
            assert!(g.take(cpu(c), s), "slots={s} cpu={c}");
        }
        for c in 0..4 {
            assert!(!g.can(cpu(c)));
        }
        assert!(!g.can(Scope::AllCpus));
    }
}

#[test]
fn one_task_on_all_cpus() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(task(0), s));
        assert!(!g.can(task(0)));
        for c in 0..4 {
            assert!(!g.can(cpu(c)), "slots={s}");
        }
        assert!(
            g.can(task(1)),
            "another task is not running at the same time"
        );
    }
}

#[test]
fn two_tasks_on_all_cpus_take_the_max_not_the_sum() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(task(0), s));
        assert!(g.take(task(1), s), "slots={s}");
        assert!(!g.can(cpu(2)));
        g.r.release(&g.l, P, task(0), s);
        assert!(!g.can(cpu(2)), "task 1 still uses every slot");
        g.r.release(&g.l, P, task(1), 1);
        assert!(g.can(cpu(2)));
    }
}

#[test]
fn one_task_on_one_cpu() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(task_on(0, 0), s));
        assert!(!g.can(cpu(0)));
        assert!(g.can(cpu(1)));
        assert!(
            !g.can(task(0)),
            "its any-CPU breakpoint would also run on cpu 0"
        );
        assert!(g.can(task(1)), "another context shares the max");
        assert!(!g.can(Scope::AllCpus));
    }
}

#[test]
fn mixed_cpu_and_task() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(cpu(0), 1));
        assert!(g.take(task(0), s - 1));
        assert!(!g.can(task(0)), "slots={s}");
        assert!(g.take(task(1), s - 1));
        assert!(g.can(cpu(1)), "cpu 1 carries only the task part");
        assert!(!g.can(cpu(0)));
    }
}

#[test]
fn two_tasks_on_one_cpu() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(task_on(0, 0), s));
        assert!(g.take(task_on(1, 0), s));
        assert!(!g.can(cpu(0)));
        assert!(!g.can(task_on(0, 0)));
        assert!(g.take(task_on(0, 1), s), "cpu 1 is independent");
        assert!(g.can(cpu(2)));
    }
}

#[test]
fn task_on_one_cpu_plus_task_on_all() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(task_on(0, 0), s));
        assert!(g.take(task(1), s), "slots={s}");
        assert!(!g.can(cpu(0)));
        assert!(!g.can(cpu(1)), "task 1 may use every slot of cpu 1");
    }
}

#[test]
fn one_task_on_all_and_one_cpu() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(task(0), s - 1));
        assert!(g.take(task_on(0, 0), 1));
        assert!(!g.can(task_on(0, 0)), "slots={s}");
        assert!(!g.can(task(0)));
        assert!(g.can(task_on(0, 1)), "cpu 1 still has one slot for it");
        assert!(!g.can(cpu(0)));
    }
}

#[test]
fn the_debugger_and_the_normal_path_never_over_commit() {
    for s in SIZES {
        let mut g = rig(s);
        assert!(g.take(task(0), s - 1));
        g.l.debugger_take(P, s).unwrap();
        assert!(g.l.debugger_take(P, s).is_err());
        assert!(!g.can(task(0)));
        assert!(!g.can(cpu(1)));
        g.l.debugger_give(P);
        assert!(g.can(task(0)));
    }
}

/// The naive reference: scan everything, for every CPU.
#[derive(Default, Clone, Debug)]
struct Naive {
    held: Vec<Scope>,
}

impl Naive {
    fn load(&self, c: u32) -> u32 {
        let kernel = self
            .held
            .iter()
            .filter(|s| matches!(s, Scope::AllCpus) || **s == cpu(c))
            .count() as u32;
        let tasks = (0..8)
            .map(|t| {
                self.held
                    .iter()
                    .filter(|s| **s == task(t) || **s == task_on(t, c))
                    .count() as u32
            })
            .max()
            .unwrap_or(0);
        kernel + tasks
    }
    fn fits(&self, slots: u32) -> bool {
        (0..4).all(|c| self.load(c) <= slots)
    }
}

fn scope_strategy() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::AllCpus),
        (0u32..4).prop_map(cpu),
        (0u32..8).prop_map(task),
        (0u32..8, 0u32..4).prop_map(|(t, c)| task_on(t, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn reservations_agree_with_the_naive_scan(
        slots in prop_oneof![Just(1u32), Just(2), Just(4), Just(16)],
        ops in proptest::collection::vec((any::<bool>(), scope_strategy()), 1..120),
    ) {
        let mut g = rig(slots);
        let mut naive = Naive::default();
        for (add, scope) in ops {
            if add {
                let mut next = naive.clone();
                next.held.push(scope);
                let expect = next.fits(slots);
                let got = g.r.reserve(&g.l, P, scope, 1);
                // A context may bind at most 4 (CPU, pool) pairs: the only
                // refusal the naive model does not know.
                if let Err(e) = got {
                    if e.kind() == hwbreak_core::ErrorKind::TableFull {
                        continue;
                    }
                }
                prop_assert_eq!(got.is_ok(), expect, "{:?} on {:?}", scope, naive.held);
                if expect {
                    naive = next;
                }
            } else if let Some(i) = naive.held.iter().position(|s| *s == scope) {
                naive.held.remove(i);
                g.r.release(&g.l, P, scope, 1);
            }
            let max = (0..4).map(|c| naive.load(c)).max().unwrap();
            prop_assert_eq!(g.r.max_load(P), max);
            prop_assert_eq!(g.l.load(P), max);
            for c in 0..4 {
                prop_assert_eq!(g.r.load(P, CpuId(c)), naive.load(c));
            }
        }
    }
}
