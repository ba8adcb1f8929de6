#![doc = include_str!("../README.md")]
//! # Where to start
//!
//! - [`Ppc64`]: the backend value a `Registry` is built with, of a
//!   [`Family`] and a [`Mode`];
//! - [`Trap`]: what the 0x300 and 0xD00 vectors hand over;
//! - [`access`]: decoding the trapping load or store;
//! - [`registers`] ([`Dawr`], [`Dawrx`], [`Ciabr`], [`Dabr`], ...): the pure
//!   encoders; [`route`]: hcall or `mtspr`.
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

#[cfg(all(
    target_arch = "powerpc64",
    not(any(feature = "dabr", feature = "dawr", feature = "dawr2"))
))]
compile_error!("hwbreak-ppc64: select one register family feature: `dabr`, `dawr` or `dawr2`");

#[cfg(all(
    target_arch = "powerpc64",
    any(
        all(feature = "dabr", feature = "dawr"),
        all(feature = "dabr", feature = "dawr2"),
        all(feature = "dawr", feature = "dawr2")
    )
))]
compile_error!("hwbreak-ppc64: the features `dabr`, `dawr` and `dawr2` are mutually exclusive");

pub mod access;
pub mod registers;
pub mod route;

use core::sync::atomic::{AtomicI64, Ordering};

use hwbreak_core::{
    AccessKind, Arch, Decoded, ErrorKind, MemoryType, Piece, PoolId, Result, Resume, SlotCounts,
    SlotImage, SlotView, Space,
};

pub use access::Access;
pub use registers::ciabr::Ciabr;
pub use registers::dabr::Dabr;
pub use registers::dabrx::Dabrx;
pub use registers::dawr::Dawr;
pub use registers::dawrx::Dawrx;
pub use registers::dsisr::Dsisr;
pub use registers::srr1::Srr1;
pub use registers::{Privilege, Translation};
use route::{Hcall, Mtspr, Route, Target};

/// The most slots one pool has in any family (DAWR0 and DAWR1 on
/// [`Family::Dawr2`]): the `SLOTS` capacity to give a
/// [`Registry`](hwbreak_core::Registry) of this backend, so that its
/// per-CPU tables hold two slots a pool, not the core's sixteen.
///
/// ```
/// use hwbreak_core::{Arch, SlotCounts};
/// use hwbreak_ppc64::{Family, Ppc64, SLOTS};
/// for family in [Family::Dabr, Family::Dawr, Family::Dawr2] {
///     let SlotCounts(counts) = Ppc64::new(family).slot_counts();
///     assert!(counts.iter().all(|&n| usize::from(n) <= SLOTS));
/// }
/// assert_eq!(Ppc64::new(Family::Dawr2).slot_counts(), SlotCounts([1, SLOTS as u8]));
/// ```
pub const SLOTS: usize = 2;

/// The code pool (CIABR; empty on [`Family::Dabr`]).
pub const CODE_POOL: PoolId = PoolId::FIRST;
/// The data pool (DABR or DAWRn).
pub const DATA_POOL: PoolId = PoolId::SECOND;

/// Interrupt vector of the Data Storage interrupt (DABR/DAWR matches, with
/// DSISR\[41\] set).
pub const VECTOR_DSI: u64 = 0x300;
/// Interrupt vector of the Trace interrupt (CIABR matches and single-step
/// completions).
pub const VECTOR_TRACE: u64 = 0xd00;

/// Doubleword: the granule of every data slot.
const GRANULE: u64 = 8;
/// DAWR ranges before ISA v3.1 must stay inside one block of this size.
const DAWR_BLOCK: u64 = 512;

/// Which debug registers the part has.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::Family;
/// assert_eq!((Family::Dawr2.code_slots(), Family::Dawr2.data_slots()), (1, 2));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Family {
    /// POWER5-POWER7: DABR/DABRX, no CIABR.
    Dabr,
    /// POWER8/POWER9: DAWR0/DAWRX0 and CIABR.
    Dawr,
    /// POWER10: DAWR0/DAWRX0, DAWR1/DAWRX1 and CIABR.
    Dawr2,
}

impl Family {
    /// The family chosen by this build's feature (`powerpc64` only).
    #[cfg(all(target_arch = "powerpc64", feature = "dabr"))]
    pub const NATIVE: Self = Self::Dabr;
    /// The family chosen by this build's feature (`powerpc64` only).
    #[cfg(all(target_arch = "powerpc64", feature = "dawr"))]
    pub const NATIVE: Self = Self::Dawr;
    /// The family chosen by this build's feature (`powerpc64` only).
    #[cfg(all(target_arch = "powerpc64", feature = "dawr2"))]
    pub const NATIVE: Self = Self::Dawr2;

    /// Data slots.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Family;
    /// assert_eq!(Family::Dabr.data_slots(), 1);
    /// ```
    pub const fn data_slots(self) -> usize {
        match self {
            Self::Dabr | Self::Dawr => 1,
            Self::Dawr2 => 2,
        }
    }

    /// Instruction slots.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Family;
    /// assert_eq!(Family::Dabr.code_slots(), 0); // no CIABR before POWER8
    /// ```
    pub const fn code_slots(self) -> usize {
        match self {
            Self::Dabr => 0,
            Self::Dawr | Self::Dawr2 => 1,
        }
    }
}

/// The privilege state the kernel runs in, which also picks how registers
/// are written.
///
/// # Examples
///
/// ```
/// use hwbreak_core::Space;
/// use hwbreak_ppc64::{Family, Mode, Ppc64, Privilege};
/// // A bare-metal kernel: its watches match in hypervisor state.
/// let bare = Ppc64::new(Family::Dawr).mode(Mode::Hypervisor);
/// assert_eq!(bare.privilege(Space::Kernel), Privilege::HYPERVISOR);
/// assert_eq!(Mode::default(), Mode::Guest);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// In a logical partition (MSR\[HV\] = 0): kernel watches match in
    /// privileged non-hypervisor state; registers are set through hcalls.
    #[default]
    Guest,
    /// In hypervisor state (bare metal, MSR\[HV\] = 1): kernel watches match
    /// in hypervisor state; registers are written with `mtspr`.
    Hypervisor,
}

static LAST_STATUS: AtomicI64 = AtomicI64::new(route::H_SUCCESS);

/// The status the hypervisor returned for the last register write
/// ([`route::H_SUCCESS`] = 0; always 0 in [`Mode::Hypervisor`]). Success
/// does not prove the register traps.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::{last_status, route};
/// // Nothing written yet (and on the host the hcall is a stand-in).
/// assert_eq!(last_status(), route::H_SUCCESS);
/// ```
pub fn last_status() -> i64 {
    LAST_STATUS.load(Ordering::Relaxed)
}

/// What the OS's exception entry hands to the decoder.
///
/// # Examples
///
/// What the `qemu-pseries` board builds in its exception path for a DAWR
/// hit (it decodes the trapping instruction with [`access::decode`]):
///
/// ```
/// use hwbreak_ppc64::{access, Dsisr, Trap, VECTOR_DSI};
///
/// let mut gpr = [0u64; 32];
/// gpr[3] = 0x2000;
/// let stw_r5_8_r3 = (36 << 26) | (5 << 21) | (3 << 16) | 8; // stw r5, 8(r3)
/// let trap = Trap {
///     vector: VECTOR_DSI,
///     srr0: 0x40_1000,
///     dar: 0x2008,
///     dsisr: Dsisr::DABR_MATCH | Dsisr::STORE,
///     access: access::decode(stw_r5_8_r3, &gpr),
///     ..Trap::default()
/// };
/// assert_eq!(trap.access.map(|a| (a.ea, a.len)), Some((0x2008, 4)));
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Trap {
    /// The interrupt vector ([`VECTOR_DSI`], [`VECTOR_TRACE`], ...).
    pub vector: u64,
    /// SRR0: the instruction that trapped (not yet executed), or for a
    /// single-step trace the next instruction.
    pub srr0: u64,
    /// SRR1: the interrupted MSR plus interrupt status bits.
    pub srr1: u64,
    /// DAR (Data Storage interrupts).
    pub dar: u64,
    /// DSISR (Data Storage interrupts).
    pub dsisr: u64,
    /// The access the trapping instruction makes, decoded by the OS with
    /// [`access::decode`] from the instruction at SRR0 and the saved GPRs;
    /// `None` when unknown.
    pub access: Option<Access>,
    /// Whether the OS had set MSR\[SE\] for a single step the registry asked
    /// for (so a Trace interrupt is that step completing).
    pub stepping: bool,
}

/// The 64-bit PowerPC backend.
///
/// # Examples
///
/// A registry on a POWER9-class backend, with the exception path of the
/// `qemu-pseries` board: every slot is disarmed around
/// `on_debug_exception` and rewritten from the registry's table, and the
/// Data Storage interrupt of a hit asks for a single step. On the host the
/// register writes are stand-ins, so this runs anywhere.
///
/// ```
/// # use hwbreak_core::{CpuId, Platform};
/// # struct Kernel;
/// # impl Platform for Kernel {
/// #     fn cpu_count(&self) -> u32 { 1 }
/// #     fn current_cpu(&self) -> CpuId { CpuId(0) }
/// #     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) { critical_section::with(|_| f()) }
/// #     fn user_limit(&self) -> u64 { 0x20_0000 }
/// # }
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use hwbreak_core::{Arch, Event, PoolId, Registry, Request, Resume};
/// use hwbreak_ppc64::{access, Dsisr, Family, Ppc64, Trap, VECTOR_DSI};
///
/// static REGISTRY: Registry<Ppc64, Kernel, 64, 1, 8> =
///     Registry::new(Ppc64::new(Family::Dawr), Kernel);
/// static HITS: AtomicU32 = AtomicU32::new(0);
/// fn on_hit(_: &Event) {
///     HITS.fetch_add(1, Ordering::Relaxed);
/// }
///
/// /// Disarms every slot, or rewrites them from the registry's table.
/// fn reload_all(from_table: bool) {
///     let arch = REGISTRY.arch();
///     let counts = arch.slot_counts();
///     for pool in [PoolId::FIRST, PoolId::SECOND] {
///         for i in 0..counts.get(pool) {
///             let image = if from_table { REGISTRY.armed_slot(pool, i).ok().flatten() } else { None };
///             // SAFETY: this CPU; images come from the registry's table.
///             unsafe { arch.write_slot(pool, i, image) };
///         }
///     }
/// }
///
/// fn debug_interrupt(trap: &Trap) -> Resume {
///     reload_all(false); // a handler touching the watched data must not nest
///     let out = REGISTRY.on_debug_exception(trap);
///     reload_all(true);
///     out.resume
/// }
///
/// REGISTRY.init()?;
/// REGISTRY.cpu_online()?;
/// REGISTRY.register(&Request::write(0x40_2008, 4).handler(on_hit, 0))?;
///
/// // `stw r5, 8(r3)` with r3 = 0x40_2000 trapped at 0x40_1000.
/// let mut gpr = [0u64; 32];
/// gpr[3] = 0x40_2000;
/// let insn = (36 << 26) | (5 << 21) | (3 << 16) | 8;
/// let trap = Trap {
///     vector: VECTOR_DSI,
///     srr0: 0x40_1000,
///     dar: 0x40_2008,
///     dsisr: Dsisr::DABR_MATCH | Dsisr::STORE,
///     access: access::decode(insn, &gpr),
///     ..Trap::default()
/// };
/// // The store has not happened yet: the OS sets MSR[SE] in SRR1 and returns.
/// assert_eq!(debug_interrupt(&trap), Resume::SingleStep);
/// assert_eq!(HITS.load(Ordering::Relaxed), 1);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ppc64 {
    family: Family,
    mode: Mode,
    translation: Translation,
    max_range: u64,
}

impl Ppc64 {
    /// A backend for `family`, in [`Mode::Guest`], matching data accesses
    /// in either translation mode, with the family's full DAWR range.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::{Family, Ppc64};
    /// assert_eq!(Ppc64::new(Family::Dawr2).family(), Family::Dawr2);
    /// ```
    pub const fn new(family: Family) -> Self {
        Self {
            family,
            mode: Mode::Guest,
            translation: Translation::Either,
            max_range: DAWR_BLOCK,
        }
    }

    /// The backend for the family this build selected with its feature.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Not run: exists only when building for powerpc64 with a family
    /// // feature.
    /// use hwbreak_ppc64::{Family, Ppc64};
    /// const BACKEND: Ppc64 = Ppc64::native();
    /// assert_eq!(BACKEND.family(), Family::NATIVE);
    /// ```
    #[cfg(all(
        target_arch = "powerpc64",
        any(feature = "dabr", feature = "dawr", feature = "dawr2")
    ))]
    pub const fn native() -> Self {
        Self::new(Family::NATIVE)
    }

    /// The same backend in `mode`. See [`Mode`] for an example.
    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The same backend matching data accesses made in `translation` mode
    /// (DAWRX WT/WTI, DABR BT + DABRX BTI).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Arch, MemoryType, Piece, Space};
    /// use hwbreak_ppc64::{Dawrx, Family, Ppc64, Translation};
    /// let piece = Piece {
    ///     addr: 0x1000,
    ///     len: 8,
    ///     kind: AccessKind::Write,
    ///     space: Space::Kernel,
    ///     memory: MemoryType::Normal,
    /// };
    /// let virt = Ppc64::new(Family::Dawr).translation(Translation::Virtual);
    /// let dawrx = Dawrx::from_bits(virt.encode(&piece)?.control);
    /// assert_ne!(dawrx.bits() & Dawrx::WT, 0); // MSR[DR] = 1 accesses only
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub const fn translation(mut self, translation: Translation) -> Self {
        self.translation = translation;
        self
    }

    /// The same backend with DAWR pieces capped at `bytes` (rounded down to
    /// whole doublewords, between 8 and 512). For platforms whose DAWR
    /// watches less than the ISA says (QEMU reads MRD from the wrong bits
    /// and watches 8 bytes): longer ranges then take more slots, or are
    /// refused with `NotCoverable`, instead of silently watching less.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Arch};
    /// use hwbreak_ppc64::{Family, Ppc64};
    /// let full = Ppc64::new(Family::Dawr2);
    /// let qemu = Ppc64::new(Family::Dawr2).max_dawr_range(8);
    /// assert_eq!(full.max_piece(AccessKind::Write, 0x1000, 64)?, 64);
    /// assert_eq!(qemu.max_piece(AccessKind::Write, 0x1000, 64)?, 8);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub const fn max_dawr_range(mut self, bytes: u64) -> Self {
        let b = bytes / GRANULE * GRANULE;
        self.max_range = if b <= GRANULE {
            GRANULE
        } else if b >= DAWR_BLOCK {
            DAWR_BLOCK
        } else {
            b
        };
        self
    }

    /// The register family. See [`Ppc64::new`] for an example.
    pub const fn family(&self) -> Family {
        self.family
    }

    /// The privilege states a request in `space` matches in.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::Space;
    /// use hwbreak_ppc64::{Family, Ppc64, Privilege};
    /// let guest = Ppc64::new(Family::Dawr);
    /// assert_eq!(guest.privilege(Space::User), Privilege::PROBLEM);
    /// assert_eq!(guest.privilege(Space::Kernel), Privilege::PRIVILEGED);
    /// ```
    pub const fn privilege(&self, space: Space) -> Privilege {
        match (space, self.mode) {
            (Space::User, _) => Privilege::PROBLEM,
            (Space::Kernel, Mode::Guest) => Privilege::PRIVILEGED,
            (Space::Kernel, Mode::Hypervisor) => Privilege::HYPERVISOR,
        }
    }

    /// The bytes `[start, start + len)` a data slot image watches: whole
    /// doublewords (the core filters hits on bytes that were not asked
    /// for).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Arch, MemoryType, Piece, Space};
    /// use hwbreak_ppc64::{Family, Ppc64};
    /// let p9 = Ppc64::new(Family::Dawr);
    /// let piece = Piece {
    ///     addr: 0x1006,
    ///     len: 4,
    ///     kind: AccessKind::Write,
    ///     space: Space::Kernel,
    ///     memory: MemoryType::Normal,
    /// };
    /// // Bytes 0x1006-0x1009 span two doublewords.
    /// assert_eq!(p9.watched_range(p9.encode(&piece)?), (0x1000, 16));
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub const fn watched_range(&self, image: SlotImage) -> (u64, u64) {
        match self.family {
            Family::Dabr => (Dabr::from_bits(image.value).address(), GRANULE),
            Family::Dawr | Family::Dawr2 => (
                Dawr::from_bits(image.value).address(),
                Dawrx::from_bits(image.control).range_len(),
            ),
        }
    }

    fn data_piece(&self, addr: u64, len: u64) -> Result<u64> {
        let start = addr & !(GRANULE - 1);
        let window = match self.family {
            Family::Dabr => GRANULE,
            Family::Dawr => {
                // The enclosing granules must lie in one 512-byte block.
                let last = addr + (len - 1);
                if start / DAWR_BLOCK != last / DAWR_BLOCK {
                    return Err(ErrorKind::CrossesBoundary.into());
                }
                self.max_range
            }
            Family::Dawr2 => self.max_range,
        };
        // Bytes from `addr` to the end of the window that starts at the
        // granule of `addr` (saturating: a window ending past 2^64 ends
        // there, and `addr` is not 0 then). Never 0: `addr` is inside it.
        let room = match start.checked_add(window) {
            Some(end) => end - addr,
            None => 0u64.wrapping_sub(addr),
        };
        Ok(len.min(room))
    }

    fn target(&self, pool: PoolId, index: usize) -> Option<Target> {
        match (pool, self.family) {
            (CODE_POOL, Family::Dawr | Family::Dawr2) if index == 0 => Some(Target::Ciabr),
            (DATA_POOL, Family::Dabr) if index == 0 => Some(Target::Dabr),
            (DATA_POOL, Family::Dawr | Family::Dawr2) if index < self.family.data_slots() => {
                Some(Target::Dawr(index as u8))
            }
            _ => None,
        }
    }
}

impl Arch for Ppc64 {
    const NAME: &'static str = "ppc64";
    const POOLS: usize = 2;
    type Trap = Trap;

    fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
        match kind {
            AccessKind::Execute if self.family.code_slots() > 0 => Ok(CODE_POOL),
            AccessKind::Read | AccessKind::Write | AccessKind::ReadWrite => Ok(DATA_POOL),
            AccessKind::Execute | AccessKind::Io => Err(ErrorKind::UnsupportedKind.into()),
        }
    }

    fn slot_counts(&self) -> SlotCounts {
        SlotCounts([
            self.family.code_slots() as u8,
            self.family.data_slots() as u8,
        ])
    }

    fn check_range(&self, _addr: u64, _end: u64, _space: Space) -> Result<()> {
        // Every 64-bit effective address is valid: no canonical form.
        Ok(())
    }

    fn max_piece(&self, kind: AccessKind, addr: u64, len: u64) -> Result<u64> {
        if len == 0 {
            return Err(ErrorKind::ZeroLength.into());
        }
        if addr.checked_add(len).is_none() && addr.wrapping_add(len) != 0 {
            return Err(ErrorKind::AddressOverflow.into());
        }
        self.pool_of(kind)?;
        match kind {
            AccessKind::Execute => {
                // Instructions are words: CIABR holds a word address. Length
                // 1 (the generic "the instruction at addr") or 4.
                if !addr.is_multiple_of(4) {
                    Err(ErrorKind::Misaligned.into())
                } else if len == 1 || len == 4 {
                    Ok(len)
                } else {
                    Err(ErrorKind::UnsupportedLength.into())
                }
            }
            _ => self.data_piece(addr, len),
        }
    }

    fn encode(&self, piece: &Piece) -> Result<SlotImage> {
        if self.max_piece(piece.kind, piece.addr, piece.len)? != piece.len {
            return Err(ErrorKind::UnsupportedLength.into());
        }
        let privilege = self.privilege(piece.space);
        let read = matches!(piece.kind, AccessKind::Read | AccessKind::ReadWrite);
        let write = matches!(piece.kind, AccessKind::Write | AccessKind::ReadWrite);
        match (piece.kind, self.family) {
            (AccessKind::Execute, _) => {
                let ciabr = Ciabr::new(piece.addr, privilege).ok_or(ErrorKind::Misaligned)?;
                Ok(SlotImage {
                    value: ciabr.bits(),
                    control: 0,
                })
            }
            (_, Family::Dabr) => {
                let (bt, bti) = match self.translation {
                    Translation::Virtual => (true, false),
                    Translation::Real => (false, false),
                    Translation::Either => (false, true),
                };
                Ok(SlotImage {
                    value: Dabr::new(piece.addr, read, write, bt).bits(),
                    control: Dabrx::new(privilege, bti).bits(),
                })
            }
            (_, family) => {
                if family == Family::Dawr && piece.memory == MemoryType::CacheInhibited {
                    // POWER9 DAWR on cache-inhibited memory can checkstop the
                    // machine; POWER8 is refused alike (same register family).
                    return Err(ErrorKind::CacheInhibited.into());
                }
                let start = piece.addr & !(GRANULE - 1);
                let end = piece.addr + (piece.len - 1);
                let doublewords = (end - start) / GRANULE + 1;
                let dawrx = Dawrx::new(doublewords, read, write, privilege, self.translation)
                    .ok_or(ErrorKind::UnsupportedLength)?;
                Ok(SlotImage {
                    value: Dawr::for_address(piece.addr).bits(),
                    control: dawrx.bits(),
                })
            }
        }
    }

    fn control_word(&self, _pool: PoolId, _slots: &[Option<SlotImage>]) -> u64 {
        // No shared control register: each slot carries its own extension.
        0
    }

    /// Data Storage interrupts with DSISR\[41\]: the armed data slots whose
    /// doublewords the access (from [`Trap::access`], else the DAR) touches,
    /// resumed by a single step. Trace interrupts: a CIABR match (also
    /// resumed by a step) and, when [`Trap::stepping`], the completion of
    /// the step the registry asked for. Anything else: nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Arch, PoolId, Resume, SlotImage, SlotView};
    /// use hwbreak_ppc64::{Family, Ppc64, Trap, VECTOR_TRACE};
    ///
    /// struct Nothing;
    /// impl SlotView for Nothing {
    ///     fn slot(&self, _: PoolId, _: usize) -> Option<SlotImage> { None }
    /// }
    /// // The Trace interrupt of the step the OS set MSR[SE] for.
    /// let step = Trap { vector: VECTOR_TRACE, stepping: true, ..Trap::default() };
    /// let d = Ppc64::new(Family::Dawr).decode(&step, &Nothing);
    /// assert!(d.step_complete);
    /// assert_eq!(d.resume, Some(Resume::EndSingleStep));
    /// ```
    fn decode(&self, trap: &Trap, armed: &dyn SlotView) -> Decoded {
        let mut d = Decoded::default();
        match trap.vector {
            VECTOR_DSI if Dsisr(trap.dsisr).watchpoint_match() => {
                let (addr, len) = match trap.access {
                    Some(a) => (a.ea, a.len),
                    None => (trap.dar, 0),
                };
                let span = if len == 0 { 1 } else { len as u64 };
                let (mut hits, mut armed_mask) = (0u32, 0u32);
                for i in 0..self.family.data_slots() {
                    if let Some(image) = armed.slot(DATA_POOL, i) {
                        armed_mask |= 1 << i;
                        let (start, n) = self.watched_range(image);
                        if addr < start.wrapping_add(n) && start < addr.wrapping_add(span) {
                            hits |= 1 << i;
                        }
                    }
                }
                // The hardware says a watch matched; if no armed range
                // explains the address, let the core check every armed slot.
                d.hits[DATA_POOL.index()] = if hits != 0 { hits } else { armed_mask };
                d.address = Some(addr);
                d.access_len = len;
                d.resume = Some(Resume::SingleStep);
            }
            VECTOR_TRACE => {
                let srr1 = Srr1(trap.srr1);
                let ciabr_hit = self.family.code_slots() > 0
                    && (!trap.stepping || srr1.ciabr_match())
                    && match armed.slot(CODE_POOL, 0) {
                        Some(image) => {
                            let c = Ciabr::from_bits(image.value);
                            c.enabled() && c.address() == trap.srr0 & Ciabr::CEA_MASK
                        }
                        None => false,
                    };
                if ciabr_hit {
                    d.hits[CODE_POOL.index()] = 1;
                    d.address = Some(trap.srr0);
                    d.access_len = 4;
                    d.resume = Some(Resume::SingleStep);
                }
                if trap.stepping {
                    d.step_complete = true;
                    if !ciabr_hit {
                        d.resume = Some(Resume::EndSingleStep);
                    }
                }
            }
            _ => {}
        }
        d
    }

    /// Stores the slot's registers (DAWRn/DAWRXn, DABR/DABRX or CIABR) by
    /// hypervisor call or `mtspr`, as the [`Mode`] says, and records the
    /// status for [`last_status`]. Disarming writes zeros.
    ///
    /// # Safety
    /// As [`Arch::write_slot`]: the current CPU. In [`Mode::Guest`] the kernel must
    /// run in a logical partition (the write is a hypervisor call); in
    /// [`Mode::Hypervisor`] in hypervisor state (the write is `mtspr`).
    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>) {
        let Some(target) = self.target(pool, index) else {
            return;
        };
        let (value, control) = match image {
            Some(i) => (i.value, i.control),
            None => (0, 0),
        };
        // SAFETY: the caller guarantees the current CPU and an image from
        // `encode`; the mode says which route this kernel may use.
        let status = unsafe {
            match self.mode {
                Mode::Guest => Hcall.store(target, value, control),
                Mode::Hypervisor => Mtspr.store(target, value, control),
            }
        };
        LAST_STATUS.store(status, Ordering::Relaxed);
    }

    /// Nothing to write: each slot carries its own extension register.
    ///
    /// # Safety
    /// As [`Arch::write_control`]; this backend touches nothing here.
    unsafe fn write_control(&self, _pool: PoolId, _control: u64) {}

    /// Nothing to switch: POWER has no global debug enable.
    ///
    /// # Safety
    /// As [`Arch::set_armed`]; this backend touches nothing here.
    unsafe fn set_armed(&self, _armed: bool) {}

    /// Nothing to clear: DSISR, DAR and SRR1 are rewritten by every
    /// interrupt.
    ///
    /// # Safety
    /// As [`Arch::acknowledge`]; this backend touches nothing here.
    unsafe fn acknowledge(&self, _trap: &Trap) {
        // DSISR and DAR are rewritten by every Data Storage interrupt and
        // SRR1's trace bits by every Trace interrupt: nothing is sticky.
    }
}

#[cfg(test)]
mod tests;
