//! The registry's operations behind one object-safe trait, so scenarios
//! (plain `fn` pointers in static tables) need not name the board's
//! platform type or capacities.

use hwbreak::{
    AccessKind, Arch, ArchImpl, DebuggerHandle, Handle, Platform, PoolId, Registry, Request,
    Result, SlotCounts, SlotImage, State, TaskId, Zone,
};

/// What scenarios call. Implemented for every
/// `Registry<ArchImpl, P, B, C, T, S>`; see [`hwbreak::Registry`] for each
/// method's meaning.
pub trait Api: Sync {
    /// Number of pools of the backend.
    fn pools(&self) -> usize;
    /// Slots per pool.
    fn slot_counts(&self) -> SlotCounts;
    /// The pool serving `kind`.
    fn pool_of(&self, kind: AccessKind) -> Result<PoolId>;
    /// Registers a breakpoint.
    fn register(&self, req: &Request) -> Result<Handle>;
    /// Modifies a breakpoint in place.
    fn modify(&self, h: Handle, req: &Request) -> Result<()>;
    /// Re-points a system-wide breakpoint on the current CPU alone.
    fn modify_local(&self, h: Handle, req: &Request) -> Result<()>;
    /// Unregisters a breakpoint.
    fn unregister(&self, h: Handle) -> Result<()>;
    /// Re-arms a disabled breakpoint.
    fn enable(&self, h: Handle) -> Result<()>;
    /// Disarms a breakpoint, keeping its reservation.
    fn disable(&self, h: Handle) -> Result<()>;
    /// A breakpoint's state.
    fn state(&self, h: Handle) -> Result<State>;
    /// Context switch on the current CPU.
    fn switch_task(&self, next: Option<TaskId>) -> Result<()>;
    /// Reloads the current CPU from the tables.
    fn cpu_online(&self) -> Result<()>;
    /// Disarms the current CPU.
    fn cpu_offline(&self) -> Result<()>;
    /// The kernel debugger's lockless install.
    fn debugger_install(&self, req: &Request) -> Result<DebuggerHandle>;
    /// The kernel debugger's lockless removal.
    fn debugger_remove(&self, h: DebuggerHandle) -> Result<()>;
    /// The image armed in a slot of the current CPU.
    fn armed_slot(&self, pool: PoolId, index: usize) -> Result<Option<SlotImage>>;
    /// Slots of `pool` the busiest CPU uses and slots the debugger holds.
    fn pool_usage(&self, pool: PoolId) -> (u32, u32);
    /// Empties slot `index` of `pool` on the current CPU behind the
    /// registry's back (its tables still say it is armed), so a scenario
    /// can tell whether the registry wrote the slot again.
    ///
    /// # Safety
    /// Only from a scenario, which puts the CPU right again (a context
    /// switch that rewrites the slot, or `cpu_online`).
    unsafe fn clear_slot(&self, pool: PoolId, index: usize);
    /// The platform's user limit.
    fn user_limit(&self) -> u64;
    /// The platform's no-breakpoint zones.
    fn zones(&self) -> &[Zone];
    /// The registry's own state, a zone too.
    fn own_zone(&self) -> Zone;
}

impl<P: Platform, const B: usize, const C: usize, const T: usize, const S: usize> Api
    for Registry<ArchImpl, P, B, C, T, S>
{
    fn pools(&self) -> usize {
        <ArchImpl as Arch>::POOLS
    }
    fn slot_counts(&self) -> SlotCounts {
        Registry::slot_counts(self)
    }
    fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
        self.arch().pool_of(kind)
    }
    fn register(&self, req: &Request) -> Result<Handle> {
        Registry::register(self, req)
    }
    fn modify(&self, h: Handle, req: &Request) -> Result<()> {
        Registry::modify(self, h, req)
    }
    fn modify_local(&self, h: Handle, req: &Request) -> Result<()> {
        Registry::modify_local(self, h, req)
    }
    fn unregister(&self, h: Handle) -> Result<()> {
        Registry::unregister(self, h)
    }
    fn enable(&self, h: Handle) -> Result<()> {
        Registry::enable(self, h)
    }
    fn disable(&self, h: Handle) -> Result<()> {
        Registry::disable(self, h)
    }
    fn state(&self, h: Handle) -> Result<State> {
        Registry::state(self, h)
    }
    fn switch_task(&self, next: Option<TaskId>) -> Result<()> {
        Registry::switch_task(self, next)
    }
    fn cpu_online(&self) -> Result<()> {
        Registry::cpu_online(self)
    }
    fn cpu_offline(&self) -> Result<()> {
        Registry::cpu_offline(self)
    }
    fn debugger_install(&self, req: &Request) -> Result<DebuggerHandle> {
        Registry::debugger_install(self, req)
    }
    fn debugger_remove(&self, h: DebuggerHandle) -> Result<()> {
        Registry::debugger_remove(self, h)
    }
    fn armed_slot(&self, pool: PoolId, index: usize) -> Result<Option<SlotImage>> {
        Registry::armed_slot(self, pool, index)
    }
    fn pool_usage(&self, pool: PoolId) -> (u32, u32) {
        Registry::pool_usage(self, pool)
    }
    unsafe fn clear_slot(&self, pool: PoolId, index: usize) {
        // SAFETY: the current CPU's slot; the caller's contract puts the
        // registry's view and the hardware back in step.
        unsafe { self.arch().write_slot(pool, index, None) }
    }
    fn user_limit(&self) -> u64 {
        self.platform().user_limit()
    }
    fn zones(&self) -> &[Zone] {
        self.platform().no_breakpoint_zones()
    }
    fn own_zone(&self) -> Zone {
        Registry::own_zone(self)
    }
}
