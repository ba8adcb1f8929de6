//! # hwbreak-riscv
//!
//! The RISC-V backend of hwbreak: the Sdtrig debug triggers of the RISC-V
//! Debug Specification 1.0 (`tselect`, `tdata1` as `mcontrol` type 2 or
//! `mcontrol6` type 6, `tdata2`, `tinfo`; see [`registers`]).
//!
//! Every trigger can watch instructions, loads or stores, so there is one
//! pool ([`POOL`]) serving every access kind, as on x86.
//!
//! ## Two register routes
//!
//! The trigger CSRs are M-mode registers. [`Mode::Machine`]: a kernel
//! running in M-mode writes them itself (`tselect`, `tdata1` = 0, `tdata2`,
//! `tdata1`), and its own code is watched through the `m` bit.
//! [`Mode::Supervisor`]: a kernel in S-mode asks the firmware through the
//! SBI Debug Triggers extension ([`sbi`]), and is watched through `s`.
//! Either way `Space::User` requests match in U-mode only.
//!
//! ## Discovery
//!
//! Unless given explicitly ([`Riscv::with_triggers`]), the trigger count and
//! type are found at registry initialisation: in M-mode by writing
//! `tselect` = 0, 1, ... until the value does not stick and reading each
//! trigger's `tinfo`; in S-mode with `sbi_debug_num_triggers`. Type 6 is
//! used when trigger 0 supports it, else type 2; only the leading triggers
//! supporting that type are used.
//!
//! ## How ranges are matched ([`Matching`])
//!
//! A slot is one trigger, compared with `match` = 0 (equal) or 1 (NAPOT):
//! - [`Matching::Exact`] (the default, any Sdtrig hart): one byte per
//!   trigger, `match` = 0 with `size` = 0 (accesses of any size);
//! - [`Matching::Napot`]: naturally aligned power-of-two blocks of 2 bytes
//!   up to the hart's limit with `match` = 1, single bytes as above;
//! - [`Matching::SizeAsLength`]: up to 8 bytes at any address, `match` = 0
//!   with the `size` code itself read as the number of bytes watched from
//!   `tdata2` (codes 1, 2, 3 and 5; code 0, "any size", watches 8), which
//!   is how QEMU (seen with 10.0.2) implements `size`. The specification's
//!   `size` is the size of the *access* (code 3: 4-byte accesses, code 5:
//!   8-byte ones), so this is for QEMU only. Pieces are only ever 1, 2, 3,
//!   5 or 8 bytes long, so a trigger never watches more than was asked: 4
//!   bytes take two triggers (3 + 1), 6 or 7 bytes two (5 + 1, 5 + 2).
//!
//! The chained pairs of `match` = 2/3 (`chain` = 1) would cover any range
//! with two triggers, but a core piece is one slot: they are not used.
//!
//! Matching assumes the recommended behaviour of `select` = 0: every byte
//! an access touches is a compare value, so a wide access that begins below
//! a watched byte still matches.
//!
//! ## Traps, timing and resume
//!
//! A firing trigger raises a breakpoint exception (cause 3,
//! [`CAUSE_BREAKPOINT`]). Execute triggers fire before the instruction;
//! load and store triggers fire before the access with `mcontrol.timing`
//! = 0 (written here) and, for type 6, before or after as the hardware
//! chooses ([`Timing`], given with [`Riscv::data_timing`]). Hits before
//! the access answer [`Resume::SingleStep`]: the core disarms the hit
//! slots, and because a kernel has no single-step on RISC-V the OS steps by
//! arming an execute trigger ([`Riscv::step_image`]) on the next
//! instruction ([`insn::next_pc`]) in a free slot. That trigger's exception
//! (the OS sets [`Trap::stepping`]) completes the step: the core re-arms
//! the slots and answers [`Resume::EndSingleStep`]. Hits after the access
//! answer [`Resume::Continue`].
//!
//! ## Handlers and nesting
//!
//! Triggers keep matching while the exception is handled (nothing like
//! DR7 = 0 disables them all at once, and `Arch::suspend` is given no
//! images to restore), so, as on ppc64, the OS disarms every slot around
//! `Registry::on_debug_exception` and rewrites them from
//! `Registry::armed_slot` afterwards. The `qemu-virt-riscv64` board shows
//! how.
//!
//! A kernel reaches this crate as `hwbreak::native` (and [`Riscv`] as
//! `hwbreak::ArchImpl`) when built for `riscv64`.
//!
//! # Examples
//!
//! What each matching mode covers with one trigger, answered without
//! touching a register:
//!
//! ```
//! use hwbreak_core::{AccessKind, Arch, SlotCounts};
//! use hwbreak_riscv::{Matching, Riscv, TriggerType, Triggers};
//!
//! let two = Triggers { count: 2, kind: TriggerType::Mcontrol6 };
//! let exact = Riscv::machine().with_triggers(two);
//! let napot = Riscv::machine().with_triggers(two).matching(Matching::Napot { max: 1 << 12 });
//! let qemu = Riscv::machine().with_triggers(two).matching(Matching::SizeAsLength);
//! assert_eq!(exact.slot_counts(), SlotCounts([2, 0]));
//! // 13 bytes from 0x1003.
//! assert_eq!(exact.max_piece(AccessKind::Write, 0x1003, 13)?, 1);
//! assert_eq!(napot.max_piece(AccessKind::Write, 0x1003, 13)?, 1); // then 4, then 8
//! assert_eq!(qemu.max_piece(AccessKind::Write, 0x1003, 13)?, 8); // then 5
//! # Ok::<(), hwbreak_core::Error>(())
//! ```
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

pub mod insn;
pub mod registers;
pub mod route;
pub mod sbi;

use core::sync::atomic::{AtomicU16, Ordering};

use hwbreak_core::{
    AccessKind, Arch, Decoded, ErrorKind, Piece, PoolId, Result, Resume, SlotCounts, SlotImage,
    SlotView, Space, MAX_SLOTS,
};

pub use insn::Access;
use registers::mcontrol::Mcontrol;
use registers::mcontrol6::Mcontrol6;
use registers::{tdata1, tdata2, AccessBits, MatchKind, Privilege};
pub use sbi::SbiShmem;

/// The one pool: every trigger serves code and data.
pub const POOL: PoolId = PoolId::FIRST;

/// `scause`/`mcause` of a breakpoint exception (a trigger firing with
/// action 0, or `ebreak`).
pub const CAUSE_BREAKPOINT: u64 = 3;

/// Bytes one [`Matching::SizeAsLength`] trigger watches at most.
const SIZE_AS_LENGTH_MAX: u64 = 8;

/// Which `tdata1` layout the triggers are programmed with.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::TriggerType;
/// assert_eq!(TriggerType::Mcontrol6.type_field(), 6);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TriggerType {
    /// Type 2, `mcontrol`.
    Mcontrol,
    /// Type 6, `mcontrol6`.
    Mcontrol6,
}

impl TriggerType {
    /// The `type` field value.
    pub const fn type_field(self) -> u8 {
        match self {
            Self::Mcontrol => tdata1::TYPE_MCONTROL,
            Self::Mcontrol6 => tdata1::TYPE_MCONTROL6,
        }
    }
}

/// How many triggers a hart has and which type programs them.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::{TriggerType, Triggers};
/// let qemu = Triggers { count: 2, kind: TriggerType::Mcontrol6 };
/// assert_eq!(Triggers::NONE.count, 0);
/// # let _ = qemu;
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Triggers {
    /// Usable triggers (at most the core's 16 are used).
    pub count: u8,
    /// The type they are programmed with.
    pub kind: TriggerType,
}

impl Triggers {
    /// No triggers (a hart without Sdtrig, or a firmware without DBTR).
    pub const NONE: Self = Self {
        count: 0,
        kind: TriggerType::Mcontrol6,
    };

    /// From the two counts of triggers supporting type 6 and type 2: type
    /// 6 when any does, else type 2.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::{TriggerType, Triggers};
    /// assert_eq!(Triggers::choose(2, 2), Triggers { count: 2, kind: TriggerType::Mcontrol6 });
    /// assert_eq!(Triggers::choose(0, 4), Triggers { count: 4, kind: TriggerType::Mcontrol });
    /// assert_eq!(Triggers::choose(0, 0).count, 0);
    /// ```
    pub const fn choose(type6: u64, type2: u64) -> Self {
        if type6 > 0 {
            Self {
                count: clamp_count(type6),
                kind: TriggerType::Mcontrol6,
            }
        } else {
            Self {
                count: clamp_count(type2),
                kind: TriggerType::Mcontrol,
            }
        }
    }

    fn pack(self) -> u16 {
        let kind = match self.kind {
            TriggerType::Mcontrol => 2u16,
            TriggerType::Mcontrol6 => 6,
        };
        // Bit 15 marks "probed", so that a probe finding 0 triggers sticks.
        let mut v = 0x8000;
        v |= kind << 8;
        v |= u16::from(self.count);
        v
    }

    fn unpack(v: u16) -> Option<Self> {
        if v & 0x8000 == 0 {
            return None;
        }
        let kind = if (v >> 8) & 0x7f == 2 {
            TriggerType::Mcontrol
        } else {
            TriggerType::Mcontrol6
        };
        Some(Self {
            count: v as u8,
            kind,
        })
    }
}

/// How a data slot's range is expressed (see the crate documentation).
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::Matching;
/// assert_eq!(Matching::default(), Matching::Exact);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Matching {
    /// One byte per trigger (`match` = 0, `size` = 0).
    #[default]
    Exact,
    /// Naturally aligned power-of-two blocks of 2 to `max` bytes
    /// (`match` = 1), single bytes with `match` = 0. `max` is the hart's
    /// largest NAPOT range (for type 2, 2^`maskmax`); rounded down to a
    /// power of two.
    Napot {
        /// Largest block, in bytes.
        max: u64,
    },
    /// QEMU's reading of `size`: `match` = 0 watches as many bytes from
    /// `tdata2` as the `size` code says (1, 2, 3 or 5; 8 for code 0), at any
    /// alignment.
    SizeAsLength,
}

/// When a load or store trigger fires relative to the access.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::Timing;
/// assert_eq!(Timing::default(), Timing::Before);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Timing {
    /// Before: the access has not happened when the exception is taken
    /// (`mcontrol.timing` = 0; QEMU, both types).
    #[default]
    Before,
    /// After: the access is done, `epc` is past the instruction (type 6
    /// hardware reporting `hit1:hit0` = 2).
    After,
}

/// The privilege mode the kernel runs in, which also picks the register
/// route.
#[derive(Copy, Clone, Debug)]
pub enum Mode {
    /// M-mode: the trigger CSRs are written directly; kernel requests
    /// match in M-mode.
    Machine,
    /// S-mode: triggers are installed through SBI DBTR, with the calling
    /// hart's shared memory returned by the function (one [`SbiShmem`]
    /// per hart, already registered); kernel requests match in S-mode.
    Supervisor(fn() -> &'static SbiShmem),
}

/// What the OS's exception entry hands to the decoder.
///
/// # Examples
///
/// What the `qemu-virt-riscv64` board builds for a breakpoint exception on
/// `sw a1, 8(a0)`:
///
/// ```
/// use hwbreak_riscv::{insn, Trap, CAUSE_BREAKPOINT};
/// let mut regs = [0u64; 32];
/// regs[10] = 0x8020_0000;
/// let trap = Trap {
///     cause: CAUSE_BREAKPOINT,
///     epc: 0x8000_1234,
///     tval: 0x8020_0008,
///     access: insn::access(0x00b5_2423, &regs),
///     stepping: false,
/// };
/// assert_eq!(trap.access.map(|a| a.addr), Some(0x8020_0008));
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Trap {
    /// `scause` / `mcause`.
    pub cause: u64,
    /// `sepc` / `mepc`: the instruction that trapped (for a trigger firing
    /// before, not yet executed).
    pub epc: u64,
    /// `stval` / `mtval` (implementation-defined for triggers: QEMU writes
    /// the instruction or the first watched byte accessed).
    pub tval: u64,
    /// The access of the instruction at `epc`, decoded by the OS with
    /// [`insn::access`]; `None` when it is not a load or store.
    pub access: Option<Access>,
    /// Whether the OS had armed the step trigger the registry's
    /// [`Resume::SingleStep`] asked for, at `epc` (so this exception is
    /// that step completing).
    pub stepping: bool,
}

/// The RISC-V Sdtrig backend.
///
/// # Examples
///
/// A registry of an S-mode kernel: one [`SbiShmem`] per hart, found by a
/// function the kernel provides. Trigger counts come from the firmware at
/// `init` (on the host: none).
///
/// ```
/// # use hwbreak_core::{CpuId, Platform};
/// # struct Kernel;
/// # impl Platform for Kernel {
/// #     fn cpu_count(&self) -> u32 { 1 }
/// #     fn current_cpu(&self) -> CpuId { CpuId(0) }
/// #     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) { f() }
/// #     fn user_limit(&self) -> u64 { 0x8000_0000 }
/// # }
/// use hwbreak_core::Registry;
/// use hwbreak_riscv::{Riscv, SbiShmem};
///
/// static HART0_SHMEM: SbiShmem = SbiShmem::new();
/// fn this_hart() -> &'static SbiShmem {
///     &HART0_SHMEM
/// }
/// static HWBP: Registry<Riscv, Kernel, 64, 1, 8> = Registry::new(Riscv::supervisor(this_hart), Kernel);
/// # let _ = &HWBP;
/// ```
#[derive(Debug)]
pub struct Riscv {
    mode: Mode,
    matching: Matching,
    data_timing: Timing,
    va_bits: Option<u8>,
    fixed: Option<Triggers>,
    /// What discovery found ([`Triggers::pack`]); 0 until it ran.
    found: AtomicU16,
}

impl Riscv {
    const fn with_mode(mode: Mode) -> Self {
        Self {
            mode,
            matching: Matching::Exact,
            data_timing: Timing::Before,
            va_bits: None,
            fixed: None,
            found: AtomicU16::new(0),
        }
    }

    /// A backend for a kernel in M-mode (direct CSR route), triggers
    /// discovered at `init`, [`Matching::Exact`], [`Timing::Before`], no
    /// virtual-address check.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Arch, SlotCounts};
    /// use hwbreak_riscv::Riscv;
    /// # #[cfg(not(target_arch = "riscv64"))]
    /// assert_eq!(Riscv::machine().slot_counts(), SlotCounts([0, 0])); // host: nothing to probe
    /// ```
    pub const fn machine() -> Self {
        Self::with_mode(Mode::Machine)
    }

    /// A backend for a kernel in S-mode (SBI DBTR route); `shmem` returns
    /// the calling hart's registered [`SbiShmem`]. See [`Riscv`] for an
    /// example.
    pub const fn supervisor(shmem: fn() -> &'static SbiShmem) -> Self {
        Self::with_mode(Mode::Supervisor(shmem))
    }

    /// The same backend with the trigger count and type given instead of
    /// discovered (host tests, or a platform that knows them). At most 16
    /// triggers are used.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Arch, SlotCounts};
    /// use hwbreak_riscv::{Riscv, TriggerType, Triggers};
    /// let r = Riscv::machine().with_triggers(Triggers { count: 40, kind: TriggerType::Mcontrol });
    /// assert_eq!(r.slot_counts(), SlotCounts([16, 0]));
    /// ```
    pub const fn with_triggers(mut self, triggers: Triggers) -> Self {
        let count = if triggers.count as usize <= MAX_SLOTS {
            triggers.count
        } else {
            MAX_SLOTS as u8
        };
        self.fixed = Some(Triggers {
            count,
            kind: triggers.kind,
        });
        self
    }

    /// The same backend expressing ranges with `matching`.
    /// [`Matching::Napot`]'s `max` is rounded down to a power of two (at
    /// least 2).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Arch};
    /// use hwbreak_riscv::{Matching, Riscv};
    /// let r = Riscv::machine().matching(Matching::Napot { max: 100 });
    /// assert_eq!(r.max_piece(AccessKind::Write, 0x1000, 4096)?, 64);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub const fn matching(mut self, matching: Matching) -> Self {
        self.matching = match matching {
            Matching::Napot { max } => {
                let max = if max >= 2 { max } else { 2 };
                Matching::Napot {
                    max: 1 << (63 - max.leading_zeros()),
                }
            }
            m => m,
        };
        self
    }

    /// The same backend with load and store triggers of type 6 firing
    /// `timing` the access (hardware that fires after). Type 2 triggers are
    /// always programmed to fire before (`timing` = 0), whatever this says.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::{Riscv, Timing};
    /// assert_eq!(Riscv::machine().data_timing(Timing::After).timing(), Timing::After);
    /// ```
    pub const fn data_timing(mut self, timing: Timing) -> Self {
        self.data_timing = timing;
        self
    }

    /// The same backend refusing addresses that are not canonical for a
    /// `bits`-bit virtual address space (39, 48 or 57 for Sv39/48/57: bits
    /// 63 down to `bits - 1` all equal). Without it every address is
    /// accepted (paging off, or the platform checks).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Arch, ErrorKind, Space};
    /// use hwbreak_riscv::Riscv;
    /// let sv39 = Riscv::machine().virtual_address_bits(39);
    /// assert!(sv39.check_range(0xffff_ffc0_0000_0000, 0xffff_ffc0_0000_0008, Space::Kernel).is_ok());
    /// let e = sv39.check_range(0x0000_0040_0000_0000, 0x0000_0040_0000_0008, Space::User).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::NonCanonical);
    /// ```
    pub const fn virtual_address_bits(mut self, bits: u8) -> Self {
        self.va_bits = if bits >= 2 && bits <= 63 {
            Some(bits)
        } else {
            None
        };
        self
    }

    /// When data triggers fire. See [`Riscv::data_timing`].
    pub const fn timing(&self) -> Timing {
        self.data_timing
    }

    /// The register route and privilege mode.
    pub const fn mode(&self) -> Mode {
        self.mode
    }

    /// The triggers in use: given, or discovered (and remembered) on the
    /// first call, which `Registry::init` makes.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::{Riscv, TriggerType, Triggers};
    /// let t = Triggers { count: 2, kind: TriggerType::Mcontrol };
    /// assert_eq!(Riscv::machine().with_triggers(t).triggers(), t);
    /// ```
    pub fn triggers(&self) -> Triggers {
        if let Some(t) = self.fixed {
            return t;
        }
        if let Some(t) = Triggers::unpack(self.found.load(Ordering::Relaxed)) {
            return t;
        }
        let t = self.discover();
        self.found.store(t.pack(), Ordering::Relaxed);
        t
    }

    #[cfg(target_arch = "riscv64")]
    fn discover(&self) -> Triggers {
        match self.mode {
            // SAFETY: a `Machine` backend is only built for M-mode kernels.
            Mode::Machine => unsafe { probe_machine() },
            // SAFETY: a `Supervisor` backend runs in S-mode under SBI.
            Mode::Supervisor(_) => unsafe {
                Triggers::choose(
                    sbi::num_triggers(tdata1::TYPE_MCONTROL6) as u64,
                    sbi::num_triggers(tdata1::TYPE_MCONTROL) as u64,
                )
            },
        }
    }

    #[cfg(not(target_arch = "riscv64"))]
    fn discover(&self) -> Triggers {
        Triggers::NONE
    }

    /// The `m`/`s`/`u` bits a request in `space` matches in.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::Space;
    /// use hwbreak_riscv::registers::Privilege;
    /// use hwbreak_riscv::{Riscv, SbiShmem};
    /// static A: SbiShmem = SbiShmem::new();
    /// assert_eq!(Riscv::machine().privilege(Space::Kernel), Privilege::MACHINE);
    /// assert_eq!(Riscv::supervisor(|| &A).privilege(Space::Kernel), Privilege::SUPERVISOR);
    /// assert_eq!(Riscv::machine().privilege(Space::User), Privilege::USER);
    /// ```
    pub const fn privilege(&self, space: Space) -> Privilege {
        match (space, self.mode) {
            (Space::User, _) => Privilege::USER,
            (Space::Kernel, Mode::Machine) => Privilege::MACHINE,
            (Space::Kernel, Mode::Supervisor(_)) => Privilege::SUPERVISOR,
        }
    }

    /// The image of the execute trigger an OS arms to step over a hit
    /// ([`Resume::SingleStep`]): the instruction at `pc` ([`insn::next_pc`]
    /// of the trapping one), in the privilege of `space` (where the
    /// interrupted code runs). Arm it with `Arch::write_slot` in a slot the
    /// registry reports empty, and disarm it when it fires.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::Space;
    /// use hwbreak_riscv::{Riscv, TriggerType, Triggers};
    /// let r = Riscv::machine().with_triggers(Triggers { count: 2, kind: TriggerType::Mcontrol6 });
    /// let step = r.step_image(0x8000_0104, Space::Kernel)?;
    /// // type 6, m (bit 6), execute (bit 2), equal match.
    /// assert_eq!((step.value, step.control), (0x8000_0104, 0x6000_0000_0000_0044));
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn step_image(&self, pc: u64, space: Space) -> Result<SlotImage> {
        if !pc.is_multiple_of(2) {
            return Err(ErrorKind::Misaligned.into());
        }
        Ok(SlotImage {
            value: pc,
            control: self.control(
                AccessBits::EXECUTE,
                self.privilege(space),
                MatchKind::Equal,
                0,
            ),
        })
    }

    fn control(&self, access: AccessBits, privilege: Privilege, kind: MatchKind, size: u8) -> u64 {
        match self.triggers().kind {
            TriggerType::Mcontrol => Mcontrol::new(access, privilege, kind, size).bits(),
            TriggerType::Mcontrol6 => Mcontrol6::new(access, privilege, kind, size).bits(),
        }
    }

    /// The bytes `[start, start + len)` a data image watches (`None` for an
    /// execute image or a value this crate does not produce).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Arch, MemoryType, Piece, Space};
    /// use hwbreak_riscv::{Matching, Riscv, TriggerType, Triggers};
    /// let qemu = Riscv::machine()
    ///     .with_triggers(Triggers { count: 2, kind: TriggerType::Mcontrol6 })
    ///     .matching(Matching::SizeAsLength);
    /// let piece = Piece {
    ///     addr: 0x100b,
    ///     len: 5,
    ///     kind: AccessKind::Write,
    ///     space: Space::Kernel,
    ///     memory: MemoryType::Normal,
    /// };
    /// // Five bytes take size code 5, which QEMU reads as five bytes.
    /// assert_eq!(qemu.watched_range(qemu.encode(&piece)?), Some((0x100b, 5)));
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn watched_range(&self, image: SlotImage) -> Option<(u64, u64)> {
        let (access, match_field, size) = match tdata1::trigger_type(image.control) {
            tdata1::TYPE_MCONTROL => {
                let c = Mcontrol::from_bits(image.control);
                (c.access(), c.match_field(), c.size())
            }
            tdata1::TYPE_MCONTROL6 => {
                let c = Mcontrol6::from_bits(image.control);
                (c.access(), c.match_field(), c.size())
            }
            _ => return None,
        };
        if access.contains(AccessBits::EXECUTE) || access.0 == 0 {
            return None;
        }
        match (MatchKind::from_field(match_field)?, self.matching) {
            (MatchKind::Napot, _) => Some(tdata2::napot_range(image.value)),
            (MatchKind::Equal, Matching::SizeAsLength) => {
                Some((image.value, qemu_size_bytes(size)))
            }
            (MatchKind::Equal, _) => Some((image.value, 1)),
            _ => None,
        }
    }

    fn data_piece(&self, addr: u64, len: u64) -> u64 {
        match self.matching {
            Matching::Exact => 1,
            Matching::Napot { max } => {
                // The largest block that starts at `addr`, is aligned to its
                // size and fits in `len` and `max`; 1 when `addr` is odd.
                let align = if addr == 0 {
                    1 << 63
                } else {
                    1u64 << addr.trailing_zeros()
                };
                let fit = 1u64 << (63 - len.leading_zeros());
                align.min(fit).min(max)
            }
            // The longest piece QEMU watches exactly (1, 2, 3, 5 or 8
            // bytes) that fits: a trigger never watches more than asked.
            Matching::SizeAsLength => match len {
                1..=3 => len,
                4 => 3,
                5..=7 => 5,
                _ => SIZE_AS_LENGTH_MAX,
            },
        }
    }
}

/// A trigger count, at most the core's [`MAX_SLOTS`].
const fn clamp_count(n: u64) -> u8 {
    if n <= MAX_SLOTS as u64 {
        n as u8
    } else {
        MAX_SLOTS as u8
    }
}

/// Bytes QEMU watches for a `size` code with `match` = 0: the code itself
/// for the codes it accepts (1, 2, 3, 5), 8 for 0 and for the codes it
/// drops back to 0.
const fn qemu_size_bytes(size: u8) -> u64 {
    match size {
        1 | 2 | 3 | 5 => size as u64,
        _ => SIZE_AS_LENGTH_MAX,
    }
}

/// The `size` code whose QEMU length covers `len` bytes (1-8) most
/// tightly: 1, 2, 3, then 5 for 4-5 bytes, then 0 (8 bytes).
const fn size_code(len: u64) -> u8 {
    match len {
        0 | 1 => 1,
        2 => 2,
        3 => 3,
        5 => 5,
        _ => 0,
    }
}

/// Trigger count and type of this hart, from `tselect` and `tinfo`.
///
/// # Safety
/// M-mode, with no trigger in use.
#[cfg(target_arch = "riscv64")]
unsafe fn probe_machine() -> Triggers {
    use registers::{csr, tinfo::Tinfo, tselect};
    // SAFETY: M-mode (the caller's contract); tselect only changes which
    // trigger the data registers show.
    let n = tselect::count_from(|i| unsafe { route::machine::select(i) }, MAX_SLOTS as u64);
    let info = |i: u64| {
        // SAFETY: as above.
        unsafe {
            route::machine::select(i);
            Tinfo(route::machine::read(csr::TINFO))
        }
    };
    let first = info(0);
    let ty = if first.supports(tdata1::TYPE_MCONTROL6) {
        tdata1::TYPE_MCONTROL6
    } else if first.supports(tdata1::TYPE_MCONTROL) {
        tdata1::TYPE_MCONTROL
    } else {
        return Triggers::NONE;
    };
    let usable = (0..n).take_while(|&i| info(i).supports(ty)).count() as u64;
    if ty == tdata1::TYPE_MCONTROL6 {
        Triggers::choose(usable, 0)
    } else {
        Triggers::choose(0, usable)
    }
}

/// What the M-mode triggers keep of a `tdata1` write (WARL probing), for
/// platforms and tests that check an emulator or part against the spec:
/// writes `control` to trigger `index`, reads it back and disables it.
///
/// # Safety
/// M-mode; trigger `index` must be free (it is left disabled).
#[cfg(target_arch = "riscv64")]
pub unsafe fn probe_tdata1(index: usize, control: u64) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe {
        route::machine::select(index as u64);
        route::machine::try_tdata1(control)
    }
}

impl Arch for Riscv {
    const NAME: &'static str = "riscv64";
    const POOLS: usize = 1;
    type Trap = Trap;

    fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
        match kind {
            AccessKind::Execute | AccessKind::Read | AccessKind::Write | AccessKind::ReadWrite => {
                Ok(POOL)
            }
            AccessKind::Io => Err(ErrorKind::UnsupportedKind.into()),
        }
    }

    fn slot_counts(&self) -> SlotCounts {
        SlotCounts([self.triggers().count, 0])
    }

    fn check_range(&self, addr: u64, end: u64, _space: Space) -> Result<()> {
        let Some(bits) = self.va_bits else {
            return Ok(());
        };
        let canonical = |a: u64| {
            let top = (a as i64) >> (bits - 1);
            top == 0 || top == -1
        };
        // `end` is exclusive: the last byte is what must be canonical.
        let last = end.wrapping_sub(1);
        if canonical(addr) && canonical(last) && (addr as i64 >> 63) == (last as i64 >> 63) {
            Ok(())
        } else {
            Err(ErrorKind::NonCanonical.into())
        }
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
                // The instruction at `addr`: 2-byte aligned (C extension);
                // length 1 (the generic "the instruction here"), 2 or 4.
                if !addr.is_multiple_of(2) {
                    Err(ErrorKind::Misaligned.into())
                } else if matches!(len, 1 | 2 | 4) {
                    Ok(len)
                } else {
                    Err(ErrorKind::UnsupportedLength.into())
                }
            }
            _ => Ok(self.data_piece(addr, len)),
        }
    }

    fn encode(&self, piece: &Piece) -> Result<SlotImage> {
        if self.max_piece(piece.kind, piece.addr, piece.len)? != piece.len {
            return Err(ErrorKind::UnsupportedLength.into());
        }
        let privilege = self.privilege(piece.space);
        let access = match piece.kind {
            AccessKind::Execute => return self.step_image(piece.addr, piece.space),
            AccessKind::Read => AccessBits::LOAD,
            AccessKind::Write => AccessBits::STORE,
            AccessKind::ReadWrite => AccessBits::LOAD | AccessBits::STORE,
            AccessKind::Io => return Err(ErrorKind::UnsupportedKind.into()),
        };
        let (kind, size, value) = match self.matching {
            Matching::SizeAsLength => (MatchKind::Equal, size_code(piece.len), piece.addr),
            _ if piece.len == 1 => (MatchKind::Equal, 0, piece.addr),
            _ => (
                MatchKind::Napot,
                0,
                tdata2::napot(piece.addr, piece.len).ok_or(ErrorKind::Misaligned)?,
            ),
        };
        Ok(SlotImage {
            value,
            control: self.control(access, privilege, kind, size),
        })
    }

    fn control_word(&self, _pool: PoolId, _slots: &[Option<SlotImage>]) -> u64 {
        // Every trigger has its own tdata1: nothing is shared.
        0
    }

    /// Breakpoint exceptions only: the execute slots whose address is
    /// `epc`, and (unless this is the step trigger firing) the data slots
    /// whose bytes and direction the decoded access touches, or, with no
    /// decoded access, whose range holds `tval`. When [`Trap::stepping`],
    /// the step is complete. An exception no armed slot explains (an
    /// `ebreak` instruction, [`insn::is_ebreak`]) has no hits: the OS
    /// handles it itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Arch, PoolId, Resume, SlotImage, SlotView};
    /// use hwbreak_riscv::{Riscv, Trap, TriggerType, Triggers, CAUSE_BREAKPOINT};
    ///
    /// struct Nothing;
    /// impl SlotView for Nothing {
    ///     fn slot(&self, _: PoolId, _: usize) -> Option<SlotImage> { None }
    /// }
    /// let r = Riscv::machine().with_triggers(Triggers { count: 2, kind: TriggerType::Mcontrol6 });
    /// // The step trigger the OS armed fired.
    /// let step = Trap { cause: CAUSE_BREAKPOINT, epc: 0x8000_0104, stepping: true, ..Trap::default() };
    /// let d = r.decode(&step, &Nothing);
    /// assert!(d.step_complete && !d.any_hit());
    /// assert_eq!(d.resume, Some(Resume::EndSingleStep));
    /// ```
    fn decode(&self, trap: &Trap, armed: &dyn SlotView) -> Decoded {
        let mut d = Decoded::default();
        if trap.cause != CAUSE_BREAKPOINT {
            return d;
        }
        let n = usize::from(self.triggers().count).min(MAX_SLOTS);
        let (mut code, mut data, mut at_tval) = (0u32, 0u32, 0u32);
        for i in 0..n {
            let Some(image) = armed.slot(POOL, i) else {
                continue;
            };
            let access = AccessBits(image.control & AccessBits::MASK);
            if access.contains(AccessBits::EXECUTE) {
                if image.value == trap.epc {
                    code |= 1 << i;
                }
                continue;
            }
            let Some((start, len)) = self.watched_range(image) else {
                continue;
            };
            let end = start.saturating_add(len);
            match trap.access {
                Some(a) => {
                    let direction = (a.load && access.contains(AccessBits::LOAD))
                        || (a.store && access.contains(AccessBits::STORE));
                    if direction && a.touches(start, end) {
                        data |= 1 << i;
                    }
                }
                None if trap.tval >= start && trap.tval < end => at_tval |= 1 << i,
                None => {}
            }
        }
        if trap.stepping {
            // The step trigger fired before the next instruction: any data
            // trigger of that instruction fires later, on its own.
            d.step_complete = true;
            d.resume = Some(Resume::EndSingleStep);
            data = 0;
        } else if trap.access.is_none() {
            // Not a load or store this crate decodes (a vector access, say):
            // the slots whose bytes hold `tval`, if the hardware reports the
            // accessed address there (QEMU does). A breakpoint exception no
            // slot explains (an `ebreak`) names none: it is not the
            // registry's.
            data = at_tval;
        }
        if code != 0 {
            d.address = Some(trap.epc);
            d.access_len = 2;
            d.resume = Some(Resume::SingleStep);
        } else if data != 0 {
            match trap.access {
                Some(a) => {
                    d.address = Some(a.addr);
                    d.access_len = a.len;
                }
                None => d.address = Some(trap.tval),
            }
            // Type 2 triggers are written with `timing` = 0: before.
            let timing = match self.triggers().kind {
                TriggerType::Mcontrol => Timing::Before,
                TriggerType::Mcontrol6 => self.data_timing,
            };
            d.resume = Some(match timing {
                Timing::Before => Resume::SingleStep,
                Timing::After => Resume::Continue,
            });
        }
        // Execute and data slots are distinct triggers: both sets count.
        d.hits[POOL.index()] = code;
        d.hits[POOL.index()] |= data;
        d
    }

    /// Arms or disarms trigger `index`: in M-mode with `tselect`, `tdata1`
    /// = 0, `tdata2`, `tdata3`, `tdata1`; in S-mode by uninstalling the
    /// slot's firmware trigger and installing the new image (errors in
    /// [`sbi::last_error`]).
    ///
    /// # Safety
    /// As [`Arch::write_slot`]: the current hart. In [`Mode::Machine`] the
    /// kernel must run in M-mode; in [`Mode::Supervisor`] in S-mode, with
    /// this hart's [`SbiShmem`] registered.
    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>) {
        if pool != POOL || index >= usize::from(self.triggers().count) {
            return;
        }
        #[cfg(target_arch = "riscv64")]
        // SAFETY: forwarded from the caller; the mode says which route this
        // kernel may use.
        unsafe {
            match self.mode {
                Mode::Machine => route::machine::store(index, image),
                Mode::Supervisor(shmem) => shmem().store(index, image),
            }
        }
        #[cfg(not(target_arch = "riscv64"))]
        let _ = image;
    }

    /// Nothing to write: each trigger has its own `tdata1`.
    ///
    /// # Safety
    /// As [`Arch::write_control`]; this backend touches nothing here.
    unsafe fn write_control(&self, _pool: PoolId, _control: u64) {}

    /// Nothing to switch: triggers need no global enable.
    ///
    /// # Safety
    /// As [`Arch::set_armed`]; this backend touches nothing here.
    unsafe fn set_armed(&self, _armed: bool) {}

    /// Nothing to clear: `hit` bits are optional and never read here, and
    /// the trap CSRs are rewritten by every exception.
    ///
    /// # Safety
    /// As [`Arch::acknowledge`]; this backend touches nothing here.
    unsafe fn acknowledge(&self, _trap: &Trap) {}
}

#[cfg(test)]
mod tests;
