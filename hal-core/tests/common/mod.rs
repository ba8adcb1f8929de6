//! Test rig: a registry on the model machine, and handler counters.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
use hwbreak_core::{AccessKind, Arch, Event, EventKind, Outcome, PoolId, Registry, Space, Zone};

pub type Reg = Registry<ModelArch, ModelPlatform, 64, 4, 8>;

pub struct Rig {
    pub machine: Arc<Machine>,
    pub reg: Box<Reg>,
}

pub fn rig(config: Config) -> Rig {
    rig_with_zones(config, Vec::new())
}

pub fn rig_with_zones(config: Config, zones: Vec<Zone>) -> Rig {
    let machine = Machine::new(config);
    let platform = ModelPlatform::new(machine.clone()).with_zones(zones);
    let reg = Box::new(Registry::new(ModelArch::new(machine.clone()), platform));
    reg.init().unwrap();
    for cpu in 0..config.cpus {
        on_cpu(cpu, || reg.cpu_online().unwrap());
    }
    Rig { machine, reg }
}

impl Rig {
    /// Performs an access on `cpu` and, if it traps, runs the registry's
    /// exception path (and, for step-over machines, the step completion).
    pub fn access(&self, cpu: u32, addr: u64, len: u64, kind: AccessKind) -> Option<Outcome> {
        self.access_in(cpu, addr, len, kind, Space::Kernel)
    }

    pub fn access_in(
        &self,
        cpu: u32,
        addr: u64,
        len: u64,
        kind: AccessKind,
        space: Space,
    ) -> Option<Outcome> {
        let trap = self.machine.access(cpu, addr, len, kind, space)?;
        let out = on_cpu(cpu, || self.reg.on_debug_exception(&trap));
        if out.resume == hwbreak_core::Resume::SingleStep {
            let step = hwbreak_core::model::ModelTrap {
                step: true,
                ..Default::default()
            };
            let end = on_cpu(cpu, || self.reg.on_debug_exception(&step));
            assert_eq!(end.resume, hwbreak_core::Resume::EndSingleStep);
        }
        Some(out)
    }

    /// Whether `cpu`'s registers are whole: every slot holds what the
    /// registry's table for that CPU says, and the control word is what the
    /// backend computes from those slots.
    pub fn consistent(&self, cpu: u32) -> bool {
        let regs = self.machine.regs(cpu);
        let arch = ModelArch::new(self.machine.clone());
        (0..2).all(|p| {
            let n = self.machine.config.slots[p] as usize;
            let pool = PoolId::ALL[p];
            let tables = (0..n)
                .all(|k| on_cpu(cpu, || self.reg.armed_slot(pool, k)) == Ok(regs.slots[p][k]));
            n == 0 || (tables && arch.control_word(pool, &regs.slots[p][..n]) == regs.control[p])
        })
    }

    pub fn switch(&self, cpu: u32, task: Option<u32>) {
        on_cpu(cpu, || {
            self.reg
                .switch_task(task.map(hwbreak_core::TaskId))
                .unwrap()
        });
    }
}

/// Handler counters: the context word indexes `COUNTS`.
static COUNTS: [AtomicU32; 4096] = [const { AtomicU32::new(0) }; 4096];
static LAST_ADDR: [AtomicU64; 4096] = [const { AtomicU64::new(0) }; 4096];
static NEXT: AtomicUsize = AtomicUsize::new(1);
pub static EVENTS: Mutex<Vec<(usize, EventKind)>> = Mutex::new(Vec::new());

/// A fresh counter index for a handler context.
pub fn counter() -> usize {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub fn hits(ctx: usize) -> u32 {
    COUNTS[ctx].load(Ordering::Relaxed)
}

pub fn last_addr(ctx: usize) -> u64 {
    LAST_ADDR[ctx].load(Ordering::Relaxed)
}

pub fn events_of(ctx: usize) -> Vec<EventKind> {
    EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|(c, _)| *c == ctx)
        .map(|(_, k)| *k)
        .collect()
}

/// Counts hits; records displacement and reinstatement.
pub fn count(e: &Event) {
    match e.kind {
        EventKind::Hit => {
            COUNTS[e.context].fetch_add(1, Ordering::Relaxed);
            LAST_ADDR[e.context].store(e.address.unwrap_or(0), Ordering::Relaxed);
        }
        k => EVENTS.lock().unwrap().push((e.context, k)),
    }
}
