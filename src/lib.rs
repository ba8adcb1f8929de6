//! # hwbreak
//!
//! One arch-neutral API for the CPU's hardware breakpoint and watchpoint
//! registers, for kernels, kernel debuggers and GDB stubs written in Rust.
//!
//! This facade re-exports the core ([`hwbreak_core`]) and, chosen by
//! `target_arch`, the native backend as [`ArchImpl`] (module [`native`]).
//!
//! A kernel implements [`Platform`], declares one `static` [`Registry`] of
//! `ArchImpl`, and calls it from four places: boot ([`Registry::init`]),
//! each CPU coming online ([`Registry::cpu_online`]), the debug exception
//! ([`Registry::on_debug_exception`]) and the context switch
//! ([`Registry::switch_task`]). The integration guide, `docs/integration.md`
//! in the repository, walks through each of them for x86_64, AArch64 and
//! POWER, and explains every [`ErrorKind`]; the RISC-V backend's crate
//! documentation covers its exception path.
//!
//! # Examples
//!
//! Registering a watch and taking its trap, on the core's software model of
//! an x86-like machine (a kernel uses `ArchImpl` and its own platform; the
//! model is what the host tests use):
//!
//! ```
//! use core::sync::atomic::{AtomicU64, Ordering};
//! use hwbreak::{AccessKind, Event, EventKind, Registry, Request, Space};
//! use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
//!
//! static LAST_CPU: AtomicU64 = AtomicU64::new(u64::MAX);
//! fn on_hit(e: &Event) {
//!     if e.kind == EventKind::Hit {
//!         LAST_CPU.store(u64::from(e.cpu.0), Ordering::Relaxed);
//!     }
//! }
//!
//! let machine = Machine::new(Config::x86_like(4));
//! let registry = Box::new(Registry::<_, _, 64, 4, 16>::new(
//!     ModelArch::new(machine.clone()),
//!     ModelPlatform::new(machine.clone()),
//! ));
//! registry.init()?;
//! for cpu in 0..4 {
//!     on_cpu(cpu, || registry.cpu_online())?;
//! }
//!
//! let counter = 0xffff_8000_0020_0000;
//! registry.register(&Request::write(counter, 8).handler(on_hit, 0))?;
//! // CPU 3 stores to it: its debug exception reaches the registry.
//! let trap = machine.access(3, counter, 8, AccessKind::Write, Space::Kernel).unwrap();
//! let out = on_cpu(3, || registry.on_debug_exception(&trap));
//! assert_eq!(out.delivered, 1);
//! assert_eq!(LAST_CPU.load(Ordering::Relaxed), 3);
//! # Ok::<(), hwbreak::Error>(())
//! ```
//!
//! # Features
//!
//! - `defmt`: `defmt::Format` on every public type of the core and the
//!   backends;
//! - `gdbstub`: `hwbreak::gdb`, GDB's hardware breakpoints and
//!   watchpoints for a gdbstub 0.7 kernel stub;
//! - `ppc64-dabr`, `ppc64-dawr`, `ppc64-dawr2`: the 64-bit PowerPC register
//!   family (POWER5-7, POWER8/9, POWER10); exactly one is required when
//!   building for `powerpc64`.
#![no_std]
#![warn(missing_docs)]

pub use hwbreak_core::*;

cfg_if::cfg_if! {
    if #[cfg(target_arch = "x86_64")] {
        /// The backend crate for the architecture being compiled for
        /// (`hwbreak-x86`).
        pub use hwbreak_x86 as native;
        /// The backend for the architecture being compiled for.
        ///
        /// # Examples
        ///
        /// ```
        /// use hwbreak::{Arch, ArchImpl, PoolId, SlotCounts};
        /// // One pool of four slots (DR0-DR3) serves code and data.
        /// assert_eq!(ArchImpl::new().slot_counts(), SlotCounts([4, 0]));
        /// assert_eq!(<ArchImpl as Arch>::NAME, "x86_64");
        /// # let _ = PoolId::FIRST;
        /// ```
        pub type ArchImpl = hwbreak_x86::X86;
    } else if #[cfg(target_arch = "aarch64")] {
        /// The backend crate for the architecture being compiled for
        /// (`hwbreak-aarch64`).
        pub use hwbreak_aarch64 as native;
        /// The backend for the architecture being compiled for.
        ///
        /// # Examples
        ///
        /// ```
        /// use hwbreak::{Arch, ArchImpl};
        /// assert_eq!(<ArchImpl as Arch>::NAME, "aarch64");
        /// ```
        pub type ArchImpl = hwbreak_aarch64::Aarch64;
    } else if #[cfg(target_arch = "powerpc64")] {
        /// The backend crate for the architecture being compiled for
        /// (`hwbreak-ppc64`).
        pub use hwbreak_ppc64 as native;
        /// The backend for the architecture being compiled for.
        ///
        /// # Examples
        ///
        /// ```
        /// use hwbreak::{Arch, ArchImpl};
        /// assert_eq!(<ArchImpl as Arch>::NAME, "ppc64");
        /// ```
        pub type ArchImpl = hwbreak_ppc64::Ppc64;
    } else if #[cfg(target_arch = "riscv64")] {
        /// The backend crate for the architecture being compiled for
        /// (`hwbreak-riscv`).
        pub use hwbreak_riscv as native;
        /// The backend for the architecture being compiled for.
        ///
        /// # Examples
        ///
        /// ```
        /// use hwbreak::{Arch, ArchImpl};
        /// assert_eq!(<ArchImpl as Arch>::NAME, "riscv64");
        /// ```
        pub type ArchImpl = hwbreak_riscv::Riscv;
    }
}

// The integration guide's code blocks, compiled and run as doctests of this
// crate. Only while collecting doctests, so it is no part of the API; only
// on x86_64 hosts, because its x86 snippets call x86-only functions.
#[cfg(all(doctest, target_arch = "x86_64"))]
#[doc = include_str!("../docs/integration.md")]
pub struct IntegrationGuide;
