//! # hwbreak-suite
//!
//! The shared scenario suite compiled into every board kernel. Each
//! scenario drives the registry through the facade (`hwbreak::*`) and
//! proves a real trap, or a real absence of one followed by a trap that
//! shows the machinery still works.
//!
//! A board provides a [`Board`] (console, capabilities, a few hooks) and a
//! `static` registry, then calls [`run`] (or [`run_scenarios`] to add its own
//! lines before the [`Summary`]). Output, one line per scenario:
//!
//! ```text
//! test <name> ... ok
//! test <name> ... FAILED (<why>)
//! test <name> ... skipped (<why>)
//! N passed, M failed, K skipped
//! ```
//!
//! Arch-neutral scenarios live in `scenarios/`; arch-only ones in
//! `arch_<arch>.rs`, compiled only for that architecture.
#![no_std]
#![warn(missing_docs)]

pub mod api;
pub mod board;
#[cfg(feature = "gdb")]
pub mod gdb;
pub mod record;
pub mod target;

mod scenarios;

// Arch-only scenarios: one module per architecture, each exposing
// `pub(crate) static SCENARIOS: &[Scenario]`, mounted as `arch`. To add
// one: a `#[cfg(target_arch = ...)] #[path = "arch_<arch>.rs"] mod arch;`
// line here, and the architecture added to the fallback's `not(any(...))`.
#[cfg(target_arch = "x86_64")]
#[path = "arch_x86.rs"]
mod arch;
#[cfg(target_arch = "aarch64")]
#[path = "arch_aarch64.rs"]
mod arch;
#[cfg(target_arch = "powerpc64")]
#[path = "arch_ppc64.rs"]
mod arch;
#[cfg(target_arch = "riscv64")]
#[path = "arch_riscv.rs"]
mod arch;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "powerpc64",
    target_arch = "riscv64"
)))]
mod arch {
    /// No arch-only scenarios for this architecture.
    pub(crate) static SCENARIOS: &[crate::Scenario] = &[];
}

pub use api::Api;
pub use board::{Board, Caps, Smp, Work};

use core::fmt::Write;
use hwbreak::{AccessKind, ArchImpl, Handle, Platform, PoolId, Registry};

/// What a scenario needs from the board; unmet needs make it `skipped`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Data watchpoints must really trap.
    pub data: bool,
    /// Execute breakpoints must really trap.
    pub exec: bool,
    /// At least this many data slots must really trap.
    pub data_slots: u8,
    /// At least this many execute slots must really trap.
    pub exec_slots: u8,
    /// Ranges longer than 8 bytes must be watched exactly.
    pub exact_wide: bool,
    /// At least this many CPUs must be up (more than 1: the board's
    /// [`Board::smp`] services too).
    pub cpus: u8,
}

impl Needs {
    /// Nothing.
    pub const NONE: Self = Self {
        data: false,
        exec: false,
        data_slots: 0,
        exec_slots: 0,
        exact_wide: false,
        cpus: 1,
    };
    /// Data traps (one slot).
    pub const DATA: Self = Self {
        data: true,
        data_slots: 1,
        ..Self::NONE
    };
    /// Execute traps (one slot).
    pub const EXEC: Self = Self {
        exec: true,
        exec_slots: 1,
        ..Self::NONE
    };

    /// With at least `n` data slots.
    pub const fn data_slots(mut self, n: u8) -> Self {
        self.data = true;
        self.data_slots = n;
        self
    }

    /// With exact ranges over 8 bytes.
    pub const fn exact_wide(mut self) -> Self {
        self.exact_wide = true;
        self
    }

    /// With at least `n` CPUs up.
    pub const fn cpus(mut self, n: u8) -> Self {
        self.cpus = n;
        self
    }

    /// Why a board with `caps` and the multiprocessor services `smp`
    /// cannot run it, if it cannot.
    pub fn unmet_on(&self, caps: &Caps, smp: Option<&dyn Smp>) -> Option<&'static str> {
        if self.cpus > 1 {
            match smp {
                None => return Some("board runs one CPU"),
                Some(s) if s.cpu_count() < u32::from(self.cpus) => {
                    return Some("board runs too few CPUs")
                }
                Some(_) => {}
            }
        }
        self.unmet(caps)
    }

    /// Why the board cannot run it, if it cannot.
    pub fn unmet(&self, caps: &Caps) -> Option<&'static str> {
        if self.data && !caps.data_traps {
            return Some("data watchpoints do not trap on this board");
        }
        if self.exec && !caps.exec_traps {
            return Some("execute breakpoints do not trap on this board");
        }
        if usize::from(self.data_slots) > caps.data_slots {
            return Some("not enough data slots trap on this board");
        }
        if usize::from(self.exec_slots) > caps.exec_slots {
            return Some("not enough execute slots trap on this board");
        }
        if self.exact_wide && !caps.exact_wide_ranges {
            return Some("ranges over 8 bytes are not watched exactly on this board");
        }
        None
    }
}

/// A scenario's result: `Err` carries the reason printed after `FAILED`.
pub type Outcome = Result<(), &'static str>;

/// One scenario.
pub struct Scenario {
    /// Printed name (unique across the suite).
    pub name: &'static str,
    /// What it needs.
    pub needs: Needs,
    /// The body.
    pub run: fn(&Ctx) -> Outcome,
}

/// What a scenario runs with.
pub struct Ctx<'a> {
    /// The registry, type-erased.
    pub reg: &'a dyn Api,
    /// The board.
    pub board: &'a dyn Board,
}

impl Ctx<'_> {
    /// The pool serving data writes.
    pub fn data_pool(&self) -> PoolId {
        self.reg.pool_of(AccessKind::Write).unwrap_or(PoolId::FIRST)
    }

    /// The pool serving execute breakpoints.
    pub fn exec_pool(&self) -> PoolId {
        self.reg
            .pool_of(AccessKind::Execute)
            .unwrap_or(PoolId::FIRST)
    }

    /// Slots armed in `pool` on this CPU, per the registry.
    pub fn armed_count(&self, pool: PoolId) -> usize {
        let n = self.reg.slot_counts().get(pool);
        (0..n)
            .filter(|&i| matches!(self.reg.armed_slot(pool, i), Ok(Some(_))))
            .count()
    }

    /// Armed slots in every pool.
    pub fn armed_total(&self) -> usize {
        self.armed_count(PoolId::FIRST)
            + if self.reg.pools() > 1 {
                self.armed_count(PoolId::SECOND)
            } else {
                0
            }
    }

    /// Data slots usable for scenarios: the smaller of the registry's count
    /// and what the board says traps.
    pub fn data_slots(&self) -> usize {
        self.reg
            .slot_counts()
            .get(self.data_pool())
            .min(self.board.caps().data_slots)
    }

    /// Execute slots usable for scenarios.
    pub fn exec_slots(&self) -> usize {
        self.reg
            .slot_counts()
            .get(self.exec_pool())
            .min(self.board.caps().exec_slots)
    }

    /// Whether data and execute share one pool (x86).
    pub fn shared_pool(&self) -> bool {
        self.data_pool() == self.exec_pool()
    }

    /// The board's multiprocessor services (a scenario whose [`Needs`]
    /// ask for more than one CPU only runs where they exist).
    pub fn smp(&self) -> Result<&dyn Smp, &'static str> {
        self.board.smp().ok_or("board runs one CPU")
    }

    /// The code address of a function (the board translates function
    /// descriptors where the ABI has them).
    pub fn code_addr(&self, f: fn(u64) -> u64) -> u64 {
        self.board.code_addr(f as usize)
    }
}

/// Unregisters what it holds when dropped, so a failing scenario leaves
/// nothing armed for the next one.
pub struct Guard<'a> {
    reg: &'a dyn Api,
    handles: [Option<Handle>; 16],
}

impl<'a> Guard<'a> {
    /// An empty guard.
    pub fn new(reg: &'a dyn Api) -> Self {
        Self {
            reg,
            handles: [None; 16],
        }
    }

    /// Keeps `h` for unregistering at drop; returns it.
    pub fn keep(&mut self, h: Handle) -> Handle {
        if let Some(slot) = self.handles.iter_mut().find(|s| s.is_none()) {
            *slot = Some(h);
        }
        h
    }

    /// Registers `req` and keeps the handle.
    pub fn register(&mut self, req: &hwbreak::Request) -> Result<Handle, hwbreak::Error> {
        self.reg.register(req).map(|h| self.keep(h))
    }

    /// Unregisters `h` now (and forgets it).
    pub fn unregister(&mut self, h: Handle) -> Result<(), hwbreak::Error> {
        self.forget(h);
        self.reg.unregister(h)
    }

    /// Stops tracking `h` (it was unregistered elsewhere).
    pub fn forget(&mut self, h: Handle) {
        for s in self.handles.iter_mut() {
            if *s == Some(h) {
                *s = None;
            }
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        for h in self.handles.iter_mut().filter_map(Option::take) {
            let _ = self.reg.unregister(h);
        }
    }
}

/// Counts of one run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Scenarios that passed.
    pub passed: u32,
    /// Scenarios that failed.
    pub failed: u32,
    /// Scenarios skipped.
    pub skipped: u32,
}

impl Summary {
    /// Prints one scenario line and counts it.
    pub fn report(&mut self, board: &dyn Board, name: &str, result: Result<Outcome, &str>) {
        let mut out = Console(board);
        let _ = match result {
            Ok(Ok(())) => {
                self.passed += 1;
                writeln!(out, "test {name} ... ok")
            }
            Ok(Err(why)) => {
                self.failed += 1;
                writeln!(out, "test {name} ... FAILED ({why})")
            }
            Err(why) => {
                self.skipped += 1;
                writeln!(out, "test {name} ... skipped ({why})")
            }
        };
    }

    /// Adds another run's counts.
    pub fn add(&mut self, other: Summary) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }

    /// Prints the one summary line.
    pub fn print(&self, board: &dyn Board) {
        let _ = writeln!(
            Console(board),
            "{} passed, {} failed, {} skipped",
            self.passed,
            self.failed,
            self.skipped
        );
    }

    /// Whether the board should exit with its pass status: nothing failed
    /// and something passed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// A `core::fmt::Write` adapter over [`Board::print`].
pub struct Console<'a>(pub &'a dyn Board);

impl Write for Console<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.print(s);
        Ok(())
    }
}

/// Every scenario this build has: the arch-neutral ones, then those of the
/// architecture compiled for.
pub fn tables() -> impl Iterator<Item = &'static Scenario> {
    scenarios::ALL
        .iter()
        .flat_map(|t| t.iter())
        .chain(arch::SCENARIOS.iter())
}

/// Runs every scenario and prints their lines, without the summary line.
pub fn run_scenarios<
    P: Platform,
    const B: usize,
    const C: usize,
    const T: usize,
    const S: usize,
>(
    reg: &'static Registry<ArchImpl, P, B, C, T, S>,
    board: &dyn Board,
) -> Summary {
    run_list(reg, board, tables())
}

/// Runs the given scenarios (lines only, no summary line).
pub fn run_list<'s>(
    reg: &dyn Api,
    board: &dyn Board,
    list: impl Iterator<Item = &'s Scenario>,
) -> Summary {
    let mut summary = Summary::default();
    let caps = board.caps();
    for s in list {
        if let Some(why) = s.needs.unmet_on(&caps, board.smp()) {
            summary.report(board, s.name, Err(why));
            continue;
        }
        record::reset();
        let ctx = Ctx { reg, board };
        let mut result = (s.run)(&ctx);
        // Whatever happened, leave a clean CPU for the next scenario.
        let _ = reg.switch_task(None);
        if result.is_ok() && ctx.armed_total() != 0 {
            result = Err("left slots armed after cleanup");
        }
        summary.report(board, s.name, Ok(result));
    }
    summary
}

/// Runs the whole suite and prints the summary line; returns the counts
/// (exit with the board's pass status only if [`Summary::all_passed`]).
pub fn run<P: Platform, const B: usize, const C: usize, const T: usize, const S: usize>(
    reg: &'static Registry<ArchImpl, P, B, C, T, S>,
    board: &dyn Board,
) -> Summary {
    let s = run_scenarios(reg, board);
    s.print(board);
    s
}

/// Fails with `why` unless `cond`.
pub fn check(cond: bool, why: &'static str) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(why)
    }
}

/// Fails with `why` unless `r` is the error `kind`.
pub fn expect_err<T>(
    r: Result<T, hwbreak::Error>,
    kind: hwbreak::ErrorKind,
    why: &'static str,
) -> Outcome {
    match r {
        Err(e) if e.kind() == kind => Ok(()),
        _ => Err(why),
    }
}
