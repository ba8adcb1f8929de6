//! Retirement: an unregistered entry is freed only after every CPU reloaded.
//!
//! Until then a CPU that traps before reloading still finds the handler of
//! what its registers hold; once freed, the entry's generation moves on and
//! every token naming it is stale.

use core::sync::atomic::Ordering;

use super::{Life, Registry};
use crate::arch::Arch;
use crate::platform::Platform;

/// Entries an operation unregistered, freed after every CPU reloaded.
pub(super) struct Retired {
    pub(super) items: [u32; 2],
    pub(super) len: usize,
}

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    /// Frees entries retired by an operation, after every CPU reloaded: from
    /// here on their tokens are stale everywhere.
    pub(super) fn retire(&self, retired: &Retired) {
        critical_section::with(|cs| {
            let mut inner = self.inner.borrow_ref_mut(cs);
            for &index in &retired.items[..retired.len] {
                let index = index as usize;
                let e = &mut inner.entries[index];
                e.life = Life::Free;
                e.generation = e.generation.wrapping_add(1);
                e.root = None;
                e.placed = false;
                let generation = e.generation;
                self.shared[index]
                    .generation
                    .store(generation, Ordering::Release);
                self.shared[index].next_sharer.store(0, Ordering::Release);
                inner.entries[index].next_free = inner.free;
                inner.free = index as u32 + 1;
            }
        });
    }
}
