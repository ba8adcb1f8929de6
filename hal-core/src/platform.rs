//! What the OS tells the registry about itself.

use crate::arch::MemoryType;
use crate::request::CpuId;

/// A half-open address range `[start, end)` the OS declares off-limits to
/// breakpoints.
///
/// A breakpoint in such a range could trap where the kernel cannot take a
/// debug exception (the exception's own stack, its entry code, the
/// descriptor tables it needs), so [`Platform::no_breakpoint_zones`] lists
/// them and the registry refuses requests overlapping one with
/// [`ErrorKind::NoBreakpointZone`](crate::ErrorKind::NoBreakpointZone).
///
/// # Examples
///
/// ```
/// use hwbreak_core::Zone;
///
/// static DEBUG_STACK: [u8; 4096] = [0; 4096];
/// let zone = Zone::of(&DEBUG_STACK);
/// assert_eq!(zone.end - zone.start, 4096);
/// // The last byte overlaps; the byte after it does not.
/// assert!(zone.overlaps(zone.end - 1, zone.end));
/// assert!(!zone.overlaps(zone.end, zone.end + 8));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Zone {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Zone {
    /// The zone `[start, end)`. `const`, so fixed zones can live in a
    /// `static` table.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::Zone;
    /// // Vectors at the bottom of memory, known at build time.
    /// static ZONES: [Zone; 1] = [Zone::new(0, 0x1000)];
    /// assert!(ZONES[0].overlaps(0xff8, 0x1008));
    /// ```
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// The zone covering the object `value` occupies (`size_of_val`
    /// bytes from its address).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::AtomicU64;
    /// use hwbreak_core::Zone;
    ///
    /// // State the debug exception handler itself writes.
    /// static SPURIOUS: AtomicU64 = AtomicU64::new(0);
    /// let zone = Zone::of(&SPURIOUS);
    /// assert_eq!(zone.start, SPURIOUS.as_ptr() as u64);
    /// assert_eq!(zone.end, zone.start + 8);
    /// ```
    pub fn of<T: ?Sized>(value: &T) -> Self {
        let start = core::ptr::from_ref(value).cast::<u8>() as usize as u64;
        Self::new(start, start + core::mem::size_of_val(value) as u64)
    }

    /// Whether `[start, end)` overlaps this zone (both ranges half-open).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::Zone;
    /// let z = Zone::new(0x1000, 0x2000);
    /// assert!(z.overlaps(0x0ff8, 0x1001));
    /// assert!(!z.overlaps(0x0ff8, 0x1000)); // ends where the zone starts
    /// assert!(!z.overlaps(0x2000, 0x2008)); // starts where the zone ends
    /// ```
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
///
/// The registry also needs a `critical-section` implementation: updating
/// calls serialise on one critical section, which on an SMP kernel must
/// exclude every CPU (a spinlock with local interrupts off), not only the
/// local one.
///
/// # Examples
///
/// A single-CPU platform with a user half below 2^47 and two
/// no-breakpoint zones (the board kernels in `boards/` have complete ones):
///
/// ```
/// use hwbreak_core::{CpuId, MemoryType, Platform, Zone};
///
/// struct OneCpu {
///     zones: [Zone; 2],
/// }
///
/// impl Platform for OneCpu {
///     fn cpu_count(&self) -> u32 {
///         1
///     }
///     fn current_cpu(&self) -> CpuId {
///         CpuId(0)
///     }
///     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
///         // One CPU: run it here with interrupts off (the contract).
///         critical_section::with(|_| f());
///     }
///     fn user_limit(&self) -> u64 {
///         0x0000_8000_0000_0000
///     }
///     fn no_breakpoint_zones(&self) -> &[Zone] {
///         &self.zones
///     }
/// }
///
/// let p = OneCpu {
///     zones: [Zone::new(0xffff_8000_0000_0000, 0xffff_8000_0000_4000), Zone::new(0, 0x1000)],
/// };
/// let ran = core::sync::atomic::AtomicU32::new(0);
/// p.run_on_each_cpu(&|| {
///     ran.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
/// });
/// assert_eq!(ran.into_inner(), 1);
/// // The default memory type is normal memory.
/// assert_eq!(p.memory_type(0x1000, 0x1008), MemoryType::Normal);
/// ```
pub trait Platform: Sync {
    /// Number of CPUs the registry must serve (possible CPUs, online or not).
    /// Read once by [`Registry::init`](crate::Registry::init); it must not
    /// exceed the registry's `CPUS` ([`ErrorKind::BadCpu`](crate::ErrorKind::BadCpu)
    /// otherwise). See [`Platform`] for an example.
    fn cpu_count(&self) -> u32;

    /// The CPU the caller runs on. Called from the debug exception and the
    /// context switch, so it must not take locks. See [`Platform`] for an
    /// example.
    fn current_cpu(&self) -> CpuId;

    /// Runs `f` on every online CPU and waits for all of them (see the
    /// contract above). The registry calls it after every update, with no
    /// lock held, so each CPU reloads its registers. See [`Platform`] for
    /// an example.
    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync));

    /// User addresses are those below this limit; everything from it up is
    /// kernel space. A [`Space::User`](crate::Space::User) request must end
    /// at or below it. See [`Platform`] for an example.
    fn user_limit(&self) -> u64;

    /// Ranges no breakpoint may overlap: exception stacks, entry code,
    /// descriptor tables, vectors. The registry adds its own state
    /// ([`Registry::own_zone`](crate::Registry::own_zone)). Read on every
    /// registration, so the slice must stay valid and unchanged while the
    /// registry is used. See [`Platform`] for an example.
    fn no_breakpoint_zones(&self) -> &[Zone] {
        &[]
    }

    /// The memory type of `[start, end)` (defaults to normal memory).
    /// Backends with memory-type rules refuse some requests on
    /// [`MemoryType::CacheInhibited`] ranges (POWER9 DAWR).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{CpuId, MemoryType, Platform, Zone};
    ///
    /// /// A platform whose device window is cache-inhibited.
    /// struct WithMmio;
    /// const MMIO: Zone = Zone::new(0x1000_0000, 0x2000_0000);
    ///
    /// impl Platform for WithMmio {
    ///     fn cpu_count(&self) -> u32 { 1 }
    ///     fn current_cpu(&self) -> CpuId { CpuId(0) }
    ///     fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) { f() }
    ///     fn user_limit(&self) -> u64 { 0 }
    ///     fn memory_type(&self, start: u64, end: u64) -> MemoryType {
    ///         if MMIO.overlaps(start, end) {
    ///             MemoryType::CacheInhibited
    ///         } else {
    ///             MemoryType::Normal
    ///         }
    ///     }
    /// }
    ///
    /// assert_eq!(WithMmio.memory_type(0x1000_0100, 0x1000_0108), MemoryType::CacheInhibited);
    /// assert_eq!(WithMmio.memory_type(0x100, 0x108), MemoryType::Normal);
    /// ```
    fn memory_type(&self, start: u64, end: u64) -> MemoryType {
        let _ = (start, end);
        MemoryType::Normal
    }
}
