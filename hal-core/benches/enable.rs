//! Enable + disable of a breakpoint whose debug context is shared by many
//! tasks (threads inheriting the same watchpoints), against the same with
//! one task.
//!
//! The registry keeps no state per task: an OS's task points at a debug
//! context ([`TaskId`]) and passes it to `switch_task`. Two registries on
//! two 4-CPU x86-like model machines hold the same context (4 watchpoints);
//! in one, 10 000 tasks share it, in the other one task uses it. Both
//! present the same CPU occupancy (CPU 0 runs a task of the context, CPUs
//! 1-3 run tasks without breakpoints), so the work that must be done (CPU
//! 0's slot and control word) is the same, and the two are timed in
//! alternation. A further line times the 10 000-task case with every CPU
//! running a task of the context.
//!
//! Prints `bench: enable_flatness`.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
use hwbreak_core::{Handle, PoolId, Registry, Request, Scope, Space, State, TaskId};
use support::{detail, interleaved, ratio};

const CPUS: u32 = 4;
const BASE: u64 = 0xffff_8000_0080_0000;

type Reg = Registry<ModelArch, ModelPlatform, 64, 4, 16>;

/// One machine: a registry, the OS's task table (task -> context) and
/// which task each CPU runs.
struct Scenario {
    machine: Arc<Machine>,
    reg: Box<Reg>,
    tasks: Vec<Option<TaskId>>,
    toggled: Handle,
}

impl Scenario {
    /// `sharing` tasks use context 0; 16 more tasks have no context.
    fn new(sharing: usize) -> Self {
        let machine = Machine::new(Config::x86_like(CPUS));
        let reg: Box<Reg> = Box::new(Registry::new(
            ModelArch::new(machine.clone()),
            ModelPlatform::new(machine.clone()),
        ));
        reg.init().unwrap();
        for cpu in 0..CPUS {
            on_cpu(cpu, || reg.cpu_online().unwrap());
        }
        let mut handles = Vec::new();
        for j in 0..4 {
            let req = Request::write(BASE + 0x40 * j, 8)
                .space(Space::Kernel)
                .scope(Scope::Task(TaskId(0)));
            handles.push(reg.register(&req).unwrap());
        }
        let mut tasks = vec![Some(TaskId(0)); sharing];
        tasks.extend(std::iter::repeat_n(None, 16));
        Self {
            machine,
            reg,
            tasks,
            toggled: handles[0],
        }
    }

    /// Puts task `task` on `cpu`, as the OS's scheduler would.
    fn run(&self, cpu: u32, task: usize) {
        let ctx = self.tasks[task];
        on_cpu(cpu, || self.reg.switch_task(ctx).unwrap());
    }

    fn toggle(&self) {
        self.reg.disable(black_box(self.toggled)).unwrap();
        self.reg.enable(black_box(self.toggled)).unwrap();
    }

    /// Slots armed on `cpu`.
    fn armed(&self, cpu: u32) -> usize {
        self.machine.regs(cpu).slots[PoolId::FIRST.index()]
            .iter()
            .flatten()
            .count()
    }
}

fn main() {
    let many = Scenario::new(10_000);
    let one = Scenario::new(1);
    // CPU 0 runs a task of the shared context; the others run tasks
    // without breakpoints (the last 16 of each table).
    for s in [&many, &one] {
        let idle = s.tasks.len() - 16;
        s.run(0, 0);
        for cpu in 1..CPUS {
            s.run(cpu, idle + cpu as usize);
        }
    }
    // The work done is the work needed: the toggled slot leaves CPU 0 and
    // comes back; the other CPUs hold nothing.
    for s in [&many, &one] {
        assert_eq!(s.armed(0), 4);
        s.reg.disable(s.toggled).unwrap();
        assert_eq!(s.reg.state(s.toggled).unwrap(), State::Disabled);
        assert_eq!(s.armed(0), 3);
        s.reg.enable(s.toggled).unwrap();
        assert_eq!(s.armed(0), 4);
        assert!((1..CPUS).all(|c| s.armed(c) == 0));
        s.machine.clear_log();
        s.toggle();
        // Disable: one slot + control word; enable: the same.
        assert_eq!(s.machine.register_writes(), 4);
    }
    let mut op_many = || many.toggle();
    let mut op_one = || one.toggle();
    let best = interleaved(
        &mut [&mut op_one, &mut op_many],
        Duration::from_millis(5),
        41,
    );
    let (t_one, t_many) = (best[0], best[1]);
    detail("enable_disable_ns{tasks=1}", t_one, "ns");
    detail("enable_disable_ns{tasks=10000}", t_many, "ns");

    // Every CPU running a task of the 10 000: every CPU reloads.
    for cpu in 1..CPUS {
        many.run(cpu, cpu as usize);
    }
    assert!((0..CPUS).all(|c| many.armed(c) == 4));
    many.machine.clear_log();
    let all = support::ns_per_op(|| many.toggle(), Duration::from_millis(20), 9);
    detail(
        "enable_disable_ns{tasks=10000,running_on_every_cpu}",
        all,
        "ns",
    );
    ratio("enable_flatness", t_many / t_one);
}
