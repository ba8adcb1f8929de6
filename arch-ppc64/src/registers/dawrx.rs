//! DAWRX0 / DAWRX1: Data Address Watchpoint Register Extension (SPR 188 /
//! 189; ISA v3.0B Book III 9.4).
//!
//! | ISA bits | shift | field | meaning |
//! |---|---|---|---|
//! | 0:47 | - | reserved | written as 0 |
//! | 48:53 | 15..10 | MRD | match range in doublewords, minus one (0 = 8 bytes, 63 = 512 bytes) |
//! | 54:55 | - | reserved | written as 0 |
//! | 56 | 7 | HRAMMC | hypervisor real addressing mode match control |
//! | 57 | 6 | DW | match data stores |
//! | 58 | 5 | DR | match data loads |
//! | 59 | 4 | WT | match only accesses with MSR\[DR\] equal to WT |
//! | 60 | 3 | WTI | ignore WT: match in either translation mode |
//! | 61 | 2 | PRIVM.HYP | match in hypervisor state |
//! | 62 | 1 | PRIVM.PNH | match in privileged non-hypervisor state |
//! | 63 | 0 | PRIVM.PRO | match in problem state |
//!
//! Before ISA v3.1 the range `DEAW .. DEAW + 8 * (MRD + 1)` must not cross a
//! 512-byte boundary (matching is undefined when it does); v3.1 (POWER10)
//! lifts the restriction.

use super::{ibm, Privilege, Translation};

/// A DAWRX value.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::{Dawrx, Privilege, Translation};
/// // Two doublewords (MRD = 1), stores, privileged state, either mode.
/// let x = Dawrx::new(2, false, true, Privilege::PRIVILEGED, Translation::Either).unwrap();
/// assert_eq!(x.bits(), 1 << 10 | Dawrx::DW | Dawrx::WTI | Dawrx::PNH);
/// assert_eq!(x.bits(), 0x44a);
/// assert_eq!(x.range_len(), 16);
/// assert!(x.write() && !x.read() && x.enabled());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dawrx(u64);

impl Dawrx {
    /// MRD's least significant bit is ISA bit 53: shift 63 - 53 = 10.
    pub const MRD_SHIFT: u32 = 10;
    /// MRD, ISA bits 48:53: six bits at shifts 15..10 = `0x3f << 10` = 0xfc00.
    pub const MRD_MASK: u64 = 0x3f << Self::MRD_SHIFT;
    /// HRAMMC, ISA bit 56 (shift 7).
    pub const HRAMMC: u64 = ibm(56);
    /// DW, ISA bit 57 (shift 6).
    pub const DW: u64 = ibm(57);
    /// DR, ISA bit 58 (shift 5).
    pub const DR: u64 = ibm(58);
    /// WT, ISA bit 59 (shift 4).
    pub const WT: u64 = ibm(59);
    /// WTI, ISA bit 60 (shift 3).
    pub const WTI: u64 = ibm(60);
    /// PRIVM hypervisor, ISA bit 61 (shift 2).
    pub const HYP: u64 = ibm(61);
    /// PRIVM privileged non-hypervisor, ISA bit 62 (shift 1).
    pub const PNH: u64 = ibm(62);
    /// PRIVM problem state, ISA bit 63 (shift 0).
    pub const PRO: u64 = ibm(63);

    /// The longest range one DAWR watches: 64 doublewords.
    pub const MAX_RANGE: u64 = 512;

    /// A DAWRX watching `doublewords` doublewords (1..=64; `None` outside),
    /// loads if `read`, stores if `write`, in the given privilege states and
    /// translation mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::{Dawrx, Privilege, Translation};
    /// assert!(Dawrx::new(65, true, false, Privilege::PROBLEM, Translation::Virtual).is_none());
    /// let x = Dawrx::new(64, true, false, Privilege::PROBLEM, Translation::Virtual).unwrap();
    /// assert_eq!(x.range_len(), Dawrx::MAX_RANGE);
    /// ```
    pub const fn new(
        doublewords: u64,
        read: bool,
        write: bool,
        privilege: Privilege,
        translation: Translation,
    ) -> Option<Self> {
        if doublewords == 0 || doublewords > 64 {
            return None;
        }
        let mut bits = (doublewords - 1) << Self::MRD_SHIFT;
        if write {
            bits |= Self::DW;
        }
        if read {
            bits |= Self::DR;
        }
        bits |= match translation {
            Translation::Virtual => Self::WT,
            Translation::Real => 0,
            Translation::Either => Self::WTI,
        };
        if privilege.hypervisor {
            bits |= Self::HYP;
        }
        if privilege.privileged {
            bits |= Self::PNH;
        }
        if privilege.problem {
            bits |= Self::PRO;
        }
        Some(Self(bits))
    }

    /// A raw register value (reserved bits kept).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::{Dawrx, Privilege};
    /// let x = Dawrx::from_bits(0x71);
    /// assert_eq!(x.privilege(), Privilege::PROBLEM);
    /// assert!(x.read() && x.write());
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw register value. See [`Dawrx`] for an example.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Number of doublewords watched (MRD + 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Dawrx;
    /// assert_eq!(Dawrx::from_bits(0x3f << 10).doublewords(), 64);
    /// ```
    pub const fn doublewords(self) -> u64 {
        ((self.0 & Self::MRD_MASK) >> Self::MRD_SHIFT) + 1
    }

    /// Bytes watched from the DAWR's doubleword. See [`Dawrx`] for an
    /// example.
    pub const fn range_len(self) -> u64 {
        self.doublewords() * 8
    }

    /// Whether loads match. See [`Dawrx::from_bits`] for an example.
    pub const fn read(self) -> bool {
        self.0 & Self::DR != 0
    }

    /// Whether stores match. See [`Dawrx`] for an example.
    pub const fn write(self) -> bool {
        self.0 & Self::DW != 0
    }

    /// Whether this value can match at all (an access kind and a privilege
    /// state selected).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Dawrx;
    /// assert!(!Dawrx::from_bits(Dawrx::DW).enabled()); // no privilege state
    /// ```
    pub const fn enabled(self) -> bool {
        (self.read() || self.write()) && !self.privilege().is_empty()
    }

    /// The privilege states selected. See [`Dawrx::from_bits`] for an
    /// example.
    pub const fn privilege(self) -> Privilege {
        Privilege {
            problem: self.0 & Self::PRO != 0,
            privileged: self.0 & Self::PNH != 0,
            hypervisor: self.0 & Self::HYP != 0,
        }
    }
}
