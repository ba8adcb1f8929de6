//! Arch-neutral scenarios, grouped by topic. Every one proves a real trap,
//! or a real absence of one followed by a trap.

mod data;
mod demo;
mod exec;
mod lifecycle;
mod priority;
mod smp;
mod tasks;

use crate::{record, target, Ctx, Scenario};
use hwbreak::{AccessKind, Request};

/// Every arch-neutral table, in run order.
pub(crate) static ALL: &[&[Scenario]] = &[
    data::SCENARIOS,
    exec::SCENARIOS,
    lifecycle::SCENARIOS,
    priority::SCENARIOS,
    tasks::SCENARIOS,
    demo::SCENARIOS,
    smp::SCENARIOS,
];

/// A kernel, all-CPU, pinned request of `kind` over `len` bytes at byte
/// `off` of the data area, reporting to counter `i`.
pub(crate) fn watch(kind: AccessKind, off: usize, len: u64, i: usize) -> Request {
    Request::new(target::addr(off), len, kind).handler(record::handler, i)
}

/// A write watch (see [`watch`]).
pub(crate) fn write(off: usize, len: u64, i: usize) -> Request {
    watch(AccessKind::Write, off, len, i)
}

/// An execute breakpoint on `f`, reporting to counter `i`.
pub(crate) fn exec(ctx: &Ctx, f: fn(u64) -> u64, i: usize) -> Request {
    Request::execute(ctx.code_addr(f)).handler(record::handler, i)
}

/// Checks that a reported hit address, if any, lies in `[start, end)`.
pub(crate) fn address_in(i: usize, start: u64, end: u64) -> bool {
    let a = record::address(i);
    a == record::NO_ADDRESS || (start..end).contains(&a)
}
