//! DAWR0 / DAWR1: Data Address Watchpoint Register (SPR 180 / 181; ISA v3.0B
//! Book III 9.4, DAWR1 from v3.1).
//!
//! | ISA bits | field | meaning |
//! |---|---|---|
//! | 0:60 | DEAW | doubleword effective address of the first watched doubleword |
//! | 61:63 | reserved | written as 0 |

/// A DAWR value: the first watched doubleword.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::Dawr;
/// assert_eq!(Dawr::for_address(0x1005).bits(), 0x1000);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dawr(u64);

impl Dawr {
    /// DEAW, ISA bits 0:60: the low three bits (61:63, shifts 2..0) are not
    /// part of the address.
    pub const DEAW_MASK: u64 = !0b111;

    /// The DAWR value watching the doubleword containing `addr` (its low
    /// three bits are dropped: the register holds doubleword addresses).
    /// See [`Dawr`] for an example.
    pub const fn for_address(addr: u64) -> Self {
        Self(addr & Self::DEAW_MASK)
    }

    /// A raw register value, as read back (reserved bits kept).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Dawr;
    /// let d = Dawr::from_bits(0x1007);
    /// assert_eq!((d.bits(), d.address()), (0x1007, 0x1000));
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw register value. See [`Dawr::from_bits`] for an example.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The first watched byte (DEAW with three zero bits appended). See
    /// [`Dawr::from_bits`] for an example.
    pub const fn address(self) -> u64 {
        self.0 & Self::DEAW_MASK
    }
}
