//! x86_64-only scenarios: refusals specific to DR7, I/O breakpoints, the
//! shared pool, and the hardware registers checked against the registry's
//! tables.

use crate::target::{addr, w64, w8};
use crate::{check, expect_err, record, Ctx, Guard, Needs, Outcome, Scenario};
use hwbreak::native::{dr6, regs, X86};
use hwbreak::{AccessKind, Arch, ErrorKind, PoolId, Request, SlotImage};

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "x86_read_only_refused",
        needs: Needs::DATA,
        run: read_only,
    },
    Scenario {
        name: "x86_execute_length_2_refused",
        needs: Needs::EXEC,
        run: exec_len,
    },
    Scenario {
        name: "x86_non_canonical_refused",
        needs: Needs::DATA,
        run: non_canonical,
    },
    Scenario {
        name: "x86_misaligned_8_bytes_two_slots",
        needs: Needs::DATA,
        run: misaligned,
    },
    Scenario {
        name: "x86_exec_and_data_share_the_pool",
        needs: Needs::EXEC,
        run: shared_pool,
    },
    Scenario {
        name: "x86_hardware_matches_tables",
        needs: Needs::DATA,
        run: hardware,
    },
    Scenario {
        name: "x86_dr6_reset_after_hit",
        needs: Needs::DATA,
        run: dr6_reset,
    },
    Scenario {
        name: "x86_io_breakpoint",
        needs: Needs::DATA,
        run: io,
    },
];

fn read_only(ctx: &Ctx) -> Outcome {
    let r = Request::read(addr(0), 8).handler(record::handler, 0);
    expect_err(
        ctx.reg.register(&r),
        ErrorKind::UnsupportedKind,
        "read-only not refused",
    )?;
    check(ctx.armed_total() == 0, "refusal armed something")?;
    let mut g = Guard::new(ctx.reg);
    g.register(&Request::read_write(addr(0), 8).handler(record::handler, 0))
        .map_err(|_| "read-write refused")?;
    let _ = crate::target::r64(0);
    check(
        record::hits(0) == 1,
        "read-write watch does not trap a load",
    )
}

fn exec_len(ctx: &Ctx) -> Outcome {
    let f = ctx.code_addr(crate::target::EXEC[3]);
    let r = Request::new(f, 2, AccessKind::Execute);
    expect_err(
        ctx.reg.register(&r),
        ErrorKind::UnsupportedLength,
        "2-byte execute accepted",
    )?;
    check(ctx.armed_total() == 0, "refusal armed something")?;
    let mut g = Guard::new(ctx.reg);
    g.register(&Request::execute(f).handler(record::handler, 0))
        .map_err(|_| "refused")?;
    crate::target::call(crate::target::EXEC[3], 1);
    check(record::hits(0) == 1, "execute does not trap")
}

fn non_canonical(ctx: &Ctx) -> Outcome {
    let r = Request::write(0x0000_8000_0000_0000, 8);
    expect_err(
        ctx.reg.register(&r),
        ErrorKind::NonCanonical,
        "non-canonical accepted",
    )?;
    let r = Request::execute(0x1234_0000_0000_0000);
    expect_err(
        ctx.reg.register(&r),
        ErrorKind::NonCanonical,
        "non-canonical execute",
    )?;
    check(ctx.armed_total() == 0, "refusal armed something")?;
    let mut g = Guard::new(ctx.reg);
    g.register(&Request::write(addr(0), 8).handler(record::handler, 0))
        .map_err(|_| "refused")?;
    w64(0, 1);
    check(record::hits(0) == 1, "trapping does not work")
}

/// 8 bytes at a 4-aligned (not 8-aligned) address: two 4-byte slots, no
/// widening to the enclosing 16 bytes.
fn misaligned(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&Request::write(addr(4), 8).handler(record::handler, 0))
        .map_err(|_| "register refused")?;
    check(ctx.armed_count(PoolId::FIRST) == 2, "not exactly two slots")?;
    w8(3, 1);
    w8(12, 1);
    check(record::hits(0) == 0, "a byte outside trapped")?;
    w8(4, 1);
    w8(11, 1);
    check(record::hits(0) == 2, "first or last byte did not trap")
}

fn shared_pool(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let f0 = crate::target::EXEC[4];
    let f1 = crate::target::EXEC[5];
    g.register(&Request::execute(ctx.code_addr(f0)).handler(record::handler, 0))
        .map_err(|_| "exec 0 refused")?;
    g.register(&Request::execute(ctx.code_addr(f1)).handler(record::handler, 1))
        .map_err(|_| "exec 1 refused")?;
    g.register(&Request::write(addr(0), 8).handler(record::handler, 2))
        .map_err(|_| "data 0 refused")?;
    g.register(&Request::read_write(addr(64), 4).handler(record::handler, 3))
        .map_err(|_| "data 1 refused")?;
    let fifth = Request::execute(ctx.code_addr(crate::target::EXEC[6]));
    expect_err(
        ctx.reg.register(&fifth),
        ErrorKind::NoSlot,
        "a fifth slot was found",
    )?;
    crate::target::call(f0, 1);
    crate::target::call(f1, 1);
    w64(0, 1);
    let _ = crate::target::r8(66);
    for i in 0..4 {
        check(
            record::hits(i) == 1,
            "one of the four did not trap exactly once",
        )?;
    }
    Ok(())
}

/// DR0-DR3 and DR7 as read from the CPU equal what the registry's tables
/// say and what the backend computes from them.
fn hardware(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&Request::write(addr(8), 2).handler(record::handler, 0))
        .map_err(|_| "register refused")?;
    g.register(
        &Request::execute(ctx.code_addr(crate::target::EXEC[7])).handler(record::handler, 1),
    )
    .map_err(|_| "register refused")?;
    let mut table: [Option<SlotImage>; 4] = [None; 4];
    for (k, t) in table.iter_mut().enumerate() {
        *t = ctx
            .reg
            .armed_slot(PoolId::FIRST, k)
            .map_err(|_| "armed_slot refused")?;
    }
    let want = X86::new().control_word(PoolId::FIRST, &table);
    // SAFETY: ring 0; reading debug registers has no side effect.
    let (dr7, drs) = unsafe {
        (
            regs::read_dr7(),
            [
                regs::read_dr(0),
                regs::read_dr(1),
                regs::read_dr(2),
                regs::read_dr(3),
            ],
        )
    };
    check(
        dr7 & 0xffff_00ff == want & 0xffff_00ff,
        "DR7 enables/fields differ from the tables",
    )?;
    check(dr7 & (1 << 13) == 0, "GD set")?;
    for (k, t) in table.iter().enumerate() {
        if let Some(img) = t {
            check(drs[k] == img.value, "DRn differs from the table")?;
        }
    }
    check(table.iter().flatten().count() == 2, "not two slots armed")?;
    w8(9, 1);
    crate::target::call(crate::target::EXEC[7], 2);
    check(
        record::hits(0) == 1 && record::hits(1) == 1,
        "armed slots do not trap",
    )
}

fn dr6_reset(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&Request::write(addr(0), 8).handler(record::handler, 0))
        .map_err(|_| "register refused")?;
    w64(0, 1);
    // SAFETY: ring 0; reading DR6 has no side effect.
    let v = unsafe { regs::read_dr6() };
    check(record::hits(0) == 1, "no hit")?;
    check(
        v == dr6::RESET,
        "DR6 not back to 0xffff0ff0 after the #DB (sticky bits)",
    )
}

fn outb(port: u16, v: u8) {
    // SAFETY: ring 0; the port used has no device behind it on this board.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack));
    }
}

/// An I/O breakpoint (R/W = 10, CR4.DE set by the board) on port 0x80.
fn io(ctx: &Ctx) -> Outcome {
    let port = 0x80u64;
    let r = Request::new(port, 1, AccessKind::Io).handler(record::handler, 0);
    let mut g = Guard::new(ctx.reg);
    match g.register(&r) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotEnabled => {
            return Err("I/O breakpoints not enabled by the board (CR4.DE)")
        }
        Err(_) => return Err("I/O breakpoint refused"),
    }
    outb(0x81, 0);
    check(record::hits(0) == 0, "a neighbouring port trapped")?;
    outb(0x80, 0);
    check(record::hits(0) == 1, "the port access did not trap")
}
