//! Atomics, swapped for loom's under `cfg(loom)` so the lockless paths can
//! be model-checked.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, Ordering};
