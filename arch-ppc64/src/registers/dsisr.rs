//! DSISR: Data Storage Interrupt Status Register (SPR 18), as set by a Data
//! Storage interrupt (0x300). A 32-bit register: the ISA numbers its bits
//! 32..63.
//!
//! | ISA bit | shift | meaning |
//! |---|---|---|
//! | 38 | 25 | the access was a store (or dcbz, ...) |
//! | 41 | 22 | DABR or DAWR match |

use super::ibm;

/// Status bits of a Data Storage interrupt.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::Dsisr;
/// let d = Dsisr(0x0240_0000); // a store that matched a DAWR
/// assert!(d.watchpoint_match() && d.store());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dsisr(pub u64);

impl Dsisr {
    /// ISA bit 38 (shift 25 = 0x0200_0000): the access was a store.
    pub const STORE: u64 = ibm(38);
    /// ISA bit 41 (shift 22 = 0x0040_0000): a DABR/DAWR match caused the
    /// interrupt.
    pub const DABR_MATCH: u64 = ibm(41);

    /// Whether a watchpoint match caused the interrupt (otherwise it is an
    /// ordinary page fault for the OS). See [`Dsisr`] for an example.
    pub const fn watchpoint_match(self) -> bool {
        self.0 & Self::DABR_MATCH != 0
    }

    /// Whether the hardware says the access was a store (QEMU does not set
    /// it for watchpoint matches: see `docs/qemu-deviations.md`). See
    /// [`Dsisr`] for an example.
    pub const fn store(self) -> bool {
        self.0 & Self::STORE != 0
    }
}
