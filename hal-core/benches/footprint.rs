//! Memory the registry keeps per CPU it serves.
//!
//! The registry is one statically sized object whose tables are arrays
//! sized by its const generics, so the state it keeps for each CPU is
//! exactly what one more CPU of capacity adds to its size:
//! `(size_of::<Registry<.., CPUS = 65, ..>>() - size_of::<Registry<.., CPUS = 1, ..>>()) / 64`.
//! The part of it that is reservation counts is measured the same way on
//! the public [`Reservations`] type; the rest is the per-CPU loaded state
//! (what each CPU's registers hold, the sequence numbers it loaded) and the
//! list of kernel breakpoints bound to that CPU.
//!
//! Prints `bench: percpu_state_bytes`.

#[path = "support/mod.rs"]
mod support;

use std::mem::size_of;

use hwbreak_core::reserve::Reservations;
use hwbreak_core::Registry;
use support::{detail, metric, OneCpu, TrivialArch};

type Reg<const CPUS: usize> = Registry<TrivialArch, OneCpu, 64, CPUS, 16>;

fn main() {
    // Averaged over 64 CPUs of capacity, so that padding to the type's
    // alignment does not blur the figure.
    let per_cpu = (size_of::<Reg<65>>() - size_of::<Reg<1>>()) / 64;
    let counts = (size_of::<Reservations<65, 16>>() - size_of::<Reservations<1, 16>>()) / 64;
    detail(
        "registry_bytes{bps=64,cpus=1,tasks=16}",
        size_of::<Reg<1>>() as f64,
        "bytes",
    );
    detail(
        "registry_bytes{bps=64,cpus=256,tasks=16}",
        size_of::<Reg<256>>() as f64,
        "bytes",
    );
    detail("percpu_reservation_counts_bytes", counts as f64, "bytes");
    detail(
        "percpu_loaded_state_and_bound_list_bytes",
        (per_cpu - counts) as f64,
        "bytes",
    );
    metric("percpu_state_bytes", per_cpu as f64);
}
