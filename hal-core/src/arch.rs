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
    pub const fn new(index: usize) -> Option<Self> {
        if index < MAX_POOLS {
            Some(Self(index as u8))
        } else {
            None
        }
    }

    /// The pool's index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// How many slots each pool has (pools past the backend's count have 0).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SlotCounts(pub [u8; MAX_POOLS]);

impl SlotCounts {
    /// Slots in `pool`.
    pub const fn get(&self, pool: PoolId) -> usize {
        self.0[pool.index()] as usize
    }
}

/// The register image of one armed slot: the value register (an address)
/// and the slot's control bits, in whatever layout the backend defines.
/// The core stores and compares images; only the backend interprets them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SlotImage {
    /// Value register (DRn, DBGxVRn, DAWRn, CIABR, DABR).
    pub value: u64,
    /// Control bits (x86: this slot's DR7 fields, unshifted; AArch64:
    /// DBGxCRn; ppc64: DAWRXn / DABRX).
    pub control: u64,
}

/// The memory type of a range, as the platform knows it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MemoryType {
    /// Ordinary cacheable memory.
    #[default]
    Normal,
    /// Cache-inhibited (device) memory.
    CacheInhibited,
}

/// One piece of a request, small enough for one slot.
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

/// A debug exception, decoded by the backend.
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
pub trait SlotView {
    /// The image armed in slot `index` of `pool`, if any.
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage>;
}

/// An architecture backend. Implemented by one (normally zero-sized) type
/// per architecture; every method but the `unsafe` ones is pure.
pub trait Arch: Sync {
    /// Short name for diagnostics ("x86_64", "aarch64", ...).
    const NAME: &'static str;

    /// Number of pools this backend uses (1 or 2, at most [`MAX_POOLS`]).
    const POOLS: usize;

    /// What the OS's exception entry hands to [`Arch::decode`]: status
    /// registers and the saved state the decoder needs.
    type Trap;

    /// The pool serving `kind`, or `UnsupportedKind`.
    fn pool_of(&self, kind: AccessKind) -> Result<PoolId>;

    /// Slots per pool. May read identification registers (AArch64
    /// ID_AA64DFR0_EL1); called once at registry initialisation. Counts
    /// above [`MAX_SLOTS`] are clamped by the core.
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

    /// Validates one piece and returns its register image (pure).
    fn encode(&self, piece: &Piece) -> Result<SlotImage>;

    /// The pool's control word for a slot table (`slots[i]` is slot `i`).
    /// Control words of disjoint tables must combine with bitwise OR, so the
    /// core can compute the system-wide part once. Backends without a
    /// shared control register return 0.
    fn control_word(&self, pool: PoolId, slots: &[Option<SlotImage>]) -> u64;

    /// Decodes a debug exception (pure).
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
