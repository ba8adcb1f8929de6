//! Telling handlers the events they are owed (displaced, reinstated).
//!
//! The updating calls queue these under the lock; they are told here, one
//! at a time and outside it, because a handler may itself make an updating
//! call.

use super::{Life, Registry};
use crate::arch::Arch;
use crate::platform::Platform;
use crate::request::Event;

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    /// Tells handlers what they are owed, one at a time, each taken from
    /// the queue under the lock and called outside it (a handler may make
    /// an updating call of its own, which owes and tells in turn).
    pub(super) fn deliver(&self) {
        let cpu = self.platform.current_cpu();
        loop {
            let owed = critical_section::with(|cs| {
                let mut inner = self.inner.borrow_ref_mut(cs);
                let (index, kind) = inner.notices.take()?;
                let m = &inner.entries[index];
                Some(
                    (m.life == Life::Live)
                        .then(|| (self.handle(index, m), m.request.handler, kind)),
                )
            });
            let Some(owed) = owed else {
                return;
            };
            if let Some((handle, handler, kind)) = owed {
                let event = Event {
                    kind,
                    handle,
                    context: handler.context,
                    cpu,
                    address: None,
                };
                (handler.func)(&event);
            }
        }
    }
}
