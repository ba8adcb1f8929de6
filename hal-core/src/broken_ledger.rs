//! Deliberately broken versions of the ledger's word operations, compiled
//! only with `--cfg hwbreak_broken_ledger="..."`, so the loom tests can be
//! shown to catch broken atomics (`cargo xtask mutants --loom` runs them
//! and expects them to fail). Never part of a real build.
//!
//! - `load_store`: the check and the update are two steps (a load, then a
//!   blind store) instead of one compare-and-swap, so a concurrent update
//!   between them is lost;
//! - `relaxed`: the check-and-swap stays atomic but every ordering is
//!   `Relaxed`, so giving a slot back no longer publishes what was done
//!   with it before.

use crate::sync::{AtomicU32, Ordering};

#[cfg(hwbreak_broken_ledger = "relaxed")]
pub(super) const LOAD: Ordering = Ordering::Relaxed;
#[cfg(hwbreak_broken_ledger = "relaxed")]
pub(super) const UPDATE: Ordering = Ordering::Relaxed;

#[cfg(not(hwbreak_broken_ledger = "relaxed"))]
pub(super) const LOAD: Ordering = Ordering::Acquire;
#[cfg(not(hwbreak_broken_ledger = "relaxed"))]
pub(super) const UPDATE: Ordering = Ordering::AcqRel;

#[cfg(hwbreak_broken_ledger = "load_store")]
pub(super) fn replace(word: &AtomicU32, cur: u32, new: u32) -> Result<u32, u32> {
    // The value `cur` was loaded earlier; whatever changed since is
    // overwritten.
    word.store(new, Ordering::Release);
    Ok(cur)
}

#[cfg(not(hwbreak_broken_ledger = "load_store"))]
pub(super) fn replace(word: &AtomicU32, cur: u32, new: u32) -> Result<u32, u32> {
    word.compare_exchange_weak(cur, new, UPDATE, LOAD)
}
