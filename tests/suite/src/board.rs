//! What a board provides to the suite.

/// Which mechanisms really trap on this board and CPU model. A scenario
/// needing more is reported `skipped (<reason>)`, never passed.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// Data watchpoints trap.
    pub data_traps: bool,
    /// Execute breakpoints trap.
    pub exec_traps: bool,
    /// Data slots that really trap (may be fewer than the backend counts).
    pub data_slots: usize,
    /// Execute slots that really trap.
    pub exec_slots: usize,
    /// A range longer than 8 bytes is watched exactly (false where the
    /// emulator truncates wide ranges).
    pub exact_wide_ranges: bool,
}

/// A board: console, capabilities and hooks.
pub trait Board: Sync {
    /// Writes text to the console.
    fn print(&self, s: &str);

    /// What really traps here.
    fn caps(&self) -> Caps;

    /// Clears the current CPU's debug registers behind the registry's back
    /// (what a CPU losing its state in a low-power transition looks like),
    /// so a scenario can prove that `cpu_online` restores them.
    ///
    /// # Safety
    /// Only from a scenario: the registry's tables then disagree with the
    /// hardware until `cpu_online`.
    unsafe fn clear_debug_registers(&self);

    /// `[start, end)` of the stack the debug exception runs on (a
    /// no-breakpoint zone of the board's platform).
    fn debug_stack(&self) -> (u64, u64);

    /// The code address of a function pointer (boards whose ABI uses
    /// function descriptors translate; the default is the pointer itself).
    fn code_addr(&self, f: usize) -> u64 {
        f as u64
    }

    /// Debug exceptions the registry reported spurious so far.
    fn spurious_count(&self) -> u32 {
        0
    }
}
