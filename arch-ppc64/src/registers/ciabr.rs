//! CIABR: Completed Instruction Address Breakpoint Register (SPR 187; ISA
//! v3.0B Book III 9.2). A match raises a Trace interrupt (0xD00) before the
//! instruction at the address executes, with SRR0 = that instruction.
//!
//! | ISA bits | shift | field | meaning |
//! |---|---|---|---|
//! | 0:61 | 63..2 | CEA | word address of the instruction |
//! | 62:63 | 1..0 | PRIV | 0b00 never, 0b01 problem state, 0b10 privileged non-hypervisor, 0b11 hypervisor |

use super::Privilege;

/// A CIABR value.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::{Ciabr, Privilege};
/// let c = Ciabr::new(0x8000, Privilege::PRIVILEGED).unwrap();
/// assert_eq!(c.bits(), 0x8002); // PRIV = 0b10
/// assert!(c.enabled());
/// assert_eq!(c.address(), 0x8000);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ciabr(u64);

impl Ciabr {
    /// CEA, ISA bits 0:61: everything but the two low bits.
    pub const CEA_MASK: u64 = !0b11;
    /// PRIV, ISA bits 62:63 (shifts 1..0).
    pub const PRIV_MASK: u64 = 0b11;
    /// PRIV = 0b01: problem state.
    pub const PRIV_PROBLEM: u64 = 0b01;
    /// PRIV = 0b10: privileged non-hypervisor state.
    pub const PRIV_PRIVILEGED: u64 = 0b10;
    /// PRIV = 0b11: hypervisor state.
    pub const PRIV_HYPERVISOR: u64 = 0b11;

    /// A CIABR matching the instruction at `addr` (word aligned, else
    /// `None`) in exactly one privilege state (`None` for zero or several:
    /// PRIV encodes one state).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::{Ciabr, Privilege};
    /// assert!(Ciabr::new(0x8002, Privilege::PROBLEM).is_none()); // not a word address
    /// let two = Privilege { problem: true, ..Privilege::PRIVILEGED };
    /// assert!(Ciabr::new(0x8000, two).is_none()); // PRIV names one state
    /// ```
    pub const fn new(addr: u64, privilege: Privilege) -> Option<Self> {
        if addr & !Self::CEA_MASK != 0 {
            return None;
        }
        let priv_bits = match (
            privilege.problem,
            privilege.privileged,
            privilege.hypervisor,
        ) {
            (true, false, false) => Self::PRIV_PROBLEM,
            (false, true, false) => Self::PRIV_PRIVILEGED,
            (false, false, true) => Self::PRIV_HYPERVISOR,
            _ => return None,
        };
        Some(Self(addr | priv_bits))
    }

    /// A raw register value.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Ciabr;
    /// assert!(!Ciabr::from_bits(0x8000).enabled()); // PRIV = 0b00: never
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw register value. See [`Ciabr`] for an example.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The instruction address. See [`Ciabr`] for an example.
    pub const fn address(self) -> u64 {
        self.0 & Self::CEA_MASK
    }

    /// Whether the register can match (PRIV not 0b00). See
    /// [`Ciabr::from_bits`] for an example.
    pub const fn enabled(self) -> bool {
        self.0 & Self::PRIV_MASK != 0
    }
}
