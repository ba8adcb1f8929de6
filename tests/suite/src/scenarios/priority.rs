//! Priorities and flexible breakpoints: displacement (the loser's handler
//! is told and it stops trapping) and reinstatement (told again, and it
//! traps again).

use super::write;
use crate::target::w64;
use crate::{check, record, Ctx, Guard, Needs, Outcome, Scenario};
use hwbreak::{Priority, State};

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "pinned_displaces_lower_flexible",
        needs: Needs::DATA,
        run: displacement,
    },
    Scenario {
        name: "flexible_waits_then_arms",
        needs: Needs::DATA,
        run: waits,
    },
    Scenario {
        name: "equal_priority_does_not_displace",
        needs: Needs::DATA,
        run: equal,
    },
];

/// Fills the data pool with flexible low-priority watches (counters
/// `0..n`, 8 bytes each at `i * 8`).
fn fill_flexible(ctx: &Ctx, g: &mut Guard, prio: Priority) -> Result<usize, &'static str> {
    let n = ctx.reg.slot_counts().get(ctx.data_pool());
    if n == 0 || n >= record::N {
        return Err("slot count unsuitable for this scenario");
    }
    for i in 0..n {
        let h = g
            .register(&write(i * 8, 8, i).flexible().priority(prio))
            .map_err(|_| "flexible register refused")?;
        check(
            ctx.reg.state(h) == Ok(State::Armed),
            "flexible not armed while room",
        )?;
    }
    Ok(n)
}

fn displacement(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let n = fill_flexible(ctx, &mut g, Priority(10))?;
    let pinned = g
        .register(&write(256, 8, 7).priority(Priority::NORMAL))
        .map_err(|_| "pinned higher-priority register refused")?;
    let loser = (0..n)
        .find(|&i| record::displaced(i) == 1)
        .ok_or("nobody told Displaced")?;
    let told: u32 = (0..n).map(record::displaced).sum();
    check(told == 1, "more than one displaced")?;
    w64(loser * 8, 1);
    check(record::hits(loser) == 0, "displaced watch still traps")?;
    w64(256, 1);
    check(record::hits(7) == 1, "pinned watch does not trap")?;
    for i in (0..n).filter(|&i| i != loser) {
        w64(i * 8, 1);
        check(
            record::hits(i) == 1,
            "a surviving flexible watch stopped trapping",
        )?;
    }
    g.unregister(pinned).map_err(|_| "unregister refused")?;
    check(
        record::reinstated(loser) == 1,
        "displaced watch not told Reinstated",
    )?;
    w64(loser * 8, 2);
    check(record::hits(loser) == 1, "reinstated watch does not trap")
}

fn waits(ctx: &Ctx) -> Outcome {
    let pool = ctx.data_pool();
    let n = ctx.reg.slot_counts().get(pool);
    check(n > 0 && n < record::N, "slot count unsuitable")?;
    let mut g = Guard::new(ctx.reg);
    let mut first = None;
    for i in 0..n {
        let h = g
            .register(&write(i * 8, 8, i))
            .map_err(|_| "pinned register refused")?;
        first.get_or_insert(h);
    }
    let flex = g
        .register(&write(256, 8, 7).flexible())
        .map_err(|_| "flexible refused")?;
    check(
        ctx.reg.state(flex) == Ok(State::Waiting),
        "flexible not waiting",
    )?;
    w64(256, 1);
    check(record::hits(7) == 0, "waiting watch traps")?;
    g.unregister(first.ok_or("none")?)
        .map_err(|_| "unregister refused")?;
    check(
        ctx.reg.state(flex) == Ok(State::Armed),
        "flexible not armed when room returned",
    )?;
    check(record::reinstated(7) == 1, "flexible not told Reinstated")?;
    w64(256, 2);
    check(record::hits(7) == 1, "armed flexible watch does not trap")
}

fn equal(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let n = fill_flexible(ctx, &mut g, Priority::NORMAL)?;
    let r = g.register(&write(256, 8, 7).priority(Priority::NORMAL));
    check(
        matches!(r, Err(e) if e.kind() == hwbreak::ErrorKind::NoSlot),
        "equal priority displaced or was admitted",
    )?;
    let told: u32 = (0..n).map(record::displaced).sum();
    check(told == 0, "someone was displaced")?;
    for i in 0..n {
        w64(i * 8, 1);
        check(record::hits(i) == 1, "a flexible watch stopped trapping")?;
    }
    Ok(())
}
