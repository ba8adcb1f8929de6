//! aarch64 backend (being written).
#![no_std]
