//! Generation-tagged handles: a stale or foreign handle is an error, never a
//! wrong slot.

/// Names one registered breakpoint of one registry.
///
/// A handle stays valid until its breakpoint is unregistered; after that
/// every use returns [`ErrorKind::StaleHandle`](crate::ErrorKind::StaleHandle),
/// even when the table entry was reused, because the entry's generation has
/// moved on. A handle from another registry returns
/// [`ErrorKind::ForeignHandle`](crate::ErrorKind::ForeignHandle).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handle {
    pub(crate) registry: u32,
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Handle {
    /// The table index (for diagnostics; not a slot number).
    pub const fn index(&self) -> u32 {
        self.index
    }

    /// The generation of the entry when this handle was issued.
    pub const fn generation(&self) -> u32 {
        self.generation
    }
}
