#![doc = include_str!("../README.md")]
//! # Where to start
//!
//! - [`X86`]: the backend value a `Registry` is built with;
//! - [`Trap`]: what the #DB entry hands over ([`Trap::capture`] reads DR6);
//! - [`resume_rflags`]: the registry's `Resume` applied to saved RFLAGS;
//! - [`frame`] (feature `x86_64`): the same for the `x86_64` crate's
//!   `InterruptStackFrame`, and the whole #DB path of an
//!   `extern "x86-interrupt"` handler in one call;
//! - [`dr7`], [`dr6`]: the pure encoders and decoder; [`regs`] (x86
//!   targets): the register accessors.
#![no_std]
#![warn(missing_docs)]

pub mod dr6;
pub mod dr7;
#[cfg(feature = "x86_64")]
pub mod frame;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub mod regs;

use dr6::Dr6;
/// Slots of the one pool (DR0-DR3): the `SLOTS` capacity to give a
/// [`Registry`](hwbreak_core::Registry) of this backend, so that its
/// per-CPU tables hold four slots, not the core's sixteen.
///
/// ```
/// use hwbreak_core::{Arch, SlotCounts};
/// use hwbreak_x86::{X86, SLOTS};
/// assert_eq!(X86::new().slot_counts(), SlotCounts([SLOTS as u8, 0]));
/// ```
pub use dr7::SLOTS;
use dr7::{Condition, Length, SlotControl};
use hwbreak_core::{
    AccessKind, Arch, Decoded, ErrorKind, Piece, PoolId, Result, Resume, SlotCounts, SlotImage,
    SlotView, Space,
};

/// Width of linear addresses with 4-level paging: bits 63:47 must all equal
/// bit 47 (canonical form). 5-level paging (57 bits) is not supported:
/// its upper-half addresses are refused as non-canonical.
pub const VIRTUAL_ADDRESS_BITS: u32 = 48;

/// Size of the I/O port space (ports 0-0xffff): an I/O breakpoint's
/// `addr + len` must not exceed it.
pub const IO_SPACE: u64 = 0x1_0000;

/// What the #DB entry hands to the registry: DR6 as read on entry.
///
/// # Examples
///
/// ```
/// use hwbreak_x86::{dr6, Trap};
/// // A #DB for DR0 (what `Trap::capture` would read).
/// let trap = Trap::new(dr6::RESET | 1);
/// assert!(trap.dr6.hit(0));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Trap {
    /// DR6 read at the start of the #DB handler, before anything else
    /// touched the debug registers.
    pub dr6: Dr6,
}

impl Trap {
    /// A trap with the given DR6 value (for tests, or an entry that read DR6
    /// itself). See [`Trap`] for an example.
    pub const fn new(dr6: u64) -> Self {
        Self {
            dr6: Dr6::from_bits(dr6),
        }
    }

    /// Reads DR6 on the current CPU.
    ///
    /// # Safety
    /// Ring 0 only; call it first thing in the #DB handler.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Not run: reading DR6 faults in a user-space test process.
    /// # use hwbreak_core::{Platform, CpuId, Registry, Resume};
    /// # struct K;
    /// # impl Platform for K {
    /// #     fn cpu_count(&self) -> u32 { 1 }
    /// #     fn current_cpu(&self) -> CpuId { CpuId(0) }
    /// #     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) { f() }
    /// #     fn user_limit(&self) -> u64 { 0x8000_0000_0000 }
    /// # }
    /// use hwbreak_x86::{Trap, X86};
    /// static REGISTRY: Registry<X86, K, 64, 1, 8> = Registry::new(X86::new(), K);
    ///
    /// /// Called by the #DB entry stub with the saved RFLAGS.
    /// fn debug_exception(saved_rflags: &mut u64) {
    ///     // SAFETY: first thing in the #DB handler, at ring 0.
    ///     let trap = unsafe { Trap::capture() };
    ///     if REGISTRY.on_debug_exception(&trap).resume == Resume::SetResumeFlag {
    ///         *saved_rflags |= 1 << 16; // RFLAGS.RF
    ///     }
    /// }
    /// # debug_exception(&mut 0);
    /// ```
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    pub unsafe fn capture() -> Self {
        // SAFETY: forwarded to the caller.
        Self::new(unsafe { read_dr6() })
    }
}

/// Reads DR6 on the current CPU, every bit included.
///
/// # Safety
/// Ring 0 only.
///
/// # Examples
///
/// ```no_run
/// // Not run: reading DR6 faults in a user-space test process.
/// // SAFETY: ring 0.
/// let dr6 = hwbreak_x86::dr6::Dr6::from_bits(unsafe { hwbreak_x86::read_dr6() });
/// # let _ = dr6;
/// ```
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub unsafe fn read_dr6() -> u64 {
    // SAFETY: forwarded to the caller.
    unsafe { regs::read_dr6() }
}

/// RFLAGS.RF (bit 16): set in the RFLAGS an exception returns to, the
/// processor skips instruction breakpoints for the first instruction it runs.
pub const RFLAGS_RF: u64 = 1 << 16;

/// The RFLAGS the return from #DB must restore, given the registry's
/// answer and the RFLAGS the processor saved: [`Resume::SetResumeFlag`]
/// adds [`RFLAGS_RF`] (an execute breakpoint faulted before its instruction
/// ran; without RF the return would fault again, forever); every other
/// answer keeps `saved` as it is (data hits trap after the access, and this
/// backend never asks for a single step).
///
/// For a kernel whose #DB entry saves the frame itself; with the `x86_64`
/// crate's `InterruptStackFrame`, `frame::apply_resume` (feature `x86_64`)
/// does it.
///
/// # Examples
///
/// ```
/// use hwbreak_core::Resume;
/// use hwbreak_x86::resume_rflags;
///
/// assert_eq!(resume_rflags(Resume::SetResumeFlag, 0x202), 0x1_0202);
/// assert_eq!(resume_rflags(Resume::Continue, 0x202), 0x202);
/// ```
pub const fn resume_rflags(resume: Resume, saved: u64) -> u64 {
    match resume {
        Resume::SetResumeFlag => saved | RFLAGS_RF,
        Resume::Continue | Resume::SingleStep | Resume::EndSingleStep => saved,
    }
}

/// The x86_64 backend. Zero-sized apart from whether I/O breakpoints were
/// enabled by the OS.
///
/// # Examples
///
/// A kernel's registry (64 breakpoints, 8 CPUs, 256 debug contexts), built
/// at compile time:
///
/// ```
/// # use hwbreak_core::{CpuId, Platform};
/// # struct Kernel;
/// # impl Platform for Kernel {
/// #     fn cpu_count(&self) -> u32 { 8 }
/// #     fn current_cpu(&self) -> CpuId { CpuId(0) }
/// #     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) { f() }
/// #     fn user_limit(&self) -> u64 { 0x0000_8000_0000_0000 }
/// # }
/// use hwbreak_core::{Arch, Registry};
/// use hwbreak_x86::X86;
///
/// static HWBP: Registry<X86, Kernel, 64, 8, 256> = Registry::new(X86::new(), Kernel);
/// assert_eq!(<X86 as Arch>::NAME, "x86_64");
/// assert!(!HWBP.arch().io_breakpoints());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct X86 {
    io: bool,
}

impl X86 {
    /// The backend without I/O breakpoints (CR4.DE not assumed). See
    /// [`X86`] for an example.
    pub const fn new() -> Self {
        Self { io: false }
    }

    /// The backend with I/O breakpoints ([`AccessKind::Io`], R/W = 10).
    ///
    /// # Safety
    /// CR4.DE must be set on every CPU the registry serves before the first
    /// I/O breakpoint is armed (see [`regs::enable_debugging_extensions`]);
    /// without it R/W = 10 is undefined.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Arch, ErrorKind, PoolId};
    /// use hwbreak_x86::X86;
    ///
    /// assert_eq!(X86::new().pool_of(AccessKind::Io).unwrap_err().kind(), ErrorKind::NotEnabled);
    /// // SAFETY: this example arms nothing; a kernel sets CR4.DE on every
    /// // CPU first (`regs::enable_debugging_extensions`).
    /// let x86 = unsafe { X86::with_io_breakpoints() };
    /// assert_eq!(x86.pool_of(AccessKind::Io)?, PoolId::FIRST);
    /// // Ports 0x60-0x63: one 4-byte slot.
    /// assert_eq!(x86.max_piece(AccessKind::Io, 0x60, 4)?, 4);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub const unsafe fn with_io_breakpoints() -> Self {
        Self { io: true }
    }

    /// Whether I/O breakpoints are accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!hwbreak_x86::X86::new().io_breakpoints());
    /// ```
    pub const fn io_breakpoints(&self) -> bool {
        self.io
    }

    /// The largest naturally aligned power of two, at most `cap` (a power
    /// of two), that starts at `addr` and fits in `len` (`len` at least 1).
    fn natural_piece(addr: u64, len: u64, cap: u64) -> u64 {
        // The largest power of two `addr` is a multiple of (address 0 is
        // aligned to any), and the largest one not above `len`.
        let align = if addr == 0 {
            cap
        } else {
            1 << addr.trailing_zeros()
        };
        let fit = 1 << (63 - len.leading_zeros());
        align.min(fit).min(cap)
    }

    fn check_kind(&self, kind: AccessKind) -> Result<Condition> {
        match kind {
            AccessKind::Execute => Ok(Condition::Execute),
            AccessKind::Write => Ok(Condition::Write),
            AccessKind::ReadWrite => Ok(Condition::ReadWrite),
            AccessKind::Read => Err(ErrorKind::UnsupportedKind.into()),
            AccessKind::Io if self.io => Ok(Condition::Io),
            AccessKind::Io => Err(ErrorKind::NotEnabled.into()),
        }
    }
}

/// Whether `addr` is canonical with 48-bit linear addresses (bits 63:47
/// equal).
///
/// # Examples
///
/// ```
/// use hwbreak_x86::is_canonical;
/// assert!(is_canonical(0x0000_7fff_ffff_ffff));
/// assert!(is_canonical(0xffff_8000_0000_0000));
/// assert!(!is_canonical(0x0000_8000_0000_0000)); // in the hole
/// ```
pub const fn is_canonical(addr: u64) -> bool {
    let shift = 64 - VIRTUAL_ADDRESS_BITS;
    (((addr << shift) as i64) >> shift) as u64 == addr
}

/// Checks `[addr, end)` for canonical form: both ends canonical and in the
/// same half (a range cannot span the non-canonical hole).
fn check_canonical(addr: u64, end: u64) -> Result<()> {
    if end < addr {
        return Err(ErrorKind::AddressOverflow.into());
    }
    if end == addr {
        return Err(ErrorKind::ZeroLength.into());
    }
    let last = end - 1;
    if !is_canonical(addr) || !is_canonical(last) || (addr >> 63) != (last >> 63) {
        return Err(ErrorKind::NonCanonical.into());
    }
    Ok(())
}

impl Arch for X86 {
    const NAME: &'static str = "x86_64";
    const POOLS: usize = 1;
    type Trap = Trap;

    fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
        self.check_kind(kind).map(|_| PoolId::FIRST)
    }

    fn slot_counts(&self) -> SlotCounts {
        SlotCounts([SLOTS as u8, 0])
    }

    /// Canonical form of both ends (`NonCanonical`). DR7 has no privilege
    /// selection, so `space` does not restrict anything here; the core
    /// checks user ranges against the platform's user limit.
    fn check_range(&self, addr: u64, end: u64, _space: Space) -> Result<()> {
        check_canonical(addr, end)
    }

    fn max_piece(&self, kind: AccessKind, addr: u64, len: u64) -> Result<u64> {
        if len == 0 {
            return Err(ErrorKind::ZeroLength.into());
        }
        let end = addr.checked_add(len).ok_or(ErrorKind::AddressOverflow)?;
        match self.check_kind(kind)? {
            // The instruction's first byte, at any alignment; nothing longer.
            Condition::Execute if len == 1 => Ok(1),
            Condition::Execute => Err(ErrorKind::UnsupportedLength.into()),
            // I/O accesses are at most four bytes, in the 64 KiB port space.
            Condition::Io if end > IO_SPACE => Err(ErrorKind::AddressOverflow.into()),
            Condition::Io => Ok(Self::natural_piece(addr, len, 4)),
            Condition::Write | Condition::ReadWrite => Ok(Self::natural_piece(addr, len, 8)),
        }
    }

    fn encode(&self, piece: &Piece) -> Result<SlotImage> {
        let condition = self.check_kind(piece.kind)?;
        if piece.len == 0 {
            return Err(ErrorKind::ZeroLength.into());
        }
        let end = piece
            .addr
            .checked_add(piece.len)
            .ok_or(ErrorKind::AddressOverflow)?;
        let length = match condition {
            Condition::Execute if piece.len != 1 => return Err(ErrorKind::UnsupportedLength.into()),
            Condition::Io if piece.len == 8 => return Err(ErrorKind::UnsupportedLength.into()),
            _ => Length::from_bytes(piece.len).ok_or(ErrorKind::UnsupportedLength)?,
        };
        if !piece.addr.is_multiple_of(piece.len) {
            return Err(ErrorKind::Misaligned.into());
        }
        if condition == Condition::Io {
            if end > IO_SPACE {
                return Err(ErrorKind::AddressOverflow.into());
            }
        } else {
            check_canonical(piece.addr, end)?;
        }
        Ok(SlotImage {
            value: piece.addr,
            control: SlotControl::enabled(condition, length).bits(),
        })
    }

    fn control_word(&self, pool: PoolId, slots: &[Option<SlotImage>]) -> u64 {
        if pool != PoolId::FIRST {
            return 0;
        }
        dr7::Dr7::from_slots(
            slots
                .iter()
                .map(|s| s.and_then(|img| SlotControl::from_bits(img.control))),
        )
        .bits()
    }

    /// `B0`-`B3` of DR6, kept only for slots the registry has armed (the
    /// processor may set `Bn` for a disabled slot whose condition matches).
    /// Resume: [`Resume::SetResumeFlag`] when an execute slot hit (it
    /// faulted before the instruction ran), else [`Resume::Continue`] (data
    /// hits trap after the access). `BS` means a single step completed.
    /// The address is reported only for a lone execute hit (the instruction
    /// address); DR6 does not say which byte a data access touched.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Arch, MemoryType, Piece, PoolId, Resume, SlotImage, SlotView, Space};
    /// use hwbreak_x86::{dr6, Trap, X86};
    ///
    /// // DR1 holds an execute breakpoint; DR0 is empty.
    /// struct Armed(SlotImage);
    /// impl SlotView for Armed {
    ///     fn slot(&self, _: PoolId, index: usize) -> Option<SlotImage> {
    ///         (index == 1).then_some(self.0)
    ///     }
    /// }
    /// let x86 = X86::new();
    /// let exec = Piece {
    ///     addr: 0xffff_8000_0000_1000,
    ///     len: 1,
    ///     kind: AccessKind::Execute,
    ///     space: Space::Kernel,
    ///     memory: MemoryType::Normal,
    /// };
    /// let armed = Armed(x86.encode(&exec)?);
    /// // DR6 names B0 and B1; B0's slot is not armed, so only B1 counts.
    /// let d = x86.decode(&Trap::new(dr6::RESET | 0b11), &armed);
    /// assert_eq!(d.hits[0], 0b10);
    /// assert_eq!(d.resume, Some(Resume::SetResumeFlag));
    /// assert_eq!(d.address, Some(0xffff_8000_0000_1000));
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    fn decode(&self, trap: &Trap, armed: &dyn SlotView) -> Decoded {
        let mut out = Decoded {
            step_complete: trap.dr6.single_step(),
            ..Decoded::default()
        };
        let mut execute = 0u32;
        let mut exec_addr = None;
        for n in 0..SLOTS {
            if !trap.dr6.hit(n) {
                continue;
            }
            let Some(img) = armed.slot(PoolId::FIRST, n) else {
                continue;
            };
            let Some(control) = SlotControl::from_bits(img.control) else {
                continue;
            };
            if !control.is_enabled() {
                continue;
            }
            out.hits[0] |= 1 << n;
            if control.condition() == Condition::Execute {
                execute += 1;
                exec_addr = Some(img.value);
            }
        }
        if out.hits[0] != 0 {
            out.resume = Some(if execute > 0 {
                Resume::SetResumeFlag
            } else {
                Resume::Continue
            });
            if execute == 1 && out.hits[0].count_ones() == 1 {
                out.address = exec_addr;
            }
        }
        out
    }

    /// Writes DR`index` (0 to disarm: DR7, written separately, decides
    /// whether the slot is enabled).
    ///
    /// # Safety
    /// As [`Arch::write_slot`]: the current CPU, at CPL 0 (a debug-register
    /// access from user mode raises #GP).
    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>) {
        if pool != PoolId::FIRST || index >= SLOTS {
            return;
        }
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: the core calls this on the CPU meant, at CPL 0.
        unsafe {
            regs::write_dr(index, image.map_or(0, |i| i.value))
        };
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        let _ = image;
    }

    /// Writes DR7 (reserved bits forced to their required values).
    ///
    /// # Safety
    /// As [`Arch::write_control`]: the current CPU, at CPL 0 (a debug-register
    /// access from user mode raises #GP).
    unsafe fn write_control(&self, pool: PoolId, control: u64) {
        if pool != PoolId::FIRST {
            return;
        }
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: the core calls this on the CPU meant, at CPL 0, with a
        // word from `control_word`; `write_dr7` forces the reserved bits.
        unsafe {
            regs::write_dr7(control)
        };
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        let _ = control;
    }

    /// Nothing to do: DR7 alone enables slots.
    ///
    /// # Safety
    /// As [`Arch::set_armed`]; this backend touches nothing here.
    unsafe fn set_armed(&self, _armed: bool) {}

    /// DR7 = 0: no slot can fire while the registry handles a #DB (its own
    /// accesses to watched data would otherwise nest a #DB on the same IST
    /// stack). The core writes the control word back afterwards.
    ///
    /// # Safety
    /// As [`Arch::suspend`]: inside the current CPU's #DB handler, at CPL 0 (a debug-register
    /// access from user mode raises #GP).
    unsafe fn suspend(&self) {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: inside the #DB handler at CPL 0 (caller's contract).
        unsafe {
            regs::write_dr7(dr7::RESET)
        };
    }

    /// DR6 = its reset value, so the next #DB does not see stale `Bn` bits.
    ///
    /// # Safety
    /// As [`Arch::acknowledge`]: inside the current CPU's #DB handler, at CPL 0 (a debug-register
    /// access from user mode raises #GP).
    unsafe fn acknowledge(&self, _trap: &Trap) {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: inside the #DB handler at CPL 0 (caller's contract).
        unsafe {
            regs::write_dr6(dr6::RESET)
        };
    }
}

#[cfg(test)]
mod tests;
