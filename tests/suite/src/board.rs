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

    /// The board's multiprocessor services, or `None` on a board that
    /// runs one CPU (SMP scenarios are then `skipped`).
    fn smp(&self) -> Option<&dyn Smp> {
        None
    }
}

/// Work a secondary CPU runs for a scenario: a plain function and its
/// argument (scenarios pass the address of a `static` they share).
pub type Work = fn(usize);

/// What SMP scenarios need from a board beyond the registry's
/// [`Platform`](hwbreak::Platform).
///
/// CPU numbers are the registry's [`CpuId`](hwbreak::CpuId)s: the boot CPU
/// is 0, the secondaries `1..cpu_count()`. A secondary that is online and
/// has no work *idles* with interrupts enabled, so it answers cross-CPU
/// calls ([`Platform::run_on_each_cpu`](hwbreak::Platform::run_on_each_cpu))
/// at once; while it runs [`Work`] it answers them too.
pub trait Smp: Sync {
    /// CPUs the board brought up, the boot CPU included.
    fn cpu_count(&self) -> u32;

    /// Starts `work(arg)` on the idle secondary `cpu` and returns without
    /// waiting for it. When `work` returns, the CPU idles again.
    ///
    /// # Errors
    /// `cpu` is the caller, is out of range, is offline or is not idle.
    fn spawn(&self, cpu: u32, work: Work, arg: usize) -> Result<(), &'static str>;

    /// Whether `cpu` is online and idle (its last [`Smp::spawn`] work has
    /// returned).
    fn is_idle(&self, cpu: u32) -> bool;

    /// Takes the idle secondary `cpu` down the way a kernel's hotplug
    /// does: it stops receiving cross-CPU calls, calls the registry's
    /// `cpu_offline` on itself and powers off (PSCI `CPU_OFF`, RTAS
    /// `stop-self`, or a halt loop with interrupts off after INIT on x86).
    /// Returns once it is down.
    ///
    /// # Errors
    /// `cpu` is the caller, the boot CPU, out of range, offline or busy.
    fn offline(&self, cpu: u32) -> Result<(), &'static str>;

    /// Brings `cpu` back (PSCI `CPU_ON`, RTAS `start-cpu`, INIT-SIPI-SIPI):
    /// it runs its whole per-CPU bring-up and the registry's `cpu_online`,
    /// then is added back to cross-CPU calls and idles. Returns once it is
    /// idle.
    ///
    /// # Errors
    /// `cpu` is out of range or already online.
    fn online(&self, cpu: u32) -> Result<(), &'static str>;

    /// A kernel debugger's round-up: interrupts every other online CPU
    /// (an IPI) into a stop loop where it spins with interrupts off, and
    /// returns once all of them are there. Whatever they were doing, a
    /// registration in flight included, is frozen until
    /// [`Smp::resume_others`].
    fn stop_others(&self);

    /// Releases the CPUs [`Smp::stop_others`] stopped; each calls the
    /// registry's `refresh` before it returns to what it was doing.
    fn resume_others(&self);
}
