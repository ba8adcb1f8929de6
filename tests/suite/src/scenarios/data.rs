//! Data watchpoints: every slot, every length, neighbours, exact covers,
//! repeated hits, handlers touching the watched data.

use super::{address_in, watch, write};
use crate::target::{addr, r64, r8, w64, w8};
use crate::{check, record, Ctx, Guard, Needs, Outcome, Scenario};
use hwbreak::{AccessKind, Event, Request};

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "write_hits_every_data_slot",
        needs: Needs::DATA,
        run: write_every_slot,
    },
    Scenario {
        name: "read_write_hits_every_data_slot",
        needs: Needs::DATA,
        run: rw_every_slot,
    },
    Scenario {
        name: "length_1_exact",
        needs: Needs::DATA,
        run: len1,
    },
    Scenario {
        name: "length_2_exact",
        needs: Needs::DATA,
        run: len2,
    },
    Scenario {
        name: "length_4_exact",
        needs: Needs::DATA,
        run: len4,
    },
    Scenario {
        name: "length_8_exact",
        needs: Needs::DATA,
        run: len8,
    },
    Scenario {
        name: "neighbour_byte_no_hit_then_hit",
        needs: Needs::DATA,
        run: neighbour,
    },
    Scenario {
        name: "write_watch_ignores_reads",
        needs: Needs::DATA,
        run: write_ignores_reads,
    },
    Scenario {
        name: "unaligned_13_bytes_covered_exactly",
        needs: Needs::DATA.exact_wide(),
        run: thirteen,
    },
    Scenario {
        name: "repeated_hits_count_exactly",
        needs: Needs::DATA,
        run: repeated,
    },
    Scenario {
        name: "handler_reads_watched_variable",
        needs: Needs::DATA,
        run: handler_reads,
    },
];

/// One watch per data slot (64 bytes apart), all armed at once; each trap
/// reaches its own handler only.
fn every_slot(ctx: &Ctx, kind: AccessKind, access: fn(usize)) -> Outcome {
    let n = ctx.data_slots().min(record::N);
    check(n > 0, "no data slot")?;
    let mut g = Guard::new(ctx.reg);
    for i in 0..n {
        g.register(&watch(kind, i * 64, 8, i))
            .map_err(|_| "register refused")?;
    }
    check(
        ctx.armed_count(ctx.data_pool()) == n,
        "not every slot armed",
    )?;
    for i in 0..n {
        access(i * 64);
        for j in 0..n {
            let want = u32::from(j <= i);
            check(record::hits(j) == want, "hit missing or on the wrong slot")?;
        }
        check(
            address_in(i, addr(i * 64), addr(i * 64 + 8)),
            "reported address outside range",
        )?;
    }
    Ok(())
}

fn write_every_slot(ctx: &Ctx) -> Outcome {
    every_slot(ctx, AccessKind::Write, |off| w64(off, 0x1234))?;
    // Reads never trigger a write watch: nothing more counted.
    Ok(())
}

fn rw_every_slot(ctx: &Ctx) -> Outcome {
    every_slot(ctx, AccessKind::ReadWrite, |off| {
        let _ = r64(off);
    })
}

/// A `len`-byte watch at an aligned offset: every byte inside traps (one
/// hit per store), the bytes just outside do not.
fn lengths(ctx: &Ctx, len: usize) -> Outcome {
    let off = 128;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(off, len as u64, 0))
        .map_err(|_| "register refused")?;
    w8(off - 1, 1);
    w8(off + len, 1);
    check(record::hits(0) == 0, "a byte outside the range trapped")?;
    for b in 0..len {
        w8(off + b, 2);
        check(
            record::hits(0) == b as u32 + 1,
            "a byte inside the range did not trap",
        )?;
        check(
            address_in(0, addr(off), addr(off + len)),
            "reported address outside range",
        )?;
    }
    Ok(())
}

fn len1(ctx: &Ctx) -> Outcome {
    lengths(ctx, 1)
}
fn len2(ctx: &Ctx) -> Outcome {
    lengths(ctx, 2)
}
fn len4(ctx: &Ctx) -> Outcome {
    lengths(ctx, 4)
}
fn len8(ctx: &Ctx) -> Outcome {
    lengths(ctx, 8)
}

fn neighbour(ctx: &Ctx) -> Outcome {
    let off = 205;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(off, 1, 0))
        .map_err(|_| "register refused")?;
    w8(off - 1, 1);
    w8(off + 1, 1);
    check(record::hits(0) == 0, "neighbouring byte trapped")?;
    w8(off, 1);
    check(record::hits(0) == 1, "watched byte did not trap")
}

fn write_ignores_reads(ctx: &Ctx) -> Outcome {
    let off = 224;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(off, 8, 0))
        .map_err(|_| "register refused")?;
    let _ = r64(off);
    let _ = r8(off + 7);
    check(record::hits(0) == 0, "a load trapped a write watch")?;
    w64(off, 5);
    check(record::hits(0) == 1, "the store did not trap")
}

/// `[259, 272)`: 13 bytes starting 3 bytes past an 8-byte boundary. The
/// backend covers it with as many slots as it needs; the first and last
/// bytes trap, the bytes just outside do not.
fn thirteen(ctx: &Ctx) -> Outcome {
    let (start, len) = (259usize, 13usize);
    let mut g = Guard::new(ctx.reg);
    g.register(&write(start, len as u64, 0))
        .map_err(|_| "13-byte range refused")?;
    check(ctx.armed_count(ctx.data_pool()) >= 1, "nothing armed")?;
    w8(start - 1, 1);
    w8(start + len, 1);
    check(record::hits(0) == 0, "a byte just outside trapped")?;
    w8(start, 1);
    check(record::hits(0) == 1, "first byte did not trap")?;
    w8(start + len - 1, 1);
    check(record::hits(0) == 2, "last byte did not trap")?;
    w8(start + 5, 1);
    check(record::hits(0) == 3, "a middle byte did not trap")?;
    check(
        address_in(0, addr(start), addr(start + len)),
        "reported address outside range",
    )
}

fn repeated(ctx: &Ctx) -> Outcome {
    let off = 288;
    let mut g = Guard::new(ctx.reg);
    g.register(&write(off, 8, 0))
        .map_err(|_| "register refused")?;
    for i in 0..10_000u64 {
        w64(off, i);
    }
    check(
        record::hits(0) == 10_000,
        "10 000 stores did not give exactly 10 000 hits",
    )?;
    check(r64(off) == 9_999, "stores were lost")
}

const SURVIVE_OFF: usize = 320;

fn reading_handler(event: &Event) {
    // The handler touches the watched variable itself: with the CPU's
    // breakpoints suspended during dispatch this must not nest or hang.
    let v = r64(SURVIVE_OFF);
    w64(SURVIVE_OFF, v);
    record::handler(event);
}

fn handler_reads(ctx: &Ctx) -> Outcome {
    let req = Request::read_write(addr(SURVIVE_OFF), 8).handler(reading_handler, 0);
    let req = match ctx.reg.pool_of(hwbreak::AccessKind::ReadWrite) {
        Ok(_) => req,
        Err(_) => Request::write(addr(SURVIVE_OFF), 8).handler(reading_handler, 0),
    };
    let mut g = Guard::new(ctx.reg);
    g.register(&req).map_err(|_| "register refused")?;
    w64(SURVIVE_OFF, 7);
    check(record::hits(0) == 1, "one store, not exactly one hit")?;
    w64(SURVIVE_OFF, 8);
    check(
        record::hits(0) == 2,
        "the watch did not survive its handler",
    )?;
    check(r64(SURVIVE_OFF) == 8, "value lost")
}
