//! RISC-V scenarios: the 13-byte cover on exactly two triggers and the
//! precise refusals past them, load-only watches, and the software
//! step-over (an execute trigger on the next instruction) through a
//! compressed store, a full-width store and a taken branch, where a wrong
//! next-instruction address would leave the hit trigger disarmed for good.
//! The QEMU deviations are pinned by the boards' smoke scenarios, which
//! program the triggers without the registry.

use core::cell::UnsafeCell;
use core::ptr::{read_volatile, write_volatile};

use hwbreak::{ErrorKind, Request};

use crate::record::{self, hits};
use crate::{check, expect_err, Ctx, Guard, Needs, Outcome, Scenario};

pub(crate) static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "riscv_thirteen_bytes_take_two_triggers",
        needs: Needs::DATA.data_slots(2),
        run: thirteen_on_two,
    },
    Scenario {
        name: "riscv_load_watch_ignores_stores",
        needs: Needs::DATA,
        run: load_only,
    },
    Scenario {
        name: "riscv_step_over_compressed_store",
        needs: Needs::DATA,
        run: compressed_store,
    },
    Scenario {
        name: "riscv_step_over_full_width_store",
        needs: Needs::DATA,
        run: full_store,
    },
    Scenario {
        name: "riscv_step_over_taken_branch",
        needs: Needs::EXEC,
        run: taken_branch,
    },
];

/// 64 bytes, 64-aligned, accessed only with volatile operations or the
/// assembly stores below.
#[repr(C, align(64))]
struct Area(UnsafeCell<[u8; 64]>);
// SAFETY: accessed only with volatile operations from one CPU at a time.
unsafe impl Sync for Area {}
static AREA: Area = Area(UnsafeCell::new([0; 64]));

fn ptr(off: usize) -> *mut u8 {
    assert!(off < 64);
    // SAFETY: in bounds (checked above).
    unsafe { AREA.0.get().cast::<u8>().add(off) }
}

fn at(off: usize) -> u64 {
    ptr(off) as u64
}

fn w8(off: usize, v: u8) {
    // SAFETY: a valid pointer into the static area.
    unsafe { write_volatile(ptr(off), v) }
}

fn r8(off: usize) -> u8 {
    // SAFETY: a valid pointer into the static area.
    unsafe { read_volatile(ptr(off)) }
}

fn r64(off: usize) -> u64 {
    assert!(off.is_multiple_of(8));
    // SAFETY: aligned, in bounds.
    unsafe { read_volatile(ptr(off).cast::<u64>()) }
}

fn write(off: usize, len: u64) -> Request {
    Request::write(at(off), len).handler(record::handler, 0)
}

/// `[3, 16)`: 8 bytes then 5, two triggers; a third request finds none,
/// and 17 bytes (8 + 8 + 1) can never be covered by two.
fn thirteen_on_two(ctx: &Ctx) -> Outcome {
    check(
        ctx.data_slots() == 2,
        "this scenario is for a 2-trigger hart",
    )?;
    let mut g = Guard::new(ctx.reg);
    let h = g.register(&write(3, 13)).map_err(|_| "13 bytes refused")?;
    check(
        ctx.armed_count(ctx.data_pool()) == 2,
        "13 bytes did not take exactly 2 triggers",
    )?;
    expect_err(
        ctx.reg.register(&write(40, 1)),
        ErrorKind::NoSlot,
        "a third request was not refused with NoSlot",
    )?;
    w8(2, 1);
    w8(16, 1);
    check(hits(0) == 0, "a byte beside the 13 trapped")?;
    w8(3, 1);
    w8(10, 1);
    w8(11, 1);
    w8(15, 1);
    check(hits(0) == 4, "a byte of the 13 did not trap")?;
    g.unregister(h).map_err(|_| "unregister failed")?;
    expect_err(
        ctx.reg.register(&write(32, 17)),
        ErrorKind::NotCoverable,
        "17 bytes were not refused with NotCoverable",
    )?;
    check(
        ctx.armed_total() == 0,
        "a refused request left a trigger armed",
    )
}

/// A load-only watch (`load` bit alone): stores to the bytes do not trap,
/// a load does, and the loaded value is the stored one.
fn load_only(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&Request::read(at(24), 2).handler(record::handler, 0))
        .map_err(|_| "load watch refused")?;
    w8(24, 7);
    w8(25, 9);
    check(hits(0) == 0, "a store trapped a load watch")?;
    let v = r8(25);
    check(hits(0) == 1, "the load did not trap")?;
    check(v == 9, "the load read the wrong value")
}

// `c.sd a1, 0(a0)` then a jump over a decoy: a step trigger placed 4 bytes
// on (as for a full-width instruction) would sit inside the `j` and never
// fire, leaving the watch disarmed.
core::arch::global_asm!(
    r#"
    .section .text.hwbreak_riscv_stores, "ax"
    .balign 4
    .globl hwbreak_riscv_store_compressed
hwbreak_riscv_store_compressed:
    .option push
    .option rvc
    c.sd a1, 0(a0)
    .option norvc
    j 1f
    addi a1, a1, 100
1:  ret
    .option pop

    .balign 4
    .globl hwbreak_riscv_store_full
hwbreak_riscv_store_full:
    .option push
    .option norvc
    sd a1, 0(a0)
    .option rvc
    c.j 2f
    c.addi a1, 1
2:  ret
    .option pop

    .balign 4
    .globl hwbreak_riscv_branch
hwbreak_riscv_branch:
    .option push
    .option norvc
    beq a0, a0, 3f
    li a0, 0
    ret
3:  li a0, 42
    ret
    .option pop
"#
);

extern "C" {
    fn hwbreak_riscv_store_compressed(at: *mut u64, v: u64);
    fn hwbreak_riscv_store_full(at: *mut u64, v: u64);
    fn hwbreak_riscv_branch(x: u64) -> u64;
}

/// Three stores through `store`, each trapping once; the value lands.
fn stepped_stores(ctx: &Ctx, store: unsafe extern "C" fn(*mut u64, u64)) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    g.register(&write(48, 8)).map_err(|_| "register refused")?;
    for i in 1..=3u64 {
        // SAFETY: an aligned, in-bounds pointer into the static area; the
        // routine stores one doubleword there and returns.
        unsafe { store(ptr(48).cast::<u64>(), 0x1000 + i) };
        check(
            hits(0) == i as u32,
            "a store did not trap exactly once (step over lost?)",
        )?;
        check(r64(48) == 0x1000 + i, "the store did not land")?;
    }
    Ok(())
}

fn compressed_store(ctx: &Ctx) -> Outcome {
    stepped_stores(ctx, hwbreak_riscv_store_compressed)
}

fn full_store(ctx: &Ctx) -> Outcome {
    stepped_stores(ctx, hwbreak_riscv_store_full)
}

/// An execute trigger on a taken `beq`: the step must follow the branch
/// (a step trigger on the fall-through would never fire).
fn taken_branch(ctx: &Ctx) -> Outcome {
    let mut g = Guard::new(ctx.reg);
    let entry = hwbreak_riscv_branch as unsafe extern "C" fn(u64) -> u64 as usize as u64;
    g.register(&Request::execute(entry).handler(record::handler, 0))
        .map_err(|_| "register refused")?;
    for i in 1..=3u32 {
        // SAFETY: the routine only sets a0 and returns.
        let v = unsafe { hwbreak_riscv_branch(core::hint::black_box(1)) };
        check(v == 42, "the branch was not taken")?;
        check(
            hits(0) == i,
            "the breakpoint did not fire once per call (step over lost?)",
        )?;
    }
    check(
        record::address(0) == entry || record::address(0) == record::NO_ADDRESS,
        "reported address is not the branch",
    )
}
