#![doc = include_str!("../README.md")]
//! # Where to start
//!
//! - [`Aarch64`]: the backend value a `Registry` is built with;
//! - [`Trap`]: what the synchronous exception vector hands over;
//! - [`encode`] and [`decode`]: the pure encoders and the decoder;
//! - [`registers`]: the debug registers `aarch64-cpu` lacks;
//! - `cpu` (AArch64 targets): bring-up (`unmask_debug_exceptions`),
//!   `apply_resume` on the saved SPSR, the register writes.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod decode;
pub mod encode;
pub mod registers;

#[cfg(target_arch = "aarch64")]
pub mod cpu;

pub use decode::Trap;

#[cfg(doc)]
use hwbreak_core::Resume;
use hwbreak_core::{
    AccessKind, Arch, Decoded, ErrorKind, Piece, PoolId, Result, SlotCounts, SlotImage, SlotView,
    Space, MAX_SLOTS,
};

/// The AArch64 backend.
///
/// # Examples
///
/// A kernel's registry (64 breakpoints, 4 CPUs, 64 debug contexts), built
/// at compile time; the slot counts are read from ID_AA64DFR0_EL1 by
/// `init`:
///
/// ```
/// # use hwbreak_core::{CpuId, Platform};
/// # struct Kernel;
/// # impl Platform for Kernel {
/// #     fn cpu_count(&self) -> u32 { 4 }
/// #     fn current_cpu(&self) -> CpuId { CpuId(0) }
/// #     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) { f() }
/// #     fn user_limit(&self) -> u64 { 1 << 48 }
/// # }
/// use hwbreak_aarch64::Aarch64;
/// use hwbreak_core::Registry;
///
/// static HWBP: Registry<Aarch64, Kernel, 64, 4, 64> = Registry::new(Aarch64::new(), Kernel);
/// # let _ = &HWBP;
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Aarch64 {
    /// Explicit `(breakpoints, watchpoints)`, or `None` to read
    /// ID_AA64DFR0_EL1.
    counts: Option<(u8, u8)>,
}

impl Aarch64 {
    /// The backend for the CPU it runs on: slot counts come from
    /// ID_AA64DFR0_EL1. Built for another architecture (host tests), it has
    /// no slots.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_aarch64::Aarch64;
    /// use hwbreak_core::{Arch, SlotCounts};
    /// # #[cfg(not(target_arch = "aarch64"))]
    /// assert_eq!(Aarch64::new().slot_counts(), SlotCounts([0, 0]));
    /// ```
    pub const fn new() -> Self {
        Self { counts: None }
    }

    /// A backend with explicit slot counts (host tests, models, or a CPU
    /// whose identification registers must not be trusted). Counts above
    /// 16, the architectural maximum, are reduced to 16.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_aarch64::Aarch64;
    /// use hwbreak_core::{Arch, SlotCounts};
    /// assert_eq!(Aarch64::with_counts(20, 2).slot_counts(), SlotCounts([16, 2]));
    /// ```
    pub const fn with_counts(breakpoints: u8, watchpoints: u8) -> Self {
        let max = MAX_SLOTS as u8;
        let b = if breakpoints <= max { breakpoints } else { max };
        let w = if watchpoints <= max { watchpoints } else { max };
        Self {
            counts: Some((b, w)),
        }
    }
}

impl Arch for Aarch64 {
    const NAME: &'static str = "aarch64";
    const POOLS: usize = 2;
    type Trap = Trap;

    fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
        match kind {
            AccessKind::Execute => Ok(PoolId::FIRST),
            AccessKind::Read | AccessKind::Write | AccessKind::ReadWrite => Ok(PoolId::SECOND),
            AccessKind::Io => Err(ErrorKind::UnsupportedKind.into()),
        }
    }

    fn slot_counts(&self) -> SlotCounts {
        let (b, w) = match self.counts {
            Some(c) => c,
            #[cfg(target_arch = "aarch64")]
            None => cpu::implemented_pairs(),
            #[cfg(not(target_arch = "aarch64"))]
            None => (0, 0),
        };
        SlotCounts([b, w])
    }

    fn check_range(&self, addr: u64, end: u64, space: Space) -> Result<()> {
        encode::check_va(addr, end, space)
    }

    fn max_piece(&self, kind: AccessKind, addr: u64, len: u64) -> Result<u64> {
        match kind {
            AccessKind::Execute => encode::max_code_piece(addr, len),
            AccessKind::Read | AccessKind::Write | AccessKind::ReadWrite => {
                encode::max_data_piece(addr, len)
            }
            AccessKind::Io => Err(ErrorKind::UnsupportedKind.into()),
        }
    }

    fn encode(&self, piece: &Piece) -> Result<SlotImage> {
        match piece.kind {
            AccessKind::Execute => encode::breakpoint(piece.addr, piece.len, piece.space),
            kind => encode::watchpoint(piece.addr, piece.len, kind, piece.space),
        }
    }

    fn control_word(&self, _pool: PoolId, _slots: &[Option<SlotImage>]) -> u64 {
        // Every slot has its own control register; nothing is shared.
        0
    }

    fn decode(&self, trap: &Trap, armed: &dyn SlotView) -> Decoded {
        decode::decode(trap, armed)
    }

    /// Writes the DBGBVR/DBGBCR (code pool) or DBGWVR/DBGWCR (data pool)
    /// pair `index`; pairs this CPU does not implement are skipped.
    ///
    /// # Safety
    /// As [`Arch::write_slot`]: the current CPU, at EL1, with vectors that hand
    /// debug exceptions to the registry.
    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>) {
        #[cfg(target_arch = "aarch64")]
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            cpu::write_slot(pool, index, image)
        };
        #[cfg(not(target_arch = "aarch64"))]
        let _ = (pool, index, image);
    }

    /// Nothing to write: every pair has its own control register.
    ///
    /// # Safety
    /// As [`Arch::write_control`]; this backend touches nothing here.
    unsafe fn write_control(&self, _pool: PoolId, _control: u64) {
        // No shared control register.
    }

    /// On: OS lock cleared, MDSCR_EL1.MDE and KDE set. Off: MDE (and KDE
    /// unless a step is in progress) cleared. PSTATE.D is never touched:
    /// the kernel unmasks debug exceptions once per CPU at bring-up
    /// (`cpu::unmask_debug_exceptions`, AArch64 targets only).
    ///
    /// # Safety
    /// As [`Arch::set_armed`]: the current CPU, at EL1, with vectors that hand
    /// debug exceptions to the registry.
    unsafe fn set_armed(&self, armed: bool) {
        #[cfg(target_arch = "aarch64")]
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            if armed {
                cpu::enable_debug()
            } else {
                cpu::disable_debug()
            }
        };
        #[cfg(not(target_arch = "aarch64"))]
        let _ = armed;
    }

    /// Nothing to clear: AArch64 debug exceptions leave no sticky status.
    ///
    /// # Safety
    /// As [`Arch::acknowledge`]; this backend touches nothing here.
    unsafe fn acknowledge(&self, _trap: &Trap) {
        // AArch64 debug exceptions leave no sticky status to clear.
    }
}

#[cfg(test)]
mod tests;
