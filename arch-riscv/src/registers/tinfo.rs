//! `tinfo` (CSR 0x7a4): the trigger types the selected trigger supports.
//!
//! Bits 15:0 (`info`): bit N set means type N is supported; the value 1
//! (only type 0) means no trigger exists at this index. Bits 31:24
//! (`version`): 0 for implementations of the 0.13/early 1.0 drafts, 1 for
//! Sdtrig 1.0.
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::registers::tinfo::Tinfo;
//! // QEMU 10's triggers: types 2 and 6, version 0.
//! let t = Tinfo(0x44);
//! assert!(t.supports(2) && t.supports(6) && !t.supports(3));
//! assert_eq!(t.version(), 0);
//! ```

/// A `tinfo` value.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tinfo(pub u64);

impl Tinfo {
    /// The `info` bit mask (bits 15:0).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::tinfo::Tinfo;
    /// assert_eq!(Tinfo(0x0100_0044).info(), 0x44);
    /// ```
    pub const fn info(self) -> u16 {
        self.0 as u16
    }

    /// `version` (bits 31:24).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::tinfo::Tinfo;
    /// assert_eq!(Tinfo(0x0100_0044).version(), 1);
    /// ```
    pub const fn version(self) -> u8 {
        (self.0 >> 24) as u8
    }

    /// Whether type `ty` is supported (types above 15 never are).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::tinfo::Tinfo;
    /// assert!(!Tinfo(0x44).supports(16));
    /// ```
    pub const fn supports(self, ty: u8) -> bool {
        ty < 16 && self.info() & (1 << ty) != 0
    }

    /// Whether a trigger exists at this index: `info` is neither 0 nor 1
    /// (1 is the spec's "no trigger here").
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::registers::tinfo::Tinfo;
    /// assert!(!Tinfo(1).exists());
    /// assert!(Tinfo(1 << 6).exists());
    /// ```
    pub const fn exists(self) -> bool {
        self.info() > 1
    }
}
