//! Backend-level checks run before the shared suite: the encoder's images,
//! written through the hcall route, raise real interrupts that the board's
//! trap path captures and the backend decodes.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hwbreak::native::{route, Dsisr, Family, Ppc64, Srr1, Trap, CODE_POOL, DATA_POOL};
use hwbreak::{AccessKind, Arch, MemoryType, Piece, Resume, Space};

use hwbreak_suite::Summary;

/// The backend as this build selected it.
static ARCH: Ppc64 = Ppc64::native();

static HITS: AtomicU32 = AtomicU32::new(0);
static STEPS: AtomicU32 = AtomicU32::new(0);
static LAST_VECTOR: AtomicU64 = AtomicU64::new(0);
static LAST_SRR0: AtomicU64 = AtomicU64::new(0);
static LAST_DAR: AtomicU64 = AtomicU64::new(0);
static LAST_LEN: AtomicU32 = AtomicU32::new(0);
static LAST_RAW_DAR: AtomicU64 = AtomicU64::new(0);
static LAST_DSISR: AtomicU64 = AtomicU64::new(0);
static LAST_SRR1: AtomicU64 = AtomicU64::new(0);
static LAST_STORE: AtomicU32 = AtomicU32::new(0);
static REARM_VALUE: AtomicU64 = AtomicU64::new(0);
static REARM_CONTROL: AtomicU64 = AtomicU64::new(0);

#[repr(align(8))]
struct Target([u64; 4]);
static mut TARGET: Target = Target([0; 4]);

fn target_addr(i: usize) -> u64 {
    // SAFETY: only the address is taken.
    unsafe { core::ptr::addr_of_mut!(TARGET.0[i]) as u64 }
}

fn write_target(i: usize, v: u64) {
    // SAFETY: a plain static, accessed volatile so the store really happens.
    unsafe { core::ptr::addr_of_mut!(TARGET.0[i]).write_volatile(v) }
}

fn disarm_all() {
    for i in 0..ARCH.family().data_slots() {
        // SAFETY: this CPU; disarming is always valid.
        unsafe { ARCH.write_slot(DATA_POOL, i, None) };
    }
    if ARCH.family().code_slots() > 0 {
        // SAFETY: as above.
        unsafe { ARCH.write_slot(CODE_POOL, 0, None) };
    }
}

fn record(trap: &Trap) {
    HITS.fetch_add(1, Ordering::SeqCst);
    LAST_VECTOR.store(trap.vector, Ordering::SeqCst);
    LAST_SRR0.store(trap.srr0, Ordering::SeqCst);
    LAST_DAR.store(trap.access.map_or(trap.dar, |a| a.ea), Ordering::SeqCst);
    LAST_LEN.store(
        trap.access.map_or(0, |a| u32::from(a.len)),
        Ordering::SeqCst,
    );
    LAST_RAW_DAR.store(trap.dar, Ordering::SeqCst);
    LAST_DSISR.store(trap.dsisr, Ordering::SeqCst);
    LAST_SRR1.store(trap.srr1, Ordering::SeqCst);
    LAST_STORE.store(
        u32::from(trap.access.is_some_and(|a| a.store)),
        Ordering::SeqCst,
    );
}

/// Records the hit and disarms everything: the access then simply runs.
fn capture(trap: &Trap) -> Option<Resume> {
    if trap.stepping {
        return None;
    }
    record(trap);
    disarm_all();
    Some(Resume::Continue)
}

/// Steps over the hit with DAWR0 disarmed, then re-arms it.
fn step_over(trap: &Trap) -> Option<Resume> {
    if trap.stepping {
        STEPS.fetch_add(1, Ordering::SeqCst);
        let image = hwbreak::SlotImage {
            value: REARM_VALUE.load(Ordering::SeqCst),
            control: REARM_CONTROL.load(Ordering::SeqCst),
        };
        // SAFETY: this CPU; the image came from `encode`.
        unsafe { ARCH.write_slot(DATA_POOL, 0, Some(image)) };
        return Some(Resume::EndSingleStep);
    }
    record(trap);
    // SAFETY: this CPU.
    unsafe { ARCH.write_slot(DATA_POOL, 0, None) };
    Some(Resume::SingleStep)
}

fn reset() {
    HITS.store(0, Ordering::SeqCst);
    STEPS.store(0, Ordering::SeqCst);
    LAST_VECTOR.store(0, Ordering::SeqCst);
}

fn data_piece(addr: u64, len: u64, kind: AccessKind) -> Piece {
    Piece {
        addr,
        len,
        kind,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    }
}

fn dawr0_write() -> Result<(), &'static str> {
    crate::trap::set_hook(capture);
    reset();
    let addr = target_addr(1);
    let image = ARCH
        .encode(&data_piece(addr, 8, AccessKind::Write))
        .map_err(|_| "encode")?;
    // SAFETY: this CPU; image from `encode`.
    unsafe { ARCH.write_slot(DATA_POOL, 0, Some(image)) };
    if hwbreak::native::last_status() != route::H_SUCCESS {
        return Err("H_SET_MODE(DAWR0) refused");
    }
    write_target(1, 0x55);
    disarm_all();
    if HITS.load(Ordering::SeqCst) != 1 {
        return Err("no DSI");
    }
    if LAST_VECTOR.load(Ordering::SeqCst) != 0x300 {
        return Err("not vector 0x300");
    }
    if LAST_DAR.load(Ordering::SeqCst) != addr || LAST_LEN.load(Ordering::SeqCst) != 8 {
        return Err("wrong address or length");
    }
    if LAST_STORE.load(Ordering::SeqCst) != 1 {
        return Err("the decoded access is not a store");
    }
    Ok(())
}

/// QEMU deviation: DSISR of a watchpoint DSI never has the store bit
/// (ISA bit 38), so it cannot tell a load from a store; the decoded
/// instruction can.
fn dsisr_store_bit_missing() -> Result<(), &'static str> {
    crate::trap::set_hook(capture);
    reset();
    let addr = target_addr(1);
    let image = ARCH
        .encode(&data_piece(addr, 8, AccessKind::Write))
        .map_err(|_| "encode")?;
    // SAFETY: this CPU; image from `encode`.
    unsafe { ARCH.write_slot(DATA_POOL, 0, Some(image)) };
    write_target(1, 0x66);
    disarm_all();
    let dsisr = Dsisr(LAST_DSISR.load(Ordering::SeqCst));
    if HITS.load(Ordering::SeqCst) != 1 || !dsisr.watchpoint_match() {
        return Err("no watchpoint DSI");
    }
    if dsisr.store() {
        return Err("QEMU deviation gone: DSISR says store (update docs)");
    }
    if LAST_STORE.load(Ordering::SeqCst) != 1 {
        return Err("the decoder did not recover the store");
    }
    Ok(())
}

/// Stores a word at a possibly unaligned address with one `stw`.
fn stw(addr: u64, v: u32) {
    // SAFETY: `addr` points into our own static target area; `stw` is
    // allowed unaligned in big-endian mode.
    unsafe {
        core::arch::asm!("stw {v}, 0({a})", v = in(reg) u64::from(v), a = in(reg_nonzero) addr, options(nostack))
    };
}

/// QEMU deviation: an access starting below the watched doubleword reports
/// DAR = the watched doubleword's start, not the access's address; the
/// decoded instruction gives the real address and length.
fn dar_partial_overlap() -> Result<(), &'static str> {
    crate::trap::set_hook(capture);
    reset();
    let watched = target_addr(2);
    let image = ARCH
        .encode(&data_piece(watched, 8, AccessKind::Write))
        .map_err(|_| "encode")?;
    // SAFETY: this CPU; image from `encode`.
    unsafe { ARCH.write_slot(DATA_POOL, 0, Some(image)) };
    stw(watched - 2, 0x1122_3344);
    disarm_all();
    if HITS.load(Ordering::SeqCst) != 1 {
        return Err("a straddling store did not trap");
    }
    if LAST_DAR.load(Ordering::SeqCst) != watched - 2 || LAST_LEN.load(Ordering::SeqCst) != 4 {
        return Err("the decoded access is not the 4-byte store at watched - 2");
    }
    if LAST_RAW_DAR.load(Ordering::SeqCst) != watched {
        return Err("QEMU deviation gone: DAR is not the watched start (update docs)");
    }
    Ok(())
}

/// QEMU deviation: H_SET_MODE accepts DAWR1 before POWER10 (and POWER7
/// accepts H_SET_XDABR) although nothing traps: success is not arming.
fn dawr1_accepted_never_traps() -> Result<(), &'static str> {
    crate::trap::set_hook(capture);
    reset();
    let p10 = Ppc64::new(Family::Dawr2);
    let addr = target_addr(3);
    let image = p10
        .encode(&data_piece(addr, 8, AccessKind::Write))
        .map_err(|_| "encode")?;
    // SAFETY: this CPU; image from `encode` (DAWR1 layout = DAWR0 layout).
    unsafe { p10.write_slot(DATA_POOL, 1, Some(image)) };
    let status = hwbreak::native::last_status();
    write_target(3, 9);
    // SAFETY: as above.
    unsafe { p10.write_slot(DATA_POOL, 1, None) };
    if status != route::H_SUCCESS {
        return Err("QEMU deviation gone: H_SET_MODE(DAWR1) refused (update docs)");
    }
    if HITS.load(Ordering::SeqCst) != 0 {
        return Err("DAWR1 trapped before POWER10 (update docs and caps)");
    }
    Ok(())
}

fn dawr0_step_over() -> Result<(), &'static str> {
    crate::trap::set_hook(step_over);
    reset();
    let addr = target_addr(2);
    let image = ARCH
        .encode(&data_piece(addr, 8, AccessKind::Write))
        .map_err(|_| "encode")?;
    REARM_VALUE.store(image.value, Ordering::SeqCst);
    REARM_CONTROL.store(image.control, Ordering::SeqCst);
    // SAFETY: this CPU; image from `encode`.
    unsafe { ARCH.write_slot(DATA_POOL, 0, Some(image)) };
    write_target(2, 1);
    write_target(2, 2);
    disarm_all();
    // SAFETY: plain read of our static.
    let v = unsafe { core::ptr::addr_of!(TARGET.0[2]).read_volatile() };
    if HITS.load(Ordering::SeqCst) != 2 || STEPS.load(Ordering::SeqCst) != 2 {
        return Err("expected two hits and two completed steps");
    }
    if v != 2 {
        return Err("the stepped stores did not happen");
    }
    if crate::trap::stepping() {
        return Err("single step still armed");
    }
    Ok(())
}

#[inline(never)]
extern "C" fn exec_target(x: u64) -> u64 {
    core::hint::black_box(x.wrapping_mul(3))
}

/// The code address of an ELFv1 function (its descriptor's first word).
fn code_address(f: extern "C" fn(u64) -> u64) -> u64 {
    // SAFETY: ELFv1 function pointers point at a descriptor whose first
    // doubleword is the entry address.
    unsafe { (f as usize as *const u64).read_volatile() }
}

fn ciabr_execute() -> Result<(), &'static str> {
    crate::trap::set_hook(capture);
    reset();
    let pc = code_address(exec_target);
    let piece = Piece {
        addr: pc,
        len: 1,
        kind: AccessKind::Execute,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    };
    let image = ARCH.encode(&piece).map_err(|_| "encode")?;
    // SAFETY: this CPU; image from `encode`.
    unsafe { ARCH.write_slot(CODE_POOL, 0, Some(image)) };
    if hwbreak::native::last_status() != route::H_SUCCESS {
        return Err("H_SET_MODE(CIABR) refused");
    }
    let r = core::hint::black_box(exec_target)(5);
    disarm_all();
    if r != 15 {
        return Err("target did not run");
    }
    if HITS.load(Ordering::SeqCst) != 1 || LAST_VECTOR.load(Ordering::SeqCst) != 0xd00 {
        return Err("no trace interrupt");
    }
    if LAST_SRR0.load(Ordering::SeqCst) != pc {
        return Err("SRR0 is not the target");
    }
    if !Srr1(LAST_SRR1.load(Ordering::SeqCst)).ciabr_match() {
        return Err("SRR1[33] (CIABR match) not set");
    }
    Ok(())
}

fn stack_pointer() -> u64 {
    let sp: u64;
    // SAFETY: reads r1.
    unsafe { core::arch::asm!("mr {0}, 1", out(reg) sp, options(nomem, nostack)) };
    sp
}

static OUTER_SP: AtomicU64 = AtomicU64::new(0);
static NESTED_SP: AtomicU64 = AtomicU64::new(0);
static NESTED_RESULT: AtomicU64 = AtomicU64::new(0);

/// The DAWR0 hit calls a function CIABR watches from inside the handler:
/// the execute trap nests in the data trap's handler.
fn nesting(trap: &Trap) -> Option<Resume> {
    if trap.stepping {
        return None;
    }
    if trap.vector == 0xd00 {
        NESTED_SP.store(stack_pointer(), Ordering::SeqCst);
        disarm_all();
        return Some(Resume::Continue);
    }
    record(trap);
    // SAFETY: this CPU; disarming is always valid.
    unsafe { ARCH.write_slot(DATA_POOL, 0, None) };
    OUTER_SP.store(stack_pointer(), Ordering::SeqCst);
    let r = core::hint::black_box(exec_target as extern "C" fn(u64) -> u64)(7);
    NESTED_RESULT.store(r, Ordering::SeqCst);
    Some(Resume::Continue)
}

/// A debug interrupt taken inside a handler goes below the handler's frame
/// on the same exception stack, and both return where they came from.
fn nested_exception() -> Result<(), &'static str> {
    crate::trap::set_hook(nesting);
    reset();
    for v in [&OUTER_SP, &NESTED_SP, &NESTED_RESULT] {
        v.store(0, Ordering::SeqCst);
    }
    let exec = Piece {
        addr: code_address(exec_target),
        len: 1,
        kind: AccessKind::Execute,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    };
    let code = ARCH.encode(&exec).map_err(|_| "encode")?;
    let data = ARCH
        .encode(&data_piece(target_addr(1), 8, AccessKind::Write))
        .map_err(|_| "encode")?;
    // SAFETY: this CPU; images from `encode`.
    unsafe {
        ARCH.write_slot(CODE_POOL, 0, Some(code));
        ARCH.write_slot(DATA_POOL, 0, Some(data));
    }
    write_target(1, 0x5a);
    disarm_all();
    // SAFETY: a plain static.
    let stored = unsafe { core::ptr::addr_of!(TARGET.0[1]).read_volatile() };
    let (bottom, top) = crate::smp::exception_stack(crate::smp::this_cpu());
    let (outer, nested) = (
        OUTER_SP.load(Ordering::SeqCst),
        NESTED_SP.load(Ordering::SeqCst),
    );
    if HITS.load(Ordering::SeqCst) != 1 || nested == 0 {
        return Err("the data trap or the nested execute trap did not happen");
    }
    if !(bottom..top).contains(&outer) || !(bottom..top).contains(&nested) {
        return Err("a handler did not run on the exception stack");
    }
    if nested >= outer {
        return Err("the nested handler's frame is not below the outer one");
    }
    if NESTED_RESULT.load(Ordering::SeqCst) != 21 || stored != 0x5a {
        return Err("the interrupted code did not resume correctly");
    }
    Ok(())
}

fn dabr_hcall() -> Result<(), &'static str> {
    crate::trap::set_hook(capture);
    reset();
    let addr = target_addr(0);
    let image = ARCH
        .encode(&data_piece(addr, 8, AccessKind::Write))
        .map_err(|_| "encode")?;
    // SAFETY: this CPU; image from `encode`.
    unsafe { ARCH.write_slot(DATA_POOL, 0, Some(image)) };
    let status = hwbreak::native::last_status();
    let (dabr, dabrx): (u64, u64);
    // SAFETY: reading DABR/DABRX has no side effect (privileged state may
    // read them on POWER7).
    unsafe {
        core::arch::asm!("mfspr {0}, 1013", "mfspr {1}, 1015", out(reg) dabr, out(reg) dabrx, options(nomem, nostack))
    };
    write_target(0, 7);
    disarm_all();
    if (dabr, dabrx) != (image.value, image.control) {
        return Err("DABR/DABRX do not hold the encoded image");
    }
    if status != route::H_SUCCESS {
        return Err("H_SET_XDABR refused");
    }
    if HITS.load(Ordering::SeqCst) != 0 {
        return Err("DABR trapped (QEMU deviation gone? update the docs)");
    }
    Ok(())
}

type Check = (&'static str, fn() -> Result<(), &'static str>, bool);

/// Runs the checks this family supports (lines only, no summary line).
pub fn run(board: &dyn hwbreak_suite::Board) -> Summary {
    let dawr = ARCH.family() != Family::Dabr;
    let p9 = ARCH.family() == Family::Dawr;
    let checks: [Check; 8] = [
        ("ppc64_smoke_dawr0_write_traps", dawr0_write, dawr),
        (
            "ppc64_qemu_dsisr_store_bit_missing",
            dsisr_store_bit_missing,
            dawr,
        ),
        ("ppc64_qemu_dar_partial_overlap", dar_partial_overlap, dawr),
        (
            "ppc64_qemu_dawr1_hcall_accepted_never_traps",
            dawr1_accepted_never_traps,
            p9,
        ),
        ("ppc64_smoke_dawr0_step_over", dawr0_step_over, dawr),
        ("ppc64_smoke_ciabr_execute_traps", ciabr_execute, dawr),
        (
            "ppc64_smoke_nested_exception_on_exception_stack",
            nested_exception,
            dawr,
        ),
        (
            "ppc64_smoke_dabr_hcall_stores_exact_image",
            dabr_hcall,
            !dawr,
        ),
    ];
    let mut s = Summary::default();
    for (name, f, applies) in checks {
        let result = if applies {
            Ok(f())
        } else {
            Err("not this register family or CPU model")
        };
        s.report(board, name, result);
    }
    crate::trap::set_hook(capture);
    s
}
