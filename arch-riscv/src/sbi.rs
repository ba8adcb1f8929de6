//! The S-mode route: the SBI Debug Triggers extension (DBTR, EID
//! 0x44425452, SBI 3.0 chapter 19), through which an S-mode kernel asks
//! the M-mode firmware (OpenSBI 1.5 and later) to program the triggers it
//! may not touch itself.
//!
//! The firmware exchanges trigger configurations through a per-hart shared
//! memory area ([`SbiShmem`], registered once per hart with
//! [`SbiShmem::register`]). It allocates trigger indices itself
//! (`sbi_debug_install_triggers` writes back the index it chose), so the
//! area also remembers which firmware index holds each of the core's
//! slots; arming a slot uninstalls its previous trigger and installs the
//! new image, disarming uninstalls it.
//!
//! The SBI specification has the firmware write the chosen index back into
//! word 0 of the entry. OpenSBI 1.5.1 (Debian's, seen under QEMU) installs
//! the trigger but leaves word 0 as written, so this crate writes a marker
//! there first: when the marker survives, the index is taken to be the
//! lowest one this area does not hold, which is what OpenSBI's allocator
//! picks (it hands out the lowest unmapped trigger, and this area is the
//! only user of the hart's triggers). [`SbiShmem::index_inferred`] says
//! whether that happened.
//!
//! `sbi_debug_update_triggers` is not used: OpenSBI 1.5 implements an
//! earlier draft of it (indices passed as a mask, and only `tdata2`
//! updated), so uninstall + install is the one sequence that means the
//! same on every firmware.
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::sbi::{SbiShmem, SHMEM_ENTRIES};
//! static AREA: SbiShmem = SbiShmem::new();
//! // 32 bytes (four XLEN words) per trigger the firmware may report.
//! assert_eq!(core::mem::size_of_val(&AREA) >= SHMEM_ENTRIES * 32, true);
//! assert_eq!(AREA.installed(0), None);
//! ```

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};

#[cfg(target_arch = "riscv64")]
use hwbreak_core::SlotImage;
use hwbreak_core::MAX_SLOTS;

/// Entries of the shared memory: the SBI specification sizes it for the
/// hart's trigger count (`trig_max` entries of four XLEN words); a hart
/// reporting more triggers than this is refused by [`SbiShmem::register`].
pub const SHMEM_ENTRIES: usize = 64;

/// SBI error code "success".
pub const SBI_SUCCESS: i64 = 0;
/// SBI error code "not supported" (also what this crate reports when the
/// firmware lacks the DBTR extension).
pub const SBI_ERR_NOT_SUPPORTED: i64 = -2;
/// SBI error code "invalid parameter" (also what this crate reports when
/// the hart has more triggers than [`SHMEM_ENTRIES`]).
pub const SBI_ERR_INVALID_PARAM: i64 = -3;

static LAST_ERROR: AtomicI64 = AtomicI64::new(SBI_SUCCESS);

/// The SBI error code of the last DBTR call made by a register write
/// ([`SBI_SUCCESS`] = 0). `Arch::write_slot` cannot return an error, so a
/// firmware refusing an install is visible here (and as a trigger that
/// does not fire).
///
/// # Examples
///
/// ```
/// assert_eq!(hwbreak_riscv::sbi::last_error(), hwbreak_riscv::sbi::SBI_SUCCESS);
/// ```
pub fn last_error() -> i64 {
    LAST_ERROR.load(Ordering::Relaxed)
}

/// One hart's DBTR shared memory and its slot-to-trigger map. Give each
/// hart its own (a `static` per hart, or per-CPU data), and register it on
/// that hart before the registry arms anything there.
///
/// See the [module documentation](self) for an example.
#[repr(C, align(64))]
pub struct SbiShmem {
    /// What the firmware reads and writes, four words per entry.
    entries: UnsafeCell<[[u64; 4]; SHMEM_ENTRIES]>,
    /// Slot `i`'s firmware trigger index plus one (0: not installed).
    installed: [AtomicU8; MAX_SLOTS],
    /// Bit `n`: firmware trigger `n` holds one of the slots.
    held: AtomicU64,
    /// An install left the index marker in place (see the module docs).
    inferred: AtomicBool,
}

/// What word 0 of an entry holds before an install: no firmware writes it
/// back as a trigger index (indices are below [`SHMEM_ENTRIES`]).
pub const NO_INDEX: u64 = u64::MAX;

/// The firmware index of a trigger just installed, from what word 0 of its
/// entry holds after the call (`written`, [`NO_INDEX`] before it) and the
/// indices the area already holds (`held`, bit `n` = index `n`): the
/// written index, or, when the firmware left the marker, the lowest index
/// not held (OpenSBI's allocation order). The flag says it was inferred.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::sbi::{installed_index, NO_INDEX};
/// assert_eq!(installed_index(5, 0b11), (5, false)); // written back
/// assert_eq!(installed_index(NO_INDEX, 0b011), (2, true)); // OpenSBI 1.5.1
/// assert_eq!(installed_index(NO_INDEX, 0), (0, true));
/// ```
pub const fn installed_index(written: u64, held: u64) -> (u64, bool) {
    if written == NO_INDEX {
        ((!held).trailing_zeros() as u64, true)
    } else {
        (written, false)
    }
}

// SAFETY: an area belongs to one hart: only that hart's register writes
// (run with the registry's per-CPU discipline, never concurrently on one
// hart) and its firmware touch `entries`; `installed` is atomic.
unsafe impl Sync for SbiShmem {}

impl Default for SbiShmem {
    fn default() -> Self {
        Self::new()
    }
}

impl SbiShmem {
    /// An empty area (nothing installed).
    pub const fn new() -> Self {
        Self {
            entries: UnsafeCell::new([[0; 4]; SHMEM_ENTRIES]),
            installed: [const { AtomicU8::new(0) }; MAX_SLOTS],
            held: AtomicU64::new(0),
            inferred: AtomicBool::new(false),
        }
    }

    /// Whether the firmware left an install's index unwritten, so that the
    /// index was inferred from its allocation order (OpenSBI 1.5.1).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::sbi::SbiShmem;
    /// assert!(!SbiShmem::new().index_inferred());
    /// ```
    pub fn index_inferred(&self) -> bool {
        self.inferred.load(Ordering::Relaxed)
    }

    /// The firmware trigger index holding slot `slot`, if installed.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_riscv::sbi::SbiShmem;
    /// assert_eq!(SbiShmem::new().installed(99), None);
    /// ```
    pub fn installed(&self, slot: usize) -> Option<u8> {
        match self.installed.get(slot)?.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n - 1),
        }
    }

    /// Registers this area as the calling hart's DBTR shared memory
    /// (`sbi_debug_setup_shmem`), after checking that the firmware has the
    /// extension and at most [`SHMEM_ENTRIES`] triggers. Returns the SBI
    /// error code on failure.
    ///
    /// # Safety
    /// S-mode, on the hart this area is for, once; `phys` is the area's
    /// physical address (its address as a pointer when paging is off). The
    /// firmware writes into the area from now on.
    pub unsafe fn register(&'static self, phys: u64) -> Result<(), i64> {
        #[cfg(target_arch = "riscv64")]
        {
            if sbi_rt::probe_extension(sbi_rt::Dbtr).is_unavailable() {
                return Err(SBI_ERR_NOT_SUPPORTED);
            }
            if sbi_rt::debug_num_triggers(0) > SHMEM_ENTRIES {
                return Err(SBI_ERR_INVALID_PARAM);
            }
            let shmem = sbi_rt::SharedPtr::<u8>::new(phys as usize, 0);
            let ret = sbi_rt::debug_set_shmem(shmem, 0);
            if ret.error != 0 {
                return Err(ret.error as i64);
            }
            Ok(())
        }
        #[cfg(not(target_arch = "riscv64"))]
        {
            let _ = phys;
            Err(SBI_ERR_NOT_SUPPORTED)
        }
    }

    /// Installs `image` for `slot` (uninstalling what the slot held), or
    /// only uninstalls when `image` is `None`.
    ///
    /// # Safety
    /// S-mode, on the hart this area was registered on.
    #[cfg(target_arch = "riscv64")]
    pub(crate) unsafe fn store(&self, slot: usize, image: Option<SlotImage>) {
        if slot >= MAX_SLOTS {
            return;
        }
        if let Some(index) = self.take(slot) {
            let mask = sbi_spec::binary::TriggerMask::from_mask_base(1, usize::from(index));
            let ret = sbi_rt::debug_uninstall_triggers(mask);
            LAST_ERROR.store(ret.error as i64, Ordering::Relaxed);
        }
        let Some(image) = image else {
            return;
        };
        let entry = self.entries.get().cast::<[u64; 4]>();
        let mut words = crate::route::install_entry(image);
        words[0] = NO_INDEX;
        // SAFETY: this hart's area; the firmware reads it only during the
        // call below, which is ordered after these writes (an `ecall` asm
        // block is a compiler barrier for memory it may read).
        unsafe { entry.write_volatile(words) };
        let ret = sbi_rt::debug_install_triggers(1);
        // SAFETY: as above; the firmware may have written the index back.
        let written = unsafe { entry.read_volatile() }[0];
        self.installed_as(slot, ret.error as i64, written);
    }

    /// Takes slot `slot`'s firmware trigger out of the map: the index to
    /// uninstall, if the slot held one.
    // Called by the riscv64 route only; elsewhere its host tests use it.
    #[cfg_attr(not(any(test, target_arch = "riscv64")), expect(dead_code))]
    fn take(&self, slot: usize) -> Option<u8> {
        let index = self
            .installed
            .get(slot)?
            .swap(0, Ordering::Relaxed)
            .checked_sub(1)?;
        self.held.fetch_and(!(1 << index), Ordering::Relaxed);
        Some(index)
    }

    /// Records what `sbi_debug_install_triggers` did for slot `slot`: its
    /// SBI error (for [`last_error`]) and, when it succeeded, the firmware
    /// index, from what word 0 of the entry holds after the call
    /// (`written`; see [`installed_index`]). An index past
    /// [`SHMEM_ENTRIES`] is no trigger this area can name: nothing is
    /// recorded for it.
    // Called by the riscv64 route only; elsewhere its host tests use it.
    #[cfg_attr(not(any(test, target_arch = "riscv64")), expect(dead_code))]
    fn installed_as(&self, slot: usize, error: i64, written: u64) {
        LAST_ERROR.store(error, Ordering::Relaxed);
        if error != SBI_SUCCESS {
            return;
        }
        let (index, inferred) = installed_index(written, self.held.load(Ordering::Relaxed));
        if inferred {
            self.inferred.store(true, Ordering::Relaxed);
        }
        let Some(cell) = self.installed.get(slot) else {
            return;
        };
        if index < SHMEM_ENTRIES as u64 {
            self.held.fetch_or(1 << index, Ordering::Relaxed);
            cell.store(index as u8 + 1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the SBI specification (3.0, 3.2) numbers these errors.
    #[test]
    fn error_codes_are_the_specification_ones() {
        assert_eq!(
            (SBI_SUCCESS, SBI_ERR_NOT_SUPPORTED, SBI_ERR_INVALID_PARAM),
            (0, -2, -3)
        );
    }

    /// On the host there is no firmware: registering is refused as not
    /// supported, and nothing is installed.
    #[test]
    fn no_firmware_on_the_host() {
        static AREA: SbiShmem = SbiShmem::new();
        // SAFETY: on the host `register` makes no SBI call.
        let registered = unsafe { AREA.register(0x8000_0000) };
        assert_eq!(registered, Err(SBI_ERR_NOT_SUPPORTED));
        assert_eq!(AREA.installed(0), None);
        assert!(!AREA.index_inferred());
    }

    /// The index written back, or with the marker left in place the lowest
    /// one the area does not hold.
    #[test]
    fn installed_index_written_or_inferred() {
        assert_eq!(installed_index(5, 0b11), (5, false));
        assert_eq!(installed_index(0, 0b1), (0, false));
        assert_eq!(installed_index(NO_INDEX, 0), (0, true));
        assert_eq!(installed_index(NO_INDEX, 0b011), (2, true));
        assert_eq!(installed_index(NO_INDEX, 0b101), (1, true));
        assert_eq!(installed_index(NO_INDEX, u64::MAX >> 1), (63, true));
    }

    /// The slot-to-trigger map through installs the firmware answers in
    /// each way it can, and uninstalls. (One test: the last error is one
    /// value per program.)
    #[test]
    fn map_follows_what_the_firmware_did() {
        let area = SbiShmem::new();
        // A firmware writing the index back (the specification's way).
        area.installed_as(0, SBI_SUCCESS, 7);
        assert_eq!((area.installed(0), area.index_inferred()), (Some(7), false));
        assert_eq!(last_error(), SBI_SUCCESS);
        // OpenSBI 1.5.1 leaves the marker: the lowest index not held, 0.
        area.installed_as(1, SBI_SUCCESS, NO_INDEX);
        assert_eq!((area.installed(1), area.index_inferred()), (Some(0), true));
        area.installed_as(2, SBI_SUCCESS, NO_INDEX);
        assert_eq!(area.installed(2), Some(1));
        // A refused install: its error, and the slot stays empty.
        area.installed_as(3, SBI_ERR_INVALID_PARAM, NO_INDEX);
        assert_eq!(last_error(), SBI_ERR_INVALID_PARAM);
        assert_eq!(area.installed(3), None);
        // An index this area cannot name is not recorded.
        area.installed_as(3, SBI_SUCCESS, SHMEM_ENTRIES as u64);
        assert_eq!(last_error(), SBI_SUCCESS);
        assert_eq!(area.installed(3), None);
        // Uninstalling slot 1 frees index 0 for the next inferred install.
        assert_eq!(area.take(1), Some(0));
        assert_eq!(area.installed(1), None);
        assert_eq!(area.take(1), None);
        area.installed_as(4, SBI_SUCCESS, NO_INDEX);
        assert_eq!(area.installed(4), Some(0));
        // Index 1 stays held by slot 2 and 7 by slot 0: the next is 2.
        area.installed_as(5, SBI_SUCCESS, NO_INDEX);
        assert_eq!(area.installed(5), Some(2));
        assert_eq!(area.take(0), Some(7));
        // Freeing a higher index frees that one: slot 2 gives back 1, the
        // next inferred install takes it (0 and 2 are still held).
        assert_eq!(area.take(2), Some(1));
        area.installed_as(6, SBI_SUCCESS, NO_INDEX);
        assert_eq!(area.installed(6), Some(1));
        assert_eq!(area.take(99), None);
        area.installed_as(99, SBI_SUCCESS, 9);
        assert_eq!(area.installed(99), None);
    }
}

/// The calling hart's number of triggers that support type `ty` (2 or 6),
/// through `sbi_debug_num_triggers`; 0 when the firmware lacks DBTR.
///
/// # Safety
/// S-mode, under an SBI implementation.
#[cfg(target_arch = "riscv64")]
pub(crate) unsafe fn num_triggers(ty: u8) -> usize {
    if sbi_rt::probe_extension(sbi_rt::Dbtr).is_unavailable() {
        return 0;
    }
    sbi_rt::debug_num_triggers(crate::registers::tdata1::with_type(ty, 0) as usize)
}
