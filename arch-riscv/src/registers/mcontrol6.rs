//! `mcontrol6`: `tdata1` of type 6, the address/data match trigger of
//! Sdtrig 1.0.
//!
//! Fields for XLEN = 64 (spec 5.7.17):
//!
//! | bits | field | use here |
//! |---|---|---|
//! | 63:60 | `type` = 6 | |
//! | 59 | `dmode` | 0 |
//! | 26 | `uncertain` | read only |
//! | 25 | `hit1` | with `hit0`, set by hardware that reports hits |
//! | 24 | `vs` | 0 (no virtualisation) |
//! | 23 | `vu` | 0 |
//! | 22 | `hit0` | |
//! | 21 | `select` | 0: compare the address |
//! | 19:16 | `size` | access size: 0 any, 1 one byte, 2 two, 3 four, 4 six, 5 eight |
//! | 15:12 | `action` | 0: breakpoint exception |
//! | 11 | `chain` | 0 |
//! | 10:7 | `match` | [`MatchKind`] |
//! | 6, 4, 3 | `m`, `s`, `u` | [`Privilege`] |
//! | 5 | `uncertainen` | 0 |
//! | 2, 1, 0 | `execute`, `store`, `load` | [`AccessBits`] |
//!
//! Type 6 has no `timing` bit: whether a load or store trigger fires before
//! or after the access is the implementation's choice, reported afterwards
//! in `hit1:hit0` (1 = before, 2 = after); execute triggers fire before.
//! This crate is told which one the hardware does ([`crate::Timing`]).
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::registers::mcontrol6::Mcontrol6;
//! use hwbreak_riscv::registers::{AccessBits, MatchKind, Privilege};
//! // Loads and stores in S-mode, one-byte accesses: type 6, size = 1,
//! // s (bit 4), store and load (bits 1, 0).
//! let c = Mcontrol6::new(AccessBits::LOAD | AccessBits::STORE, Privilege::SUPERVISOR, MatchKind::Equal, 1);
//! assert_eq!(c.bits(), 0x6000_0000_0001_0013);
//! ```

use super::{tdata1, AccessBits, MatchKind, Privilege};

/// An `mcontrol6` value.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mcontrol6(u64);

impl Mcontrol6 {
    /// `hit1`.
    pub const HIT1: u64 = 1 << 25;
    /// `vs`.
    pub const VS: u64 = 1 << 24;
    /// `vu`.
    pub const VU: u64 = 1 << 23;
    /// `hit0`.
    pub const HIT0: u64 = 1 << 22;
    /// `select`.
    pub const SELECT: u64 = 1 << 21;
    /// `size` position (4 bits).
    pub const SIZE_SHIFT: u32 = 16;

    /// A trigger comparing addresses for `access` in `privilege`, with
    /// `match` kind `kind` and access size code `size` (0-15), action 0,
    /// no chain.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::mcontrol6::Mcontrol6;
    /// use hwbreak_riscv::registers::{AccessBits, MatchKind, Privilege};
    /// // A NAPOT store watch in M-mode: match = 1 (bit 7), m (bit 6), store.
    /// let c = Mcontrol6::new(AccessBits::STORE, Privilege::MACHINE, MatchKind::Napot, 0);
    /// assert_eq!(c.bits(), 0x6000_0000_0000_00c2);
    /// ```
    pub const fn new(access: AccessBits, privilege: Privilege, kind: MatchKind, size: u8) -> Self {
        let data = ((size as u64 & 0xf) << Self::SIZE_SHIFT)
            | ((kind as u64) << MatchKind::SHIFT)
            | (privilege.0 & Privilege::MASK)
            | (access.0 & AccessBits::MASK);
        Self(tdata1::with_type(tdata1::TYPE_MCONTROL6, data))
    }

    /// The value as written to `tdata1`.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// A value read from `tdata1` (of whatever type).
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The access size code.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::mcontrol6::Mcontrol6;
    /// assert_eq!(Mcontrol6::from_bits(0x6000_0000_0005_0000).size(), 5);
    /// ```
    pub const fn size(self) -> u8 {
        ((self.0 >> Self::SIZE_SHIFT) & 0xf) as u8
    }

    /// The `match` field (raw, 0-15).
    pub const fn match_field(self) -> u64 {
        (self.0 & MatchKind::MASK) >> MatchKind::SHIFT
    }

    /// The `execute`/`store`/`load` bits.
    pub const fn access(self) -> AccessBits {
        AccessBits(self.0 & AccessBits::MASK)
    }

    /// `hit1:hit0`: 0 no hit reported, 1 fired before, 2 fired after, 3
    /// fired immediately after a trap (spec 1.0).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::mcontrol6::Mcontrol6;
    /// assert_eq!(Mcontrol6::from_bits(Mcontrol6::HIT1).hit(), 2);
    /// ```
    pub const fn hit(self) -> u8 {
        let mut hit = (((self.0 & Self::HIT1) != 0) as u8) << 1;
        hit |= ((self.0 & Self::HIT0) != 0) as u8;
        hit
    }
}
