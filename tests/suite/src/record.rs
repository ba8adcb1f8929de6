//! What handlers saw: per-context hit counts, the last reported address,
//! displacement and reinstatement notices. Scenarios pass an index below
//! [`N`] as the handler context.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use hwbreak::{Event, EventKind, Handle};

/// Number of independent counters.
pub const N: usize = 8;

/// Address recorded when a hit reported none.
pub const NO_ADDRESS: u64 = u64::MAX;

static HITS: [AtomicU32; N] = [const { AtomicU32::new(0) }; N];
static ADDR: [AtomicU64; N] = [const { AtomicU64::new(NO_ADDRESS) }; N];
static DISPLACED: [AtomicU32; N] = [const { AtomicU32::new(0) }; N];
static REINSTATED: [AtomicU32; N] = [const { AtomicU32::new(0) }; N];
/// Handler-side action selector for scenarios that act inside a handler.
pub static ACTION: AtomicUsize = AtomicUsize::new(0);

/// Clears every counter (before each scenario).
pub fn reset() {
    for i in 0..N {
        HITS[i].store(0, Ordering::SeqCst);
        ADDR[i].store(NO_ADDRESS, Ordering::SeqCst);
        DISPLACED[i].store(0, Ordering::SeqCst);
        REINSTATED[i].store(0, Ordering::SeqCst);
    }
    ACTION.store(0, Ordering::SeqCst);
}

/// The standard handler: counts by `event.context`.
pub fn handler(event: &Event) {
    let i = event.context % N;
    match event.kind {
        EventKind::Hit => {
            HITS[i].fetch_add(1, Ordering::SeqCst);
            ADDR[i].store(event.address.unwrap_or(NO_ADDRESS), Ordering::SeqCst);
        }
        EventKind::Displaced => {
            DISPLACED[i].fetch_add(1, Ordering::SeqCst);
        }
        EventKind::Reinstated => {
            REINSTATED[i].fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Hits counted for context `i`.
pub fn hits(i: usize) -> u32 {
    HITS[i % N].load(Ordering::SeqCst)
}

/// Total hits over every context.
pub fn total_hits() -> u32 {
    HITS.iter().map(|h| h.load(Ordering::SeqCst)).sum()
}

/// The last address reported for context `i` ([`NO_ADDRESS`] if none).
pub fn address(i: usize) -> u64 {
    ADDR[i % N].load(Ordering::SeqCst)
}

/// Displacement notices for context `i`.
pub fn displaced(i: usize) -> u32 {
    DISPLACED[i % N].load(Ordering::SeqCst)
}

/// Reinstatement notices for context `i`.
pub fn reinstated(i: usize) -> u32 {
    REINSTATED[i % N].load(Ordering::SeqCst)
}

/// A handle stashed for a handler to act on.
pub struct HandleCell {
    index: AtomicU64,
    handle: core::cell::UnsafeCell<Option<Handle>>,
}

// SAFETY: single-CPU use by scenarios and their handlers; writes happen
// before the breakpoint that reads them is armed.
unsafe impl Sync for HandleCell {}

impl HandleCell {
    /// Empty.
    pub const fn new() -> Self {
        Self {
            index: AtomicU64::new(0),
            handle: core::cell::UnsafeCell::new(None),
        }
    }

    /// Stores `h`.
    pub fn set(&self, h: Option<Handle>) {
        // SAFETY: see the `Sync` impl.
        unsafe { *self.handle.get() = h };
        self.index.fetch_add(1, Ordering::SeqCst);
    }

    /// The stored handle.
    pub fn get(&self) -> Option<Handle> {
        // SAFETY: see the `Sync` impl.
        unsafe { *self.handle.get() }
    }
}

impl Default for HandleCell {
    fn default() -> Self {
        Self::new()
    }
}
