//! The one error type. Every refusal names its precise cause; a call that
//! returns an error has changed nothing.
//!
//! The integration guide (`docs/integration.md`, section "Troubleshooting")
//! says what each [`ErrorKind`] usually means in a kernel and what to do
//! about it.

use core::fmt;

/// The cause of a refusal.
///
/// Non-exhaustive: match the kinds you handle and keep a fallback arm.
///
/// # Examples
///
/// A read-only watch on x86-like hardware is refused, and the refusal left
/// nothing behind (model backend, feature `model`):
///
/// ```
/// # #[cfg(feature = "model")] {
/// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
/// use hwbreak_core::{ErrorKind, PoolId, Request};
/// # let machine = Machine::new(Config::x86_like(1));
/// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
/// #     ModelArch::new(machine.clone()),
/// #     ModelPlatform::new(machine.clone()),
/// # ));
/// # registry.init().unwrap();
/// # on_cpu(0, || registry.cpu_online().unwrap());
///
/// let addr = 0xffff_8000_0010_0000;
/// let _watch = match registry.register(&Request::read(addr, 8)) {
///     Ok(h) => h,
///     // x86 has no read-only watch: watch reads and writes instead.
///     Err(e) if e.kind() == ErrorKind::UnsupportedKind => {
///         assert_eq!(registry.pool_usage(PoolId::FIRST), (0, 0));
///         registry.register(&Request::read_write(addr, 8)).unwrap()
///     }
///     Err(e) => panic!("{e}"),
/// };
/// assert_eq!(registry.pool_usage(PoolId::FIRST), (1, 0));
/// # }
/// ```
///
/// [`ErrorKind::description`] and `Display` give the same short text:
///
/// ```
/// use hwbreak_core::ErrorKind;
/// assert_eq!(format!("{}", ErrorKind::ZeroLength), "length is zero");
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ErrorKind {
    /// The length is zero.
    ZeroLength,
    /// The hardware cannot watch this length (at this address).
    UnsupportedLength,
    /// The address is not aligned as the hardware requires and the range
    /// cannot be covered exactly.
    Misaligned,
    /// The hardware has no such access kind (for example a read-only watch
    /// on x86, or an execute slot on a part without one).
    UnsupportedKind,
    /// `addr + len` overflows the address space.
    AddressOverflow,
    /// The address is not canonical for this machine.
    NonCanonical,
    /// A user request reaches kernel addresses (including a range that
    /// starts in user space and ends in kernel space).
    KernelAddressFromUser,
    /// The range overlaps a zone the OS declared off-limits to breakpoints
    /// (exception stacks, entry code, descriptor tables, the HAL's state).
    NoBreakpointZone,
    /// The range would need more slots than the pool has, even when empty.
    NotCoverable,
    /// No free slot where the request's scope can run (pool full).
    NoSlot,
    /// The handle is stale: its breakpoint was removed (the slot may have
    /// been reused since).
    StaleHandle,
    /// The handle was issued by another registry.
    ForeignHandle,
    /// A slot index past the hardware's count.
    SlotOutOfRange,
    /// A CPU number past the registry's capacity or not online.
    BadCpu,
    /// A debug context number past the registry's capacity.
    BadTask,
    /// The registry's fixed table of breakpoints is full.
    TableFull,
    /// The backend's memory-type rule refuses the range (POWER9 DAWR on
    /// cache-inhibited memory).
    CacheInhibited,
    /// The range crosses a boundary one slot cannot span (a DAWR range
    /// crossing 512 bytes before POWER10).
    CrossesBoundary,
    /// The feature must first be enabled by the OS (I/O breakpoints without
    /// CR4.DE).
    NotEnabled,
    /// A modification would change the scope; unregister and register anew.
    ScopeChange,
    /// The registry was used before [`Registry::init`](crate::Registry::init).
    NotInitialized,
    /// Privilege selection the hardware cannot express.
    UnsupportedPrivilege,
    /// [`Registry::modify_local`](crate::Registry::modify_local) cannot
    /// make this change on the current CPU alone: the breakpoint holds no
    /// system-wide slots here (another scope, disabled, waiting, shared,
    /// or being removed), the new settings need another pool or another
    /// number of slots, or the CPU already holds as many slots re-pointed
    /// as it keeps (two).
    NotLocal,
    /// [`Registry::init`](crate::Registry::init): the backend reports a
    /// pool with more slots than the registry's `SLOTS` capacity. Build the
    /// registry with `SLOTS` at least the backend's largest pool (the
    /// backend crates export theirs); the registry is left uninitialised.
    SlotCapacity,
}

impl ErrorKind {
    /// A short English description.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::ErrorKind;
    /// assert_eq!(ErrorKind::NoSlot.description(), "no free slot");
    /// ```
    pub const fn description(self) -> &'static str {
        match self {
            Self::ZeroLength => "length is zero",
            Self::UnsupportedLength => "length not supported by the hardware",
            Self::Misaligned => "address misaligned for the hardware",
            Self::UnsupportedKind => "access kind not supported by the hardware",
            Self::AddressOverflow => "address + length overflows",
            Self::NonCanonical => "address is not canonical",
            Self::KernelAddressFromUser => "user request reaches kernel addresses",
            Self::NoBreakpointZone => "range overlaps a no-breakpoint zone",
            Self::NotCoverable => "range needs more slots than the hardware has",
            Self::NoSlot => "no free slot",
            Self::StaleHandle => "stale handle",
            Self::ForeignHandle => "handle from another registry",
            Self::SlotOutOfRange => "slot index past the hardware count",
            Self::BadCpu => "CPU number out of range",
            Self::BadTask => "debug context number out of range",
            Self::TableFull => "breakpoint table full",
            Self::CacheInhibited => "range is cache-inhibited memory",
            Self::CrossesBoundary => "range crosses a boundary one slot cannot span",
            Self::NotEnabled => "feature not enabled by the OS",
            Self::ScopeChange => "modification would change the scope",
            Self::NotInitialized => "registry not initialised",
            Self::UnsupportedPrivilege => "privilege selection not supported",
            Self::NotLocal => "change not possible on this CPU alone",
            Self::SlotCapacity => "backend has more slots than the registry's capacity",
        }
    }
}

/// A refused request. Carry it up; match on [`Error::kind`].
///
/// # Examples
///
/// ```
/// use hwbreak_core::{Error, ErrorKind};
///
/// fn arm() -> hwbreak_core::Result<()> {
///     // `?` converts an `ErrorKind` into an `Error`.
///     Err(ErrorKind::NoSlot)?
/// }
///
/// let err = arm().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NoSlot);
/// assert_eq!(err, Error::from(ErrorKind::NoSlot));
/// assert_eq!(err.to_string(), "no free slot");
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Error {
    kind: ErrorKind,
}

impl Error {
    /// An error of the given kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Error, ErrorKind};
    /// const FULL: Error = Error::new(ErrorKind::TableFull);
    /// assert_eq!(FULL.kind(), ErrorKind::TableFull);
    /// ```
    pub const fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }

    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::{Error, ErrorKind};
    /// let e = Error::new(ErrorKind::StaleHandle);
    /// assert!(matches!(e.kind(), ErrorKind::StaleHandle | ErrorKind::ForeignHandle));
    /// ```
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.description())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl core::error::Error for Error {}

/// Shorthand for results of this crate.
///
/// # Examples
///
/// ```
/// use hwbreak_core::{ErrorKind, Result};
/// fn slots_needed(len: u64) -> Result<u64> {
///     if len == 0 {
///         return Err(ErrorKind::ZeroLength.into());
///     }
///     Ok(len.div_ceil(8))
/// }
/// assert_eq!(slots_needed(13), Ok(2));
/// assert_eq!(slots_needed(0).unwrap_err().kind(), ErrorKind::ZeroLength);
/// ```
pub type Result<T, E = Error> = core::result::Result<T, E>;
