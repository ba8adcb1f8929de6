//! Slot reservation cost against the number of task breakpoints held and
//! the number of CPUs, for the core's reservation layer
//! ([`Reservations`] + [`Ledger`], what the registry calls) and for two
//! baselines written here:
//!
//! - the pre-2022 upstream algorithm, from its description: one global
//!   list of task breakpoints, walked for every CPU on every reserve and
//!   release (below);
//! - the upstream algorithm since its 2022 rework: hashed per-task lists
//!   and per-CPU slot histograms (`baselines/modern.rs`).
//!
//! Before anything is timed, all three are driven with the same random
//! reserve/release sequences on small machines and must accept and refuse
//! exactly the same requests (and agree on every CPU's load); the run fails
//! otherwise.
//!
//! Prints `bench: reserve_speedup_vs_baseline`, `bench: reserve_flatness`,
//! `bench: reserve_speedup_vs_modern`,
//! `bench: reserve_speedup_vs_modern_flatness` and `bench-detail:` lines;
//! writes the plot to the path in `HWBREAK_BENCH_SVG` when it is set.

#[path = "support/mod.rs"]
mod support;

#[path = "baselines/modern.rs"]
mod modern;

use std::hint::black_box;
use std::time::Duration;

use hwbreak_core::model::{Config, Machine, ModelArch, ModelPlatform};
use hwbreak_core::reserve::{Change, Ledger, Reservations};
use hwbreak_core::{CpuId, PoolId, Registry, Request, Scope, Space, TaskId, MAX_POOLS};
use modern::Modern;
use support::{detail, interleaved, ns_per_op, ratio, with_big_stack, Rng};

/// Capacity of the context table in the timed runs (room for 100 000
/// breakpoints spread over contexts, plus the targets).
const CONTEXTS: usize = 131_072;
/// Contexts the timed reserve+release cycles through: they hold nothing,
/// and are the same whatever the number of breakpoints held, so every run
/// touches the same memory of the context table.
const TARGETS: usize = 64;
/// Slots per pool in the timed runs (x86: one pool of 4).
const SLOTS: [u32; MAX_POOLS] = [4, 0];
const POOL: PoolId = PoolId::FIRST;

// ---------------------------------------------------------------------------
// The baseline
// ---------------------------------------------------------------------------

const ANY_CPU: u32 = u32::MAX;

#[derive(Copy, Clone)]
struct ListEntry {
    task: u32,
    /// `ANY_CPU`, or the one CPU the breakpoint is bound to.
    cpu: u32,
    pool: u8,
}

/// Pre-2022 style reservation: per-CPU pinned counts, and every task
/// breakpoint in one list. A CPU's load is its pinned count plus the
/// largest number of breakpoints any one task has there, found by walking
/// the whole list; reserve and release compute it for every CPU.
struct Baseline {
    slots: [u32; MAX_POOLS],
    cpus: u32,
    all_cpus: [u32; MAX_POOLS],
    pinned: Vec<[u32; MAX_POOLS]>,
    list: Vec<ListEntry>,
    /// Per-task counters for one walk (zeroed again after it).
    scratch: Vec<u32>,
    /// The largest load last computed, per pool.
    published: [u32; MAX_POOLS],
}

impl Baseline {
    fn new(cpus: u32, contexts: usize, slots: [u32; MAX_POOLS]) -> Self {
        Self {
            slots,
            cpus,
            all_cpus: [0; MAX_POOLS],
            pinned: vec![[0; MAX_POOLS]; cpus as usize],
            list: Vec::new(),
            scratch: vec![0; contexts],
            published: [0; MAX_POOLS],
        }
    }

    /// Largest count of any one task's breakpoints that can run on `cpu`:
    /// one walk of the whole list counting per task, one walk to reset.
    fn max_task_on(&mut self, cpu: u32, pool: u8) -> u32 {
        let Self { list, scratch, .. } = self;
        let mut max = 0;
        for e in list.iter() {
            if e.pool == pool && (e.cpu == ANY_CPU || e.cpu == cpu) {
                let c = &mut scratch[e.task as usize];
                *c += 1;
                max = max.max(*c);
            }
        }
        for e in list.iter() {
            scratch[e.task as usize] = 0;
        }
        max
    }

    /// The largest load over every CPU.
    fn max_load(&mut self, pool: PoolId) -> u32 {
        let p = pool.index();
        let mut max = 0;
        for cpu in 0..self.cpus {
            let load =
                self.all_cpus[p] + self.pinned[cpu as usize][p] + self.max_task_on(cpu, p as u8);
            max = max.max(load);
        }
        max
    }

    fn load(&mut self, pool: PoolId, cpu: u32) -> u32 {
        let p = pool.index();
        self.all_cpus[p] + self.pinned[cpu as usize][p] + self.max_task_on(cpu, p as u8)
    }

    /// Adds (`n > 0`) or removes (`n < 0`) breakpoints without any check.
    fn apply(&mut self, pool: PoolId, scope: Scope, n: i32) {
        let p = pool.index();
        match scope {
            Scope::AllCpus => self.all_cpus[p] = self.all_cpus[p].wrapping_add_signed(n),
            Scope::Cpu(c) => {
                let v = &mut self.pinned[c.0 as usize][p];
                *v = v.wrapping_add_signed(n);
            }
            Scope::Task(t) | Scope::TaskOnCpu(t, _) => {
                let cpu = scope.cpu().map_or(ANY_CPU, |c| c.0);
                let entry = ListEntry {
                    task: t.0,
                    cpu,
                    pool: p as u8,
                };
                if n > 0 {
                    for _ in 0..n {
                        self.list.push(entry);
                    }
                } else {
                    for _ in 0..-n {
                        let at = self
                            .list
                            .iter()
                            .position(|e| e.task == t.0 && e.cpu == cpu && e.pool == p as u8)
                            .expect("baseline: release of a breakpoint not held");
                        self.list.swap_remove(at);
                    }
                }
            }
        }
    }

    fn reserve(&mut self, pool: PoolId, scope: Scope, n: u32) -> bool {
        self.apply(pool, scope, n as i32);
        let load = self.max_load(pool);
        if load > self.slots[pool.index()] {
            self.apply(pool, scope, -(n as i32));
            return false;
        }
        self.published[pool.index()] = load;
        true
    }

    fn release(&mut self, pool: PoolId, scope: Scope, n: u32) {
        self.apply(pool, scope, -(n as i32));
        self.published[pool.index()] = self.max_load(pool);
    }
}

// ---------------------------------------------------------------------------
// Same decisions on random sequences
// ---------------------------------------------------------------------------

/// Drives the core and both baselines with the same random operations on
/// small machines; panics at the first disagreement. Returns the number of
/// operations compared and how many of them were refusals.
fn check_equivalence() -> (u64, u64) {
    const CPUS: usize = 4;
    const CTX: usize = 6;
    let mut rng = Rng::new(0x6877_6272_6b21);
    let mut ops = 0;
    let mut refused = 0;
    for round in 0..200 {
        let cpus = 1 + rng.below(CPUS as u64) as u32;
        let slots = [1 + rng.below(4) as u32, rng.below(5) as u32];
        let mut ours = Box::new(Reservations::<CPUS, CTX>::new());
        ours.init(cpus, slots).unwrap();
        let ledger = Ledger::new();
        let mut base = Baseline::new(cpus, CTX, slots);
        let mut modern = Modern::new(cpus, slots);
        // What is held, as (pool, scope, n) reservations.
        let mut held: Vec<(PoolId, Scope, u32)> = Vec::new();
        for step in 0..2_000 {
            ops += 1;
            let release = !held.is_empty() && rng.below(100) < 45;
            if release {
                let (pool, scope, n) = held.swap_remove(rng.below(held.len() as u64) as usize);
                let r = ours.adjust(
                    &ledger,
                    &[Change {
                        pool,
                        scope,
                        delta: -(n as i32),
                    }],
                );
                assert!(
                    r.is_ok(),
                    "round {round} step {step}: core refused a release"
                );
                base.release(pool, scope, n);
                modern.release(pool, scope, n);
            } else {
                let pool = PoolId::ALL[rng.below(2) as usize];
                let t = TaskId(rng.below(CTX as u64) as u32);
                let c = CpuId(rng.below(u64::from(cpus)) as u32);
                let mut scope = match rng.below(10) {
                    0 => Scope::AllCpus,
                    1 | 2 => Scope::Cpu(c),
                    3..=6 => Scope::Task(t),
                    _ => Scope::TaskOnCpu(t, c),
                };
                if let Scope::TaskOnCpu(t, c) = scope {
                    // The core keeps at most MAX_BOUND (CPU, pool) bindings
                    // per context (a capacity, refused as TableFull, not a
                    // reservation decision): stay within it.
                    let mut bindings: Vec<(u32, PoolId)> = held
                        .iter()
                        .filter_map(|&(p, s, _)| match s {
                            Scope::TaskOnCpu(u, d) if u == t => Some((d.0, p)),
                            _ => None,
                        })
                        .collect();
                    bindings.sort_by_key(|&(d, p)| (d, p.index()));
                    bindings.dedup();
                    if bindings.len() >= hwbreak_core::reserve::MAX_BOUND
                        && !bindings.contains(&(c.0, pool))
                    {
                        scope = Scope::Task(t);
                    }
                }
                let n = 1 + rng.below(2) as u32;
                let a = ours
                    .adjust(
                        &ledger,
                        &[Change {
                            pool,
                            scope,
                            delta: n as i32,
                        }],
                    )
                    .is_ok();
                let b = base.reserve(pool, scope, n);
                let m = modern.reserve(pool, scope, n);
                assert_eq!(
                    a, b,
                    "round {round} step {step}: reserve {n} of {pool:?} for {scope:?} on {cpus} \
                     CPUs with slots {slots:?}: core says {a}, baseline says {b}"
                );
                assert_eq!(
                    a, m,
                    "round {round} step {step}: reserve {n} of {pool:?} for {scope:?} on {cpus} \
                     CPUs with slots {slots:?}: core says {a}, modern baseline says {m}"
                );
                if a {
                    held.push((pool, scope, n));
                } else {
                    refused += 1;
                }
            }
            for pool in PoolId::ALL {
                assert_eq!(
                    ours.max_load(pool),
                    base.max_load(pool),
                    "round {round} step {step}: largest load of {pool:?}"
                );
                assert_eq!(
                    ours.max_load(pool),
                    modern.max_load(pool),
                    "round {round} step {step}: largest load of {pool:?} (modern)"
                );
                assert_eq!(ledger.load(pool), ours.max_load(pool), "ledger");
                for cpu in 0..cpus {
                    assert_eq!(
                        ours.load(pool, CpuId(cpu)),
                        base.load(pool, cpu),
                        "round {round} step {step}: load of CPU {cpu} in {pool:?}"
                    );
                    assert_eq!(
                        ours.load(pool, CpuId(cpu)),
                        modern.load(pool, cpu),
                        "round {round} step {step}: load of CPU {cpu} in {pool:?} (modern)"
                    );
                }
            }
        }
    }
    (ops, refused)
}

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------

/// One measurement: nanoseconds per reserve+release.
#[derive(Copy, Clone, Debug)]
struct Point {
    cpus: usize,
    held: usize,
    ours_ns: f64,
    modern_ns: f64,
    baseline_ns: f64,
}

/// Grows the same population of task breakpoints in the three
/// implementations (each context holds 1 to 3, drawn at random) and times a
/// reserve+release of one task breakpoint (any CPU) at each count of
/// `checkpoints`: ours and the modern baseline in alternation, the
/// pre-2022 baseline (thousands of times slower) on its own.
fn measure<const CPUS: usize>(checkpoints: &[usize], seed: u64) -> Vec<Point> {
    let slots = SLOTS;
    let mut ours = Box::new(Reservations::<CPUS, CONTEXTS>::new());
    ours.init(CPUS as u32, slots).unwrap();
    let ledger = Ledger::new();
    let mut base = Baseline::new(CPUS as u32, CONTEXTS, slots);
    let mut modern = Modern::new(CPUS as u32, slots);
    let targets: Vec<TaskId> = (0..TARGETS)
        .map(|i| TaskId((CONTEXTS - TARGETS + i) as u32))
        .collect();
    let mut rng = Rng::new(seed);
    let mut held = 0usize;
    let mut next_context = 0u32;
    let mut out = Vec::new();
    for &want in checkpoints {
        while held < want {
            let n = (1 + rng.below(3) as usize).min(want - held) as u32;
            let t = TaskId(next_context);
            next_context += 1;
            assert!((next_context as usize) < CONTEXTS - TARGETS);
            ours.reserve(&ledger, POOL, Scope::Task(t), n)
                .expect("population fits");
            assert!(modern.reserve(POOL, Scope::Task(t), n));
            // Populating the baseline through its own reserve would cost
            // O(CPUS * N) per breakpoint; these are known to fit.
            base.apply(POOL, Scope::Task(t), n as i32);
            held += n as usize;
        }
        base.published[0] = base.max_load(POOL);
        let (mut i, mut k) = (0usize, 0usize);
        let mut op_ours = || {
            let t = Scope::Task(targets[i % TARGETS]);
            i += 1;
            let r = ours.reserve(&ledger, POOL, black_box(t), 1);
            debug_assert!(r.is_ok());
            black_box(r).ok();
            ours.release(&ledger, POOL, t, 1);
        };
        let mut op_modern = || {
            let t = Scope::Task(targets[k % TARGETS]);
            k += 1;
            let ok = modern.reserve(POOL, black_box(t), 1);
            debug_assert!(ok);
            black_box(ok);
            modern.release(POOL, t, 1);
        };
        let best = interleaved(
            &mut [&mut op_ours, &mut op_modern],
            Duration::from_millis(1),
            201,
        );
        let mut j = 0usize;
        let target = if CPUS * want > 1_000_000 { 10 } else { 30 };
        let baseline_ns = ns_per_op(
            || {
                let t = Scope::Task(targets[j % TARGETS]);
                j += 1;
                let ok = base.reserve(POOL, black_box(t), 1);
                assert!(ok);
                base.release(POOL, t, 1);
                black_box(base.published);
            },
            Duration::from_millis(target),
            3,
        );
        out.push(Point {
            cpus: CPUS,
            held: want,
            ours_ns: best[0],
            modern_ns: best[1],
            baseline_ns,
        });
    }
    out
}

/// Reserve+release of one breakpoint of each other scope, ours against the
/// modern baseline in alternation, on 256 CPUs with `held` task
/// breakpoints held (as in [`measure`]) and a target context that already
/// has a breakpoint bound to CPU 3: where upstream leaves its fast path.
/// Returns (scope name, ours, modern) per scope.
fn measure_scopes(held: usize) -> Vec<(&'static str, f64, f64)> {
    const CPUS: usize = 256;
    let mut ours = Box::new(Reservations::<CPUS, CONTEXTS>::new());
    ours.init(CPUS as u32, SLOTS).unwrap();
    let ledger = Ledger::new();
    let mut modern = Modern::new(CPUS as u32, SLOTS);
    let mut rng = Rng::new(0x5c0e);
    let (mut count, mut ctx) = (0, 0u32);
    while count < held {
        let n = (1 + rng.below(3) as usize).min(held - count) as u32;
        let s = Scope::Task(TaskId(ctx));
        ours.reserve(&ledger, POOL, s, n).unwrap();
        assert!(modern.reserve(POOL, s, n));
        ctx += 1;
        count += n as usize;
    }
    let bound = TaskId((CONTEXTS - 1) as u32);
    let fresh = TaskId((CONTEXTS - 2) as u32);
    let pin = Scope::TaskOnCpu(bound, CpuId(3));
    ours.reserve(&ledger, POOL, pin, 1).unwrap();
    assert!(modern.reserve(POOL, pin, 1));
    let cases: [(&'static str, Scope); 4] = [
        ("task_on_cpu", Scope::TaskOnCpu(fresh, CpuId(7))),
        ("task_with_bound", Scope::Task(bound)),
        ("cpu", Scope::Cpu(CpuId(5))),
        ("all_cpus", Scope::AllCpus),
    ];
    let mut out = Vec::new();
    for (name, scope) in cases {
        // Both admit it (so the timed releases give back what was taken).
        ours.reserve(&ledger, POOL, scope, 1).unwrap();
        ours.release(&ledger, POOL, scope, 1);
        assert!(modern.reserve(POOL, scope, 1), "{name}");
        modern.release(POOL, scope, 1);
        let mut op_ours = || {
            let r = ours.reserve(&ledger, POOL, black_box(scope), 1);
            debug_assert!(r.is_ok());
            black_box(r).ok();
            ours.release(&ledger, POOL, scope, 1);
        };
        let mut op_modern = || {
            let ok = modern.reserve(POOL, black_box(scope), 1);
            debug_assert!(ok);
            black_box(ok);
            modern.release(POOL, scope, 1);
        };
        let best = interleaved(
            &mut [&mut op_ours, &mut op_modern],
            Duration::from_millis(5),
            9,
        );
        out.push((name, best[0], best[1]));
    }
    out
}

/// Our reserve+release at 1 and at `many` task breakpoints held, on two
/// tables that exist side by side, timed in alternation.
fn flatness_pair(many: usize) -> (f64, f64) {
    const CPUS: usize = 256;
    let targets: Vec<TaskId> = (0..TARGETS)
        .map(|i| TaskId((CONTEXTS - TARGETS + i) as u32))
        .collect();
    let build = |held: usize| {
        let mut r = Box::new(Reservations::<CPUS, CONTEXTS>::new());
        r.init(CPUS as u32, SLOTS).unwrap();
        let ledger = Ledger::new();
        let mut rng = Rng::new(0xf1a7);
        let (mut count, mut ctx) = (0, 0u32);
        while count < held {
            let n = (1 + rng.below(3) as usize).min(held - count) as u32;
            r.reserve(&ledger, POOL, Scope::Task(TaskId(ctx)), n)
                .unwrap();
            ctx += 1;
            count += n as usize;
        }
        (r, ledger)
    };
    let (mut one, one_ledger) = build(1);
    let (mut lots, lots_ledger) = build(many);
    let (mut i, mut j) = (0usize, 0usize);
    let mut op_one = || {
        let t = Scope::Task(targets[i % TARGETS]);
        i += 1;
        black_box(one.reserve(&one_ledger, POOL, black_box(t), 1)).ok();
        one.release(&one_ledger, POOL, t, 1);
    };
    let mut op_lots = || {
        let t = Scope::Task(targets[j % TARGETS]);
        j += 1;
        black_box(lots.reserve(&lots_ledger, POOL, black_box(t), 1)).ok();
        lots.release(&lots_ledger, POOL, t, 1);
    };
    let best = support::interleaved(
        &mut [&mut op_one, &mut op_lots],
        Duration::from_millis(5),
        41,
    );
    (best[0], best[1])
}

/// Reserve+release on contexts that already hold breakpoints, drawn at
/// random over the whole table (cache misses included).
fn measure_random_holders(held: usize) -> f64 {
    const CPUS: usize = 256;
    let mut ours = Box::new(Reservations::<CPUS, CONTEXTS>::new());
    ours.init(CPUS as u32, SLOTS).unwrap();
    let ledger = Ledger::new();
    let mut rng = Rng::new(0x5eed);
    let mut count = 0;
    let mut contexts = 0u32;
    while count < held {
        let n = (1 + rng.below(3) as usize).min(held - count) as u32;
        ours.reserve(&ledger, POOL, Scope::Task(TaskId(contexts)), n)
            .unwrap();
        contexts += 1;
        count += n as usize;
    }
    let picks: Vec<Scope> = (0..65_536)
        .map(|_| Scope::Task(TaskId(rng.below(u64::from(contexts)) as u32)))
        .collect();
    let mut i = 0usize;
    ns_per_op(
        || {
            let s = picks[i % picks.len()];
            i += 1;
            if ours.reserve(&ledger, POOL, black_box(s), 1).is_ok() {
                ours.release(&ledger, POOL, s, 1);
            }
        },
        Duration::from_millis(20),
        7,
    )
}

/// The full registry path: `register` + `unregister` of a task breakpoint
/// on the model machine with `held` task breakpoints registered (no CPU
/// runs the target context, so no register is written).
fn measure_registry<const CPUS: usize>(held: usize) -> f64 {
    const BPS: usize = 10_240;
    const TASKS: usize = 5_200;
    let machine = Machine::new(Config::x86_like(CPUS as u32));
    let reg: Box<Registry<ModelArch, ModelPlatform, BPS, CPUS, TASKS>> = Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    for cpu in 0..CPUS as u32 {
        hwbreak_core::model::on_cpu(cpu, || reg.cpu_online().unwrap());
    }
    const BASE: u64 = 0xffff_8000_0100_0000;
    for i in 0..held {
        // Two per context, each at its own address.
        let req = Request::write(BASE + 8 * i as u64, 8)
            .space(Space::Kernel)
            .scope(Scope::Task(TaskId((i / 2) as u32)));
        reg.register(&req).expect("population fits");
    }
    machine.clear_log();
    let targets: Vec<Request> = (0..TARGETS)
        .map(|k| {
            Request::write(0xffff_8000_0200_0000 + 8 * k as u64, 8)
                .scope(Scope::Task(TaskId((TASKS - TARGETS + k) as u32)))
        })
        .collect();
    let mut i = 0usize;
    let ns = ns_per_op(
        || {
            let req = &targets[i % TARGETS];
            i += 1;
            let h = reg.register(black_box(req)).unwrap();
            reg.unregister(h).unwrap();
        },
        Duration::from_millis(30),
        5,
    );
    assert_eq!(
        machine.register_writes(),
        0,
        "no CPU runs the target contexts"
    );
    ns
}

// ---------------------------------------------------------------------------
// The plot
// ---------------------------------------------------------------------------

fn svg(points: &[Point]) -> String {
    let (w, h) = (720.0, 440.0);
    let (left, right, top, bottom) = (80.0, 170.0, 40.0, 60.0);
    let xmin = 0.0f64; // log10(1)
    let xmax = 5.0f64; // log10(100 000)
    let ys: Vec<f64> = points
        .iter()
        .flat_map(|p| [p.ours_ns, p.modern_ns, p.baseline_ns])
        .collect();
    let ymin = ys.iter().cloned().fold(f64::MAX, f64::min).log10().floor();
    let ymax = ys.iter().cloned().fold(0.0, f64::max).log10().ceil();
    let px = |x: f64| left + (x.log10() - xmin) / (xmax - xmin) * (w - left - right);
    let py = |y: f64| top + (ymax - y.log10()) / (ymax - ymin) * (h - top - bottom);
    let mut s = String::new();
    s += &format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    );
    s += &format!("<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n");
    s += &format!(
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">Reserve + release of \
         one task breakpoint, 256 CPUs (log-log)</text>\n",
        (left + w - right) / 2.0
    );
    // Grid and axes.
    for d in 0..=5 {
        let x = px(10f64.powi(d));
        s += &format!(
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\n",
            h - bottom
        );
        s += &format!(
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            h - bottom + 18.0,
            10u64.pow(d as u32)
        );
    }
    let mut e = ymin as i32;
    while e <= ymax as i32 {
        let y = py(10f64.powi(e));
        s += &format!(
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n",
            w - right
        );
        let label = match e {
            e if e < 3 => format!("{} ns", 10u64.pow(e.max(0) as u32)),
            e if e < 6 => format!("{} µs", 10u64.pow((e - 3) as u32)),
            e if e < 9 => format!("{} ms", 10u64.pow((e - 6) as u32)),
            e => format!("{} s", 10u64.pow((e - 9) as u32)),
        };
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>\n",
            left - 6.0,
            y + 4.0
        );
        e += 1;
    }
    s += &format!(
        "<rect x=\"{left}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" \
         stroke=\"#333\"/>\n",
        w - left - right,
        h - top - bottom
    );
    s += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">task breakpoints already held</text>\n",
        (left + w - right) / 2.0,
        h - 18.0
    );
    s += &format!(
        "<text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">time per \
         reserve + release</text>\n",
        (top + h - bottom) / 2.0
    );
    type Pick = fn(&Point) -> f64;
    let series: [(&str, Pick); 3] = [
        ("#1f77b4", |p| p.ours_ns),
        ("#2ca02c", |p| p.modern_ns),
        ("#d62728", |p| p.baseline_ns),
    ];
    for (color, pick) in series {
        let pts: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.held as f64), py(pick(p))))
            .collect();
        s += &format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\n",
            pts.join(" ")
        );
        for p in points {
            s += &format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{color}\"><title>{} held: \
                 {:.0} ns</title></circle>\n",
                px(p.held as f64),
                py(pick(p)),
                p.held,
                pick(p)
            );
        }
    }
    // Legend.
    let lx = w - right + 12.0;
    for (k, (name, color)) in [
        ("hwbreak core", "#1f77b4"),
        ("upstream since 2022:", "#2ca02c"),
        ("upstream before 2022:", "#d62728"),
    ]
    .iter()
    .enumerate()
    {
        let ly = top + 20.0 + 40.0 * k as f64;
        s += &format!(
            "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" \
             stroke-width=\"2\"/>\n",
            lx + 22.0
        );
        s += &format!(
            "<text x=\"{}\" y=\"{}\">{name}</text>\n",
            lx + 28.0,
            ly + 4.0
        );
        let second_line = match k {
            1 => "hashed task lists",
            2 => "one list, per CPU",
            _ => "",
        };
        if !second_line.is_empty() {
            s += &format!(
                "<text x=\"{}\" y=\"{}\">{second_line}</text>\n",
                lx + 28.0,
                ly + 18.0
            );
        }
    }
    s += "</svg>\n";
    s
}

/// The implementation a `--probe` run counts.
enum Counted {
    Ours(Box<Reservations<256, CONTEXTS>>, Ledger),
    Modern(Box<Modern>),
}

/// The measured region of `--probe`: `n` reserve+release cycles of one task
/// breakpoint (any CPU) over the target contexts. Returns the refusals.
#[inline(never)]
fn reserve_loop(counted: &mut Counted, targets: &[TaskId], n: u64) -> u64 {
    let mut refused = 0;
    for i in 0..n as usize {
        let t = Scope::Task(targets[i % targets.len()]);
        match counted {
            Counted::Ours(r, ledger) => {
                refused += u64::from(r.reserve(ledger, POOL, black_box(t), 1).is_err());
                r.release(ledger, POOL, t, 1);
            }
            Counted::Modern(m) => {
                refused += u64::from(!m.reserve(POOL, black_box(t), 1));
                m.release(POOL, t, 1);
            }
        }
    }
    refused
}

/// `reserve --probe <ours|modern> <n>`, run by `cargo xtask bench` under
/// callgrind: `n` reserve+release cycles on 256 CPUs with 10 000 task
/// breakpoints held (as in [`measure`]), counted inside [`reserve_loop`].
fn probe(which: &str, n: u64) {
    const HELD: usize = 10_000;
    let mut counted = match which {
        "ours" => {
            let mut r = Box::new(Reservations::<256, CONTEXTS>::new());
            r.init(256, SLOTS).unwrap();
            Counted::Ours(r, Ledger::new())
        }
        "modern" => Counted::Modern(Box::new(Modern::new(256, SLOTS))),
        other => panic!("unknown implementation {other}"),
    };
    let mut rng = Rng::new(256);
    let (mut held, mut ctx) = (0, 0u32);
    while held < HELD {
        let n = (1 + rng.below(3) as usize).min(HELD - held) as u32;
        let s = Scope::Task(TaskId(ctx));
        let ok = match &mut counted {
            Counted::Ours(r, ledger) => r.reserve(ledger, POOL, s, n).is_ok(),
            Counted::Modern(m) => m.reserve(POOL, s, n),
        };
        assert!(ok, "population fits");
        ctx += 1;
        held += n as usize;
    }
    let targets: Vec<TaskId> = (0..TARGETS)
        .map(|i| TaskId((CONTEXTS - TARGETS + i) as u32))
        .collect();
    assert_eq!(reserve_loop(&mut counted, &targets, n), 0, "all admitted");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        let which = args.get(1).expect("--probe <ours|modern> <n>").clone();
        let n: u64 = args.get(2).and_then(|s| s.parse().ok()).expect("count");
        with_big_stack(move || probe(&which, n));
        return;
    }
    let (ops, refused) = check_equivalence();
    detail(
        "reserve_equivalence_ops",
        ops as f64,
        "ops (same decisions)",
    );
    detail(
        "reserve_equivalence_refusals",
        refused as f64,
        "ops refused by all three",
    );

    let curve = with_big_stack(|| measure::<256>(&[1, 10, 100, 1_000, 10_000, 100_000], 256));
    let small = with_big_stack(|| measure::<4>(&[1, 100, 10_000, 100_000], 4));
    let mid = with_big_stack(|| measure::<64>(&[1, 100, 10_000, 100_000], 64));
    for p in small.iter().chain(&mid).chain(&curve) {
        detail(
            &format!("reserve_release_ns{{cpus={},task_bps={}}}", p.cpus, p.held),
            p.ours_ns,
            "ns",
        );
        detail(
            &format!(
                "modern_reserve_release_ns{{cpus={},task_bps={}}}",
                p.cpus, p.held
            ),
            p.modern_ns,
            "ns",
        );
        detail(
            &format!(
                "baseline_reserve_release_ns{{cpus={},task_bps={}}}",
                p.cpus, p.held
            ),
            p.baseline_ns,
            "ns",
        );
    }
    let at = |n: usize| curve.iter().find(|p| p.held == n).copied().unwrap();
    let speedups: Vec<f64> = curve.iter().map(|p| p.modern_ns / p.ours_ns).collect();
    let most = speedups.iter().cloned().fold(f64::MIN, f64::max);
    let least = speedups.iter().cloned().fold(f64::MAX, f64::min);
    detail(
        "modern_flatness{cpus=256,task_bps=100000/1}",
        at(100_000).modern_ns / at(1).modern_ns,
        "x",
    );
    for (name, ours_ns, modern_ns) in with_big_stack(|| measure_scopes(10_000)) {
        detail(
            &format!("reserve_release_ns{{cpus=256,task_bps=10000,scope={name}}}"),
            ours_ns,
            "ns",
        );
        detail(
            &format!("modern_reserve_release_ns{{cpus=256,task_bps=10000,scope={name}}}"),
            modern_ns,
            "ns",
        );
        detail(
            &format!("speedup_vs_modern{{cpus=256,task_bps=10000,scope={name}}}"),
            modern_ns / ours_ns,
            "x",
        );
    }
    let random = with_big_stack(|| measure_random_holders(100_000));
    detail(
        "reserve_release_ns{cpus=256,task_bps=100000,random_holder}",
        random,
        "ns",
    );
    let reg1 = with_big_stack(|| measure_registry::<256>(1));
    let reg10k = with_big_stack(|| measure_registry::<256>(10_000));
    let reg1_4 = with_big_stack(|| measure_registry::<4>(1));
    let reg10k_4 = with_big_stack(|| measure_registry::<4>(10_000));
    for (cpus, held, ns) in [
        (4, 1, reg1_4),
        (4, 10_000, reg10k_4),
        (256, 1, reg1),
        (256, 10_000, reg10k),
    ] {
        detail(
            &format!("registry_register_unregister_ns{{cpus={cpus},task_bps={held}}}"),
            ns,
            "ns",
        );
    }
    detail(
        "registry_speedup_vs_baseline{cpus=256,task_bps=10000}",
        at(10_000).baseline_ns / reg10k,
        "x",
    );
    detail("registry_flatness{task_bps=10000/1}", reg10k / reg1, "x");
    if let Ok(path) = std::env::var("HWBREAK_BENCH_SVG") {
        std::fs::write(&path, svg(&curve)).expect("write the plot");
        eprintln!("reserve: plot written to {path}");
    }
    ratio(
        "reserve_speedup_vs_baseline",
        at(10_000).baseline_ns / at(10_000).ours_ns,
    );
    ratio(
        "reserve_speedup_vs_modern",
        at(10_000).modern_ns / at(10_000).ours_ns,
    );
    ratio("reserve_speedup_vs_modern_flatness", most / least);
    let (one, lots) = with_big_stack(|| flatness_pair(100_000));
    detail(
        "reserve_release_ns{cpus=256,task_bps=1,interleaved}",
        one,
        "ns",
    );
    detail(
        "reserve_release_ns{cpus=256,task_bps=100000,interleaved}",
        lots,
        "ns",
    );
    ratio("reserve_flatness", lots / one);
}
