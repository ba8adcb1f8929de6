//! What a caller asks for: an address range, an access kind, whose address
//! space it lives in, where it applies, how hard it holds its slot, and who is
//! told when it hits.

use core::fmt;

/// A logical CPU number, as the [`Platform`](crate::Platform) numbers them
/// (dense, starting at 0).
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
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TaskId(pub u32);

/// What kind of access triggers the breakpoint.
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
    pub const fn is_data(self) -> bool {
        matches!(self, Self::Write | Self::Read | Self::ReadWrite)
    }
}

/// Whose address space the range is in, and at which privilege the
/// breakpoint triggers.
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
    pub const fn task(self) -> Option<TaskId> {
        match self {
            Self::Task(t) | Self::TaskOnCpu(t, _) => Some(t),
            Self::Cpu(_) | Self::AllCpus => None,
        }
    }

    /// The CPU this scope is bound to, if any.
    pub const fn cpu(self) -> Option<CpuId> {
        match self {
            Self::Cpu(c) | Self::TaskOnCpu(_, c) => Some(c),
            Self::Task(_) | Self::AllCpus => None,
        }
    }
}

/// How firmly a breakpoint holds its slots.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pinning {
    /// Registered only if slots are guaranteed wherever its scope can run;
    /// never displaced.
    Pinned,
    /// Armed while room allows; displaced by a higher-priority request (its
    /// handler is told) and re-armed automatically when room returns. A
    /// flexible request that finds no room is accepted and waits.
    Flexible,
}

/// Priority between competing requests: higher wins. Only a flexible
/// breakpoint of strictly lower priority is ever displaced.
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
pub type HandlerFn = fn(&Event);

/// A handler and the context word passed back to it.
#[derive(Copy, Clone)]
pub struct Handler {
    /// The function.
    pub func: HandlerFn,
    /// An opaque word given back in [`Event::context`].
    pub context: usize,
}

impl Handler {
    /// A handler calling `func` with `context`.
    pub const fn new(func: HandlerFn, context: usize) -> Self {
        Self { func, context }
    }

    /// A handler that ignores every event.
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

    /// An execute breakpoint at `addr`.
    pub const fn execute(addr: u64) -> Self {
        Self::new(addr, 1, AccessKind::Execute)
    }

    /// A write watchpoint over `len` bytes at `addr`.
    pub const fn write(addr: u64, len: u64) -> Self {
        Self::new(addr, len, AccessKind::Write)
    }

    /// A read watchpoint over `len` bytes at `addr`.
    pub const fn read(addr: u64, len: u64) -> Self {
        Self::new(addr, len, AccessKind::Read)
    }

    /// A read-or-write watchpoint over `len` bytes at `addr`.
    pub const fn read_write(addr: u64, len: u64) -> Self {
        Self::new(addr, len, AccessKind::ReadWrite)
    }

    /// Sets the address space.
    pub const fn space(mut self, space: Space) -> Self {
        self.space = space;
        self
    }

    /// Sets the scope.
    pub const fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Makes the request flexible.
    pub const fn flexible(mut self) -> Self {
        self.pinning = Pinning::Flexible;
        self
    }

    /// Sets the priority.
    pub const fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the handler.
    pub const fn handler(mut self, func: HandlerFn, context: usize) -> Self {
        self.handler = Handler::new(func, context);
        self
    }

    /// The exclusive end of the range, or `None` if `addr + len` overflows.
    pub const fn end(&self) -> Option<u64> {
        self.addr.checked_add(self.len)
    }

    /// Whether two requests would program identical hardware and may share
    /// slots (everything but the handler and priority equal).
    pub fn same_watch(&self, other: &Self) -> bool {
        self.addr == other.addr
            && self.len == other.len
            && self.kind == other.kind
            && self.space == other.space
            && self.scope == other.scope
            && self.pinning == other.pinning
    }
}
