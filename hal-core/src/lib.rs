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
//!
//! Kernels normally depend on the facade crate `hwbreak`, which re-exports
//! this crate and picks the backend for the target. The integration guide,
//! `docs/integration.md` in the repository, walks through a kernel port.
//!
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
//!
//! # Examples
//!
//! A kernel's four call sites, on the software model of a two-CPU x86-like
//! machine (feature `model`):
//!
//! ```
//! # #[cfg(feature = "model")] {
//! use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
//! use hwbreak_core::{AccessKind, Registry, Request, Scope, Space, TaskId};
//!
//! let machine = Machine::new(Config::x86_like(2));
//! // 16 registrations, 2 CPUs, 8 debug contexts (TaskId 0..8).
//! let registry = Box::new(Registry::<_, _, 16, 2, 8>::new(
//!     ModelArch::new(machine.clone()),
//!     ModelPlatform::new(machine.clone()),
//! ));
//! // Boot: once.
//! registry.init()?;
//! // Every CPU, as it comes up.
//! for cpu in 0..2 {
//!     on_cpu(cpu, || registry.cpu_online())?;
//! }
//!
//! // A user-space watch that follows debug context 5 (a traced process).
//! let user_var = 0x7000_1000;
//! let req = Request::write(user_var, 4).space(Space::User).scope(Scope::Task(TaskId(5)));
//! registry.register(&req)?;
//!
//! // Context switch on CPU 1: the process runs there now.
//! on_cpu(1, || registry.switch_task(Some(TaskId(5))))?;
//! // It stores to the variable; the debug exception goes to the registry.
//! let trap = machine.access(1, user_var, 4, AccessKind::Write, Space::User).unwrap();
//! let out = on_cpu(1, || registry.on_debug_exception(&trap));
//! assert_eq!(out.delivered, 1);
//! // Not armed on CPU 0, where the process does not run.
//! assert!(machine.access(0, user_var, 4, AccessKind::Write, Space::User).is_none());
//! # }
//! # Ok::<(), hwbreak_core::Error>(())
//! ```
//!
//! # Features
//!
//! - `defmt`: `defmt::Format` on every public type;
//! - `model`: the software machine in `model` (needs `std`);
//! - `std`: use `std` (only the model needs it);
//! - `gdbstub`: the `gdb` module, GDB's hardware breakpoints and
//!   watchpoints on top of the registry.
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
