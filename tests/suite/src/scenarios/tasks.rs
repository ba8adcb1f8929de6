//! Per-task state across context switches, and reload after a CPU loses
//! its registers.

use super::write;
use crate::target::w64;
use crate::{check, record, Ctx, Guard, Needs, Outcome, Scenario};
use hwbreak::{Scope, TaskId};

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "switch_task_loads_task_watch",
        needs: Needs::DATA,
        run: one_task,
    },
    Scenario {
        name: "two_tasks_own_watches",
        needs: Needs::DATA,
        run: two_tasks,
    },
    Scenario {
        name: "task_and_system_watches_coexist",
        needs: Needs::DATA.data_slots(2),
        run: with_system,
    },
    Scenario {
        name: "cpu_online_reloads_lost_registers",
        needs: Needs::DATA,
        run: online,
    },
    Scenario {
        name: "cpu_offline_disarms_online_restores",
        needs: Needs::DATA,
        run: offline,
    },
];

fn switch(ctx: &Ctx, t: Option<u32>) -> Outcome {
    ctx.reg
        .switch_task(t.map(TaskId))
        .map_err(|_| "switch_task refused")
}

fn one_task(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&write(0, 8, 0).scope(Scope::Task(TaskId(1))))
        .map_err(|_| "register refused")?;
    switch(ctx, None)?;
    w64(0, 1);
    check(record::hits(0) == 0, "trapped outside its task")?;
    switch(ctx, Some(1))?;
    w64(0, 2);
    check(record::hits(0) == 1, "did not trap in its task")?;
    switch(ctx, Some(2))?;
    w64(0, 3);
    check(record::hits(0) == 1, "trapped in another task")?;
    switch(ctx, Some(1))?;
    w64(0, 4);
    check(record::hits(0) == 2, "did not trap back in its task")?;
    switch(ctx, None)
}

fn two_tasks(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&write(0, 8, 0).scope(Scope::Task(TaskId(1))))
        .map_err(|_| "register refused")?;
    g.register(&write(8, 8, 1).scope(Scope::Task(TaskId(2))))
        .map_err(|_| "register refused")?;
    switch(ctx, Some(1))?;
    w64(8, 1);
    w64(0, 1);
    check(
        record::hits(0) == 1 && record::hits(1) == 0,
        "task 1 state wrong",
    )?;
    switch(ctx, Some(2))?;
    w64(0, 2);
    w64(8, 2);
    check(
        record::hits(0) == 1 && record::hits(1) == 1,
        "task 2 state wrong",
    )?;
    switch(ctx, Some(1))?;
    w64(0, 3);
    check(
        record::hits(0) == 2 && record::hits(1) == 1,
        "task 1 state not restored",
    )?;
    switch(ctx, None)
}

fn with_system(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&write(0, 8, 0))
        .map_err(|_| "system register refused")?;
    g.register(&write(8, 8, 1).scope(Scope::Task(TaskId(3))))
        .map_err(|_| "task refused")?;
    switch(ctx, Some(3))?;
    w64(0, 1);
    w64(8, 1);
    check(
        record::hits(0) == 1 && record::hits(1) == 1,
        "both should trap in task 3",
    )?;
    switch(ctx, Some(4))?;
    w64(0, 2);
    w64(8, 2);
    check(
        record::hits(0) == 2 && record::hits(1) == 1,
        "only the system watch in task 4",
    )?;
    switch(ctx, None)
}

fn online(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&write(0, 8, 0))
        .map_err(|_| "register refused")?;
    w64(0, 1);
    check(record::hits(0) == 1, "no trap before")?;
    // SAFETY: the scenario restores the registers with cpu_online below.
    unsafe { ctx.board.clear_debug_registers() };
    w64(0, 2);
    check(record::hits(0) == 1, "registers were not really cleared")?;
    ctx.reg.cpu_online().map_err(|_| "cpu_online refused")?;
    w64(0, 3);
    check(record::hits(0) == 2, "cpu_online did not restore the watch")
}

fn offline(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&write(0, 8, 0))
        .map_err(|_| "register refused")?;
    ctx.reg.cpu_offline().map_err(|_| "cpu_offline refused")?;
    w64(0, 1);
    let off_hits = record::hits(0);
    let back = ctx.reg.cpu_online();
    check(back.is_ok(), "cpu_online refused")?;
    check(off_hits == 0, "trapped while offline")?;
    w64(0, 2);
    check(record::hits(0) == 1, "not restored after online")
}
