//! The contract between the core and an architecture backend.
//!
//! The core owns everything that is the same on every machine (lists,
//! reservation, priorities, per-CPU state, the update protocol, dispatch). A
//! backend answers five questions, and only these:
//!
//! 1. how many slots of each kind exist ([`Arch::slot_counts`], [`Arch::pool_of`]);
//! 2. whether a piece of a request is expressible, and its register image
//!    ([`Arch::max_piece`], [`Arch::encode`]: pure, host-testable);
//! 3. the control word computed from a slot table ([`Arch::control_word`]);
//! 4. storing registers ([`Arch::write_slot`], [`Arch::write_control`],
//!    [`Arch::set_armed`]: the only hardware writes);
//! 5. decoding a debug exception into hit slots and the resume action
//!    ([`Arch::decode`], [`Arch::acknowledge`]).

use crate::error::Result;
use crate::request::{AccessKind, Space};

/// Most pools (kinds of interchangeable slots) any backend has: x86 has one
/// shared pool, AArch64 and ppc64 a code pool and a data pool.
pub const MAX_POOLS: usize = 2;

/// Most slots of one pool any backend has (AArch64 allows 16 of each).
pub const MAX_SLOTS: usize = 16;

/// One pool of interchangeable slots.
///
/// Which pool serves which access kind is the backend's answer to
/// [`Arch::pool_of`]: x86 uses [`PoolId::FIRST`] for everything; AArch64 and
/// ppc64 use [`PoolId::FIRST`] for code and [`PoolId::SECOND`] for data.
///
/// # Examples
///
/// ```
/// use hwbreak_core::{PoolId, MAX_POOLS};
/// assert_eq!(PoolId::new(1), Some(PoolId::SECOND));
/// assert_eq!(PoolId::new(MAX_POOLS), None);
/// for (i, pool) in PoolId::ALL.iter().enumerate() {
///     assert_eq!(pool.index(), i);
/// }
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolId(u8);

impl PoolId {
    /// The first pool (x86: the shared pool; AArch64/ppc64: the code pool).
    pub const FIRST: Self = Self(0);
    /// The second pool (AArch64/ppc64: the data pool).
    pub const SECOND: Self = Self(1);
    /// Every pool index, in order.
    pub const ALL: [Self; MAX_POOLS] = [Self::FIRST, Self::SECOND];

    /// The pool with index `index`, if below [`MAX_POOLS`].
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::PoolId;
    /// assert_eq!(PoolId::new(0), Some(PoolId::FIRST));
    /// assert_eq!(PoolId::new(7), None);
    /// ```
    pub const fn new(index: usize) -> Option<Self> {
        if index < MAX_POOLS {
            Some(Self(index as u8))
        } else {
            None
        }
    }

    /// The pool's index.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::PoolId;
    /// let per_pool = [4u32, 2];
    /// assert_eq!(per_pool[PoolId::SECOND.index()], 2);
    /// ```
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// How many slots each pool has (pools past the backend's count have 0).
///
/// # Examples
///
/// ```
/// use hwbreak_core::{PoolId, SlotCounts};
/// // An AArch64 part with 6 breakpoints and 4 watchpoints.
/// let counts = SlotCounts([6, 4]);
/// assert_eq!(counts.get(PoolId::FIRST), 6);
/// assert_eq!(counts.get(PoolId::SECOND), 4);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SlotCounts(pub [u8; MAX_POOLS]);

impl SlotCounts {
    /// Slots in `pool`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{PoolId, SlotCounts};
    /// // x86: one pool of four.
    /// assert_eq!(SlotCounts([4, 0]).get(PoolId::SECOND), 0);
    /// ```
    pub const fn get(&self, pool: PoolId) -> usize {
        self.0[pool.index()] as usize
    }
}

/// The register image of one armed slot: the value register (an address)
/// and the slot's control bits, in whatever layout the backend defines.
/// The core stores and compares images; only the backend interprets them.
///
/// # Examples
///
/// ```
/// use hwbreak_core::SlotImage;
/// // What the x86 backend stores for a 4-byte write watch at 0x1000:
/// // DR0 = 0x1000; G0 = 1, R/W0 = 01, LEN0 = 11 (unshifted DR7 fields).
/// let image = SlotImage { value: 0x1000, control: 0x000d_0002 };
/// // Images compare by value: the core writes a slot only when it changed.
/// assert_eq!(image, SlotImage { value: 0x1000, control: 0xd_0002 });
/// assert_eq!(SlotImage::default(), SlotImage { value: 0, control: 0 });
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SlotImage {
    /// Value register (DRn, DBGxVRn, DAWRn, CIABR, DABR).
    pub value: u64,
    /// Control bits (x86: this slot's DR7 fields, unshifted; AArch64:
    /// DBGxCRn; ppc64: DAWRXn / DABRX).
    pub control: u64,
}

/// The memory type of a range, as the platform knows it
/// ([`Platform::memory_type`](crate::Platform::memory_type)).
///
/// # Examples
///
/// ```
/// use hwbreak_core::MemoryType;
/// assert_eq!(MemoryType::default(), MemoryType::Normal);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MemoryType {
    /// Ordinary cacheable memory.
    #[default]
    Normal,
    /// Cache-inhibited (device) memory.
    CacheInhibited,
}

/// One piece of a request, small enough for one slot: what
/// [`Arch::encode`] receives. The core produces pieces with
/// [`exact_cover`](crate::cover::exact_cover).
///
/// # Examples
///
/// ```
/// use hwbreak_core::{AccessKind, MemoryType, Piece, Space};
/// let piece = Piece {
///     addr: 0x1004,
///     len: 4,
///     kind: AccessKind::Write,
///     space: Space::Kernel,
///     memory: MemoryType::Normal,
/// };
/// assert_eq!(piece.addr + piece.len, 0x1008);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Piece {
    /// First byte.
    pub addr: u64,
    /// Length in bytes (at least 1; `addr + len` does not overflow).
    pub len: u64,
    /// Access kind.
    pub kind: AccessKind,
    /// Address space and privilege.
    pub space: Space,
    /// Memory type of the range.
    pub memory: MemoryType,
}

/// What the trap return must do so execution continues correctly.
///
/// [`Registry::on_debug_exception`](crate::Registry::on_debug_exception)
/// returns it in [`Outcome::resume`](crate::Outcome::resume); the OS
/// applies it to the saved context before returning from the exception:
///
/// | | x86_64 | AArch64 | ppc64 |
/// |---|---|---|---|
/// | `SetResumeFlag` | RFLAGS.RF = 1 | - | - |
/// | `SingleStep` | - | `hwbreak_aarch64::cpu::apply_resume` (MDSCR_EL1.SS, SPSR.SS) | MSR\[SE\] = 1 in SRR1 |
/// | `EndSingleStep` | - | `apply_resume` (clears both) | MSR\[SE\] = 0 in SRR1 |
///
/// # Examples
///
/// An x86 #DB handler's last step, on the saved RFLAGS:
///
/// ```
/// use hwbreak_core::Resume;
///
/// const RFLAGS_RF: u64 = 1 << 16;
///
/// fn apply(resume: Resume, saved_rflags: &mut u64) {
///     match resume {
///         // The instruction faulted before it ran: RF lets it run once.
///         Resume::SetResumeFlag => *saved_rflags |= RFLAGS_RF,
///         // x86 never asks for a step; data hits trap after the access.
///         Resume::Continue | Resume::SingleStep | Resume::EndSingleStep => {}
///     }
/// }
///
/// let mut rflags = 0x202;
/// apply(Resume::SetResumeFlag, &mut rflags);
/// assert_eq!(rflags, 0x1_0202);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Resume {
    /// Return as usual.
    Continue,
    /// Set the resume flag in the saved flags (x86 RFLAGS.RF) so the
    /// faulting instruction's execute breakpoint does not re-trigger.
    SetResumeFlag,
    /// The hit slots were disarmed; single-step one instruction (AArch64
    /// MDSCR_EL1.SS + SPSR.SS, ppc64 MSR\[SE\]) and deliver the step
    /// exception to the registry, which re-arms them.
    SingleStep,
    /// A single step requested earlier is complete and its slots re-armed:
    /// clear the single-step state in the saved context.
    EndSingleStep,
}

/// A debug exception, decoded by the backend ([`Arch::decode`]).
///
/// # Examples
///
/// ```
/// use hwbreak_core::{Decoded, PoolId, Resume};
/// // Slot 2 of the data pool matched a 4-byte store at 0x1004.
/// let mut d = Decoded {
///     address: Some(0x1004),
///     access_len: 4,
///     resume: Some(Resume::SingleStep),
///     ..Decoded::default()
/// };
/// assert!(!d.any_hit());
/// d.hits[PoolId::SECOND.index()] |= 1 << 2;
/// assert!(d.any_hit());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decoded {
    /// Bit `i` of `hits[p]`: slot `i` of pool `p` matched.
    pub hits: [u32; MAX_POOLS],
    /// The accessed (or fetched) address, where the hardware reports it.
    pub address: Option<u64>,
    /// Bytes accessed from `address`, where known (0: unknown). Used to drop
    /// hits outside the requested range without dropping wide accesses that
    /// begin below it.
    pub access_len: u8,
    /// The exception is the completion of a single step the registry asked for.
    pub step_complete: bool,
    /// What the return must do for these hits (ignored when nothing hit).
    pub resume: Option<Resume>,
}

impl Decoded {
    /// Whether any slot matched.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::Decoded;
    /// // A completed single step names no slot.
    /// let step = Decoded { step_complete: true, ..Decoded::default() };
    /// assert!(!step.any_hit());
    /// ```
    pub const fn any_hit(&self) -> bool {
        let mut p = 0;
        while p < MAX_POOLS {
            if self.hits[p] != 0 {
                return true;
            }
            p += 1;
        }
        false
    }
}

/// Read-only view of the slots armed on the current CPU, for decoders that
/// must match an address against them (AArch64 watchpoints, ppc64).
///
/// The registry passes its own view to [`Arch::decode`]; a debugger or
/// test that uses a decoder without a registry implements it over what it
/// armed itself.
///
/// # Examples
///
/// ```
/// use hwbreak_core::{PoolId, SlotImage, SlotView};
///
/// /// Two data slots a self-test armed by hand.
/// struct Armed([Option<SlotImage>; 2]);
///
/// impl SlotView for Armed {
///     fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
///         if pool == PoolId::SECOND { self.0.get(index).copied().flatten() } else { None }
///     }
/// }
///
/// let view = Armed([None, Some(SlotImage { value: 0x1000, control: 1 })]);
/// assert_eq!(view.slot(PoolId::SECOND, 1).map(|i| i.value), Some(0x1000));
/// assert_eq!(view.slot(PoolId::FIRST, 1), None);
/// ```
pub trait SlotView {
    /// The image armed in slot `index` of `pool`, if any (`None` also for
    /// an index or pool the view does not have). See [`SlotView`] for an
    /// example.
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage>;
}

/// An architecture backend. Implemented by one (normally zero-sized) type
/// per architecture; every method but the `unsafe` ones is pure.
///
/// Kernels use a backend crate's type (`hwbreak::ArchImpl`); implementing
/// this trait is only needed to port hwbreak to another architecture.
///
/// # Examples
///
/// A complete backend for a made-up machine with two data slots, each
/// watching one aligned 8-byte word for stores and trapping after the
/// store, driven through a registry. Real backends follow the same shape:
/// pure validation and encoding, a decoder, and register writes.
///
/// ```
/// use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
/// use hwbreak_core::{
///     AccessKind, Arch, CpuId, Decoded, ErrorKind, Event, Piece, Platform, PoolId, Registry,
///     Request, Result, Resume, SlotCounts, SlotImage, SlotView, Space,
/// };
///
/// /// Stands in for the machine's two address registers.
/// static ADDRESS_REGS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
///
/// struct Toy;
///
/// /// What the exception entry reads: one status bit per slot that matched.
/// struct ToyTrap {
///     status: u32,
/// }
///
/// impl Arch for Toy {
///     const NAME: &'static str = "toy";
///     const POOLS: usize = 1;
///     type Trap = ToyTrap;
///
///     fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
///         match kind {
///             AccessKind::Write => Ok(PoolId::FIRST),
///             _ => Err(ErrorKind::UnsupportedKind.into()),
///         }
///     }
///     fn slot_counts(&self) -> SlotCounts {
///         SlotCounts([2, 0])
///     }
///     fn check_range(&self, _addr: u64, _end: u64, _space: Space) -> Result<()> {
///         Ok(()) // every address is implemented
///     }
///     fn max_piece(&self, _kind: AccessKind, addr: u64, len: u64) -> Result<u64> {
///         // One slot covers exactly one aligned word, nothing less.
///         if addr % 8 != 0 {
///             return Err(ErrorKind::Misaligned.into());
///         }
///         if len < 8 {
///             return Err(ErrorKind::UnsupportedLength.into());
///         }
///         Ok(8)
///     }
///     fn encode(&self, piece: &Piece) -> Result<SlotImage> {
///         if piece.addr % 8 != 0 || piece.len != 8 {
///             return Err(ErrorKind::Misaligned.into());
///         }
///         Ok(SlotImage { value: piece.addr, control: 1 })
///     }
///     fn control_word(&self, _pool: PoolId, _slots: &[Option<SlotImage>]) -> u64 {
///         0 // no shared control register
///     }
///     fn decode(&self, trap: &ToyTrap, _armed: &dyn SlotView) -> Decoded {
///         Decoded {
///             hits: [trap.status & 0b11, 0],
///             // The store has happened: nothing to step over.
///             resume: Some(Resume::Continue),
///             ..Decoded::default()
///         }
///     }
///     unsafe fn write_slot(&self, _pool: PoolId, index: usize, image: Option<SlotImage>) {
///         ADDRESS_REGS[index].store(image.map_or(0, |i| i.value), Ordering::Relaxed);
///     }
///     unsafe fn write_control(&self, _pool: PoolId, _control: u64) {}
///     unsafe fn set_armed(&self, _armed: bool) {}
///     unsafe fn acknowledge(&self, _trap: &ToyTrap) {}
/// }
///
/// struct OneCpu;
///
/// impl Platform for OneCpu {
///     fn cpu_count(&self) -> u32 {
///         1
///     }
///     fn current_cpu(&self) -> CpuId {
///         CpuId(0)
///     }
///     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
///         critical_section::with(|_| f());
///     }
///     fn user_limit(&self) -> u64 {
///         0x8000_0000
///     }
/// }
///
/// static REGISTRY: Registry<Toy, OneCpu, 8, 1, 1> = Registry::new(Toy, OneCpu);
/// static HITS: AtomicU32 = AtomicU32::new(0);
///
/// fn on_hit(_: &Event) {
///     HITS.fetch_add(1, Ordering::Relaxed);
/// }
///
/// REGISTRY.init()?;
/// REGISTRY.cpu_online()?;
/// // 16 bytes need both slots: the core splits the range with `max_piece`.
/// let h = REGISTRY.register(&Request::write(0x9000_1000, 16).handler(on_hit, 0))?;
/// let regs = ADDRESS_REGS.each_ref().map(|r| r.load(Ordering::Relaxed));
/// assert!(regs.contains(&0x9000_1000) && regs.contains(&0x9000_1008));
/// // What the backend cannot express is refused, precisely.
/// let err = REGISTRY.register(&Request::write(0x9000_2004, 4)).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Misaligned);
/// // A store into the second word traps in whichever slot holds it.
/// let slot = regs.iter().position(|&a| a == 0x9000_1008).unwrap();
/// let out = REGISTRY.on_debug_exception(&ToyTrap { status: 1 << slot });
/// assert_eq!((out.delivered, out.resume), (1, Resume::Continue));
/// assert_eq!(HITS.load(Ordering::Relaxed), 1);
/// REGISTRY.unregister(h)?;
/// assert!(ADDRESS_REGS.iter().all(|r| r.load(Ordering::Relaxed) == 0));
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub trait Arch: Sync {
    /// Short name for diagnostics ("x86_64", "aarch64", ...).
    ///
    /// See [`Arch`] for an example implementation.
    const NAME: &'static str;

    /// Number of pools this backend uses (1 or 2, at most [`MAX_POOLS`]).
    /// The registry only touches pools below it.
    const POOLS: usize;

    /// What the OS's exception entry hands to [`Arch::decode`]: status
    /// registers and the saved state the decoder needs (x86: DR6; AArch64:
    /// ESR, FAR, ELR; ppc64: the vector, SRR0/1, DAR, DSISR and the decoded
    /// access).
    type Trap;

    /// The pool serving `kind`, or `UnsupportedKind` (`NotEnabled` where
    /// the OS must first switch the kind on, as x86 I/O breakpoints).
    fn pool_of(&self, kind: AccessKind) -> Result<PoolId>;

    /// Slots per pool. May read identification registers (AArch64
    /// ID_AA64DFR0_EL1); called once at registry initialisation, which
    /// refuses a pool above the registry's `SLOTS` capacity
    /// ([`ErrorKind::SlotCapacity`](crate::ErrorKind::SlotCapacity)). A
    /// backend whose hardware may have more than [`MAX_SLOTS`] reports
    /// [`MAX_SLOTS`] and leaves the rest unused.
    fn slot_counts(&self) -> SlotCounts;

    /// Address-form checks the hardware imposes on the whole range
    /// `[addr, end)` (canonical form, implemented address bits).
    fn check_range(&self, addr: u64, end: u64, space: Space) -> Result<()>;

    /// The length of the longest prefix of `[addr, addr + len)` that one slot
    /// covers exactly (hardware plus the core's hit filtering), between 1 and
    /// `len`, or why none can. The core covers a range greedily with these
    /// pieces, so the answer must make greedy covering minimal (true for
    /// naturally aligned power-of-two blocks and for byte selects within a
    /// granule).
    fn max_piece(&self, kind: AccessKind, addr: u64, len: u64) -> Result<u64>;

    /// Validates one piece and returns its register image (pure). Called
    /// for every piece before anything changes, so an `Err` here refuses
    /// the whole request.
    fn encode(&self, piece: &Piece) -> Result<SlotImage>;

    /// The pool's control word for a slot table (`slots[i]` is slot `i`).
    /// Control words of disjoint tables must combine with bitwise OR, so the
    /// core can compute the system-wide part once. Backends without a
    /// shared control register return 0.
    fn control_word(&self, pool: PoolId, slots: &[Option<SlotImage>]) -> u64;

    /// Decodes a debug exception (pure): which armed slots matched, the
    /// reported address and access length (used to filter hits beside the
    /// requested bytes), whether it completes a single step, and the
    /// [`Resume`] the hits need. `armed` is the current CPU's table.
    fn decode(&self, trap: &Self::Trap, armed: &dyn SlotView) -> Decoded;

    /// Writes one slot's registers on the current CPU (`None`: disarm it).
    ///
    /// # Safety
    /// Must run on the CPU whose registers are meant, with the core's
    /// per-CPU table updated to match; the image must come from
    /// [`Arch::encode`] of this backend.
    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>);

    /// Writes the pool's control word on the current CPU.
    ///
    /// # Safety
    /// As for [`Arch::write_slot`]; the word must come from
    /// [`Arch::control_word`] (OR-combined).
    unsafe fn write_control(&self, pool: PoolId, control: u64);

    /// Turns the CPU's debug machinery on when the first slot is armed and
    /// off when the last is disarmed (AArch64: OS lock, MDSCR_EL1.MDE/KDE).
    ///
    /// # Safety
    /// Current CPU only; called by the core on transitions.
    unsafe fn set_armed(&self, armed: bool);

    /// Keeps the CPU from taking nested debug exceptions while the registry
    /// handles one (x86: DR7 = 0). The core restores the control words
    /// afterwards with [`Arch::write_control`].
    ///
    /// # Safety
    /// Current CPU only, inside its debug exception handler.
    unsafe fn suspend(&self) {}

    /// Clears sticky status after an exception was handled (x86: DR6 to its
    /// reset value).
    ///
    /// # Safety
    /// Current CPU only, inside its debug exception handler.
    unsafe fn acknowledge(&self, trap: &Self::Trap);
}
