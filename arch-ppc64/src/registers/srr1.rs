//! SRR1 as set by a Trace interrupt (0xD00), and the MSR bits the trap
//! return path needs (SRR1 is copied into MSR by `rfid`).
//!
//! | ISA bit | shift | meaning |
//! |---|---|---|
//! | 33 | 30 | Trace interrupt: caused by a CIABR match |
//! | 49 | 14 | MSR\[PR\]: problem state |
//! | 53 | 10 | MSR\[SE\]: single-step trace enable |
//! | 59 | 4 | MSR\[DR\]: data address translation |

use super::ibm;

/// Saved machine state of an interrupt.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::Srr1;
/// // Apply Resume::SingleStep: the return sets MSR[SE].
/// let saved = Srr1(0x8000_0000_0000_1032);
/// let stepping = saved.with_single_step(true);
/// assert_eq!(stepping.0 & Srr1::SE, Srr1::SE);
/// assert_eq!(stepping.with_single_step(false), saved);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Srr1(pub u64);

impl Srr1 {
    /// ISA bit 33 (shift 30): Trace interrupt caused by a CIABR match.
    pub const CIABR_MATCH: u64 = ibm(33);
    /// MSR\[PR\], ISA bit 49 (shift 14).
    pub const PR: u64 = ibm(49);
    /// MSR\[SE\], ISA bit 53 (shift 10).
    pub const SE: u64 = ibm(53);
    /// MSR\[DR\], ISA bit 59 (shift 4).
    pub const DR: u64 = ibm(59);

    /// Whether the interrupted context was in problem state.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Srr1;
    /// assert!(Srr1(Srr1::PR).problem_state());
    /// ```
    pub const fn problem_state(self) -> bool {
        self.0 & Self::PR != 0
    }

    /// Whether a Trace interrupt reports a CIABR match.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Srr1;
    /// assert!(Srr1(1 << 30).ciabr_match());
    /// ```
    pub const fn ciabr_match(self) -> bool {
        self.0 & Self::CIABR_MATCH != 0
    }

    /// The same state with single-step trace on (`true`) or off. See
    /// [`Srr1`] for an example.
    pub const fn with_single_step(self, on: bool) -> Self {
        if on {
            Self(self.0 | Self::SE)
        } else {
            Self(self.0 & !Self::SE)
        }
    }
}
