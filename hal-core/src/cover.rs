//! Exact range cover: split a requested byte range into the fewest pieces
//! the backend can each express in one slot, or refuse.
//!
//! The backend answers one question, [`Arch::max_piece`]: how long is the
//! longest prefix of what is left that one slot covers exactly. Greedy
//! covering with that answer is minimal for the granularity rules of every
//! supported machine (naturally aligned power-of-two blocks on x86, byte
//! selects inside an 8-byte granule and power-of-two masked ranges on
//! AArch64, granule-filtered DAWR ranges on ppc64).

use crate::arch::{Arch, Piece};
use crate::error::{ErrorKind, Result};
use crate::request::{AccessKind, Space};
use crate::MemoryType;

/// Most pieces one request may be split into (a request is also limited to
/// the slots of its pool).
pub const MAX_PIECES: usize = 8;

/// The pieces covering one request, in address order, as
/// [`exact_cover`] returns them.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "model")] {
/// use hwbreak_core::cover::exact_cover;
/// use hwbreak_core::model::{Config, Machine, ModelArch};
/// use hwbreak_core::{AccessKind, MemoryType, Space};
///
/// let arch = ModelArch::new(Machine::new(Config::x86_like(1)));
/// let cover = exact_cover(&arch, 0x1000, 16, AccessKind::Write, Space::Kernel, MemoryType::Normal, 4)
///     .unwrap();
/// assert_eq!(cover.pieces().len(), 2);
/// let starts: Vec<u64> = cover.pieces().map(|p| p.addr).collect();
/// assert_eq!(starts, [0x1000, 0x1008]);
/// # }
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Cover {
    pieces: [Option<Piece>; MAX_PIECES],
    len: usize,
}

impl Cover {
    /// The pieces, in address order; their count (`pieces().len()`) is the
    /// number of slots the request needs, never 0. See [`Cover`] for an
    /// example.
    pub fn pieces(&self) -> impl ExactSizeIterator<Item = &Piece> + '_ {
        self.pieces[..self.len].iter().map(|p| match p {
            Some(p) => p,
            // Every index below `len` is filled by `exact_cover`.
            None => unreachable!(),
        })
    }
}

// Manual: only the pieces in use, not the unused tail of the array.
#[cfg(feature = "defmt")]
impl defmt::Format for Cover {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Cover {{ pieces: {} }}", &self.pieces[..self.len])
    }
}

/// Covers `[addr, addr + len)` exactly with at most `limit` pieces (the pool's
/// slot count, capped at [`MAX_PIECES`]).
///
/// Errors: `ZeroLength`, `AddressOverflow`, whatever the backend's
/// [`Arch::max_piece`] refuses with, and `NotCoverable` when more than
/// `limit` pieces would be needed.
///
/// The registry calls it for every request; kernels do not need to. It is
/// public so a backend's `max_piece` can be tested the way the core uses
/// it.
///
/// # Examples
///
/// Thirteen bytes from an odd address on x86-like hardware (naturally
/// aligned 1, 2, 4 or 8 bytes per slot) take three slots:
///
/// ```
/// # #[cfg(feature = "model")] {
/// use hwbreak_core::cover::exact_cover;
/// use hwbreak_core::model::{Config, Machine, ModelArch};
/// use hwbreak_core::{AccessKind, ErrorKind, MemoryType, Space};
///
/// let arch = ModelArch::new(Machine::new(Config::x86_like(1)));
/// let cover =
///     exact_cover(&arch, 0x1003, 13, AccessKind::Write, Space::Kernel, MemoryType::Normal, 4)
///         .unwrap();
/// let pieces: Vec<(u64, u64)> = cover.pieces().map(|p| (p.addr, p.len)).collect();
/// assert_eq!(pieces, [(0x1003, 1), (0x1004, 4), (0x1008, 8)]);
///
/// // With two slots it cannot be watched exactly, so it is refused rather
/// // than widened.
/// let err = exact_cover(&arch, 0x1003, 13, AccessKind::Write, Space::Kernel, MemoryType::Normal, 2)
///     .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotCoverable);
/// # }
/// ```
pub fn exact_cover<A: Arch + ?Sized>(
    arch: &A,
    addr: u64,
    len: u64,
    kind: AccessKind,
    space: Space,
    memory: MemoryType,
    limit: usize,
) -> Result<Cover> {
    if len == 0 {
        return Err(ErrorKind::ZeroLength.into());
    }
    addr.checked_add(len).ok_or(ErrorKind::AddressOverflow)?;
    let limit = limit.min(MAX_PIECES);
    let mut cover = Cover {
        pieces: [None; MAX_PIECES],
        len: 0,
    };
    let (mut at, mut left) = (addr, len);
    while left > 0 {
        let take = arch.max_piece(kind, at, left)?;
        if take == 0 || take > left {
            // A backend answering outside 1..=left would make us loop or
            // overrun; refuse rather than guess.
            return Err(ErrorKind::UnsupportedLength.into());
        }
        if cover.len == limit {
            return Err(ErrorKind::NotCoverable.into());
        }
        cover.pieces[cover.len] = Some(Piece {
            addr: at,
            len: take,
            kind,
            space,
            memory,
        });
        cover.len += 1;
        at += take;
        left -= take;
    }
    Ok(cover)
}
