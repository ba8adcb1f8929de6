//! Sharing chains: identical requests share one owner's slots.
//!
//! An entry leaves a chain here, or, when the owner leaves or changes its
//! watch, hands its slots and reservation to its first sharer, so the
//! sharers stay armed without a moment in which no entry holds the slots.

use core::sync::atomic::Ordering;

use super::records::Token;
use super::{Inner, Registry};
use crate::arch::Arch;
use crate::platform::Platform;
use crate::request::Scope;

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    /// Removes sharer `index` from root `root`'s chain.
    pub(super) fn unlink_sharer(
        &self,
        inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>,
        root: usize,
        index: usize,
    ) {
        let mut at = root;
        loop {
            let next = self.shared[at].next_sharer.load(Ordering::Relaxed);
            if next == 0 {
                break;
            }
            if next as usize - 1 == index {
                let after = self.shared[index].next_sharer.load(Ordering::Relaxed);
                self.shared[at].next_sharer.store(after, Ordering::Release);
                break;
            }
            at = next as usize - 1;
        }
        // It leaves the chain entirely: its own link must not keep pointing
        // into the owner's chain, or it would look like an owner with
        // sharers and take their reservation on its way out.
        self.shared[index].next_sharer.store(0, Ordering::Release);
        inner.entries[index].root = None;
    }

    /// Makes the first sharer of `index` the owner of its slots and
    /// reservation, leaving `index` with neither.
    pub(super) fn hand_over(&self, inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>, index: usize) {
        let heir = self.shared[index].next_sharer.load(Ordering::Relaxed) as usize - 1;
        let old = inner.entries[index];
        let rest = self.shared[heir].next_sharer.load(Ordering::Relaxed);
        let mut at = rest;
        while at != 0 {
            inner.entries[at as usize - 1].root = Some(heir as u32);
            at = self.shared[at as usize - 1]
                .next_sharer
                .load(Ordering::Relaxed);
        }
        {
            let h = &mut inner.entries[heir];
            h.root = None;
            h.active = old.active;
            h.placed = old.placed;
            h.fixed = old.fixed;
            h.pool = old.pool;
            h.pieces = old.pieces;
            h.images = old.images;
        }
        Self::reindex(inner, heir);
        let heir_meta = inner.entries[heir];
        self.publish_entry(heir, &heir_meta);
        self.shared[heir].next_sharer.store(rest, Ordering::Release);
        if old.placed {
            match old.request.scope {
                Scope::AllCpus => {
                    let p = old.pool.index();
                    for k in 0..SLOTS {
                        let tok = inner.system[p][k];
                        if !tok.is_empty() && tok.index() == index {
                            inner.system[p][k] =
                                Token::entry(heir, tok.piece(), heir_meta.generation);
                        }
                    }
                    self.publish_system(inner);
                }
                Scope::Cpu(c) => {
                    self.cpu_records[c.0 as usize].rename_entry(index, heir, heir_meta.generation)
                }
                Scope::Task(t) | Scope::TaskOnCpu(t, _) => {
                    self.contexts[t.0 as usize].rename_entry(index, heir, heir_meta.generation)
                }
            }
        }
        self.shared[index].next_sharer.store(0, Ordering::Release);
        let e = &mut inner.entries[index];
        e.active = false;
        e.placed = false;
        self.sync_placement(inner, heir);
    }
}
