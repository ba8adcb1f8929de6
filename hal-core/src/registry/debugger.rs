//! The kernel debugger's path: no lock, no allocation, safe to call with
//! every other CPU stopped wherever it was (even inside the registry's
//! critical section). It shares the atomic ledger with the normal path, so
//! the two never over-commit together, and every failure gives back what it
//! took.

use core::sync::atomic::Ordering;

use super::cpu::{place, place_of};
use super::dispatch::DEBUGGER_HANDLE_BASE;
use super::records::{Token, DEBUGGER_ARMED, DEBUGGER_CLAIMED, DEBUGGER_FREE};
use super::Registry;
use crate::arch::{Arch, PoolId, MAX_POOLS, MAX_SLOTS};
use crate::error::{ErrorKind, Result};
use crate::handle::Handle;
use crate::platform::Platform;
use crate::request::Request;

/// A slot armed through [`Registry::debugger_install`]; give it back with
/// [`Registry::debugger_remove`]. Events from the slot carry a [`Handle`]
/// of their own (not one the normal path issued).
///
/// [`Handle`]: crate::Handle
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
/// use hwbreak_core::{PoolId, Request};
///
/// let d = registry.debugger_install(&Request::execute(0xffff_8000_0000_1000))?;
/// assert_eq!(d.pool(), PoolId::FIRST);
/// // The debugger path takes the highest free slot, the same on every CPU.
/// assert_eq!(d.slot(), 3);
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DebuggerHandle {
    registry: u32,
    pool: u8,
    slot: u8,
    generation: u32,
}

impl DebuggerHandle {
    /// The pool of the slot. See [`DebuggerHandle`] for an example.
    pub fn pool(&self) -> PoolId {
        PoolId::ALL[self.pool as usize % MAX_POOLS]
    }

    /// The slot index (the same on every CPU). See [`DebuggerHandle`] for
    /// an example.
    pub const fn slot(&self) -> usize {
        self.slot as usize
    }

    /// The [`Handle`] in the [`Event`](crate::Event)s of this slot: a hit
    /// on it calls the handler with exactly this value, which no
    /// registration's handle equals (its index is `0xffff_0000` plus
    /// `pool * 16 + slot`), and which the next debugger breakpoint armed in
    /// the same slot does not equal either.
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
    /// # on_cpu(0, || registry.cpu_online().unwrap());
    /// use hwbreak_core::Request;
    ///
    /// let d = registry.debugger_install(&Request::execute(0xffff_8000_0000_1000))?;
    /// assert_eq!((d.slot(), d.handle().index()), (3, 0xffff_0003));
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub const fn handle(&self) -> Handle {
        Handle {
            registry: self.registry,
            // The slot's place, as its token in the CPUs' tables names it.
            index: DEBUGGER_HANDLE_BASE + place_of(self.pool as usize, self.slot as usize),
            generation: self.generation,
        }
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
    /// Arms one slot for a kernel debugger, system-wide, without taking any
    /// lock. The request's scope and pinning are ignored (debugger slots are
    /// pinned on every CPU); it must fit one slot (`NotCoverable`
    /// otherwise: arm wider ranges with several calls).
    ///
    /// The current CPU is armed at once. Every other CPU must call
    /// [`Registry::refresh`] as it leaves the debugger's stop (kgdb-style
    /// round-up), or it picks the slot up at its next reload.
    ///
    /// Use it where the normal path cannot run: with other CPUs stopped
    /// at arbitrary points (one may hold the registry's lock, or be in the
    /// middle of an update), from an NMI or the debugger's own exception
    /// context. The slot is counted in the ledger the normal path checks,
    /// so neither path can give away a slot the other relies on: the
    /// debugger gets `NoSlot` when the pool is full of pinned
    /// breakpoints, and later registrations see the debugger's slot as
    /// taken. Validation is the same as [`Registry::register`]'s.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # let machine = Machine::new(Config::x86_like(2));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 2, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..2 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, ErrorKind, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// // The kernel holds three of four slots.
    /// for i in 0..3 {
    ///     registry.register(&Request::write(k + 8 * i, 8))?;
    /// }
    /// // All CPUs are stopped in the debugger on CPU 0: arm a watch without a lock.
    /// let d = on_cpu(0, || registry.debugger_install(&Request::write(k + 64, 8)))?;
    /// assert!(machine.access(0, k + 64, 8, AccessKind::Write, Space::Kernel).is_some());
    /// // CPU 1 picks it up as it leaves the stop.
    /// on_cpu(1, || registry.refresh());
    /// assert!(machine.access(1, k + 64, 8, AccessKind::Write, Space::Kernel).is_some());
    /// // The pool is full for both paths now.
    /// let err = registry.register(&Request::write(k + 128, 8)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NoSlot);
    /// let err = registry.debugger_install(&Request::write(k + 128, 8)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NoSlot);
    /// on_cpu(0, || registry.debugger_remove(d))?;
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn debugger_install(&self, req: &Request) -> Result<DebuggerHandle> {
        let counts = self.ready()?;
        let prepared = self.prepare(req, counts)?;
        if prepared.pieces != 1 {
            return Err(ErrorKind::NotCoverable.into());
        }
        let pool = prepared.pool;
        let n = counts.get(pool);
        self.ledger.debugger_take(pool, n as u32)?;
        let Some(k) = self.claim_global(pool, n) else {
            self.ledger.debugger_give(pool);
            return Err(ErrorKind::NoSlot.into());
        };
        let slot = &self.debugger[pool.index()][k];
        if slot
            .state
            .compare_exchange(
                DEBUGGER_FREE,
                DEBUGGER_CLAIMED,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            self.global_used[pool.index()].fetch_and(!(1 << k), Ordering::AcqRel);
            self.ledger.debugger_give(pool);
            return Err(ErrorKind::NoSlot.into());
        }
        let end = req.addr + req.len;
        slot.fill(prepared.images[0], req.handler, req.addr, end);
        let generation = slot
            .generation
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        slot.state.store(DEBUGGER_ARMED, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.load_debugger_slots();
        Ok(DebuggerHandle {
            registry: self.id.load(Ordering::Relaxed),
            pool: pool.index() as u8,
            slot: k as u8,
            generation,
        })
    }

    /// Disarms a debugger slot and gives it back, without taking any lock.
    /// The current CPU is disarmed at once; the others as they
    /// [`refresh`](Registry::refresh) or reload. `StaleHandle` if the slot
    /// was already given back.
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
    /// use hwbreak_core::{ErrorKind, PoolId, Request};
    ///
    /// let d = registry.debugger_install(&Request::execute(0xffff_8000_0000_1000))?;
    /// registry.debugger_remove(d)?;
    /// assert_eq!(registry.pool_usage(PoolId::FIRST), (0, 0));
    /// assert_eq!(registry.debugger_remove(d).unwrap_err().kind(), ErrorKind::StaleHandle);
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn debugger_remove(&self, h: DebuggerHandle) -> Result<()> {
        let counts = self.ready()?;
        if h.registry != self.id.load(Ordering::Relaxed) {
            return Err(ErrorKind::ForeignHandle.into());
        }
        let pool = PoolId::new(h.pool as usize).ok_or(ErrorKind::SlotOutOfRange)?;
        let k = h.slot as usize;
        if k >= counts.get(pool) {
            return Err(ErrorKind::SlotOutOfRange.into());
        }
        let slot = &self.debugger[pool.index()][k];
        if slot.generation.load(Ordering::Relaxed) != h.generation
            || slot
                .state
                .compare_exchange(
                    DEBUGGER_ARMED,
                    DEBUGGER_CLAIMED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_err()
        {
            return Err(ErrorKind::StaleHandle.into());
        }
        self.global_used[pool.index()].fetch_and(!(1 << k), Ordering::AcqRel);
        slot.state.store(DEBUGGER_FREE, Ordering::Release);
        self.ledger.debugger_give(pool);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.load_debugger_slots();
        Ok(())
    }

    /// Updates the current CPU's debugger slots without reading any
    /// seqlocked record (a writer may be stopped in the middle of one):
    /// what is installed stays, moved aside if a debugger slot needs its
    /// index; control words are computed over the whole table.
    fn load_debugger_slots(&self) {
        let Some((_, state)) = self.cpu_state() else {
            return;
        };
        if !state.online.load(Ordering::Relaxed) {
            return;
        }
        let counts = self.slot_counts();
        for p in 0..A::POOLS {
            let n = counts.0[p] as usize;
            let installed = state.installed(p);
            let mut fixed = [Token::EMPTY; SLOTS];
            let mut local = [Token::EMPTY; SLOTS];
            let mut nlocal = 0;
            for k in 0..n {
                let tok = installed[k];
                let armed = self.debugger[p][k].state.load(Ordering::Acquire) == DEBUGGER_ARMED;
                if armed {
                    fixed[k] = Token::debugger(p * MAX_SLOTS + k);
                    if !tok.is_empty() && !tok.is_debugger() {
                        local[nlocal] = tok;
                        nlocal += 1;
                    }
                } else if tok.is_debugger() {
                    // A debugger slot given back: leave it empty.
                } else if !tok.is_empty() {
                    // System-wide or not, `place` keeps it where it is
                    // installed unless a debugger slot now takes the index.
                    local[nlocal] = tok;
                    nlocal += 1;
                }
            }
            let (table, _dropped) = place(&installed, &fixed, &local[..nlocal], n);
            self.write_pool(state, p, &table, &[Token::EMPTY; SLOTS], 0, false);
        }
        self.update_armed(state, false);
    }
}
