//! `tdata1` (CSR 0x7a1): the selected trigger's type and control bits.
//!
//! For XLEN = 64: `type` is bits 63:60 and `dmode` bit 59; bits 58:0 depend
//! on the type ([`super::mcontrol`] for type 2, [`super::mcontrol6`] for
//! type 6). Writing 0 disables the trigger and leaves `tdata2` writable
//! with any value (spec 5.7.2), which is how this crate disarms one and
//! why it writes 0 before every new `tdata2`.
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::registers::tdata1;
//! assert_eq!(tdata1::with_type(tdata1::TYPE_MCONTROL, 0x44), 0x2000_0000_0000_0044);
//! assert_eq!(tdata1::trigger_type(0x6000_0000_0000_0004), tdata1::TYPE_MCONTROL6);
//! ```

/// Position of `type`.
pub const TYPE_SHIFT: u32 = 60;
/// `dmode` (bit 59): only Debug Mode may write the trigger. Never set here.
pub const DMODE: u64 = 1 << 59;
/// The bits below `dmode`, which the type defines.
pub const DATA_MASK: u64 = (1 << 59) - 1;

/// Type 0: no trigger at this `tselect` (or it does not exist).
pub const TYPE_NONE: u8 = 0;
/// Type 2: `mcontrol`, address/data match (deprecated by 1.0 but common).
pub const TYPE_MCONTROL: u8 = 2;
/// Type 3: `icount`, instruction count.
pub const TYPE_ICOUNT: u8 = 3;
/// Type 6: `mcontrol6`, address/data match (the 1.0 replacement of type 2).
pub const TYPE_MCONTROL6: u8 = 6;
/// Type 15: the trigger exists but is unavailable right now.
pub const TYPE_DISABLED: u8 = 15;

/// The `type` field of a `tdata1` value.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::tdata1;
/// assert_eq!(tdata1::trigger_type(0), tdata1::TYPE_NONE);
/// ```
pub const fn trigger_type(tdata1: u64) -> u8 {
    (tdata1 >> TYPE_SHIFT) as u8
}

/// A `tdata1` value of type `ty` with the type-specific bits `data`
/// (bits above 58 of `data` are dropped; `dmode` stays 0).
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::tdata1;
/// assert_eq!(tdata1::with_type(6, u64::MAX) >> 59, 0b1100);
/// ```
pub const fn with_type(ty: u8, data: u64) -> u64 {
    let mut v = (ty as u64 & 0xf) << TYPE_SHIFT;
    v |= data & DATA_MASK;
    v
}
