//! The bad-input catalogue over every backend's validators, on the host.
//!
//! Each real backend (x86_64, AArch64, ppc64 DABR/DAWR/DAWR2, RISC-V with
//! NAPOT matching and with QEMU's size-as-length matching) runs inside a
//! registry through a thin recording wrapper: every pure method (pools, slot
//! counts, range checks, `max_piece`, `encode`, control words) is the
//! backend's own; only the hardware writes are replaced by a recorded
//! register file per CPU. So each row goes through exactly the validation a
//! kernel gets, and the test can prove a refusal wrote nothing.
//!
//! Every registry row asserts the exact `ErrorKind` and that the complete
//! state is bit-identical before and after: recorded registers and control
//! words of every CPU, the number of register writes, `pool_usage` of every
//! pool, `state` of the fixture's handles, `armed_slot` of every slot on
//! every CPU. Encoder rows call a backend's `encode` on a piece the core
//! would never hand it (the core splits ranges), asserting the backend
//! refuses it on its own.

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use hwbreak_aarch64::Aarch64;
use hwbreak_core::{
    AccessKind, Arch, CpuId, Decoded, ErrorKind, Handle, MemoryType, Piece, Platform, PoolId,
    Registry, Request, Result, Scope, SlotCounts, SlotImage, SlotView, Space, State, TaskId, Zone,
    MAX_POOLS, MAX_SLOTS,
};
use hwbreak_ppc64::{Family, Ppc64};
use hwbreak_riscv::{Matching, Riscv, TriggerType, Triggers};
use hwbreak_x86::X86;

/// A kernel address valid on every backend (x86_64 and AArch64 high half;
/// any effective address on ppc64), 1 MiB aligned.
const K: u64 = 0xffff_8000_0010_0000;
/// A no-breakpoint zone.
const ZONE: Zone = Zone::new(K + 0x10_0000, K + 0x10_1000);
/// Cache-inhibited memory, as the platform reports it.
const DEVICE: Zone = Zone::new(K + 0x20_0000, K + 0x20_1000);
const CPUS: u32 = 2;

/// Any of the real backends.
#[derive(Copy, Clone, Debug)]
enum Backend {
    X86(X86),
    Aarch64(Aarch64),
    Ppc64(Ppc64),
    /// The RISC-V backend keeps what it discovers in atomics (no `Copy`):
    /// a static one.
    Riscv(&'static Riscv),
}

impl Backend {
    fn user_limit(&self) -> u64 {
        match self {
            // 47-bit user half (4-level paging).
            Self::X86(_) => 0x0000_8000_0000_0000,
            // TTBR0 half with 48-bit VAs.
            Self::Aarch64(_) => 1 << 48,
            // Linux ppc64's 4 PiB user space.
            Self::Ppc64(_) => 1 << 52,
            // The lower half of Sv48.
            Self::Riscv(_) => 1 << 47,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Regs {
    slots: [[Option<SlotImage>; MAX_SLOTS]; MAX_POOLS],
    control: [u64; MAX_POOLS],
    armed: bool,
}

thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(0) };
}

fn on_cpu<R>(cpu: u32, f: impl FnOnce() -> R) -> R {
    let saved = CURRENT.with(|c| c.replace(cpu));
    let r = f();
    CURRENT.with(|c| c.set(saved));
    r
}

/// A backend whose hardware writes land in a recorded register file.
#[derive(Clone)]
struct Recorded {
    backend: Backend,
    regs: Arc<Mutex<(Vec<Regs>, usize)>>,
}

macro_rules! each {
    ($self:expr, $a:ident => $e:expr) => {
        match &$self.backend {
            Backend::X86($a) => $e,
            Backend::Aarch64($a) => $e,
            Backend::Ppc64($a) => $e,
            Backend::Riscv($a) => $e,
        }
    };
}

impl Recorded {
    fn write(&self, f: impl FnOnce(&mut Regs)) {
        let mut g = self.regs.lock().unwrap();
        let cpu = CURRENT.with(Cell::get) as usize;
        f(&mut g.0[cpu]);
        g.1 += 1;
    }
}

impl Arch for Recorded {
    const NAME: &'static str = "recorded";
    const POOLS: usize = MAX_POOLS;
    /// Traps are not decoded here: these rows never reach an exception.
    type Trap = ();

    fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
        each!(self, a => a.pool_of(kind))
    }
    fn slot_counts(&self) -> SlotCounts {
        each!(self, a => a.slot_counts())
    }
    fn check_range(&self, addr: u64, end: u64, space: Space) -> Result<()> {
        each!(self, a => a.check_range(addr, end, space))
    }
    fn max_piece(&self, kind: AccessKind, addr: u64, len: u64) -> Result<u64> {
        each!(self, a => a.max_piece(kind, addr, len))
    }
    fn encode(&self, piece: &Piece) -> Result<SlotImage> {
        each!(self, a => a.encode(piece))
    }
    fn control_word(&self, pool: PoolId, slots: &[Option<SlotImage>]) -> u64 {
        match &self.backend {
            Backend::X86(a) if pool == PoolId::FIRST => a.control_word(pool, slots),
            Backend::X86(_) => 0,
            Backend::Aarch64(a) => a.control_word(pool, slots),
            Backend::Ppc64(a) => a.control_word(pool, slots),
            Backend::Riscv(a) => a.control_word(pool, slots),
        }
    }
    fn decode(&self, _trap: &(), _armed: &dyn SlotView) -> Decoded {
        Decoded::default()
    }
    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>) {
        self.write(|r| r.slots[pool.index()][index] = image);
    }
    unsafe fn write_control(&self, pool: PoolId, control: u64) {
        self.write(|r| r.control[pool.index()] = control);
    }
    unsafe fn set_armed(&self, armed: bool) {
        self.write(|r| r.armed = armed);
    }
    unsafe fn acknowledge(&self, _trap: &()) {}
}

struct TestPlatform {
    user_limit: u64,
    zones: [Zone; 1],
}

impl Platform for TestPlatform {
    fn cpu_count(&self) -> u32 {
        CPUS
    }
    fn current_cpu(&self) -> CpuId {
        CpuId(CURRENT.with(Cell::get))
    }
    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        for cpu in 0..CPUS {
            on_cpu(cpu, f);
        }
    }
    fn user_limit(&self) -> u64 {
        self.user_limit
    }
    fn no_breakpoint_zones(&self) -> &[Zone] {
        &self.zones
    }
    fn memory_type(&self, start: u64, end: u64) -> MemoryType {
        if DEVICE.overlaps(start, end) {
            MemoryType::CacheInhibited
        } else {
            MemoryType::Normal
        }
    }
}

type Reg = Registry<Recorded, TestPlatform, 8, 2, 4>;

struct Fx {
    arch: Recorded,
    reg: Box<Reg>,
    /// Pinned, system-wide write watch on K..K+8.
    pinned: Handle,
    /// Added by a row's preparation.
    extra: std::cell::RefCell<Vec<Handle>>,
}

impl Fx {
    fn new(backend: Backend) -> Self {
        let arch = Recorded {
            backend,
            regs: Arc::new(Mutex::new((vec![Regs::default(); CPUS as usize], 0))),
        };
        let platform = TestPlatform {
            user_limit: backend.user_limit(),
            zones: [ZONE],
        };
        let reg = Box::new(Registry::new(arch.clone(), platform));
        reg.init().unwrap();
        for cpu in 0..CPUS {
            on_cpu(cpu, || reg.cpu_online().unwrap());
        }
        let pinned = reg.register(&Request::write(K, 8)).unwrap();
        Self {
            arch,
            reg,
            pinned,
            extra: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn add(&self, req: Request) {
        let h = self.reg.register(&req).expect("row preparation");
        self.extra.borrow_mut().push(h);
    }

    /// Fills the data pool (pinned, system-wide watches).
    fn fill_data(&self) {
        let pool = self.reg.arch().pool_of(AccessKind::Write).unwrap();
        let n = self.reg.slot_counts().get(pool) as u64;
        for i in 1..n {
            self.add(Request::write(K + 0x100 + 8 * i, 8));
        }
        assert_eq!(self.reg.pool_usage(pool), (n as u32, 0));
    }

    fn snapshot(&self) -> Snapshot {
        let counts = self.reg.slot_counts();
        let mut armed = Vec::new();
        for cpu in 0..CPUS {
            for pool in PoolId::ALL {
                for k in 0..counts.get(pool) {
                    armed.push(on_cpu(cpu, || self.reg.armed_slot(pool, k)));
                }
            }
        }
        let mut handles = vec![self.pinned];
        handles.extend(self.extra.borrow().iter().copied());
        let (regs, writes) = self.arch.regs.lock().unwrap().clone();
        Snapshot {
            regs,
            writes,
            usage: PoolId::ALL.map(|p| self.reg.pool_usage(p)),
            states: handles.iter().map(|&h| self.reg.state(h)).collect(),
            armed,
        }
    }
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    regs: Vec<Regs>,
    writes: usize,
    usage: [(u32, u32); MAX_POOLS],
    states: Vec<Result<State>>,
    armed: Vec<Result<Option<SlotImage>>>,
}

fn x86() -> Backend {
    Backend::X86(X86::new())
}

fn x86_io() -> Backend {
    // SAFETY: no register is ever written in this test (the recording
    // wrapper replaces every hardware write), so CR4.DE is irrelevant.
    Backend::X86(unsafe { X86::with_io_breakpoints() })
}

fn arm() -> Backend {
    Backend::Aarch64(Aarch64::with_counts(6, 4))
}

fn power7() -> Backend {
    Backend::Ppc64(Ppc64::new(Family::Dabr))
}

fn power9() -> Backend {
    Backend::Ppc64(Ppc64::new(Family::Dawr))
}

fn power10() -> Backend {
    Backend::Ppc64(Ppc64::new(Family::Dawr2))
}

/// POWER10 with DAWR pieces capped at 8 bytes, as under QEMU (which reads
/// MRD from the wrong bits).
fn power10_qemu() -> Backend {
    Backend::Ppc64(Ppc64::new(Family::Dawr2).max_dawr_range(8))
}

/// The two triggers of QEMU's `virt` hart, type 6, Sv48 addresses (the
/// fixture's kernel address is canonical there).
const VIRT_TRIGGERS: Triggers = Triggers {
    count: 2,
    kind: TriggerType::Mcontrol6,
};

/// RISC-V as the Sdtrig spec reads `match` = 1: NAPOT blocks up to 4 KiB.
static RISCV_NAPOT: Riscv = Riscv::machine()
    .with_triggers(VIRT_TRIGGERS)
    .matching(Matching::Napot { max: 4096 })
    .virtual_address_bits(48);

/// RISC-V as QEMU reads `size`: up to 8 bytes per trigger, any alignment.
static RISCV_QEMU: Riscv = Riscv::machine()
    .with_triggers(VIRT_TRIGGERS)
    .matching(Matching::SizeAsLength)
    .virtual_address_bits(48);

fn riscv() -> Backend {
    Backend::Riscv(&RISCV_NAPOT)
}

fn riscv_qemu() -> Backend {
    Backend::Riscv(&RISCV_QEMU)
}

type Op = fn(&Fx) -> Result<()>;

struct Row {
    name: &'static str,
    backend: fn() -> Backend,
    prep: Option<fn(&Fx)>,
    op: Op,
    want: ErrorKind,
}

fn reg(fx: &Fx, req: Request) -> Result<()> {
    fx.reg.register(&req).map(|_| ())
}

fn user(req: Request) -> Request {
    req.space(Space::User).scope(Scope::Task(TaskId(0)))
}

macro_rules! rows {
    ($($name:literal, $backend:expr, $prep:expr, $op:expr => $want:ident;)*) => {
        vec![$(Row {
            name: $name,
            backend: $backend,
            prep: $prep,
            op: $op,
            want: ErrorKind::$want,
        }),*]
    };
}

fn rows() -> Vec<Row> {
    let full: Option<fn(&Fx)> = Some(Fx::fill_data);
    rows![
        // --- x86_64 -------------------------------------------------------
        "x86: read-only watch", x86, None, |fx| reg(fx, Request::read(K + 8, 8)) => UnsupportedKind;
        "x86: I/O breakpoint without CR4.DE", x86, None, |fx| reg(fx, Request::new(0x3f8, 1, AccessKind::Io)) => NotEnabled;
        "x86: I/O range past port 0xffff", x86_io, None, |fx| reg(fx, Request::new(0xfffe, 4, AccessKind::Io)) => AddressOverflow;
        "x86: non-canonical address", x86, None, |fx| reg(fx, Request::write(0x0000_8000_0000_0000, 8)) => NonCanonical;
        "x86: range across the canonical hole", x86, None, |fx| reg(fx, Request::write(0x0000_7fff_ffff_fff8, 16)) => NonCanonical;
        "x86: user request on a kernel address", x86, None, |fx| reg(fx, user(Request::write(K, 8))) => KernelAddressFromUser;
        "x86: user range crossing into kernel space", x86, None, |fx| reg(fx, user(Request::write(0x0000_7fff_ffff_fffc, 8))) => KernelAddressFromUser;
        "x86: addr + len overflow", x86, None, |fx| reg(fx, Request::write(u64::MAX - 3, 8)) => AddressOverflow;
        "x86: length 0", x86, None, |fx| reg(fx, Request::write(K + 8, 0)) => ZeroLength;
        "x86: execute with a data length", x86, None, |fx| reg(fx, Request::new(K + 0x40, 8, AccessKind::Execute)) => UnsupportedLength;
        "x86: unaligned range needing 5 slots", x86, None, |fx| reg(fx, Request::write(K + 1, 16)) => NotCoverable;
        "x86: pool full", x86, full, |fx| reg(fx, Request::write(K + 0x200, 8)) => NoSlot;
        "x86: debugger reservation when full", x86, full, |fx| fx.reg.debugger_install(&Request::write(K + 0x200, 8)).map(|_| ()) => NoSlot;
        "x86: no-breakpoint zone", x86, None, |fx| reg(fx, Request::write(ZONE.start - 4, 8)) => NoBreakpointZone;
        "x86: modify to a read-only watch keeps the old one", x86, None, |fx| fx.reg.modify(fx.pinned, &Request::read(K, 8)) => UnsupportedKind;
        "x86: armed_slot past DR3", x86, None, |fx| fx.reg.armed_slot(PoolId::FIRST, 4).map(|_| ()) => SlotOutOfRange;
        "x86: armed_slot in a second pool", x86, None, |fx| fx.reg.armed_slot(PoolId::SECOND, 0).map(|_| ()) => SlotOutOfRange;
        // --- AArch64 ------------------------------------------------------
        "aarch64: misaligned instruction breakpoint", arm, None, |fx| reg(fx, Request::execute(K + 2)) => Misaligned;
        "aarch64: execute with a data length", arm, None, |fx| reg(fx, Request::new(K + 4, 8, AccessKind::Execute)) => UnsupportedLength;
        "aarch64: I/O breakpoint", arm, None, |fx| reg(fx, Request::new(0x3f8, 1, AccessKind::Io)) => UnsupportedKind;
        "aarch64: non-canonical address", arm, None, |fx| reg(fx, Request::write(0x0001_0000_0000_0000, 8)) => NonCanonical;
        "aarch64: user request on the high half", arm, None, |fx| reg(fx, user(Request::write(K, 8))) => KernelAddressFromUser;
        "aarch64: user range crossing the user limit", arm, None, |fx| reg(fx, user(Request::write(0x0000_ffff_ffff_fffc, 8))) => KernelAddressFromUser;
        "aarch64: addr + len overflow", arm, None, |fx| reg(fx, Request::write(u64::MAX - 3, 8)) => AddressOverflow;
        "aarch64: misaligned 4 KiB range needing 9 watchpoints", arm, None, |fx| reg(fx, Request::write(K + 8, 4096)) => NotCoverable;
        "aarch64: watchpoint pool full", arm, full, |fx| reg(fx, Request::read(K + 0x200, 4)) => NoSlot;
        "aarch64: armed_slot past the watchpoint count", arm, None, |fx| fx.reg.armed_slot(PoolId::SECOND, 4).map(|_| ()) => SlotOutOfRange;
        // --- ppc64 ----------------------------------------------------------
        "power9: DAWR on cache-inhibited memory", power9, None, |fx| reg(fx, Request::write(DEVICE.start + 8, 8)) => CacheInhibited;
        "power9: DAWR range crossing 512 bytes", power9, None, |fx| reg(fx, Request::write(K + 0x1fc, 8)) => CrossesBoundary;
        "power9: misaligned CIABR", power9, None, |fx| reg(fx, Request::execute(K + 2)) => Misaligned;
        "power9: execute with a data length", power9, None, |fx| reg(fx, Request::new(K + 4, 8, AccessKind::Execute)) => UnsupportedLength;
        "power9: I/O breakpoint", power9, None, |fx| reg(fx, Request::new(0x3f8, 1, AccessKind::Io)) => UnsupportedKind;
        "power9: user request on kernel memory", power9, None, |fx| reg(fx, user(Request::write(K, 8))) => KernelAddressFromUser;
        "power9: user range crossing the user limit", power9, None, |fx| reg(fx, user(Request::write((1 << 52) - 4, 8))) => KernelAddressFromUser;
        "power9: addr + len overflow", power9, None, |fx| reg(fx, Request::write(u64::MAX - 3, 8)) => AddressOverflow;
        "power9: the one DAWR is taken", power9, None, |fx| reg(fx, Request::write(K + 0x200, 8)) => NoSlot;
        "power9: debugger reservation on the taken DAWR", power9, None, |fx| fx.reg.debugger_install(&Request::write(K + 0x200, 8)).map(|_| ()) => NoSlot;
        "power7: execute without CIABR", power7, None, |fx| reg(fx, Request::execute(K + 0x40)) => UnsupportedKind;
        "power7: two doublewords on one DABR", power7, None, |fx| reg(fx, Request::write(K + 0x204, 8)) => NotCoverable;
        "power10: both DAWRs taken", power10, full, |fx| reg(fx, Request::write(K + 0x200, 8)) => NoSlot;
        "power10 (8-byte DAWRs): 24 bytes need 3 DAWRs", power10_qemu, None, |fx| reg(fx, Request::write(K + 0x200, 24)) => NotCoverable;
        "power10 (8-byte DAWRs): 16 bytes need the taken DAWR too", power10_qemu, None, |fx| reg(fx, Request::write(K + 0x200, 16)) => NoSlot;
        // --- RISC-V ---------------------------------------------------------
        "riscv: I/O breakpoint", riscv, None, |fx| reg(fx, Request::new(0x3f8, 1, AccessKind::Io)) => UnsupportedKind;
        "riscv: execute at an odd address", riscv, None, |fx| reg(fx, Request::execute(K + 1)) => Misaligned;
        "riscv: execute with a data length", riscv, None, |fx| reg(fx, Request::new(K + 4, 8, AccessKind::Execute)) => UnsupportedLength;
        "riscv: non-canonical address (Sv48)", riscv, None, |fx| reg(fx, Request::write(0x0000_8000_0000_0000, 8)) => NonCanonical;
        "riscv: range across the canonical hole", riscv, None, |fx| reg(fx, Request::write(0x0000_7fff_ffff_fff8, 16)) => NonCanonical;
        "riscv: user request on a kernel address", riscv, None, |fx| reg(fx, user(Request::write(K, 8))) => KernelAddressFromUser;
        "riscv: user range crossing into kernel space", riscv, None, |fx| reg(fx, user(Request::write(0x0000_7fff_ffff_fffc, 8))) => KernelAddressFromUser;
        "riscv: addr + len overflow", riscv, None, |fx| reg(fx, Request::write(u64::MAX - 3, 8)) => AddressOverflow;
        "riscv: length 0", riscv, None, |fx| reg(fx, Request::write(K + 8, 0)) => ZeroLength;
        "riscv: 13 bytes at +1 need 5 NAPOT blocks", riscv, None, |fx| reg(fx, Request::write(K + 0x201, 13)) => NotCoverable;
        "riscv: NAPOT range past the largest block needs 3 triggers", riscv, None, |fx| reg(fx, Request::write(K + 0x1000, 8192 + 8)) => NotCoverable;
        "riscv: both triggers taken", riscv, full, |fx| reg(fx, Request::read(K + 0x200, 8)) => NoSlot;
        "riscv: debugger reservation when full", riscv, full, |fx| fx.reg.debugger_install(&Request::write(K + 0x200, 8)).map(|_| ()) => NoSlot;
        "riscv: no-breakpoint zone", riscv, None, |fx| reg(fx, Request::write(ZONE.start - 4, 8)) => NoBreakpointZone;
        "riscv: modify to an I/O breakpoint keeps the old watch", riscv, None, |fx| fx.reg.modify(fx.pinned, &Request::new(0x3f8, 1, AccessKind::Io)) => UnsupportedKind;
        "riscv: armed_slot past the trigger count", riscv, None, |fx| fx.reg.armed_slot(PoolId::FIRST, 2).map(|_| ()) => SlotOutOfRange;
        "riscv: armed_slot in a second pool", riscv, None, |fx| fx.reg.armed_slot(PoolId::SECOND, 0).map(|_| ()) => SlotOutOfRange;
        "riscv (QEMU size): 13 bytes at +1 take 2 triggers, one is taken", riscv_qemu, None, |fx| reg(fx, Request::write(K + 0x201, 13)) => NoSlot;
        "riscv (QEMU size): 17 bytes need 3 triggers", riscv_qemu, None, |fx| reg(fx, Request::write(K + 0x201, 17)) => NotCoverable;
    ]
}

#[test]
fn catalogue_on_every_backend() {
    let rows = rows();
    assert!(rows.len() >= 30, "{} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let (backend, prep, op, want) = (row.backend, row.prep, row.op, row.want);
        let result = std::thread::spawn(move || -> std::result::Result<(), String> {
            let fx = Fx::new(backend());
            if let Some(prep) = prep {
                prep(&fx);
            }
            let before = fx.snapshot();
            match op(&fx) {
                Ok(()) => return Err(format!("accepted; wanted {want:?}")),
                Err(e) if e.kind() != want => {
                    return Err(format!("got {:?}, wanted {want:?}", e.kind()))
                }
                Err(_) => {}
            }
            let after = fx.snapshot();
            if after != before {
                return Err(format!(
                    "state changed:\nbefore {before:x?}\nafter  {after:x?}"
                ));
            }
            // The fixture's watch is still armed on every CPU.
            for cpu in 0..CPUS {
                let pool = fx.reg.arch().pool_of(AccessKind::Write).unwrap();
                let n = fx.reg.slot_counts().get(pool);
                let armed = (0..n)
                    .filter(|&k| {
                        on_cpu(cpu, || fx.reg.armed_slot(pool, k))
                            .unwrap()
                            .is_some()
                    })
                    .count();
                if armed == 0 {
                    return Err(format!("nothing armed on cpu {cpu} afterwards"));
                }
            }
            Ok(())
        })
        .join();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(m)) => failures.push(format!("{}: {m}", row.name)),
            Err(_) => failures.push(format!("{}: PANICKED", row.name)),
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

fn piece(addr: u64, len: u64, kind: AccessKind) -> Piece {
    Piece {
        addr,
        len,
        kind,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    }
}

/// Pieces the core never hands a backend (it splits ranges with
/// `max_piece` first): each backend's `encode` refuses them by itself, never
/// widening or truncating.
#[test]
fn encoders_refuse_what_one_slot_cannot_hold() {
    use AccessKind::*;
    let x86 = X86::new();
    let arm = Aarch64::with_counts(6, 4);
    let p9 = Ppc64::new(Family::Dawr);
    let p7 = Ppc64::new(Family::Dabr);
    let (rv, rv_qemu) = (&RISCV_NAPOT, &RISCV_QEMU);
    let cases: Vec<(&str, Result<SlotImage>, ErrorKind)> = vec![
        (
            "x86: 4 bytes at +2",
            x86.encode(&piece(K + 2, 4, Write)),
            ErrorKind::Misaligned,
        ),
        (
            "x86: 3 bytes",
            x86.encode(&piece(K, 3, Write)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "x86: 16 bytes",
            x86.encode(&piece(K, 16, Write)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "x86: read-only",
            x86.encode(&piece(K, 8, Read)),
            ErrorKind::UnsupportedKind,
        ),
        (
            "x86: execute of 2 bytes",
            x86.encode(&piece(K, 2, Execute)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "x86: non-canonical",
            x86.encode(&piece(0x0000_8000_0000_0000, 8, Write)),
            ErrorKind::NonCanonical,
        ),
        (
            "aarch64: MASK range at +8 of 16",
            arm.encode(&piece(K + 8, 16, Write)),
            ErrorKind::Misaligned,
        ),
        (
            "aarch64: MASK range of 24",
            arm.encode(&piece(K, 24, Write)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "aarch64: byte run leaving its doubleword",
            arm.encode(&piece(K + 6, 4, Write)),
            ErrorKind::Misaligned,
        ),
        (
            "aarch64: execute at +2",
            arm.encode(&piece(K + 2, 4, Execute)),
            ErrorKind::Misaligned,
        ),
        (
            "aarch64: execute of 8 bytes",
            arm.encode(&piece(K, 8, Execute)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "power9: range crossing 512",
            p9.encode(&piece(K + 0x1f8, 16, Write)),
            ErrorKind::CrossesBoundary,
        ),
        (
            "power9: cache-inhibited",
            p9.encode(&Piece {
                memory: MemoryType::CacheInhibited,
                ..piece(K, 8, Write)
            }),
            ErrorKind::CacheInhibited,
        ),
        (
            "power7: two doublewords",
            p7.encode(&piece(K + 4, 8, Write)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "riscv: NAPOT block of 4 at +2",
            rv.encode(&piece(K + 2, 4, Write)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "riscv: NAPOT block of 3",
            rv.encode(&piece(K, 3, Read)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "riscv: NAPOT block past the largest",
            rv.encode(&piece(K, 8192, ReadWrite)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "riscv (QEMU size): 16 bytes",
            rv_qemu.encode(&piece(K, 16, Write)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "riscv: execute at +1",
            rv.encode(&piece(K + 1, 2, Execute)),
            ErrorKind::Misaligned,
        ),
        (
            "riscv: execute of 8 bytes",
            rv.encode(&piece(K, 8, Execute)),
            ErrorKind::UnsupportedLength,
        ),
        (
            "riscv: I/O",
            rv.encode(&piece(0x3f8, 1, Io)),
            ErrorKind::UnsupportedKind,
        ),
    ];
    let mut failures = Vec::new();
    for (name, got, want) in cases {
        match got {
            Err(e) if e.kind() == want => {}
            other => failures.push(format!("{name}: got {other:x?}, wanted {want:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// AArch64: a request names one `Space`, so a watchpoint for EL0 and EL1 at
/// once cannot even be asked for. What is encoded is exactly one of them:
/// DBGWCR.PAC (bits 2:1) = 0b10 (EL0) for user, 0b01 (EL1) for kernel, never
/// 0b11; DBGBCR.PMC (bits 2:1) likewise; HMC (bit 13) and SSC (bits 15:14)
/// are 0 (ARM DDI 0487, D19 DBGWCR<n>_EL1 / DBGBCR<n>_EL1).
#[test]
fn aarch64_privilege_is_exactly_one_level() {
    let arm = Aarch64::with_counts(6, 4);
    for (space, want) in [(Space::User, 0b10), (Space::Kernel, 0b01)] {
        let addr = if space == Space::User { 0x4000_0000 } else { K };
        for kind in [AccessKind::Write, AccessKind::Execute] {
            let image = arm
                .encode(&Piece {
                    space,
                    ..piece(addr, 4, kind)
                })
                .unwrap();
            assert_eq!((image.control >> 1) & 0b11, want, "{space:?} {kind:?}");
            assert_eq!(
                (image.control >> 13) & 0b111,
                0,
                "HMC/SSC {space:?} {kind:?}"
            );
        }
    }
}

/// The neighbours of refused requests are accepted: POWER10 DAWRs may cross
/// 512 bytes and watch cache-inhibited memory; AArch64 takes an aligned
/// 16-byte MASK range in one slot; RISC-V an aligned 16-byte NAPOT block,
/// an instruction at a 2-byte boundary (C extension) and, as QEMU reads
/// `size`, 8 unaligned bytes in one trigger.
#[test]
fn the_neighbours_of_bad_inputs_are_accepted() {
    for (backend, req) in [
        (power10(), Request::write(K + 0x1fc, 8)),
        (power10(), Request::write(DEVICE.start + 8, 8)),
        (arm(), Request::write(K + 0x10, 16)),
        (x86_io(), Request::new(0xfffc, 4, AccessKind::Io)),
        (x86(), user(Request::write(0x0000_7fff_ffff_fff8, 8))),
        (riscv(), Request::write(K + 0x10, 16)),
        (riscv(), Request::execute(K + 2)),
        (riscv_qemu(), Request::write(K + 0x201, 8)),
    ] {
        let fx = Fx::new(backend);
        let h = fx
            .reg
            .register(&req)
            .unwrap_or_else(|e| panic!("{backend:?} {req:x?}: {e}"));
        fx.reg.unregister(h).unwrap();
    }
}
