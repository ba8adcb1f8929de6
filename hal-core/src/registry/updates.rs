//! The updating calls: `register`, `modify`, `unregister`, `enable`,
//! `disable`, and `state` beside them.
//!
//! Each validates first, changes the tables all-or-nothing under the
//! registry's lock, releases it, and only then asks every CPU to reload and
//! tells handlers what they are owed. The steps they share (admission,
//! placement, sharing chains, retirement) have files of their own, so each
//! call here reads as the order of those steps.

use core::sync::atomic::Ordering;

use super::retirement::Retired;
use super::{Inner, Life, Registry, State};
use crate::arch::Arch;
use crate::cover::MAX_PIECES;
use crate::error::{ErrorKind, Result};
use crate::handle::Handle;
use crate::platform::Platform;
use crate::request::{Pinning, Request};
use crate::reserve::Change;

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    /// Resolves a handle to a live entry index.
    pub(super) fn resolve(
        &self,
        inner: &Inner<BPS, CPUS, TASKS, SLOTS>,
        h: Handle,
    ) -> Result<usize> {
        if h.registry != self.id.load(Ordering::Relaxed) {
            return Err(ErrorKind::ForeignHandle.into());
        }
        let index = h.index as usize;
        match inner.entries.get(index) {
            Some(m) if m.life == Life::Live && m.handle_generation == h.generation => Ok(index),
            Some(_) => Err(ErrorKind::StaleHandle.into()),
            None => Err(ErrorKind::ForeignHandle.into()),
        }
    }

    /// Registers a breakpoint. On success it is armed on every CPU where
    /// its scope runs (or, if flexible and there is no room, waiting); on
    /// error nothing changed.
    ///
    /// The request is validated in this order: length and overflow, the
    /// user limit for [`Space::User`](crate::Space::User), the backend's
    /// address form, the no-breakpoint zones, the scope's CPU and context
    /// numbers, the access kind, the exact cover and every piece's
    /// encoding; then slots are reserved (displacing lower-priority
    /// flexible breakpoints if needed). Identical requests
    /// ([`Request::same_watch`]) share slots and all their handlers run.
    ///
    /// Updating call: thread context, interrupts enabled (it calls
    /// [`Platform::run_on_each_cpu`] after releasing its lock).
    ///
    /// # Examples
    ///
    /// Thirteen unaligned bytes take three x86 slots, covering exactly those
    /// bytes:
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, PoolId, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k + 3, 13))?;
    /// assert_eq!(registry.pool_usage(PoolId::FIRST), (3, 0));
    /// let traps = |a| machine.access(0, a, 1, AccessKind::Write, Space::Kernel).is_some();
    /// assert!(!traps(k + 2) && traps(k + 3) && traps(k + 15) && !traps(k + 16));
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn register(&self, req: &Request) -> Result<Handle> {
        let counts = self.ready()?;
        let prepared = self.prepare(req, counts)?;
        let handle = critical_section::with(|cs| {
            let mut guard = self.inner.borrow_ref_mut(cs);
            let inner = &mut *guard;
            let index = inner.free.checked_sub(1).ok_or(ErrorKind::TableFull)? as usize;
            let entries = &inner.entries;
            let root = inner
                .index
                .root_for(req, |i| entries[i].request.same_watch(req));
            let mut meta = inner.entries[index];
            meta.life = Life::Live;
            meta.handle_generation = meta.handle_generation.wrapping_add(1);
            meta.request = *req;
            meta.pool = prepared.pool;
            meta.pieces = prepared.pieces;
            meta.images = prepared.images;
            meta.enabled = true;
            meta.active = false;
            meta.placed = false;
            meta.root = root.map(|r| r as u32);
            if root.is_none() {
                let admitted = self.admit(inner, &meta, index);
                match (admitted, req.pinning) {
                    (Ok(()), _) => meta.active = true,
                    (Err(e), Pinning::Pinned) => return Err(e),
                    (Err(_), Pinning::Flexible) => {}
                }
            }
            inner.free = meta.next_free;
            meta.next_free = 0;
            inner.entries[index] = meta;
            Self::reindex(inner, index);
            self.publish_entry(index, &meta);
            match root {
                Some(r) => {
                    let shared = &self.shared[r];
                    self.shared[index].next_sharer.store(
                        shared.next_sharer.load(Ordering::Relaxed),
                        Ordering::Relaxed,
                    );
                    shared
                        .next_sharer
                        .store(index as u32 + 1, Ordering::Release);
                    self.sync_placement(inner, r);
                }
                None => self.sync_placement(inner, index),
            }
            Ok(self.handle(index, &meta))
        })?;
        self.refresh_all();
        self.deliver();
        Ok(handle)
    }

    /// Changes a breakpoint in place: the new settings are validated first;
    /// on error nothing changed and the old breakpoint stays armed; on
    /// success its slots are reused, never released in between.
    ///
    /// The scope and pinning cannot change (`ScopeChange`); handler,
    /// priority, range, kind and space can. Updating call, like
    /// [`Registry::register`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, CpuId, ErrorKind, Request, Scope, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// let traps = |a| machine.access(0, a, 1, AccessKind::Write, Space::Kernel).is_some();
    /// let h = registry.register(&Request::write(k, 8))?;
    /// // Move the watch: the slot is reused, never released in between.
    /// registry.modify(h, &Request::write(k + 64, 8))?;
    /// assert!(!traps(k) && traps(k + 64));
    /// // x86 has no read-only watch: refused, and the old watch stays armed.
    /// let err = registry.modify(h, &Request::read(k, 8)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::UnsupportedKind);
    /// assert!(traps(k + 64));
    /// // The scope is fixed for the life of a registration.
    /// let err = registry.modify(h, &Request::write(k, 8).scope(Scope::Cpu(CpuId(0))));
    /// assert_eq!(err.unwrap_err().kind(), ErrorKind::ScopeChange);
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn modify(&self, h: Handle, req: &Request) -> Result<()> {
        let counts = self.ready()?;
        let prepared = self.prepare(req, counts)?;
        critical_section::with(|cs| {
            let mut guard = self.inner.borrow_ref_mut(cs);
            let inner = &mut *guard;
            let index = self.resolve(inner, h)?;
            let old = inner.entries[index];
            if old.request.scope != req.scope || old.request.pinning != req.pinning {
                return Err(ErrorKind::ScopeChange.into());
            }
            let has_sharers = self.shared[index].next_sharer.load(Ordering::Relaxed) != 0;
            let mut new = old;
            new.request = *req;
            new.pool = prepared.pool;
            new.pieces = prepared.pieces;
            new.images = prepared.images;
            if old.root.is_some() || has_sharers || !old.active {
                // It holds no reservation of its own for the new watch:
                // reserve one first, so a refusal changes nothing.
                match self.admit(inner, &new, index) {
                    Ok(()) => new.active = true,
                    Err(e) if req.pinning == Pinning::Pinned => return Err(e),
                    Err(_) => new.active = false,
                }
                if let Some(r) = old.root {
                    self.unlink_sharer(inner, r as usize, index);
                    self.sync_placement(inner, r as usize);
                } else if has_sharers {
                    // The sharers keep the old watch: the first of them
                    // takes over its slots and reservation.
                    self.hand_over(inner, index);
                } else {
                    self.unplace(inner, index);
                }
                new.root = None;
                new.placed = false;
                new.fixed = [0; MAX_PIECES];
            } else {
                if let Some(t) = req.scope.task() {
                    if !self.contexts[t.0 as usize].room_replacing(
                        new.pool,
                        new.pieces as usize,
                        index,
                    ) {
                        return Err(ErrorKind::NoSlot.into());
                    }
                }
                let changes = [
                    Change {
                        pool: old.pool,
                        scope: old.request.scope,
                        delta: -i32::from(old.pieces),
                    },
                    Change {
                        pool: new.pool,
                        scope: new.request.scope,
                        delta: i32::from(new.pieces),
                    },
                ];
                inner.reservations.adjust(&self.ledger, &changes)?;
                new.generation = new.generation.wrapping_add(1);
                inner.entries[index] = new;
                Self::reindex(inner, index);
                self.publish_entry(index, &new);
                if old.placed {
                    // Same slots, new contents: one published change, so no
                    // CPU ever sees the breakpoint without its slots.
                    self.replace_in_place(inner, index, &old);
                }
                self.sync_placement(inner, index);
                self.reinstate_waiting(inner);
                return Ok(());
            }
            new.generation = new.generation.wrapping_add(1);
            inner.entries[index] = new;
            Self::reindex(inner, index);
            self.publish_entry(index, &new);
            self.sync_placement(inner, index);
            self.reinstate_waiting(inner);
            // Whatever its own old chain went through on the way, its state
            // now is the answer to this call, not news for its handler.
            inner.notices.cancel(index);
            Ok(())
        })?;
        self.refresh_all();
        self.deliver();
        Ok(())
    }

    /// Unregisters a breakpoint. A hit already pending for it is survived
    /// and reported spurious. Room it frees re-arms waiting flexible
    /// breakpoints. Updating call, like [`Registry::register`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, ErrorKind, PoolId, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// let h = registry.register(&Request::write(k, 8))?;
    /// registry.unregister(h)?;
    /// assert!(machine.access(0, k, 8, AccessKind::Write, Space::Kernel).is_none());
    /// assert_eq!(registry.pool_usage(PoolId::FIRST), (0, 0));
    /// // Twice is an error, not a double free.
    /// assert_eq!(registry.unregister(h).unwrap_err().kind(), ErrorKind::StaleHandle);
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn unregister(&self, h: Handle) -> Result<()> {
        self.ready()?;
        let retired = critical_section::with(|cs| {
            let mut guard = self.inner.borrow_ref_mut(cs);
            let inner = &mut *guard;
            let index = self.resolve(inner, h)?;
            let meta = inner.entries[index];
            if let Some(r) = meta.root {
                self.unlink_sharer(inner, r as usize, index);
                self.sync_placement(inner, r as usize);
            } else if self.shared[index].next_sharer.load(Ordering::Relaxed) != 0 {
                self.hand_over(inner, index);
            } else {
                self.unplace(inner, index);
                if meta.active {
                    self.release(inner, &meta);
                }
            }
            let e = &mut inner.entries[index];
            e.life = Life::Removing;
            e.active = false;
            e.handle_generation = e.handle_generation.wrapping_add(1);
            Self::reindex(inner, index);
            inner.notices.cancel(index);
            self.shared[index].deliver.store(false, Ordering::Release);
            self.reinstate_waiting(inner);
            Ok::<_, crate::Error>(Retired {
                items: [index as u32, 0],
                len: 1,
            })
        })?;
        self.refresh_all();
        self.retire(&retired);
        self.deliver();
        Ok(())
    }

    /// Disarms a breakpoint but keeps its reservation, so
    /// [`Registry::enable`] cannot fail for lack of room. Updating call,
    /// like [`Registry::register`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, PoolId, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// let h = registry.register(&Request::write(k, 8))?;
    /// registry.disable(h)?;
    /// assert!(machine.access(0, k, 8, AccessKind::Write, Space::Kernel).is_none());
    /// // Still reserved: nobody else can take the slot meanwhile.
    /// assert_eq!(registry.pool_usage(PoolId::FIRST), (1, 0));
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn disable(&self, h: Handle) -> Result<()> {
        self.set_enabled(h, false)
    }

    /// Re-arms a disabled breakpoint. Enabling one that is armed changes
    /// nothing. Updating call, like [`Registry::register`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// let h = registry.register(&Request::write(k, 8))?;
    /// registry.disable(h)?;
    /// registry.enable(h)?;
    /// assert!(machine.access(0, k, 8, AccessKind::Write, Space::Kernel).is_some());
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn enable(&self, h: Handle) -> Result<()> {
        self.set_enabled(h, true)
    }

    pub(super) fn set_enabled(&self, h: Handle, enabled: bool) -> Result<()> {
        self.ready()?;
        critical_section::with(|cs| {
            let mut guard = self.inner.borrow_ref_mut(cs);
            let inner = &mut *guard;
            let index = self.resolve(inner, h)?;
            inner.entries[index].enabled = enabled;
            self.shared[index].deliver.store(enabled, Ordering::Release);
            let owner = inner.entries[index].root.map_or(index, |r| r as usize);
            self.sync_placement(inner, owner);
            Ok::<_, crate::Error>(())
        })?;
        self.refresh_all();
        Ok(())
    }

    /// The state of a breakpoint: `StaleHandle` or `ForeignHandle` if the
    /// handle names none. See [`State`] and [`Pinning`] for
    /// examples.
    pub fn state(&self, h: Handle) -> Result<State> {
        self.ready()?;
        critical_section::with(|cs| {
            let inner = self.inner.borrow_ref(cs);
            let index = self.resolve(&inner, h)?;
            let meta = &inner.entries[index];
            let owner = &inner.entries[meta.root.map_or(index, |r| r as usize)];
            Ok(if !meta.enabled {
                State::Disabled
            } else if owner.active {
                State::Armed
            } else {
                State::Waiting
            })
        })
    }
}
