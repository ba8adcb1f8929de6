//! Shared scenario suite (being written).
#![no_std]
