//! GDB remote-protocol breakpoints on top of the registry (feature
//! `gdbstub`).
//!
//! A kernel GDB stub built with [`gdbstub`] 0.7 hands GDB's `Z1`-`Z4`
//! packets (`hbreak`, `watch`, `rwatch`, `awatch`) to a [`GdbBreakpoints`]
//! and asks it, in its debug-exception handler, which of them hit
//! ([`GdbBreakpoints::take_stop`]). Everything GDB asks for goes through
//! [`Registry::register`], so it shares the hardware with the kernel's own
//! breakpoints under the same rules:
//!
//! - a watch of any length is covered exactly (several slots if needed),
//!   never widened: a range the hardware cannot cover exactly, or an access
//!   kind it cannot watch (read-only watches on x86), is refused and GDB is
//!   told so (`Ok(false)`, which gdbstub sends as an error reply);
//! - removal matches GDB's request exactly (address, length and kind); a
//!   watch GDB shares with the kernel (the same bytes and kind) keeps
//!   trapping for the kernel when GDB removes its own;
//! - a stop names the watched address inside the range GDB asked for, so
//!   GDB finds its watchpoint even when the hardware watched a wider
//!   granule or reported no address at all (x86).
//!
//! The stub's target type forwards gdbstub's extension traits to the
//! adapter with [`gdb_hw_extensions!`](crate::gdb_hw_extensions):
//!
//! ```
//! # #[cfg(feature = "model")] {
//! use hwbreak_core::gdb::{GdbBreakpoints, GdbStop, StopLatch, WatchKind};
//! use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
//! use hwbreak_core::{AccessKind, Registry, Space};
//!
//! static LATCH: StopLatch<1> = StopLatch::new();
//! // An AArch64-like model machine: watchpoints report the accessed address.
//! let machine = Machine::new(Config::arm_like(1));
//! let registry: Box<Registry<ModelArch, ModelPlatform, 16, 1, 4>> = Box::new(Registry::new(
//!     ModelArch::new(machine.clone()),
//!     ModelPlatform::new(machine.clone()),
//! ));
//! registry.init().unwrap();
//! on_cpu(0, || registry.cpu_online().unwrap());
//! let mut gdb = GdbBreakpoints::<_, _, 16, 1, 4>::new(&registry, &LATCH);
//!
//! // `watch v` on a 4-byte variable at 0x5000, then the kernel writes byte 2.
//! assert!(gdb.add_hw_watchpoint(0x5000, 4, WatchKind::Write));
//! let trap = machine.access(0, 0x5002, 1, AccessKind::Write, Space::Kernel).unwrap();
//! on_cpu(0, || registry.on_debug_exception(&trap));
//! assert_eq!(
//!     on_cpu(0, || gdb.take_stop()),
//!     Some(GdbStop::Watch { kind: WatchKind::Write, addr: 0x5002 })
//! );
//! // Removal must name exactly what was inserted.
//! assert!(!gdb.remove_hw_watchpoint(0x5000, 8, WatchKind::Write));
//! assert!(gdb.remove_hw_watchpoint(0x5000, 4, WatchKind::Write));
//! assert!(gdb.is_empty());
//! # }
//! ```
//!
//! The adapter itself takes the registry's lock only inside
//! [`Registry::register`] and [`Registry::unregister`]; recording a hit is
//! lock-free (a per-CPU [`StopLatch`] written by the registry's handler).

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};

pub use gdbstub;
use gdbstub::common::Tid;
use gdbstub::stub::{MultiThreadStopReason, SingleThreadStopReason};
pub use gdbstub::target::ext::breakpoints::WatchKind;

use crate::arch::{Arch, MAX_SLOTS};
use crate::error::ErrorKind;
use crate::handle::Handle;
use crate::platform::Platform;
use crate::registry::Registry;
use crate::request::{AccessKind, Event, EventKind, Priority, Request, Scope, Space};

/// Breakpoints one [`GdbBreakpoints`] can hold when no capacity is given:
/// GDB rarely asks for more than the hardware has, and each entry may use
/// several slots.
pub const DEFAULT_CAPACITY: usize = 16;

/// Why GDB's target stopped, as far as the breakpoint hardware knows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GdbStop {
    /// An `hbreak` (`Z1`) breakpoint hit at `addr`.
    HwBreak {
        /// The address GDB set the breakpoint at.
        addr: u64,
    },
    /// A watchpoint (`Z2`-`Z4`) hit.
    Watch {
        /// The kind GDB asked for (not the access the CPU made: an `awatch`
        /// reports [`WatchKind::ReadWrite`] for a write too, which is what
        /// GDB expects).
        kind: WatchKind,
        /// The accessed address if the hardware reported one, else the
        /// start of the watched range: always inside the range GDB asked
        /// for.
        addr: u64,
    },
}

impl GdbStop {
    /// The stop reason for a multi-threaded stub, on thread `tid`.
    ///
    /// ```
    /// # use hwbreak_core::gdb::{GdbStop, gdbstub::common::Tid};
    /// # use gdbstub::stub::MultiThreadStopReason;
    /// let tid = Tid::new(2).unwrap();
    /// let r = GdbStop::HwBreak { addr: 0x1000 }.for_thread(tid);
    /// assert!(matches!(r, MultiThreadStopReason::HwBreak(t) if t == tid));
    /// ```
    pub fn for_thread(self, tid: Tid) -> MultiThreadStopReason<u64> {
        match self {
            Self::HwBreak { .. } => MultiThreadStopReason::HwBreak(tid),
            Self::Watch { kind, addr } => MultiThreadStopReason::Watch { tid, kind, addr },
        }
    }
}

impl From<GdbStop> for SingleThreadStopReason<u64> {
    fn from(stop: GdbStop) -> Self {
        match stop {
            GdbStop::HwBreak { .. } => Self::HwBreak(()),
            GdbStop::Watch { kind, addr } => Self::Watch {
                tid: (),
                kind,
                addr,
            },
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for GdbStop {
    fn format(&self, f: defmt::Formatter<'_>) {
        match *self {
            Self::HwBreak { addr } => defmt::write!(f, "HwBreak {{ addr: {=u64:#x} }}", addr),
            Self::Watch { kind, addr } => defmt::write!(
                f,
                "Watch {{ kind: {=str}, addr: {=u64:#x} }}",
                watch_kind_name(kind),
                addr
            ),
        }
    }
}

#[cfg(feature = "defmt")]
fn watch_kind_name(kind: WatchKind) -> &'static str {
    match kind {
        WatchKind::Write => "Write",
        WatchKind::Read => "Read",
        WatchKind::ReadWrite => "ReadWrite",
    }
}

/// Latch states of one CPU's hit record.
const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const FULL: u8 = 2;

/// One CPU's last unconsumed hit.
struct HitRecord {
    state: AtomicU8,
    index: AtomicU32,
    generation: AtomicU32,
    /// The accessed address plus one, or 0 when the hardware gave none.
    address: AtomicU64,
}

impl HitRecord {
    const fn new() -> Self {
        Self {
            state: AtomicU8::new(EMPTY),
            index: AtomicU32::new(0),
            generation: AtomicU32::new(0),
            address: AtomicU64::new(0),
        }
    }
}

/// Latches in use, by the index their handlers get as context word: a
/// `usize` cannot carry a pointer's provenance, an index into this table
/// needs none (and keeps the adapter clean under strict provenance).
static LATCHES: [AtomicPtr<()>; MAX_LATCHES] = [const { AtomicPtr::new(null_mut()) }; MAX_LATCHES];

/// Distinct [`StopLatch`]es a kernel may use (one per stub is the norm).
pub const MAX_LATCHES: usize = 8;

/// Where the registry's handler leaves GDB's hits until the stub takes
/// them: one record per CPU, written inside the debug exception without a
/// lock.
///
/// It must be a `static` (the registry may deliver a hit for a breakpoint
/// until every CPU has reloaded after its removal, so the handler's context
/// must never dangle). `CPUS` is the registry's CPU capacity. A kernel may
/// use up to [`MAX_LATCHES`] distinct latches; insertions through an
/// adapter whose latch finds no room are refused (`TableFull`).
///
/// The first hit of an exception wins; later hits of the same exception
/// (x86 can report several slots at once) are dropped until the stub takes
/// the first, because GDB can be told one stop at a time.
pub struct StopLatch<const CPUS: usize> {
    cpus: [HitRecord; CPUS],
}

impl<const CPUS: usize> StopLatch<CPUS> {
    /// An empty latch.
    pub const fn new() -> Self {
        Self {
            cpus: [const { HitRecord::new() }; CPUS],
        }
    }

    /// This latch's index in [`LATCHES`], claiming one if it has none.
    fn index(&'static self) -> Option<usize> {
        let me = self as *const Self as *mut ();
        LATCHES.iter().position(|slot| {
            match slot.compare_exchange(null_mut(), me, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => true,
                Err(current) => current == me,
            }
        })
    }

    /// The registry's handler for GDB's breakpoints (context: the latch's
    /// index in [`LATCHES`]).
    fn record(event: &Event) {
        if event.kind != EventKind::Hit {
            return;
        }
        let Some(slot) = LATCHES.get(event.context) else {
            return;
        };
        let latch = slot.load(Ordering::Acquire) as *const Self;
        if latch.is_null() {
            return;
        }
        // SAFETY: only `index` stores into `LATCHES`, the address of a
        // `&'static StopLatch` (a static never moves or dies), and an entry
        // never changes once set. `GdbBreakpoints::insert` registers
        // `record::<CPUS>` with the index of its own `StopLatch<CPUS>`, so
        // the pointer has this type.
        let latch = unsafe { &*latch };
        let Some(rec) = latch.cpus.get(event.cpu.0 as usize) else {
            return;
        };
        if rec
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        rec.index.store(event.handle.index, Ordering::Relaxed);
        rec.generation
            .store(event.handle.generation, Ordering::Relaxed);
        rec.address.store(
            event.address.map_or(0, |a| a.wrapping_add(1)),
            Ordering::Relaxed,
        );
        rec.state.store(FULL, Ordering::Release);
    }

    /// Takes CPU `cpu`'s hit: (handle index, generation, address).
    fn take(&self, cpu: usize) -> Option<(u32, u32, Option<u64>)> {
        let rec = self.cpus.get(cpu)?;
        if rec.state.load(Ordering::Acquire) != FULL {
            return None;
        }
        let hit = (
            rec.index.load(Ordering::Relaxed),
            rec.generation.load(Ordering::Relaxed),
            match rec.address.load(Ordering::Relaxed) {
                0 => None,
                a => Some(a - 1),
            },
        );
        rec.state.store(EMPTY, Ordering::Release);
        Some(hit)
    }
}

#[cfg(feature = "defmt")]
impl<const CPUS: usize> defmt::Format for StopLatch<CPUS> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let pending = self
            .cpus
            .iter()
            .filter(|r| r.state.load(Ordering::Relaxed) == FULL)
            .count();
        defmt::write!(
            f,
            "StopLatch {{ cpus: {=usize}, pending: {=usize} }}",
            CPUS,
            pending
        )
    }
}

impl<const CPUS: usize> Default for StopLatch<CPUS> {
    fn default() -> Self {
        Self::new()
    }
}

/// What GDB inserted, as it named it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Inserted {
    Exec,
    Watch(WatchKind),
}

#[derive(Copy, Clone, Debug)]
struct Entry {
    handle: Handle,
    addr: u64,
    len: u64,
    what: Inserted,
}

/// GDB's hardware breakpoints and watchpoints, kept in a registry.
///
/// `BPS`, `CPUS`, `TASKS` and `SLOTS` are the registry's capacities (see
/// [`Registry`]; `SLOTS` defaults to [`MAX_SLOTS`] there and here); `N` is
/// how many breakpoints GDB may hold at once through this adapter.
///
/// Dropping the adapter unregisters everything GDB inserted (as
/// [`clear`](Self::clear) does), so a detaching stub leaves no slot behind.
pub struct GdbBreakpoints<
    'r,
    A: Arch,
    P: Platform,
    const BPS: usize,
    const CPUS: usize,
    const TASKS: usize,
    const N: usize = DEFAULT_CAPACITY,
    const SLOTS: usize = MAX_SLOTS,
> {
    registry: &'r Registry<A, P, BPS, CPUS, TASKS, SLOTS>,
    latch: &'static StopLatch<CPUS>,
    entries: [Option<Entry>; N],
    scope: Scope,
    space: Space,
    priority: Priority,
    last_refusal: Option<ErrorKind>,
}

impl<
        'r,
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const N: usize,
        const SLOTS: usize,
    > GdbBreakpoints<'r, A, P, BPS, CPUS, TASKS, N, SLOTS>
{
    /// An adapter inserting GDB's breakpoints into `registry` and recording
    /// their hits in `latch`.
    ///
    /// Defaults suit a whole-kernel stub: kernel space, every CPU, pinned,
    /// [`Priority::HIGHEST`] (a debugger's request displaces flexible
    /// ones instead of waiting behind them). `const`, so a kernel can keep
    /// its stub's adapter in a `static`.
    pub const fn new(
        registry: &'r Registry<A, P, BPS, CPUS, TASKS, SLOTS>,
        latch: &'static StopLatch<CPUS>,
    ) -> Self {
        Self {
            registry,
            latch,
            entries: [None; N],
            scope: Scope::AllCpus,
            space: Space::Kernel,
            priority: Priority::HIGHEST,
            last_refusal: None,
        }
    }

    /// Where GDB's breakpoints apply from now on (for example one debug
    /// context, for a stub debugging one task). Inserted ones keep theirs.
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// The address space GDB's addresses are in from now on.
    pub fn with_space(mut self, space: Space) -> Self {
        self.space = space;
        self
    }

    /// The priority of GDB's breakpoints from now on.
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Why the last refused insertion was refused (GDB only hears "error").
    pub fn last_refusal(&self) -> Option<ErrorKind> {
        self.last_refusal
    }

    /// How many breakpoints GDB holds through this adapter.
    pub fn len(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// Whether GDB holds no breakpoint.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `Z1`: an execute breakpoint at `addr`. `false` (refused, nothing
    /// changed) when the registry or this adapter has no room or the
    /// address cannot be watched; [`last_refusal`](Self::last_refusal)
    /// says why.
    pub fn add_hw_breakpoint(&mut self, addr: u64) -> bool {
        self.insert(Request::execute(addr), Inserted::Exec)
    }

    /// `z1`: removes the execute breakpoint GDB inserted at `addr`.
    /// `false` when GDB holds none there.
    pub fn remove_hw_breakpoint(&mut self, addr: u64) -> bool {
        self.remove(addr, 1, Inserted::Exec)
    }

    /// `Z2`/`Z3`/`Z4`: a watchpoint over `len` bytes at `addr`. The range is
    /// covered exactly or refused (`false`, nothing changed): a kind the
    /// CPU cannot watch (read-only on x86) is refused, never widened to
    /// read-or-write.
    pub fn add_hw_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> bool {
        let access = match kind {
            WatchKind::Write => AccessKind::Write,
            WatchKind::Read => AccessKind::Read,
            WatchKind::ReadWrite => AccessKind::ReadWrite,
        };
        self.insert(Request::new(addr, len, access), Inserted::Watch(kind))
    }

    /// `z2`/`z3`/`z4`: removes the watchpoint GDB inserted with exactly
    /// this address, length and kind. `false` when GDB holds none such.
    pub fn remove_hw_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> bool {
        self.remove(addr, len, Inserted::Watch(kind))
    }

    /// The hit of GDB's breakpoints on the current CPU since the last call,
    /// if any: call it in the debug-exception handler after
    /// [`Registry::on_debug_exception`]. A hit of a breakpoint GDB has
    /// removed meanwhile is dropped.
    pub fn take_stop(&self) -> Option<GdbStop> {
        let cpu = self.registry.platform().current_cpu().0 as usize;
        let (index, generation, address) = self.latch.take(cpu)?;
        let e = self
            .entries
            .iter()
            .flatten()
            .find(|e| e.handle.index == index && e.handle.generation == generation)?;
        Some(match e.what {
            Inserted::Exec => GdbStop::HwBreak { addr: e.addr },
            Inserted::Watch(kind) => GdbStop::Watch {
                kind,
                // The registry reports an address inside the request (a hit
                // past its end is dropped, one that began below its start
                // is reported at the start), or none, where the hardware
                // gives none: then GDB is told the watch's first byte.
                addr: address.unwrap_or(e.addr),
            },
        })
    }

    /// Unregisters everything GDB inserted (on detach or kill).
    pub fn clear(&mut self) {
        for slot in self.entries.iter_mut() {
            if let Some(e) = slot.take() {
                // A stale handle means the entry is already gone: nothing
                // left to release.
                let _ = self.registry.unregister(e.handle);
            }
        }
    }

    fn insert(&mut self, req: Request, what: Inserted) -> bool {
        let Some(free) = self.entries.iter().position(Option::is_none) else {
            self.last_refusal = Some(ErrorKind::TableFull);
            return false;
        };
        let Some(latch) = self.latch.index() else {
            self.last_refusal = Some(ErrorKind::TableFull);
            return false;
        };
        let req = req
            .space(self.space)
            .scope(self.scope)
            .priority(self.priority)
            .handler(StopLatch::<CPUS>::record, latch);
        match self.registry.register(&req) {
            Ok(handle) => {
                self.entries[free] = Some(Entry {
                    handle,
                    addr: req.addr,
                    len: req.len,
                    what,
                });
                true
            }
            Err(e) => {
                self.last_refusal = Some(e.kind());
                false
            }
        }
    }

    fn remove(&mut self, addr: u64, len: u64, what: Inserted) -> bool {
        let found = self.entries.iter_mut().find(
            |slot| matches!(slot, Some(e) if e.addr == addr && e.len == len && e.what == what),
        );
        match found.and_then(Option::take) {
            Some(e) => {
                // The adapter's handle cannot be stale unless someone else
                // unregistered it; either way GDB's breakpoint is gone.
                let _ = self.registry.unregister(e.handle);
                true
            }
            None => false,
        }
    }
}

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const N: usize,
        const SLOTS: usize,
    > Drop for GdbBreakpoints<'_, A, P, BPS, CPUS, TASKS, N, SLOTS>
{
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(feature = "defmt")]
impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const N: usize,
        const SLOTS: usize,
    > defmt::Format for GdbBreakpoints<'_, A, P, BPS, CPUS, TASKS, N, SLOTS>
{
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "GdbBreakpoints {{ held: {=usize}, capacity: {=usize}, last_refusal: {} }}",
            self.len(),
            N,
            self.last_refusal
        )
    }
}

/// A gdbstub target's address type (for [`gdb_hw_extensions!`](crate::gdb_hw_extensions)).
#[doc(hidden)]
pub type TargetUsize<T> = <<T as gdbstub::target::Target>::Arch as gdbstub::arch::Arch>::Usize;

/// A gdbstub target's breakpoint kind (for [`gdb_hw_extensions!`](crate::gdb_hw_extensions)).
#[doc(hidden)]
pub type TargetBreakpointKind<T> =
    <<T as gdbstub::target::Target>::Arch as gdbstub::arch::Arch>::BreakpointKind;

/// Implements gdbstub's `HwBreakpoint` and `HwWatchpoint` extensions for a
/// stub's target type by forwarding to its [`GdbBreakpoints`] field.
///
/// The target still implements `Breakpoints` itself (returning `Some(self)`
/// from `support_hw_breakpoint` and `support_hw_watchpoint`), so it stays
/// free to add software breakpoints. The architecture's `Usize` must
/// convert into `u64`.
///
/// ```ignore
/// struct KernelTarget { hw: GdbBreakpoints<'static, ArchImpl, MyPlatform, 64, 4, 32>, /* ... */ }
/// hwbreak::gdb_hw_extensions!(KernelTarget => hw);
/// // A generic target lists its generics in brackets:
/// // hwbreak::gdb_hw_extensions!(impl['a, const N: usize] KernelTarget<'a, N> => hw);
/// ```
#[macro_export]
macro_rules! gdb_hw_extensions {
    ($target:ty => $field:ident) => {
        $crate::gdb_hw_extensions!(impl[] $target => $field);
    };
    (impl[$($generics:tt)*] $target:ty => $field:ident) => {
        impl<$($generics)*> $crate::gdb::gdbstub::target::ext::breakpoints::HwBreakpoint for $target {
            fn add_hw_breakpoint(
                &mut self,
                addr: $crate::gdb::TargetUsize<Self>,
                _kind: $crate::gdb::TargetBreakpointKind<Self>,
            ) -> $crate::gdb::gdbstub::target::TargetResult<bool, Self> {
                Ok(self.$field.add_hw_breakpoint(::core::convert::Into::<u64>::into(addr)))
            }

            fn remove_hw_breakpoint(
                &mut self,
                addr: $crate::gdb::TargetUsize<Self>,
                _kind: $crate::gdb::TargetBreakpointKind<Self>,
            ) -> $crate::gdb::gdbstub::target::TargetResult<bool, Self> {
                Ok(self.$field.remove_hw_breakpoint(::core::convert::Into::<u64>::into(addr)))
            }
        }

        impl<$($generics)*> $crate::gdb::gdbstub::target::ext::breakpoints::HwWatchpoint for $target {
            fn add_hw_watchpoint(
                &mut self,
                addr: $crate::gdb::TargetUsize<Self>,
                len: $crate::gdb::TargetUsize<Self>,
                kind: $crate::gdb::WatchKind,
            ) -> $crate::gdb::gdbstub::target::TargetResult<bool, Self> {
                Ok(self.$field.add_hw_watchpoint(
                    ::core::convert::Into::<u64>::into(addr),
                    ::core::convert::Into::<u64>::into(len),
                    kind,
                ))
            }

            fn remove_hw_watchpoint(
                &mut self,
                addr: $crate::gdb::TargetUsize<Self>,
                len: $crate::gdb::TargetUsize<Self>,
                kind: $crate::gdb::WatchKind,
            ) -> $crate::gdb::gdbstub::target::TargetResult<bool, Self> {
                Ok(self.$field.remove_hw_watchpoint(
                    ::core::convert::Into::<u64>::into(addr),
                    ::core::convert::Into::<u64>::into(len),
                    kind,
                ))
            }
        }
    };
}
