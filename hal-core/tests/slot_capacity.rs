//! The registry's `SLOTS` capacity: `init` refuses a backend with a larger
//! pool and changes nothing, a registry sized to its backend's real slot
//! count serves every slot of it, and it behaves exactly like one of the
//! default capacity (16) on the same machine.

use std::sync::Arc;

use hwbreak_core::model::{on_cpu, Config, CpuRegs, Machine, ModelArch, ModelPlatform, ModelTrap};
use hwbreak_core::{
    AccessKind, CpuId, ErrorKind, Handle, PoolId, Priority, Registry, Request, Scope, SlotCounts,
    Space, TaskId, MAX_SLOTS,
};

type Reg<const SLOTS: usize> = Registry<ModelArch, ModelPlatform, 16, 2, 4, SLOTS>;

const K: u64 = 0xffff_8000_0010_0000;

fn registry<const SLOTS: usize>(machine: &Arc<Machine>) -> Box<Reg<SLOTS>> {
    Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ))
}

/// A registry that `init` refused: still uninitialised, nothing written.
fn assert_untouched<const SLOTS: usize>(machine: &Machine, reg: &Reg<SLOTS>) {
    assert_eq!(reg.slot_counts(), SlotCounts([0, 0]));
    assert_eq!(
        reg.register(&Request::write(K, 8)).unwrap_err().kind(),
        ErrorKind::NotInitialized
    );
    assert_eq!(
        on_cpu(0, || reg.cpu_online()).unwrap_err().kind(),
        ErrorKind::NotInitialized
    );
    assert_eq!(reg.pool_usage(PoolId::FIRST), (0, 0));
    assert_eq!(machine.register_writes(), 0);
    assert!(machine.all_regs().iter().all(|r| *r == CpuRegs::default()));
}

#[test]
fn init_refuses_a_pool_larger_than_the_capacity() {
    // Four slots in one pool; the registry holds three.
    let machine = Machine::new(Config::x86_like(2));
    let reg = registry::<3>(&machine);
    assert_eq!(reg.init().unwrap_err().kind(), ErrorKind::SlotCapacity);
    assert_untouched(&machine, &reg);
    // Asking again gets the same answer, and still changes nothing.
    assert_eq!(reg.init().unwrap_err().kind(), ErrorKind::SlotCapacity);
    assert_untouched(&machine, &reg);
}

#[test]
fn init_refuses_when_only_the_second_pool_is_too_large() {
    // 2 code slots fit a capacity of 2; 3 data slots do not.
    let machine = Machine::new(Config {
        slots: [2, 3],
        ..Config::arm_like(2)
    });
    let reg = registry::<2>(&machine);
    assert_eq!(reg.init().unwrap_err().kind(), ErrorKind::SlotCapacity);
    assert_untouched(&machine, &reg);
}

#[test]
fn a_capacity_of_the_largest_pool_serves_both_pools() {
    let machine = Machine::new(Config::arm_like(2));
    let reg = registry::<6>(&machine);
    reg.init().unwrap();
    assert_eq!(reg.slot_counts(), SlotCounts([6, 4]));
}

/// A registry with `SLOTS` equal to the pool uses every slot of it, and
/// refuses one more.
#[test]
fn a_capacity_equal_to_the_pool_uses_every_slot() {
    let machine = Machine::new(Config::x86_like(2));
    let reg = registry::<4>(&machine);
    reg.init().unwrap();
    for cpu in 0..2 {
        on_cpu(cpu, || reg.cpu_online()).unwrap();
    }
    let addrs: Vec<u64> = (0..4).map(|i| K + 0x100 * i).collect();
    for &a in &addrs {
        reg.register(&Request::write(a, 8)).unwrap();
    }
    assert_eq!(
        reg.register(&Request::write(K + 0x1000, 8))
            .unwrap_err()
            .kind(),
        ErrorKind::NoSlot
    );
    // Every slot traps on both CPUs, each delivered once.
    for cpu in 0..2 {
        assert_eq!(machine.regs(cpu).slots[0].iter().flatten().count(), 4);
        for &a in &addrs {
            let trap = machine
                .access(cpu, a, 8, AccessKind::Write, Space::Kernel)
                .expect("armed");
            let out = on_cpu(cpu, || reg.on_debug_exception(&trap));
            assert_eq!((out.delivered, out.spurious), (1, false), "{a:#x} on {cpu}");
        }
    }
    // A hit bit past the capacity names no slot of this registry.
    let out = on_cpu(0, || {
        reg.on_debug_exception(&ModelTrap {
            hits: [1 << 4, 0],
            ..ModelTrap::default()
        })
    });
    assert_eq!((out.delivered, out.spurious), (0, true));
}

/// One step of the script both registries run.
#[derive(Copy, Clone, Debug)]
enum Op {
    Register(Request),
    Unregister(usize),
    Modify(usize, Request),
    Disable(usize),
    Enable(usize),
    Debugger(u32, Request),
    DebuggerRemove(usize),
    Switch(u32, Option<TaskId>),
    Offline(u32),
    Online(u32),
}

/// Runs `ops` and records, after each, its result and every CPU's
/// registers (handles are named by the order they were issued in, since
/// two registries issue different ones).
fn run<const SLOTS: usize>(config: Config, ops: &[Op]) -> Vec<String> {
    let machine = Machine::new(config);
    let reg = registry::<SLOTS>(&machine);
    reg.init().unwrap();
    for cpu in 0..config.cpus {
        on_cpu(cpu, || reg.cpu_online()).unwrap();
    }
    let mut handles: Vec<Handle> = Vec::new();
    let mut debugger = Vec::new();
    let mut log = Vec::new();
    for op in ops {
        // A step naming a handle its registration did not get is
        // recorded as such (both runs must agree on that too).
        let h = |i: usize| {
            handles
                .get(i)
                .copied()
                .ok_or(hwbreak_core::Error::from(ErrorKind::StaleHandle))
        };
        let result = match *op {
            Op::Register(req) => reg.register(&req).map(|h| handles.push(h)),
            Op::Unregister(i) => h(i).and_then(|h| reg.unregister(h)),
            Op::Modify(i, req) => h(i).and_then(|h| reg.modify(h, &req)),
            Op::Disable(i) => h(i).and_then(|h| reg.disable(h)),
            Op::Enable(i) => h(i).and_then(|h| reg.enable(h)),
            Op::Debugger(cpu, req) => {
                on_cpu(cpu, || reg.debugger_install(&req)).map(|h| debugger.push(h))
            }
            Op::DebuggerRemove(i) => match debugger.get(i) {
                Some(&d) => on_cpu(0, || reg.debugger_remove(d)),
                None => Err(ErrorKind::StaleHandle.into()),
            },
            Op::Switch(cpu, t) => on_cpu(cpu, || reg.switch_task(t)),
            Op::Offline(cpu) => {
                machine.set_online(cpu, false);
                on_cpu(cpu, || reg.cpu_offline())
            }
            Op::Online(cpu) => {
                machine.set_online(cpu, true);
                on_cpu(cpu, || reg.cpu_online())
            }
        };
        for cpu in 0..config.cpus {
            on_cpu(cpu, || reg.refresh());
        }
        let states: Vec<_> = handles.iter().map(|&h| reg.state(h).ok()).collect();
        log.push(format!(
            "{op:?} -> {:?}; states {states:?}; usage {:?} {:?}; regs {:?}",
            result.map_err(|e| e.kind()),
            reg.pool_usage(PoolId::FIRST),
            reg.pool_usage(PoolId::SECOND),
            machine.all_regs()
        ));
    }
    log
}

fn script() -> Vec<Op> {
    let t1 = Scope::Task(TaskId(1));
    let t2 = Scope::Task(TaskId(2));
    vec![
        Op::Register(Request::write(K, 8)),
        Op::Register(Request::write(K + 0x40, 16).scope(Scope::Cpu(CpuId(1)))),
        Op::Register(Request::read_write(K + 0x80, 8).scope(t1)),
        Op::Register(Request::execute(K + 0x2000).scope(t2)),
        Op::Switch(0, Some(TaskId(1))),
        Op::Switch(1, Some(TaskId(2))),
        // Full on CPU 1 (x86: 1 + 2 + 1); a flexible one waits.
        Op::Register(Request::write(K + 0xc0, 8).flexible()),
        Op::Register(
            Request::write(K + 0x100, 8)
                .flexible()
                .priority(Priority(10)),
        ),
        Op::Modify(0, Request::write(K + 0x8, 8)),
        Op::Disable(1),
        Op::Debugger(0, Request::write(K + 0x140, 4)),
        Op::Switch(1, None),
        Op::Enable(1),
        Op::Offline(1),
        Op::Register(Request::write(K + 0x180, 8).scope(Scope::TaskOnCpu(TaskId(2), CpuId(0)))),
        Op::Online(1),
        Op::DebuggerRemove(0),
        Op::Unregister(2),
        Op::Switch(0, Some(TaskId(2))),
        Op::Unregister(0),
        Op::Unregister(1),
        Op::Switch(1, Some(TaskId(1))),
    ]
}

/// A debug context's breakpoints bound to different CPUs each count
/// against their own CPU only, so one context may hold more tokens in a
/// pool than the pool has slots: a capacity equal to the pool must not
/// refuse them.
#[test]
fn a_context_bound_to_two_cpus_may_hold_more_than_a_pool() {
    let machine = Machine::new(Config::x86_like(2));
    let reg = registry::<4>(&machine);
    reg.init().unwrap();
    for cpu in 0..2 {
        on_cpu(cpu, || reg.cpu_online()).unwrap();
    }
    let t = TaskId(1);
    for cpu in 0..2u32 {
        for i in 0..4u64 {
            let at = K + 0x1000 * u64::from(cpu) + 0x10 * i;
            reg.register(&Request::write(at, 8).scope(Scope::TaskOnCpu(t, CpuId(cpu))))
                .unwrap();
        }
    }
    for cpu in 0..2u32 {
        on_cpu(cpu, || reg.switch_task(Some(t))).unwrap();
        let armed: Vec<u64> = machine.regs(cpu).slots[0]
            .iter()
            .flatten()
            .map(|s| s.value)
            .collect();
        assert_eq!(armed.len(), 4, "CPU {cpu}");
        assert!(armed.iter().all(|&a| (a - K) / 0x1000 == u64::from(cpu)));
    }
}

/// The capacity changes what the tables cost, never what they hold: the
/// same calls give the same answers and the same registers on a registry
/// sized to the backend and on one of the default capacity.
#[test]
fn a_capacity_sized_to_the_backend_behaves_like_the_default() {
    let ops = script();
    let x86 = Config::x86_like(2);
    let sized = run::<4>(x86, &ops);
    assert_eq!(sized, run::<MAX_SLOTS>(x86, &ops));
    // The script exercises refusals and waiting as well as successes.
    assert!(sized.iter().any(|l| l.contains("Err(NoSlot)")));
    assert!(sized.iter().any(|l| l.contains("Some(Waiting)")));
    let arm = Config::arm_like(2);
    assert_eq!(run::<6>(arm, &ops), run::<MAX_SLOTS>(arm, &ops));
}

/// The reservation counts of capacity 4 admit and refuse exactly what
/// those of the default capacity do on pools of at most 4 slots, loads
/// included, whatever the sequence of changes (the histograms' "more than
/// the pool" bucket sits at 5 instead of 17).
mod reservations {
    use hwbreak_core::reserve::{Change, Ledger, Reservations};
    use hwbreak_core::{CpuId, PoolId, Scope, TaskId};
    use proptest::prelude::*;

    fn scope(kind: u8, t: u32, c: u32) -> Scope {
        match kind % 4 {
            0 => Scope::AllCpus,
            1 => Scope::Cpu(CpuId(c)),
            2 => Scope::Task(TaskId(t)),
            _ => Scope::TaskOnCpu(TaskId(t), CpuId(c)),
        }
    }

    proptest! {
        #[test]
        fn capacity_four_agrees_with_the_default(
            slots in (0u32..=4, 0u32..=4),
            ops in prop::collection::vec(
                (0u8..4, 0u32..3, 0u32..3, 0usize..2, -3i32..=3, any::<bool>()),
                1..60,
            ),
        ) {
            let (small_ledger, full_ledger) = (Ledger::new(), Ledger::new());
            let mut small = Box::new(Reservations::<3, 3, 4>::new());
            let mut full = Box::new(Reservations::<3, 3>::new());
            small.init(3, [slots.0, slots.1]).unwrap();
            full.init(3, [slots.0, slots.1]).unwrap();
            for (kind, t, c, p, delta, pair) in ops {
                let pool = PoolId::ALL[p];
                let one = Change { pool, scope: scope(kind, t, c), delta };
                // Some transactions move a slot between the pools too.
                let other = Change { pool: PoolId::ALL[1 - p], scope: one.scope, delta: -delta };
                let changes: &[Change] = if pair { &[one, other] } else { &[one] };
                let a = small.adjust(&small_ledger, changes).map_err(|e| e.kind());
                let b = full.adjust(&full_ledger, changes).map_err(|e| e.kind());
                prop_assert_eq!(a, b);
                for pool in PoolId::ALL {
                    prop_assert_eq!(small.max_load(pool), full.max_load(pool));
                    prop_assert_eq!(small_ledger.load(pool), full_ledger.load(pool));
                    for c in 0..3 {
                        prop_assert_eq!(small.load(pool, CpuId(c)), full.load(pool, CpuId(c)));
                    }
                }
            }
        }
    }

    /// Pool sizes past the capacity are clamped to it (the registry
    /// refuses such a backend before it gets here).
    #[test]
    fn init_clamps_to_the_capacity() {
        let mut r = Reservations::<1, 1, 4>::new();
        r.init(1, [6, 2]).unwrap();
        assert_eq!((r.slots(PoolId::FIRST), r.slots(PoolId::SECOND)), (4, 2));
    }
}

/// Per-CPU bytes of a registry of `SLOTS`: what 64 more CPUs of capacity
/// add to its size, over 64.
fn per_cpu_bytes<const SLOTS: usize>() -> usize {
    use std::mem::size_of;
    (size_of::<Registry<ModelArch, ModelPlatform, 16, 65, 4, SLOTS>>()
        - size_of::<Registry<ModelArch, ModelPlatform, 16, 1, 4, SLOTS>>())
        / 64
}

/// The parts the footprint benchmark reports (loaded state, bound list,
/// reservation counts) are exactly what a CPU of capacity costs, and each
/// of the first two shrinks with a smaller `SLOTS`.
#[test]
fn the_per_cpu_parts_add_up_to_what_a_cpu_costs() {
    use hwbreak_core::registry::percpu_parts;
    use hwbreak_core::reserve::Reservations;
    use std::mem::size_of;
    fn counts<const SLOTS: usize>() -> usize {
        (size_of::<Reservations<65, 4, SLOTS>>() - size_of::<Reservations<1, 4, SLOTS>>()) / 64
    }
    let (loaded4, bound4) = percpu_parts::<4>();
    let (loaded16, bound16) = percpu_parts::<MAX_SLOTS>();
    assert_eq!(loaded4 + bound4 + counts::<4>(), per_cpu_bytes::<4>());
    assert_eq!(
        loaded16 + bound16 + counts::<MAX_SLOTS>(),
        per_cpu_bytes::<MAX_SLOTS>()
    );
    assert!(loaded4 < loaded16 && bound4 < bound16);
    assert!(bound4 > 0);
}
