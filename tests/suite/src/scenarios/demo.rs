//! Representative traps, each also printed as one line for `cargo xtask
//! demo`'s table:
//!
//! ```text
//! demo: <mechanism> | <requested watch> | trapped=<yes|no> | addr=<0x..|-> | <verdict>
//! ```
//!
//! `trapped` says whether the handler was called; `addr` is the address the
//! handler was given. The verdict is `ok` or `FAILED (<why>)`, the same as
//! the scenario's.

use super::{exec, write};
use crate::target::{addr, call, w64, w8, EXEC};
use crate::{check, record, Console, Ctx, Guard, Needs, Outcome, Scenario};
use core::fmt::{self, Write};
use hwbreak::PoolId;

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "demo_write_watch",
        needs: Needs::DATA,
        run: write_watch,
    },
    Scenario {
        name: "demo_neighbour_not_reported",
        needs: Needs::DATA,
        run: neighbour,
    },
    Scenario {
        name: "demo_unaligned_13_bytes",
        needs: Needs::DATA.exact_wide(),
        run: thirteen,
    },
    Scenario {
        name: "demo_execute_breakpoint",
        needs: Needs::EXEC,
        run: execute,
    },
];

/// The registers of the slots armed in `pool`, named as in the
/// architecture manual.
struct Slots<'a> {
    ctx: &'a Ctx<'a>,
    pool: PoolId,
}

impl fmt::Display for Slots<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.ctx.reg.slot_counts().get(self.pool);
        let mut first = true;
        for i in 0..n {
            if !matches!(self.ctx.reg.armed_slot(self.pool, i), Ok(Some(_))) {
                continue;
            }
            if !first {
                f.write_str("+")?;
            }
            first = false;
            slot_name(self.ctx, self.pool, i, f)?;
        }
        if first {
            f.write_str("(none armed)")?;
        }
        Ok(())
    }
}

#[cfg(target_arch = "x86_64")]
fn slot_name(_: &Ctx, _: PoolId, i: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "DR{i}")
}

#[cfg(target_arch = "aarch64")]
fn slot_name(_: &Ctx, pool: PoolId, i: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if pool == PoolId::FIRST {
        write!(f, "DBGBVR{i}/DBGBCR{i}")
    } else {
        write!(f, "DBGWVR{i}/DBGWCR{i}")
    }
}

#[cfg(target_arch = "powerpc64")]
fn slot_name(ctx: &Ctx, pool: PoolId, i: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // The code pool is CIABR; DABR parts have none, DAWR parts have one.
    if pool == PoolId::FIRST {
        f.write_str("CIABR")
    } else if ctx.reg.slot_counts().get(PoolId::FIRST) == 0 {
        f.write_str("DABR")
    } else {
        write!(f, "DAWR{i}")
    }
}

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "powerpc64"
)))]
fn slot_name(_: &Ctx, pool: PoolId, i: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "pool {} slot {i}", pool.index())
}

/// `addr=0x..` or `addr=-`.
struct Addr(u64);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == record::NO_ADDRESS {
            f.write_str("addr=-")
        } else {
            write!(f, "addr={:#x}", self.0)
        }
    }
}

/// `ok` or `FAILED (<why>)`.
struct Verdict(Outcome);

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(()) => f.write_str("ok"),
            Err(why) => write!(f, "FAILED ({why})"),
        }
    }
}

/// Prints one demo line.
fn line(ctx: &Ctx, mechanism: &Slots, watch: fmt::Arguments, trapped: bool, verdict: Outcome) {
    let _ = writeln!(
        Console(ctx.board),
        "demo: {mechanism} | {watch} | trapped={} | {} | {}",
        if trapped { "yes" } else { "no" },
        Addr(if trapped {
            record::address(0)
        } else {
            record::NO_ADDRESS
        }),
        Verdict(verdict)
    );
}

/// An 8-byte write watch; one store traps and reports an address inside.
fn write_watch(ctx: &Ctx) -> Outcome {
    let off = 64;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(off, 8, 0))
        .map_err(|_| "register refused")?;
    w64(off, 0x5eed);
    let hits = record::hits(0);
    let a = record::address(0);
    let verdict = check(hits == 1, "the store did not trap exactly once").and_then(|()| {
        check(
            a == record::NO_ADDRESS || (addr(off)..addr(off + 8)).contains(&a),
            "reported address outside the range",
        )
    });
    let slots = Slots {
        ctx,
        pool: ctx.data_pool(),
    };
    line(
        ctx,
        &slots,
        format_args!("write, 8 bytes at {:#x}", addr(off)),
        hits > 0,
        verdict,
    );
    verdict
}

/// A 1-byte write watch: a store to the byte before is not reported (a real
/// absence), then a store to the watched byte is.
fn neighbour(ctx: &Ctx) -> Outcome {
    let off = 141;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(off, 1, 0))
        .map_err(|_| "register refused")?;
    let slots = Slots {
        ctx,
        pool: ctx.data_pool(),
    };
    w8(off - 1, 1);
    let before = record::hits(0);
    let absent = check(before == 0, "the neighbouring byte was reported");
    line(
        ctx,
        &slots,
        format_args!(
            "write, 1 byte at {:#x}; store to {:#x}",
            addr(off),
            addr(off - 1)
        ),
        before > 0,
        absent,
    );
    absent?;
    w8(off, 2);
    let hits = record::hits(0);
    let verdict = check(hits == 1, "the watched byte did not trap");
    line(
        ctx,
        &slots,
        format_args!("write, 1 byte at {:#x}; store to it", addr(off)),
        hits > 0,
        verdict,
    );
    verdict
}

/// 13 bytes at an odd address, covered exactly by several slots: the last
/// byte traps, the byte after it does not.
fn thirteen(ctx: &Ctx) -> Outcome {
    let off = 259;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(off, 13, 0))
        .map_err(|_| "register refused")?;
    let slots = Slots {
        ctx,
        pool: ctx.data_pool(),
    };
    w8(off + 13, 1);
    let outside = record::hits(0);
    w8(off + 12, 1);
    let hits = record::hits(0);
    let verdict = check(outside == 0, "the byte after the range trapped")
        .and_then(|()| check(hits == 1, "the last byte did not trap"))
        .and_then(|()| {
            let a = record::address(0);
            check(
                a == record::NO_ADDRESS || (addr(off)..addr(off + 13)).contains(&a),
                "reported address outside the range",
            )
        });
    line(
        ctx,
        &slots,
        format_args!(
            "write, 13 bytes at {:#x}; store to its last byte",
            addr(off)
        ),
        hits > 0,
        verdict,
    );
    verdict
}

/// An execute breakpoint on a function: three calls, three hits, and the
/// function still runs (the return resumes past the breakpoint).
fn execute(ctx: &Ctx) -> Outcome {
    let f = EXEC[1];
    let at = ctx.code_addr(f);
    let mut g = Guard::new(ctx.reg);
    g.register(&exec(ctx, f, 0))
        .map_err(|_| "register refused")?;
    let mut acc = 0u64;
    for i in 0..3 {
        acc = acc.wrapping_add(call(f, i));
    }
    core::hint::black_box(acc);
    let hits = record::hits(0);
    let a = record::address(0);
    let verdict = check(hits == 3, "not exactly one hit per call").and_then(|()| {
        check(
            a == record::NO_ADDRESS || a == at,
            "reported address is not the instruction",
        )
    });
    let slots = Slots {
        ctx,
        pool: ctx.exec_pool(),
    };
    line(
        ctx,
        &slots,
        format_args!("execute at {at:#x}, called 3 times"),
        hits > 0,
        verdict,
    );
    verdict
}
