//! Dispatch of debug exceptions to handlers: no lock, constant work per hit
//! whatever the number of breakpoints registered.

use core::sync::atomic::{fence, Ordering};

use super::cpu::{CpuState, SlotMask};
use super::records::{SharedEntry, Token, DEBUGGER_ARMED};
use super::Registry;
use crate::arch::{Arch, PoolId, Resume, SlotImage, SlotView, MAX_POOLS, MAX_SLOTS};
use crate::handle::Handle;
use crate::platform::Platform;
use crate::request::{CpuId, Event, EventKind, Handler};

/// What [`Registry::on_debug_exception`] did.
///
/// # Examples
///
/// A hit the hardware reports beside the requested bytes (it watches a
/// wider granule) is filtered out; a hit in a slot that holds nothing is
/// spurious:
///
/// ```
/// # #[cfg(feature = "model")] {
/// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
/// # use hwbreak_core::model::ModelTrap;
/// # let machine = Machine::new(Config::arm_like(1));
/// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
/// #     ModelArch::new(machine.clone()),
/// #     ModelPlatform::new(machine.clone()),
/// # ));
/// # registry.init().unwrap();
/// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
/// use hwbreak_core::{PoolId, Request};
///
/// let k = 0xffff_8000_0010_0000;
/// registry.register(&Request::write(k + 2, 2))?; // bytes 2 and 3 of a word
/// let slot = (0..4).find(|&i| registry.armed_slot(PoolId::SECOND, i).unwrap().is_some()).unwrap();
/// // The hardware names the slot, for a store to byte 6 of the same word.
/// let beside = ModelTrap { hits: [0, 1 << slot], address: Some(k + 6), access_len: 1, step: false };
/// let out = on_cpu(0, || registry.on_debug_exception(&beside));
/// assert_eq!((out.delivered, out.filtered, out.spurious), (0, 1, false));
/// // A slot that holds nothing.
/// let empty = (0..4).find(|&i| i != slot).unwrap();
/// let ghost = ModelTrap { hits: [0, 1 << empty], address: Some(k), access_len: 1, step: false };
/// assert!(on_cpu(0, || registry.on_debug_exception(&ghost)).spurious);
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Outcome {
    /// What the exception return must do (apply it to the saved frame).
    pub resume: Resume,
    /// Handler calls made.
    pub delivered: u32,
    /// Hits dropped because the accessed bytes lie outside the requested
    /// range (the hardware watched a wider granule).
    pub filtered: u32,
    /// A hit named a slot that holds nothing (its breakpoint was just
    /// removed), or the exception was not caused by this registry.
    pub spurious: bool,
}

/// The current CPU's armed slots, as the backend's decoder sees them.
struct ArmedView<
    'a,
    A: Arch,
    P: Platform,
    const B: usize,
    const C: usize,
    const T: usize,
    const S: usize,
> {
    registry: &'a Registry<A, P, B, C, T, S>,
    state: &'a CpuState<S>,
}

impl<A: Arch, P: Platform, const B: usize, const C: usize, const T: usize, const S: usize> SlotView
    for ArmedView<'_, A, P, B, C, T, S>
{
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
        if pool.index() >= MAX_POOLS || index >= S {
            return None;
        }
        let p = pool.index();
        if self.state.stepping[p].load(Ordering::Relaxed) & (1 << index) != 0 {
            return None;
        }
        self.registry
            .slot_image(self.state, p, index, self.state.token(p, index))
    }
}

/// The access a debug exception reports, as [`Decoded`](crate::arch::Decoded)
/// gives it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Access {
    address: Option<u64>,
    len: u8,
}

/// Decides whether a hit on `[start, end)` is real given what the hardware
/// reported, and the address to report (inside the range).
#[inline]
fn filter(access: Access, start: u64, end: u64) -> Option<Option<u64>> {
    match access.address {
        None => Some(None),
        Some(a) if a >= end => None,
        Some(a) if access.len > 0 && a.saturating_add(u64::from(access.len)) <= start => None,
        Some(a) => Some(Some(a.max(start))),
    }
}

/// Index space of handles naming debugger slots in events.
pub(crate) const DEBUGGER_HANDLE_BASE: u32 = 0xffff_0000;

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    /// The bits of a hit mask that name slots of the table (`SLOTS` is at
    /// most 16, checked in `new`, so the shift stays in range).
    const SLOT_BITS: u32 = (1 << SLOTS) - 1;

    /// Handles a debug exception on the current CPU: call it from the
    /// exception vector with the trap information the backend defines, and
    /// apply [`Outcome::resume`] to the saved context.
    ///
    /// Takes no lock and allocates nothing. Handlers run here, with the
    /// CPU's breakpoints suspended, so a handler touching the watched data
    /// does not nest.
    ///
    /// Hand it every debug exception the backend understands, including
    /// the single-step completions it asked for ([`Resume::SingleStep`]);
    /// an exception no armed slot explains comes back with
    /// [`Outcome::spurious`] set and [`Resume::Continue`].
    ///
    /// # Examples
    ///
    /// An execute breakpoint on x86-like hardware faults before the
    /// instruction, so the return must set the resume flag:
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
    /// use hwbreak_core::{AccessKind, Request, Resume, Space};
    ///
    /// let code = 0xffff_8000_0000_1000;
    /// registry.register(&Request::execute(code))?;
    /// let trap = machine.access(0, code, 1, AccessKind::Execute, Space::Kernel).unwrap();
    /// let out = registry.on_debug_exception(&trap);
    /// assert_eq!(out.resume, Resume::SetResumeFlag);
    /// assert_eq!(out.delivered, 1);
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    ///
    /// On hardware that traps before the access (AArch64, ppc64) the hit
    /// asks for a single step, and the step's own exception re-arms the
    /// slot:
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # use hwbreak_core::model::ModelTrap;
    /// # let machine = Machine::new(Config::arm_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
    /// use hwbreak_core::{AccessKind, Request, Resume, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k, 8))?;
    /// let hit = machine.access(0, k, 8, AccessKind::Write, Space::Kernel).unwrap();
    /// assert_eq!(registry.on_debug_exception(&hit).resume, Resume::SingleStep);
    /// // The OS stepped one instruction; the step exception comes back here.
    /// let step = ModelTrap { step: true, ..ModelTrap::default() };
    /// assert_eq!(registry.on_debug_exception(&step).resume, Resume::EndSingleStep);
    /// assert!(machine.access(0, k, 8, AccessKind::Write, Space::Kernel).is_some());
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn on_debug_exception(&self, trap: &A::Trap) -> Outcome {
        let Some((cpu, state)) = self.cpu_state() else {
            return Outcome {
                resume: Resume::Continue,
                delivered: 0,
                filtered: 0,
                spurious: true,
            };
        };
        // SAFETY: we are in the current CPU's debug exception handler.
        unsafe { self.arch.suspend() };
        let decoded = self.arch.decode(
            trap,
            &ArmedView {
                registry: self,
                state,
            },
        );
        // The counts live in locals until the end, and the hits see the
        // access by value: nothing of either needs a home in memory on the
        // path of a hit.
        let access = Access {
            address: decoded.address,
            len: decoded.access_len,
        };
        let mut resume = Resume::Continue;
        let mut delivered = 0;
        let mut filtered = 0;
        let mut spurious = false;
        if decoded.step_complete {
            self.end_step(state);
            resume = Resume::EndSingleStep;
        }
        let cpu = CpuId(cpu as u32);
        let mut armed_hits = [0u32; MAX_POOLS];
        let mut any_bit = 0;
        for (p, &bits) in decoded.hits.iter().enumerate().take(A::POOLS) {
            any_bit |= bits;
            // Bits past the table name no slot of this registry.
            if bits >> SLOTS != 0 {
                spurious = true;
            }
            let mut rest = bits & Self::SLOT_BITS;
            while rest != 0 {
                let k = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                match self.deliver_hit(state, p, k, access, cpu) {
                    None => spurious = true,
                    Some(None) => {
                        filtered += 1;
                        armed_hits[p] |= 1 << k;
                    }
                    Some(Some(calls)) => {
                        delivered += calls;
                        armed_hits[p] |= 1 << k;
                        // A handler may have updated the registry (say, removed
                        // itself), which reloads this CPU and re-enables its
                        // slots: suspend them again until the exception
                        // returns.
                        // SAFETY: still inside the current CPU's debug
                        // exception handler.
                        unsafe { self.arch.suspend() };
                    }
                }
            }
        }
        // Nothing hit, or a pool past the backend's count did: no slot of
        // this registry explains it.
        if (any_bit == 0 && !decoded.step_complete)
            || decoded.hits.iter().skip(A::POOLS).any(|&b| b != 0)
        {
            spurious = true;
        }
        if armed_hits.iter().any(|&b| b != 0) {
            match decoded.resume {
                Some(Resume::SingleStep) => {
                    self.begin_step(state, &armed_hits);
                    resume = Resume::SingleStep;
                }
                Some(r) => resume = r,
                None => {}
            }
        }
        self.write_controls(state);
        // SAFETY: current CPU, inside its debug exception handler.
        unsafe { self.arch.acknowledge(trap) };
        Outcome {
            resume,
            delivered,
            filtered,
            spurious,
        }
    }

    /// Writes the current CPU's control words again, as its table says,
    /// whatever the hardware holds now.
    ///
    /// For stops outside [`on_debug_exception`](Self::on_debug_exception)
    /// that disabled the CPU's slots: an exception entry that clears the
    /// control register before any Rust code runs (as the x86 boards do for
    /// #DB and #BP, so a debugger's reads of watched data cannot nest), or
    /// a kernel debugger that suspended them while the CPU was stopped.
    /// Call it last, just before returning to the interrupted code.
    /// [`refresh`](Self::refresh) would not do: it writes only what changed
    /// in the registry, and nothing did.
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
    /// use hwbreak_core::{AccessKind, Arch, PoolId, Request, Space};
    ///
    /// let k = 0xffff_8000_0010_0000;
    /// registry.register(&Request::write(k, 8))?;
    /// let traps = || machine.access(0, k, 8, AccessKind::Write, Space::Kernel).is_some();
    /// // An entry stub cleared the control word (DR7 on x86) behind the registry.
    /// // SAFETY: the model's register file; a kernel does this in its entry code.
    /// unsafe { registry.arch().write_control(PoolId::FIRST, 0) };
    /// assert!(!traps());
    /// registry.refresh(); // nothing changed in the registry: writes nothing
    /// assert!(!traps());
    /// registry.reload_cpu();
    /// assert!(traps());
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn reload_cpu(&self) {
        if let Some((_, state)) = self.cpu_state() {
            if state.online.load(Ordering::Relaxed) {
                self.write_controls(state);
            }
        }
    }

    fn write_controls(&self, state: &CpuState<SLOTS>) {
        for p in 0..A::POOLS {
            // SAFETY: current CPU; writes the control word its table holds,
            // which is what the registry last loaded there.
            unsafe {
                self.arch
                    .write_control(PoolId::ALL[p], state.control[p].load(Ordering::Relaxed))
            };
        }
    }

    /// Calls the handlers of what slot `k` of pool `p` holds on this CPU.
    /// `None`: nothing current there (spurious); `Some(None)`: outside the
    /// requested bytes; `Some(Some(n))`: `n` handlers called.
    #[inline]
    fn deliver_hit(
        &self,
        state: &CpuState<SLOTS>,
        p: usize,
        k: usize,
        access: Access,
        cpu: CpuId,
    ) -> Option<Option<u32>> {
        let tok = state.token(p, k);
        if tok.is_empty() {
            return None;
        }
        if tok.is_debugger() {
            // The access goes in registers: a cold call that took it by
            // reference would make every hit store it first.
            return self.deliver_debugger_hit(tok, access.address, access.len, cpu);
        }
        let owner = self.shared.get(tok.index())?;
        // Everything the first handler call needs is read before one
        // generation check: `publish_entry` bumps the generation, then a
        // release fence, then writes the settings, so with the acquire
        // fence below a setting from a later publish implies its
        // generation is seen, and the hit is dropped. Reading under a stale
        // token costs a few loads; checking before them too would cost
        // every hit a check.
        let (start, end) = state.local_range(p, k, tok).unwrap_or_else(|| {
            (
                owner.start.load(Ordering::Relaxed),
                owner.end.load(Ordering::Relaxed),
            )
        });
        let deliver = owner.deliver.load(Ordering::Relaxed);
        let handler = owner.handler();
        let generation = owner.handle_generation.load(Ordering::Relaxed);
        let next = owner.next_sharer.load(Ordering::Relaxed) as usize;
        fence(Ordering::Acquire);
        if !owner.current(tok) {
            return None;
        }
        let Some(address) = filter(access, start, end) else {
            return Some(None);
        };
        let mut calls = 0;
        if deliver {
            let handle = Handle {
                registry: self.id.load(Ordering::Relaxed),
                index: tok.index() as u32,
                generation,
            };
            call(handler, handle, cpu, address);
            calls += 1;
        }
        if next != 0 {
            calls += self.deliver_sharers(tok, owner, next, cpu, address);
        }
        Some(Some(calls))
    }

    /// Calls the handlers of the entries sharing `owner`'s slots, from
    /// index + 1 `at` down the chain.
    #[inline(never)]
    fn deliver_sharers(
        &self,
        tok: Token,
        owner: &SharedEntry,
        mut at: usize,
        cpu: CpuId,
        address: Option<u64>,
    ) -> u32 {
        let registry = self.id.load(Ordering::Relaxed);
        let mut calls = 0;
        // The chain is bounded by the table; a chain being relinked
        // concurrently can at worst end early.
        for _ in 0..BPS {
            let Some(entry) = self.shared.get(at - 1) else {
                break;
            };
            let deliver = entry.deliver.load(Ordering::Relaxed);
            let handler = entry.handler();
            let generation = entry.handle_generation.load(Ordering::Relaxed);
            let next = entry.next_sharer.load(Ordering::Relaxed) as usize;
            // As in `deliver_hit`: the sharer's settings read before the
            // owner's generation is checked again.
            fence(Ordering::Acquire);
            if !owner.current(tok) {
                break;
            }
            if deliver {
                let handle = Handle {
                    registry,
                    index: (at - 1) as u32,
                    generation,
                };
                call(handler, handle, cpu, address);
                calls += 1;
            }
            at = next;
            if at == 0 {
                break;
            }
        }
        calls
    }

    /// Calls the handler of the kernel debugger's slot `tok` names.
    #[inline(never)]
    fn deliver_debugger_hit(
        &self,
        tok: Token,
        address: Option<u64>,
        len: u8,
        cpu: CpuId,
    ) -> Option<Option<u32>> {
        let access = Access { address, len };
        let (p, k) = (tok.index() / MAX_SLOTS, tok.index() % MAX_SLOTS);
        let slot = self.debugger.get(p)?.get(k)?;
        if slot.state.load(Ordering::Acquire) != DEBUGGER_ARMED {
            return None;
        }
        let start = slot.start.load(Ordering::Relaxed);
        let end = slot.end.load(Ordering::Relaxed);
        let Some(address) = filter(access, start, end) else {
            return Some(None);
        };
        let handle = Handle {
            registry: self.id.load(Ordering::Relaxed),
            index: DEBUGGER_HANDLE_BASE + tok.index() as u32,
            generation: slot.generation.load(Ordering::Relaxed),
        };
        call(slot.handler(), handle, cpu, address);
        Some(Some(1))
    }

    /// Disarms hit slots for a step over the faulting access.
    fn begin_step(&self, state: &CpuState<SLOTS>, hits: &[u32; MAX_POOLS]) {
        for (p, &bits) in hits.iter().enumerate().take(A::POOLS) {
            let mut rest = bits;
            while rest != 0 {
                let k = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                // SAFETY: current CPU; the slot is marked stepping, so the
                // table and the hardware agree it is disarmed until the
                // step completes.
                unsafe { self.arch.write_slot(PoolId::ALL[p], k, None) };
            }
            // Hit masks past the table were dropped above.
            state.stepping[p].fetch_or((bits & Self::SLOT_BITS) as SlotMask, Ordering::Relaxed);
        }
    }

    /// Re-arms the slots disarmed for a step, as the table now says.
    fn end_step(&self, state: &CpuState<SLOTS>) {
        for p in 0..A::POOLS {
            let mut rest = state.stepping[p].swap(0, Ordering::Relaxed);
            while rest != 0 {
                let k = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                let image = self.slot_image(state, p, k, state.token(p, k));
                // SAFETY: current CPU; writes what the table holds.
                unsafe { self.arch.write_slot(PoolId::ALL[p], k, image) };
            }
        }
    }
}

#[inline]
fn call(handler: Handler, handle: Handle, cpu: CpuId, address: Option<u64>) {
    let event = Event {
        kind: EventKind::Hit,
        handle,
        context: handler.context,
        cpu,
        address,
    };
    (handler.func)(&event);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(address: Option<u64>, len: u8) -> Access {
        Access { address, len }
    }

    #[test]
    fn hits_inside_are_reported_at_their_address() {
        assert_eq!(
            filter(decoded(Some(0x1004), 1), 0x1003, 0x1010),
            Some(Some(0x1004))
        );
    }

    #[test]
    fn wide_access_starting_below_is_reported_at_the_range_start() {
        assert_eq!(
            filter(decoded(Some(0x1000), 8), 0x1004, 0x1008),
            Some(Some(0x1004))
        );
        assert_eq!(
            filter(decoded(Some(0x1000), 0), 0x1004, 0x1008),
            Some(Some(0x1004))
        );
    }

    #[test]
    fn accesses_beside_the_range_are_dropped() {
        assert_eq!(filter(decoded(Some(0x1008), 1), 0x1004, 0x1008), None);
        assert_eq!(filter(decoded(Some(0x1000), 4), 0x1004, 0x1008), None);
    }

    #[test]
    fn no_address_means_no_filtering() {
        assert_eq!(filter(decoded(None, 0), 0x1004, 0x1008), Some(None));
    }
}
