//! Model-based property test: random sequences of register, modify,
//! unregister, enable, disable, context switch, hotplug and debugger
//! operations, checked after every step against a simple reference.
//!
//! After every step, on every CPU:
//! - the registers hold exactly one image per distinct armed watch that
//!   applies there (slot conservation, nothing armed without an owner,
//!   every armed slot encodes exactly its owner's request);
//! - a refused call changed no register and wrote nothing;
//! - while no flexible breakpoint is live, a pinned registration is
//!   accepted exactly when the naive reference (scan everything for every
//!   CPU) says it fits.

mod common;

use common::*;
use hwbreak_core::model::{on_cpu, Config};
use hwbreak_core::{
    AccessKind, Arch, CpuId, DebuggerHandle, Handle, Piece, Pinning, Priority, Request, Scope,
    SlotImage, Space, State, TaskId,
};
use proptest::prelude::*;

const BASE: u64 = 0xffff_8000_0020_0000;
const CPUS: u32 = 3;

#[derive(Clone, Debug)]
enum Op {
    Register {
        at: u8,
        exec: bool,
        scope: u8,
        cpu: u8,
        task: u8,
        flexible: bool,
        prio: u8,
    },
    Unregister(u8),
    Modify(u8, u8),
    Toggle(u8),
    Switch(u8, Option<u8>),
    Hotplug(u8),
    DebuggerInstall(u8),
    DebuggerRemove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12, any::<bool>(), 0u8..4, 0u8..3, 0u8..4, prop::bool::weighted(0.25), any::<u8>())
            .prop_map(|(at, exec, scope, cpu, task, flexible, prio)| Op::Register { at, exec, scope, cpu, task, flexible, prio }),
        2 => any::<u8>().prop_map(Op::Unregister),
        1 => (any::<u8>(), 0u8..12).prop_map(|(i, at)| Op::Modify(i, at)),
        1 => any::<u8>().prop_map(Op::Toggle),
        2 => (0u8..3, prop::option::of(0u8..4)).prop_map(|(c, t)| Op::Switch(c, t)),
        1 => (0u8..3).prop_map(Op::Hotplug),
        1 => (0u8..12).prop_map(Op::DebuggerInstall),
        1 => any::<u8>().prop_map(Op::DebuggerRemove),
    ]
}

struct World {
    r: Rig,
    live: Vec<(Handle, Request, bool)>, // handle, request, enabled
    debugger: Vec<(DebuggerHandle, Request)>,
    task: [Option<u32>; CPUS as usize],
    /// A modify made a breakpoint identical to another one it does not
    /// share slots with (sharing is decided at registration).
    merged: bool,
}

fn scope_of(kind: u8, cpu: u8, task: u8) -> Scope {
    match kind {
        0 => Scope::AllCpus,
        1 => Scope::Cpu(CpuId(cpu as u32)),
        2 => Scope::Task(TaskId(task as u32)),
        _ => Scope::TaskOnCpu(TaskId(task as u32), CpuId(cpu as u32)),
    }
}

fn applies(scope: Scope, cpu: u32, task: Option<u32>) -> bool {
    match scope {
        Scope::AllCpus => true,
        Scope::Cpu(c) => c.0 == cpu,
        Scope::Task(t) => task == Some(t.0),
        Scope::TaskOnCpu(t, c) => c.0 == cpu && task == Some(t.0),
    }
}

impl World {
    fn image(&self, req: &Request) -> SlotImage {
        let piece = Piece {
            addr: req.addr,
            len: req.len,
            kind: req.kind,
            space: req.space,
            memory: Default::default(),
        };
        self.r.reg.arch().encode(&piece).unwrap()
    }

    fn request(&self, at: u8, exec: bool) -> Request {
        let addr = BASE + 8 * at as u64;
        if exec {
            Request::execute(addr)
        } else {
            Request::write(addr, 8)
        }
    }

    /// The naive reference for pinned admission: per CPU, kernel
    /// breakpoints plus the largest context, with sharing of identical
    /// watches and the debugger's slots.
    fn naive_fits(&self, extra: &Request) -> bool {
        let pool = self.r.reg.arch().pool_of(extra.kind).unwrap();
        let slots = self.r.reg.slot_counts().get(pool) as u32;
        let mut owners: Vec<Request> = Vec::new();
        for (_, req, _) in &self.live {
            if !owners.iter().any(|o| o.same_watch(req)) {
                owners.push(*req);
            }
        }
        if owners.iter().any(|o| o.same_watch(extra)) {
            return true;
        }
        owners.push(*extra);
        let same_pool = |r: &&Request| self.r.reg.arch().pool_of(r.kind).unwrap() == pool;
        let debugger = self
            .debugger
            .iter()
            .filter(|(h, _)| h.pool() == pool)
            .count() as u32;
        (0..CPUS).all(|c| {
            let kernel = owners
                .iter()
                .filter(same_pool)
                .filter(|r| r.scope == Scope::AllCpus || r.scope == Scope::Cpu(CpuId(c)))
                .count() as u32;
            let tasks = (0..4)
                .map(|t| {
                    owners
                        .iter()
                        .filter(same_pool)
                        .filter(|r| applies(r.scope, c, Some(t)) && r.scope.task().is_some())
                        .count() as u32
                })
                .max()
                .unwrap();
            kernel + tasks + debugger <= slots
        })
    }

    fn check(&self) -> Result<(), TestCaseError> {
        for cpu in 0..CPUS {
            let regs = self.r.machine.regs(cpu);
            let mut armed: Vec<SlotImage> =
                regs.slots.iter().flatten().flatten().copied().collect();
            let mut expected: Vec<SlotImage> = Vec::new();
            let mut seen: Vec<Request> = Vec::new();
            for (h, req, _) in &self.live {
                if self.r.reg.state(*h).unwrap() != State::Armed
                    || seen.iter().any(|s| s.same_watch(req))
                {
                    continue;
                }
                seen.push(*req);
                if applies(req.scope, cpu, self.task[cpu as usize]) {
                    expected.push(self.image(req));
                }
            }
            for (_, req) in &self.debugger {
                expected.push(self.image(req));
            }
            let key = |i: &SlotImage| (i.value, i.control);
            armed.sort_by_key(key);
            expected.sort_by_key(key);
            if self.merged {
                // A modify made two separately owned breakpoints identical:
                // each owner keeps its slot, so one watch may hold up to
                // one slot per live member.
                let mut distinct = armed.clone();
                distinct.dedup();
                expected.dedup();
                prop_assert_eq!(
                    &distinct,
                    &expected,
                    "cpu {}: armed watches vs expected",
                    cpu
                );
                for image in &distinct {
                    let copies = armed.iter().filter(|a| *a == image).count();
                    let members = self
                        .live
                        .iter()
                        .filter(|(_, r, _)| self.image(r) == *image)
                        .count()
                        + self
                            .debugger
                            .iter()
                            .filter(|(_, r)| self.image(r) == *image)
                            .count();
                    prop_assert!(copies <= members.max(1));
                }
            } else {
                prop_assert_eq!(&armed, &expected, "cpu {}: armed vs expected", cpu);
            }
            for p in 0..2 {
                let n = self.r.reg.slot_counts().0[p] as usize;
                prop_assert!(
                    regs.slots[p][n..].iter().all(Option::is_none),
                    "no slot past the count"
                );
            }
            let (load, dbg) = self.r.reg.pool_usage(hwbreak_core::PoolId::ALL[0]);
            prop_assert!(load + dbg <= self.r.reg.slot_counts().0[0] as u32);
        }
        Ok(())
    }

    fn refresh_all(&self) {
        for cpu in 0..CPUS {
            on_cpu(cpu, || self.r.reg.refresh());
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let before = (self.r.machine.all_regs(), self.r.machine.register_writes());
        let ok = match *op {
            Op::Register {
                at,
                exec,
                scope,
                cpu,
                task,
                flexible,
                prio,
            } => {
                let mut req = self
                    .request(at, exec)
                    .scope(scope_of(scope, cpu, task))
                    .priority(Priority(prio));
                if flexible {
                    req = req.flexible();
                }
                let no_flexible = self
                    .live
                    .iter()
                    .all(|(_, r, _)| r.pinning == Pinning::Pinned)
                    && !flexible;
                let expect = self.naive_fits(&req);
                let res = self.r.reg.register(&req);
                if no_flexible && !self.merged {
                    prop_assert_eq!(
                        res.is_ok(),
                        expect,
                        "{:?} with {:?}",
                        req.scope,
                        self.live.len()
                    );
                }
                match res {
                    Ok(h) => {
                        self.live.push((h, req, true));
                        true
                    }
                    Err(_) => false,
                }
            }
            Op::Unregister(i) if !self.live.is_empty() => {
                let (h, _, _) = self.live.remove(i as usize % self.live.len());
                self.r.reg.unregister(h).unwrap();
                prop_assert!(
                    self.r.reg.unregister(h).is_err(),
                    "double unregister refused"
                );
                true
            }
            Op::Modify(i, at) if !self.live.is_empty() => {
                let k = i as usize % self.live.len();
                let (h, old, _) = self.live[k];
                let new = Request {
                    addr: BASE + 8 * at as u64,
                    ..old
                };
                match self.r.reg.modify(h, &new) {
                    Ok(()) => {
                        let others = self.live.iter().enumerate().filter(|(j, _)| *j != k);
                        if others
                            .clone()
                            .any(|(_, (_, r, _))| r.same_watch(&new) || r.same_watch(&old))
                        {
                            self.merged = true;
                        }
                        self.live[k].1 = new;
                        true
                    }
                    Err(_) => false,
                }
            }
            Op::Toggle(i) if !self.live.is_empty() => {
                let k = i as usize % self.live.len();
                let (h, _, enabled) = self.live[k];
                if enabled {
                    self.r.reg.disable(h).unwrap();
                } else {
                    self.r.reg.enable(h).unwrap();
                }
                self.live[k].2 = !enabled;
                true
            }
            Op::Switch(cpu, task) => {
                let task = task.map(u32::from);
                on_cpu(cpu as u32, || self.r.reg.switch_task(task.map(TaskId))).unwrap();
                self.task[cpu as usize] = task;
                true
            }
            Op::Hotplug(cpu) => {
                self.r.machine.wipe(cpu as u32);
                on_cpu(cpu as u32, || self.r.reg.cpu_offline().unwrap());
                on_cpu(cpu as u32, || self.r.reg.cpu_online().unwrap());
                true
            }
            Op::DebuggerInstall(at) => {
                let req = Request::write(BASE + 0x1000 + 8 * at as u64, 8);
                match on_cpu(0, || self.r.reg.debugger_install(&req)) {
                    Ok(h) => {
                        self.debugger.push((h, req));
                        self.refresh_all();
                        true
                    }
                    Err(_) => false,
                }
            }
            Op::DebuggerRemove(i) if !self.debugger.is_empty() => {
                let (h, _) = self.debugger.remove(i as usize % self.debugger.len());
                on_cpu(0, || self.r.reg.debugger_remove(h)).unwrap();
                self.refresh_all();
                true
            }
            _ => true,
        };
        if !ok {
            prop_assert_eq!(
                &(self.r.machine.all_regs(), self.r.machine.register_writes()),
                &before,
                "a refused call changed state"
            );
        }
        self.check()
    }
}

fn config() -> impl Strategy<Value = Config> {
    prop_oneof![
        Just(Config::x86_like(CPUS)),
        Just(Config::arm_like(CPUS)),
        Just(Config::one_slot(CPUS))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn the_registry_matches_its_reference(config in config(), ops in proptest::collection::vec(op(), 1..60)) {
        let mut w = World { r: rig(config), live: Vec::new(), debugger: Vec::new(), task: [None; CPUS as usize], merged: false };
        for op in &ops {
            if let Op::Register { exec: true, .. } = op {
                if config.slots[0] == 0 {
                    continue;
                }
            }
            w.step(op)?;
        }
        // Everything removed: nothing armed anywhere.
        for (h, _, _) in std::mem::take(&mut w.live) {
            w.r.reg.unregister(h).unwrap();
        }
        for (h, _) in std::mem::take(&mut w.debugger) {
            on_cpu(0, || w.r.reg.debugger_remove(h)).unwrap();
        }
        w.refresh_all();
        for cpu in 0..CPUS {
            let regs = w.r.machine.regs(cpu);
            prop_assert!(regs.slots.iter().flatten().all(Option::is_none));
            prop_assert!(!regs.armed);
        }
        let _ = (AccessKind::Write, Space::Kernel);
    }
}
