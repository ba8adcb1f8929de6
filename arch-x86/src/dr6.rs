//! DR6, the debug status register (Intel SDM Vol. 3B §18.2.3, figure 18-1).
//!
//! ```text
//!  63     32 31    17  16   15 14 13  12  11   10-4   3  2  1  0
//! [reserved0][ones  ][RTM][BT][BS][BD][0][BLD][ones ][B3][B2][B1][B0]
//! ```
//!
//! - `Bn` (bit `n`, 0-3): the condition of the breakpoint in DRn was met.
//!   The processor may set `Bn` even when slot `n` is not enabled in DR7, so
//!   a decoder must look only at enabled slots.
//! - `BD` (bit 13): the next instruction would access a debug register
//!   while DR7.GD was set.
//! - `BS` (bit 14): single step (RFLAGS.TF) trap.
//! - `BT` (bit 15): task switch into a task with the T flag.
//! - `RTM` (bit 16) and `BLD` (bit 11) are active low (one = no event);
//!   bits 4-10 and 17-31 read as one; bit 12 and bits 32-63 read as zero.
//! - The processor never clears DR6: the handler must write the reset value
//!   [`RESET`] back, or stale `Bn` bits accumulate (sticky bits).
//!
//! # Examples
//!
//! ```
//! use hwbreak_x86::dr6::{self, Dr6};
//! // What a #DB for DR2 reads: the reset value plus B2.
//! let d = Dr6::from_bits(dr6::RESET | 0b100);
//! assert_eq!(d.hits(), 0b100);
//! assert!(!d.single_step());
//! ```

/// The value DR6 holds after reset and must be restored to after each #DB:
/// bits 4-11 and 16-31 set, everything else clear.
pub const RESET: u64 = 0xffff_0ff0;
/// `B0`-`B3`.
pub const HITS: u64 = 0xf;
/// `BD` (bit 13).
pub const BD: u64 = 1 << 13;
/// `BS` (bit 14).
pub const BS: u64 = 1 << 14;
/// `BT` (bit 15).
pub const BT: u64 = 1 << 15;
/// `BLD` (bit 11, active low: zero means a bus lock was detected).
pub const BLD: u64 = 1 << 11;
/// `RTM` (bit 16, active low: zero means inside an RTM region).
pub const RTM: u64 = 1 << 16;

/// A DR6 value as read at #DB entry, with named accessors. Keeps every bit,
/// including the always-one ones.
///
/// # Examples
///
/// ```
/// use hwbreak_x86::dr6::{Dr6, BS, RESET};
/// // A single-step trap that also found B0 set.
/// let d = Dr6::from_bits(RESET | BS | 1);
/// assert!(d.single_step() && d.hit(0));
/// assert_eq!(d.bits() & 0xf, 1);
/// assert_eq!(Dr6::CLEAR.hits(), 0);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dr6(u64);

impl Dr6 {
    /// DR6 after reset: no condition recorded. See [`Dr6`] for an example.
    pub const CLEAR: Self = Self(RESET);

    /// Wraps a raw value (every bit kept).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr6::Dr6;
    /// assert_eq!(Dr6::from_bits(0xffff_0ff1).bits(), 0xffff_0ff1);
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw value. See [`Dr6::from_bits`] for an example.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// `B0`-`B3` as a bit mask (bit `n`: DRn's condition was met). The
    /// processor may set a bit for a slot DR7 does not enable: check the
    /// slot is armed before believing it, as the backend's decoder does.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr6::{Dr6, RESET};
    /// assert_eq!(Dr6::from_bits(RESET | 0b1010).hits(), 0b1010);
    /// ```
    pub const fn hits(self) -> u32 {
        (self.0 & HITS) as u32
    }

    /// `Bn` for slot `n` (false for `n` past 3).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr6::{Dr6, RESET};
    /// let d = Dr6::from_bits(RESET | 0b1000);
    /// assert!(d.hit(3) && !d.hit(0) && !d.hit(4));
    /// ```
    pub const fn hit(self, n: usize) -> bool {
        n < 4 && self.0 & (1 << n) != 0
    }

    /// `BD`: debug-register access detected (DR7.GD).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr6::{Dr6, BD, RESET};
    /// assert!(Dr6::from_bits(RESET | BD).debug_register_access());
    /// ```
    pub const fn debug_register_access(self) -> bool {
        self.0 & BD != 0
    }

    /// `BS`: single-step trap (RFLAGS.TF). The backend reports it as
    /// [`Decoded::step_complete`](hwbreak_core::Decoded::step_complete).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr6::{Dr6, BS, RESET};
    /// assert!(Dr6::from_bits(RESET | BS).single_step());
    /// ```
    pub const fn single_step(self) -> bool {
        self.0 & BS != 0
    }

    /// `BT`: task-switch trap.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr6::{Dr6, BT, RESET};
    /// assert!(Dr6::from_bits(RESET | BT).task_switch());
    /// ```
    pub const fn task_switch(self) -> bool {
        self.0 & BT != 0
    }

    /// A bus-lock trap (`BLD` reads zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr6::{Dr6, BLD, RESET};
    /// assert!(Dr6::from_bits(RESET & !BLD).bus_lock());
    /// assert!(!Dr6::CLEAR.bus_lock());
    /// ```
    pub const fn bus_lock(self) -> bool {
        self.0 & BLD == 0
    }

    /// The exception happened inside an RTM region (`RTM` reads zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr6::{Dr6, RESET, RTM};
    /// assert!(Dr6::from_bits(RESET & !RTM).in_rtm());
    /// ```
    pub const fn in_rtm(self) -> bool {
        self.0 & RTM == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_value_is_the_sdm_one() {
        // Bits 4-11 (0xff0) and 16-31 (0xffff_0000) set: 0xffff_0ff0.
        assert_eq!(RESET, 0xffff_0000 | 0x0ff0);
        let c = Dr6::CLEAR;
        assert_eq!(c.hits(), 0);
        assert!(!c.single_step() && !c.debug_register_access() && !c.task_switch());
        assert!(!c.bus_lock() && !c.in_rtm());
    }

    #[test]
    fn decodes_status_bits() {
        // The value Linux reports for a DR0 hit: reset | B0 = 0xffff_0ff1.
        let d = Dr6::from_bits(0xffff_0ff1);
        assert_eq!(d.hits(), 0b0001);
        assert!(d.hit(0) && !d.hit(1) && !d.hit(4));
        // B1 | B3 => 0b1010; BS (bit 14) => 0x4000.
        let d = Dr6::from_bits(RESET | 0b1010 | 0x4000);
        assert_eq!(d.hits(), 0b1010);
        assert!(d.single_step());
        assert!(!d.task_switch());
        // BD is bit 13 (0x2000), BT bit 15 (0x8000).
        assert!(Dr6::from_bits(RESET | 0x2000).debug_register_access());
        assert!(Dr6::from_bits(RESET | 0x8000).task_switch());
        // Active-low BLD (0x800) and RTM (0x1_0000).
        assert!(Dr6::from_bits(RESET & !0x800).bus_lock());
        assert!(Dr6::from_bits(RESET & !0x1_0000).in_rtm());
    }

    #[test]
    fn raw_value_is_kept_whole() {
        // `bits` hands back exactly what was read at #DB entry, the
        // always-one bits and the active-low ones included: a handler that
        // logs or forwards DR6 must see what the processor wrote.
        for v in [
            RESET,
            RESET | 0b0001,
            RESET | 0b1010 | BS,
            RESET & !BLD & !RTM,
            0,
            u64::MAX,
        ] {
            assert_eq!(Dr6::from_bits(v).bits(), v, "{v:#x}");
        }
        assert_eq!(Dr6::CLEAR.bits(), 0xffff_0ff0);
    }
}
