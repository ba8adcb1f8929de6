//! Decoding a debug exception (ESR_EL1, FAR_EL1, ELR_EL1) into hit slots.
//! Pure: compiled and unit-tested on the host.
//!
//! # Examples
//!
//! ```
//! use hwbreak_aarch64::decode::ec;
//! use hwbreak_aarch64::Trap;
//! // ESR_EL1 of a watchpoint hit at EL1 on a store: EC 0x35, ISS.WnR = 1.
//! let trap = Trap::new(0x35 << 26 | 1 << 6, 0x1004, 0x8000);
//! assert_eq!(trap.exception_class(), ec::WATCHPOINT_CURRENT);
//! assert!(trap.is_debug());
//! ```

use hwbreak_core::{Decoded, PoolId, Resume, SlotView, MAX_SLOTS};

use crate::encode::{breakpoint_address, watched_range, watches_direction, INSN_LEN};

/// ESR_ELx exception classes (ESR\[31:26\]) of debug exceptions.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::decode::ec;
/// use hwbreak_aarch64::Trap;
/// assert_eq!(Trap::new(u64::from(ec::BRK) << 26, 0, 0).exception_class(), 0x3c);
/// ```
pub mod ec {
    /// Breakpoint exception from a lower exception level.
    pub const BREAKPOINT_LOWER: u8 = 0x30;
    /// Breakpoint exception taken without a change in exception level.
    pub const BREAKPOINT_CURRENT: u8 = 0x31;
    /// Software step exception from a lower exception level.
    pub const SOFTWARE_STEP_LOWER: u8 = 0x32;
    /// Software step exception taken without a change in exception level.
    pub const SOFTWARE_STEP_CURRENT: u8 = 0x33;
    /// Watchpoint exception from a lower exception level.
    pub const WATCHPOINT_LOWER: u8 = 0x34;
    /// Watchpoint exception taken without a change in exception level.
    pub const WATCHPOINT_CURRENT: u8 = 0x35;
    /// BRK instruction executed in AArch64 state.
    pub const BRK: u8 = 0x3C;
}

/// ESR bit positions used here (ARM ARM D19, ESR_ELx; ISS for watchpoint
/// exceptions: WnR is ISS\[6\], CM is ISS\[8\]).
const ESR_EC_SHIFT: u32 = 26;
const ESR_EC_MASK: u64 = 0x3F;
const ISS_WNR: u64 = 1 << 6;
const ISS_CM: u64 = 1 << 8;

/// How far below a watched range FAR_EL1 may point for a hit still to be
/// attributed to it. The architecture lets FAR be any address of the access
/// from its start rounded down to 16 bytes, or for DC ZVA to the block size
/// (at most 2 KiB, DCZID_EL0.BS = 9), so a wide access reports an address
/// below the watched bytes it touched.
pub const FAR_SLACK: u64 = 2048;

/// What the exception entry captured for [`crate::Aarch64`]'s decoder.
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::Trap;
/// // A data abort (EC 0x25) is not a debug exception: hand it elsewhere.
/// let abort = Trap::new(0x25 << 26, 0xdead_0000, 0x8000);
/// assert!(!abort.is_debug());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Trap {
    /// ESR_EL1: exception class and syndrome.
    pub esr: u64,
    /// FAR_EL1: the accessed address (watchpoints).
    pub far: u64,
    /// ELR_EL1 (the saved PC): for breakpoints the instruction not yet run.
    pub elr: u64,
}

impl Trap {
    /// A trap from the three saved registers (as the vector code saved
    /// them). See [`Trap`] for an example.
    pub const fn new(esr: u64, far: u64, elr: u64) -> Self {
        Self { esr, far, elr }
    }

    /// The exception class, ESR\[31:26\].
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_aarch64::{decode::ec, Trap};
    /// let step = Trap::new(0xcc00_0000, 0, 0x8004);
    /// assert_eq!(step.exception_class(), ec::SOFTWARE_STEP_CURRENT);
    /// ```
    pub const fn exception_class(&self) -> u8 {
        ((self.esr >> ESR_EC_SHIFT) & ESR_EC_MASK) as u8
    }

    /// Whether this is one of the debug exceptions [`decode`] understands
    /// (breakpoint, software step, watchpoint; from any level). `BRK`
    /// (EC 0x3C) is not one: it is the kernel's own software breakpoint.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_aarch64::Trap;
    /// assert!(Trap::new(0x31 << 26, 0, 0).is_debug()); // breakpoint, EL1
    /// assert!(!Trap::new(0x3c << 26, 0, 0).is_debug()); // BRK
    /// ```
    pub const fn is_debug(&self) -> bool {
        matches!(self.exception_class(), 0x30..=0x35)
    }

    /// Reads ESR_EL1, FAR_EL1 and ELR_EL1 of the current CPU. Call it first
    /// thing in the synchronous exception handler, before anything can
    /// fault again. Vector code that saved them in its frame can use
    /// [`Trap::new`] instead (the `qemu-virt-aarch64` board does).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Not run: reads EL1 system registers (and exists only on AArch64).
    /// use hwbreak_aarch64::Trap;
    /// let trap = Trap::capture();
    /// if trap.is_debug() { /* hand it to the registry */ }
    /// ```
    #[cfg(target_arch = "aarch64")]
    pub fn capture() -> Self {
        use aarch64_cpu::registers::{Readable, ELR_EL1, ESR_EL1, FAR_EL1};
        Self {
            esr: ESR_EL1.get(),
            far: FAR_EL1.get(),
            elr: ELR_EL1.get(),
        }
    }
}

/// Decodes `trap` against the slots armed on this CPU.
///
/// - Breakpoint (EC 0x30/0x31): the code slots whose address is ELR; resume
///   by single step (the instruction has not run).
/// - Watchpoint (EC 0x34/0x35): the data slots whose range holds FAR and
///   whose direction (ISS.WnR) matches; if none holds FAR (a wide access
///   reported below the watched bytes), the slots whose ranges start
///   nearest above FAR, within [`FAR_SLACK`] (several when their ranges
///   start at the same byte: the access reached it, and each of them
///   watches it). Resume by single step (the access has not happened).
/// - Software step (EC 0x32/0x33): `step_complete`.
/// - Anything else: nothing (the registry counts it spurious).
///
/// # Examples
///
/// ```
/// use hwbreak_aarch64::decode::decode;
/// use hwbreak_aarch64::encode::watchpoint;
/// use hwbreak_aarch64::Trap;
/// use hwbreak_core::{AccessKind, PoolId, Resume, SlotImage, SlotView, Space};
///
/// /// Watchpoint 2 watches bytes 4-5 of 0x1000 for stores.
/// struct Armed(SlotImage);
/// impl SlotView for Armed {
///     fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
///         (pool == PoolId::SECOND && index == 2).then_some(self.0)
///     }
/// }
/// let armed = Armed(watchpoint(0x1004, 2, AccessKind::Write, Space::Kernel)?);
///
/// // A store to 0x1005 at EL1: EC 0x35, WnR = 1, FAR = 0x1005.
/// let d = decode(&Trap::new(0x35 << 26 | 1 << 6, 0x1005, 0x8000), &armed);
/// assert_eq!(d.hits[PoolId::SECOND.index()], 1 << 2);
/// assert_eq!((d.address, d.resume), (Some(0x1005), Some(Resume::SingleStep)));
/// // A load of the same byte does not match a store watch.
/// assert!(!decode(&Trap::new(0x35 << 26, 0x1005, 0x8000), &armed).any_hit());
/// // The software step that follows.
/// assert!(decode(&Trap::new(0x33 << 26, 0, 0x8004), &armed).step_complete);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub fn decode(trap: &Trap, armed: &dyn SlotView) -> Decoded {
    let mut out = Decoded::default();
    match trap.exception_class() {
        ec::BREAKPOINT_LOWER | ec::BREAKPOINT_CURRENT => {
            let pc = trap.elr & !(INSN_LEN - 1);
            for i in 0..MAX_SLOTS {
                let hit = armed
                    .slot(PoolId::FIRST, i)
                    .and_then(|img| breakpoint_address(&img))
                    .is_some_and(|a| a == pc);
                if hit {
                    out.hits[PoolId::FIRST.index()] |= 1 << i;
                }
            }
            out.address = Some(trap.elr);
            out.access_len = INSN_LEN as u8;
            out.resume = Some(Resume::SingleStep);
        }
        ec::WATCHPOINT_LOWER | ec::WATCHPOINT_CURRENT => {
            let far = trap.far;
            let cache_op = trap.esr & ISS_CM != 0;
            let write = trap.esr & ISS_WNR != 0;
            // The slots whose ranges start nearest above FAR, and how far.
            let mut nearest: Option<(u32, u64)> = None;
            for i in 0..MAX_SLOTS {
                let Some(img) = armed.slot(PoolId::SECOND, i) else {
                    continue;
                };
                let Some((start, len)) = watched_range(&img) else {
                    continue;
                };
                if !cache_op && !watches_direction(&img, write) {
                    continue;
                }
                match far.checked_sub(start) {
                    // FAR inside the range.
                    Some(offset) if offset < len => out.hits[PoolId::SECOND.index()] |= 1 << i,
                    // FAR past the range: the access did not touch it.
                    Some(_) => {}
                    // FAR below the range: a wide access may have reached its
                    // first byte.
                    None => {
                        let distance = start - far;
                        if distance <= FAR_SLACK {
                            nearest = match nearest {
                                Some((mask, d)) if d < distance => Some((mask, d)),
                                // Ranges starting at the same byte: an access
                                // reaching one reached all of them.
                                Some((mask, d)) if d == distance => Some((mask | 1 << i, d)),
                                _ => Some((1 << i, distance)),
                            };
                        }
                    }
                }
            }
            out.address = Some(far);
            if out.hits[PoolId::SECOND.index()] == 0 {
                if let Some((mask, distance)) = nearest {
                    out.hits[PoolId::SECOND.index()] = mask;
                    // The access began at FAR and reached at least the first
                    // watched byte, `distance` bytes further.
                    out.access_len = u8::try_from(distance + 1).unwrap_or(u8::MAX);
                }
            }
            out.resume = Some(Resume::SingleStep);
        }
        ec::SOFTWARE_STEP_LOWER | ec::SOFTWARE_STEP_CURRENT => {
            out.step_complete = true;
        }
        _ => {}
    }
    out
}
