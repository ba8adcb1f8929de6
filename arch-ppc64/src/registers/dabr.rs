//! DABR: Data Address Breakpoint Register (SPR 1013; POWER5-POWER7, ISA
//! v2.06 Book III 8.1; later parts emulate it through DAWR0). A match raises
//! a Data Storage interrupt (0x300) with DSISR\[41\] set, before the access.
//!
//! | ISA bits | shift | field | meaning |
//! |---|---|---|---|
//! | 0:60 | 63..3 | DAB | doubleword address watched (one 8-byte granule) |
//! | 61 | 2 | BT | match only accesses with MSR\[DR\] equal to BT |
//! | 62 | 1 | DW | match data stores |
//! | 63 | 0 | DR | match data loads |

use super::ibm;

/// A DABR value.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::Dabr;
/// // Stores to the doubleword holding 0x1005, translation off (BT = 0).
/// let d = Dabr::new(0x1005, false, true, false);
/// assert_eq!(d.bits(), 0x1002); // DW = ISA bit 62
/// assert_eq!(d.address(), 0x1000);
/// assert!(d.write() && !d.read());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dabr(u64);

impl Dabr {
    /// DAB, ISA bits 0:60.
    pub const DAB_MASK: u64 = !0b111;
    /// BT, ISA bit 61 (shift 2).
    pub const BT: u64 = ibm(61);
    /// DW, ISA bit 62 (shift 1).
    pub const DW: u64 = ibm(62);
    /// DR, ISA bit 63 (shift 0).
    pub const DR: u64 = ibm(63);

    /// A DABR watching the doubleword containing `addr` for loads (`read`)
    /// and/or stores (`write`), with breakpoint translation `bt` (compared
    /// with MSR\[DR\] unless DABRX\[BTI\] is set). See [`Dabr`] for an
    /// example.
    pub const fn new(addr: u64, read: bool, write: bool, bt: bool) -> Self {
        let mut bits = addr & Self::DAB_MASK;
        if bt {
            bits |= Self::BT;
        }
        if write {
            bits |= Self::DW;
        }
        if read {
            bits |= Self::DR;
        }
        Self(bits)
    }

    /// A raw register value.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Dabr;
    /// assert!(Dabr::from_bits(0x2001).read());
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw register value. See [`Dabr`] for an example.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// First byte of the watched doubleword. See [`Dabr`] for an example.
    pub const fn address(self) -> u64 {
        self.0 & Self::DAB_MASK
    }

    /// Whether loads match. See [`Dabr::from_bits`] for an example.
    pub const fn read(self) -> bool {
        self.0 & Self::DR != 0
    }

    /// Whether stores match. See [`Dabr`] for an example.
    pub const fn write(self) -> bool {
        self.0 & Self::DW != 0
    }
}
