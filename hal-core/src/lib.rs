#![doc = include_str!("../README.md")]
//! # Where to start
//!
//! - [`Request`]: what to watch, built with [`Request::write`],
//!   [`Request::execute`] and friends;
//! - [`Registry`]: register, modify and remove breakpoints, and the four
//!   places a kernel calls it from (boot, CPU online, the debug exception,
//!   the context switch);
//! - [`Platform`]: what the OS tells the registry;
//! - [`Error`] / [`ErrorKind`]: why a request was refused (nothing changed);
//! - [`Arch`]: only for porting to another architecture;
//! - `model` (feature `model`): a software machine for host tests.
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

pub mod arch;
pub mod cover;
pub mod error;
#[cfg(all(feature = "gdbstub", not(loom)))]
pub mod gdb;
pub mod handle;
#[cfg(feature = "model")]
pub mod model;
pub mod platform;
// The registry's const constructor needs const atomics, which loom's
// are not; loom checks the lockless ledger (`reserve`) alone.
#[cfg(not(loom))]
pub mod registry;
pub mod request;
pub mod reserve;
mod sync;

pub use arch::{
    Arch, Decoded, MemoryType, Piece, PoolId, Resume, SlotCounts, SlotImage, SlotView, MAX_POOLS,
    MAX_SLOTS,
};
pub use error::{Error, ErrorKind, Result};
pub use handle::Handle;
pub use platform::{Platform, Zone};
#[cfg(not(loom))]
pub use registry::{DebuggerHandle, Outcome, Registry, State};
pub use request::{
    AccessKind, CpuId, Event, EventKind, Handler, HandlerFn, Pinning, Priority, Request, Scope,
    Space, TaskId,
};
