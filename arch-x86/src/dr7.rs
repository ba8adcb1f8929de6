//! DR7, the debug control register (Intel SDM Vol. 3B §18.2.4, figure 18-1).
//!
//! ```text
//!  63      32 31-30 29-28 27-26 25-24 23-22 21-20 19-18 17-16 15 14 13 12 11 10  9  8  7  6  5  4  3  2  1  0
//! [reserved0][LEN3][R/W3][LEN2][R/W2][LEN1][R/W1][LEN0][R/W0][0][0][GD][0][0][1][GE][LE][G3][L3][G2][L2][G1][L1][G0][L0]
//! ```
//!
//! - `Ln` (bit `2n`) / `Gn` (bit `2n + 1`): local / global enable of the
//!   breakpoint in DRn. In 64-bit mode there are no hardware task switches,
//!   so the two act the same; this crate sets `Gn` only (the global enable,
//!   never cleared by the processor).
//! - `LE` (bit 8) / `GE` (bit 9): exact breakpoint enables. Ignored since the
//!   P6 family; the SDM recommends setting both when exact breakpoints are
//!   wanted, and this crate does so whenever a slot is enabled.
//! - Bit 10 is reserved and reads as one: it is always written as one.
//! - `GD` (bit 13): general detect. Never set by this crate: it would make
//!   the OS's own debug-register accesses fault.
//! - `R/Wn` (bits `16 + 4n`, two bits): 00 execute, 01 data write, 10 I/O
//!   read or write (only with CR4.DE = 1), 11 data read or write.
//! - `LENn` (bits `18 + 4n`, two bits): 00 one byte, 01 two bytes,
//!   11 four bytes, 10 eight bytes (64-bit mode). Must be 00 for execute.
//! - Bits 11, 12, 14, 15 and 32-63 are reserved; writing ones to the upper
//!   half raises #GP. [`Dr7::new`] refuses them.
//!
//! # Examples
//!
//! ```
//! use hwbreak_x86::dr7::{Condition, Dr7, Length, SlotControl};
//! // DR1: write watch of 8 bytes; everything else off.
//! let w8 = SlotControl::enabled(Condition::Write, Length::Eight);
//! let dr7 = Dr7::from_slots([None, Some(w8), None, None]);
//! // G1 (bit 3), LE|GE (bits 8, 9), bit 10, R/W1 = 01 (bits 21:20),
//! // LEN1 = 10 (bits 23:22).
//! assert_eq!(dr7.bits(), 0x0090_0708);
//! ```

/// Number of address registers DR7 controls (DR0-DR3).
pub const SLOTS: usize = 4;

/// Bit 10: reserved, reads as one, written as one.
pub const RESERVED_ONE: u64 = 1 << 10;
/// `LE` (bit 8): local exact breakpoint enable.
pub const LE: u64 = 1 << 8;
/// `GE` (bit 9): global exact breakpoint enable.
pub const GE: u64 = 1 << 9;
/// `GD` (bit 13): general detect enable (never set by this crate).
pub const GD: u64 = 1 << 13;
/// Bits that must be written as zero: 11, 12, 14, 15 and 32-63.
pub const RESERVED_ZERO: u64 = 0xffff_ffff_0000_d800;
/// The value after reset (only bit 10 set).
pub const RESET: u64 = RESERVED_ONE;

/// Condition field `R/Wn`: what access makes a slot match.
///
/// # Examples
///
/// ```
/// use hwbreak_x86::dr7::Condition;
/// assert_eq!(Condition::ReadWrite as u8, 0b11);
/// assert_eq!(Condition::from_bits(0b01), Condition::Write);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Condition {
    /// 00: instruction execution.
    Execute = 0b00,
    /// 01: data writes.
    Write = 0b01,
    /// 10: I/O reads or writes (defined only when CR4.DE = 1).
    Io = 0b10,
    /// 11: data reads or writes (not instruction fetches).
    ReadWrite = 0b11,
}

impl Condition {
    /// The condition of a two-bit `R/Wn` field value (only the low two bits
    /// are looked at).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::Condition;
    /// assert_eq!(Condition::from_bits(0b110), Condition::Io); // bit 2 ignored
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        match bits & 0b11 {
            0b00 => Self::Execute,
            0b01 => Self::Write,
            0b10 => Self::Io,
            _ => Self::ReadWrite,
        }
    }
}

/// Length field `LENn`: how many bytes a data slot watches. Note the
/// encoding is not in length order: 8 bytes is `10`, 4 bytes `11`.
///
/// # Examples
///
/// ```
/// use hwbreak_x86::dr7::Length;
/// assert_eq!(Length::Eight as u8, 0b10);
/// assert_eq!(Length::Four as u8, 0b11);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Length {
    /// 00: one byte (the only encoding allowed for execute).
    One = 0b00,
    /// 01: two bytes, 2-aligned.
    Two = 0b01,
    /// 10: eight bytes, 8-aligned (64-bit mode).
    Eight = 0b10,
    /// 11: four bytes, 4-aligned.
    Four = 0b11,
}

impl Length {
    /// The field for a length in bytes, if the hardware has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::Length;
    /// assert_eq!(Length::from_bytes(4), Some(Length::Four));
    /// assert_eq!(Length::from_bytes(3), None);
    /// ```
    pub const fn from_bytes(bytes: u64) -> Option<Self> {
        match bytes {
            1 => Some(Self::One),
            2 => Some(Self::Two),
            4 => Some(Self::Four),
            8 => Some(Self::Eight),
            _ => None,
        }
    }

    /// The length of a two-bit `LENn` field value (only the low two bits are
    /// looked at).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::Length;
    /// assert_eq!(Length::from_bits(0b10), Length::Eight);
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        match bits & 0b11 {
            0b00 => Self::One,
            0b01 => Self::Two,
            0b10 => Self::Eight,
            _ => Self::Four,
        }
    }

    /// Bytes watched.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::Length;
    /// assert_eq!(Length::from_bits(0b11).bytes(), 4);
    /// ```
    pub const fn bytes(self) -> u64 {
        match self {
            Self::One => 1,
            Self::Two => 2,
            Self::Four => 4,
            Self::Eight => 8,
        }
    }
}

/// One slot's DR7 fields, in a slot-independent layout: the layout slot 0
/// has inside DR7. This is what [`SlotImage::control`](hwbreak_core::SlotImage)
/// holds for this backend:
///
/// | bits | field |
/// |---|---|
/// | 0 | `L` local enable (never set by this crate) |
/// | 1 | `G` global enable |
/// | 17:16 | `R/W` condition |
/// | 19:18 | `LEN` length |
///
/// [`SlotControl::shifted`] moves it to slot `n`'s position: enables left by
/// `2n`, condition and length left by `4n`.
///
/// # Examples
///
/// ```
/// use hwbreak_x86::dr7::{Condition, Length, SlotControl};
/// let c = SlotControl::enabled(Condition::Write, Length::Four);
/// // G = bit 1, R/W = 01 at 17:16, LEN = 11 at 19:18.
/// assert_eq!(c.bits(), 0x000d_0002);
/// assert_eq!((c.condition(), c.length()), (Condition::Write, Length::Four));
/// // The same fields for DR2: G2 = bit 5, fields at 27:24.
/// assert_eq!(c.shifted(2), 0x0d00_0020);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SlotControl(u64);

impl SlotControl {
    /// The enable bits (L, G) in slot-0 position.
    pub const ENABLE_MASK: u64 = 0b11;
    /// The R/W and LEN fields in slot-0 position.
    pub const FIELD_MASK: u64 = 0xf << 16;
    /// Every bit this layout uses: [`SlotControl::ENABLE_MASK`] and
    /// [`SlotControl::FIELD_MASK`] together.
    pub const MASK: u64 = 0x000f_0003;

    /// The layout from its fields, each two bits wide: the enables (L, G),
    /// `R/W` and `LEN`.
    const fn pack(enable: u64, condition: u64, length: u64) -> Self {
        let mut bits = enable;
        bits |= condition << 16;
        bits |= length << 18;
        Self(bits)
    }

    /// A globally enabled slot with the given condition and length. It does
    /// not check the combination (execute needs [`Length::One`]); the
    /// backend's `encode` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::{Condition, Length, SlotControl};
    /// assert_eq!(SlotControl::enabled(Condition::Execute, Length::One).bits(), 0b10);
    /// ```
    pub const fn enabled(condition: Condition, length: Length) -> Self {
        Self::pack(0b10, condition as u64, length as u64)
    }

    /// Reads a stored control value; `None` if it has bits outside
    /// [`SlotControl::MASK`] (it did not come from this crate).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::SlotControl;
    /// assert!(SlotControl::from_bits(0x000d_0002).is_some());
    /// assert!(SlotControl::from_bits(1 << 8).is_none()); // LE is not a slot field
    /// ```
    pub const fn from_bits(bits: u64) -> Option<Self> {
        if bits & !Self::MASK != 0 {
            None
        } else {
            Some(Self(bits))
        }
    }

    /// The raw bits. See [`SlotControl`] for an example.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `L` or `G` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::SlotControl;
    /// assert!(!SlotControl::default().is_enabled());
    /// assert!(SlotControl::from_bits(0b01).unwrap().is_enabled()); // L alone
    /// ```
    pub const fn is_enabled(self) -> bool {
        self.0 & Self::ENABLE_MASK != 0
    }

    /// The `R/W` field. See [`SlotControl`] for an example.
    pub const fn condition(self) -> Condition {
        Condition::from_bits(self.0 >> 16)
    }

    /// The `LEN` field. See [`SlotControl`] for an example.
    pub const fn length(self) -> Length {
        Length::from_bits(self.0 >> 18)
    }

    /// These fields moved to slot `index`'s place in DR7 (`index` below
    /// [`SLOTS`]; anything else yields 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::{Condition, Length, SlotControl};
    /// let x = SlotControl::enabled(Condition::Execute, Length::One);
    /// assert_eq!(x.shifted(3), 1 << 7); // G3
    /// assert_eq!(x.shifted(4), 0);
    /// ```
    pub const fn shifted(self, index: usize) -> u64 {
        if index >= SLOTS {
            return 0;
        }
        // Enables move by 2 bits per slot, R/W and LEN by 4.
        let mut bits = (self.0 & Self::ENABLE_MASK) << (2 * index);
        bits |= (self.0 & Self::FIELD_MASK) << (4 * index);
        bits
    }
}

/// A whole DR7 value whose reserved bits are valid (bit 10 one, bits 11,
/// 12, 14, 15 and 32-63 zero).
///
/// # Examples
///
/// ```
/// use hwbreak_x86::dr7::{Condition, Dr7, Length, SlotControl};
/// let x = SlotControl::enabled(Condition::Execute, Length::One);
/// let dr7 = Dr7::from_slots([Some(x), None, None, None]);
/// assert_eq!(dr7.slot(0), Some(x));
/// assert!(dr7.any_enabled());
/// assert_eq!(Dr7::new(dr7.bits()), Some(dr7));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dr7(u64);

impl Dr7 {
    /// DR7 as after reset: nothing enabled. See [`Dr7::any_enabled`] for an
    /// example.
    pub const DISABLED: Self = Self(RESET);

    /// Checks a raw value: `None` if a must-be-zero bit is set or bit 10 is
    /// clear.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::Dr7;
    /// assert_eq!(Dr7::new(0x400), Some(Dr7::DISABLED));
    /// assert_eq!(Dr7::new(0), None); // bit 10 reads as one
    /// assert_eq!(Dr7::new(0x400 | 1 << 32), None); // would raise #GP
    /// ```
    pub const fn new(bits: u64) -> Option<Self> {
        if bits & RESERVED_ZERO != 0 || bits & RESERVED_ONE == 0 {
            None
        } else {
            Some(Self(bits))
        }
    }

    /// Builds DR7 from up to [`SLOTS`] slot controls (`slots[i]` is DRi;
    /// extra entries are ignored). `LE`/`GE` are set when any slot is
    /// enabled; bit 10 always.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::{Condition, Dr7, Length, SlotControl};
    /// assert_eq!(Dr7::from_slots([None, None, None, None]), Dr7::DISABLED);
    /// let rw8 = SlotControl::enabled(Condition::ReadWrite, Length::Eight);
    /// assert_eq!(Dr7::from_slots([Some(rw8); 4]).bits(), 0xbbbb_07aa);
    /// ```
    pub fn from_slots(slots: impl IntoIterator<Item = Option<SlotControl>>) -> Self {
        let mut bits = RESET;
        for (i, slot) in slots.into_iter().take(SLOTS).enumerate() {
            if let Some(c) = slot {
                bits |= c.shifted(i);
                if c.is_enabled() {
                    bits |= LE;
                    bits |= GE;
                }
            }
        }
        Self(bits)
    }

    /// The raw value. See [`Dr7`] for an example.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Slot `index`'s fields in the slot-independent layout (`None` for an
    /// index past [`SLOTS`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::{Condition, Dr7};
    /// // A DR7 value as read from a CPU: DR1 watches writes.
    /// let dr7 = Dr7::new(0x0090_0708).unwrap();
    /// assert_eq!(dr7.slot(1).map(|s| s.condition()), Some(Condition::Write));
    /// assert_eq!(dr7.slot(4), None);
    /// ```
    pub const fn slot(self, index: usize) -> Option<SlotControl> {
        if index >= SLOTS {
            return None;
        }
        // R/Wn is at bits 17+4n:16+4n, LENn right above it.
        let rw = 16 + 4 * index;
        Some(SlotControl::pack(
            (self.0 >> (2 * index)) & 0b11,
            (self.0 >> rw) & 0b11,
            (self.0 >> (rw + 2)) & 0b11,
        ))
    }

    /// Whether any slot is enabled.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_x86::dr7::Dr7;
    /// assert!(!Dr7::DISABLED.any_enabled());
    /// ```
    pub const fn any_enabled(self) -> bool {
        self.0 & 0xff != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_codes_match_the_sdm() {
        // SDM Vol. 3B §18.2.4: R/W 00 exec, 01 write, 10 I/O, 11 read/write;
        // LEN 00 = 1, 01 = 2, 10 = 8, 11 = 4 bytes.
        assert_eq!(Condition::Execute as u8, 0b00);
        assert_eq!(Condition::Write as u8, 0b01);
        assert_eq!(Condition::Io as u8, 0b10);
        assert_eq!(Condition::ReadWrite as u8, 0b11);
        assert_eq!(Length::from_bytes(1), Some(Length::One));
        assert_eq!(Length::from_bytes(2).map(|l| l as u8), Some(0b01));
        assert_eq!(Length::from_bytes(4).map(|l| l as u8), Some(0b11));
        assert_eq!(Length::from_bytes(8).map(|l| l as u8), Some(0b10));
        for bad in [0, 3, 5, 6, 7, 9, 16, u64::MAX] {
            assert_eq!(Length::from_bytes(bad), None, "{bad}");
        }
        for l in [Length::One, Length::Two, Length::Four, Length::Eight] {
            assert_eq!(Length::from_bits(l as u64), l);
            assert_eq!(Length::from_bytes(l.bytes()), Some(l));
        }
    }

    #[test]
    fn condition_codes_round_trip() {
        // SDM Vol. 3B §18.2.4: each two-bit R/W code names one condition,
        // and only the low two bits of the value are looked at.
        for c in [
            Condition::Execute,
            Condition::Write,
            Condition::Io,
            Condition::ReadWrite,
        ] {
            assert_eq!(Condition::from_bits(c as u64), c);
            assert_eq!(Condition::from_bits(c as u64 | 0b100), c);
        }
        assert_eq!(Condition::from_bits(0b10), Condition::Io);
    }

    #[test]
    fn control_bits_are_where_the_sdm_puts_them() {
        // LE bit 8, GE bit 9, bit 10 reads as one, GD bit 13.
        assert_eq!((LE, GE, RESERVED_ONE, GD), (0x100, 0x200, 0x400, 0x2000));
        assert_eq!(RESET, 0x400);
    }

    #[test]
    fn slot_control_layout() {
        // Write, 4 bytes: G (bit 1) = 0x2, R/W = 01 at bits 17:16 = 0x1_0000,
        // LEN = 11 at bits 19:18 = 0xc_0000 => 0xd_0002.
        let c = SlotControl::enabled(Condition::Write, Length::Four);
        assert_eq!(c.bits(), 0x000d_0002);
        assert_eq!(c.condition(), Condition::Write);
        assert_eq!(c.length(), Length::Four);
        assert!(c.is_enabled());
        // Execute, 1 byte: only G => 0x2.
        assert_eq!(
            SlotControl::enabled(Condition::Execute, Length::One).bits(),
            0x2
        );
        // Read/write, 8 bytes: R/W = 11 (0x3_0000), LEN = 10 (0x8_0000) => 0xb_0002.
        assert_eq!(
            SlotControl::enabled(Condition::ReadWrite, Length::Eight).bits(),
            0x000b_0002
        );
        // I/O, 2 bytes: R/W = 10 (0x2_0000), LEN = 01 (0x4_0000) => 0x6_0002.
        assert_eq!(
            SlotControl::enabled(Condition::Io, Length::Two).bits(),
            0x0006_0002
        );
        assert_eq!(SlotControl::from_bits(0x000d_0002), Some(c));
        assert_eq!(SlotControl::from_bits(1 << 20), None);
        assert_eq!(SlotControl::from_bits(1 << 2), None);
    }

    #[test]
    fn mask_is_the_enables_and_the_fields() {
        assert_eq!(
            SlotControl::MASK,
            SlotControl::ENABLE_MASK | SlotControl::FIELD_MASK
        );
        // Every bit outside L, G (1:0) and R/W, LEN (19:16) is refused.
        for bit in (2..16).chain(20..64) {
            assert_eq!(SlotControl::from_bits(1 << bit), None, "bit {bit}");
        }
        for bit in [0, 1, 16, 17, 18, 19] {
            assert!(SlotControl::from_bits(1 << bit).is_some(), "bit {bit}");
        }
    }

    #[test]
    fn slots_read_back_from_every_position() {
        // Each slot of a DR7 holding a different condition and length per
        // slot reads back as that slot's own fields.
        let c = [
            SlotControl::enabled(Condition::ReadWrite, Length::Two),
            SlotControl::enabled(Condition::Write, Length::Eight),
            SlotControl::enabled(Condition::Execute, Length::One),
            SlotControl::enabled(Condition::Io, Length::Four),
        ];
        let d = Dr7::from_slots(c.map(Some));
        for (i, want) in c.iter().enumerate() {
            assert_eq!(d.slot(i), Some(*want), "DR{i}");
        }
        // L alone (bit 2n) reads back as L.
        let l2 = Dr7::new(RESET | 1 << 4).unwrap();
        assert_eq!(l2.slot(2).map(SlotControl::bits), Some(0b01));
    }

    #[test]
    fn shifted_puts_fields_at_each_slot() {
        let c = SlotControl::enabled(Condition::Write, Length::Four); // 0xd_0002
                                                                      // Slot 0: G0 bit 1, R/W0 17:16, LEN0 19:18.
        assert_eq!(c.shifted(0), 0x000d_0002);
        // Slot 1: G1 bit 3 (0x8), fields at 21:20 / 23:22 => 0xd0_0000.
        assert_eq!(c.shifted(1), 0x00d0_0008);
        // Slot 2: G2 bit 5 (0x20), fields at 25:24 / 27:26 => 0xd00_0000.
        assert_eq!(c.shifted(2), 0x0d00_0020);
        // Slot 3: G3 bit 7 (0x80), fields at 29:28 / 31:30 => 0xd000_0000.
        assert_eq!(c.shifted(3), 0xd000_0080);
        assert_eq!(c.shifted(4), 0);
    }

    #[test]
    fn dr7_from_slots() {
        // Nothing armed: the reset value 0x400 (bit 10).
        assert_eq!(Dr7::from_slots([None, None, None, None]).bits(), 0x400);
        assert_eq!(Dr7::DISABLED.bits(), 0x400);
        // DR0 write 4 bytes (0xd_0002) + DR3 execute (G3 = 0x80) + LE|GE
        // (0x300) + bit 10 (0x400) => 0x000d_0782.
        let w4 = SlotControl::enabled(Condition::Write, Length::Four);
        let x = SlotControl::enabled(Condition::Execute, Length::One);
        let d = Dr7::from_slots([Some(w4), None, None, Some(x)]);
        assert_eq!(d.bits(), 0x000d_0782);
        assert_eq!(d.slot(0), Some(w4));
        assert_eq!(d.slot(3), Some(x));
        assert_eq!(d.slot(1), Some(SlotControl::default()));
        assert_eq!(d.slot(4), None);
        assert!(d.any_enabled());
        assert!(!Dr7::DISABLED.any_enabled());
        // Every slot read/write 8 bytes: fields 0xb in each nibble 16..31
        // (0xbbbb_0000), G0-G3 = 0xaa, LE|GE|bit10 = 0x700 => 0xbbbb_07aa.
        let rw8 = SlotControl::enabled(Condition::ReadWrite, Length::Eight);
        assert_eq!(Dr7::from_slots([Some(rw8); 4]).bits(), 0xbbbb_07aa);
    }

    #[test]
    fn dr7_reserved_bits() {
        assert_eq!(Dr7::new(0x400), Some(Dr7::DISABLED));
        assert_eq!(Dr7::new(0), None, "bit 10 must be one");
        for bit in [11, 12, 14, 15, 32, 40, 63] {
            assert_eq!(Dr7::new(0x400 | (1 << bit)), None, "bit {bit}");
        }
        // GD is a valid bit (the OS may set it); this crate never does.
        assert!(Dr7::new(0x400 | GD).is_some());
        assert_eq!(
            RESERVED_ZERO & (LE | GE | GD | RESERVED_ONE | 0xffff_00ff),
            0
        );
    }
}
