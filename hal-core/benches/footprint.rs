//! Memory the registry keeps per CPU it serves.
//!
//! The registry is one statically sized object whose tables are arrays
//! sized by its const generics, so the state it keeps for each CPU is
//! exactly what one more CPU of capacity adds to its size:
//! `(size_of::<Registry<.., CPUS = 65, ..>>() - size_of::<Registry<.., CPUS = 1, ..>>()) / 64`.
//! It is measured for the README's x86 example: one pool of 4 slots and a
//! registry built with `SLOTS = 4` (what `hwbreak_x86::SLOTS` gives), and,
//! as a detail, for the default `SLOTS = MAX_SLOTS` (16).
//!
//! The three parts are printed too: the reservation counts (measured the
//! same way on the public [`Reservations`] type), the loaded state (what
//! each CPU's registers hold, the epoch it read) and the list of kernel
//! breakpoints bound to the CPU. The benchmark checks that they add up.
//!
//! Prints `bench: percpu_state_bytes`.

#[path = "support/mod.rs"]
mod support;

use std::mem::size_of;

use hwbreak_core::registry::percpu_parts;
use hwbreak_core::reserve::Reservations;
use hwbreak_core::{Registry, MAX_SLOTS};
use support::{detail, metric, FourSlotArch, OneCpu, TrivialArch, FOUR_SLOTS};

type Reg<const CPUS: usize> = Registry<FourSlotArch, OneCpu, 64, CPUS, 16, FOUR_SLOTS>;
type FullReg<const CPUS: usize> = Registry<TrivialArch, OneCpu, 64, CPUS, 16>;

/// Per-CPU bytes of a registry: what 64 more CPUs of capacity add, over 64
/// (averaged, so that padding to the type's alignment does not blur it).
fn per_cpu(one: usize, many: usize) -> usize {
    (many - one) / 64
}

/// Prints one capacity's parts and checks they make up `total`.
fn parts<const SLOTS: usize>(total: usize) {
    let counts = per_cpu(
        size_of::<Reservations<1, 16, SLOTS>>(),
        size_of::<Reservations<65, 16, SLOTS>>(),
    );
    let (loaded, bound) = percpu_parts::<SLOTS>();
    assert_eq!(
        counts + loaded + bound,
        total,
        "the parts of a CPU's state (slots={SLOTS}) do not add up"
    );
    detail(
        &format!("percpu_reservation_counts_bytes{{slots={SLOTS}}}"),
        counts as f64,
        "bytes",
    );
    detail(
        &format!("percpu_loaded_state_bytes{{slots={SLOTS}}}"),
        loaded as f64,
        "bytes",
    );
    detail(
        &format!("percpu_bound_list_bytes{{slots={SLOTS}}}"),
        bound as f64,
        "bytes",
    );
}

fn main() {
    // The configuration measured is one a kernel can run: the registry
    // accepts the four-slot backend.
    let reg: Box<Reg<1>> = Box::new(Registry::new(FourSlotArch, OneCpu));
    reg.init()
        .expect("a registry of SLOTS = 4 serves a pool of 4");
    assert_eq!(reg.slot_counts().0, [FOUR_SLOTS as u8, 0]);

    let four = per_cpu(size_of::<Reg<1>>(), size_of::<Reg<65>>());
    let full = per_cpu(size_of::<FullReg<1>>(), size_of::<FullReg<65>>());
    detail(
        "registry_bytes{bps=64,cpus=1,tasks=16,slots=4}",
        size_of::<Reg<1>>() as f64,
        "bytes",
    );
    detail(
        "registry_bytes{bps=64,cpus=256,tasks=16,slots=4}",
        size_of::<Reg<256>>() as f64,
        "bytes",
    );
    detail(
        "registry_bytes{bps=64,cpus=256,tasks=16,slots=16}",
        size_of::<FullReg<256>>() as f64,
        "bytes",
    );
    parts::<FOUR_SLOTS>(four);
    parts::<MAX_SLOTS>(full);
    detail("percpu_state_bytes{slots=16}", full as f64, "bytes");
    metric("percpu_state_bytes", four as f64);
}
