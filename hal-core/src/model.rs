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
//!
//! Everything here needs `std` and is for the host only: the register file
//! and the current CPU are simulated (a thread-local CPU number, see
//! [`on_cpu`]), and registry updates run `run_on_each_cpu` by switching that
//! number on the calling thread.
//!
//! # Examples
//!
//! ```
//! use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
//! use hwbreak_core::{AccessKind, Registry, Request, Space};
//!
//! let machine = Machine::new(Config::arm_like(2));
//! let registry = Box::new(Registry::<_, _, 16, 2, 4>::new(
//!     ModelArch::new(machine.clone()),
//!     ModelPlatform::new(machine.clone()),
//! ));
//! registry.init()?;
//! for cpu in 0..2 {
//!     on_cpu(cpu, || registry.cpu_online())?;
//! }
//! registry.register(&Request::read(0xffff_8000_0010_0000, 2))?;
//! assert!(machine.access(1, 0xffff_8000_0010_0001, 1, AccessKind::Read, Space::Kernel).is_some());
//! assert!(machine.access(1, 0xffff_8000_0010_0001, 1, AccessKind::Write, Space::Kernel).is_none());
//! # Ok::<(), hwbreak_core::Error>(())
//! ```

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
///
/// # Examples
///
/// ```
/// use hwbreak_core::model::{Config, Style};
/// assert_eq!(Config::x86_like(1).style, Style::AfterAccess);
/// assert_eq!(Config::arm_like(1).style, Style::BeforeAccess);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Style {
    /// x86-like.
    AfterAccess,
    /// AArch64/ppc64-like.
    BeforeAccess,
}

/// Configuration of the modelled machine.
///
/// # Examples
///
/// ```
/// use hwbreak_core::model::{Config, Style};
/// // A custom machine: 2 code and 2 data slots on 8 CPUs.
/// let config = Config { slots: [2, 2], cpus: 8, ..Config::arm_like(8) };
/// assert_eq!(config.style, Style::BeforeAccess);
/// ```
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
    /// An x86-like machine: one pool of 4 slots, user half below 2^47.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::model::Config;
    /// assert_eq!(Config::x86_like(2).slots, [4, 0]);
    /// ```
    pub const fn x86_like(cpus: u32) -> Self {
        Self {
            style: Style::AfterAccess,
            slots: [4, 0],
            cpus,
            user_limit: 0x0000_8000_0000_0000,
        }
    }

    /// An AArch64-like machine: 6 code and 4 data slots, user half below
    /// 2^48.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::model::Config;
    /// assert_eq!(Config::arm_like(2).slots, [6, 4]);
    /// ```
    pub const fn arm_like(cpus: u32) -> Self {
        Self {
            style: Style::BeforeAccess,
            slots: [6, 4],
            cpus,
            user_limit: 0x0001_0000_0000_0000,
        }
    }

    /// A machine with one data slot and no code slot (single DABR).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::model::Config;
    /// assert_eq!(Config::one_slot(1).slots, [0, 1]);
    /// ```
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

/// One register write, as recorded in [`Machine::log`].
///
/// # Examples
///
/// ```
/// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
/// # let machine = Machine::new(Config::x86_like(1));
/// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
/// #     ModelArch::new(machine.clone()),
/// #     ModelPlatform::new(machine.clone()),
/// # ));
/// # registry.init().unwrap();
/// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
/// use hwbreak_core::model::Write;
/// use hwbreak_core::Request;
///
/// machine.clear_log();
/// registry.register(&Request::write(0xffff_8000_0010_0000, 8))?;
/// let log = machine.log();
/// assert!(log.iter().any(|w| matches!(w, Write::Slot { cpu: 0, image: Some(_), .. })));
/// assert!(log.iter().any(|w| matches!(w, Write::Control { cpu: 0, pool: 0, .. })));
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
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

/// Register file of one modelled CPU ([`Machine::regs`]).
///
/// # Examples
///
/// ```
/// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
/// # let machine = Machine::new(Config::x86_like(1));
/// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
/// #     ModelArch::new(machine.clone()),
/// #     ModelPlatform::new(machine.clone()),
/// # ));
/// # registry.init().unwrap();
/// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
/// use hwbreak_core::Request;
///
/// assert!(!machine.regs(0).armed);
/// registry.register(&Request::write(0xffff_8000_0010_0000, 8))?;
/// let regs = machine.regs(0);
/// assert!(regs.armed);
/// assert_eq!(regs.slots[0].iter().flatten().count(), 1);
/// assert_eq!(regs.control[0].count_ones(), 1); // one enable bit
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
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
///
/// # Examples
///
/// ```
/// use hwbreak_core::model::{Config, Machine};
/// let machine = Machine::new(Config::x86_like(4));
/// assert_eq!(machine.all_regs().len(), 4);
/// assert!(machine.log().is_empty());
/// ```
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

/// Runs `f` as if on CPU `cpu` (for the model only). The previous CPU
/// number is restored afterwards, so calls nest.
///
/// # Examples
///
/// ```
/// use hwbreak_core::model::{current_cpu, on_cpu};
/// assert_eq!(current_cpu(), 0);
/// assert_eq!(on_cpu(3, || on_cpu(1, current_cpu) + current_cpu()), 1 + 3);
/// assert_eq!(current_cpu(), 0);
/// ```
pub fn on_cpu<R>(cpu: u32, f: impl FnOnce() -> R) -> R {
    let saved = CURRENT.with(|c| c.replace(cpu));
    let r = f();
    CURRENT.with(|c| c.set(saved));
    r
}

/// The CPU the model thinks it runs on (0 unless inside [`on_cpu`]); what
/// [`ModelPlatform`]'s `current_cpu` answers.
///
/// # Examples
///
/// ```
/// use hwbreak_core::model::{current_cpu, on_cpu};
/// assert_eq!(on_cpu(2, current_cpu), 2);
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::model::{Config, Machine};
    /// let machine = Machine::new(Config::one_slot(2));
    /// assert_eq!(machine.config.cpus, 2);
    /// assert!(!machine.regs(1).armed);
    /// ```
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

    /// Register file of `cpu` (a copy). See [`CpuRegs`] for an example.
    pub fn regs(&self, cpu: u32) -> CpuRegs {
        self.regs.lock().unwrap()[cpu as usize]
    }

    /// Every CPU's register file (copies), indexed by CPU. See [`Machine`]
    /// for an example.
    pub fn all_regs(&self) -> Vec<CpuRegs> {
        self.regs.lock().unwrap().clone()
    }

    /// Clears `cpu`'s registers, as a CPU losing power would.
    ///
    /// # Examples
    ///
    /// ```
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::Request;
    /// registry.register(&Request::write(0xffff_8000_0010_0000, 8))?;
    /// machine.wipe(0);
    /// assert!(!machine.regs(0).armed);
    /// registry.cpu_online()?; // restores it
    /// assert!(machine.regs(0).armed);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn wipe(&self, cpu: u32) {
        self.regs.lock().unwrap()[cpu as usize] = CpuRegs::default();
    }

    /// Recorded writes so far (a copy). See [`Write`] for an example.
    pub fn log(&self) -> Vec<Write> {
        self.log.lock().unwrap().clone()
    }

    /// Number of recorded slot and control writes (not armed toggles): what
    /// the minimal-write guarantees of context switch and reload are
    /// measured with.
    ///
    /// # Examples
    ///
    /// ```
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// machine.clear_log();
    /// registry.refresh(); // nothing changed: nothing written
    /// assert_eq!(machine.register_writes(), 0);
    /// ```
    pub fn register_writes(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|w| !matches!(w, Write::Armed { .. }))
            .count()
    }

    /// Forgets the log. See [`Machine::register_writes`] for an example.
    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    /// Marks `cpu` online or offline for `run_on_each_cpu` (the platform's
    /// side of hotplug; the registry's side is
    /// [`Registry::cpu_offline`](crate::Registry::cpu_offline)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use hwbreak_core::model::{Config, Machine, ModelPlatform};
    /// use hwbreak_core::Platform;
    ///
    /// let machine = Machine::new(Config::x86_like(3));
    /// let platform = ModelPlatform::new(machine.clone());
    /// machine.set_online(1, false);
    /// let ran = AtomicU32::new(0);
    /// platform.run_on_each_cpu(&|| {
    ///     ran.fetch_add(1, Ordering::Relaxed);
    /// });
    /// assert_eq!(ran.into_inner(), 2);
    /// ```
    pub fn set_online(&self, cpu: u32, online: bool) {
        self.online.lock().unwrap()[cpu as usize] = online;
    }

    /// Declares a cache-inhibited range ([`ModelPlatform`] reports it from
    /// `memory_type`; [`ModelArch`] refuses to encode it, as POWER9 DAWR
    /// does).
    ///
    /// # Examples
    ///
    /// ```
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{ErrorKind, Request, Zone};
    /// let mmio = 0xffff_8000_4000_0000;
    /// machine.cache_inhibit(Zone::new(mmio, mmio + 0x1000));
    /// let err = registry.register(&Request::write(mmio, 4)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::CacheInhibited);
    /// ```
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
    /// raise, if any. Hand the trap to
    /// [`Registry::on_debug_exception`](crate::Registry::on_debug_exception)
    /// on the same CPU.
    ///
    /// # Examples
    ///
    /// ```
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(2));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 2, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..2 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, Request, Space};
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k, 4))?;
    /// let trap = machine.access(1, k + 2, 2, AccessKind::Write, Space::Kernel).unwrap();
    /// assert_eq!(on_cpu(1, || registry.on_debug_exception(&trap)).delivered, 1);
    /// // A load does not match a write watch.
    /// assert!(machine.access(1, k, 4, AccessKind::Read, Space::Kernel).is_none());
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
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

/// What the model's "exception entry" captures: [`Machine::access`]
/// returns one; a test builds one with `step: true` to deliver the
/// single-step completion a before-access hit asked for.
///
/// # Examples
///
/// ```
/// use hwbreak_core::model::ModelTrap;
/// let step = ModelTrap { step: true, ..ModelTrap::default() };
/// assert_eq!(step.hits, [0, 0]);
/// ```
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
///
/// # Examples
///
/// ```
/// use hwbreak_core::model::{Config, Machine, ModelArch};
/// use hwbreak_core::{AccessKind, Arch, ErrorKind, PoolId};
///
/// let arch = ModelArch::new(Machine::new(Config::x86_like(1)));
/// assert_eq!(arch.pool_of(AccessKind::Write)?, PoolId::FIRST);
/// // Like x86: no read-only watch, naturally aligned pieces of up to 8.
/// assert_eq!(arch.pool_of(AccessKind::Read).unwrap_err().kind(), ErrorKind::UnsupportedKind);
/// assert_eq!(arch.max_piece(AccessKind::Write, 0x1004, 16)?, 4);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ModelArch {
    machine: Arc<Machine>,
}

impl ModelArch {
    /// The backend for `machine`. See [`ModelArch`] for an example.
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
                while size > 1 && (!addr.is_multiple_of(size) || size > len) {
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

    /// Stores the image in the current model CPU's register file and logs
    /// a [`Write::Slot`].
    ///
    /// # Safety
    /// Nothing is required: the model writes a simulated register file. The
    /// function is `unsafe` because [`Arch`] declares it so for real
    /// hardware.
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

    /// Stores the control word and logs a [`Write::Control`], except when
    /// it ends a [`suspend`](Arch::suspend) (restoring the word is part of
    /// the exception protocol, not a table change).
    ///
    /// # Safety
    /// Nothing is required: the model writes a simulated register file. The
    /// function is `unsafe` because [`Arch`] declares it so for real
    /// hardware.
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

    /// Turns the model CPU's debug machinery on or off and logs a
    /// [`Write::Armed`].
    ///
    /// # Safety
    /// Nothing is required: the model writes a simulated register file. The
    /// function is `unsafe` because [`Arch`] declares it so for real
    /// hardware.
    unsafe fn set_armed(&self, armed: bool) {
        let cpu = current_cpu();
        self.machine.regs.lock().unwrap()[cpu as usize].armed = armed;
        self.machine.record(Write::Armed { cpu, on: armed });
    }

    /// Marks the model CPU suspended: [`Machine::access`] raises no trap
    /// until the next control write.
    ///
    /// # Safety
    /// Nothing is required: the model writes a simulated register file. The
    /// function is `unsafe` because [`Arch`] declares it so for real
    /// hardware.
    unsafe fn suspend(&self) {
        let cpu = current_cpu();
        self.machine.regs.lock().unwrap()[cpu as usize].suspended = true;
    }

    /// Nothing to clear: the model keeps no sticky status.
    ///
    /// # Safety
    /// Nothing is required: the model writes a simulated register file. The
    /// function is `unsafe` because [`Arch`] declares it so for real
    /// hardware.
    unsafe fn acknowledge(&self, _trap: &ModelTrap) {}
}

/// The model OS platform: `machine.config.cpus` CPUs, the configured user
/// limit, the online set of [`Machine::set_online`], and optional
/// no-breakpoint zones.
///
/// # Examples
///
/// ```
/// use hwbreak_core::model::{on_cpu, Config, Machine, ModelPlatform};
/// use hwbreak_core::{CpuId, Platform};
///
/// let platform = ModelPlatform::new(Machine::new(Config::arm_like(2)));
/// assert_eq!(platform.cpu_count(), 2);
/// assert_eq!(on_cpu(1, || platform.current_cpu()), CpuId(1));
/// assert_eq!(platform.user_limit(), 1 << 48);
/// ```
#[derive(Clone, Debug)]
pub struct ModelPlatform {
    machine: Arc<Machine>,
    zones: &'static [Zone],
}

impl ModelPlatform {
    /// The platform of `machine`, with no no-breakpoint zone. See
    /// [`ModelPlatform`] for an example.
    pub fn new(machine: Arc<Machine>) -> Self {
        Self {
            machine,
            zones: &[],
        }
    }

    /// Declares no-breakpoint zones (the list is leaked once: it lives as
    /// long as the platform may).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::model::{Config, Machine, ModelPlatform};
    /// use hwbreak_core::{Platform, Zone};
    /// let platform = ModelPlatform::new(Machine::new(Config::x86_like(1)))
    ///     .with_zones(vec![Zone::new(0x1000, 0x2000)]);
    /// assert_eq!(platform.no_breakpoint_zones(), [Zone::new(0x1000, 0x2000)]);
    /// ```
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
