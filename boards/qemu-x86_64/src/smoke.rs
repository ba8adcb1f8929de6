//! Backend smoke checks: the x86 backend's encodings programmed straight
//! into DR0-DR3/DR7 (no registry), with a raw #DB handler that decodes DR6
//! with the backend's decoder against the live DR7. They prove the
//! encoders, the register writes, the decoder and the board's #DB path on
//! their own.

use core::cell::UnsafeCell;
use core::hint::black_box;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hwbreak::native::{dr6, dr7, regs, Trap, X86};
use hwbreak::{AccessKind, Arch, MemoryType, Piece, PoolId, Resume, SlotImage, SlotView, Space};
use hwbreak_suite::{Board, Outcome, Summary};

use crate::cpu::{Frame, RFLAGS_RF};

static HITS: AtomicU32 = AtomicU32::new(0);
static LAST_DR6: AtomicU64 = AtomicU64::new(0);
static LAST_RIP: AtomicU64 = AtomicU64::new(0);

#[repr(C, align(64))]
struct Area(UnsafeCell<[u8; 128]>);
// SAFETY: accessed with volatile operations on one CPU.
unsafe impl Sync for Area {}
static AREA: Area = Area(UnsafeCell::new([0; 128]));

fn at(off: usize) -> *mut u8 {
    assert!(off < 128);
    // SAFETY: in bounds.
    unsafe { AREA.0.get().cast::<u8>().add(off) }
}
fn w8(off: usize) {
    // SAFETY: valid pointer into the static area.
    unsafe { write_volatile(at(off), 1) }
}
fn r8(off: usize) -> u8 {
    // SAFETY: valid pointer into the static area.
    unsafe { read_volatile(at(off)) }
}

#[inline(never)]
fn smoke_target(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x5851_f42d_4c95_7f2d) ^ 0x1405_7b7e_f767_814f
}

/// The live DR7/DR0-DR3 as a slot view for the decoder.
struct Live {
    dr7: u64,
    drs: [u64; 4],
}

impl SlotView for Live {
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
        if pool != PoolId::FIRST || index >= 4 {
            return None;
        }
        let c = dr7::Dr7::new(self.dr7)?.slot(index)?;
        c.is_enabled().then_some(SlotImage {
            value: self.drs[index],
            control: c.bits(),
        })
    }
}

/// The raw #DB handler (RAW_MODE): DR7 off, decode, count, RF for execute
/// hits, DR6 reset, DR7 back.
pub fn on_debug(frame: &mut Frame) {
    // The entry saved DR7 and cleared it: nothing nests while we look.
    let control = frame.dr7;
    // SAFETY: ring 0, inside #DB: reading status and address registers.
    let (status, drs) = unsafe {
        let drs = [
            regs::read_dr(0),
            regs::read_dr(1),
            regs::read_dr(2),
            regs::read_dr(3),
        ];
        (regs::read_dr6(), drs)
    };
    let d = X86::new().decode(&Trap::new(status), &Live { dr7: control, drs });
    let n = HITS.fetch_add(1, Ordering::SeqCst) + 1;
    LAST_DR6.store(status, Ordering::SeqCst);
    LAST_RIP.store(frame.rip, Ordering::SeqCst);
    if d.resume == Some(Resume::SetResumeFlag) {
        frame.rflags |= RFLAGS_RF;
    }
    // A runaway (e.g. RF not honoured) must end the check, not hang it.
    let restore = if n > 1000 { dr7::RESET } else { control };
    // SAFETY: ring 0, inside #DB: clear sticky status, re-arm.
    unsafe {
        regs::write_dr6(dr6::RESET);
        regs::write_dr7(restore);
    }
}

fn piece(addr: u64, len: u64, kind: AccessKind) -> Piece {
    Piece {
        addr,
        len,
        kind,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    }
}

/// Arms the given slots directly from the backend's encodings.
fn arm(x: &X86, slots: &[(usize, Piece)]) -> Result<(), &'static str> {
    let mut table = [None; 4];
    for (n, p) in slots {
        let img = x.encode(p).map_err(|_| "encode refused")?;
        table[*n] = Some(img);
    }
    // SAFETY: ring 0; the addresses are this kernel's own static data or code.
    unsafe {
        regs::write_dr7(dr7::RESET);
        for (n, t) in table.iter().enumerate() {
            regs::write_dr(n, t.map_or(0, |i| i.value));
        }
        regs::write_dr7(x.control_word(PoolId::FIRST, &table));
    }
    Ok(())
}

fn disarm() {
    // SAFETY: ring 0.
    unsafe { regs::clear_all() };
}

fn reset() {
    HITS.store(0, Ordering::SeqCst);
    LAST_DR6.store(0, Ordering::SeqCst);
}

fn check(c: bool, why: &'static str) -> Outcome {
    if c {
        Ok(())
    } else {
        Err(why)
    }
}

fn hits() -> u32 {
    HITS.load(Ordering::SeqCst)
}

fn bits() -> u64 {
    LAST_DR6.load(Ordering::SeqCst) & 0xf
}

fn write_each_slot() -> Outcome {
    let x = X86::new();
    for n in 0..4 {
        reset();
        arm(&x, &[(n, piece(at(8 * n) as u64, 8, AccessKind::Write))])?;
        let _ = r8(8 * n);
        check(hits() == 0, "a load hit a write watch")?;
        w8(8 * n + 7);
        check(hits() == 1, "store did not trap")?;
        check(bits() == 1 << n, "DR6 names the wrong slot")?;
        disarm();
    }
    Ok(())
}

fn lengths() -> Outcome {
    let x = X86::new();
    for len in [1usize, 2, 4, 8] {
        reset();
        arm(
            &x,
            &[(2, piece(at(64) as u64, len as u64, AccessKind::Write))],
        )?;
        w8(63);
        w8(64 + len);
        check(hits() == 0, "a byte outside the length trapped")?;
        w8(64 + len - 1);
        check(hits() == 1 && bits() == 0b100, "last byte did not trap")?;
        disarm();
    }
    Ok(())
}

fn read_write() -> Outcome {
    reset();
    arm(
        &X86::new(),
        &[(3, piece(at(32) as u64, 4, AccessKind::ReadWrite))],
    )?;
    let _ = r8(35);
    let got = (hits(), bits());
    disarm();
    check(
        got == (1, 0b1000),
        "load did not trap a read/write watch on DR3",
    )
}

fn execute_rf() -> Outcome {
    reset();
    let f = smoke_target as fn(u64) -> u64;
    arm(
        &X86::new(),
        &[(1, piece(f as usize as u64, 1, AccessKind::Execute))],
    )?;
    let mut acc = 0;
    for i in 0..3 {
        acc ^= black_box(f)(i);
    }
    black_box(acc);
    let got = (hits(), bits(), LAST_RIP.load(Ordering::SeqCst));
    disarm();
    check(got.0 == 3, "not exactly one trap per call (RF)")?;
    check(got.1 == 0b10, "DR6 names the wrong slot")?;
    check(
        got.2 == f as usize as u64,
        "trap not at the function's first byte",
    )
}

fn dr6_not_sticky() -> Outcome {
    reset();
    arm(
        &X86::new(),
        &[
            (0, piece(at(80) as u64, 1, AccessKind::Write)),
            (1, piece(at(88) as u64, 1, AccessKind::Write)),
        ],
    )?;
    w8(80);
    let first = bits();
    w8(88);
    let second = bits();
    disarm();
    check(first == 0b01, "first hit not B0")?;
    check(
        second == 0b10,
        "B0 stayed set in DR6 (not reset after the first #DB)",
    )
}

fn io_port() -> Outcome {
    reset();
    // SAFETY: kmain set CR4.DE before running these checks.
    let x = unsafe { X86::with_io_breakpoints() };
    arm(&x, &[(0, piece(0x80, 1, AccessKind::Io))])?;
    // SAFETY: ring 0; ports 0x80/0x81 have no device on microvm.
    unsafe {
        crate::serial::outb(0x81, 0);
        let before = hits();
        crate::serial::outb(0x80, 0);
        disarm();
        check(before == 0, "neighbouring port trapped")?;
    }
    check(hits() == 1 && bits() == 1, "port write did not trap")
}

/// Runs the smoke checks (RAW_MODE must be on).
pub fn run(board: &dyn Board) -> Summary {
    let mut s = Summary::default();
    type Check = (&'static str, fn() -> Outcome);
    let checks: [Check; 6] = [
        ("x86_smoke_write_each_slot", write_each_slot),
        ("x86_smoke_lengths_1_2_4_8", lengths),
        ("x86_smoke_read_write_load", read_write),
        ("x86_smoke_execute_once_per_call_rf", execute_rf),
        ("x86_smoke_dr6_reset_between_hits", dr6_not_sticky),
        ("x86_smoke_io_port", io_port),
    ];
    for (name, f) in checks {
        let r = f();
        disarm();
        s.report(board, name, Ok(r));
    }
    s
}
