//! x86 backend (being written).
#![no_std]
