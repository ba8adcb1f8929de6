//! # hwbreak
//!
//! One arch-neutral API for the CPU's hardware breakpoint and watchpoint
//! registers, for kernels, kernel debuggers and GDB stubs written in Rust.
//!
//! This facade re-exports the core ([`hwbreak_core`]) and, chosen by
//! `target_arch`, the native backend as [`ArchImpl`] (module [`native`]).
#![no_std]
#![warn(missing_docs)]

pub use hwbreak_core::*;

cfg_if::cfg_if! {
    if #[cfg(target_arch = "x86_64")] {
        pub use hwbreak_x86 as native;
        /// The backend for the architecture being compiled for.
        pub type ArchImpl = hwbreak_x86::X86;
    } else if #[cfg(target_arch = "aarch64")] {
        pub use hwbreak_aarch64 as native;
        /// The backend for the architecture being compiled for.
        pub type ArchImpl = hwbreak_aarch64::Aarch64;
    } else if #[cfg(target_arch = "powerpc64")] {
        pub use hwbreak_ppc64 as native;
        /// The backend for the architecture being compiled for.
        pub type ArchImpl = hwbreak_ppc64::Ppc64;
    }
}
