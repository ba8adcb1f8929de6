//! # hwbreak-core
//!
//! The arch-neutral engine of hwbreak: breakpoint requests, their validation
//! and exact covering, slot reservation per CPU and pool, priorities and
//! flexible breakpoints, a lockless reservation path for kernel debuggers,
//! per-CPU and per-task state with minimal register writes, and dispatch of
//! debug exceptions to handlers.
//!
//! `#![no_std]`, no allocation: capacities are const generics of
//! [`Registry`]. The core never names an architecture; a backend implements
//! [`Arch`], the OS implements [`Platform`].
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
