//! Modify from atomic context: re-pointing a system-wide breakpoint on the
//! current CPU alone, without the lock and without other CPUs.

use core::sync::atomic::Ordering;

use super::records::Token;
use super::Registry;
use crate::arch::{Arch, PoolId, SlotImage};
use crate::cover::MAX_PIECES;
use crate::error::{ErrorKind, Result};
use crate::handle::Handle;
use crate::platform::Platform;
use crate::request::{Request, Scope};

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    /// Re-points the system-wide breakpoint `h` on the current CPU only:
    /// from now on this CPU's slots for it watch what `req` asks (address,
    /// length, access kind, space), while every other CPU keeps watching
    /// what the registration says. For atomic context: a debug exception's
    /// handler, a probe-like hook, code running with interrupts off.
    ///
    /// It takes no lock and never waits for another CPU: it validates and
    /// encodes `req` (pure), finds the slots the current CPU holds for `h`
    /// in its own table, records the new images there and writes this
    /// CPU's slots and control word. Nothing is reserved or released and no
    /// other CPU is told, which is why the change must fit in the slots `h`
    /// holds here: the same pool and the same number of slots.
    ///
    /// # Why local, and not published for every CPU
    ///
    /// Publishing new settings for every CPU to pick up later would need a
    /// second, lock-free writer of the records the updating calls write
    /// under the lock, and would leave the registry unable to say which
    /// CPU watches what until each of them next traps, switches or
    /// refreshes. Re-pointing one CPU touches only that CPU's own table,
    /// which no other CPU ever writes, and is complete when the call
    /// returns. A caller wanting every CPU changed calls
    /// [`modify`](Self::modify) from thread context, or has each CPU call
    /// this from its own atomic context.
    ///
    /// # Lifetime
    ///
    /// The re-pointing lasts as long as the breakpoint's slots on this CPU
    /// are unchanged: it survives [`refresh`](Self::refresh), context
    /// switches and [`cpu_online`](Self::cpu_online); an updating call on
    /// the breakpoint itself ([`modify`](Self::modify),
    /// [`disable`](Self::disable), [`unregister`](Self::unregister)) or
    /// [`cpu_offline`](Self::cpu_offline) drops it, and the CPU watches
    /// what the registration says again. Hits on this CPU go to the
    /// registration's handler (and to those of identical requests
    /// registered later, which share its slots) with the re-pointed range
    /// used for filtering and for the reported address; `req`'s handler,
    /// priority and pinning are not used.
    ///
    /// Call it with interrupts disabled (they are, in a debug exception's
    /// handler), so no cross-CPU call reloads the CPU halfway.
    ///
    /// # Errors
    ///
    /// What [`register`](Self::register) refuses for `req`'s range and
    /// kind; `ScopeChange` unless `req`'s scope is
    /// [`Scope::AllCpus`]; `ForeignHandle`/`StaleHandle` for a handle that
    /// names no registration; `BadCpu` if the current CPU is not online;
    /// `NotLocal` if `h` holds no system-wide slots on this CPU (another
    /// scope, disabled, waiting, with sharers, being removed), `req`
    /// needs another pool or another number of slots, or the CPU holds
    /// re-pointed slots of other breakpoints and has no room left for
    /// these: a CPU keeps at most two slots re-pointed at once. On error
    /// nothing changed.
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
    /// let traps = |cpu, a| machine.access(cpu, a, 8, AccessKind::Write, Space::Kernel).is_some();
    /// let h = registry.register(&Request::write(k, 8))?;
    /// // CPU 1, in atomic context, moves its own copy of the watch.
    /// on_cpu(1, || registry.modify_local(h, &Request::write(k + 64, 8)))?;
    /// assert!(traps(1, k + 64) && !traps(1, k));
    /// assert!(traps(0, k) && !traps(0, k + 64));
    /// // Sixteen bytes need a second slot: not a local change.
    /// let err = on_cpu(1, || registry.modify_local(h, &Request::write(k, 16))).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NotLocal);
    /// // An update of the breakpoint itself drops the local re-pointing.
    /// registry.modify(h, &Request::write(k + 8, 8))?;
    /// assert!(traps(1, k + 8) && !traps(1, k + 64));
    /// # }
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn modify_local(&self, h: Handle, req: &Request) -> Result<()> {
        let counts = self.ready()?;
        if req.scope != Scope::AllCpus {
            return Err(ErrorKind::ScopeChange.into());
        }
        let prepared = self.prepare(req, counts)?;
        if h.registry != self.id.load(Ordering::Relaxed) {
            return Err(ErrorKind::ForeignHandle.into());
        }
        let index = h.index as usize;
        let shared = self.shared.get(index).ok_or(ErrorKind::ForeignHandle)?;
        if shared.handle_generation.load(Ordering::Acquire) != h.generation {
            return Err(ErrorKind::StaleHandle.into());
        }
        let (_, state) = self.served_cpu_state()?;
        if !state.online.load(Ordering::Relaxed) {
            return Err(ErrorKind::BadCpu.into());
        }
        if shared.next_sharer.load(Ordering::Acquire) != 0 {
            return Err(ErrorKind::NotLocal.into());
        }
        // The slots this CPU holds for `h`, by piece: system-wide slots
        // only (a task's or a CPU's breakpoint is not re-pointed here).
        let p = prepared.pool.index();
        let mut slots = [usize::MAX; MAX_PIECES];
        let mut held = 0;
        for pool in 0..A::POOLS {
            let system = u32::from(state.system_mask[pool].load(Ordering::Relaxed));
            for (k, cell) in state.tokens[pool].iter().enumerate() {
                let tok = Token(cell.load(Ordering::Relaxed));
                if tok.is_empty() || tok.is_debugger() || tok.index() != index {
                    continue;
                }
                let piece = tok.piece();
                if pool != p || system & (1 << k) == 0 || piece >= MAX_PIECES {
                    return Err(ErrorKind::NotLocal.into());
                }
                slots[piece] = k;
                held += 1;
            }
        }
        let pieces = prepared.pieces as usize;
        if held == 0 || held != pieces || slots[..pieces].contains(&usize::MAX) {
            return Err(ErrorKind::NotLocal.into());
        }
        // The CPU keeps a short list of re-pointed slots: all of them fit,
        // or nothing changes.
        if !state.local_room(p, &slots[..pieces]) {
            return Err(ErrorKind::NotLocal.into());
        }
        let end = req.addr.saturating_add(req.len);
        for (piece, &k) in slots[..pieces].iter().enumerate() {
            let tok = state.token(p, k);
            let set = state.set_local(p, k, tok, prepared.images[piece], req.addr, end);
            debug_assert!(set, "room was checked above");
        }
        self.write_local_pool(state, p, &slots[..pieces]);
        Ok(())
    }

    /// Writes slots `changed` of pool `p` and the pool's control word from
    /// the current CPU's table after a local re-pointing.
    fn write_local_pool(&self, state: &super::cpu::CpuState<SLOTS>, p: usize, changed: &[usize]) {
        let pool = PoolId::ALL[p];
        let n = self.slot_counts().0[p] as usize;
        let stepping = u32::from(state.stepping[p].load(Ordering::Relaxed));
        for &k in changed {
            // A slot disarmed for a step stays so: the step's end re-arms
            // it from the table, which now holds the local image.
            if stepping & (1 << k) == 0 {
                let image = self.slot_image(state, p, k, state.token(p, k));
                // SAFETY: current CPU, interrupts off (the caller's
                // contract); the table holds this image for the slot.
                unsafe { self.arch.write_slot(pool, k, image) };
            }
        }
        let all: [Option<SlotImage>; SLOTS] =
            core::array::from_fn(|k| self.slot_image(state, p, k, state.token(p, k)));
        let control = self.arch.control_word(pool, &all[..n.min(SLOTS)]);
        if control != state.control[p].load(Ordering::Relaxed) {
            state.control[p].store(control, Ordering::Relaxed);
            // SAFETY: current CPU; the word the backend computed for this
            // CPU's whole table, local images included.
            unsafe { self.arch.write_control(pool, control) };
        }
    }
}
