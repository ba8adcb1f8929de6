//! `mcontrol`: `tdata1` of type 2, the address/data match trigger of the
//! 0.13 specification (kept, as deprecated, by Sdtrig 1.0).
//!
//! Fields for XLEN = 64 (spec 5.7.12):
//!
//! | bits | field | use here |
//! |---|---|---|
//! | 63:60 | `type` = 2 | |
//! | 59 | `dmode` | 0 |
//! | 58:53 | `maskmax` | read only: largest NAPOT range is 2^maskmax bytes |
//! | 22:21 | `sizehi` | high bits of the access size |
//! | 20 | `hit` | set by hardware that reports hits (optional) |
//! | 19 | `select` | 0: compare the address |
//! | 18 | `timing` | 0: fire before the access or instruction |
//! | 17:16 | `sizelo` | low bits of the access size |
//! | 15:12 | `action` | 0: breakpoint exception |
//! | 11 | `chain` | 0 |
//! | 10:7 | `match` | [`MatchKind`] |
//! | 6, 4, 3 | `m`, `s`, `u` | [`Privilege`] |
//! | 2, 1, 0 | `execute`, `store`, `load` | [`AccessBits`] |
//!
//! `sizehi:sizelo` is the access size the trigger matches: 0 any, 1 one
//! byte, 2 two, 3 four, 4 six, 5 eight.
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::registers::mcontrol::Mcontrol;
//! use hwbreak_riscv::registers::{AccessBits, MatchKind, Privilege};
//! // A store watch in S-mode, any access size, equal match:
//! // type 2, s (bit 4), store (bit 1).
//! let c = Mcontrol::new(AccessBits::STORE, Privilege::SUPERVISOR, MatchKind::Equal, 0);
//! assert_eq!(c.bits(), 0x2000_0000_0000_0012);
//! ```

use super::{tdata1, AccessBits, MatchKind, Privilege, ACTION_MASK, CHAIN};

/// An `mcontrol` value.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mcontrol(u64);

impl Mcontrol {
    /// `maskmax` position.
    pub const MASKMAX_SHIFT: u32 = 53;
    /// `sizehi` position.
    pub const SIZEHI_SHIFT: u32 = 21;
    /// `hit`.
    pub const HIT: u64 = 1 << 20;
    /// `select`.
    pub const SELECT: u64 = 1 << 19;
    /// `timing`: 1 = fire after the access.
    pub const TIMING: u64 = 1 << 18;
    /// `sizelo` position.
    pub const SIZELO_SHIFT: u32 = 16;

    /// A trigger comparing addresses for `access` in `privilege`, with
    /// `match` kind `kind` and access size code `size` (0-7, see the module
    /// documentation), firing before the access, action 0, no chain.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::mcontrol::Mcontrol;
    /// use hwbreak_riscv::registers::{AccessBits, MatchKind, Privilege};
    /// // Execute in M-mode: type 2, m (bit 6), execute (bit 2).
    /// let c = Mcontrol::new(AccessBits::EXECUTE, Privilege::MACHINE, MatchKind::Equal, 0);
    /// assert_eq!(c.bits(), 0x2000_0000_0000_0044);
    /// // 8-byte loads in U-mode, NAPOT: sizelo = 01, sizehi = 01, match = 1.
    /// let c = Mcontrol::new(AccessBits::LOAD, Privilege::USER, MatchKind::Napot, 5);
    /// assert_eq!(c.bits(), 0x2000_0000_0021_0089);
    /// ```
    pub const fn new(access: AccessBits, privilege: Privilege, kind: MatchKind, size: u8) -> Self {
        let size = size as u64 & 0b111;
        let data = ((size >> 2) << Self::SIZEHI_SHIFT)
            | ((size & 0b11) << Self::SIZELO_SHIFT)
            | ((kind as u64) << MatchKind::SHIFT)
            | (privilege.0 & Privilege::MASK)
            | (access.0 & AccessBits::MASK);
        Self(tdata1::with_type(tdata1::TYPE_MCONTROL, data))
    }

    /// The value as written to `tdata1`.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// A value read from `tdata1` (of whatever type).
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The access size code (`sizehi:sizelo`).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::mcontrol::Mcontrol;
    /// assert_eq!(Mcontrol::from_bits(0x2000_0000_0021_0000).size(), 5);
    /// ```
    pub const fn size(self) -> u8 {
        let mut size = ((self.0 >> Self::SIZEHI_SHIFT) & 0b11) << 2;
        size |= (self.0 >> Self::SIZELO_SHIFT) & 0b11;
        size as u8
    }

    /// `maskmax`: NAPOT ranges up to 2^maskmax bytes are supported (0: no
    /// NAPOT at all, on hardware that reports it).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::mcontrol::Mcontrol;
    /// assert_eq!(Mcontrol::from_bits(0x2000_0000_0000_0000 | 12 << 53).maskmax(), 12);
    /// ```
    pub const fn maskmax(self) -> u8 {
        ((self.0 >> Self::MASKMAX_SHIFT) & 0x3f) as u8
    }

    /// The `match` field (raw, 0-15).
    pub const fn match_field(self) -> u64 {
        (self.0 & MatchKind::MASK) >> MatchKind::SHIFT
    }

    /// The `execute`/`store`/`load` bits.
    pub const fn access(self) -> AccessBits {
        AccessBits(self.0 & AccessBits::MASK)
    }

    /// Whether `chain`, `action` or `timing` hold anything but 0 (this
    /// crate never writes them; hardware may refuse other values).
    pub const fn uses_extras(self) -> bool {
        self.0 & CHAIN != 0 || self.0 & ACTION_MASK != 0 || self.0 & Self::TIMING != 0
    }
}
