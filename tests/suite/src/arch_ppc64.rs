//! 64-bit PowerPC scenarios: the single data slot fully usable by a pinned
//! request, DAWR ranges and the 512-byte rule, DAWR1 on POWER10, CIABR
//! lengths, granule false positives filtered, loads-only watches, the
//! translation bit, cache-inhibited memory, and the QEMU deviations that
//! show through the registry (each pinned here and listed in
//! `docs/qemu-deviations.md`).

use core::cell::UnsafeCell;
use core::ptr::{read_volatile, write_volatile};

use hwbreak::native::{Dawrx, Family, Ppc64, Translation, DATA_POOL};
use hwbreak::{AccessKind, Arch, ErrorKind, MemoryType, Piece, Request, Space};

use crate::record::{self, address, hits};
use crate::target::{call, EXEC};
use crate::{check, expect_err, Ctx, Guard, Needs, Outcome, Scenario};

/// 1 KiB aligned to 512, so scenarios can straddle a 512-byte boundary.
#[repr(C, align(512))]
struct Block(UnsafeCell<[u8; 1024]>);
// SAFETY: accessed only with volatile operations from one CPU at a time.
unsafe impl Sync for Block {}
static BLOCK: Block = Block(UnsafeCell::new([0; 1024]));

fn ptr(off: usize) -> *mut u8 {
    assert!(off < 1024);
    // SAFETY: in bounds (checked above).
    unsafe { BLOCK.0.get().cast::<u8>().add(off) }
}

fn at(off: usize) -> u64 {
    ptr(off) as u64
}

fn w8(off: usize, v: u8) {
    // SAFETY: a valid pointer into the static block.
    unsafe { write_volatile(ptr(off), v) }
}

fn w64(off: usize, v: u64) {
    assert!(off.is_multiple_of(8));
    // SAFETY: aligned, in bounds.
    unsafe { write_volatile(ptr(off).cast::<u64>(), v) }
}

fn r64(off: usize) -> u64 {
    assert!(off.is_multiple_of(8));
    // SAFETY: aligned, in bounds.
    unsafe { read_volatile(ptr(off).cast::<u64>()) }
}

fn family() -> Family {
    Family::NATIVE
}

/// The data slot images armed on this CPU whose value register is `value`
/// (slot placement is the registry's choice).
fn armed_with_value(ctx: &Ctx, value: u64) -> Option<hwbreak::SlotImage> {
    (0..ctx.reg.slot_counts().get(DATA_POOL))
        .filter_map(|i| ctx.reg.armed_slot(DATA_POOL, i).ok().flatten())
        .find(|img| img.value & !7 == value)
}

fn kernel(req: Request, ctx: usize) -> Request {
    req.handler(record::handler, ctx)
}

/// An address the pseries board declares cache-inhibited (its platform's
/// `memory_type`); never accessed.
const CI_START: u64 = 0x1000_0000;

/// The single data slot (seed 002) is the pinned request's: nothing is
/// held back for flexible ones, the image is the ISA encoding, the
/// hypervisor accepts it, and one request too many is refused with
/// `NoSlot` leaving everything as it was.
fn pinned_takes_every_data_slot(ctx: &Ctx) -> Outcome {
    let n = ctx.reg.slot_counts().get(DATA_POOL);
    check(
        n == family().data_slots(),
        "data slot count is not the family's",
    )?;
    let mut g = Guard::new(ctx.reg);
    for i in 0..n {
        g.register(&kernel(Request::write(at(64 * i), 8), i))
            .map_err(|_| "pinned refused")?;
    }
    check(
        hwbreak::native::last_status() == 0,
        "the hypervisor refused the register write",
    )?;
    let first = armed_with_value(ctx, at(0));
    let want = match family() {
        // DABR: DAB | DW (ISA bit 62 = 2); DABRX: BTI (bit 60 = 8) | PNH (bit 62 = 2).
        Family::Dabr => hwbreak::SlotImage {
            value: at(0) | 2,
            control: 0x8 | 0x2,
        },
        // DAWR0 = the doubleword; DAWRX: MRD 0 | DW (0x40) | WTI (0x08) | PNH (0x02).
        Family::Dawr | Family::Dawr2 => hwbreak::SlotImage {
            value: at(0),
            control: 0x4a,
        },
    };
    check(first == Some(want), "no slot holds the ISA encoding")?;
    expect_err(
        ctx.reg.register(&kernel(Request::write(at(512), 8), 7)),
        ErrorKind::NoSlot,
        "one request too many was not refused with NoSlot",
    )?;
    check(
        armed_with_value(ctx, at(0)) == Some(want),
        "the refusal changed the slot",
    )?;
    check(
        ctx.armed_count(DATA_POOL) == n,
        "the refusal changed the armed count",
    )?;
    if family() == Family::Dabr {
        expect_err(
            ctx.reg.register(&Request::execute(ctx.code_addr(EXEC[0]))),
            ErrorKind::UnsupportedKind,
            "an execute breakpoint on a DABR part was not refused",
        )?;
    }
    Ok(())
}

/// Before POWER10 a DAWR range may not cross a 512-byte boundary; POWER10
/// takes it in one slot; a single DABR cannot cover two granules.
fn range_crossing_512(ctx: &Ctx) -> Outcome {
    let req = kernel(Request::write(at(508), 8), 0);
    let mut g = Guard::new(ctx.reg);
    match family() {
        Family::Dawr => expect_err(
            ctx.reg.register(&req),
            ErrorKind::CrossesBoundary,
            "crossing 512 bytes was not refused with CrossesBoundary",
        )?,
        Family::Dabr => expect_err(
            ctx.reg.register(&req),
            ErrorKind::NotCoverable,
            "two granules on one DABR were not refused with NotCoverable",
        )?,
        Family::Dawr2 => {
            g.register(&req)
                .map_err(|_| "POWER10 refused a crossing range")?;
            let img = armed_with_value(ctx, at(504)).ok_or("DAWR not at the first granule")?;
            check(
                Dawrx::from_bits(img.control).doublewords() == 2,
                "MRD is not 1",
            )?;
            // Byte 508 lies in the first doubleword, which QEMU watches.
            w8(508, 1);
            check(hits(0) == 1, "a crossing range did not trap")?;
            check(address(0) == at(508), "wrong hit address")?;
            return Ok(());
        }
    }
    check(
        ctx.armed_count(DATA_POOL) == 0,
        "a refused request armed something",
    )
}

/// QEMU reads DAWRX's MRD from bits 15..20 instead of 10..15: an
/// ISA-correct 16-byte range (MRD = 1) watches only its first doubleword.
/// The encoding stays ISA-correct; this pins the deviation.
fn dawrx_mrd_deviation(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&kernel(Request::write(at(128), 16), 0))
        .map_err(|_| "register refused")?;
    let img = armed_with_value(ctx, at(128)).ok_or("nothing armed")?;
    check(
        img.control & Dawrx::MRD_MASK == 1 << 10,
        "MRD is not the ISA encoding of 16 bytes",
    )?;
    w64(128, 1);
    check(hits(0) == 1, "the first doubleword did not trap")?;
    w64(136, 2);
    check(
        hits(0) == 1,
        "QEMU deviation gone: the second doubleword trapped (update docs)",
    )?;
    check(r64(136) == 2, "the store did not happen")
}

/// POWER10's second DAWR traps on its own and is told apart from DAWR0.
fn dawr1_traps(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&kernel(Request::write(at(192), 8), 0))
        .map_err(|_| "first refused")?;
    g.register(&kernel(Request::write(at(256), 4), 1))
        .map_err(|_| "second refused")?;
    check(ctx.armed_count(DATA_POOL) == 2, "both DAWRs not armed")?;
    w64(256, 5);
    check(
        hits(1) == 1 && hits(0) == 0,
        "DAWR1 hit not reported as its own",
    )?;
    check(address(1) == at(256), "DAWR1 hit address")?;
    w64(192, 6);
    check(
        hits(0) == 1 && hits(1) == 1,
        "DAWR0 hit not reported as its own",
    )
}

/// CIABR: length 1 ("the instruction") and 4 trap; misaligned and data
/// lengths are refused precisely and arm nothing.
fn ciabr_lengths(ctx: &Ctx) -> Outcome {
    let f = EXEC[1];
    let pc = ctx.code_addr(f);
    let want = call(f, 9);
    expect_err(
        ctx.reg.register(&Request::execute(pc + 2)),
        ErrorKind::Misaligned,
        "misaligned instruction address accepted",
    )?;
    expect_err(
        ctx.reg.register(&Request::new(pc, 8, AccessKind::Execute)),
        ErrorKind::UnsupportedLength,
        "an 8-byte execute breakpoint accepted",
    )?;
    check(ctx.armed_total() == 0, "a refusal armed something")?;
    let mut g = Guard::new(ctx.reg);
    let h = g
        .register(&kernel(Request::new(pc, 4, AccessKind::Execute), 0))
        .map_err(|_| "len 4")?;
    check(call(f, 9) == want, "the function misbehaved")?;
    check(
        hits(0) == 1 && address(0) == pc,
        "length 4 did not trap at the instruction",
    )?;
    g.unregister(h).map_err(|_| "unregister")?;
    g.register(&kernel(Request::execute(pc), 1))
        .map_err(|_| "len 1")?;
    check(call(f, 9) == want, "the function misbehaved")?;
    check(
        hits(1) == 1 && address(1) == pc,
        "length 1 did not trap at the instruction",
    )
}

/// The DAWR watches the whole doubleword; a store to another byte of it
/// traps in hardware but is not reported; the watched byte is.
fn granule_false_positive(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&kernel(Request::write(at(323), 1), 0))
        .map_err(|_| "register refused")?;
    w8(325, 1);
    w8(320, 1);
    check(hits(0) == 0, "a store to a neighbouring byte was reported")?;
    w8(323, 1);
    check(
        hits(0) == 1 && address(0) == at(323),
        "the watched byte was not reported",
    )?;
    // A doubleword store covering the byte: reported at the watched byte.
    w64(320, 0);
    check(
        hits(0) == 2 && address(0) == at(323),
        "a covering store was not reported",
    )
}

/// POWER watches loads alone (DR without DW), which x86 cannot.
fn read_only_watch(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let h = g
        .register(&kernel(Request::read(at(384), 8), 0))
        .map_err(|_| "read refused")?;
    w64(384, 3);
    check(hits(0) == 0, "a store tripped a loads-only watch")?;
    check(r64(384) == 3, "load value")?;
    check(hits(0) == 1 && address(0) == at(384), "a load did not trap")?;
    ctx.reg
        .modify(h, &kernel(Request::read_write(at(384), 8), 0))
        .map_err(|_| "modify refused")?;
    w64(384, 4);
    let _ = r64(384);
    check(hits(0) == 3, "read/write watch missed a load or a store")
}

/// DAWRX WT: a watch for translated accesses does not match this kernel's
/// real-mode accesses; WT = 0 does. Armed behind the registry's back (the
/// registry's backend matches either mode), so the second hit is spurious
/// to the registry and disarmed by the board.
fn translation_bit(ctx: &Ctx) -> Outcome {
    if family() == Family::Dabr {
        return Err("unreachable: needs data traps");
    }
    let piece = Piece {
        addr: at(448),
        len: 8,
        kind: AccessKind::Write,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    };
    let virt = Ppc64::native().translation(Translation::Virtual);
    let real = Ppc64::native().translation(Translation::Real);
    let before = ctx.board.spurious_count();
    let img = virt.encode(&piece).map_err(|_| "encode")?;
    check(
        img.control & Dawrx::WT != 0 && img.control & Dawrx::WTI == 0,
        "WT encoding",
    )?;
    // SAFETY: this CPU; the board rewrites the slot from the registry's
    // table (empty) on the next debug exception.
    unsafe { virt.write_slot(DATA_POOL, 0, Some(img)) };
    w64(448, 1);
    let after_virtual = ctx.board.spurious_count();
    let img = real.encode(&piece).map_err(|_| "encode")?;
    // SAFETY: as above.
    unsafe { real.write_slot(DATA_POOL, 0, Some(img)) };
    w64(448, 2);
    let after_real = ctx.board.spurious_count();
    // SAFETY: as above; leaves the slot as the registry's table says.
    unsafe { real.write_slot(DATA_POOL, 0, None) };
    check(after_virtual == before, "WT = 1 matched a real-mode store")?;
    check(
        after_real == before + 1,
        "WT = 0 did not match a real-mode store",
    )?;
    check(
        record::total_hits() == 0,
        "a handler ran for a slot the registry does not own",
    )
}

/// POWER9's DAWR must not watch cache-inhibited memory; POWER10's may; a
/// refusal changes nothing.
fn cache_inhibited(ctx: &Ctx) -> Outcome {
    let req = Request::write(CI_START, 8);
    match family() {
        Family::Dawr => {
            expect_err(
                ctx.reg.register(&req),
                ErrorKind::CacheInhibited,
                "CI accepted on POWER9",
            )?;
            check(ctx.armed_total() == 0, "the refusal armed something")
        }
        Family::Dawr2 | Family::Dabr => {
            let mut g = Guard::new(ctx.reg);
            g.register(&req)
                .map_err(|_| "CI refused on a part that allows it")?;
            Ok(())
        }
    }
}

/// Both kinds of trap in one run: data hits stepped over (MSR[SE]) and a
/// CIABR hit stepped over, each counted exactly once per access or call.
fn step_then_exec(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let f = EXEC[2];
    let want = call(f, 3);
    g.register(&kernel(Request::execute(ctx.code_addr(f)), 0))
        .map_err(|_| "exec refused")?;
    g.register(&kernel(Request::write(at(400), 8), 1))
        .map_err(|_| "watch refused")?;
    w64(400, 1);
    check(call(f, 3) == want, "function result")?;
    w64(400, 2);
    check(
        hits(0) == 1 && hits(1) == 2,
        "execute and data hits miscounted",
    )
}

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "ppc64_pinned_request_takes_every_data_slot",
        needs: Needs::NONE,
        run: pinned_takes_every_data_slot,
    },
    Scenario {
        name: "ppc64_range_crossing_512",
        needs: Needs::NONE,
        run: range_crossing_512,
    },
    Scenario {
        name: "ppc64_qemu_dawrx_mrd_watches_8_bytes",
        needs: Needs::DATA,
        run: dawrx_mrd_deviation,
    },
    Scenario {
        name: "ppc64_dawr1_traps",
        needs: Needs::DATA.data_slots(2),
        run: dawr1_traps,
    },
    Scenario {
        name: "ppc64_ciabr_lengths",
        needs: Needs::EXEC,
        run: ciabr_lengths,
    },
    Scenario {
        name: "ppc64_granule_false_positive_filtered",
        needs: Needs::DATA,
        run: granule_false_positive,
    },
    Scenario {
        name: "ppc64_read_only_watch",
        needs: Needs::DATA,
        run: read_only_watch,
    },
    Scenario {
        name: "ppc64_translation_bit",
        needs: Needs::DATA,
        run: translation_bit,
    },
    Scenario {
        name: "ppc64_cache_inhibited",
        needs: Needs::NONE,
        run: cache_inhibited,
    },
    Scenario {
        name: "ppc64_data_step_then_execute",
        needs: Needs {
            data: true,
            exec: true,
            data_slots: 1,
            exec_slots: 1,
            ..Needs::NONE
        },
        run: step_then_exec,
    },
];
