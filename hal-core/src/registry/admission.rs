//! Admission: who holds a reservation.
//!
//! Reserving slots for an entry (displacing lower-priority flexible
//! breakpoints when that is what it takes), giving them back, and re-arming
//! waiting breakpoints once room frees. It decides reservations and keeps
//! the indexes in step with them; putting tokens where CPUs load them is
//! placement's job, which it calls.

use core::sync::atomic::Ordering;

use super::{Inner, Life, Meta, Registry};
use crate::arch::Arch;
use crate::error::{ErrorKind, Result};
use crate::platform::Platform;
use crate::request::{EventKind, Pinning, Priority, Scope};
use crate::reserve::Change;

/// Most flexible breakpoints one request displaces.
const MAX_DISPLACE: usize = 8;

/// Whether breakpoints of scopes `a` and `b` can need slots on the same CPU
/// at the same time (so releasing one can make room for the other).
fn competes(a: Scope, b: Scope) -> bool {
    match (a, b) {
        (Scope::AllCpus, _) | (_, Scope::AllCpus) => true,
        (Scope::Cpu(x), Scope::Cpu(y)) => x == y,
        (Scope::Cpu(x), Scope::TaskOnCpu(_, y)) | (Scope::TaskOnCpu(_, y), Scope::Cpu(x)) => x == y,
        (Scope::Cpu(_), Scope::Task(_)) | (Scope::Task(_), Scope::Cpu(_)) => true,
        (Scope::Task(s), Scope::Task(t)) => s == t,
        (Scope::Task(s), Scope::TaskOnCpu(t, _)) | (Scope::TaskOnCpu(t, _), Scope::Task(s)) => {
            s == t
        }
        (Scope::TaskOnCpu(s, x), Scope::TaskOnCpu(t, y)) => s == t && x == y,
    }
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
    /// Reserves slots for an entry about to hold them, displacing
    /// lower-priority flexible breakpoints if that is what it takes.
    pub(super) fn admit(
        &self,
        inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>,
        meta: &Meta,
        index: usize,
    ) -> Result<()> {
        let scope = meta.request.scope;
        if let Some(t) = scope.task() {
            if !self.contexts[t.0 as usize].room(meta.pool, meta.pieces as usize) {
                return Err(ErrorKind::NoSlot.into());
            }
        }
        let mut changes = [Change {
            pool: meta.pool,
            scope,
            delta: i32::from(meta.pieces),
        }; MAX_DISPLACE + 1];
        let first = inner.reservations.adjust(&self.ledger, &changes[..1]);
        if first.is_ok() {
            return first;
        }
        // Candidates: armed flexible owners of the same pool, competing for
        // the same CPUs, of strictly lower priority. The lowest
        // `MAX_DISPLACE` are kept in order as they are found, lowest
        // priority first and equal priorities in table order: an insertion
        // into at most eight places, where a general sort and a search for
        // the worst kept one cost kilobytes of code.
        let mut victims = [0usize; MAX_DISPLACE];
        let mut priorities = [Priority(0); MAX_DISPLACE];
        let mut n = 0;
        for (i, m) in inner.entries.iter().enumerate() {
            let candidate = i != index
                && m.life == Life::Live
                && m.active
                && m.root.is_none()
                && m.request.pinning == Pinning::Flexible
                && m.pool == meta.pool
                && m.request.priority < meta.request.priority
                && competes(m.request.scope, scope);
            if !candidate {
                continue;
            }
            let priority = m.request.priority;
            let mut at = n;
            while at > 0 && priorities[at - 1] > priority {
                at -= 1;
            }
            if at == MAX_DISPLACE {
                continue;
            }
            // Shift the higher ones up, dropping the last when full.
            n = (n + 1).min(MAX_DISPLACE);
            let mut j = n - 1;
            while j > at {
                victims[j] = victims[j - 1];
                priorities[j] = priorities[j - 1];
                j -= 1;
            }
            victims[at] = i;
            priorities[at] = priority;
        }
        for k in 1..=n {
            let v = &inner.entries[victims[k - 1]];
            changes[k] = Change {
                pool: v.pool,
                scope: v.request.scope,
                delta: -i32::from(v.pieces),
            };
            if inner
                .reservations
                .adjust(&self.ledger, &changes[..=k])
                .is_ok()
            {
                // The prefix that fits may hold victims it did not need
                // (the lowest priorities can sit on a CPU that has room once
                // the others go). Each gets its slots back if they still
                // fit, the highest priority first, so only the breakpoints
                // the request needs are displaced.
                for j in (0..k).rev() {
                    let back = Change {
                        delta: -changes[j + 1].delta,
                        ..changes[j + 1]
                    };
                    if inner.reservations.adjust(&self.ledger, &[back]).is_ok() {
                        continue;
                    }
                    let victim = victims[j];
                    self.unplace(inner, victim);
                    inner.entries[victim].active = false;
                    Self::reindex(inner, victim);
                    self.owe_sharers(inner, victim, EventKind::Displaced);
                }
                return Ok(());
            }
        }
        first
    }

    pub(super) fn release(&self, inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>, meta: &Meta) {
        inner.reservations.release(
            &self.ledger,
            meta.pool,
            meta.request.scope,
            u32::from(meta.pieces),
        );
    }

    /// Brings entry `index`'s membership of the indexes up to date with its
    /// meta: a live owner of its slots is a sharing root, and waits for room
    /// if it holds no reservation. Called after every change of an entry's
    /// life, owner, reservation or request.
    pub(super) fn reindex(inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>, index: usize) {
        let m = &inner.entries[index];
        let root = (m.life == Life::Live && m.root.is_none()).then_some(&m.request);
        let waiting = root.filter(|_| !m.active).map(|r| r.priority);
        inner.index.set(index, root, waiting);
    }

    /// Arms waiting flexible breakpoints that now fit, highest priority
    /// first (among equal priorities, the one that has waited longest).
    pub(super) fn reinstate_waiting(&self, inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>) {
        loop {
            let Some(index) = inner.index.first_waiting() else {
                return;
            };
            let meta = inner.entries[index];
            let scope = meta.request.scope;
            let fits = scope
                .task()
                .is_none_or(|t| self.contexts[t.0 as usize].room(meta.pool, meta.pieces as usize))
                && inner
                    .reservations
                    .reserve(&self.ledger, meta.pool, scope, u32::from(meta.pieces))
                    .is_ok();
            if !fits {
                return;
            }
            inner.entries[index].active = true;
            Self::reindex(inner, index);
            self.sync_placement(inner, index);
            self.owe_sharers(inner, index, EventKind::Reinstated);
        }
    }

    /// Owes `kind` to owner `root` and to every sharer of its slots: they
    /// lose or regain the slots together.
    pub(super) fn owe_sharers(
        &self,
        inner: &mut Inner<BPS, CPUS, TASKS, SLOTS>,
        root: usize,
        kind: EventKind,
    ) {
        inner.notices.owe(root, kind);
        let mut at = self.shared[root].next_sharer.load(Ordering::Relaxed);
        while at != 0 {
            let sharer = at as usize - 1;
            inner.notices.owe(sharer, kind);
            at = self.shared[sharer].next_sharer.load(Ordering::Relaxed);
        }
    }
}
