//! What the OS tells the registry about itself.

use crate::arch::MemoryType;
use crate::request::CpuId;

/// A half-open address range `[start, end)` the OS declares off-limits to
/// breakpoints.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Zone {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Zone {
    /// The zone `[start, end)`.
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// The zone covering the object `value` occupies.
    pub fn of<T: ?Sized>(value: &T) -> Self {
        let start = core::ptr::from_ref(value).cast::<u8>() as usize as u64;
        Self::new(start, start + core::mem::size_of_val(value) as u64)
    }

    /// Whether `[start, end)` overlaps this zone.
    pub const fn overlaps(&self, start: u64, end: u64) -> bool {
        start < self.end && self.start < end
    }
}

/// The services an OS provides to the registry.
///
/// # Contract
/// - CPUs are numbered densely from 0 to `cpu_count() - 1`.
/// - [`Platform::run_on_each_cpu`] runs the function on every online CPU
///   (the caller's included) with interrupts disabled there, and returns
///   only when all have finished. It is called with no registry lock held.
/// - Context switches ([`Registry::switch_task`](crate::Registry::switch_task))
///   run with interrupts disabled on their CPU.
pub trait Platform: Sync {
    /// Number of CPUs the registry must serve (possible CPUs, online or not).
    fn cpu_count(&self) -> u32;

    /// The CPU the caller runs on.
    fn current_cpu(&self) -> CpuId;

    /// Runs `f` on every online CPU and waits for all of them.
    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync));

    /// User addresses are those below this limit; everything from it up is
    /// kernel space.
    fn user_limit(&self) -> u64;

    /// Ranges no breakpoint may overlap: exception stacks, entry code,
    /// descriptor tables, vectors. The registry adds its own state.
    fn no_breakpoint_zones(&self) -> &[Zone] {
        &[]
    }

    /// The memory type of `[start, end)` (defaults to normal memory).
    fn memory_type(&self, start: u64, end: u64) -> MemoryType {
        let _ = (start, end);
        MemoryType::Normal
    }
}
