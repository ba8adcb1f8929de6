//! Registry operations against the number of breakpoints already held.
//!
//! Four registries of the same capacity (65 535 breakpoints, the most a
//! registry can have; 30 064 debug contexts; one CPU; the backend that
//! costs nothing: [`support::TrivialArch`]) hold 1, 100, 10 000 and 60 000
//! task breakpoints, two per debug context at distinct addresses. In each, a
//! target context holds one more watchpoint and the CPU runs it, so every
//! operation below also reloads the CPU. The operations, each timed on the
//! four registries in alternation:
//!
//! - `register_unregister`: a new watchpoint of the target context, then
//!   its removal;
//! - `modify`: the target's watchpoint moved to another address and back
//!   (two calls);
//! - `disable_enable`: the target's watchpoint disabled, then enabled.
//!
//! Before timing, each operation is checked on every registry: what the
//! CPU holds afterwards is what it held before, and the operation changed
//! the CPU's slots while it ran (checked once, outside the timing).
//!
//! Prints `bench: <op>_flatness` (the largest of the four times over the
//! smallest) and `bench-detail:` lines.
//!
//! `flatness --probe <op>-<held> <n>` (run by `cargo xtask bench` under
//! callgrind) builds one registry holding `held` breakpoints besides the
//! target's and runs `op` `n` times inside [`op_loop`], so the instructions
//! of one operation are counted exactly, whatever else runs on the machine.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use hwbreak_core::{Handle, PoolId, Registry, Request, Scope, Space, TaskId, MAX_SLOTS};
use support::{detail, interleaved, ratio, with_big_stack, OneCpu, TrivialArch};

/// The registry's largest capacity (handles index entries with 16 bits).
const BPS: usize = 65_535;
const TASKS: usize = 30_064;
/// The context the operations work on (not one of the population's).
const TARGET: TaskId = TaskId(TASKS as u32 - 1);
const BASE: u64 = 0xffff_8000_1000_0000;
const TARGET_ADDR: u64 = 0xffff_8000_0100_0000;
const MOVED_ADDR: u64 = 0xffff_8000_0100_0040;
/// Population sizes: with the target's watchpoint, 1, 100, 10 000 and
/// 60 000 held (100 000 does not fit in the registry's largest capacity).
const HELD: [usize; 4] = [0, 99, 9_999, 59_999];

type Reg = Registry<TrivialArch, OneCpu, BPS, 1, TASKS>;
/// A registry of 1024 entries, to show what the capacity alone costs.
type SmallReg = Registry<TrivialArch, OneCpu, 1024, 1, 1024>;

struct Held {
    reg: Box<Reg>,
    target: Handle,
}

fn watch(addr: u64, ctx: TaskId) -> Request {
    Request::write(addr, 8)
        .space(Space::Kernel)
        .scope(Scope::Task(ctx))
}

impl Held {
    /// `held` task breakpoints, plus the target's one.
    fn new(held: usize) -> Self {
        let reg: Box<Reg> = Box::new(Registry::new(TrivialArch, OneCpu));
        reg.init().unwrap();
        reg.cpu_online().unwrap();
        for i in 0..held {
            let ctx = TaskId((i / 2) as u32);
            reg.register(&watch(BASE + 8 * i as u64, ctx))
                .expect("population fits");
        }
        let target = reg.register(&watch(TARGET_ADDR, TARGET)).unwrap();
        reg.switch_task(Some(TARGET)).unwrap();
        Self { reg, target }
    }

    /// The addresses the CPU's slots hold, in order.
    fn armed(&self) -> Vec<u64> {
        let mut v: Vec<u64> = (0..MAX_SLOTS)
            .filter_map(|i| self.reg.armed_slot(PoolId::FIRST, i).unwrap())
            .map(|image| image.value)
            .collect();
        v.sort_unstable();
        v
    }

    fn register_unregister(&self) {
        let h = self
            .reg
            .register(black_box(&watch(TARGET_ADDR + 8, TARGET)))
            .unwrap();
        self.reg.unregister(black_box(h)).unwrap();
    }

    fn modify(&self) {
        let h = black_box(self.target);
        self.reg.modify(h, &watch(MOVED_ADDR, TARGET)).unwrap();
        self.reg.modify(h, &watch(TARGET_ADDR, TARGET)).unwrap();
    }

    fn disable_enable(&self) {
        let h = black_box(self.target);
        self.reg.disable(h).unwrap();
        self.reg.enable(h).unwrap();
    }

    /// Checks that each operation leaves the CPU as it found it, and that
    /// its first half changed the CPU's slots.
    fn check(&self) {
        let before = self.armed();
        assert_eq!(before, vec![TARGET_ADDR], "the CPU runs the target context");
        let h = self.reg.register(&watch(TARGET_ADDR + 8, TARGET)).unwrap();
        assert_eq!(self.armed(), vec![TARGET_ADDR, TARGET_ADDR + 8]);
        self.reg.unregister(h).unwrap();
        assert_eq!(self.armed(), before);
        self.reg
            .modify(self.target, &watch(MOVED_ADDR, TARGET))
            .unwrap();
        assert_eq!(self.armed(), vec![MOVED_ADDR]);
        self.reg
            .modify(self.target, &watch(TARGET_ADDR, TARGET))
            .unwrap();
        assert_eq!(self.armed(), before);
        self.reg.disable(self.target).unwrap();
        assert!(self.armed().is_empty());
        self.reg.enable(self.target).unwrap();
        assert_eq!(self.armed(), before);
    }
}

/// Register + unregister and modify (as above) with one breakpoint held in
/// a registry of 1024 entries and in one of 65 535, in alternation:
/// (register_unregister, modify) times per capacity.
fn capacity_pair() -> [(f64, f64); 2] {
    let small: Box<SmallReg> = Box::new(Registry::new(TrivialArch, OneCpu));
    small.init().unwrap();
    small.cpu_online().unwrap();
    let small_target = small.register(&watch(TARGET_ADDR, TaskId(1))).unwrap();
    small.switch_task(Some(TaskId(1))).unwrap();
    let large = Held::new(0);
    let mut ru_small = || {
        let h = small
            .register(black_box(&watch(TARGET_ADDR + 8, TaskId(1))))
            .unwrap();
        small.unregister(black_box(h)).unwrap();
    };
    let mut ru_large = || large.register_unregister();
    let ru = interleaved(
        &mut [&mut ru_small, &mut ru_large],
        Duration::from_millis(5),
        21,
    );
    let mut m_small = || {
        let h = black_box(small_target);
        small.modify(h, &watch(MOVED_ADDR, TaskId(1))).unwrap();
        small.modify(h, &watch(TARGET_ADDR, TaskId(1))).unwrap();
    };
    let mut m_large = || large.modify();
    let m = interleaved(
        &mut [&mut m_small, &mut m_large],
        Duration::from_millis(5),
        21,
    );
    [(ru[0], m[0]), (ru[1], m[1])]
}

/// The measured region of `--probe`: `n` runs of `op` on `held`.
#[inline(never)]
fn op_loop(held: &Held, op: fn(&Held), n: u64) {
    for _ in 0..n {
        op(black_box(held));
    }
}

/// `flatness --probe <op>-<held> <n>`: see the module documentation.
fn probe(config: &str, n: u64) {
    let (name, count) = config.rsplit_once('-').expect("<op>-<held>");
    let count: usize = count.parse().expect("held count");
    assert!((1..=HELD[3] + 1).contains(&count), "1 to 60 000 held");
    let op: fn(&Held) = match name {
        "register_unregister" => Held::register_unregister,
        "modify" => Held::modify,
        "disable_enable" => Held::disable_enable,
        other => panic!("unknown operation {other}"),
    };
    let held = Held::new(count - 1);
    held.check();
    op_loop(&held, op, n);
    assert_eq!(held.armed(), vec![TARGET_ADDR], "each run undoes itself");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        let config = args.get(1).expect("--probe <op>-<held> <n>").clone();
        let n: u64 = args.get(2).and_then(|s| s.parse().ok()).expect("count");
        with_big_stack(move || probe(&config, n));
        return;
    }
    let [(ru_small, m_small), (ru_large, m_large)] = with_big_stack(capacity_pair);
    detail(
        "register_unregister_ns{capacity=1024,held=1}",
        ru_small,
        "ns",
    );
    detail(
        "register_unregister_ns{capacity=65535,held=1}",
        ru_large,
        "ns",
    );
    detail("modify_ns{capacity=1024,held=1}", m_small, "ns");
    detail("modify_ns{capacity=65535,held=1}", m_large, "ns");
    let all: Vec<Held> = with_big_stack(|| {
        HELD.iter()
            .map(|&n| {
                let h = Held::new(n);
                h.check();
                h
            })
            .collect()
    });
    type Op = fn(&Held);
    let ops: [(&str, Op); 3] = [
        ("register_unregister", Held::register_unregister),
        ("modify", Held::modify),
        ("disable_enable", Held::disable_enable),
    ];
    for (name, op) in ops {
        let [a, b, c, d] = &all[..] else {
            unreachable!("one registry per count")
        };
        let (mut fa, mut fb, mut fc, mut fd) = (|| op(a), || op(b), || op(c), || op(d));
        let best = interleaved(
            &mut [&mut fa, &mut fb, &mut fc, &mut fd],
            Duration::from_millis(5),
            21,
        );
        for (n, ns) in HELD.iter().zip(&best) {
            detail(&format!("{name}_ns{{held={}}}", n + 1), *ns, "ns");
        }
        let lo = best.iter().cloned().fold(f64::MAX, f64::min);
        let hi = best.iter().cloned().fold(f64::MIN, f64::max);
        ratio(&format!("{name}_flatness"), hi / lo);
    }
}
