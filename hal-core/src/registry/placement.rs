//! Placement: which slots an entry's pieces occupy, where CPUs load them.
//!
//! Puts an entry's tokens into the system-wide set, a CPU's record or a
//! context's record, and takes them out, so what is placed always matches
//! what is reserved and enabled. It also publishes what dispatch reads
//! about an entry, and computes the system-wide control words once for
//! every CPU (never per CPU).

use core::sync::atomic::{fence, Ordering};

use super::records::{Token, ANY_CPU};
use super::{Inner, Life, Meta, Registry};
use crate::arch::{Arch, PoolId, SlotImage, MAX_POOLS};
use crate::cover::MAX_PIECES;
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
    /// Writes what dispatch needs to know about an entry.
    pub(super) fn publish_entry(&self, index: usize, meta: &Meta) {
        let shared = &self.shared[index];
        shared.generation.store(meta.generation, Ordering::Release);
        // The new generation is visible before any of the new settings: a
        // CPU still dispatching under the old token that reads one of them
        // sees the bump when it checks the generation again (after the
        // acquire fences in `deliver_hit`) and drops the hit. A release store
        // alone would let the settings' stores pass it.
        fence(Ordering::Release);
        shared
            .handle_generation
            .store(meta.handle_generation, Ordering::Relaxed);
        shared.set_handler(meta.request.handler);
        shared.start.store(meta.request.addr, Ordering::Relaxed);
        shared.end.store(
            meta.request.addr.saturating_add(meta.request.len),
            Ordering::Relaxed,
        );
        for (i, image) in meta.images[..meta.pieces as usize].iter().enumerate() {
            shared.set_image(i, *image);
        }
        shared.deliver.store(meta.enabled, Ordering::Release);
    }

    /// Whether an owner entry's slots should be armed: it holds a
    /// reservation and it or one of its sharers is enabled.
    pub(super) fn wants_armed(&self, inner: &Inner<BPS, CPUS, TASKS, SLOTS>, owner: usize) -> bool {
        let meta = &inner.entries[owner];
        if meta.life != Life::Live || !meta.active {
            return false;
        }
        let mut any = meta.enabled;
        let mut next = self.shared[owner].next_sharer.load(Ordering::Relaxed);
        while next != 0 && !any {
            any = inner.entries[next as usize - 1].enabled;
            next = self.shared[next as usize - 1]
                .next_sharer
                .load(Ordering::Relaxed);
        }
        any
    }

    /// Places or removes an owner's tokens to match [`Self::wants_armed`].
    pub(super) fn sync_placement(&self, inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>, owner: usize) {
        let wanted = self.wants_armed(inner, owner);
        if wanted && !inner.entries[owner].placed {
            self.place_entry(inner, owner);
        } else if !wanted && inner.entries[owner].placed {
            self.unplace(inner, owner);
        }
    }

    pub(super) fn place_entry(&self, inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>, index: usize) {
        let meta = inner.entries[index];
        let p = meta.pool.index();
        match meta.request.scope {
            Scope::AllCpus => {
                let n = inner.counts.get(meta.pool);
                let mut fixed = [0u8; MAX_PIECES];
                for (piece, slot) in fixed.iter_mut().enumerate().take(meta.pieces as usize) {
                    // The reservation guarantees a free index; a failure here
                    // would mean the ledger was bypassed.
                    let Some(k) = self.claim_global(meta.pool, n) else {
                        continue;
                    };
                    inner.system[p][k] = Token::entry(index, piece, meta.generation);
                    *slot = k as u8;
                }
                inner.entries[index].fixed = fixed;
                self.publish_system(inner);
            }
            Scope::Cpu(c) => {
                let record = &self.cpu_records[c.0 as usize];
                for piece in 0..meta.pieces as usize {
                    record.add(
                        meta.pool,
                        Token::entry(index, piece, meta.generation),
                        ANY_CPU,
                    );
                }
            }
            Scope::Task(t) | Scope::TaskOnCpu(t, _) => {
                let only = meta.request.scope.cpu().map_or(ANY_CPU, |c| c.0);
                let record = &self.contexts[t.0 as usize];
                for piece in 0..meta.pieces as usize {
                    record.add(meta.pool, Token::entry(index, piece, meta.generation), only);
                }
            }
        }
        inner.entries[index].placed = true;
    }

    /// Swaps a placed entry's old pieces (`old`) for its current ones,
    /// reusing the same slot indices, in one published change.
    pub(super) fn replace_in_place(
        &self,
        inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>,
        index: usize,
        old: &Meta,
    ) {
        let new = inner.entries[index];
        let tokens: [Token; MAX_PIECES] =
            core::array::from_fn(|i| Token::entry(index, i, new.generation));
        match new.request.scope {
            Scope::AllCpus => {
                let (po, pn) = (old.pool.index(), new.pool.index());
                let mut fixed = [0u8; MAX_PIECES];
                for i in 0..old.pieces as usize {
                    let k = old.fixed[i] as usize;
                    if po == pn && i < new.pieces as usize {
                        inner.system[pn][k] = tokens[i];
                        fixed[i] = k as u8;
                    } else {
                        inner.system[po][k] = Token::EMPTY;
                        self.global_used[po].fetch_and(!(1 << k), Ordering::AcqRel);
                    }
                }
                let reused = if po == pn {
                    (old.pieces as usize).min(new.pieces as usize)
                } else {
                    0
                };
                let n = inner.counts.get(new.pool);
                for (i, tok) in tokens
                    .iter()
                    .enumerate()
                    .take(new.pieces as usize)
                    .skip(reused)
                {
                    let Some(k) = self.claim_global(new.pool, n) else {
                        continue;
                    };
                    inner.system[pn][k] = *tok;
                    fixed[i] = k as u8;
                }
                inner.entries[index].fixed = fixed;
                self.publish_system(inner);
            }
            Scope::Cpu(c) => self.cpu_records[c.0 as usize].replace_entry(
                index,
                new.pool,
                &tokens[..new.pieces as usize],
                ANY_CPU,
            ),
            Scope::Task(t) | Scope::TaskOnCpu(t, _) => {
                let only = new.request.scope.cpu().map_or(ANY_CPU, |c| c.0);
                self.contexts[t.0 as usize].replace_entry(
                    index,
                    new.pool,
                    &tokens[..new.pieces as usize],
                    only,
                )
            }
        }
        inner.entries[index].placed = true;
    }

    pub(super) fn unplace(&self, inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>, index: usize) {
        let meta = inner.entries[index];
        if !meta.placed {
            return;
        }
        match meta.request.scope {
            Scope::AllCpus => {
                let p = meta.pool.index();
                for k in 0..SLOTS {
                    let tok = inner.system[p][k];
                    if !tok.is_empty() && tok.index() == index {
                        inner.system[p][k] = Token::EMPTY;
                        self.global_used[p].fetch_and(!(1 << k), Ordering::AcqRel);
                    }
                }
                self.publish_system(inner);
            }
            Scope::Cpu(c) => self.cpu_records[c.0 as usize].remove_entry(index),
            Scope::Task(t) | Scope::TaskOnCpu(t, _) => {
                self.contexts[t.0 as usize].remove_entry(index)
            }
        }
        inner.entries[index].placed = false;
    }

    /// Claims the highest slot index of `pool` not fixed yet (shared with
    /// the debugger's lockless path).
    pub(super) fn claim_global(&self, pool: PoolId, n: usize) -> Option<usize> {
        let word = &self.global_used[pool.index()];
        let mut cur = word.load(Ordering::Acquire);
        loop {
            let k = (0..n).rev().find(|&k| cur & (1 << k) == 0)?;
            match word.compare_exchange_weak(
                cur,
                cur | (1 << k),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(k),
                Err(seen) => cur = seen,
            }
        }
    }

    /// Computes the system-wide control words once and publishes the set.
    pub(super) fn publish_system(&self, inner: &Inner<BPS, CPUS, TASKS, SLOTS>) {
        let mut control = [0u64; MAX_POOLS];
        for (p, word) in control.iter_mut().enumerate().take(A::POOLS) {
            let images: [Option<SlotImage>; SLOTS] =
                core::array::from_fn(|k| self.entry_image(inner.system[p][k]));
            let n = inner.counts.0[p] as usize;
            *word = self.arch.control_word(PoolId::ALL[p], &images[..n]);
        }
        self.system.publish(&inner.system, &control);
    }
}
