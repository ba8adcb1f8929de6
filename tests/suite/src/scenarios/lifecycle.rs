//! Life of a breakpoint: unregister, modify in place, invalid modify,
//! enable/disable, shared identical requests, stale handles, refusals that
//! change nothing, removal from inside its own handler, the debugger path.

use super::{exec, write};
use crate::target::{addr, w64, w8};
use crate::{check, expect_err, record, Ctx, Guard, Needs, Outcome, Scenario};
use hwbreak::{ErrorKind, Event, Request, Space, State};

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "unregister_stops_hits",
        needs: Needs::DATA,
        run: unregister_stops,
    },
    Scenario {
        name: "modify_moves_watch_in_place",
        needs: Needs::DATA,
        run: modify_moves,
    },
    Scenario {
        name: "invalid_modify_keeps_old_watch",
        needs: Needs::DATA,
        run: invalid_modify,
    },
    Scenario {
        name: "modify_data_to_execute",
        needs: Needs::EXEC,
        run: modify_kind,
    },
    Scenario {
        name: "disable_then_enable",
        needs: Needs::DATA,
        run: disable_enable,
    },
    Scenario {
        name: "shared_identical_requests",
        needs: Needs::DATA,
        run: shared,
    },
    Scenario {
        name: "stale_handle_refused",
        needs: Needs::DATA,
        run: stale,
    },
    Scenario {
        name: "bad_requests_change_nothing",
        needs: Needs::DATA,
        run: bad_requests,
    },
    Scenario {
        name: "exception_stack_refused",
        needs: Needs::DATA,
        run: exception_stack,
    },
    Scenario {
        name: "every_platform_zone_refused",
        needs: Needs::DATA,
        run: zones,
    },
    Scenario {
        name: "pool_exhaustion_arms_nothing",
        needs: Needs::DATA,
        run: exhaustion,
    },
    Scenario {
        name: "removed_inside_own_handler",
        needs: Needs::DATA,
        run: remove_in_handler,
    },
    Scenario {
        name: "debugger_install_and_remove",
        needs: Needs::DATA,
        run: debugger,
    },
];

fn unregister_stops(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let h = g
        .register(&write(0, 8, 0))
        .map_err(|_| "register refused")?;
    w64(0, 1);
    check(record::hits(0) == 1, "no hit before unregister")?;
    g.unregister(h).map_err(|_| "unregister refused")?;
    w64(0, 2);
    check(record::hits(0) == 1, "hit after unregister")?;
    check(ctx.armed_total() == 0, "slot still armed")?;
    g.register(&write(0, 8, 0))
        .map_err(|_| "re-register refused")?;
    w64(0, 3);
    check(record::hits(0) == 2, "trapping does not work any more")
}

/// The armed slots of `pool` on this CPU, by index.
fn slots(ctx: &Ctx, pool: hwbreak::PoolId) -> [Option<hwbreak::SlotImage>; 16] {
    let mut s = [None; 16];
    let n = ctx.reg.slot_counts().get(pool).min(16);
    for (k, v) in s.iter_mut().enumerate().take(n) {
        *v = ctx.reg.armed_slot(pool, k).ok().flatten();
    }
    s
}

fn modify_moves(ctx: &Ctx) -> Outcome {
    let pool = ctx.data_pool();
    let mut g = Guard::new(ctx.reg);
    let h = g
        .register(&write(0, 8, 0))
        .map_err(|_| "register refused")?;
    w64(0, 1);
    check(record::hits(0) == 1, "no hit at the old place")?;
    let before = slots(ctx, pool);
    ctx.reg
        .modify(h, &write(64, 8, 0))
        .map_err(|_| "modify refused")?;
    let after = slots(ctx, pool);
    // The same slot holds the new watch: nothing was released and retaken
    // elsewhere.
    let same_slots = before
        .iter()
        .zip(&after)
        .all(|(b, a)| b.is_some() == a.is_some());
    check(same_slots, "modify moved the watch to another slot")?;
    check(before != after, "the slot's image did not change")?;
    w64(0, 2);
    check(record::hits(0) == 1, "old place still traps")?;
    w64(64, 2);
    check(record::hits(0) == 2, "new place does not trap")?;
    check(
        ctx.reg.state(h) == Ok(State::Armed),
        "not armed after modify",
    )
}

fn invalid_modify(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let h = g
        .register(&write(0, 8, 0))
        .map_err(|_| "register refused")?;
    let before = [
        ctx.reg.armed_slot(ctx.data_pool(), 0),
        ctx.reg.armed_slot(ctx.data_pool(), 1),
    ];
    expect_err(
        ctx.reg.modify(h, &write(64, 0, 0)),
        ErrorKind::ZeroLength,
        "zero length",
    )?;
    let wrap = Request::write(u64::MAX - 3, 8);
    expect_err(
        ctx.reg.modify(h, &wrap),
        ErrorKind::AddressOverflow,
        "overflow",
    )?;
    let after = [
        ctx.reg.armed_slot(ctx.data_pool(), 0),
        ctx.reg.armed_slot(ctx.data_pool(), 1),
    ];
    check(before == after, "a refused modify changed the slots")?;
    w64(0, 1);
    check(
        record::hits(0) == 1,
        "old watch stopped firing after a refused modify",
    )?;
    check(ctx.reg.state(h) == Ok(State::Armed), "not armed")
}

fn modify_kind(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let need_data = ctx.board.caps().data_traps;
    let h = g
        .register(&write(0, 8, 0))
        .map_err(|_| "register refused")?;
    if need_data {
        w64(0, 1);
        check(record::hits(0) == 1, "data watch did not trap")?;
    }
    let f = crate::target::EXEC[2];
    ctx.reg
        .modify(h, &exec(ctx, f, 0))
        .map_err(|_| "modify to execute refused")?;
    let base = record::hits(0);
    w64(0, 2);
    check(record::hits(0) == base, "old data watch still traps")?;
    crate::target::call(f, 1);
    check(
        record::hits(0) == base + 1,
        "execute breakpoint does not trap after modify",
    )
}

fn disable_enable(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let h = g
        .register(&write(0, 8, 0))
        .map_err(|_| "register refused")?;
    ctx.reg.disable(h).map_err(|_| "disable refused")?;
    check(ctx.reg.state(h) == Ok(State::Disabled), "not disabled")?;
    w64(0, 1);
    check(record::hits(0) == 0, "disabled watch trapped")?;
    ctx.reg.enable(h).map_err(|_| "enable refused")?;
    check(ctx.reg.state(h) == Ok(State::Armed), "not armed")?;
    w64(0, 2);
    check(record::hits(0) == 1, "re-enabled watch did not trap")
}

fn shared(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let a = g.register(&write(0, 8, 0)).map_err(|_| "first refused")?;
    let _b = g.register(&write(0, 8, 1)).map_err(|_| "second refused")?;
    check(
        ctx.armed_count(ctx.data_pool()) == 1,
        "identical requests use more than one slot",
    )?;
    w64(0, 1);
    check(
        record::hits(0) == 1 && record::hits(1) == 1,
        "not both handlers called once",
    )?;
    g.unregister(a).map_err(|_| "unregister refused")?;
    check(
        ctx.armed_count(ctx.data_pool()) == 1,
        "the sharer lost its slot",
    )?;
    w64(0, 2);
    check(
        record::hits(0) == 1 && record::hits(1) == 2,
        "the remaining sharer does not trap",
    )
}

fn stale(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let h = g
        .register(&write(0, 8, 0))
        .map_err(|_| "register refused")?;
    g.unregister(h).map_err(|_| "unregister refused")?;
    expect_err(
        ctx.reg.unregister(h),
        ErrorKind::StaleHandle,
        "second unregister",
    )?;
    expect_err(
        ctx.reg.modify(h, &write(0, 8, 0)),
        ErrorKind::StaleHandle,
        "stale modify",
    )?;
    expect_err(ctx.reg.enable(h), ErrorKind::StaleHandle, "stale enable")?;
    // A new registration may reuse the entry: the old handle stays stale.
    let h2 = g
        .register(&write(8, 8, 1))
        .map_err(|_| "register refused")?;
    expect_err(
        ctx.reg.unregister(h),
        ErrorKind::StaleHandle,
        "stale after reuse",
    )?;
    check(ctx.reg.state(h2) == Ok(State::Armed), "new one not armed")?;
    w64(8, 1);
    w64(0, 1);
    check(
        record::hits(1) == 1 && record::hits(0) == 0,
        "wrong handler or no trap",
    )
}

fn bad_requests(ctx: &Ctx) -> Outcome {
    let reg = ctx.reg;
    expect_err(
        reg.register(&write(0, 0, 0)),
        ErrorKind::ZeroLength,
        "zero length",
    )?;
    expect_err(
        reg.register(&Request::write(u64::MAX - 3, 8)),
        ErrorKind::AddressOverflow,
        "overflow",
    )?;
    // A user range that ends in kernel space.
    let limit = reg.user_limit();
    let cross = Request::write(limit - 4, 8).space(Space::User);
    expect_err(
        reg.register(&cross),
        ErrorKind::KernelAddressFromUser,
        "user crossing",
    )?;
    let kern = Request::write(limit + 0x1000, 8).space(Space::User);
    expect_err(
        reg.register(&kern),
        ErrorKind::KernelAddressFromUser,
        "user on kernel",
    )?;
    let task = Request::write(addr(0), 8).scope(hwbreak::Scope::Task(hwbreak::TaskId(60_000)));
    expect_err(reg.register(&task), ErrorKind::BadTask, "task out of range")?;
    let cpu = Request::write(addr(0), 8).scope(hwbreak::Scope::Cpu(hwbreak::CpuId(60_000)));
    expect_err(reg.register(&cpu), ErrorKind::BadCpu, "cpu out of range")?;
    check(ctx.armed_total() == 0, "a refused request armed something")?;
    w64(0, 1);
    check(record::total_hits() == 0, "a refused request traps")?;
    let mut g = Guard::new(reg);
    g.register(&write(0, 8, 0))
        .map_err(|_| "valid request refused")?;
    w64(0, 2);
    check(
        record::hits(0) == 1,
        "trapping does not work after refusals",
    )
}

fn exception_stack(ctx: &Ctx) -> Outcome {
    let (lo, hi) = ctx.board.debug_stack();
    let top = Request::write((hi - 8) & !7, 8).handler(record::handler, 0);
    expect_err(
        ctx.reg.register(&top),
        ErrorKind::NoBreakpointZone,
        "exception stack watched",
    )?;
    let low = Request::write(lo & !7, 8).handler(record::handler, 0);
    expect_err(
        ctx.reg.register(&low),
        ErrorKind::NoBreakpointZone,
        "stack bottom watched",
    )?;
    let own = ctx.reg.own_zone();
    let own = Request::write(own.start, 1);
    expect_err(
        ctx.reg.register(&own),
        ErrorKind::NoBreakpointZone,
        "registry state watched",
    )?;
    check(ctx.armed_total() == 0, "refused request armed something")?;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(0, 8, 0))
        .map_err(|_| "valid request refused")?;
    w64(0, 1);
    check(
        record::hits(0) == 1,
        "trapping does not work after refusals",
    )
}

/// Each zone the platform declares refuses a watch on its first and last
/// byte; then a normal watch still traps.
fn zones(ctx: &Ctx) -> Outcome {
    let mut tried = 0;
    for z in ctx.reg.zones().iter().filter(|z| z.end > z.start) {
        for a in [z.start, z.end - 1] {
            let r = Request::write(a, 1).handler(record::handler, 0);
            expect_err(
                ctx.reg.register(&r),
                ErrorKind::NoBreakpointZone,
                "zone watched",
            )?;
            tried += 1;
        }
    }
    check(tried > 0, "the platform declares no zone")?;
    check(ctx.armed_total() == 0, "a refused request armed something")?;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(0, 8, 0))
        .map_err(|_| "valid request refused")?;
    w64(0, 1);
    check(
        record::hits(0) == 1,
        "trapping does not work after refusals",
    )
}

fn exhaustion(ctx: &Ctx) -> Outcome {
    let pool = ctx.data_pool();
    let n = ctx.reg.slot_counts().get(pool);
    check(n > 0 && n <= 32, "odd slot count")?;
    let mut g = Guard::new(ctx.reg);
    let mut first = None;
    for i in 0..n {
        let h = g
            .register(&write(i * 8, 8, i % record::N))
            .map_err(|_| "filling refused")?;
        first.get_or_insert(h);
    }
    let snapshot = |ctx: &Ctx| -> [Option<hwbreak::SlotImage>; 16] {
        let mut s = [None; 16];
        for (k, v) in s.iter_mut().enumerate().take(n.min(16)) {
            *v = ctx.reg.armed_slot(pool, k).ok().flatten();
        }
        s
    };
    let before = snapshot(ctx);
    expect_err(
        ctx.reg.register(&write(400, 8, 7)),
        ErrorKind::NoSlot,
        "no NoSlot when full",
    )?;
    check(
        snapshot(ctx) == before,
        "a refused register changed the slots",
    )?;
    w64(400, 1);
    check(record::hits(7) == 0, "the refused watch traps")?;
    w64(0, 1);
    check(record::hits(0) == 1, "a filling watch does not trap")?;
    g.unregister(first.ok_or("none")?)
        .map_err(|_| "unregister refused")?;
    g.register(&write(400, 8, 7))
        .map_err(|_| "register refused after room returned")?;
    w64(400, 2);
    check(record::hits(7) == 1, "new watch does not trap")
}

static SELF_HANDLE: record::HandleCell = record::HandleCell::new();
static SELF_REG: core::sync::atomic::AtomicPtr<()> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

fn self_removing(event: &Event) {
    record::handler(event);
    let p = SELF_REG.load(core::sync::atomic::Ordering::SeqCst);
    if let Some(h) = SELF_HANDLE.get() {
        if !p.is_null() {
            // SAFETY: the scenario stored a `&&dyn Api` that outlives it.
            let reg: &&dyn crate::Api = unsafe { &*(p as *const &dyn crate::Api) };
            let ok = reg.unregister(h).is_ok();
            record::ACTION.store(if ok { 1 } else { 2 }, core::sync::atomic::Ordering::SeqCst);
        }
    }
}

fn remove_in_handler(ctx: &Ctx) -> Outcome {
    let reg: &dyn crate::Api = ctx.reg;
    SELF_REG.store(
        &reg as *const &dyn crate::Api as *mut (),
        core::sync::atomic::Ordering::SeqCst,
    );
    let req = Request::write(addr(0), 8).handler(self_removing, 0);
    let h = ctx.reg.register(&req).map_err(|_| "register refused")?;
    SELF_HANDLE.set(Some(h));
    w64(0, 1);
    let action = record::ACTION.load(core::sync::atomic::Ordering::SeqCst);
    SELF_REG.store(core::ptr::null_mut(), core::sync::atomic::Ordering::SeqCst);
    SELF_HANDLE.set(None);
    check(record::hits(0) == 1, "no hit")?;
    check(action == 1, "unregister from the handler failed")?;
    w64(0, 2);
    w8(3, 2);
    check(record::hits(0) == 1, "hit after removal in the handler")?;
    expect_err(
        ctx.reg.unregister(h),
        ErrorKind::StaleHandle,
        "handle not stale",
    )?;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(0, 8, 1))
        .map_err(|_| "register refused")?;
    w64(0, 3);
    check(record::hits(1) == 1, "trapping does not work afterwards")
}

fn debugger(ctx: &Ctx) -> Outcome {
    let pool = ctx.data_pool();
    let n = ctx.reg.slot_counts().get(pool);
    let d = ctx
        .reg
        .debugger_install(&write(16, 8, 0).priority(hwbreak::Priority::HIGHEST))
        .map_err(|_| "debugger install refused")?;
    w64(16, 1);
    let hit = record::hits(0);
    // The normal path sees one slot fewer while the debugger holds one.
    let mut g = Guard::new(ctx.reg);
    let mut got = 0;
    for i in 0..n {
        if g.register(&write(64 + i * 8, 8, 1)).is_ok() {
            got += 1;
        }
    }
    let removed = ctx.reg.debugger_remove(d);
    drop(g);
    check(removed.is_ok(), "debugger remove refused")?;
    check(hit == 1, "debugger watch did not trap")?;
    check(
        got + 1 == n,
        "the normal path over-committed the debugger's slot",
    )?;
    w64(16, 2);
    check(record::hits(0) == 1, "hit after debugger remove")?;
    check(ctx.armed_total() == 0, "slot left armed")?;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(16, 8, 2))
        .map_err(|_| "register refused")?;
    w64(16, 3);
    check(record::hits(2) == 1, "trapping does not work afterwards")
}
