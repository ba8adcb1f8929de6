//! Fuzzing hwbreak's API with call sequences decoded from bytes.
//!
//! [`run`] turns a byte string into a model machine (x86-like, AArch64-like
//! or single-slot, 1 to 3 CPUs), a registry on it, and a sequence of calls:
//! register, modify, unregister, enable, disable, switch_task, CPU offline
//! and online (with register loss), refresh, debugger install and remove
//! (followed by the round-up refresh a kernel debugger does), and memory
//! accesses that trap into the registry's exception path. Requests mix
//! valid and bad inputs (kernel addresses from user requests, overflow,
//! non-canonical ranges, zero and huge lengths, unsupported kinds, stale
//! and foreign handles, CPU and context numbers past capacity, zones).
//!
//! After every step it checks:
//! - **failed calls changed nothing**: registers, write log length, ledger,
//!   states of every handle, the registry's slot tables on every CPU;
//! - **slot conservation**: per CPU and pool, armed slots are within the
//!   pool, the normal path's armed slots are within the ledger's published
//!   load, and load + debugger slots <= slots;
//! - **the table mirrors the hardware**: `armed_slot` equals the modelled
//!   register, the control word enables exactly the armed slots, the debug
//!   machinery is on exactly when a slot is armed;
//! - **nothing armed without an owner, every owner armed**: on every online
//!   CPU, the armed images are exactly the images of the registrations whose
//!   state is `Armed` and whose scope runs there (given the loaded debug
//!   context), plus the debugger slots;
//! - **every armed slot encodes exactly its owner's request**: the images of
//!   a registration, decoded independently of the core, cover exactly its
//!   bytes with its access kind and privilege;
//! - **hits go to exactly the right handlers**: an access calls exactly the
//!   handlers of the armed registrations (and debugger slots) whose request
//!   covers it, with an address inside the request when one is reported;
//! - **handlers hear only what is true**: an accepted update tells only
//!   registered breakpoints anything (never one already unregistered), only
//!   of displacement and reinstatement, consistently with their states; a
//!   refused call tells nobody anything;
//! - at the end, after removing everything: no slot armed anywhere, ledger
//!   back to zero.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use hwbreak_core::cover::exact_cover;
use hwbreak_core::model::{
    on_cpu, Config, CpuRegs, Machine, ModelArch, ModelPlatform, ModelTrap, Style,
};
use hwbreak_core::{
    AccessKind, Arch, CpuId, DebuggerHandle, ErrorKind, Event, EventKind, Handle, MemoryType,
    PoolId, Priority, Request, Resume, Scope, SlotImage, Space, State, TaskId, Zone, MAX_POOLS,
    MAX_SLOTS,
};

/// Registrations the registry can hold.
pub const BPS: usize = 16;
/// CPU capacity of the registry (the machines use at most 3 of them).
pub const CPUS: usize = 4;
/// Debug contexts.
pub const TASKS: usize = 4;

type Reg = hwbreak_core::Registry<ModelArch, ModelPlatform, BPS, CPUS, TASKS>;

/// A kernel address (canonical high half).
const K: u64 = 0xffff_8000_0010_0000;
/// A user address.
const U: u64 = 0x0000_0000_4000_0000;
/// The platform's no-breakpoint zone.
const ZONE: Zone = Zone::new(K + 0x2000, K + 0x2100);
/// Handler contexts of debugger slots start here.
const DEBUGGER_CONTEXT: usize = 1 << 20;

/// A violated invariant, with the calls that led to it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Index of the failing call in the sequence.
    pub step: usize,
    /// What went wrong.
    pub message: String,
    /// The machine and every call made, in order.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "invariant violated at step {}: {}",
            self.step, self.message
        )?;
        for (i, t) in self.trace.iter().enumerate() {
            writeln!(f, "  {i:4}: {t}")?;
        }
        Ok(())
    }
}

/// What the calls did, for judging a run's coverage.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Registrations accepted.
    pub registered: u64,
    /// Updating calls refused (and checked to change nothing).
    pub refused: u64,
    /// Modifications accepted.
    pub modified: u64,
    /// Debugger slots installed.
    pub debugger: u64,
    /// Accesses that trapped.
    pub traps: u64,
    /// Handler calls for hits.
    pub delivered: u64,
    /// CPU offline/online transitions.
    pub hotplug: u64,
    /// Accesses made.
    pub accesses: u64,
    /// Accesses some armed request covered.
    pub covered: u64,
}

thread_local! {
    static STATS: RefCell<Stats> = RefCell::new(Stats::default());
}

fn count(f: impl FnOnce(&mut Stats)) {
    STATS.with(|s| f(&mut s.borrow_mut()));
}

/// Counters of this thread's runs so far.
pub fn stats() -> Stats {
    STATS.with(|s| *s.borrow())
}

thread_local! {
    static SEEN: RefCell<Vec<(usize, EventKind, Option<u64>)>> = const { RefCell::new(Vec::new()) };
}

fn record(e: &Event) {
    SEEN.with(|s| s.borrow_mut().push((e.context, e.kind, e.address)));
}

fn take_seen() -> Vec<(usize, EventKind, Option<u64>)> {
    SEEN.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// A handle issued by another registry (built once per thread).
fn foreign_handle() -> Handle {
    thread_local! {
        static FOREIGN: Handle = {
            let machine = Machine::new(Config::x86_like(1));
            let reg: &'static Reg = Box::leak(Box::new(Reg::new(
                ModelArch::new(machine.clone()),
                ModelPlatform::new(machine),
            )));
            reg.init().unwrap();
            reg.cpu_online().unwrap();
            reg.register(&Request::write(K, 8)).unwrap()
        };
    }
    FOREIGN.with(|h| *h)
}

/// Reads the fuzzer's bytes; `None` once they run out.
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        Some(items[self.byte()? as usize % items.len()])
    }
}

/// One registration the harness believes is live.
#[derive(Clone, Debug)]
struct Live {
    id: usize,
    handle: Handle,
    req: Request,
    images: Vec<SlotImage>,
}

#[derive(Clone, Debug)]
struct Debugger {
    id: usize,
    handle: DebuggerHandle,
    req: Request,
    image: SlotImage,
}

/// Everything a failed call must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    regs: Vec<CpuRegs>,
    log_len: usize,
    usage: [(u32, u32); MAX_POOLS],
    states: Vec<Result<State, ErrorKind>>,
    armed: Vec<Result<Option<SlotImage>, ErrorKind>>,
}

struct Harness {
    machine: Arc<Machine>,
    reg: Box<Reg>,
    cpus: u32,
    style: Style,
    live: Vec<Live>,
    dead: Vec<Handle>,
    debuggers: Vec<Debugger>,
    dead_debuggers: Vec<DebuggerHandle>,
    /// Debug context loaded per CPU, as the harness told the registry.
    task: Vec<Option<u32>>,
    online: Vec<bool>,
    next_id: usize,
    trace: Vec<String>,
    /// The breakpoint the call being checked changes, if any.
    own: Option<Handle>,
}

const LENS: [u64; 18] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    12,
    15,
    16,
    24,
    32,
    64,
    1 << 20,
    u64::MAX,
];
const KINDS: [AccessKind; 6] = [
    AccessKind::Write,
    AccessKind::Write,
    AccessKind::ReadWrite,
    AccessKind::Read,
    AccessKind::Execute,
    AccessKind::Io,
];
const PRIORITIES: [u8; 5] = [1, 10, 128, 200, 255];

fn kind_code(kind: AccessKind) -> u64 {
    match kind {
        AccessKind::Execute => 1,
        AccessKind::Write => 2,
        AccessKind::ReadWrite => 3,
        AccessKind::Read => 4,
        AccessKind::Io => 5,
    }
}

/// Whether a watch of kind `watch` fires on an access of kind `access`
/// (loads, stores, or both).
fn kind_fires(watch: AccessKind, access: AccessKind) -> bool {
    let loads = |k| matches!(k, AccessKind::Read | AccessKind::ReadWrite);
    let stores = |k| matches!(k, AccessKind::Write | AccessKind::ReadWrite);
    match (watch, access) {
        (AccessKind::Execute, AccessKind::Execute) => true,
        (AccessKind::Execute, _) | (_, AccessKind::Execute) => false,
        (AccessKind::Io, a) | (a, AccessKind::Io) => a == AccessKind::Io,
        (w, a) => (loads(w) && loads(a)) || (stores(w) && stores(a)),
    }
}

/// Decodes a model slot image into the bytes it watches, its kind code and
/// its privilege bit, independently of the core (layout from `model.rs`:
/// kind in bits 0..4, length or byte mask in bits 8..16, user bit 16,
/// enable bit 17).
fn decode_image(style: Style, image: &SlotImage) -> Result<(u64, u64, u64, bool), String> {
    let c = image.control;
    if c & (1 << 17) == 0 {
        return Err(format!("image {image:x?} not enabled"));
    }
    let field = (c >> 8) & 0xff;
    let (start, end) = match style {
        Style::AfterAccess => (image.value, image.value + field),
        Style::BeforeAccess => {
            if field == 0
                || (field >> field.trailing_zeros()).count_ones()
                    != (64 - (field >> field.trailing_zeros()).leading_zeros())
            {
                return Err(format!("image {image:x?}: byte mask not contiguous"));
            }
            (
                image.value + u64::from(field.trailing_zeros()),
                image.value + u64::from(64 - field.leading_zeros()),
            )
        }
    };
    Ok((start, end, c & 0xf, c & (1 << 16) != 0))
}

/// Whether `scope` runs on `cpu` while `task` is loaded there.
fn scope_runs(scope: Scope, cpu: u32, task: Option<u32>) -> bool {
    match scope {
        Scope::AllCpus => true,
        Scope::Cpu(c) => c.0 == cpu,
        Scope::Task(t) => task == Some(t.0),
        Scope::TaskOnCpu(t, c) => c.0 == cpu && task == Some(t.0),
    }
}

impl Harness {
    fn new(b: &mut Bytes<'_>) -> Option<Self> {
        let sel = b.byte()?;
        let cpus = u32::from(sel / 3 % 3) + 1;
        let config = match sel % 3 {
            0 => Config::x86_like(cpus),
            1 => Config::arm_like(cpus),
            _ => Config::one_slot(cpus),
        };
        let machine = Machine::new(config);
        let platform = ModelPlatform::new(machine.clone()).with_zones(vec![ZONE]);
        let reg = Box::new(Reg::new(ModelArch::new(machine.clone()), platform));
        reg.init().ok()?;
        for cpu in 0..cpus {
            on_cpu(cpu, || reg.cpu_online()).ok()?;
        }
        Some(Self {
            machine,
            reg,
            cpus,
            style: config.style,
            live: Vec::new(),
            dead: Vec::new(),
            debuggers: Vec::new(),
            dead_debuggers: Vec::new(),
            task: vec![None; cpus as usize],
            online: vec![true; cpus as usize],
            next_id: 1,
            own: None,
            trace: vec![format!("{config:?}")],
        })
    }

    fn fail<T>(&self, message: String) -> Result<T, Failure> {
        Err(Failure {
            step: self.trace.len().saturating_sub(1),
            message,
            trace: self.trace.clone(),
        })
    }

    fn online_cpu(&self, b: &mut Bytes<'_>) -> Option<u32> {
        let on: Vec<u32> = (0..self.cpus)
            .filter(|&c| self.online[c as usize])
            .collect();
        b.pick(&on)
    }

    /// A request: three in four well formed (valid addresses, lengths,
    /// kinds and scopes, so registries fill up and trap), the rest wild.
    fn request(&self, b: &mut Bytes<'_>, context: usize) -> Option<Request> {
        let mode = b.byte()?;
        let req = if mode % 8 == 1 && !self.live.is_empty() {
            // The same watch as a live one: identical requests share slots.
            let l = &self.live[usize::from(mode >> 3) % self.live.len()];
            return Some(l.req.handler(record, context));
        } else if mode % 4 == 0 {
            self.wild_request(b)?
        } else {
            self.tame_request(b)?
        };
        let p = b.byte()?;
        let mut req = req
            .priority(Priority(PRIORITIES[p as usize % PRIORITIES.len()]))
            .handler(record, context);
        if p & 0x80 != 0 {
            req = req.flexible();
        }
        Some(req)
    }

    fn tame_request(&self, b: &mut Bytes<'_>) -> Option<Request> {
        let a = b.byte()?;
        let user = a & 0x80 != 0;
        let off = u64::from(b.byte()? % 40);
        let base = if user { U } else { K };
        let addr = base + off + if a & 0x40 != 0 { 0x40 } else { 0 };
        let kind = b.pick(&[
            AccessKind::Write,
            AccessKind::Write,
            AccessKind::ReadWrite,
            AccessKind::Read,
            AccessKind::Execute,
        ])?;
        let len = if kind == AccessKind::Execute {
            1
        } else {
            b.pick(&[1u64, 2, 4, 8, 8, 3, 5, 16])?
        };
        let c = CpuId(u32::from(b.byte()?) % self.cpus);
        let t = TaskId(u32::from(a) % TASKS as u32);
        let scope = match (b.byte()? % 6, user) {
            (0 | 1, false) => Scope::AllCpus,
            (2, false) => Scope::Cpu(c),
            (5, _) => Scope::TaskOnCpu(t, c),
            _ => Scope::Task(t),
        };
        let space = if user { Space::User } else { Space::Kernel };
        Some(Request::new(addr, len, kind).space(space).scope(scope))
    }

    fn wild_request(&self, b: &mut Bytes<'_>) -> Option<Request> {
        let a = b.byte()?;
        let off = u64::from(b.byte()? % 48);
        let user_limit = self.machine.config.user_limit;
        let own = self.reg.own_zone();
        let addr = match a % 16 {
            0..=4 => K + off,
            5 | 6 => K + 0x40 + off,
            7..=9 => U + off,
            10 => u64::MAX - off % 16,
            11 => 0x0000_8000_0000_0000 - off % 16,
            12 => user_limit - off % 16,
            13 => ZONE.start - off % 16,
            14 => own.start + off,
            _ => (u64::from(b.byte()?) << 56) | off,
        };
        let len = b.pick(&LENS)?;
        let kind = b.pick(&KINDS)?;
        let s = b.byte()?;
        let space = if addr < user_limit && s % 4 != 0 || s % 16 == 1 {
            Space::User
        } else {
            Space::Kernel
        };
        let c = CpuId(u32::from(b.byte()?) % (self.cpus + 1));
        let t = TaskId(u32::from(s >> 4) % (TASKS as u32 + 1));
        let scope = match b.byte()? % 6 {
            0 | 1 => Scope::AllCpus,
            2 => Scope::Cpu(c),
            3 | 4 => Scope::Task(t),
            _ => Scope::TaskOnCpu(t, c),
        };
        Some(Request::new(addr, len, kind).space(space).scope(scope))
    }

    /// The images the backend encodes for `req` (the core's cover).
    fn expected_images(&self, req: &Request) -> Result<Vec<SlotImage>, String> {
        let arch = self.reg.arch();
        let pool = arch.pool_of(req.kind).map_err(|e| e.to_string())?;
        let cover = exact_cover(
            arch,
            req.addr,
            req.len,
            req.kind,
            req.space,
            MemoryType::Normal,
            self.reg.slot_counts().get(pool),
        )
        .map_err(|e| format!("accepted request not coverable: {e}"))?;
        cover
            .pieces()
            .map(|p| {
                arch.encode(p)
                    .map_err(|e| format!("piece not encodable: {e}"))
            })
            .collect()
    }

    /// The images of an accepted request watch exactly its bytes, kind and
    /// privilege (decoded without the core).
    fn check_exact(&self, req: &Request, images: &[SlotImage]) -> Result<(), String> {
        let mut ranges = Vec::new();
        for image in images {
            let (start, end, code, user) = decode_image(self.style, image)?;
            if code != kind_code(req.kind) {
                return Err(format!("{req:?}: image kind {code} wrong"));
            }
            if user != (req.space == Space::User) {
                return Err(format!("{req:?}: image privilege wrong"));
            }
            ranges.push((start, end));
        }
        ranges.sort_unstable();
        let mut at = req.addr;
        for (start, end) in ranges {
            if start != at || end <= start {
                return Err(format!(
                    "{req:?}: pieces {images:x?} leave a gap or overlap at {at:#x}"
                ));
            }
            at = end;
        }
        if Some(at) != req.end() {
            return Err(format!("{req:?}: pieces end at {at:#x}"));
        }
        Ok(())
    }

    fn snapshot(&self) -> Snapshot {
        let counts = self.reg.slot_counts();
        let mut armed = Vec::new();
        for cpu in 0..self.cpus {
            for pool in PoolId::ALL {
                for k in 0..counts.get(pool) {
                    armed.push(on_cpu(cpu, || self.reg.armed_slot(pool, k)).map_err(|e| e.kind()));
                }
            }
        }
        let mut handles: Vec<Handle> = self.live.iter().map(|l| l.handle).collect();
        handles.extend(self.dead.iter().copied());
        Snapshot {
            regs: self.machine.all_regs(),
            log_len: self.machine.log().len(),
            usage: PoolId::ALL.map(|p| self.reg.pool_usage(p)),
            states: handles
                .iter()
                .map(|&h| self.reg.state(h).map_err(|e| e.kind()))
                .collect(),
            armed,
        }
    }

    /// Every standing invariant.
    fn check(&self) -> Result<(), String> {
        let counts = self.reg.slot_counts();
        let mut states = BTreeMap::new();
        for l in &self.live {
            let s = self
                .reg
                .state(l.handle)
                .map_err(|e| format!("live handle {}: {e}", l.id))?;
            states.insert(l.id, s);
        }
        for &h in &self.dead {
            match self.reg.state(h) {
                Err(e) if e.kind() == ErrorKind::StaleHandle => {}
                other => return Err(format!("removed handle {h:?} answers {other:?}")),
            }
        }
        for pool in PoolId::ALL {
            let slots = counts.get(pool) as u32;
            let (load, debugger) = self.reg.pool_usage(pool);
            if load + debugger > slots {
                return Err(format!(
                    "{pool:?}: load {load} + debugger {debugger} > {slots} slots"
                ));
            }
            let dbg_here = self
                .debuggers
                .iter()
                .filter(|d| d.handle.pool() == pool)
                .count() as u32;
            if dbg_here != debugger {
                return Err(format!(
                    "{pool:?}: ledger says {debugger} debugger slots, {dbg_here} installed"
                ));
            }
        }
        for cpu in 0..self.cpus {
            let regs = self.machine.regs(cpu);
            let online = self.online[cpu as usize];
            let mut armed_images = Vec::new();
            for pool in PoolId::ALL {
                let p = pool.index();
                let n = counts.get(pool);
                let mut word = 0u64;
                let mut dbg_armed = 0u32;
                let mut used = 0u32;
                for k in 0..MAX_SLOTS {
                    let hw = regs.slots[p][k];
                    if k >= n {
                        if hw.is_some() {
                            return Err(format!(
                                "cpu {cpu} {pool:?} slot {k} past the count is armed"
                            ));
                        }
                        continue;
                    }
                    if online {
                        let table = on_cpu(cpu, || self.reg.armed_slot(pool, k))
                            .map_err(|e| format!("armed_slot({pool:?}, {k}): {e}"))?;
                        if table != hw {
                            return Err(format!(
                                "cpu {cpu} {pool:?} slot {k}: table {table:x?} != hardware {hw:x?}"
                            ));
                        }
                    }
                    if let Some(img) = hw {
                        word |= 1 << k;
                        used += 1;
                        if self.debuggers.iter().any(|d| {
                            d.handle.pool() == pool && d.handle.slot() == k && d.image == img
                        }) {
                            dbg_armed += 1;
                        }
                        armed_images.push((pool, img));
                    }
                }
                if !online && used > 0 {
                    return Err(format!("offline cpu {cpu} has {used} armed slots"));
                }
                let want_word = match self.style {
                    Style::AfterAccess => word,
                    Style::BeforeAccess => 0,
                };
                if regs.control[p] != want_word {
                    return Err(format!(
                        "cpu {cpu} {pool:?}: control {:#x}, slots need {want_word:#x}",
                        regs.control[p]
                    ));
                }
                let (load, _) = self.reg.pool_usage(pool);
                if used - dbg_armed > load {
                    return Err(format!(
                        "cpu {cpu} {pool:?}: {} normal slots armed, ledger load {load}",
                        used - dbg_armed
                    ));
                }
            }
            let any_armed = !armed_images.is_empty();
            if regs.armed != any_armed {
                return Err(format!(
                    "cpu {cpu}: debug machinery on = {} with {} armed slots",
                    regs.armed,
                    armed_images.len()
                ));
            }
            if !online {
                continue;
            }
            // Owners: exactly the expected images, as sets.
            let task = self.task[cpu as usize];
            let mut want = BTreeSet::new();
            for l in &self.live {
                if states[&l.id] == State::Armed && scope_runs(l.req.scope, cpu, task) {
                    for img in &l.images {
                        want.insert((img.value, img.control));
                    }
                }
            }
            for d in &self.debuggers {
                want.insert((d.image.value, d.image.control));
            }
            let have: BTreeSet<(u64, u64)> = armed_images
                .iter()
                .map(|(_, i)| (i.value, i.control))
                .collect();
            if have != want {
                return Err(format!(
                    "cpu {cpu} (task {task:?}): armed {have:x?}, owners want {want:x?}"
                ));
            }
        }
        Ok(())
    }

    /// Picks a handle: mostly live ones, sometimes removed or foreign ones.
    fn pick_handle(&self, b: &mut Bytes<'_>) -> Option<(Handle, Option<usize>)> {
        let x = b.byte()? as usize;
        if x % 8 == 7 {
            return Some((foreign_handle(), None));
        }
        if (x % 8 == 6 || self.live.is_empty()) && !self.dead.is_empty() {
            return Some((self.dead[x / 8 % self.dead.len()], None));
        }
        if self.live.is_empty() {
            return Some((foreign_handle(), None));
        }
        let i = x / 8 % self.live.len();
        Some((self.live[i].handle, Some(i)))
    }

    /// Runs an updating call; on error, checks it changed nothing and told
    /// no handler anything; on success, checks what it told handlers
    /// ([`Harness::check_told`]).
    fn guarded<T>(
        &mut self,
        cpu: u32,
        call: impl FnOnce(&Reg) -> hwbreak_core::Result<T>,
    ) -> Result<Result<T, ErrorKind>, Failure> {
        let before = self.snapshot();
        let registered: Vec<(usize, Handle, Option<State>)> = self
            .live
            .iter()
            .map(|l| (l.id, l.handle, self.reg.state(l.handle).ok()))
            .collect();
        let r = on_cpu(cpu, || call(&self.reg));
        let told = take_seen();
        match r {
            Ok(v) => {
                if let Err(m) = self.check_told(&registered, &told) {
                    return self.fail(m);
                }
                Ok(Ok(v))
            }
            Err(e) => {
                count(|s| s.refused += 1);
                let after = self.snapshot();
                if after != before {
                    return self.fail(format!(
                        "refused call ({e:?}) changed state:\nbefore {before:x?}\nafter  {after:x?}"
                    ));
                }
                if !told.is_empty() {
                    return self.fail(format!("refused call ({e:?}) told handlers {told:?}"));
                }
                Ok(Err(e.kind()))
            }
        }
    }

    /// What an accepted update told handlers: only registered breakpoints
    /// hear anything (never one already unregistered, never a debugger
    /// slot), only of displacement and reinstatement, and in agreement
    /// with their states: the last word each got says what it is now.
    fn check_told(
        &self,
        before: &[(usize, Handle, Option<State>)],
        told: &[(usize, EventKind, Option<u64>)],
    ) -> Result<(), String> {
        let mut last: BTreeMap<usize, EventKind> = BTreeMap::new();
        for &(id, kind, _) in told {
            if kind == EventKind::Hit {
                return Err(format!(
                    "a handler of {id} was called with a hit outside a trap"
                ));
            }
            // A registration made by this very call gets the next id.
            let known = before.iter().any(|b| b.0 == id) || id == self.next_id;
            if !known {
                return Err(format!(
                    "the handler of {id}, which is not registered, was told {kind:?}"
                ));
            }
            last.insert(id, kind);
        }
        for &(id, handle, was) in before {
            let Ok(now) = self.reg.state(handle) else {
                // Unregistered by this call.
                continue;
            };
            // The breakpoint a call changes learns its new state from the
            // call; every other one learns it from its handler.
            let own = self.own == Some(handle);
            if !own
                && was == Some(State::Armed)
                && now == State::Waiting
                && last.get(&id) != Some(&EventKind::Displaced)
            {
                return Err(format!(
                    "{id} went from armed to waiting without being told Displaced"
                ));
            }
            if !own
                && was == Some(State::Waiting)
                && now == State::Armed
                && last.get(&id) != Some(&EventKind::Reinstated)
            {
                return Err(format!(
                    "{id} went from waiting to armed without being told Reinstated"
                ));
            }
            match last.get(&id) {
                Some(EventKind::Displaced) if now == State::Armed => {
                    return Err(format!("{id} was told Displaced but is armed"));
                }
                Some(EventKind::Reinstated) if now == State::Waiting => {
                    return Err(format!("{id} was told Reinstated but is waiting"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn round_up(&self, except: u32) {
        for cpu in 0..self.cpus {
            if cpu != except && self.online[cpu as usize] {
                on_cpu(cpu, || self.reg.refresh());
            }
        }
    }

    fn step(&mut self, b: &mut Bytes<'_>) -> Option<Result<(), Failure>> {
        let op = b.byte()?;
        let cpu = self.online_cpu(b)?;
        let r = match op % 20 {
            0..=3 => {
                let id = self.next_id;
                let req = self.request(b, id)?;
                self.trace.push(format!("cpu {cpu}: register {req:x?}"));
                self.register(cpu, id, req)
            }
            12 | 13 => {
                let (h, i) = self.pick_handle(b)?;
                let keep = b.byte()?;
                let context = i.map_or(0, |i| self.live[i].id);
                let mut req = self.request(b, context)?;
                if let (Some(i), true) = (i, keep % 8 != 0) {
                    req.scope = self.live[i].req.scope;
                    req.pinning = self.live[i].req.pinning;
                }
                self.trace
                    .push(format!("cpu {cpu}: modify {h:?} -> {req:x?}"));
                self.modify(cpu, h, i, req)
            }
            4 => {
                let (h, i) = self.pick_handle(b)?;
                self.trace.push(format!("cpu {cpu}: unregister {h:?}"));
                self.unregister(cpu, h, i)
            }
            5 | 6 => {
                let (h, i) = self.pick_handle(b)?;
                let enable = op % 20 == 5;
                self.trace
                    .push(format!("cpu {cpu}: enable({enable}) {h:?}"));
                match self.guarded(cpu, |r| if enable { r.enable(h) } else { r.disable(h) }) {
                    Err(f) => Err(f),
                    Ok(r) => self.expect_handle_result(i, r.map(|_| ())),
                }
            }
            7 => {
                let t = b.byte()?;
                // Mostly a valid context; sometimes none or one past capacity.
                let next = match t % 16 {
                    0 => None,
                    1 => Some(TASKS as u32 + u32::from(t >> 4)),
                    _ => Some(u32::from(t >> 2) % TASKS as u32),
                };
                self.trace.push(format!("cpu {cpu}: switch_task {next:?}"));
                match self.guarded(cpu, |r| r.switch_task(next.map(TaskId))) {
                    Err(f) => Err(f),
                    Ok(Ok(())) if next.is_none_or(|t| (t as usize) < TASKS) => {
                        self.task[cpu as usize] = next;
                        Ok(())
                    }
                    Ok(Err(ErrorKind::BadTask)) if next.is_some_and(|t| t as usize >= TASKS) => {
                        Ok(())
                    }
                    Ok(r) => self.fail(format!("switch_task({next:?}) answered {r:?}")),
                }
            }
            8 => {
                let c = 1 + u32::from(b.byte()?) % self.cpus;
                if c >= self.cpus {
                    return Some(Ok(()));
                }
                self.toggle_cpu(c)
            }
            9 => {
                let id = DEBUGGER_CONTEXT + self.next_id;
                let req = self.request(b, id)?;
                self.trace
                    .push(format!("cpu {cpu}: debugger_install {req:x?}"));
                self.debugger_install(cpu, id, req)
            }
            10 => {
                let x = b.byte()? as usize;
                let handle = if !self.debuggers.is_empty() && x & 3 != 0 {
                    self.debuggers[x / 4 % self.debuggers.len()].handle
                } else if !self.dead_debuggers.is_empty() {
                    self.dead_debuggers[x / 4 % self.dead_debuggers.len()]
                } else {
                    return Some(Ok(()));
                };
                self.trace
                    .push(format!("cpu {cpu}: debugger_remove {handle:?}"));
                self.debugger_remove(cpu, handle)
            }
            11 => {
                self.trace.push(format!("cpu {cpu}: refresh"));
                on_cpu(cpu, || self.reg.refresh());
                Ok(())
            }
            _ => self.access(b, cpu)?,
        };
        Some(r.and_then(|()| self.check().or_else(|m| self.fail(m))))
    }

    fn expect_handle_result(
        &self,
        live: Option<usize>,
        r: Result<(), ErrorKind>,
    ) -> Result<(), Failure> {
        match (live, r) {
            (Some(_), Ok(())) => Ok(()),
            (None, Err(ErrorKind::StaleHandle | ErrorKind::ForeignHandle)) => Ok(()),
            (l, r) => self.fail(format!("handle live = {}: answered {r:?}", l.is_some())),
        }
    }

    fn register(&mut self, cpu: u32, id: usize, req: Request) -> Result<(), Failure> {
        match self.guarded(cpu, |r| r.register(&req))? {
            Err(_) => Ok(()),
            Ok(handle) => {
                let images = match self.expected_images(&req) {
                    Ok(i) => i,
                    Err(m) => return self.fail(m),
                };
                if let Err(m) = self.check_exact(&req, &images) {
                    return self.fail(m);
                }
                if req.space == Space::User
                    && req.end().is_none_or(|e| e > self.machine.config.user_limit)
                {
                    return self.fail("user request reaching kernel space accepted".into());
                }
                if ZONE.overlaps(req.addr, req.addr + req.len)
                    || self.reg.own_zone().overlaps(req.addr, req.addr + req.len)
                {
                    return self.fail("request on a no-breakpoint zone accepted".into());
                }
                self.next_id += 1;
                count(|s| s.registered += 1);
                self.live.push(Live {
                    id,
                    handle,
                    req,
                    images,
                });
                Ok(())
            }
        }
    }

    fn modify(
        &mut self,
        cpu: u32,
        h: Handle,
        i: Option<usize>,
        req: Request,
    ) -> Result<(), Failure> {
        self.own = Some(h);
        let r = self.guarded(cpu, |r| r.modify(h, &req));
        self.own = None;
        let r = r?;
        match (i, r) {
            (Some(i), Ok(())) => {
                let images = match self.expected_images(&req) {
                    Ok(x) => x,
                    Err(m) => return self.fail(m),
                };
                if let Err(m) = self.check_exact(&req, &images) {
                    return self.fail(m);
                }
                self.live[i].req = req;
                self.live[i].images = images;
                count(|s| s.modified += 1);
                Ok(())
            }
            (Some(_), Err(_)) => Ok(()),
            // The new settings are validated before the handle is looked
            // up: any refusal is right, acceptance is not.
            (None, Err(_)) => Ok(()),
            (None, Ok(())) => self.fail("modify through a dead or foreign handle accepted".into()),
        }
    }

    fn unregister(&mut self, cpu: u32, h: Handle, i: Option<usize>) -> Result<(), Failure> {
        let r = self.guarded(cpu, |r| r.unregister(h))?;
        self.expect_handle_result(i, r)?;
        if let Some(i) = i {
            let l = self.live.remove(i);
            self.dead.push(l.handle);
            if self.dead.len() > 64 {
                self.dead.remove(0);
            }
        }
        Ok(())
    }

    fn toggle_cpu(&mut self, c: u32) -> Result<(), Failure> {
        count(|s| s.hotplug += 1);
        if self.online[c as usize] {
            self.trace.push(format!("cpu {c}: offline"));
            if let Err(e) = on_cpu(c, || self.reg.cpu_offline()) {
                return self.fail(format!("cpu_offline: {e}"));
            }
            self.machine.set_online(c, false);
            self.online[c as usize] = false;
        } else {
            self.trace
                .push(format!("cpu {c}: online after losing its registers"));
            self.machine.wipe(c);
            self.machine.set_online(c, true);
            if let Err(e) = on_cpu(c, || self.reg.cpu_online()) {
                return self.fail(format!("cpu_online: {e}"));
            }
            self.online[c as usize] = true;
        }
        Ok(())
    }

    fn debugger_install(&mut self, cpu: u32, id: usize, req: Request) -> Result<(), Failure> {
        match self.guarded(cpu, |r| r.debugger_install(&req))? {
            Err(_) => Ok(()),
            Ok(handle) => {
                self.round_up(cpu);
                let image = match self.expected_images(&req) {
                    Ok(i) if i.len() == 1 => i[0],
                    Ok(i) => return self.fail(format!("debugger slot for {} pieces", i.len())),
                    Err(m) => return self.fail(m),
                };
                if let Err(m) = self.check_exact(&req, &[image]) {
                    return self.fail(m);
                }
                self.next_id += 1;
                count(|s| s.debugger += 1);
                self.debuggers.push(Debugger {
                    id,
                    handle,
                    req,
                    image,
                });
                Ok(())
            }
        }
    }

    fn debugger_remove(&mut self, cpu: u32, handle: DebuggerHandle) -> Result<(), Failure> {
        let live = self.debuggers.iter().position(|d| d.handle == handle);
        let r = self.guarded(cpu, |r| r.debugger_remove(handle))?;
        match (live, r) {
            (Some(i), Ok(())) => {
                self.round_up(cpu);
                self.debuggers.remove(i);
                self.dead_debuggers.push(handle);
                Ok(())
            }
            (None, Err(ErrorKind::StaleHandle)) => Ok(()),
            (l, r) => self.fail(format!(
                "debugger handle live = {}: answered {r:?}",
                l.is_some()
            )),
        }
    }

    fn access(&mut self, b: &mut Bytes<'_>, cpu: u32) -> Option<Result<(), Failure>> {
        let x = b.byte()?;
        let y = b.byte()?;
        let kinds = [
            AccessKind::Write,
            AccessKind::Read,
            AccessKind::ReadWrite,
            AccessKind::Execute,
        ];
        let mut kind = kinds[usize::from(y) % 4];
        let mut space = if y & 0x10 == 0 {
            Space::Kernel
        } else {
            Space::User
        };
        let armed: Vec<&Live> = self
            .live
            .iter()
            .filter(|l| self.reg.state(l.handle).ok() == Some(State::Armed))
            .collect();
        let target = if !armed.is_empty() && x % 8 > 1 {
            let l = armed[x as usize / 8 % armed.len()];
            Some((l.req, l.req.scope))
        } else if !self.live.is_empty() && x % 8 == 1 {
            let l = &self.live[x as usize / 8 % self.live.len()];
            Some((l.req, l.req.scope))
        } else if !self.debuggers.is_empty() && x % 8 == 0 && x & 0x80 != 0 {
            let d = &self.debuggers[x as usize / 8 % self.debuggers.len()];
            Some((d.req, Scope::AllCpus))
        } else {
            None
        };
        let mut cpu = cpu;
        let addr = match target {
            // Aim at a request: inside it, or just around it; mostly with
            // its kind and privilege, on a CPU where it runs.
            Some((req, scope)) => {
                if y & 0x20 == 0 {
                    kind = if req.kind == AccessKind::Io {
                        AccessKind::Write
                    } else {
                        req.kind
                    };
                    space = req.space;
                }
                if y & 0x40 == 0 {
                    // A CPU where the scope runs now, if there is one.
                    if let Some(c) = (0..self.cpus).find(|&c| {
                        self.online[c as usize] && scope_runs(scope, c, self.task[c as usize])
                    }) {
                        cpu = c;
                    }
                }
                let d = if y & 0x80 == 0 {
                    i64::from(b.byte()?) % (req.len.min(64) as i64)
                } else {
                    i64::from(b.byte()?) % (req.len.min(64) as i64 + 16) - 8
                };
                req.addr.wrapping_add_signed(d)
            }
            None => K.wrapping_add_signed(i64::from(b.byte()? % 64) - 8),
        };
        let len = if kind == AccessKind::Execute {
            1
        } else {
            b.pick(&[1u64, 2, 4, 8, 16, 1])?
        };
        if addr.checked_add(len).is_none() {
            return Some(Ok(()));
        }
        self.trace.push(format!(
            "cpu {cpu}: access {kind:?} {addr:#x}+{len} {space:?}"
        ));
        Some(self.do_access(cpu, addr, len, kind, space))
    }

    fn do_access(
        &mut self,
        cpu: u32,
        addr: u64,
        len: u64,
        kind: AccessKind,
        space: Space,
    ) -> Result<(), Failure> {
        let end = addr + len;
        let task = self.task[cpu as usize];
        let covers = |req: &Request| {
            req.addr < end
                && addr < req.addr + req.len
                && kind_fires(req.kind, kind)
                && (self.style == Style::AfterAccess || req.space == space)
        };
        let mut want = BTreeSet::new();
        for l in &self.live {
            let armed = self.reg.state(l.handle).ok() == Some(State::Armed);
            if armed && scope_runs(l.req.scope, cpu, task) && covers(&l.req) {
                want.insert(l.id);
            }
        }
        for d in &self.debuggers {
            if covers(&d.req) {
                want.insert(d.id);
            }
        }
        take_seen();
        count(|s| {
            s.accesses += 1;
            s.covered += u64::from(!want.is_empty());
        });
        let Some(trap) = self.machine.access(cpu, addr, len, kind, space) else {
            if !want.is_empty() {
                return self.fail(format!("no trap; handlers {want:?} cover the access"));
            }
            return Ok(());
        };
        let out = on_cpu(cpu, || self.reg.on_debug_exception(&trap));
        let seen = take_seen();
        count(|s| {
            s.traps += 1;
            s.delivered += seen.len() as u64;
        });
        if out.resume == Resume::SingleStep {
            let step = ModelTrap {
                step: true,
                ..ModelTrap::default()
            };
            let end_step = on_cpu(cpu, || self.reg.on_debug_exception(&step));
            if end_step.resume != Resume::EndSingleStep || end_step.delivered != 0 {
                return self.fail(format!("step completion answered {end_step:?}"));
            }
        }
        let mut got = BTreeSet::new();
        for (ctx, ev, address) in &seen {
            if *ev != EventKind::Hit {
                return self.fail(format!("{ev:?} event during a hit"));
            }
            got.insert(*ctx);
            let req = self
                .live
                .iter()
                .find(|l| l.id == *ctx)
                .map(|l| l.req)
                .or_else(|| self.debuggers.iter().find(|d| d.id == *ctx).map(|d| d.req));
            if let (Some(req), Some(a)) = (req, address) {
                if *a < req.addr || *a >= req.addr + req.len {
                    return self.fail(format!("hit reported at {a:#x}, outside {req:x?}"));
                }
            }
        }
        if got != want {
            return self.fail(format!(
                "handlers called {got:?} ({} calls, {out:?}), covering requests {want:?}",
                seen.len()
            ));
        }
        Ok(())
    }

    /// Removes everything; then nothing may be armed or reserved.
    fn teardown(&mut self) -> Result<(), Failure> {
        self.trace.push("teardown".into());
        while let Some(l) = self.live.pop() {
            if let Err(e) = self.reg.unregister(l.handle) {
                return self.fail(format!("teardown unregister: {e}"));
            }
            self.dead.push(l.handle);
        }
        while let Some(d) = self.debuggers.pop() {
            if let Err(e) = self.reg.debugger_remove(d.handle) {
                return self.fail(format!("teardown debugger_remove: {e}"));
            }
            self.round_up(0);
        }
        if let Err(m) = self.check() {
            return self.fail(m);
        }
        for pool in PoolId::ALL {
            if self.reg.pool_usage(pool) != (0, 0) {
                return self.fail(format!(
                    "{pool:?} usage {:?} after removing everything",
                    self.reg.pool_usage(pool)
                ));
            }
        }
        for cpu in 0..self.cpus {
            let regs = self.machine.regs(cpu);
            if regs.armed || regs.slots.iter().flatten().any(Option::is_some) {
                return self.fail(format!("cpu {cpu} still armed after removing everything"));
            }
        }
        Ok(())
    }
}

/// Runs the calls `data` decodes to (at most `max_ops`); returns how many
/// ran, or the first violated invariant.
pub fn run_limited(data: &[u8], max_ops: u64) -> Result<u64, Failure> {
    let mut b = Bytes { data, pos: 0 };
    let Some(mut h) = Harness::new(&mut b) else {
        return Ok(0);
    };
    take_seen();
    let mut ops = 0;
    while ops < max_ops {
        match h.step(&mut b) {
            None => break,
            Some(r) => r?,
        }
        ops += 1;
    }
    h.teardown()?;
    Ok(ops)
}

/// Runs every call `data` decodes to.
pub fn run(data: &[u8]) -> Result<u64, Failure> {
    run_limited(data, u64::MAX)
}

/// A small deterministic generator (SplitMix64) for the plain driver.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// What the plain driver did.
#[derive(Debug, Default)]
pub struct Report {
    /// Operations run.
    pub ops: u64,
    /// Inputs (registry lifetimes) run.
    pub inputs: u64,
    /// Failing inputs, with the bytes that reproduce each.
    pub failures: Vec<(Vec<u8>, Failure)>,
}

/// Runs exactly `ops` operations from random inputs seeded with `seed`
/// (deterministic), stopping early after `max_failures` failures.
pub fn drive(seed: u64, ops: u64, max_failures: usize) -> Report {
    let mut rng = SplitMix64(seed);
    let mut report = Report::default();
    while report.ops < ops && report.failures.len() < max_failures {
        let len = 64 + (rng.next_u64() % 2048) as usize;
        let mut data = Vec::with_capacity(len);
        while data.len() < len {
            data.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        data.truncate(len);
        report.inputs += 1;
        let left = ops - report.ops;
        match run_limited(&data, left) {
            Ok(n) => report.ops += n,
            Err(f) => {
                report.ops += f.step as u64;
                report.failures.push((data, f));
            }
        }
    }
    report
}

/// Hex form of an input, for reports and reproduction.
pub fn hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses [`hex`] output.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_deterministic_run_passes() {
        let r = drive(1, 20_000, 1);
        assert!(r.failures.is_empty(), "{}", r.failures[0].1);
        assert_eq!(r.ops, 20_000);
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(unhex(&hex(&[0, 1, 0xab])).unwrap(), vec![0, 1, 0xab]);
    }
}
