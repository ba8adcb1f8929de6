//! A software CPU for host tests, benchmarks and fuzzing: configurable
//! pools, a register file per modelled CPU that records every write, and
//! accesses that raise the traps real hardware would.
//!
//! Two styles cover the two families of real backends:
//! - [`Style::AfterAccess`] (x86-like): one control word enables slots, data
//!   hits trap after the access, execute hits need a resume flag, data
//!   lengths 1/2/4/8 naturally aligned, no read-only watch;
//! - [`Style::BeforeAccess`] (AArch64/ppc64-like): no shared control word,
//!   any byte run inside an 8-byte granule, read-only watches, hits trap
//!   before the access and are stepped over, the accessed address is
//!   reported.

extern crate std;

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::vec::Vec;

use crate::arch::{
    Arch, Decoded, PoolId, Resume, SlotCounts, SlotImage, SlotView, MAX_POOLS, MAX_SLOTS,
};
use crate::error::{ErrorKind, Result};
use crate::platform::{Platform, Zone};
use crate::request::{AccessKind, CpuId, Space};
use crate::{MemoryType, Piece};

/// How the modelled hardware behaves.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Style {
    /// x86-like.
    AfterAccess,
    /// AArch64/ppc64-like.
    BeforeAccess,
}

/// Configuration of the modelled machine.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Behaviour family.
    pub style: Style,
    /// Slots per pool; one pool (shared by code and data) when `slots[1]`
    /// is 0, else pool 0 is code and pool 1 data.
    pub slots: [u8; MAX_POOLS],
    /// Number of CPUs.
    pub cpus: u32,
    /// User addresses are below this.
    pub user_limit: u64,
}

impl Config {
    /// An x86-like machine: one pool of 4 slots.
    pub const fn x86_like(cpus: u32) -> Self {
        Self {
            style: Style::AfterAccess,
            slots: [4, 0],
            cpus,
            user_limit: 0x0000_8000_0000_0000,
        }
    }

    /// An AArch64-like machine: 6 code and 4 data slots.
    pub const fn arm_like(cpus: u32) -> Self {
        Self {
            style: Style::BeforeAccess,
            slots: [6, 4],
            cpus,
            user_limit: 0x0001_0000_0000_0000,
        }
    }

    /// A machine with one data slot and no code slot (single DABR).
    pub const fn one_slot(cpus: u32) -> Self {
        Self {
            style: Style::BeforeAccess,
            slots: [0, 1],
            cpus,
            user_limit: 0x0001_0000_0000_0000,
        }
    }

    fn pools(&self) -> usize {
        if self.slots[1] == 0 && self.style == Style::AfterAccess {
            1
        } else {
            2
        }
    }
}

/// One register write, as recorded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Write {
    /// A slot's registers.
    Slot {
        /// CPU.
        cpu: u32,
        /// Pool.
        pool: usize,
        /// Slot index.
        index: usize,
        /// New image (`None`: disarmed).
        image: Option<SlotImage>,
    },
    /// A control word.
    Control {
        /// CPU.
        cpu: u32,
        /// Pool.
        pool: usize,
        /// New word.
        word: u64,
    },
    /// Debug machinery on or off.
    Armed {
        /// CPU.
        cpu: u32,
        /// On?
        on: bool,
    },
}

/// Register file of one modelled CPU.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CpuRegs {
    /// Slot images per pool.
    pub slots: [[Option<SlotImage>; MAX_SLOTS]; MAX_POOLS],
    /// Control word per pool.
    pub control: [u64; MAX_POOLS],
    /// Debug machinery on.
    pub armed: bool,
    /// Debug exceptions suspended (inside the handler).
    pub suspended: bool,
}

/// The modelled machine, shared by [`ModelArch`] and [`ModelPlatform`].
#[derive(Debug)]
pub struct Machine {
    /// Configuration.
    pub config: Config,
    regs: Mutex<Vec<CpuRegs>>,
    log: Mutex<Vec<Write>>,
    online: Mutex<Vec<bool>>,
    cache_inhibited: Mutex<Vec<Zone>>,
}

// Manual impls for the types holding a `Mutex` or an `Arc`: a log gets the
// configuration, which is what tells two model machines apart.
#[cfg(feature = "defmt")]
impl defmt::Format for Machine {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Machine {{ config: {} }}", self.config)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ModelArch {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "ModelArch {{ config: {} }}", self.machine.config)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ModelPlatform {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "ModelPlatform {{ config: {}, zones: {} }}",
            self.machine.config,
            self.zones
        )
    }
}

std::thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` as if on CPU `cpu` (for the model only).
pub fn on_cpu<R>(cpu: u32, f: impl FnOnce() -> R) -> R {
    let saved = CURRENT.with(|c| c.replace(cpu));
    let r = f();
    CURRENT.with(|c| c.set(saved));
    r
}

/// The CPU the model thinks it runs on.
pub fn current_cpu() -> u32 {
    CURRENT.with(Cell::get)
}

// Model control-register layout (not a real machine's).
const KIND_SHIFT: u32 = 0; // 1 exec, 2 write, 3 read-write, 4 read
const LEN_SHIFT: u32 = 8; // byte-select mask (BeforeAccess) or length (AfterAccess)
const USER_BIT: u64 = 1 << 16;
const ENABLE_BIT: u64 = 1 << 17;

fn kind_code(kind: AccessKind) -> u64 {
    match kind {
        AccessKind::Execute => 1,
        AccessKind::Write => 2,
        AccessKind::ReadWrite => 3,
        AccessKind::Read => 4,
        AccessKind::Io => 5,
    }
}

impl Machine {
    /// A machine with every CPU online and empty registers.
    pub fn new(config: Config) -> Arc<Self> {
        let n = config.cpus as usize;
        Arc::new(Self {
            config,
            regs: Mutex::new(std::vec![CpuRegs::default(); n]),
            log: Mutex::new(Vec::new()),
            online: Mutex::new(std::vec![true; n]),
            cache_inhibited: Mutex::new(Vec::new()),
        })
    }

    /// Register file of `cpu`.
    pub fn regs(&self, cpu: u32) -> CpuRegs {
        self.regs.lock().unwrap()[cpu as usize]
    }

    /// Every CPU's register file.
    pub fn all_regs(&self) -> Vec<CpuRegs> {
        self.regs.lock().unwrap().clone()
    }

    /// Clears `cpu`'s registers, as a CPU losing power would.
    pub fn wipe(&self, cpu: u32) {
        self.regs.lock().unwrap()[cpu as usize] = CpuRegs::default();
    }

    /// Recorded writes so far.
    pub fn log(&self) -> Vec<Write> {
        self.log.lock().unwrap().clone()
    }

    /// Number of recorded slot and control writes (not armed toggles).
    pub fn register_writes(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|w| !matches!(w, Write::Armed { .. }))
            .count()
    }

    /// Forgets the log.
    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    /// Marks `cpu` online or offline for `run_on_each_cpu`.
    pub fn set_online(&self, cpu: u32, online: bool) {
        self.online.lock().unwrap()[cpu as usize] = online;
    }

    /// Declares a cache-inhibited range.
    pub fn cache_inhibit(&self, zone: Zone) {
        self.cache_inhibited.lock().unwrap().push(zone);
    }

    fn record(&self, w: Write) {
        self.log.lock().unwrap().push(w);
    }

    /// Whether a slot image matches an access.
    fn matches(
        &self,
        image: &SlotImage,
        addr: u64,
        len: u64,
        kind: AccessKind,
        space: Space,
    ) -> bool {
        if image.control & ENABLE_BIT == 0 {
            return false;
        }
        if (image.control & USER_BIT != 0) != (space == Space::User)
            && self.config.style == Style::BeforeAccess
        {
            return false;
        }
        let code = (image.control >> KIND_SHIFT) & 0xf;
        let kind_ok = match kind {
            AccessKind::Execute => code == 1,
            AccessKind::Write => code == 2 || code == 3,
            AccessKind::Read => code == 3 || code == 4,
            AccessKind::ReadWrite => code == 2 || code == 3 || code == 4,
            AccessKind::Io => code == 5,
        };
        if !kind_ok {
            return false;
        }
        let (start, end) = match self.config.style {
            Style::AfterAccess => (
                image.value,
                image.value + ((image.control >> LEN_SHIFT) & 0xff),
            ),
            Style::BeforeAccess => {
                let mask = (image.control >> LEN_SHIFT) & 0xff;
                if mask == 0 {
                    return false;
                }
                let lo = mask.trailing_zeros() as u64;
                let hi = 64 - mask.leading_zeros() as u64;
                (image.value + lo, image.value + hi)
            }
        };
        addr < end && start < addr + len
    }

    /// Performs an access on `cpu`; returns the trap the hardware would
    /// raise, if any.
    pub fn access(
        &self,
        cpu: u32,
        addr: u64,
        len: u64,
        kind: AccessKind,
        space: Space,
    ) -> Option<ModelTrap> {
        let regs = self.regs(cpu);
        if !regs.armed || regs.suspended {
            return None;
        }
        let mut trap = ModelTrap::default();
        let pools = self.config.pools();
        for p in 0..pools {
            if pools == 2 && (p == 0) != (kind == AccessKind::Execute) {
                continue;
            }
            for k in 0..self.config.slots[p] as usize {
                let Some(image) = regs.slots[p][k] else {
                    continue;
                };
                let enabled = match self.config.style {
                    Style::AfterAccess => regs.control[p] & (1 << k) != 0,
                    Style::BeforeAccess => true,
                };
                if enabled && self.matches(&image, addr, len, kind, space) {
                    trap.hits[p] |= 1 << k;
                }
            }
        }
        if trap.hits.iter().all(|&h| h == 0) {
            return None;
        }
        if self.config.style == Style::BeforeAccess {
            trap.address = Some(addr);
            trap.access_len = len.min(255) as u8;
        }
        Some(trap)
    }
}

/// What the model's "exception entry" captures.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModelTrap {
    /// Hit bits per pool.
    pub hits: [u32; MAX_POOLS],
    /// Accessed address (BeforeAccess style).
    pub address: Option<u64>,
    /// Accessed bytes.
    pub access_len: u8,
    /// This is a single-step completion.
    pub step: bool,
}

/// The model backend.
#[derive(Clone, Debug)]
pub struct ModelArch {
    machine: Arc<Machine>,
}

impl ModelArch {
    /// The backend for `machine`.
    pub fn new(machine: Arc<Machine>) -> Self {
        Self { machine }
    }
}

impl Arch for ModelArch {
    const NAME: &'static str = "model";
    const POOLS: usize = MAX_POOLS;
    type Trap = ModelTrap;

    fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
        if self.machine.config.pools() == 1 {
            return match kind {
                AccessKind::Read => Err(ErrorKind::UnsupportedKind.into()),
                AccessKind::Io => Err(ErrorKind::NotEnabled.into()),
                _ => Ok(PoolId::FIRST),
            };
        }
        match kind {
            AccessKind::Execute => Ok(PoolId::FIRST),
            AccessKind::Io => Err(ErrorKind::UnsupportedKind.into()),
            _ => Ok(PoolId::SECOND),
        }
    }

    fn slot_counts(&self) -> SlotCounts {
        SlotCounts(self.machine.config.slots)
    }

    fn check_range(&self, addr: u64, end: u64, _space: Space) -> Result<()> {
        // 48-bit canonical, as on x86_64 and AArch64 with 48-bit VAs.
        let canonical = |a: u64| !(0x0000_8000_0000_0000..0xffff_8000_0000_0000).contains(&a);
        if !canonical(addr)
            || !canonical(end - 1)
            || (addr < 0x0000_8000_0000_0000) != (end - 1 < 0x0000_8000_0000_0000)
        {
            return Err(ErrorKind::NonCanonical.into());
        }
        Ok(())
    }

    fn max_piece(&self, kind: AccessKind, addr: u64, len: u64) -> Result<u64> {
        if kind == AccessKind::Execute {
            return if len == 1 {
                Ok(1)
            } else {
                Err(ErrorKind::UnsupportedLength.into())
            };
        }
        match self.machine.config.style {
            Style::AfterAccess => {
                let mut size = 8;
                while size > 1 && (addr % size != 0 || size > len) {
                    size /= 2;
                }
                Ok(size)
            }
            Style::BeforeAccess => Ok((8 - addr % 8).min(len)),
        }
    }

    fn encode(&self, piece: &Piece) -> Result<SlotImage> {
        if piece.memory == MemoryType::CacheInhibited {
            return Err(ErrorKind::CacheInhibited.into());
        }
        if self.max_piece(piece.kind, piece.addr, piece.len)? < piece.len {
            return Err(ErrorKind::Misaligned.into());
        }
        let user = if piece.space == Space::User {
            USER_BIT
        } else {
            0
        };
        let base = ENABLE_BIT | user | (kind_code(piece.kind) << KIND_SHIFT);
        Ok(match self.machine.config.style {
            Style::AfterAccess => SlotImage {
                value: piece.addr,
                control: base | (piece.len << LEN_SHIFT),
            },
            Style::BeforeAccess => {
                let offset = piece.addr % 8;
                let mask = ((1u64 << piece.len) - 1) << offset;
                SlotImage {
                    value: piece.addr - offset,
                    control: base | (mask << LEN_SHIFT),
                }
            }
        })
    }

    fn control_word(&self, _pool: PoolId, slots: &[Option<SlotImage>]) -> u64 {
        match self.machine.config.style {
            Style::AfterAccess => slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_some())
                .fold(0, |w, (k, _)| w | (1 << k)),
            Style::BeforeAccess => 0,
        }
    }

    fn decode(&self, trap: &ModelTrap, armed: &dyn SlotView) -> Decoded {
        let resume = match self.machine.config.style {
            Style::BeforeAccess => Resume::SingleStep,
            Style::AfterAccess => {
                let exec = (0..MAX_SLOTS).any(|k| {
                    trap.hits[0] & (1 << k) != 0
                        && armed
                            .slot(PoolId::FIRST, k)
                            .is_some_and(|i| (i.control >> KIND_SHIFT) & 0xf == 1)
                });
                if exec {
                    Resume::SetResumeFlag
                } else {
                    Resume::Continue
                }
            }
        };
        Decoded {
            hits: trap.hits,
            address: trap.address,
            access_len: trap.access_len,
            step_complete: trap.step,
            resume: Some(resume),
        }
    }

    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>) {
        let cpu = current_cpu();
        self.machine.regs.lock().unwrap()[cpu as usize].slots[pool.index()][index] = image;
        self.machine.record(Write::Slot {
            cpu,
            pool: pool.index(),
            index,
            image,
        });
    }

    unsafe fn write_control(&self, pool: PoolId, control: u64) {
        let cpu = current_cpu();
        let mut regs = self.machine.regs.lock().unwrap();
        let r = &mut regs[cpu as usize];
        let was_suspended = r.suspended;
        r.suspended = false;
        // Restoring the word after `suspend` is part of the exception
        // protocol, not a table change: do not count it as a write.
        if !was_suspended {
            drop(regs);
            self.machine.record(Write::Control {
                cpu,
                pool: pool.index(),
                word: control,
            });
            self.machine.regs.lock().unwrap()[cpu as usize].control[pool.index()] = control;
        } else {
            r.control[pool.index()] = control;
        }
    }

    unsafe fn set_armed(&self, armed: bool) {
        let cpu = current_cpu();
        self.machine.regs.lock().unwrap()[cpu as usize].armed = armed;
        self.machine.record(Write::Armed { cpu, on: armed });
    }

    unsafe fn suspend(&self) {
        let cpu = current_cpu();
        self.machine.regs.lock().unwrap()[cpu as usize].suspended = true;
    }

    unsafe fn acknowledge(&self, _trap: &ModelTrap) {}
}

/// The model OS platform.
#[derive(Clone, Debug)]
pub struct ModelPlatform {
    machine: Arc<Machine>,
    zones: &'static [Zone],
}

impl ModelPlatform {
    /// The platform of `machine`, with no no-breakpoint zone.
    pub fn new(machine: Arc<Machine>) -> Self {
        Self {
            machine,
            zones: &[],
        }
    }

    /// Declares no-breakpoint zones (the list is leaked once: it lives as
    /// long as the platform may).
    pub fn with_zones(mut self, zones: Vec<Zone>) -> Self {
        self.zones = Vec::leak(zones);
        self
    }
}

impl Platform for ModelPlatform {
    fn cpu_count(&self) -> u32 {
        self.machine.config.cpus
    }

    fn current_cpu(&self) -> CpuId {
        CpuId(current_cpu())
    }

    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        let online = self.machine.online.lock().unwrap().clone();
        for (cpu, on) in online.iter().enumerate() {
            if *on {
                on_cpu(cpu as u32, f);
            }
        }
    }

    fn user_limit(&self) -> u64 {
        self.machine.config.user_limit
    }

    fn no_breakpoint_zones(&self) -> &[Zone] {
        self.zones
    }

    fn memory_type(&self, start: u64, end: u64) -> MemoryType {
        if self
            .machine
            .cache_inhibited
            .lock()
            .unwrap()
            .iter()
            .any(|z| z.overlaps(start, end))
        {
            MemoryType::CacheInhibited
        } else {
            MemoryType::Normal
        }
    }
}
