//! DABRX: Data Address Breakpoint Register Extension (SPR 1015; ISA v2.06
//! Book III 8.1). Selects the privilege states DABR matches in.
//!
//! | ISA bits | shift | field | meaning |
//! |---|---|---|---|
//! | 0:59 | - | reserved | written as 0 |
//! | 60 | 3 | BTI | ignore DABR\[BT\]: match in either translation mode |
//! | 61 | 2 | PRIVM.HYP | match in hypervisor state |
//! | 62 | 1 | PRIVM.PNH | match in privileged non-hypervisor state |
//! | 63 | 0 | PRIVM.PRO | match in problem state |

use super::{ibm, Privilege};

/// A DABRX value.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::{Dabrx, Privilege};
/// // Privileged state, either translation mode: PNH | BTI.
/// assert_eq!(Dabrx::new(Privilege::PRIVILEGED, true).bits(), 0b1010);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dabrx(u64);

impl Dabrx {
    /// BTI, ISA bit 60 (shift 3).
    pub const BTI: u64 = ibm(60);
    /// PRIVM hypervisor, ISA bit 61 (shift 2).
    pub const HYP: u64 = ibm(61);
    /// PRIVM privileged non-hypervisor, ISA bit 62 (shift 1).
    pub const PNH: u64 = ibm(62);
    /// PRIVM problem state, ISA bit 63 (shift 0).
    pub const PRO: u64 = ibm(63);

    /// A DABRX matching in the given privilege states, ignoring DABR\[BT\]
    /// when `bti`. See [`Dabrx`] for an example.
    pub const fn new(privilege: Privilege, bti: bool) -> Self {
        let mut bits = 0;
        if bti {
            bits |= Self::BTI;
        }
        if privilege.hypervisor {
            bits |= Self::HYP;
        }
        if privilege.privileged {
            bits |= Self::PNH;
        }
        if privilege.problem {
            bits |= Self::PRO;
        }
        Self(bits)
    }

    /// A raw register value.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Dabrx;
    /// assert_eq!(Dabrx::from_bits(Dabrx::PRO).bits(), 1);
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw register value. See [`Dabrx`] for an example.
    pub const fn bits(self) -> u64 {
        self.0
    }
}
