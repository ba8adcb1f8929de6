//! Register writes on context switches, against the least any policy can
//! do and against reinstalling everything.
//!
//! A seeded trace of 100 000 switches on a 4-CPU x86-like model machine
//! (one pool of 4 slots, one control word): 64 threads share one debug
//! context holding 4 inherited watchpoints, 8 threads have a context of
//! their own (1 to 3 watchpoints each), 16 threads have none. Each switch
//! puts a thread that is not running on a random CPU.
//!
//! - ours: the `Write::Slot` and `Write::Control` entries the model machine
//!   logged while the registry replayed the trace;
//! - minimum: computed here from the sets of register images alone, with no
//!   registry: when a CPU goes from image set `S` to `D`, every image of
//!   `D` not in `S` needs a slot write and every image of `S` not in `D`
//!   must leave its slot (overwritten or cleared), so at least
//!   `max(|D \ S|, |S \ D|)` slot writes; the control word (one enable bit
//!   per occupied slot) must change exactly when `|S| != |D|`;
//! - naive: uninstall everything of the outgoing thread (a write per slot
//!   and the control word) and install everything of the incoming one.
//!
//! After every switch the bench also checks that the CPU's registers hold
//! exactly the incoming thread's images, so the count is of correct work.
//!
//! Prints `bench: switch_writes_over_minimum` and
//! `bench: switch_writes_vs_naive`.
//!
//! Run as `switch --probe <config> <n>` (by `cargo xtask bench`, under
//! `valgrind --tool=callgrind` collecting only inside [`switch_loop`]), it
//! makes `n` calls of `Registry::switch_task` on a backend that costs
//! nothing ([`support::TrivialArch`]), so the difference with `n = 0`
//! divided by `n` is the core's instructions per switch. `<config>` is
//! `same-<tasks>` (switching to the context already loaded: nothing
//! changes), `change-<tasks>` (alternating between two contexts of 4
//! watchpoints each at different addresses: all 4 slots and the control
//! word change) or `change16-<tasks>` (the same with 16 each, every slot
//! of the pool), with `<tasks>` debug contexts holding breakpoints in all
//! (the others hold one each).

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
use hwbreak_core::{
    AccessKind, Arch, MemoryType, Piece, Registry, Request, Scope, SlotImage, Space, TaskId,
};
use support::{detail, ratio, with_big_stack, OneCpu, Rng, TrivialArch};

const CPUS: u32 = 4;
const SLOTS: usize = 4;
const SWITCHES: usize = 100_000;
const SEED: u64 = 0x5357_4954_4348;
const BASE: u64 = 0xffff_8000_0040_0000;

type Reg = Registry<ModelArch, ModelPlatform, 64, 4, 16>;

/// Slot writes and control writes the least any policy needs to go from
/// image set `s` to `d` on an x86-like CPU.
fn minimum(s: &[SlotImage], d: &[SlotImage]) -> u64 {
    let missing = |from: &[SlotImage], of: &[SlotImage]| {
        let mut pool: Vec<SlotImage> = from.to_vec();
        let mut n = 0;
        for img in of {
            match pool.iter().position(|x| x == img) {
                Some(i) => {
                    pool.swap_remove(i);
                }
                None => n += 1,
            }
        }
        n
    };
    let need = missing(s, d);
    let unwanted = missing(d, s);
    need.max(unwanted) + u64::from(s.len() != d.len())
}

/// Writes of a policy that uninstalls every slot of the outgoing thread
/// and installs every slot of the incoming one, each set followed by a
/// control word write.
fn naive(s: &[SlotImage], d: &[SlotImage]) -> u64 {
    let side = |v: &[SlotImage]| v.len() as u64 + u64::from(!v.is_empty());
    side(s) + side(d)
}

fn sorted(mut v: Vec<SlotImage>) -> Vec<SlotImage> {
    v.sort_by_key(|i| (i.value, i.control));
    v
}

struct Trace {
    /// (CPU, incoming context) per switch.
    steps: Vec<(u32, Option<TaskId>)>,
}

/// Registry of the instruction counts: room for 1024 contexts.
type CountReg = Registry<TrivialArch, OneCpu, 1088, 1, 1024>;

/// The measured region: `n` context switches, alternating between the two
/// entries of `order`, nothing else. Returns the number of failed calls.
#[inline(never)]
fn switch_loop(reg: &CountReg, order: [Option<TaskId>; 2], n: u64) -> u64 {
    let mut failed = 0;
    for i in 0..n {
        failed += u64::from(reg.switch_task(black_box(order[(i & 1) as usize])).is_err());
    }
    failed
}

/// Runs `n` switches of `config` and checks that the CPU ends up holding
/// the context switched to last.
fn probe(config: &str, n: u64) {
    let (kind, tasks) = config.split_once('-').expect("<kind>-<tasks>");
    let tasks: u32 = tasks.parse().expect("a number of contexts");
    let per_context = match kind {
        "same" | "change" => 4,
        "change16" => 16,
        other => panic!("unknown configuration {other}"),
    };
    assert!((2..=1024).contains(&tasks));
    let reg: Box<CountReg> = Box::new(Registry::new(TrivialArch, OneCpu));
    reg.init().unwrap();
    reg.cpu_online().unwrap();
    // Contexts 0 and 1 hold `per_context` breakpoints each, the others one.
    let addr = |ctx: u32, j: u32| BASE + 0x1000 * u64::from(ctx) + 0x40 * u64::from(j);
    for ctx in 0..tasks {
        let count = if ctx < 2 { per_context } else { 1 };
        for j in 0..count {
            let req = Request::write(addr(ctx, j), 8)
                .space(Space::Kernel)
                .scope(Scope::Task(TaskId(ctx)));
            reg.register(&req).expect("context fits");
        }
    }
    let (a, b) = (Some(TaskId(0)), Some(TaskId(1)));
    let order = if kind == "same" { [a, a] } else { [a, b] };
    // Loaded before the loop: the first switch of `change` changes slots.
    reg.switch_task(order[1]).unwrap();
    assert_eq!(switch_loop(&reg, order, n), 0, "every switch succeeds");
    let last = order[((n + 1) & 1) as usize].unwrap();
    let mut held: Vec<u64> = (0..hwbreak_core::MAX_SLOTS)
        .filter_map(|i| reg.armed_slot(hwbreak_core::PoolId::FIRST, i).unwrap())
        .map(|image| image.value)
        .collect();
    held.sort_unstable();
    let want: Vec<u64> = (0..per_context).map(|j| addr(last.0, j)).collect();
    assert_eq!(held, want, "the CPU holds the last context's watchpoints");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        let config = args.get(1).expect("--probe <config> <n>").clone();
        let n: u64 = args.get(2).and_then(|s| s.parse().ok()).expect("count");
        with_big_stack(move || probe(&config, n));
        return;
    }
    let machine = Machine::new(Config::x86_like(CPUS));
    let arch = ModelArch::new(machine.clone());
    let reg: Box<Reg> = Box::new(Registry::new(
        arch.clone(),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    for cpu in 0..CPUS {
        on_cpu(cpu, || reg.cpu_online().unwrap());
    }
    let mut rng = Rng::new(SEED);

    // Debug contexts: 0 is shared (4 inherited watchpoints), 1..=8 are own.
    let mut images: Vec<Vec<SlotImage>> = vec![Vec::new(); 9];
    for (ctx, set) in images.iter_mut().enumerate() {
        let count = if ctx == 0 { 4 } else { 1 + rng.below(3) };
        for j in 0..count {
            let addr = BASE + 0x1000 * ctx as u64 + 0x40 * j;
            let req = Request::write(addr, 8)
                .space(Space::Kernel)
                .scope(Scope::Task(TaskId(ctx as u32)));
            reg.register(&req).expect("context fits");
            // The image the hardware must hold, from the backend's pure
            // encoder (not from the registry).
            set.push(
                arch.encode(&Piece {
                    addr,
                    len: 8,
                    kind: AccessKind::Write,
                    space: Space::Kernel,
                    memory: MemoryType::Normal,
                })
                .unwrap(),
            );
        }
    }
    // Threads: 64 share context 0, 8 own contexts 1..=8, 16 have none.
    let mut threads: Vec<Option<TaskId>> = vec![Some(TaskId(0)); 64];
    threads.extend((1..=8).map(|c| Some(TaskId(c))));
    threads.extend(std::iter::repeat_n(None, 16));
    // Each CPU starts on one of the context-less threads.
    let mut running: Vec<usize> = (0..CPUS as usize).map(|c| 72 + c).collect();
    let mut trace = Trace { steps: Vec::new() };
    for _ in 0..SWITCHES {
        let cpu = rng.below(u64::from(CPUS)) as usize;
        let next = loop {
            let t = rng.below(threads.len() as u64) as usize;
            if !running.contains(&t) {
                break t;
            }
        };
        running[cpu] = next;
        trace.steps.push((cpu as u32, threads[next]));
    }

    let set_of = |ctx: Option<TaskId>| ctx.map_or(Vec::new(), |t| images[t.0 as usize].clone());
    machine.clear_log();
    // The simulated register content of every CPU, from the real one.
    let mut sim: Vec<Vec<SlotImage>> = (0..CPUS)
        .map(|c| {
            machine.regs(c).slots[0][..SLOTS]
                .iter()
                .flatten()
                .copied()
                .collect()
        })
        .collect();
    let (mut least, mut reinstall, mut idle_switches) = (0u64, 0u64, 0u64);
    let mut writes_seen = 0usize;
    for (i, &(cpu, ctx)) in trace.steps.iter().enumerate() {
        on_cpu(cpu, || reg.switch_task(ctx).unwrap());
        let want = set_of(ctx);
        let s = &sim[cpu as usize];
        let m = minimum(s, &want);
        least += m;
        reinstall += naive(s, &want);
        if m == 0 {
            idle_switches += 1;
        }
        sim[cpu as usize] = want.clone();
        // The registers hold exactly the incoming images, enabled.
        let regs = machine.regs(cpu);
        let held: Vec<SlotImage> = regs.slots[0][..SLOTS].iter().flatten().copied().collect();
        assert_eq!(
            sorted(held),
            sorted(want),
            "switch {i}: CPU {cpu} holds the wrong images"
        );
        let enabled = (0..SLOTS).filter(|&k| regs.slots[0][k].is_some());
        let word = enabled.fold(0u64, |w, k| w | (1 << k));
        assert_eq!(regs.control[0], word, "switch {i}: control word");
        if i % 10_000 == 9_999 {
            writes_seen += machine.register_writes();
            machine.clear_log();
        }
    }
    let ours = (writes_seen + machine.register_writes()) as u64;
    detail("switches", SWITCHES as f64, "switches");
    detail("switch_writes_ours", ours as f64, "writes");
    detail("switch_writes_minimum", least as f64, "writes");
    detail("switch_writes_naive", reinstall as f64, "writes");
    detail(
        "switches_needing_no_write",
        idle_switches as f64,
        "switches",
    );

    // Time of a switch (model backend: every register write takes a lock
    // and appends to the log, so this is an upper bound for the core).
    let start = Instant::now();
    for &(cpu, ctx) in &trace.steps {
        on_cpu(cpu, || reg.switch_task(black_box(ctx)).unwrap());
    }
    let ns = start.elapsed().as_nanos() as f64 / SWITCHES as f64;
    detail("switch_task_ns{trace,model_backend}", ns, "ns");
    machine.clear_log();
    // The common case: a switch between two threads of the same context.
    on_cpu(0, || reg.switch_task(Some(TaskId(0))).unwrap());
    let same = support::ns_per_op(
        || on_cpu(0, || reg.switch_task(black_box(Some(TaskId(0)))).unwrap()),
        Duration::from_millis(20),
        9,
    );
    assert_eq!(machine.register_writes(), 0);
    detail("switch_task_ns{same_context}", same, "ns");

    ratio("switch_writes_over_minimum", ours as f64 / least as f64);
    ratio("switch_writes_vs_naive", reinstall as f64 / ours as f64);
}
