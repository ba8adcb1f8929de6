//! Cost of `Registry::on_debug_exception`, from a status word to the
//! handler call.
//!
//! `cargo xtask bench` runs this binary under `valgrind --tool=callgrind`
//! as `dispatch --probe <config> <n>`, collecting instructions only inside
//! [`dispatch_loop`], once with `n` dispatches and once with none, and
//! divides the difference by `n`. Instruction counts are repeatable, unlike
//! times.
//!
//! Configurations (`<config>`):
//! - `core-1`, `core-4`, `core-16`: a backend whose decode copies the
//!   status word and whose register writes are empty
//!   ([`support::TrivialArch`], 16 slots), with 1, 4 or 16 system-wide
//!   breakpoints registered (and armed), the hit on the first one
//!   registered: the core's own instructions (plus the handler, a counter
//!   increment);
//! - `shared-2`, `shared-4`, `shared-8`: the same backend, one system-wide
//!   breakpoint registered 2, 4 or 8 times with identical settings (they
//!   share its slot, and every handler runs): the cost of each further
//!   sharer;
//! - `core-16-contexts`: the same backend, 16 debug contexts of one
//!   breakpoint each, the CPU running one of them;
//! - `model-1`, `model-16`: the model backend (16 slots, x86-like), whose
//!   decode and register writes take locks and log: the core plus a
//!   backend that is not a real one.
//!
//! Run without `--probe` (as `cargo bench` does), it prints the time of one
//! dispatch for every configuration.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform, ModelTrap, Style};
use hwbreak_core::{Arch, Event, Platform, Registry, Request, Scope, Space, TaskId};
use support::{detail, OneCpu, StatusWord, TrivialArch};

const BASE: u64 = 0xffff_8000_00c0_0000;

/// Every configuration, in the order `cargo xtask bench` reports them.
const CONFIGS: [&str; 9] = [
    "core-1",
    "core-4",
    "core-16",
    "core-16-contexts",
    "shared-2",
    "shared-4",
    "shared-8",
    "model-1",
    "model-16",
];

static HITS: AtomicU64 = AtomicU64::new(0);

fn on_hit(_: &Event) {
    HITS.fetch_add(1, Ordering::Relaxed);
}

/// The measured region: `n` debug exceptions, nothing else.
#[inline(never)]
fn dispatch_loop<A: Arch, P: Platform, const B: usize, const C: usize, const T: usize>(
    reg: &Registry<A, P, B, C, T>,
    trap: &A::Trap,
    n: u64,
) -> u32 {
    let mut delivered = 0;
    for _ in 0..n {
        delivered += reg.on_debug_exception(black_box(trap)).delivered;
    }
    delivered
}

/// The slot index holding the first breakpoint registered: system-wide
/// breakpoints take the highest free index.
const FIRST_SLOT: u32 = 15;

fn core_registry(
    bps: usize,
    contexts: bool,
) -> (Box<Registry<TrivialArch, OneCpu, 32, 1, 16>>, StatusWord) {
    let reg = Box::new(Registry::new(TrivialArch, OneCpu));
    reg.init().unwrap();
    reg.cpu_online().unwrap();
    for i in 0..bps {
        let mut req = Request::write(BASE + 8 * i as u64, 8)
            .space(Space::Kernel)
            .handler(on_hit, i);
        if contexts {
            req = req.scope(Scope::Task(TaskId(i as u32)));
        }
        reg.register(&req).unwrap();
    }
    if contexts {
        // The CPU runs the last context: its one breakpoint is in slot 0.
        reg.switch_task(Some(TaskId(bps as u32 - 1))).unwrap();
        (reg, StatusWord(1))
    } else {
        (reg, StatusWord(1 << FIRST_SLOT))
    }
}

/// One system-wide breakpoint registered `sharers` times with identical
/// settings: one slot, `sharers` handlers.
fn shared_registry(sharers: u64) -> (Box<Registry<TrivialArch, OneCpu, 32, 1, 16>>, StatusWord) {
    let reg = Box::new(Registry::new(TrivialArch, OneCpu));
    reg.init().unwrap();
    reg.cpu_online().unwrap();
    for i in 0..sharers as usize {
        let req = Request::write(BASE, 8)
            .space(Space::Kernel)
            .handler(on_hit, i);
        reg.register(&req).unwrap();
    }
    (reg, StatusWord(1 << FIRST_SLOT))
}

type ModelReg = Registry<ModelArch, ModelPlatform, 32, 1, 16>;

fn model_registry(bps: usize) -> (Box<ModelReg>, ModelTrap) {
    let machine = Machine::new(Config {
        style: Style::AfterAccess,
        slots: [16, 0],
        cpus: 1,
        user_limit: 0x0000_8000_0000_0000,
    });
    let reg = Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online().unwrap());
    for i in 0..bps {
        let req = Request::write(BASE + 8 * i as u64, 8)
            .space(Space::Kernel)
            .handler(on_hit, i);
        reg.register(&req).unwrap();
    }
    let trap = machine
        .access(0, BASE, 1, hwbreak_core::AccessKind::Write, Space::Kernel)
        .expect("the first breakpoint traps");
    assert_eq!(trap.hits[0], 1 << FIRST_SLOT);
    (reg, trap)
}

/// Runs `n` dispatches of `config` (and checks each reached its handler).
fn probe(config: &str, n: u64) {
    let mut handlers = 1;
    let delivered = match config {
        "core-1" | "core-4" | "core-16" | "core-16-contexts" => {
            let bps = match config {
                "core-1" => 1,
                "core-4" => 4,
                _ => 16,
            };
            let (reg, trap) = core_registry(bps, config == "core-16-contexts");
            dispatch_loop(&*reg, &trap, n)
        }
        "shared-2" | "shared-4" | "shared-8" => {
            handlers = config["shared-".len()..].parse().unwrap();
            let (reg, trap) = shared_registry(handlers);
            dispatch_loop(&*reg, &trap, n)
        }
        "model-1" | "model-16" => {
            let (reg, trap) = model_registry(if config == "model-1" { 1 } else { 16 });
            on_cpu(0, || dispatch_loop(&*reg, &trap, n))
        }
        other => panic!("unknown configuration {other}"),
    };
    assert_eq!(
        u64::from(delivered),
        n * handlers,
        "every dispatch calls every sharer's handler"
    );
    assert_eq!(HITS.load(Ordering::Relaxed), n * handlers);
}

fn time(config: &str) -> f64 {
    let per_batch = 1_000;
    let run = |n| probe(config, n);
    // Setup is included in each call; amortise it over a large batch and
    // subtract a run with no dispatch.
    HITS.store(0, Ordering::Relaxed);
    let empty = support::ns_per_op(
        || {
            HITS.store(0, Ordering::Relaxed);
            run(0)
        },
        Duration::from_millis(20),
        7,
    );
    let full = support::ns_per_op(
        || {
            HITS.store(0, Ordering::Relaxed);
            run(per_batch)
        },
        Duration::from_millis(20),
        7,
    );
    (full - empty) / per_batch as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        let config = args.get(1).expect("--probe <config> <n>");
        let n: u64 = args.get(2).and_then(|s| s.parse().ok()).expect("count");
        probe(config, n);
        return;
    }
    for config in CONFIGS {
        detail(&format!("dispatch_ns{{{config}}}"), time(config), "ns");
    }
}
