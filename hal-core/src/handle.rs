//! Generation-tagged handles: a stale or foreign handle is an error, never a
//! wrong slot.

/// Names one registered breakpoint of one registry.
///
/// A handle stays valid until its breakpoint is unregistered; after that
/// every use returns [`ErrorKind::StaleHandle`](crate::ErrorKind::StaleHandle),
/// even when the table entry was reused, because the entry's generation has
/// moved on. A handle from another registry returns
/// [`ErrorKind::ForeignHandle`](crate::ErrorKind::ForeignHandle).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "model")] {
/// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
/// use hwbreak_core::{ErrorKind, Request};
/// # let machine = Machine::new(Config::x86_like(1));
/// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
/// #     ModelArch::new(machine.clone()),
/// #     ModelPlatform::new(machine.clone()),
/// # ));
/// # registry.init().unwrap();
/// # on_cpu(0, || registry.cpu_online().unwrap());
///
/// let addr = 0xffff_8000_0010_0000;
/// let old = registry.register(&Request::write(addr, 8)).unwrap();
/// registry.unregister(old).unwrap();
/// // The table entry is reused for the next registration ...
/// let new = registry.register(&Request::write(addr, 8)).unwrap();
/// assert_eq!(new.index(), old.index());
/// // ... but the old handle cannot reach it.
/// assert_eq!(registry.unregister(old).unwrap_err().kind(), ErrorKind::StaleHandle);
/// assert!(registry.state(new).is_ok());
/// # }
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handle {
    pub(crate) registry: u32,
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Handle {
    /// The table index (for diagnostics; not a slot number). Handles of
    /// identical requests sharing one slot have different indices. The
    /// handles of the debugger's lockless slots have indices from
    /// `0xffff_0000` up, far above any table's
    /// ([`DebuggerHandle::handle`](crate::DebuggerHandle::handle)).
    ///
    /// See [`Handle`] for an example.
    pub const fn index(&self) -> u32 {
        self.index
    }

    /// The generation of the entry when this handle was issued: it moves on
    /// each time the entry is unregistered, which is what makes an old
    /// handle stale.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "model")] {
    /// # use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
    /// # use hwbreak_core::Request;
    /// # let machine = Machine::new(Config::x86_like(1));
    /// # let registry = Box::new(hwbreak_core::Registry::<_, _, 16, 1, 4>::new(
    /// #     ModelArch::new(machine.clone()),
    /// #     ModelPlatform::new(machine.clone()),
    /// # ));
    /// # registry.init().unwrap();
    /// # on_cpu(0, || registry.cpu_online().unwrap());
    /// let req = Request::execute(0xffff_8000_0000_1000);
    /// let first = registry.register(&req).unwrap();
    /// registry.unregister(first).unwrap();
    /// let second = registry.register(&req).unwrap();
    /// assert_eq!(second.index(), first.index());
    /// assert_ne!(second.generation(), first.generation());
    /// # }
    /// ```
    pub const fn generation(&self) -> u32 {
        self.generation
    }
}
