//! A model of the slot reservation upstream has used since its 2022 rework,
//! written from the published description of that rework and from the
//! behaviour of its source; no code is taken from it.
//!
//! The state, per pool (upstream: per breakpoint type):
//!
//! - per CPU, the number of CPU-bound (non-task) breakpoints, `cpu_pinned`;
//! - one global histogram of those per-CPU counts (how many CPUs have `v`
//!   CPU-bound breakpoints), so their maximum over all CPUs is a scan of at
//!   most `slots` buckets;
//! - per CPU, a histogram `tsk_pinned` of the weight on that CPU of every
//!   task that has at least one breakpoint bound to some CPU;
//! - one global histogram `tsk_pinned_all` of the weight of every task whose
//!   breakpoints all follow it on any CPU;
//! - a hash table keyed by task, each key heading the list of that task's
//!   breakpoints (upstream: an `rhltable` of `perf_event`s).
//!
//! Admission of a breakpoint of weight `w`:
//!
//! - a task breakpoint on any CPU, for a task with no CPU-bound breakpoint
//!   (the fast path): the task's count (a walk of its own list) plus the
//!   largest `cpu_pinned` (from the global histogram), plus `w`;
//! - any other task breakpoint: for every CPU it may run on, `cpu_pinned`
//!   plus the task's count on that CPU (a walk of its list per CPU);
//! - a CPU-bound breakpoint: `cpu_pinned` of that CPU plus the largest task
//!   weight there (the larger of the top buckets of `tsk_pinned` and
//!   `tsk_pinned_all`);
//! - a system-wide breakpoint is one CPU-bound breakpoint per CPU
//!   (upstream's "wide" registration), each admitted as above, all given
//!   back if one is refused.
//!
//! Committing a task breakpoint moves the task between buckets of
//! `tsk_pinned_all` (its breakpoints all follow it), or of the per-CPU
//! histograms of the CPUs concerned; a task's first CPU-bound breakpoint
//! moves its weight from the global histogram into every CPU's histogram,
//! and its last one moves it back (both a walk over every CPU).
//!
//! Histogram counters are atomics updated with relaxed read-modify-writes,
//! as upstream's are. The model leaves out upstream's locks (a per-task
//! mutex and a per-CPU reader-writer semaphore) and hashes with one
//! multiplication, cheaper than upstream's `jhash`: both err in the model's
//! favour.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI32, Ordering};

use hwbreak_core::{PoolId, Scope, MAX_POOLS, MAX_SLOTS};

/// "No CPU": the breakpoint follows its task on every CPU.
const ANY_CPU: i32 = -1;
/// End of a task's list.
const NIL: u32 = u32::MAX;

/// How many holders (CPUs or tasks) have each count `1..=slots`; bucket
/// `i` holds count `i + 1`, a count of 0 is not recorded.
struct Histogram {
    count: [AtomicI32; MAX_SLOTS],
}

impl Histogram {
    fn new() -> Self {
        Self {
            count: std::array::from_fn(|_| AtomicI32::new(0)),
        }
    }

    /// Moves one holder from count `old` to `old + delta`.
    fn add(&self, old: i32, delta: i32) {
        let (from, to) = (old - 1, old - 1 + delta);
        if from >= 0 {
            let was = self.count[from as usize].fetch_sub(1, Ordering::Relaxed);
            assert!(was > 0, "modern baseline: histogram went negative");
        }
        if to >= 0 {
            self.count[to as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Largest count with a holder, scanning down from `slots`.
    fn max(&self, slots: u32) -> i32 {
        (0..slots as usize)
            .rev()
            .find(|&i| self.count[i].load(Ordering::Relaxed) > 0)
            .map_or(0, |i| i as i32 + 1)
    }

    /// Largest count with a holder in either of two histograms.
    fn max_merge(a: &Self, b: &Self, slots: u32) -> i32 {
        (0..slots as usize)
            .rev()
            .find(|&i| a.count[i].load(Ordering::Relaxed) + b.count[i].load(Ordering::Relaxed) > 0)
            .map_or(0, |i| i as i32 + 1)
    }
}

/// One task breakpoint, a node of its task's list.
#[derive(Copy, Clone)]
struct Node {
    cpu: i32,
    pool: u8,
    weight: u8,
    next: u32,
}

/// One multiplication, then the high bits.
#[derive(Default)]
struct MulHasher(u64);

impl Hasher for MulHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }
}

/// The hashed per-task lists: key = task, value = head of its list in a
/// node arena (no allocation per breakpoint once the arena has grown, as
/// upstream's lists are intrusive).
struct TaskLists {
    heads: HashMap<u32, u32, BuildHasherDefault<MulHasher>>,
    nodes: Vec<Node>,
    free: Vec<u32>,
}

impl TaskLists {
    fn new() -> Self {
        Self {
            heads: HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Inserts at the head of the task's list.
    fn insert(&mut self, task: u32, cpu: i32, pool: u8, weight: u8) {
        let next = self.heads.get(&task).copied().unwrap_or(NIL);
        let node = Node {
            cpu,
            pool,
            weight,
            next,
        };
        let at = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.heads.insert(task, at);
    }

    /// Unlinks one breakpoint of the task with this CPU, pool and weight;
    /// the key leaves the table with its last breakpoint.
    fn remove(&mut self, task: u32, cpu: i32, pool: u8, weight: u8) {
        let head = *self
            .heads
            .get(&task)
            .expect("modern baseline: release for a task holding nothing");
        let (mut prev, mut at) = (NIL, head);
        while at != NIL {
            let n = self.nodes[at as usize];
            if n.cpu == cpu && n.pool == pool && n.weight == weight {
                if prev == NIL {
                    if n.next == NIL {
                        self.heads.remove(&task);
                    } else {
                        self.heads.insert(task, n.next);
                    }
                } else {
                    self.nodes[prev as usize].next = n.next;
                }
                self.free.push(at);
                return;
            }
            prev = at;
            at = n.next;
        }
        panic!("modern baseline: release of a breakpoint not held");
    }

    /// The task's weight in `pool` on `cpu`; with `cpu == ANY_CPU`, its
    /// weight if none of its breakpoints in `pool` is CPU-bound, else
    /// `None`.
    fn pinned(&self, task: u32, cpu: i32, pool: u8) -> Option<i32> {
        let mut at = self.heads.get(&task).copied().unwrap_or(NIL);
        let mut count = 0;
        while at != NIL {
            let n = &self.nodes[at as usize];
            at = n.next;
            if n.pool != pool {
                continue;
            }
            if n.cpu != ANY_CPU {
                if cpu == ANY_CPU {
                    return None;
                }
                if n.cpu != cpu {
                    continue;
                }
            }
            count += i32::from(n.weight);
        }
        Some(count)
    }
}

struct PoolState {
    slots: u32,
    cpu_pinned: Vec<i32>,
    cpu_pinned_hist: Histogram,
    tsk_pinned: Vec<Histogram>,
    tsk_pinned_all: Histogram,
}

/// The post-2022 upstream reservation, for `cpus` CPUs and one or two
/// pools.
pub struct Modern {
    cpus: u32,
    pools: [PoolState; MAX_POOLS],
    tasks: TaskLists,
}

/// What one breakpoint is, in upstream's terms: its task (if any) and its
/// CPU ([`ANY_CPU`] for a task breakpoint on every CPU).
#[derive(Copy, Clone)]
struct Bp {
    task: Option<u32>,
    cpu: i32,
    pool: usize,
    weight: i32,
}

impl Modern {
    /// Empty counts for `cpus` CPUs with `slots[p]` slots per pool.
    pub fn new(cpus: u32, slots: [u32; MAX_POOLS]) -> Self {
        let pool = |s: u32| PoolState {
            slots: s.min(MAX_SLOTS as u32),
            cpu_pinned: vec![0; cpus as usize],
            cpu_pinned_hist: Histogram::new(),
            tsk_pinned: (0..cpus).map(|_| Histogram::new()).collect(),
            tsk_pinned_all: Histogram::new(),
        };
        Self {
            cpus,
            pools: [pool(slots[0]), pool(slots[1])],
            tasks: TaskLists::new(),
        }
    }

    /// Reserves one breakpoint of weight `n` in `pool` for `scope`; false
    /// (and nothing changed) when it does not fit.
    pub fn reserve(&mut self, pool: PoolId, scope: Scope, n: u32) -> bool {
        let p = pool.index();
        match scope {
            Scope::AllCpus => {
                for cpu in 0..self.cpus as i32 {
                    let bp = Self::wide_part(p, cpu, n);
                    if !self.reserve_one(bp) {
                        for done in 0..cpu {
                            self.toggle(Bp { cpu: done, ..bp }, false);
                        }
                        return false;
                    }
                }
                true
            }
            _ => self.reserve_one(Self::bp(p, scope, n)),
        }
    }

    /// Gives back one breakpoint of weight `n` in `pool` held by `scope`.
    pub fn release(&mut self, pool: PoolId, scope: Scope, n: u32) {
        let p = pool.index();
        match scope {
            Scope::AllCpus => {
                for cpu in 0..self.cpus as i32 {
                    self.toggle(Self::wide_part(p, cpu, n), false);
                }
            }
            _ => self.toggle(Self::bp(p, scope, n), false),
        }
    }

    /// The load of `cpu` in `pool`: its CPU-bound breakpoints plus the
    /// largest weight any one task has there.
    pub fn load(&self, pool: PoolId, cpu: u32) -> u32 {
        let s = &self.pools[pool.index()];
        let tasks = Histogram::max_merge(&s.tsk_pinned[cpu as usize], &s.tsk_pinned_all, s.slots);
        (s.cpu_pinned[cpu as usize] + tasks) as u32
    }

    /// The largest load over all CPUs of `pool`.
    pub fn max_load(&self, pool: PoolId) -> u32 {
        (0..self.cpus)
            .map(|c| self.load(pool, c))
            .max()
            .unwrap_or(0)
    }

    /// The part of a system-wide breakpoint on `cpu`: a CPU-bound one.
    fn wide_part(pool: usize, cpu: i32, n: u32) -> Bp {
        Bp {
            task: None,
            cpu,
            pool,
            weight: n as i32,
        }
    }

    /// The CPUs `bp` may run on.
    fn cpus_of(&self, bp: Bp) -> std::ops::Range<i32> {
        if bp.cpu == ANY_CPU {
            0..self.cpus as i32
        } else {
            bp.cpu..bp.cpu + 1
        }
    }

    fn bp(pool: usize, scope: Scope, n: u32) -> Bp {
        Bp {
            task: scope.task().map(|t| t.0),
            cpu: scope.cpu().map_or(ANY_CPU, |c| c.0 as i32),
            pool,
            weight: n as i32,
        }
    }

    fn reserve_one(&mut self, bp: Bp) -> bool {
        if self.max_pinned(bp) + bp.weight > self.pools[bp.pool].slots as i32 {
            return false;
        }
        self.toggle(bp, true);
        true
    }

    /// The most slots any CPU `bp` may run on already uses for what `bp`
    /// competes with.
    fn max_pinned(&self, bp: Bp) -> i32 {
        let s = &self.pools[bp.pool];
        let pool = bp.pool as u8;
        if let (Some(task), ANY_CPU) = (bp.task, bp.cpu) {
            if let Some(own) = self.tasks.pinned(task, ANY_CPU, pool) {
                // Fast path: the task's weight is the same on every CPU.
                return own + s.cpu_pinned_hist.max(s.slots);
            }
        }
        let mut most = 0;
        for cpu in self.cpus_of(bp) {
            let tasks = match bp.task {
                None => {
                    Histogram::max_merge(&s.tsk_pinned[cpu as usize], &s.tsk_pinned_all, s.slots)
                }
                Some(task) => self
                    .tasks
                    .pinned(task, cpu, pool)
                    .expect("a CPU's count is always defined"),
            };
            most = most.max(s.cpu_pinned[cpu as usize] + tasks);
        }
        most
    }

    /// Adds (`enable`) or removes `bp` from the counts.
    fn toggle(&mut self, bp: Bp, enable: bool) {
        let weight = if enable { bp.weight } else { -bp.weight };
        let pool = bp.pool as u8;
        let Some(task) = bp.task else {
            let s = &mut self.pools[bp.pool];
            let c = bp.cpu as usize;
            s.cpu_pinned_hist.add(s.cpu_pinned[c], weight);
            s.cpu_pinned[c] += weight;
            return;
        };
        if !enable {
            self.tasks.remove(task, bp.cpu, pool, bp.weight as u8);
        }
        // Without `bp` (not yet inserted, or just removed).
        let rest = self.tasks.pinned(task, ANY_CPU, pool);
        let s = &self.pools[bp.pool];
        match rest {
            // The task's other breakpoints all follow it on any CPU.
            Some(rest) if bp.cpu == ANY_CPU => {
                let old = if enable { rest } else { rest + bp.weight };
                s.tsk_pinned_all.add(old, weight);
            }
            // Its first CPU-bound breakpoint: from the global histogram to
            // every CPU's.
            Some(rest) if enable => {
                for h in &s.tsk_pinned {
                    h.add(0, rest);
                }
                s.tsk_pinned[bp.cpu as usize].add(rest, weight);
                s.tsk_pinned_all.add(rest, -rest);
            }
            // Its last CPU-bound breakpoint: back to the global histogram.
            Some(rest) => {
                s.tsk_pinned[bp.cpu as usize].add(rest + bp.weight, weight);
                for h in &s.tsk_pinned {
                    h.add(rest, -rest);
                }
                s.tsk_pinned_all.add(0, rest);
            }
            // It keeps CPU-bound breakpoints: only the CPUs `bp` covers.
            None => {
                for cpu in self.cpus_of(bp) {
                    let mut old = self
                        .tasks
                        .pinned(task, cpu, pool)
                        .expect("a CPU's count is always defined");
                    if !enable {
                        old += bp.weight;
                    }
                    s.tsk_pinned[cpu as usize].add(old, weight);
                }
            }
        }
        if enable {
            self.tasks.insert(task, bp.cpu, pool, bp.weight as u8);
        }
    }
}
