//! Execute breakpoints: every slot, once per call (the return skips or
//! steps over the breakpoint), data reads of code do not trigger them.

use super::exec;
use crate::target::{call, EXEC};
use crate::{check, record, Ctx, Guard, Needs, Outcome, Scenario};

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "execute_hits_every_exec_slot",
        needs: Needs::EXEC,
        run: every_slot,
    },
    Scenario {
        name: "execute_fires_once_per_call",
        needs: Needs::EXEC,
        run: once_per_call,
    },
    Scenario {
        name: "execute_not_triggered_by_reading_code",
        needs: Needs::EXEC,
        run: reading_code,
    },
];

fn every_slot(ctx: &Ctx) -> Outcome {
    let n = ctx.exec_slots().min(EXEC.len()).min(record::N);
    check(n > 0, "no execute slot")?;
    let mut g = Guard::new(ctx.reg);
    for (i, f) in EXEC.iter().enumerate().take(n) {
        g.register(&exec(ctx, *f, i))
            .map_err(|_| "register refused")?;
    }
    check(
        ctx.armed_count(ctx.exec_pool()) == n,
        "not every slot armed",
    )?;
    for (i, f) in EXEC.iter().enumerate().take(n) {
        call(*f, i as u64);
        for j in 0..n {
            check(
                record::hits(j) == u32::from(j <= i),
                "hit missing or on the wrong slot",
            )?;
        }
        let a = record::address(i);
        check(
            a == record::NO_ADDRESS || a == ctx.code_addr(*f),
            "reported address is not the instruction",
        )?;
    }
    Ok(())
}

fn once_per_call(ctx: &Ctx) -> Outcome {
    let f = EXEC[0];
    let mut g = Guard::new(ctx.reg);
    let h = g
        .register(&exec(ctx, f, 0))
        .map_err(|_| "register refused")?;
    let mut acc = 0u64;
    for i in 0..100 {
        acc = acc.wrapping_add(call(f, i));
        check(
            record::hits(0) == i as u32 + 1,
            "not exactly one hit per call",
        )?;
    }
    core::hint::black_box(acc);
    check(
        ctx.reg.state(h) == Ok(hwbreak::State::Armed),
        "no longer armed",
    )
}

fn reading_code(ctx: &Ctx) -> Outcome {
    let f = EXEC[1];
    let code = ctx.code_addr(f);
    let mut g = Guard::new(ctx.reg);
    g.register(&exec(ctx, f, 0))
        .map_err(|_| "register refused")?;
    // SAFETY: reading the first bytes of a function's code.
    let byte = unsafe { core::ptr::read_volatile(code as usize as *const u8) };
    core::hint::black_box(byte);
    check(
        record::hits(0) == 0,
        "a data read of code hit the execute breakpoint",
    )?;
    call(f, 3);
    check(record::hits(0) == 1, "the call did not hit")
}
