//! Debug system registers that `aarch64-cpu` does not define, one file per
//! register, named as in the Arm Architecture Reference Manual (ARM DDI 0487,
//! chapter D19 "AArch64 System Register Descriptions", debug registers).
//!
//! The field definitions (`register_bitfields!`) are pure values and compile
//! on every host; the encoders use them. The accessors that execute `mrs`/`msr`
//! exist only when compiling for AArch64.
//!
//! `DBGBVR<n>_EL1`, `DBGBCR<n>_EL1`, `DBGWVR<n>_EL1` and `DBGWCR<n>_EL1` are sixteen
//! distinct system registers each (CRm = n in their encoding), so a run-time
//! index is turned into one of sixteen instructions by a generated `match`.
//!
//! # Examples
//!
//! The field definitions build register values on any host:
//!
//! ```
//! use hwbreak_aarch64::registers::DBGWCR_EL1;
//! let control = DBGWCR_EL1::LSC::Store + DBGWCR_EL1::BAS.val(0xff) + DBGWCR_EL1::E.val(1);
//! assert_eq!(control.value, 0b10 << 3 | 0xff << 5 | 1);
//! ```

pub mod dbgbcr_el1;
pub mod dbgbvr_el1;
pub mod dbgwcr_el1;
pub mod dbgwvr_el1;
pub mod osdlr_el1;
pub mod oslsr_el1;

pub use dbgbcr_el1::DBGBCR_EL1;
pub use dbgbvr_el1::DBGBVR_EL1;
pub use dbgwcr_el1::DBGWCR_EL1;
pub use dbgwvr_el1::DBGWVR_EL1;
pub use osdlr_el1::OSDLR_EL1;
pub use oslsr_el1::OSLSR_EL1;

/// Generates, for one family of indexed registers (`dbgwcr`, ...), a
/// run-time-indexed accessor `Reg` implementing the `tock-registers`
/// interfaces, with one `mrs`/`msr` per index selected by a `match`.
macro_rules! indexed_sysreg {
    ($family:literal, $fields:ident) => {
        /// One register of the family, selected by its index `n` (0..=15).
        ///
        /// Obtained with [`at`]; reads and writes execute `mrs`/`msr` on the
        /// current CPU.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// // Not run: EL1 system registers (and this type exists only on AArch64).
        /// use hwbreak_aarch64::registers::dbgwcr_el1;
        /// use tock_registers::interfaces::Readable;
        /// let cr = dbgwcr_el1::at(0).unwrap();
        /// let enabled = cr.get() & 1 == 1;
        /// # let _ = (cr.index(), enabled);
        /// ```
        #[cfg(target_arch = "aarch64")]
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct Reg {
            index: u8,
        }

        /// The register with index `n`, if `n` is below 16 (the architectural
        /// maximum; whether it exists on this CPU is told by ID_AA64DFR0_EL1).
        /// See [`Reg`] for an example.
        #[cfg(target_arch = "aarch64")]
        pub const fn at(n: usize) -> Option<Reg> {
            if n < 16 {
                Some(Reg { index: n as u8 })
            } else {
                None
            }
        }

        #[cfg(target_arch = "aarch64")]
        impl Reg {
            /// The register's index `n`. See [`Reg`] for an example.
            pub const fn index(&self) -> usize {
                self.index as usize
            }
        }

        #[cfg(target_arch = "aarch64")]
        impl tock_registers::interfaces::Readable for Reg {
            type T = u64;
            type R = $fields::Register;

            #[inline]
            fn get(&self) -> u64 {
                macro_rules! rd {
                            ($n:literal) => {{
                                let v: u64;
                                // SAFETY: reading a debug system register at EL1 has no
                                // side effect; the index is below 16 by construction.
                                unsafe {
                                    core::arch::asm!(
                                        concat!("mrs {v}, ", $family, stringify!($n), "_el1"),
                                        v = out(reg) v,
                                        options(nomem, nostack, preserves_flags)
                                    )
                                };
                                v
                            }};
                        }
                match self.index {
                    0 => rd!(0),
                    1 => rd!(1),
                    2 => rd!(2),
                    3 => rd!(3),
                    4 => rd!(4),
                    5 => rd!(5),
                    6 => rd!(6),
                    7 => rd!(7),
                    8 => rd!(8),
                    9 => rd!(9),
                    10 => rd!(10),
                    11 => rd!(11),
                    12 => rd!(12),
                    13 => rd!(13),
                    14 => rd!(14),
                    _ => rd!(15),
                }
            }
        }

        #[cfg(target_arch = "aarch64")]
        impl tock_registers::interfaces::Writeable for Reg {
            type T = u64;
            type R = $fields::Register;

            #[inline]
            fn set(&self, value: u64) {
                macro_rules! wr {
                            ($n:literal) => {
                                // SAFETY: writing a debug register changes only which
                                // accesses raise debug exceptions on this CPU; callers
                                // of the safe tock interface are the backend's unsafe
                                // functions, which own these registers.
                                unsafe {
                                    core::arch::asm!(
                                        concat!("msr ", $family, stringify!($n), "_el1, {v}"),
                                        v = in(reg) value,
                                        options(nomem, nostack, preserves_flags)
                                    )
                                }
                            };
                        }
                match self.index {
                    0 => wr!(0),
                    1 => wr!(1),
                    2 => wr!(2),
                    3 => wr!(3),
                    4 => wr!(4),
                    5 => wr!(5),
                    6 => wr!(6),
                    7 => wr!(7),
                    8 => wr!(8),
                    9 => wr!(9),
                    10 => wr!(10),
                    11 => wr!(11),
                    12 => wr!(12),
                    13 => wr!(13),
                    14 => wr!(14),
                    _ => wr!(15),
                }
            }
        }
    };
}
pub(crate) use indexed_sysreg;

/// Generates a fixed (non-indexed) system register accessor.
macro_rules! fixed_sysreg {
    ($name:literal, $fields:ident, read) => {
        /// The register on the current CPU.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// // Not run: EL1 system registers (and this type exists only on AArch64).
        /// use hwbreak_aarch64::registers::oslsr_el1::{OSLSR_EL1, OSLSR_EL1 as F};
        /// use tock_registers::interfaces::Readable;
        /// let locked = OSLSR_EL1.is_set(F::OSLK);
        /// # let _ = locked;
        /// ```
        #[cfg(target_arch = "aarch64")]
        #[derive(Copy, Clone, Debug)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct Reg;

        #[cfg(target_arch = "aarch64")]
        impl tock_registers::interfaces::Readable for Reg {
            type T = u64;
            type R = $fields::Register;

            #[inline]
            fn get(&self) -> u64 {
                let v: u64;
                // SAFETY: reading this debug status register at EL1 has no side effect.
                unsafe {
                    core::arch::asm!(
                        concat!("mrs {v}, ", $name),
                        v = out(reg) v,
                        options(nomem, nostack, preserves_flags)
                    )
                };
                v
            }
        }
    };
    ($name:literal, $fields:ident, read_write) => {
        $crate::registers::fixed_sysreg!($name, $fields, read);

        #[cfg(target_arch = "aarch64")]
        impl tock_registers::interfaces::Writeable for Reg {
            type T = u64;
            type R = $fields::Register;

            #[inline]
            fn set(&self, value: u64) {
                // SAFETY: this register only gates debug exceptions on the
                // current CPU; its owner is the backend's unsafe code.
                unsafe {
                    core::arch::asm!(
                        concat!("msr ", $name, ", {v}"),
                        v = in(reg) value,
                        options(nomem, nostack, preserves_flags)
                    )
                }
            }
        }
    };
}
pub(crate) use fixed_sysreg;
