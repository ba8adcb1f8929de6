//! What a caller asks for: an address range, an access kind, whose address
//! space it lives in, where it applies, how hard it holds its slot, and who is
//! told when it hits.

use core::fmt;

/// A logical CPU number, as the [`Platform`](crate::Platform) numbers them
/// (dense, starting at 0).
///
/// # Examples
///
/// ```
/// use hwbreak_core::{CpuId, Scope};
/// let scope = Scope::Cpu(CpuId(2));
/// assert_eq!(scope.cpu(), Some(CpuId(2)));
/// assert!(CpuId(0) < CpuId(2));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CpuId(pub u32);

/// A debug context: the breakpoint state one task, or a group of tasks that
/// share it (the threads of a process inheriting its watchpoints), carries
/// across context switches.
///
/// The OS numbers its debug contexts densely from 0 (an index into its own
/// task table works); the registry is built with room for a fixed number of
/// them.
///
/// # Examples
///
/// ```
/// use hwbreak_core::{Scope, TaskId};
/// // Debug context 3 is, say, slot 3 of the kernel's process table.
/// let scope = Scope::Task(TaskId(3));
/// assert_eq!(scope.task(), Some(TaskId(3)));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TaskId(pub u32);

/// What kind of access triggers the breakpoint.
///
/// # Examples
///
/// ```
/// use hwbreak_core::{AccessKind, Request};
/// assert_eq!(Request::read_write(0x1000, 4).kind, AccessKind::ReadWrite);
/// assert!(AccessKind::Read.is_data());
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AccessKind {
    /// Instruction fetch of the first byte of the range (a code breakpoint).
    Execute,
    /// Data stores.
    Write,
    /// Data loads only. Not every machine can watch loads without stores:
    /// such backends refuse it with [`ErrorKind::UnsupportedKind`](crate::ErrorKind::UnsupportedKind).
    Read,
    /// Data loads and stores.
    ReadWrite,
    /// I/O port accesses (only machines with a separate I/O space, and only
    /// when the OS has enabled I/O breakpoints).
    Io,
}

impl AccessKind {
    /// Whether this is a data kind (read, write or both).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::AccessKind;
    /// assert!(AccessKind::Write.is_data());
    /// assert!(!AccessKind::Execute.is_data());
    /// assert!(!AccessKind::Io.is_data()); // ports are not memory
    /// ```
    pub const fn is_data(self) -> bool {
        matches!(self, Self::Write | Self::Read | Self::ReadWrite)
    }
}

/// Whose address space the range is in, and at which privilege the
/// breakpoint triggers.
///
/// # Examples
///
/// A user request must lie wholly below the platform's user limit (here
/// 2^47, the model's x86-like machine):
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
/// use hwbreak_core::{ErrorKind, Request, Space};
///
/// let user = Request::write(0x7fff_ffff_fff8, 8).space(Space::User);
/// assert!(registry.register(&user).is_ok());
/// // Starts in user space, ends in kernel space: refused.
/// let straddling = Request::write(0x7fff_ffff_fffc, 8).space(Space::User);
/// let err = registry.register(&straddling).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::KernelAddressFromUser);
/// # }
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Space {
    /// User space: the whole range must lie below the platform's user limit;
    /// the breakpoint triggers only in unprivileged mode.
    User,
    /// Kernel space: triggers only in privileged mode.
    Kernel,
}

/// Where a breakpoint applies.
///
/// # Examples
///
/// A breakpoint of debug context 1 is armed only while that context is
/// loaded (model backend, feature `model`):
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
/// use hwbreak_core::{AccessKind, Request, Scope, Space, TaskId};
///
/// let addr = 0xffff_8000_0010_0000;
/// registry.register(&Request::write(addr, 8).scope(Scope::Task(TaskId(1))))?;
/// let traps = |cpu| machine.access(cpu, addr, 8, AccessKind::Write, Space::Kernel).is_some();
/// assert!(!traps(0));
/// // Context 1 is switched in on CPU 0 (as the kernel's context switch does).
/// on_cpu(0, || registry.switch_task(Some(TaskId(1))))?;
/// assert!(traps(0));
/// assert!(!traps(1));
/// on_cpu(0, || registry.switch_task(None))?;
/// assert!(!traps(0));
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Scope {
    /// On one CPU, whatever runs there.
    Cpu(CpuId),
    /// On every CPU, whatever runs there (system-wide).
    AllCpus,
    /// While the given debug context runs, on any CPU.
    Task(TaskId),
    /// While the given debug context runs on the given CPU.
    TaskOnCpu(TaskId, CpuId),
}

impl Scope {
    /// The debug context this scope follows, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{CpuId, Scope, TaskId};
    /// assert_eq!(Scope::TaskOnCpu(TaskId(4), CpuId(1)).task(), Some(TaskId(4)));
    /// assert_eq!(Scope::Cpu(CpuId(1)).task(), None);
    /// ```
    pub const fn task(self) -> Option<TaskId> {
        match self {
            Self::Task(t) | Self::TaskOnCpu(t, _) => Some(t),
            Self::Cpu(_) | Self::AllCpus => None,
        }
    }

    /// The CPU this scope is bound to, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{CpuId, Scope, TaskId};
    /// assert_eq!(Scope::TaskOnCpu(TaskId(4), CpuId(1)).cpu(), Some(CpuId(1)));
    /// assert_eq!(Scope::AllCpus.cpu(), None);
    /// ```
    pub const fn cpu(self) -> Option<CpuId> {
        match self {
            Self::Cpu(c) | Self::TaskOnCpu(_, c) => Some(c),
            Self::Task(_) | Self::AllCpus => None,
        }
    }
}

/// How firmly a breakpoint holds its slots.
///
/// # Examples
///
/// With every slot of an x86-like CPU taken, a pinned request is refused
/// and a flexible one waits until a slot frees:
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
/// use hwbreak_core::{ErrorKind, Pinning, Request, State};
///
/// let k = 0xffff_8000_0010_0000;
/// let mut held = Vec::new();
/// for i in 0..4 {
///     held.push(registry.register(&Request::write(k + 8 * i, 8))?);
/// }
/// let err = registry.register(&Request::write(k + 64, 8)).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NoSlot);
///
/// let req = Request::write(k + 64, 8).flexible();
/// assert_eq!(req.pinning, Pinning::Flexible);
/// let waiting = registry.register(&req)?;
/// assert_eq!(registry.state(waiting)?, State::Waiting);
/// registry.unregister(held[0])?;
/// assert_eq!(registry.state(waiting)?, State::Armed);
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pinning {
    /// Registered only if slots are guaranteed wherever its scope can run;
    /// never displaced.
    Pinned,
    /// Armed while room allows; displaced by a higher-priority request (its
    /// handler is told) and re-armed automatically when room returns. A
    /// flexible request that finds no room is accepted and waits. Waiting
    /// breakpoints are re-armed highest priority first, and among equal
    /// priorities the one that has waited longest first.
    Flexible,
}

/// Priority between competing requests: higher wins. Only a flexible
/// breakpoint of strictly lower priority is ever displaced, the lowest
/// priorities first; among equal priorities the lower
/// [`Handle::index`](crate::Handle::index) gives way first, a fixed order,
/// so the same calls always displace the same breakpoints. A request
/// displaces only the breakpoints it needs, and at most eight: one that
/// would need more is treated as finding no room.
///
/// # Examples
///
/// A request at the default priority displaces a flexible low-priority
/// watch from a full x86-like CPU; the displaced one comes back when the
/// slot frees:
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
/// use hwbreak_core::{Priority, Request, State};
///
/// let k = 0xffff_8000_0010_0000;
/// let low = Request::write(k, 8).flexible().priority(Priority(10));
/// let low = registry.register(&low)?;
/// for i in 1..4 {
///     registry.register(&Request::write(k + 8 * i, 8))?;
/// }
/// assert!(Priority(10) < Priority::NORMAL);
/// let urgent = registry.register(&Request::write(k + 64, 8))?;
/// assert_eq!(registry.state(low)?, State::Waiting);
/// registry.unregister(urgent)?;
/// assert_eq!(registry.state(low)?, State::Armed);
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Priority(pub u8);

impl Priority {
    /// The default priority.
    pub const NORMAL: Self = Self(128);
    /// The highest priority (kernel debuggers).
    pub const HIGHEST: Self = Self(255);
}

/// Something the registry tells a breakpoint's handler.
///
/// # Examples
///
/// A flexible watch's handler is told when it loses its slot and when it
/// gets one back:
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
/// use std::sync::Mutex;
/// use hwbreak_core::{Event, EventKind, Priority, Request};
///
/// static SEEN: Mutex<Vec<EventKind>> = Mutex::new(Vec::new());
/// fn record(e: &Event) {
///     SEEN.lock().unwrap().push(e.kind);
/// }
///
/// let k = 0xffff_8000_0010_0000;
/// let flexible = Request::write(k, 8).flexible().priority(Priority(1)).handler(record, 0);
/// registry.register(&flexible)?;
/// let others: Vec<_> = (1..5)
///     .map(|i| registry.register(&Request::write(k + 8 * i, 8)))
///     .collect::<Result<_, _>>()?;
/// registry.unregister(others[0])?;
/// assert_eq!(*SEEN.lock().unwrap(), [EventKind::Displaced, EventKind::Reinstated]);
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EventKind {
    /// The breakpoint hit.
    Hit,
    /// A flexible breakpoint lost its slots to a higher-priority request; it
    /// stays registered and will be re-armed when room returns.
    Displaced,
    /// A displaced (or waiting) flexible breakpoint is armed again.
    Reinstated,
}

/// What a handler receives.
///
/// # Examples
///
/// On AArch64-like hardware (hits before the access, address reported) a
/// 1-byte store inside an 8-byte watch reports that byte:
///
/// ```
/// # #[cfg(feature = "model")] {
/// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
/// # let machine = Machine::new(Config::arm_like(1));
/// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
/// #     ModelArch::new(machine.clone()),
/// #     ModelPlatform::new(machine.clone()),
/// # ));
/// # registry.init().unwrap();
/// # for cpu in 0..1 { on_cpu(cpu, || registry.cpu_online().unwrap()); }
/// use core::sync::atomic::{AtomicU64, Ordering};
/// use hwbreak_core::{AccessKind, CpuId, Event, EventKind, Request, Resume, Space};
///
/// static LAST: AtomicU64 = AtomicU64::new(0);
/// fn on_hit(e: &Event) {
///     assert_eq!((e.kind, e.cpu, e.context), (EventKind::Hit, CpuId(0), 7));
///     LAST.store(e.address.unwrap_or(0), Ordering::Relaxed);
/// }
///
/// let k = 0xffff_8000_0010_0000;
/// registry.register(&Request::write(k, 8).handler(on_hit, 7))?;
/// let trap = machine.access(0, k + 5, 1, AccessKind::Write, Space::Kernel).unwrap();
/// let out = on_cpu(0, || registry.on_debug_exception(&trap));
/// assert_eq!(LAST.load(Ordering::Relaxed), k + 5);
/// // The access has not happened yet: the OS steps over it.
/// assert_eq!(out.resume, Resume::SingleStep);
/// # }
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The breakpoint it concerns.
    pub handle: crate::Handle,
    /// The context word given with the handler.
    pub context: usize,
    /// The CPU the event is reported on.
    pub cpu: CpuId,
    /// For hits: the accessed address where the hardware reports one (it is
    /// inside the requested range; hits outside it are filtered out).
    pub address: Option<u64>,
}

/// A handler function: called from the debug exception (for hits) or from
/// the registering call, after its lock is released (for displacement and
/// reinstatement).
///
/// A hit handler may call the registry's updating operations (for example
/// unregister its own breakpoint) only where the platform's
/// [`run_on_each_cpu`](crate::Platform::run_on_each_cpu) may be called from
/// the debug exception; the registry suspends the CPU's slots again after
/// each handler, so the update cannot re-arm them inside the exception.
///
/// A handler runs in exception context: it must not block, allocate, or
/// take a lock the interrupted code may hold.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use hwbreak_core::{Event, EventKind, HandlerFn};
///
/// static HITS: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];
///
/// // The context word picks the counter, so one function serves many
/// // breakpoints.
/// fn count(e: &Event) {
///     if e.kind == EventKind::Hit {
///         HITS[e.context].fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// let f: HandlerFn = count;
/// # let _ = f;
/// ```
pub type HandlerFn = fn(&Event);

/// A handler and the context word passed back to it.
///
/// Two handlers are equal when they call the same function with the same
/// context word.
///
/// # Examples
///
/// ```
/// use hwbreak_core::{Event, Handler, Request};
///
/// fn on_hit(_: &Event) {}
/// let h = Handler::new(on_hit, 42);
/// assert_eq!(h.context, 42);
/// // `Request::handler` builds the same thing.
/// assert_eq!(Request::execute(0x1000).handler(on_hit, 42).handler, h);
/// ```
#[derive(Copy, Clone)]
pub struct Handler {
    /// The function.
    pub func: HandlerFn,
    /// An opaque word given back in [`Event::context`].
    pub context: usize,
}

impl Handler {
    /// A handler calling `func` with `context`. See [`Handler`] for an
    /// example.
    pub const fn new(func: HandlerFn, context: usize) -> Self {
        Self { func, context }
    }

    /// A handler that ignores every event: what [`Request::new`] starts
    /// with.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Handler, Request};
    /// assert_eq!(Request::write(0x1000, 8).handler, Handler::none());
    /// ```
    pub const fn none() -> Self {
        fn ignore(_: &Event) {}
        Self::new(ignore, 0)
    }
}

impl PartialEq for Handler {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::fn_addr_eq(self.func, other.func) && self.context == other.context
    }
}

impl Eq for Handler {}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("func", &(self.func as *const ()))
            .field("context", &self.context)
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Handler {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Handler {{ func: {=u64:#x}, context: {=u64:#x} }}",
            self.func as usize as u64,
            self.context as u64
        )
    }
}

/// A complete breakpoint request.
///
/// Build one with [`Request::write`], [`Request::execute`] and friends, then
/// refine it:
///
/// ```
/// use hwbreak_core::{Request, Scope, Space, TaskId};
/// let r = Request::write(0x7000_1000, 8)
///     .space(Space::User)
///     .scope(Scope::Task(TaskId(3)));
/// assert_eq!(r.len, 8);
/// ```
///
/// Every builder is `const`, so requests can be prepared in constants.
/// Nothing is validated until the request reaches the registry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Request {
    /// First byte watched (for execute: the instruction's address).
    pub addr: u64,
    /// Number of bytes watched. Execute breakpoints use the length of one
    /// instruction as the backend defines it (1 on x86, 4 on AArch64 and ppc64);
    /// [`Request::execute`] fills it in with 1, which every backend accepts.
    pub len: u64,
    /// What access triggers it.
    pub kind: AccessKind,
    /// Whose address space, and which privilege triggers it.
    pub space: Space,
    /// Where it applies.
    pub scope: Scope,
    /// Pinned or flexible.
    pub pinning: Pinning,
    /// Priority against competing requests.
    pub priority: Priority,
    /// Who is told.
    pub handler: Handler,
}

impl Request {
    /// A request of `kind` for `len` bytes at `addr`: kernel space, every
    /// CPU, pinned, normal priority, no handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Pinning, Priority, Request, Scope, Space};
    /// const WATCH: Request = Request::new(0x1000, 4, AccessKind::ReadWrite);
    /// assert_eq!((WATCH.space, WATCH.scope), (Space::Kernel, Scope::AllCpus));
    /// assert_eq!((WATCH.pinning, WATCH.priority), (Pinning::Pinned, Priority::NORMAL));
    /// ```
    pub const fn new(addr: u64, len: u64, kind: AccessKind) -> Self {
        Self {
            addr,
            len,
            kind,
            space: Space::Kernel,
            scope: Scope::AllCpus,
            pinning: Pinning::Pinned,
            priority: Priority::NORMAL,
            handler: Handler::none(),
        }
    }

    /// An execute breakpoint at `addr` (length 1: "the instruction at
    /// `addr`", which every backend accepts).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Request};
    /// let r = Request::execute(0xffff_8000_0000_1000);
    /// assert_eq!((r.kind, r.len), (AccessKind::Execute, 1));
    /// ```
    pub const fn execute(addr: u64) -> Self {
        Self::new(addr, 1, AccessKind::Execute)
    }

    /// A write watchpoint over `len` bytes at `addr`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Request};
    /// assert_eq!(Request::write(0x1000, 13).kind, AccessKind::Write);
    /// ```
    pub const fn write(addr: u64, len: u64) -> Self {
        Self::new(addr, len, AccessKind::Write)
    }

    /// A read watchpoint over `len` bytes at `addr`. Backends without
    /// read-only watches (x86) refuse it with `UnsupportedKind`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Request};
    /// assert_eq!(Request::read(0x1000, 8).kind, AccessKind::Read);
    /// ```
    pub const fn read(addr: u64, len: u64) -> Self {
        Self::new(addr, len, AccessKind::Read)
    }

    /// A read-or-write watchpoint over `len` bytes at `addr`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{AccessKind, Request};
    /// assert_eq!(Request::read_write(0x1000, 8).kind, AccessKind::ReadWrite);
    /// ```
    pub const fn read_write(addr: u64, len: u64) -> Self {
        Self::new(addr, len, AccessKind::ReadWrite)
    }

    /// Sets the address space.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Request, Space};
    /// assert_eq!(Request::write(0x7000_0000, 4).space(Space::User).space, Space::User);
    /// ```
    pub const fn space(mut self, space: Space) -> Self {
        self.space = space;
        self
    }

    /// Sets the scope.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{CpuId, Request, Scope};
    /// let r = Request::execute(0x1000).scope(Scope::Cpu(CpuId(1)));
    /// assert_eq!(r.scope, Scope::Cpu(CpuId(1)));
    /// ```
    pub const fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Makes the request flexible (see [`Pinning::Flexible`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Pinning, Request};
    /// assert_eq!(Request::write(0x1000, 8).flexible().pinning, Pinning::Flexible);
    /// ```
    pub const fn flexible(mut self) -> Self {
        self.pinning = Pinning::Flexible;
        self
    }

    /// Sets the priority (see [`Priority`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Priority, Request};
    /// let r = Request::write(0x1000, 8).priority(Priority::HIGHEST);
    /// assert_eq!(r.priority, Priority(255));
    /// ```
    pub const fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the handler: `func` is called with `context` in
    /// [`Event::context`].
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Event, Request};
    /// fn on_hit(_: &Event) {}
    /// let r = Request::write(0x1000, 8).handler(on_hit, 3);
    /// assert_eq!(r.handler.context, 3);
    /// ```
    pub const fn handler(mut self, func: HandlerFn, context: usize) -> Self {
        self.handler = Handler::new(func, context);
        self
    }

    /// The exclusive end of the range, or `None` if `addr + len` overflows.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::Request;
    /// assert_eq!(Request::write(0x1000, 8).end(), Some(0x1008));
    /// assert_eq!(Request::write(u64::MAX, 2).end(), None);
    /// ```
    pub const fn end(&self) -> Option<u64> {
        self.addr.checked_add(self.len)
    }

    /// Whether two requests would program identical hardware and may share
    /// slots (everything but the handler and priority equal). The registry
    /// lets such requests share one slot and calls every handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Event, Priority, Request};
    /// fn a(_: &Event) {}
    /// let kernel = Request::write(0x1000, 8).handler(a, 1);
    /// let debugger = Request::write(0x1000, 8).priority(Priority::HIGHEST);
    /// assert!(kernel.same_watch(&debugger));
    /// assert!(!kernel.same_watch(&Request::write(0x1000, 4)));
    /// ```
    pub fn same_watch(&self, other: &Self) -> bool {
        self.addr == other.addr
            && self.len == other.len
            && self.kind == other.kind
            && self.space == other.space
            && self.scope == other.scope
            && self.pinning == other.pinning
    }
}
