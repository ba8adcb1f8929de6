//! The registry: owns the slots of every CPU for one OS.
//!
//! # Concurrency
//! - Updating calls (`register`, `modify`, `unregister`, `enable`,
//!   `disable`) serialise on one [`critical_section`] lock, compute
//!   everything there (validation first, then an all-or-nothing reservation,
//!   then the published records), release the lock, and only then ask every
//!   CPU to reload through [`Platform::run_on_each_cpu`].
//! - Context switch, CPU online, reload and dispatch take no lock: they read
//!   seqlocked records and per-entry atomics.
//! - A CPU that traps before it reloaded still finds the handler of what its
//!   registers hold: entries are only reused after every CPU reloaded.
//! - The kernel debugger's path ([`Registry::debugger_install`]) takes no
//!   lock at all and shares an atomic ledger with the normal path.

mod admission;
mod cpu;
mod debugger;
mod dispatch;
mod index;
mod local;
mod notices;
mod notify;
mod placement;
mod records;
mod retirement;
mod sharing;
mod updates;
mod validation;

use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};

use critical_section::Mutex;

use self::cpu::{place, CpuState, SlotMask};
use self::index::Index;
use self::notices::Notices;
use self::records::{
    CpuRecord, DebuggerSlot, SharedEntry, SystemRecord, TaskRecord, Token, Wanted,
};
use crate::arch::{Arch, PoolId, SlotCounts, SlotImage, MAX_POOLS, MAX_SLOTS};
use crate::cover::MAX_PIECES;
use crate::error::{ErrorKind, Result};
use crate::handle::Handle;
use crate::platform::{Platform, Zone};
use crate::request::{Request, TaskId};
use crate::reserve::{Ledger, Reservations};

pub use self::debugger::DebuggerHandle;
pub use self::dispatch::Outcome;

/// The state of a registered breakpoint ([`Registry::state`]).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "model")] {
/// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
/// # let machine = Machine::new(Config::x86_like(1));
/// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
/// #     ModelArch::new(machine.clone()),
/// #     ModelPlatform::new(machine.clone()),
/// # ));
/// # registry.init().unwrap();
/// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
/// use hwbreak_core::{Request, State};
///
/// let h = registry.register(&Request::execute(0xffff_8000_0000_1000))?;
/// assert_eq!(registry.state(h)?, State::Armed);
/// registry.disable(h)?;
/// assert_eq!(registry.state(h)?, State::Disabled);
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// It holds its slots and is armed wherever its scope runs.
    Armed,
    /// Flexible and waiting for room (never armed yet, or displaced).
    Waiting,
    /// Disabled by [`Registry::disable`]; it keeps its reservation.
    Disabled,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Life {
    Free,
    Live,
    /// Unregistered; freed once every CPU reloaded.
    Removing,
}

/// Lock-protected facts about one entry.
#[derive(Copy, Clone, Debug)]
struct Meta {
    life: Life,
    handle_generation: u32,
    generation: u32,
    request: Request,
    pool: PoolId,
    pieces: u8,
    images: [SlotImage; MAX_PIECES],
    enabled: bool,
    /// Holds a reservation.
    active: bool,
    /// Its tokens are in a record (or the system set).
    placed: bool,
    /// Slot index per piece for system-wide entries.
    fixed: [u8; MAX_PIECES],
    /// Sharer of this root entry (its slots are the root's).
    root: Option<u32>,
    next_free: u32,
}

impl Meta {
    const EMPTY: Self = Self {
        life: Life::Free,
        handle_generation: 0,
        generation: 0,
        request: Request::execute(0),
        pool: PoolId::FIRST,
        pieces: 0,
        images: [SlotImage {
            value: 0,
            control: 0,
        }; MAX_PIECES],
        enabled: false,
        active: false,
        placed: false,
        fixed: [0; MAX_PIECES],
        root: None,
        next_free: 0,
    };
}

struct Inner<const BPS: usize, const CPUS: usize, const TASKS: usize, const SLOTS: usize> {
    counts: SlotCounts,
    reservations: Reservations<CPUS, TASKS, SLOTS>,
    entries: [Meta; BPS],
    /// Head of the free list (index + 1; 0: empty).
    free: u32,
    /// The system-wide set by slot index.
    system: [[Token; SLOTS]; MAX_POOLS],
    /// The live owners by watch, and those of them waiting for room.
    index: Index<BPS>,
    /// Events owed to handlers, told once the lock is released.
    notices: Notices<BPS>,
}

static NEXT_REGISTRY_ID: AtomicU32 = AtomicU32::new(1);

/// Bytes each CPU of capacity costs a registry of `SLOTS` slots per pool,
/// by part: its loaded state (what its registers hold, the epoch it read)
/// and the list of kernel breakpoints bound to it. The third part, its
/// reservation counts, is measured on [`Reservations`]. For the
/// `footprint` benchmark, which checks that the parts add up to what a
/// CPU of capacity adds to the registry's size.
#[doc(hidden)]
pub const fn percpu_parts<const SLOTS: usize>() -> (usize, usize) {
    (
        core::mem::size_of::<CpuState<SLOTS>>(),
        core::mem::size_of::<CpuRecord<SLOTS>>(),
    )
}

/// Owns the hardware breakpoint slots of every CPU.
///
/// - `A`: the architecture backend; `P`: the OS platform.
/// - `BPS`: capacity of the breakpoint table (registrations, at most 65535).
/// - `CPUS`: most CPUs served.
/// - `TASKS`: number of debug contexts ([`TaskId`] `0..TASKS`).
/// - `SLOTS`: the most slots the registry manages in any one pool,
///   `1..=`[`MAX_SLOTS`] (default [`MAX_SLOTS`], 16). Every per-slot table,
///   each CPU's among them, is `SLOTS` long, so a kernel that knows its
///   hardware sets it to the backend's real count (`hwbreak_x86::SLOTS`,
///   4, on x86) and pays for no slot it does not have. (A debug context's
///   list is [`MAX_SLOTS`] long whatever `SLOTS` is: its breakpoints bound
///   to different CPUs may together outnumber one pool.) [`Registry::init`]
///   refuses a backend reporting more slots in a pool with
///   [`ErrorKind::SlotCapacity`]; a backend reporting fewer is served as
///   is.
///
/// Build it in a `static` with [`Registry::new`], then call
/// [`Registry::init`] once and [`Registry::cpu_online`] on every CPU.
///
/// Its methods fall in three groups:
///
/// - updating calls, from thread context with interrupts enabled (they
///   call [`Platform::run_on_each_cpu`]): [`register`](Registry::register),
///   [`modify`](Registry::modify), [`unregister`](Registry::unregister),
///   [`enable`](Registry::enable), [`disable`](Registry::disable);
/// - per-CPU calls, lock-free, on the CPU concerned:
///   [`cpu_online`](Registry::cpu_online),
///   [`cpu_offline`](Registry::cpu_offline),
///   [`switch_task`](Registry::switch_task), [`refresh`](Registry::refresh),
///   [`on_debug_exception`](Registry::on_debug_exception);
/// - the kernel debugger's lock-free path:
///   [`debugger_install`](Registry::debugger_install),
///   [`debugger_remove`](Registry::debugger_remove).
///
/// # Examples
///
/// The examples in this module run on the model backend (feature
/// `model`): a software x86-like machine whose accesses raise the traps
/// real hardware would. A kernel declares a `static` of its own backend
/// and platform instead (see `docs/integration.md`).
///
/// ```
/// # #[cfg(feature = "model")] {
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
/// use hwbreak_core::{AccessKind, Event, Registry, Request, Space};
///
/// static HITS: AtomicU32 = AtomicU32::new(0);
/// fn count(_: &Event) {
///     HITS.fetch_add(1, Ordering::Relaxed);
/// }
///
/// // Two CPUs with four slots each.
/// let machine = Machine::new(Config::x86_like(2));
/// // 16 registrations, 2 CPUs, 4 debug contexts.
/// let registry = Box::new(Registry::<_, _, 16, 2, 4>::new(
///     ModelArch::new(machine.clone()),
///     ModelPlatform::new(machine.clone()),
/// ));
/// registry.init()?;
/// for cpu in 0..2 {
///     on_cpu(cpu, || registry.cpu_online())?;
/// }
///
/// let addr = 0xffff_8000_0010_0000;
/// let h = registry.register(&Request::write(addr, 8).handler(count, 0))?;
/// // CPU 1 stores to the watched word; its debug exception goes to the registry.
/// let trap = machine.access(1, addr, 8, AccessKind::Write, Space::Kernel).unwrap();
/// let out = on_cpu(1, || registry.on_debug_exception(&trap));
/// assert_eq!((out.delivered, HITS.load(Ordering::Relaxed)), (1, 1));
/// registry.unregister(h)?;
/// assert!(machine.access(1, addr, 8, AccessKind::Write, Space::Kernel).is_none());
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub struct Registry<
    A: Arch,
    P: Platform,
    const BPS: usize,
    const CPUS: usize,
    const TASKS: usize,
    const SLOTS: usize = MAX_SLOTS,
> {
    arch: A,
    platform: P,
    id: AtomicU32,
    /// Slot counts per pool, 8 bits each; 0 until `init`.
    counts: AtomicU32,
    cpu_limit: AtomicU32,
    ledger: Ledger,
    /// Slot indices fixed on every CPU (system-wide and debugger slots).
    global_used: [AtomicU32; MAX_POOLS],
    inner: Mutex<RefCell<Inner<BPS, CPUS, TASKS, SLOTS>>>,
    shared: [SharedEntry; BPS],
    cpus: [CpuState<SLOTS>; CPUS],
    contexts: [TaskRecord; TASKS],
    cpu_records: [CpuRecord<SLOTS>; CPUS],
    system: SystemRecord<SLOTS>,
    debugger: [[DebuggerSlot; SLOTS]; MAX_POOLS],
    /// Bumped after every change of what CPUs load: by each updating call
    /// once its records are written ([`Registry::refresh_all`]) and by the
    /// kernel debugger's path. A CPU that read its records at the current
    /// epoch and runs the context it loaded is up to date.
    epoch: AtomicU32,
}

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    const CAPACITY_OK: () = assert!(
        BPS > 0 && BPS <= 0xffff && CPUS > 0 && SLOTS > 0 && SLOTS <= MAX_SLOTS,
        "BPS must be 1..=65535, CPUS at least 1 and SLOTS 1..=MAX_SLOTS"
    );

    /// A registry for `arch` on `platform`. Nothing is armed until
    /// [`Registry::init`] and [`Registry::cpu_online`].
    ///
    /// `const`, so a kernel builds it in a `static` (the [`Arch`] example
    /// does). Capacities are checked at compile time: `BPS` must be
    /// 1..=65535, `CPUS` at least 1 and `SLOTS` 1..=[`MAX_SLOTS`]. The
    /// size grows linearly with each of `BPS`, `CPUS` and `TASKS` (no table
    /// is indexed by two of them), and what each CPU costs grows linearly
    /// with `SLOTS`; `core::mem::size_of` tells what a configuration
    /// costs.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// use hwbreak_core::model::{Config, Machine, ModelArch, ModelPlatform};
    /// use hwbreak_core::{ErrorKind, Registry, Request};
    ///
    /// let machine = Machine::new(Config::arm_like(4));
    /// let registry: Registry<_, _, 64, 4, 32> =
    ///     Registry::new(ModelArch::new(machine.clone()), ModelPlatform::new(machine));
    /// // Not usable before `init`.
    /// let err = registry.register(&Request::execute(0x1000)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NotInitialized);
    /// # }
    /// ```
    pub const fn new(arch: A, platform: P) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CAPACITY_OK;
        Self {
            arch,
            platform,
            id: AtomicU32::new(0),
            counts: AtomicU32::new(0),
            cpu_limit: AtomicU32::new(0),
            ledger: Ledger::new(),
            global_used: [const { AtomicU32::new(0) }; MAX_POOLS],
            inner: Mutex::new(RefCell::new(Inner {
                counts: SlotCounts([0; MAX_POOLS]),
                reservations: Reservations::new(),
                entries: [Meta::EMPTY; BPS],
                free: 0,
                system: [[Token::EMPTY; SLOTS]; MAX_POOLS],
                index: Index::new(),
                notices: Notices::new(),
            })),
            shared: [const { SharedEntry::new() }; BPS],
            cpus: [const { CpuState::new() }; CPUS],
            contexts: [const { TaskRecord::new() }; TASKS],
            cpu_records: [const { CpuRecord::new() }; CPUS],
            system: SystemRecord::new(),
            debugger: [const { [const { DebuggerSlot::new() }; SLOTS] }; MAX_POOLS],
            epoch: AtomicU32::new(0),
        }
    }

    /// Probes the slot counts and prepares the tables. Call once, on the
    /// boot CPU, before anything else; a second call returns `Ok` and
    /// changes nothing. Then call [`Registry::cpu_online`] on every CPU
    /// (the boot CPU included): a CPU that was never brought online loads
    /// nothing.
    ///
    /// `BadCpu` if the platform's [`Platform::cpu_count`] is 0 or larger
    /// than `CPUS`; `SlotCapacity` if the backend's [`Arch::slot_counts`]
    /// has a pool (below [`Arch::POOLS`]) with more than `SLOTS` slots.
    /// Either refusal leaves the registry uninitialised: a later call may
    /// succeed, and every other call answers `NotInitialized`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// use hwbreak_core::model::{Config, Machine, ModelArch, ModelPlatform};
    /// use hwbreak_core::{ErrorKind, PoolId, Registry};
    ///
    /// let machine = Machine::new(Config::arm_like(2));
    /// let registry: Registry<_, _, 16, 2, 4> =
    ///     Registry::new(ModelArch::new(machine.clone()), ModelPlatform::new(machine.clone()));
    /// assert_eq!(registry.slot_counts().get(PoolId::SECOND), 0);
    /// registry.init()?;
    /// assert_eq!(registry.slot_counts().get(PoolId::SECOND), 4);
    /// registry.init()?; // a second call changes nothing
    ///
    /// // A platform with more CPUs than the registry serves is refused.
    /// let big = Machine::new(Config::arm_like(3));
    /// let small: Registry<_, _, 16, 2, 4> =
    ///     Registry::new(ModelArch::new(big.clone()), ModelPlatform::new(big));
    /// assert_eq!(small.init().unwrap_err().kind(), ErrorKind::BadCpu);
    ///
    /// // A registry built for 2 slots a pool refuses a backend with 4.
    /// let four = Machine::new(Config::arm_like(1));
    /// let narrow: Registry<_, _, 16, 1, 4, 2> =
    ///     Registry::new(ModelArch::new(four.clone()), ModelPlatform::new(four));
    /// assert_eq!(narrow.init().unwrap_err().kind(), ErrorKind::SlotCapacity);
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn init(&self) -> Result<()> {
        if self.id.load(Ordering::Acquire) != 0 {
            return Ok(());
        }
        // A CPU count of 0 or above `CPUS` is refused (`BadCpu`) by
        // `Reservations::init` below, before anything is written.
        let cpus = self.platform.cpu_count();
        let mut counts = self.arch.slot_counts();
        for (p, c) in counts.0.iter_mut().enumerate() {
            if p >= A::POOLS {
                *c = 0;
            }
            // Every per-slot table is `SLOTS` long: serving fewer slots
            // than the hardware has would leave slots the registry cannot
            // see (nor clear), so a larger pool is refused, not clamped.
            if usize::from(*c) > SLOTS {
                return Err(ErrorKind::SlotCapacity.into());
            }
        }
        critical_section::with(|cs| -> Result<()> {
            let mut inner = self.inner.borrow_ref_mut(cs);
            let slots = core::array::from_fn(|p| counts.0[p] as u32);
            inner.reservations.init(cpus, slots)?;
            inner.counts = counts;
            for (i, e) in inner.entries.iter_mut().enumerate() {
                e.next_free = if i + 1 < BPS { i as u32 + 2 } else { 0 };
            }
            inner.free = 1;
            Ok(())
        })?;
        self.cpu_limit.store(cpus, Ordering::Relaxed);
        // Both pools' counts in one word (a byte each), read back whole.
        self.counts
            .store(u32::from(u16::from_le_bytes(counts.0)), Ordering::Relaxed);
        self.id.store(
            NEXT_REGISTRY_ID.fetch_add(1, Ordering::Relaxed),
            Ordering::Release,
        );
        Ok(())
    }

    /// The backend (for the OS's own register work around the registry,
    /// such as the ppc64 boards' disarming of slots in the exception).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, Arch, PoolId};
    /// assert_eq!(registry.arch().pool_of(AccessKind::Execute)?, PoolId::FIRST);
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn arch(&self) -> &A {
        &self.arch
    }

    /// The platform.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(2));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 2, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..2 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::Platform;
    /// assert_eq!(registry.platform().cpu_count(), 2);
    /// # }
    /// ```
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Slots per pool (all zero before [`Registry::init`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::SlotCounts;
    /// // The x86-like model: one pool of four.
    /// assert_eq!(registry.slot_counts(), SlotCounts([4, 0]));
    /// # }
    /// ```
    pub fn slot_counts(&self) -> SlotCounts {
        SlotCounts((self.counts.load(Ordering::Relaxed) as u16).to_le_bytes())
    }

    fn ready(&self) -> Result<SlotCounts> {
        if self.id.load(Ordering::Acquire) == 0 {
            return Err(ErrorKind::NotInitialized.into());
        }
        Ok(self.slot_counts())
    }

    /// The zone of the registry's own state: no breakpoint may watch it
    /// (the debug exception reads it, so a watch there would trap inside
    /// the handler). Checked on every registration, beside the platform's
    /// zones.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{ErrorKind, Request};
    /// let zone = registry.own_zone();
    /// let err = registry.register(&Request::write(zone.start, 8)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NoBreakpointZone);
    /// # }
    /// ```
    pub fn own_zone(&self) -> Zone {
        Zone::of(self)
    }

    fn handle(&self, index: usize, meta: &Meta) -> Handle {
        Handle {
            registry: self.id.load(Ordering::Relaxed),
            index: index as u32,
            generation: meta.handle_generation,
        }
    }

    fn slot_image(
        &self,
        state: &CpuState<SLOTS>,
        p: usize,
        k: usize,
        tok: Token,
    ) -> Option<SlotImage> {
        let image = self.entry_image(tok)?;
        Some(state.local_image(p, k, tok).unwrap_or(image))
    }

    /// The image an entry token names, if the token is current.
    fn entry_image(&self, tok: Token) -> Option<SlotImage> {
        if tok.is_empty() {
            return None;
        }
        if tok.is_debugger() {
            let (p, k) = (tok.index() / MAX_SLOTS, tok.index() % MAX_SLOTS);
            let slot = self.debugger.get(p)?.get(k)?;
            return (slot.state.load(Ordering::Acquire) == records::DEBUGGER_ARMED)
                .then(|| slot.image());
        }
        let shared = self.shared.get(tok.index())?;
        if !shared.current(tok) {
            return None;
        }
        let image = shared.image(tok.piece());
        shared.current(tok).then_some(image)
    }

    // ---------------------------------------------------------------
    // Per-CPU loading (no lock)
    // ---------------------------------------------------------------

    /// The current CPU's state, if the platform serves that CPU.
    fn served_cpu_state(&self) -> Result<(usize, &CpuState<SLOTS>)> {
        match self.cpu_state() {
            Some((cpu, state)) if (cpu as u32) < self.cpu_limit.load(Ordering::Relaxed) => {
                Ok((cpu, state))
            }
            _ => Err(ErrorKind::BadCpu.into()),
        }
    }

    fn cpu_state(&self) -> Option<(usize, &CpuState<SLOTS>)> {
        let cpu = self.platform.current_cpu().0 as usize;
        self.cpus.get(cpu).map(|s| (cpu, s))
    }

    /// Context switch on the current CPU: loads the debug state of `next`
    /// (`None`: a context without breakpoints). Writes nothing when `next`'s
    /// state is what is loaded, and only changed slots and control words
    /// otherwise. Call with interrupts disabled.
    ///
    /// Lock-free. On a CPU that is not online it does nothing, and does not
    /// record `next` either: bring a CPU online with
    /// [`Registry::cpu_online`] before its first context switch. `BadTask`
    /// if `next` is not below `TASKS`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{Request, Scope, TaskId};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k, 8).scope(Scope::Task(TaskId(1))))?;
    /// machine.clear_log();
    /// registry.switch_task(Some(TaskId(1)))?;
    /// let first = machine.register_writes();
    /// assert!(first > 0);
    /// // Switching to the context that is loaded writes nothing.
    /// registry.switch_task(Some(TaskId(1)))?;
    /// assert_eq!(machine.register_writes(), first);
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn switch_task(&self, next: Option<TaskId>) -> Result<()> {
        let Some((cpu, state)) = self.cpu_state() else {
            return Err(ErrorKind::BadCpu.into());
        };
        // The common case first: `next` is what is loaded and nothing
        // changed since. The loaded context is always below `TASKS`, and
        // `want` names `next` alone, so this also vouches for `next`. An
        // offline CPU never matches (its epoch is `u32::MAX`) or, after
        // 2^32 updates, matches and does nothing, which is what it does
        // below too.
        let want = Self::task_word(next);
        if self.up_to_date(state, want) {
            return Ok(());
        }
        if let Some(t) = next {
            if t.0 as usize >= TASKS {
                return Err(ErrorKind::BadTask.into());
            }
        }
        if !state.online.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.load(cpu, next, false);
        Ok(())
    }

    /// How [`CpuState::task`] names `task`: 0 for none, the number + 1
    /// otherwise (`u64`, so no number wraps onto "none").
    #[inline]
    fn task_word(task: Option<TaskId>) -> u64 {
        task.map_or(0, |t| u64::from(t.0) + 1)
    }

    /// Whether the CPU holds what it should for the context `want`
    /// ([`Self::task_word`]): it runs that context and read its records at
    /// the current epoch. Every record write is followed by an epoch bump
    /// (the updating calls end in [`Self::refresh_all`], which bumps it
    /// before it reloads the CPUs; the debugger's path bumps it itself),
    /// and [`Self::wanted`] takes the epoch before it reads the records: a
    /// CPU that matches read every record as of at least that bump. One
    /// word stands for the context's, the CPU's, the system set's and the
    /// debugger's records, so an update makes every CPU read its records
    /// again at the next check, whichever it changed: updates are rare,
    /// switches are not.
    #[inline]
    fn up_to_date(&self, state: &CpuState<SLOTS>, want: u64) -> bool {
        u64::from(state.task.load(Ordering::Relaxed)) == want
            && state.epoch.load(Ordering::Relaxed) == self.epoch.load(Ordering::Acquire)
    }

    /// Brings the current CPU online (boot, hotplug, resume from suspend):
    /// writes every slot and control word from the tables, whatever the
    /// hardware held before.
    ///
    /// Call it on the CPU itself, after [`Registry::init`], before it can
    /// take a debug exception from a breakpoint it should hold. The debug
    /// context loaded before an offline/online cycle stays loaded.
    ///
    /// # Examples
    ///
    /// A CPU that lost its registers (deep idle, suspend) gets them back:
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(2));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 2, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..2 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k, 8))?;
    /// machine.wipe(1); // what a power cycle does to CPU 1
    /// assert!(machine.access(1, k, 8, AccessKind::Write, Space::Kernel).is_none());
    /// on_cpu(1, || registry.cpu_online())?;
    /// assert!(machine.access(1, k, 8, AccessKind::Write, Space::Kernel).is_some());
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn cpu_online(&self) -> Result<()> {
        self.ready()?;
        let (cpu, state) = self.served_cpu_state()?;
        state.online.store(true, Ordering::Release);
        let task = state.loaded_task();
        self.load(cpu, task, true);
        Ok(())
    }

    /// Takes the current CPU offline: disarms every slot. Its tables stay,
    /// and [`Registry::cpu_online`] restores them.
    ///
    /// Call it on the CPU going down, after the platform stopped sending
    /// it [`Platform::run_on_each_cpu`] work. Breakpoints keep their
    /// reservations meanwhile: registering never depends on which CPUs are
    /// online.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(2));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 2, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..2 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k, 8))?;
    /// machine.set_online(1, false); // the platform's view first
    /// on_cpu(1, || registry.cpu_offline())?;
    /// assert!(machine.regs(1).slots[0].iter().all(Option::is_none));
    /// // Registrations made meanwhile are picked up when it comes back.
    /// registry.register(&Request::write(k + 8, 8))?;
    /// machine.set_online(1, true);
    /// on_cpu(1, || registry.cpu_online())?;
    /// assert!(machine.access(1, k + 8, 8, AccessKind::Write, Space::Kernel).is_some());
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn cpu_offline(&self) -> Result<()> {
        self.ready()?;
        let (_, state) = self.served_cpu_state()?;
        state.online.store(false, Ordering::Release);
        for p in 0..A::POOLS {
            let n = self.slot_counts().0[p] as usize;
            for k in 0..n {
                state.tokens[p][k].store(0, Ordering::Relaxed);
                // SAFETY: current CPU; the table now says the slot is empty.
                unsafe { self.arch.write_slot(PoolId::ALL[p], k, None) };
            }
            state.control[p].store(0, Ordering::Relaxed);
            state.stepping[p].store(0, Ordering::Relaxed);
            state.system_mask[p].store(0, Ordering::Relaxed);
            state.clear_all_local(p);
            // SAFETY: current CPU; 0 is the control word of an empty table.
            unsafe { self.arch.write_control(PoolId::ALL[p], 0) };
        }
        state.epoch.store(u32::MAX, Ordering::Relaxed);
        if state.armed.swap(false, Ordering::Relaxed) {
            // SAFETY: current CPU; nothing is armed any more.
            unsafe { self.arch.set_armed(false) };
        }
        Ok(())
    }

    /// Reloads the current CPU if anything it loaded changed. Kernels call
    /// it where a CPU leaves a kernel debugger's stop; the registry calls it
    /// on every CPU after each update.
    ///
    /// # Examples
    ///
    /// A slot the debugger installed on CPU 0 reaches CPU 1 when CPU 1
    /// refreshes:
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(2));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 2, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..2 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// let traps = |cpu| machine.access(cpu, k, 8, AccessKind::Write, Space::Kernel).is_some();
    /// on_cpu(0, || registry.debugger_install(&Request::write(k, 8)))?;
    /// assert!(traps(0) && !traps(1));
    /// on_cpu(1, || registry.refresh());
    /// assert!(traps(1));
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn refresh(&self) {
        let Some((cpu, state)) = self.cpu_state() else {
            return;
        };
        if !state.online.load(Ordering::Relaxed) {
            return;
        }
        let task = state.loaded_task();
        if !self.up_to_date(state, Self::task_word(task)) {
            self.load(cpu, task, false);
        }
    }

    /// Publishes an update's records to every CPU: bumps the epoch (the
    /// records were written under the lock, released by now), then reloads
    /// every CPU. Every updating call that wrote a record
    /// ends here, which is what lets [`Self::up_to_date`] check one word.
    fn refresh_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.platform.run_on_each_cpu(&|| self.refresh());
    }

    /// What the current CPU wants loaded: the system set and debugger slots
    /// at their fixed indices, and its own and `task`'s tokens.
    fn wanted(
        &self,
        cpu: usize,
        task: Option<TaskId>,
        state: &CpuState<SLOTS>,
    ) -> ([[Token; SLOTS]; MAX_POOLS], Wanted<SLOTS>, [u64; MAX_POOLS]) {
        // Before the records: see `up_to_date`.
        let epoch = self.epoch.load(Ordering::Acquire);
        let system = self.system.read();
        let mut fixed = system.tokens;
        for (p, pool) in self.debugger.iter().enumerate() {
            for (k, slot) in pool.iter().enumerate() {
                if slot.state.load(Ordering::Acquire) == records::DEBUGGER_ARMED {
                    fixed[p][k] = Token::debugger(p * MAX_SLOTS + k);
                }
            }
        }
        let mut local = self.cpu_records[cpu].read_for(cpu as u32);
        if let Some(t) = task {
            // The context's record may be longer than a pool, but what of
            // it applies on one CPU, with the CPU's own, fits the pool (the
            // reservation bounds every CPU's load), so `SLOTS` holds it.
            let own = self.contexts[t.0 as usize].read_for(cpu as u32);
            for p in 0..MAX_POOLS {
                for &tok in &own.tokens[p][..own.len[p]] {
                    local.push(p, tok);
                }
            }
        }
        // Record what was read; a writer that raced us bumps the epoch
        // after its writes, so the next check reloads again.
        state.epoch.store(epoch, Ordering::Relaxed);
        (fixed, local, system.control)
    }

    /// Loads the current CPU's registers for `task`. `full`: rewrite every
    /// slot (the hardware may have lost them).
    fn load(&self, cpu: usize, task: Option<TaskId>, full: bool) {
        let state = &self.cpus[cpu];
        let (fixed, local, system_control) = self.wanted(cpu, task, state);
        state
            .task
            .store(task.map_or(0, |t| t.0 + 1), Ordering::Relaxed);
        let counts = self.slot_counts();
        for p in 0..A::POOLS {
            let n = counts.0[p] as usize;
            let installed = state.installed(p);
            let (table, _dropped) =
                place(&installed, &fixed[p], &local.tokens[p][..local.len[p]], n);
            self.write_pool(state, p, &table, &fixed[p], system_control[p], full);
        }
        self.update_armed(state, full);
    }

    /// Writes the slots of one pool that differ from `table`, then the
    /// control word if it changed.
    fn write_pool(
        &self,
        state: &CpuState<SLOTS>,
        p: usize,
        table: &[Token; SLOTS],
        system: &[Token; SLOTS],
        system_control: u64,
        full: bool,
    ) {
        let pool = PoolId::ALL[p];
        let n = self.slot_counts().0[p] as usize;
        let mut own = [None; SLOTS];
        let mut stepping = state.stepping[p].load(Ordering::Relaxed);
        if full {
            stepping = 0;
        }
        let mut all = [None; SLOTS];
        let mut system_mask = 0;
        for k in 0..n {
            let changed = table[k] != state.token(p, k);
            if changed {
                // A new token (the breakpoint was updated or left) drops a
                // local re-pointing of the slot.
                state.clear_local(p, k);
            }
            let image = self.slot_image(state, p, k, table[k]);
            all[k] = image;
            // Slots of the system set are in `system_control` already;
            // everything else is added here: own and task slots, where the
            // table differs from the system set, and the debugger's, which
            // the set passed in holds fixed in place like its own.
            if table[k].is_debugger() || table[k] != system[k] {
                own[k] = image;
            } else if !table[k].is_empty() {
                system_mask |= 1 << k;
            }
            if changed || full {
                state.tokens[p][k].store(table[k].0, Ordering::Relaxed);
                stepping &= !(1 << k);
                // SAFETY: current CPU; the table was updated first, so a hit
                // on the new image finds its owner.
                unsafe { self.arch.write_slot(pool, k, image) };
            }
        }
        state.stepping[p].store(stepping, Ordering::Relaxed);
        state.system_mask[p].store(system_mask as SlotMask, Ordering::Relaxed);
        let control = if state.any_local(p) {
            // A slot re-pointed here alone: the system-wide word does not
            // describe it, so this CPU computes its own from its table.
            self.arch.control_word(pool, &all[..n])
        } else {
            system_control | self.arch.control_word(pool, &own[..n])
        };
        if full || control != state.control[p].load(Ordering::Relaxed) {
            state.control[p].store(control, Ordering::Relaxed);
            // SAFETY: current CPU; the word is the OR of control words the
            // backend computed for this CPU's table.
            unsafe { self.arch.write_control(pool, control) };
        }
    }

    fn update_armed(&self, state: &CpuState<SLOTS>, full: bool) {
        let counts = self.slot_counts();
        let any =
            (0..A::POOLS).any(|p| (0..counts.0[p] as usize).any(|k| !state.token(p, k).is_empty()));
        if full || state.armed.load(Ordering::Relaxed) != any {
            state.armed.store(any, Ordering::Relaxed);
            // SAFETY: current CPU, on an armed/disarmed transition.
            unsafe { self.arch.set_armed(any) };
        }
    }

    /// The image armed in `index` of `pool` on the current CPU, per the
    /// registry's table (`None` for an empty slot, or one disarmed while a
    /// step over its hit is in progress). `SlotOutOfRange` past the pool's
    /// slots.
    ///
    /// For OSes that must rewrite slots themselves (the ppc64 boards disarm
    /// every slot around the debug exception and restore them from here)
    /// and for diagnostics.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{ErrorKind, PoolId, Request};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k, 8))?;
    /// let armed: Vec<_> =
    ///     (0..4).filter_map(|i| registry.armed_slot(PoolId::FIRST, i).unwrap()).collect();
    /// assert_eq!(armed.len(), 1);
    /// assert_eq!(armed[0].value, k);
    /// let err = registry.armed_slot(PoolId::FIRST, 4).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::SlotOutOfRange);
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn armed_slot(&self, pool: PoolId, index: usize) -> Result<Option<SlotImage>> {
        let counts = self.ready()?;
        if pool.index() >= A::POOLS {
            return Err(ErrorKind::SlotOutOfRange.into());
        }
        if index >= counts.get(pool) {
            return Err(ErrorKind::SlotOutOfRange.into());
        }
        let Some((_, state)) = self.cpu_state() else {
            return Err(ErrorKind::BadCpu.into());
        };
        let p = pool.index();
        if state.stepping[p].load(Ordering::Relaxed) & (1 << index) != 0 {
            return Ok(None);
        }
        Ok(self.slot_image(state, p, index, state.token(p, index)))
    }

    /// Slots of `pool` the busiest CPU uses (normal path) and slots the
    /// kernel debugger holds, as the shared ledger says.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{PoolId, Request};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k, 16))?; // two slots
    /// registry.debugger_install(&Request::execute(0xffff_8000_0000_1000))?;
    /// assert_eq!(registry.pool_usage(PoolId::FIRST), (2, 1));
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn pool_usage(&self, pool: PoolId) -> (u32, u32) {
        (self.ledger.load(pool), self.ledger.debugger_slots(pool))
    }
}

// Manual: the registry holds atomics, a lock and per-CPU tables. A log
// line gets what an operator asks first: which backend, whether `init`
// ran, how many slots each pool has, and how full each pool is (the normal
// path's busiest CPU and the kernel debugger's slots, from the ledger).
#[cfg(feature = "defmt")]
impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > defmt::Format for Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    fn format(&self, f: defmt::Formatter<'_>) {
        let usage: [(u32, u32); MAX_POOLS] =
            core::array::from_fn(|p| self.pool_usage(PoolId::ALL[p]));
        defmt::write!(
            f,
            "Registry {{ arch: {=str}, initialized: {=bool}, cpus: {=u32}, slots: {}, usage (load, debugger): {} }}",
            A::NAME,
            self.id.load(Ordering::Relaxed) != 0,
            self.cpu_limit.load(Ordering::Relaxed),
            self.slot_counts(),
            usage
        )
    }
}
