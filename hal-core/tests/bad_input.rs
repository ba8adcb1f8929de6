//! The bad-input catalogue, run through the public API on the model machine.
//!
//! Every row builds the same populated registry (a pinned system-wide watch,
//! flexible task and CPU-bound watches, a stale handle whose table entry was
//! reused, a freed handle, a handle and a debugger handle from another
//! registry), optionally prepares it further, then:
//!
//! 1. snapshots the complete state: every modelled CPU's registers
//!    (`Machine::all_regs`), the length of the register write log,
//!    `Registry::pool_usage` of every pool, `Registry::state` of every
//!    handle the fixture holds, `Registry::armed_slot` of every slot on every
//!    CPU, and the number of handler events delivered;
//! 2. makes the bad call and asserts its exact [`ErrorKind`];
//! 3. snapshots again and asserts bit-identical state;
//! 4. checks that the fixture's pinned watch still traps on every CPU.
//!
//! A row that panics is reported as a failure with its name (the API must
//! never panic on input). All failures are collected and reported together.
//! Rows run on their own threads (the model's current CPU is thread-local).

use std::sync::Arc;

use hwbreak_core::model::{on_cpu, Config, CpuRegs, Machine, ModelArch, ModelPlatform, ModelTrap};
use hwbreak_core::{
    AccessKind, CpuId, DebuggerHandle, ErrorKind, Event, Handle, PoolId, Priority, Request, Result,
    Resume, Scope, SlotImage, Space, State, TaskId, Zone, MAX_POOLS,
};

/// Small table (8 entries) so `TableFull` is reachable, up to 8 CPUs,
/// 4 debug contexts.
type Reg = Registry;
type Registry = hwbreak_core::Registry<ModelArch, ModelPlatform, 8, 8, 4>;

/// A kernel address (canonical high half).
const K: u64 = 0xffff_8000_0010_0000;
/// A no-breakpoint zone declared by the fixture's platform.
const ZONE: Zone = Zone::new(K + 0x10_0000, K + 0x10_1000);
/// A cache-inhibited range some rows declare.
const DEVICE: Zone = Zone::new(K + 0x20_0000, K + 0x20_1000);

thread_local! {
    /// Handler events seen (hits, displacement, reinstatement) on this
    /// thread: each test runs on its own thread and the model delivers
    /// events on the calling one, so parallel tests cannot disturb a
    /// snapshot.
    static EVENTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn note(_: &Event) {
    EVENTS.with(|e| e.set(e.get() + 1));
}

#[derive(Copy, Clone, Debug)]
enum Machinery {
    /// x86-like: one pool of 4, after-access traps, no read-only watch.
    X86(u32),
    /// AArch64-like: 6 code + 4 data slots, before-access traps.
    Arm(u32),
    /// One data slot, no code slot (single DABR).
    OneSlot(u32),
}

impl Machinery {
    fn config(self) -> Config {
        match self {
            Self::X86(n) => Config::x86_like(n),
            Self::Arm(n) => Config::arm_like(n),
            Self::OneSlot(n) => Config::one_slot(n),
        }
    }
}

/// The populated registry a row runs against.
struct Fx {
    machine: Arc<Machine>,
    reg: Box<Reg>,
    cpus: u32,
    /// h0: pinned, system-wide, write K..K+8 (always armed).
    pinned: Handle,
    /// Flexible, Task(1), write K+64..K+72, priority 20.
    task: Handle,
    /// Flexible, Cpu(0), write K+128..K+132, priority 10.
    cpu0: Handle,
    /// Flexible, Task(2), priority 30, in the entry `stale` used to name.
    reused: Handle,
    /// A handle whose entry was freed and then reused by `reused`.
    stale: Handle,
    /// A handle whose entry was freed and is still free.
    freed: Handle,
    /// A handle issued by another registry.
    foreign: Handle,
    /// A debugger handle issued by another registry (code slot 5 of 6).
    foreign_debugger: DebuggerHandle,
    /// A registry on the same machine that was never initialised.
    uninit: Box<Reg>,
    /// Handles the row's preparation added (their state is snapshotted too).
    extra: std::cell::RefCell<Vec<Handle>>,
}

fn write(addr: u64, len: u64) -> Request {
    Request::write(addr, len).handler(note, 0)
}

/// A registry on another machine, to issue foreign handles.
fn foreign_handles() -> (Handle, DebuggerHandle) {
    let machine = Machine::new(Config::arm_like(1));
    let reg = Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    reg.cpu_online().unwrap();
    let h = reg.register(&write(K, 8)).unwrap();
    // The debugger path claims the highest free index: slot 5 of the code
    // pool, past the count of every single-pool or one-slot machine.
    let d = reg.debugger_install(&Request::execute(K + 0x40)).unwrap();
    assert_eq!(d.slot(), 5);
    (h, d)
}

fn fixture(m: Machinery) -> Fx {
    let config = m.config();
    let machine = Machine::new(config);
    let platform = ModelPlatform::new(machine.clone()).with_zones(vec![ZONE]);
    let reg = Box::new(Registry::new(ModelArch::new(machine.clone()), platform));
    reg.init().unwrap();
    for cpu in 0..config.cpus {
        on_cpu(cpu, || reg.cpu_online().unwrap());
    }
    let pinned = reg.register(&write(K, 8)).unwrap();
    let task = reg
        .register(
            &write(K + 64, 8)
                .scope(Scope::Task(TaskId(1)))
                .flexible()
                .priority(Priority(20)),
        )
        .unwrap();
    let cpu0 = reg
        .register(
            &write(K + 128, 4)
                .scope(Scope::Cpu(CpuId(0)))
                .flexible()
                .priority(Priority(10)),
        )
        .unwrap();
    on_cpu(0, || reg.switch_task(Some(TaskId(1))).unwrap());
    let stale = reg
        .register(&write(K + 192, 1).flexible().priority(Priority(1)))
        .unwrap();
    reg.unregister(stale).unwrap();
    let reused = reg
        .register(
            &write(K + 200, 2)
                .scope(Scope::Task(TaskId(2)))
                .flexible()
                .priority(Priority(30)),
        )
        .unwrap();
    assert_eq!(reused.index(), stale.index(), "fixture: entry reused");
    let freed = reg
        .register(&write(K + 208, 1).flexible().priority(Priority(1)))
        .unwrap();
    reg.unregister(freed).unwrap();
    let (foreign, foreign_debugger) = foreign_handles();
    let uninit = Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    Fx {
        machine,
        reg,
        cpus: config.cpus,
        pinned,
        task,
        cpu0,
        reused,
        stale,
        freed,
        foreign,
        foreign_debugger,
        uninit,
        extra: std::cell::RefCell::new(Vec::new()),
    }
}

impl Fx {
    fn add(&self, req: &Request) {
        let h = self.reg.register(req).expect("row preparation");
        self.extra.borrow_mut().push(h);
    }

    fn handles(&self) -> Vec<Handle> {
        let mut v = vec![
            self.pinned,
            self.task,
            self.cpu0,
            self.reused,
            self.stale,
            self.freed,
        ];
        v.extend(self.extra.borrow().iter().copied());
        v
    }
}

/// Everything a failed call must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    regs: Vec<CpuRegs>,
    log_len: usize,
    usage: [(u32, u32); MAX_POOLS],
    states: Vec<Result<State>>,
    armed: Vec<Result<Option<SlotImage>>>,
    events: usize,
}

fn snapshot(fx: &Fx) -> Snapshot {
    let counts = fx.reg.slot_counts();
    let mut armed = Vec::new();
    for cpu in 0..fx.cpus {
        for pool in PoolId::ALL {
            for k in 0..counts.get(pool) {
                armed.push(on_cpu(cpu, || fx.reg.armed_slot(pool, k)));
            }
        }
    }
    Snapshot {
        regs: fx.machine.all_regs(),
        log_len: fx.machine.log().len(),
        usage: PoolId::ALL.map(|p| fx.reg.pool_usage(p)),
        states: fx.handles().iter().map(|&h| fx.reg.state(h)).collect(),
        armed,
        events: EVENTS.with(std::cell::Cell::get),
    }
}

/// The fixture's pinned watch still traps on every CPU (and the exception
/// path completes its step where the machine steps over hits).
fn pinned_still_traps(fx: &Fx) -> std::result::Result<(), String> {
    for cpu in 0..fx.cpus {
        let Some(trap) = fx
            .machine
            .access(cpu, K + 4, 1, AccessKind::Write, Space::Kernel)
        else {
            return Err(format!("pinned watch no longer traps on cpu {cpu}"));
        };
        let out = on_cpu(cpu, || fx.reg.on_debug_exception(&trap));
        if out.delivered == 0 {
            return Err(format!("pinned watch hit on cpu {cpu} delivered nothing"));
        }
        if out.resume == Resume::SingleStep {
            let step = ModelTrap {
                step: true,
                ..ModelTrap::default()
            };
            on_cpu(cpu, || fx.reg.on_debug_exception(&step));
        }
    }
    Ok(())
}

type Op = fn(&Fx) -> Result<()>;
type Prep = fn(&Fx);

struct Row {
    name: &'static str,
    machine: Machinery,
    prep: Option<Prep>,
    op: Op,
    want: ErrorKind,
}

const fn row(name: &'static str, machine: Machinery, op: Op, want: ErrorKind) -> Row {
    Row {
        name,
        machine,
        prep: None,
        op,
        want,
    }
}

const fn prepped(
    name: &'static str,
    machine: Machinery,
    prep: Prep,
    op: Op,
    want: ErrorKind,
) -> Row {
    Row {
        name,
        machine,
        prep: Some(prep),
        op,
        want,
    }
}

const X: Machinery = Machinery::X86(2);
const ARM: Machinery = Machinery::Arm(2);
const ONE: Machinery = Machinery::OneSlot(2);
const X6: Machinery = Machinery::X86(6);

fn reg(fx: &Fx, req: Request) -> Result<()> {
    fx.reg.register(&req).map(|_| ())
}

/// Fills CPU 0 of the x86-like machine: a second pinned system-wide watch
/// makes its load 4 of 4 (system 2, CPU-bound 1, task 1).
fn fill_cpu0(fx: &Fx) {
    fx.add(&write(K + 512, 8));
    assert_eq!(fx.reg.pool_usage(PoolId::FIRST), (4, 0));
}

fn fill_table(fx: &Fx) {
    // 4 live entries; 4 more fill the table of 8 (flexible: they may wait).
    for i in 0..4 {
        fx.add(&write(K + 0x400 + 8 * i, 8).flexible().priority(Priority(1)));
    }
}

fn bind_four_cpus(fx: &Fx) {
    for c in 0..4 {
        fx.add(&write(K + 0x800 + 8 * c as u64, 8).scope(Scope::TaskOnCpu(TaskId(3), CpuId(c))));
    }
}

fn device_memory(fx: &Fx) {
    fx.machine.cache_inhibit(DEVICE);
}

fn rows() -> Vec<Row> {
    use ErrorKind::*;
    vec![
        // --- Address space ------------------------------------------------
        row(
            "user request on a kernel address",
            X,
            |fx| {
                reg(
                    fx,
                    write(K, 8).space(Space::User).scope(Scope::Task(TaskId(0))),
                )
            },
            KernelAddressFromUser,
        ),
        row(
            "user range crossing the user/kernel boundary (x86-like)",
            X,
            |fx| {
                reg(
                    fx,
                    write(0x0000_7fff_ffff_fffc, 8)
                        .space(Space::User)
                        .scope(Scope::Task(TaskId(0))),
                )
            },
            KernelAddressFromUser,
        ),
        row(
            "user range crossing the user/kernel boundary (arm-like)",
            ARM,
            |fx| {
                reg(
                    fx,
                    write(0x0000_ffff_ffff_fffc, 8)
                        .space(Space::User)
                        .scope(Scope::Task(TaskId(0))),
                )
            },
            KernelAddressFromUser,
        ),
        row(
            "user range ending exactly one past the user limit",
            X,
            |fx| {
                reg(
                    fx,
                    write(0x0000_7fff_ffff_fff8, 9)
                        .space(Space::User)
                        .scope(Scope::Task(TaskId(0))),
                )
            },
            KernelAddressFromUser,
        ),
        row(
            "non-canonical address",
            X,
            |fx| reg(fx, write(0x0000_8000_0000_0000, 8)),
            NonCanonical,
        ),
        row(
            "non-canonical high address",
            X,
            |fx| reg(fx, write(0xfff0_0000_0000_0000, 8)),
            NonCanonical,
        ),
        row(
            "kernel range spanning the canonical hole",
            X,
            |fx| reg(fx, write(0x0000_7fff_ffff_fff8, 16)),
            NonCanonical,
        ),
        row(
            "addr + len overflows at the top",
            X,
            |fx| reg(fx, write(u64::MAX - 3, 8)),
            AddressOverflow,
        ),
        row(
            "addr + len overflows from u64::MAX",
            X,
            |fx| reg(fx, write(u64::MAX, 2)),
            AddressOverflow,
        ),
        row(
            "execute at u64::MAX with a data length",
            X,
            |fx| reg(fx, Request::new(u64::MAX, u64::MAX, AccessKind::Execute)),
            AddressOverflow,
        ),
        // --- Length, alignment, kind --------------------------------------
        row(
            "zero-length write watch",
            X,
            |fx| reg(fx, write(K + 8, 0)),
            ZeroLength,
        ),
        row(
            "zero-length execute breakpoint",
            ARM,
            |fx| reg(fx, Request::new(K, 0, AccessKind::Execute)),
            ZeroLength,
        ),
        row(
            "execute breakpoint with a data length (x86-like)",
            X,
            |fx| reg(fx, Request::new(K + 0x40, 8, AccessKind::Execute)),
            UnsupportedLength,
        ),
        row(
            "execute breakpoint with a data length (arm-like)",
            ARM,
            |fx| reg(fx, Request::new(K + 0x40, 2, AccessKind::Execute)),
            UnsupportedLength,
        ),
        row(
            "unaligned range needing 5 slots of 4",
            X,
            |fx| reg(fx, write(K + 1, 16)),
            NotCoverable,
        ),
        row(
            "a megabyte on a 4-slot machine",
            X,
            |fx| reg(fx, write(K, 1 << 20)),
            NotCoverable,
        ),
        row(
            "two granules on a single-slot machine",
            ONE,
            |fx| reg(fx, write(K + 4, 8)),
            NotCoverable,
        ),
        row(
            "read-only watch on after-access hardware",
            X,
            |fx| reg(fx, Request::read(K + 8, 8)),
            UnsupportedKind,
        ),
        row(
            "I/O breakpoint without the OS enabling it",
            X,
            |fx| reg(fx, Request::new(0x3f8, 1, AccessKind::Io)),
            NotEnabled,
        ),
        row(
            "I/O breakpoint on a machine without I/O space",
            ARM,
            |fx| reg(fx, Request::new(0x3f8, 1, AccessKind::Io)),
            UnsupportedKind,
        ),
        row(
            "execute breakpoint on a machine without a code slot",
            ONE,
            |fx| reg(fx, Request::execute(K + 0x40)),
            UnsupportedKind,
        ),
        prepped(
            "watch on cache-inhibited memory",
            X,
            device_memory,
            |fx| reg(fx, write(DEVICE.start + 8, 8)),
            CacheInhibited,
        ),
        // --- No-breakpoint zones ------------------------------------------
        row(
            "range overlapping the start of a zone",
            X,
            |fx| reg(fx, write(ZONE.start - 4, 8)),
            NoBreakpointZone,
        ),
        row(
            "last byte of a zone",
            X,
            |fx| reg(fx, write(ZONE.end - 1, 1)),
            NoBreakpointZone,
        ),
        row(
            "the registry's own state",
            X,
            |fx| {
                let own = fx.reg.own_zone();
                reg(fx, write(own.start + (own.end - own.start) / 2, 1))
            },
            NoBreakpointZone,
        ),
        row(
            "debugger slot on a zone",
            X,
            |fx| fx.reg.debugger_install(&write(ZONE.start, 8)).map(|_| ()),
            NoBreakpointZone,
        ),
        row(
            "modify into a zone",
            X,
            |fx| fx.reg.modify(fx.pinned, &write(ZONE.start + 8, 8)),
            NoBreakpointZone,
        ),
        // --- Scope --------------------------------------------------------
        row(
            "CPU past the platform's count",
            X,
            |fx| reg(fx, write(K + 8, 8).scope(Scope::Cpu(CpuId(2)))),
            BadCpu,
        ),
        row(
            "CPU u32::MAX",
            X,
            |fx| {
                reg(
                    fx,
                    write(K + 8, 8).scope(Scope::TaskOnCpu(TaskId(0), CpuId(u32::MAX))),
                )
            },
            BadCpu,
        ),
        row(
            "debug context past capacity",
            X,
            |fx| reg(fx, write(K + 8, 8).scope(Scope::Task(TaskId(4)))),
            BadTask,
        ),
        row(
            "switch to a debug context past capacity",
            X,
            |fx| fx.reg.switch_task(Some(TaskId(99))),
            BadTask,
        ),
        row(
            "cpu_online on a CPU past the platform's count",
            X,
            |fx| on_cpu(3, || fx.reg.cpu_online()),
            BadCpu,
        ),
        row(
            "cpu_online on a CPU past the registry's capacity",
            X,
            |fx| on_cpu(8, || fx.reg.cpu_online()),
            BadCpu,
        ),
        row(
            "cpu_offline on a CPU past the registry's capacity",
            X,
            |fx| on_cpu(8, || fx.reg.cpu_offline()),
            BadCpu,
        ),
        prepped(
            "fifth CPU binding of one debug context",
            X6,
            bind_four_cpus,
            |fx| {
                reg(
                    fx,
                    write(K + 0x900, 8).scope(Scope::TaskOnCpu(TaskId(3), CpuId(4))),
                )
            },
            TableFull,
        ),
        // --- Slots and handles --------------------------------------------
        row(
            "armed_slot past the pool's count",
            X,
            |fx| fx.reg.armed_slot(PoolId::FIRST, 4).map(|_| ()),
            SlotOutOfRange,
        ),
        row(
            "armed_slot in a pool the machine lacks",
            X,
            |fx| fx.reg.armed_slot(PoolId::SECOND, 0).map(|_| ()),
            SlotOutOfRange,
        ),
        row(
            "armed_slot past the data pool's count",
            ARM,
            |fx| fx.reg.armed_slot(PoolId::SECOND, 4).map(|_| ()),
            SlotOutOfRange,
        ),
        row(
            "armed_slot at usize::MAX",
            ARM,
            |fx| fx.reg.armed_slot(PoolId::FIRST, usize::MAX).map(|_| ()),
            SlotOutOfRange,
        ),
        row(
            "debugger handle from another registry, slot past this count",
            X,
            |fx| fx.reg.debugger_remove(fx.foreign_debugger),
            ForeignHandle,
        ),
        row(
            "unregister a stale handle whose entry was reused",
            X,
            |fx| fx.reg.unregister(fx.stale),
            StaleHandle,
        ),
        row(
            "modify through a stale handle",
            X,
            |fx| fx.reg.modify(fx.stale, &write(K + 192, 1)),
            StaleHandle,
        ),
        row(
            "enable through a stale handle",
            X,
            |fx| fx.reg.enable(fx.stale),
            StaleHandle,
        ),
        row(
            "disable through a stale handle",
            X,
            |fx| fx.reg.disable(fx.stale),
            StaleHandle,
        ),
        row(
            "state of a stale handle",
            X,
            |fx| fx.reg.state(fx.stale).map(|_| ()),
            StaleHandle,
        ),
        row(
            "double unregister",
            X,
            |fx| fx.reg.unregister(fx.freed),
            StaleHandle,
        ),
        row(
            "unregister a foreign handle",
            X,
            |fx| fx.reg.unregister(fx.foreign),
            ForeignHandle,
        ),
        row(
            "modify a foreign handle",
            X,
            |fx| fx.reg.modify(fx.foreign, &write(K, 8)),
            ForeignHandle,
        ),
        row(
            "disable a foreign handle",
            ARM,
            |fx| fx.reg.disable(fx.foreign),
            ForeignHandle,
        ),
        row(
            "register on an uninitialised registry",
            X,
            |fx| fx.uninit.register(&write(K + 8, 8)).map(|_| ()),
            NotInitialized,
        ),
        row(
            "debugger on an uninitialised registry",
            X,
            |fx| fx.uninit.debugger_install(&write(K + 8, 8)).map(|_| ()),
            NotInitialized,
        ),
        // --- Modify to invalid settings (the old watch stays armed) -------
        row(
            "modify to length 0",
            X,
            |fx| fx.reg.modify(fx.pinned, &write(K, 0)),
            ZeroLength,
        ),
        row(
            "modify to a read-only watch",
            X,
            |fx| fx.reg.modify(fx.pinned, &Request::read(K, 8)),
            UnsupportedKind,
        ),
        row(
            "modify a kernel task watch to a user request on kernel memory",
            X,
            |fx| {
                fx.reg.modify(
                    fx.task,
                    &write(K + 64, 8)
                        .space(Space::User)
                        .scope(Scope::Task(TaskId(1)))
                        .flexible(),
                )
            },
            KernelAddressFromUser,
        ),
        row(
            "modify to another scope",
            X,
            |fx| {
                fx.reg
                    .modify(fx.pinned, &write(K, 8).scope(Scope::Cpu(CpuId(0))))
            },
            ScopeChange,
        ),
        row(
            "modify to another pinning",
            X,
            |fx| fx.reg.modify(fx.pinned, &write(K, 8).flexible()),
            ScopeChange,
        ),
        row(
            "modify to a non-canonical address",
            ARM,
            |fx| fx.reg.modify(fx.pinned, &write(0x0001_0000_0000_0000, 8)),
            NonCanonical,
        ),
        row(
            "modify to more slots than the machine has",
            ONE,
            |fx| fx.reg.modify(fx.pinned, &write(K, 16)),
            NotCoverable,
        ),
        prepped(
            "modify to more slots than are free",
            X,
            fill_cpu0,
            |fx| fx.reg.modify(fx.pinned, &write(K + 8, 16)),
            NoSlot,
        ),
        // --- Full pools ---------------------------------------------------
        prepped(
            "pool full, nothing displaceable",
            X,
            fill_cpu0,
            |fx| reg(fx, write(K + 520, 8).priority(Priority(5))),
            NoSlot,
        ),
        prepped(
            "pool full even after displacing every flexible watch",
            X,
            fill_cpu0,
            |fx| reg(fx, write(K + 0x601, 7).priority(Priority(200))),
            NoSlot,
        ),
        row(
            "single slot held by a pinned watch",
            ONE,
            |fx| reg(fx, write(K + 8, 8)),
            NoSlot,
        ),
        prepped(
            "debugger reservation when full",
            X,
            fill_cpu0,
            |fx| fx.reg.debugger_install(&write(K + 0x700, 8)).map(|_| ()),
            NoSlot,
        ),
        row(
            "debugger reservation on the held single slot",
            ONE,
            |fx| fx.reg.debugger_install(&write(K + 0x700, 8)).map(|_| ()),
            NoSlot,
        ),
        row(
            "debugger request needing two slots",
            X,
            |fx| fx.reg.debugger_install(&write(K + 0x700, 16)).map(|_| ()),
            NotCoverable,
        ),
        row(
            "debugger read-only watch on after-access hardware",
            X,
            |fx| {
                fx.reg
                    .debugger_install(&Request::read(K + 0x700, 8))
                    .map(|_| ())
            },
            UnsupportedKind,
        ),
        row(
            "debugger user request on kernel memory",
            ARM,
            |fx| {
                fx.reg
                    .debugger_install(&write(K + 0x700, 8).space(Space::User))
                    .map(|_| ())
            },
            KernelAddressFromUser,
        ),
        prepped(
            "breakpoint table full",
            X,
            fill_table,
            |fx| reg(fx, write(K + 0x500, 8).flexible()),
            TableFull,
        ),
    ]
}

/// Rows the core fails today (kept out of the main table so it stays green;
/// run with `--ignored`).
fn core_bug_rows() -> Vec<Row> {
    vec![
        // `cpu_offline` checks only the registry's capacity (CPUS), not the
        // platform's CPU count as `cpu_online` does: it writes the registers
        // of a CPU the platform does not have (the model panics on the
        // out-of-range CPU index) instead of answering `BadCpu`.
        row(
            "cpu_offline on a CPU past the platform's count",
            X,
            |fx| on_cpu(3, || fx.reg.cpu_offline()),
            ErrorKind::BadCpu,
        ),
    ]
}

#[test]
fn catalogue_on_the_model_machine() {
    if cfg!(miri) {
        // Interpreted, each row (two registries, a thread, a dozen calls)
        // takes seconds: miri checks every fourth row, which still reaches
        // every refusal path's kind of state (validation, reservation,
        // handles, debugger ledger).
        run_rows(rows().into_iter().step_by(4).collect(), 15);
    } else {
        run_rows(rows(), 30);
    }
}

#[test]
fn catalogue_rows_the_core_fails() {
    run_rows(core_bug_rows(), 1);
}

fn run_rows(rows: Vec<Row>, at_least: usize) {
    assert!(
        rows.len() >= at_least,
        "the catalogue has {} rows",
        rows.len()
    );
    let mut failures = Vec::new();
    for row in &rows {
        // Each row on its own thread: a panic (a failure in itself) must not
        // leave the model's current-CPU setting behind for the next row.
        let (machine, prep, op, want) = (row.machine, row.prep, row.op, row.want);
        let result = std::thread::spawn(move || -> std::result::Result<(), String> {
            let fx = fixture(machine);
            if let Some(prep) = prep {
                prep(&fx);
            }
            let before = snapshot(&fx);
            match op(&fx) {
                Ok(()) => return Err(format!("accepted; wanted {want:?}")),
                Err(e) if e.kind() != want => {
                    return Err(format!("got {:?}, wanted {want:?}", e.kind()))
                }
                Err(_) => {}
            }
            let after = snapshot(&fx);
            if after != before {
                return Err(format!(
                    "state changed by a refused call:\nbefore {before:?}\nafter  {after:?}"
                ));
            }
            pinned_still_traps(&fx)
        })
        .join();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => failures.push(format!("{}: {msg}", row.name)),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: PANICKED: {msg}", row.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The boundaries of the refusals are exact: the neighbouring valid
/// requests are accepted (a refusal that also caught these would be a
/// different bug: refusing what the hardware can do).
#[test]
fn the_neighbours_of_bad_inputs_are_accepted() {
    let fx = fixture(Machinery::X86(2));
    let ok = |req: Request| {
        let h = fx
            .reg
            .register(&req)
            .unwrap_or_else(|e| panic!("{req:?}: {e}"));
        fx.reg.unregister(h).unwrap();
    };
    // The last user doubleword, in user space.
    ok(write(0x0000_7fff_ffff_fff8, 8)
        .space(Space::User)
        .scope(Scope::Task(TaskId(0))));
    // Ending exactly where the zone starts, starting exactly where it ends.
    ok(write(ZONE.start - 8, 8));
    ok(write(ZONE.end, 8));
    // The first canonical kernel address.
    ok(write(0xffff_8000_0000_0000, 8));
    // An unaligned range covered exactly (1 + 8 bytes), displacing a
    // flexible watch for its second slot.
    ok(write(K + 0x307, 9));
}

/// Found by the fuzzer (`cargo xtask fuzz --engine libfuzzer`): modifying a
/// breakpoint that shares another's slots leaks the owner's reservation.
/// After removing everything the ledger still publishes a load of 2 (the
/// owner's two pieces), so two data slots stay unusable for good.
///
/// Sequence: h0 (owner, 2 pieces) and its sharers h2, h3, h4 (identical
/// requests); h2 and h4 are then modified to another range (they become
/// waiting: the pool is full). `unlink_sharer` relinks the owner's chain
/// but leaves the modified entry's own `next_sharer` pointing into it, so
/// h4 later looks like an owner with sharers: unregistering it hands its
/// (empty) reservation over to h3, which is still linked under h0, and
/// unregistering h0 then hands h0's reservation to that dead entry instead
/// of releasing it.
#[test]
fn modifying_a_sharer_leaks_no_reservation() {
    let machine = Machine::new(Config::arm_like(1));
    let reg = Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    reg.cpu_online().unwrap();
    let data = PoolId::SECOND;
    let shared = |len| {
        Request::read(0x4000_0043, len)
            .space(Space::User)
            .scope(Scope::Task(TaskId(3)))
            .flexible()
    };
    let moved = Request::read(K, 8).scope(Scope::Task(TaskId(3))).flexible();
    let h0 = reg.register(&shared(8)).unwrap();
    let h1 = reg.register(&shared(1)).unwrap();
    let h2 = reg.register(&shared(8)).unwrap();
    let p = reg.register(&Request::write(K + 8, 8)).unwrap();
    assert_eq!(reg.pool_usage(data), (4, 0));
    reg.modify(h2, &moved).unwrap();
    let h3 = reg.register(&shared(8)).unwrap();
    let h4 = reg.register(&shared(8)).unwrap();
    reg.modify(h4, &moved).unwrap();
    for h in [h4, h3, p, h2, h1, h0] {
        reg.unregister(h).unwrap();
    }
    assert_eq!(reg.pool_usage(data), (0, 0), "reservation leaked");
    assert!(machine.regs(0).slots.iter().flatten().all(Option::is_none));
}

#[test]
fn switching_to_context_u32_max_is_refused_with_no_context_loaded() {
    // One more than u32::MAX is what "no context" would be named if the
    // loaded context were kept as its number + 1 in 32 bits.
    let machine = Machine::new(Config::x86_like(1));
    let reg = Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online()).unwrap();
    reg.register(&Request::write(K, 8)).unwrap();
    let before = machine.all_regs();
    let err = on_cpu(0, || reg.switch_task(Some(TaskId(u32::MAX)))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadTask);
    assert_eq!(machine.all_regs(), before);
}
