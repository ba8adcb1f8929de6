//! # hwbreak-aarch64
//!
//! The AArch64 backend of hwbreak: self-hosted debug through the
//! breakpoint pairs `DBGBVR<n>_EL1`/`DBGBCR<n>_EL1` (pool [`PoolId::FIRST`],
//! code) and the watchpoint pairs `DBGWVR<n>_EL1`/`DBGWCR<n>_EL1` (pool
//! [`PoolId::SECOND`], data), counted from ID_AA64DFR0_EL1.
//!
//! What it expresses exactly:
//! - data: any run of 1 to 8 bytes inside one 8-byte aligned doubleword
//!   (byte-address select), or a naturally aligned power-of-two block of
//!   8 bytes to 2 GiB (address mask); longer or unaligned ranges are split
//!   by the core into such pieces;
//! - loads, stores, or both ([`AccessKind::Read`] is supported);
//! - instructions: the 4-byte instruction at a 4-byte aligned address;
//! - EL0 ([`Space::User`]) or EL1 ([`Space::Kernel`]), never both.
//!
//! Hits trap before the access or instruction; [`decode`](hwbreak_core::Arch::decode)
//! answers [`Resume::SingleStep`], the OS's vector code applies it with
//! `cpu::apply_resume` on the saved SPSR, and the software step exception
//! that follows goes back to the registry, which re-arms the slots.
//!
//! ## Known emulator deviation
//!
//! QEMU (seen with 10.0.2) decides whether the OS lock blocks debug
//! exceptions from OSLSR_EL1 bit 0 (part of OSLM) instead of OSLK (bit 1):
//! after OSLAR_EL1 = 1, OSLSR_EL1.OSLK reads back 1 yet watchpoints still
//! trap. This crate writes and reads the architectural bits; the board's
//! `aarch64_qemu_os_lock_ignored` scenario pins the deviation, and the
//! gating is proven instead with the OS double lock (OSDLR_EL1.DLK) and
//! MDSCR_EL1.MDE, which QEMU honours.
//!
//! The register definitions `aarch64-cpu` lacks are in [`registers`]; the
//! pure encoders in [`encode`]; the decoder in [`decode`]; the hardware
//! writes in `cpu` (AArch64 targets only).
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
    pub const fn new() -> Self {
        Self { counts: None }
    }

    /// A backend with explicit slot counts (host tests, models, or a CPU
    /// whose identification registers must not be trusted). Counts above
    /// 16, the architectural maximum, are reduced to 16.
    pub const fn with_counts(breakpoints: u8, watchpoints: u8) -> Self {
        let max = MAX_SLOTS as u8;
        let b = if breakpoints > max { max } else { breakpoints };
        let w = if watchpoints > max { max } else { watchpoints };
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

    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>) {
        #[cfg(target_arch = "aarch64")]
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            cpu::write_slot(pool, index, image)
        };
        #[cfg(not(target_arch = "aarch64"))]
        let _ = (pool, index, image);
    }

    unsafe fn write_control(&self, _pool: PoolId, _control: u64) {
        // No shared control register.
    }

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

    unsafe fn acknowledge(&self, _trap: &Trap) {
        // AArch64 debug exceptions leave no sticky status to clear.
    }
}

#[cfg(test)]
mod tests;
