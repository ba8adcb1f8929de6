//! What the handlers of displaced and reinstated breakpoints are owed.
//!
//! An updating call decides under the registry's lock which flexible
//! breakpoints lose their slots or get them back, but handlers run only
//! after the lock is released (a handler may register or modify in turn).
//! The events owed in between are kept here, in the table's own capacity:
//! one queue entry per breakpoint, linked in the order they were owed. An
//! operation owes events to any number of breakpoints (every sharer of a
//! displaced slot hears of it), so no fixed-size list on the stack would
//! do without silently dropping some.
//!
//! A breakpoint owed the opposite of what it is already owed (displaced
//! and armed again within one call) is owed nothing: its handler only
//! ever hears of a change of state that someone could observe.

use crate::request::EventKind;

/// What one entry is owed, and its place in the queue.
#[derive(Copy, Clone)]
struct Owed {
    /// The event to tell, if any.
    kind: Option<EventKind>,
    /// In the queue (possibly with nothing owed any more).
    queued: bool,
    /// The next queued entry, plus one (0: the last).
    next: u16,
}

/// The events owed to the entries of a table of `BPS` entries, in the
/// order they were owed.
pub(super) struct Notices<const BPS: usize> {
    owed: [Owed; BPS],
    /// First and last queued entry, plus one (0: the queue is empty).
    head: u16,
    tail: u16,
}

impl<const BPS: usize> Notices<BPS> {
    pub(super) const fn new() -> Self {
        Self {
            owed: [Owed {
                kind: None,
                queued: false,
                next: 0,
            }; BPS],
            head: 0,
            tail: 0,
        }
    }

    /// Entry `index` is owed `kind` (`Displaced` or `Reinstated`).
    pub(super) fn owe(&mut self, index: usize, kind: EventKind) {
        let o = &mut self.owed[index];
        o.kind = match o.kind {
            Some(prev) if prev != kind => None,
            _ => Some(kind),
        };
        if o.queued {
            return;
        }
        o.queued = true;
        o.next = 0;
        // Entry numbers fit 16 bits: a table has at most 65 535 entries.
        let link = index as u16 + 1;
        match self.tail {
            0 => self.head = link,
            t => self.owed[usize::from(t) - 1].next = link,
        }
        self.tail = link;
    }

    /// Entry `index` is owed nothing more (it was unregistered).
    pub(super) fn cancel(&mut self, index: usize) {
        self.owed[index].kind = None;
    }

    /// The first entry still owed an event, and the event; entries owed
    /// nothing any more are passed over.
    pub(super) fn take(&mut self) -> Option<(usize, EventKind)> {
        while self.head != 0 {
            let index = usize::from(self.head) - 1;
            let o = &mut self.owed[index];
            self.head = o.next;
            if self.head == 0 {
                self.tail = 0;
            }
            o.queued = false;
            if let Some(kind) = o.kind.take() {
                return Some((index, kind));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind::{Displaced, Reinstated};

    fn drain<const N: usize>(n: &mut Notices<N>) -> Vec<(usize, EventKind)> {
        core::iter::from_fn(|| n.take()).collect()
    }

    #[test]
    fn events_come_out_in_the_order_owed() {
        let mut n = Notices::<8>::new();
        n.owe(5, Displaced);
        n.owe(0, Displaced);
        n.owe(7, Reinstated);
        assert_eq!(
            drain(&mut n),
            [(5, Displaced), (0, Displaced), (7, Reinstated)]
        );
        assert_eq!(n.take(), None);
    }

    #[test]
    fn opposite_events_cancel_and_the_same_one_is_told_once() {
        let mut n = Notices::<4>::new();
        n.owe(1, Displaced);
        n.owe(1, Reinstated);
        n.owe(2, Reinstated);
        n.owe(2, Reinstated);
        n.owe(3, Displaced);
        n.owe(3, Reinstated);
        n.owe(3, Displaced);
        assert_eq!(drain(&mut n), [(2, Reinstated), (3, Displaced)]);
    }

    #[test]
    fn a_cancelled_entry_is_passed_over_and_can_be_owed_again() {
        let mut n = Notices::<4>::new();
        n.owe(0, Displaced);
        n.owe(1, Displaced);
        n.cancel(0);
        assert_eq!(drain(&mut n), [(1, Displaced)]);
        n.owe(0, Reinstated);
        n.owe(3, Displaced);
        assert_eq!(drain(&mut n), [(0, Reinstated), (3, Displaced)]);
    }

    #[test]
    fn every_entry_of_a_full_table_can_be_owed_at_once() {
        let mut n = Notices::<64>::new();
        for i in (0..64).rev() {
            n.owe(i, Displaced);
        }
        let told = drain(&mut n);
        assert_eq!(told.len(), 64);
        assert!(told
            .iter()
            .rev()
            .enumerate()
            .all(|(i, &(e, k))| e == i && k == Displaced));
    }

    #[test]
    fn an_entry_taken_midway_is_queued_again_at_the_end() {
        let mut n = Notices::<4>::new();
        n.owe(0, Displaced);
        n.owe(1, Displaced);
        assert_eq!(n.take(), Some((0, Displaced)));
        n.owe(0, Reinstated);
        n.owe(2, Displaced);
        assert_eq!(
            drain(&mut n),
            [(1, Displaced), (0, Reinstated), (2, Displaced)]
        );
    }
}
