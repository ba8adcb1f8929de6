//! How trigger images reach the hardware: directly through the trigger
//! CSRs in M-mode ([`csr_writes`]), or through the SBI Debug Triggers
//! extension in S-mode ([`install_entry`], and [`crate::sbi`]). What each
//! route writes is computed by pure functions tested on the host; only the
//! final instructions (`csrw`, `ecall`) are `unsafe`.
//!
//! # Examples
//!
//! ```
//! use hwbreak_core::SlotImage;
//! use hwbreak_riscv::registers::csr;
//! use hwbreak_riscv::route::{csr_writes, install_entry};
//! let image = SlotImage { value: 0x8000_1000, control: 0x6000_0000_0000_0012 };
//! // M-mode: select trigger 1, disable it, set the address, then the control.
//! assert_eq!(
//!     csr_writes(1, Some(image)),
//!     [
//!         (csr::TSELECT, 1),
//!         (csr::TDATA1, 0),
//!         (csr::TDATA2, 0x8000_1000),
//!         (csr::TDATA3, 0),
//!         (csr::TDATA1, 0x6000_0000_0000_0012),
//!     ]
//! );
//! // S-mode: one shared-memory entry (trig_idx, tdata1, tdata2, tdata3).
//! assert_eq!(install_entry(image), [0, 0x6000_0000_0000_0012, 0x8000_1000, 0]);
//! ```

use hwbreak_core::SlotImage;

use crate::registers::csr;

/// The CSR writes, in order, that arm trigger `index` with `image` (or
/// disarm it): `tselect`, then `tdata1` = 0 so that any `tdata2` is
/// accepted (spec 5.7.2), then `tdata2`, `tdata3` and the control word.
/// Disarming leaves `tdata1` = 0 and clears the address.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::registers::csr;
/// use hwbreak_riscv::route::csr_writes;
/// let off = csr_writes(0, None);
/// assert_eq!(off[1], (csr::TDATA1, 0));
/// assert_eq!(off[4], (csr::TDATA1, 0)); // ends disabled
/// ```
pub const fn csr_writes(index: usize, image: Option<SlotImage>) -> [(u16, u64); 5] {
    let (value, control) = match image {
        Some(i) => (i.value, i.control),
        None => (0, 0),
    };
    [
        (csr::TSELECT, index as u64),
        (csr::TDATA1, 0),
        (csr::TDATA2, value),
        (csr::TDATA3, 0),
        (csr::TDATA1, control),
    ]
}

/// The shared-memory entry of SBI `sbi_debug_install_triggers` for
/// `image`: word 0 is where the firmware writes back the trigger index,
/// then `tdata1`, `tdata2`, `tdata3` (SBI 3.0, 19.4).
///
/// # Examples
///
/// See the [module documentation](self).
pub const fn install_entry(image: SlotImage) -> [u64; 4] {
    [0, image.control, image.value, 0]
}

/// The trigger CSRs, read and written with `csrr`/`csrw` (M-mode only).
#[cfg(target_arch = "riscv64")]
pub(crate) mod machine {
    use hwbreak_core::SlotImage;

    use crate::registers::csr;

    /// Writes `value` to trigger CSR `number` (one of [`csr`]'s).
    ///
    /// # Safety
    /// M-mode; the write reprograms the selected trigger.
    unsafe fn write(number: u16, value: u64) {
        // SAFETY: the caller runs in M-mode; the trigger CSRs have no
        // memory effect (a trigger firing later is what the caller wants).
        unsafe {
            match number {
                csr::TSELECT => {
                    core::arch::asm!("csrw 0x7a0, {0}", in(reg) value, options(nostack))
                }
                csr::TDATA1 => core::arch::asm!("csrw 0x7a1, {0}", in(reg) value, options(nostack)),
                csr::TDATA2 => core::arch::asm!("csrw 0x7a2, {0}", in(reg) value, options(nostack)),
                csr::TDATA3 => core::arch::asm!("csrw 0x7a3, {0}", in(reg) value, options(nostack)),
                _ => {}
            }
        }
    }

    /// Reads trigger CSR `number` (`tselect`, `tdata1`, `tdata2`, `tinfo`).
    ///
    /// # Safety
    /// M-mode.
    pub(crate) unsafe fn read(number: u16) -> u64 {
        let v: u64;
        // SAFETY: the caller runs in M-mode; reading has no side effect.
        unsafe {
            match number {
                csr::TSELECT => {
                    core::arch::asm!("csrr {0}, 0x7a0", out(reg) v, options(nomem, nostack))
                }
                csr::TDATA1 => {
                    core::arch::asm!("csrr {0}, 0x7a1", out(reg) v, options(nomem, nostack))
                }
                csr::TDATA2 => {
                    core::arch::asm!("csrr {0}, 0x7a2", out(reg) v, options(nomem, nostack))
                }
                csr::TINFO => {
                    core::arch::asm!("csrr {0}, 0x7a4", out(reg) v, options(nomem, nostack))
                }
                _ => v = 0,
            }
        }
        v
    }

    /// Arms or disarms trigger `index`.
    ///
    /// # Safety
    /// M-mode, on the hart whose trigger is meant.
    pub(crate) unsafe fn store(index: usize, image: Option<SlotImage>) {
        for (number, value) in super::csr_writes(index, image) {
            // SAFETY: forwarded from the caller.
            unsafe { write(number, value) };
        }
    }

    /// Writes `value` to `tselect` and returns what it reads back.
    ///
    /// # Safety
    /// M-mode; changes which trigger the data registers show.
    pub(crate) unsafe fn select(value: u64) -> u64 {
        // SAFETY: forwarded from the caller.
        unsafe {
            write(csr::TSELECT, value);
            read(csr::TSELECT)
        }
    }

    /// Writes `tdata1` = `value` on the selected trigger, reads it back and
    /// disables the trigger again (WARL probing).
    ///
    /// # Safety
    /// M-mode; the selected trigger must be free.
    pub(crate) unsafe fn try_tdata1(value: u64) -> u64 {
        // SAFETY: forwarded from the caller.
        unsafe {
            write(csr::TDATA1, 0);
            write(csr::TDATA1, value);
            let kept = read(csr::TDATA1);
            write(csr::TDATA1, 0);
            kept
        }
    }
}
