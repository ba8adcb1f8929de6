//! Backend smoke scenarios, before the registry exists: triggers armed
//! through the backend alone, each trap recorded by the trap handler
//! (which then disarms every trigger so that the access can run). They pin
//! what QEMU's trigger emulation does, where it differs from the
//! specification (`docs/qemu-deviations.md`, RISC-V section), and, in
//! S-mode, what OpenSBI answers.

use core::sync::atomic::{compiler_fence, Ordering};

use hwbreak::{AccessKind, Arch, MemoryType, Piece, SlotImage, Space};
use hwbreak_riscv::registers::mcontrol6::Mcontrol6;
use hwbreak_riscv::registers::{AccessBits, MatchKind};
use hwbreak_riscv::{Matching, Riscv, Trap, TriggerType, POOL};
use hwbreak_suite::{check, target, Board, Outcome, Summary};

use crate::{backend, trap};

/// The backend as the specification reads it: one byte per trigger.
static SPEC: Riscv = backend(Matching::Exact);

/// Where the smoke scenarios' bytes live: 64 bytes of the suite's data area
/// (64-byte aligned there). The smoke scenarios run before the suite and
/// leave nothing armed, so sharing it is safe.
const BASE: usize = 384;

fn addr(off: usize) -> u64 {
    target::addr(BASE + off)
}

fn w8(off: usize, v: u8) {
    target::w8(BASE + off, v)
}

fn r8(off: usize) -> u8 {
    target::r8(BASE + off)
}

/// Traps recorded so far, the last one, and the byte its access found in
/// memory when the trap was taken.
fn recorded() -> (u32, Trap, u64) {
    // The trap handler writes what is read here from inside a store the
    // compiler does not know may trap: keep the read after that store.
    compiler_fence(Ordering::SeqCst);
    critical_section::with(|cs| trap::RECORDED.borrow(cs).get())
}

fn arm(slot: usize, image: SlotImage) {
    // SAFETY: this hart, before the registry; the trap handler disarms it
    // when it fires, and `disarm` does otherwise.
    unsafe { SPEC.write_slot(POOL, slot, Some(image)) };
}

fn disarm() {
    for i in 0..SPEC.slot_counts().get(POOL) {
        // SAFETY: as for `arm`.
        unsafe { SPEC.write_slot(POOL, i, None) };
    }
}

fn store_piece(off: usize) -> Piece {
    Piece {
        addr: addr(off),
        len: 1,
        kind: AccessKind::Write,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    }
}

/// QEMU's `virt` hart: 2 triggers of types 2 and 6 (tinfo 0x44), so type 6
/// is used.
fn discovered() -> Outcome {
    let t = SPEC.triggers();
    check(t.count == 2, "QEMU's virt hart should report 2 triggers")?;
    check(t.kind == TriggerType::Mcontrol6, "type 6 should be chosen")
}

/// A byte store the trigger matches traps before the store: memory still
/// holds the old value when the exception is taken, and `epc` is the
/// store.
fn store_traps_before() -> Outcome {
    let before = recorded().0;
    w8(8, 0x11);
    let image = SPEC.encode(&store_piece(8)).map_err(|_| "encode refused")?;
    arm(0, image);
    w8(8, 0x22);
    let (n, t, old) = recorded();
    disarm();
    check(n == before + 1, "the watched store did not trap once")?;
    check(
        old == 0x11,
        "the store had already happened when the trap was taken",
    )?;
    check(
        t.access.is_some_and(|a| a.store && a.addr == addr(8)),
        "decoded access is not the store",
    )?;
    check(r8(8) == 0x22, "the store was lost")
}

/// Deviation: with `match` = 0 and `size` = 0 (accesses of any size) the
/// specification compares addresses with `tdata2`, one byte; QEMU watches
/// the 8 bytes from `tdata2`.
fn size_any_watches_eight() -> Outcome {
    let image = SPEC
        .encode(&store_piece(16))
        .map_err(|_| "encode refused")?;
    let before = recorded().0;
    arm(0, image);
    w8(23, 1);
    let (n, _, _) = recorded();
    disarm();
    check(
        n == before + 1,
        "QEMU no longer traps 7 bytes past a size-0 trigger",
    )?;
    arm(0, image);
    w8(24, 1);
    let (n2, _, _) = recorded();
    disarm();
    check(n2 == n, "QEMU traps 8 bytes past a size-0 trigger")
}

/// Deviation: `size` codes 3 and 5 mean "4-byte" and "8-byte accesses" in
/// the specification (a byte store never matches them); QEMU watches as
/// many bytes from `tdata2` as the code's value, 3 and 5, for accesses of
/// any size.
fn size_code_is_length() -> Outcome {
    for (code, start) in [(3u8, 33usize), (5, 41)] {
        let control = match SPEC.triggers().kind {
            TriggerType::Mcontrol6 => Mcontrol6::new(
                AccessBits::STORE,
                SPEC.privilege(Space::Kernel),
                MatchKind::Equal,
                code,
            )
            .bits(),
            TriggerType::Mcontrol => return Err("QEMU's triggers should take type 6"),
        };
        let image = SlotImage {
            value: addr(start),
            control,
        };
        let last = start + usize::from(code) - 1;
        let before = recorded().0;
        arm(1, image);
        w8(last, 1);
        let (n, _, _) = recorded();
        disarm();
        check(
            n == before + 1,
            "a byte store on the last byte of a size code's length did not trap",
        )?;
        arm(1, image);
        w8(last + 1, 1);
        let (n2, _, _) = recorded();
        disarm();
        check(n2 == n, "a byte store past a size code's length trapped")?;
    }
    Ok(())
}

#[inline(never)]
fn target(x: u64) -> u64 {
    core::hint::black_box(x).wrapping_mul(0x9e37_79b9) ^ 7
}

/// An execute trigger fires before the instruction: `epc` is its address.
fn execute_before() -> Outcome {
    let f: fn(u64) -> u64 = target;
    let at = f as usize as u64;
    let image = SPEC
        .step_image(at, Space::Kernel)
        .map_err(|_| "encode refused")?;
    let before = recorded().0;
    arm(0, image);
    let v = core::hint::black_box(f)(3);
    let (n, t, _) = recorded();
    disarm();
    check(n == before + 1, "the execute trigger did not fire once")?;
    check(t.epc == at, "epc is not the watched instruction")?;
    check(v == target(3), "the function did not run")
}

/// M-mode: what the trigger CSRs keep of a write (WARL). QEMU keeps `match`
/// = 0 only (NAPOT and the ge/lt pair are dropped), never keeps `chain`,
/// and has exactly 2 triggers (`tselect` = 2 does not stick).
#[cfg(feature = "machine")]
fn warl_fields() -> Outcome {
    use hwbreak_riscv::registers::{tdata1, CHAIN};
    let napot = Mcontrol6::new(
        AccessBits::STORE,
        SPEC.privilege(Space::Kernel),
        MatchKind::Napot,
        0,
    );
    // SAFETY: M-mode; trigger 0 is free (nothing armed yet), left disabled.
    let kept = unsafe { hwbreak_riscv::probe_tdata1(0, napot.bits()) };
    check(tdata1::trigger_type(kept) == 6, "type 6 was not kept")?;
    check(
        Mcontrol6::from_bits(kept).match_field() == 0,
        "QEMU now keeps match = 1 (NAPOT)",
    )?;
    check(kept & AccessBits::STORE.0 != 0, "the store bit was dropped")?;
    // SAFETY: as above.
    let kept = unsafe { hwbreak_riscv::probe_tdata1(0, napot.bits() | CHAIN) };
    check(kept & CHAIN == 0, "QEMU now keeps chain")?;
    // SAFETY: as above.
    let kept = unsafe {
        hwbreak_riscv::probe_tdata1(
            0,
            Mcontrol6::new(
                AccessBits::STORE,
                SPEC.privilege(Space::Kernel),
                MatchKind::Less,
                0,
            )
            .bits(),
        )
    };
    check(
        Mcontrol6::from_bits(kept).match_field() == 0,
        "QEMU now keeps match = 3 (lt)",
    )
}

/// S-mode: OpenSBI refuses a trigger that would match in M-mode; it answers
/// SBI_ERR_FAILED (the SBI specification lists SBI_ERR_INVALID_PARAM for an
/// invalid `tdata1`), and nothing is installed.
#[cfg(not(feature = "machine"))]
fn sbi_refuses_m_bit() -> Outcome {
    let mut image = SPEC
        .encode(&store_piece(40))
        .map_err(|_| "encode refused")?;
    image.control |= hwbreak_riscv::registers::Privilege::MACHINE.0;
    arm(0, image);
    let err = hwbreak_riscv::sbi::last_error();
    let before = recorded().0;
    w8(40, 1);
    let n = recorded().0;
    disarm();
    check(n == before, "a refused trigger trapped")?;
    check(err == -1, "OpenSBI's answer to an M-mode trigger changed")
}

/// S-mode: OpenSBI 1.5.1 installs triggers but does not write the chosen
/// index back into the shared memory, so the backend infers it from the
/// allocation order; two installs still land on two triggers that both
/// trap.
#[cfg(not(feature = "machine"))]
fn sbi_index_not_written_back() -> Outcome {
    let a = SPEC
        .encode(&store_piece(48))
        .map_err(|_| "encode refused")?;
    let b = SPEC
        .encode(&store_piece(56))
        .map_err(|_| "encode refused")?;
    arm(0, a);
    arm(1, b);
    let shmem = crate::hart_shmem();
    let indices = (shmem.installed(0), shmem.installed(1));
    let before = recorded().0;
    w8(56, 1);
    let after_b = recorded().0;
    arm(0, a);
    w8(48, 1);
    let after_a = recorded().0;
    disarm();
    check(
        shmem.index_inferred(),
        "OpenSBI now writes the trigger index back",
    )?;
    check(
        indices == (Some(0), Some(1)),
        "the two slots were not given triggers 0 and 1",
    )?;
    check(
        after_b == before + 1 && after_a == after_b + 1,
        "both triggers did not trap",
    )
}

/// A named smoke scenario.
type Smoke = (&'static str, fn() -> Outcome);

/// Runs the smoke scenarios; returns (passed, failed).
pub fn run(board: &dyn Board) -> (u32, u32) {
    let common: [Smoke; 5] = [
        ("riscv_smoke_triggers_discovered", discovered),
        ("riscv_smoke_store_traps_before_access", store_traps_before),
        ("riscv_qemu_size_0_watches_8_bytes", size_any_watches_eight),
        (
            "riscv_qemu_size_code_is_watched_length",
            size_code_is_length,
        ),
        (
            "riscv_smoke_execute_traps_before_instruction",
            execute_before,
        ),
    ];
    #[cfg(feature = "machine")]
    let mode: [Smoke; 1] = [("riscv_qemu_warl_keeps_match_0_only", warl_fields)];
    #[cfg(not(feature = "machine"))]
    let mode: [Smoke; 2] = [
        ("riscv_opensbi_refuses_m_mode_trigger", sbi_refuses_m_bit),
        (
            "riscv_opensbi_index_not_written_back",
            sbi_index_not_written_back,
        ),
    ];
    let mut s = Summary::default();
    for (name, f) in common.into_iter().chain(mode) {
        s.report(board, name, Ok(f()));
    }
    (s.passed, s.failed)
}
