//! `Registry::modify_local`: re-pointing a system-wide breakpoint on one
//! CPU from atomic context, on the model machine.

mod common;

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use common::*;
use hwbreak_core::model::{on_cpu, Config, Write};
use hwbreak_core::{
    AccessKind, Arch, CpuId, ErrorKind, Event, EventKind, Handle, Request, Scope, TaskId,
};

const A: u64 = 0xffff_8000_0010_0000;
const B: u64 = A + 0x100;

fn watch(addr: u64, len: u64, ctx: usize) -> Request {
    Request::write(addr, len).handler(count, ctx)
}

fn traps(r: &Rig, cpu: u32, addr: u64, len: u64) -> bool {
    r.access(cpu, addr, len, AccessKind::Write).is_some()
}

#[test]
fn only_the_calling_cpu_is_re_pointed() {
    for config in [Config::x86_like(4), Config::arm_like(4)] {
        let r = rig(config);
        let c = counter();
        let h = r.reg.register(&watch(A, 8, c)).unwrap();
        on_cpu(2, || r.reg.modify_local(h, &Request::write(B, 8))).unwrap();
        for cpu in 0..4 {
            assert_eq!(traps(&r, cpu, B, 8), cpu == 2, "{config:?} cpu {cpu} at B");
            assert_eq!(traps(&r, cpu, A, 8), cpu != 2, "{config:?} cpu {cpu} at A");
            assert!(r.consistent(cpu), "{config:?} cpu {cpu}");
        }
        // One hit per CPU, each to the registration's handler.
        assert_eq!(hits(c), 4);
        // The registry's view of CPU 2 is what CPU 2 watches.
        let pool = r.reg.arch().pool_of(AccessKind::Write).unwrap();
        let n = r.reg.slot_counts().get(pool);
        let armed = |cpu| {
            on_cpu(cpu, || {
                (0..n)
                    .filter_map(|i| r.reg.armed_slot(pool, i).unwrap())
                    .map(|image| image.value)
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!((armed(2), armed(1)), (vec![B], vec![A]));
    }
}

#[test]
fn the_reported_address_is_the_re_pointed_one() {
    let r = rig(Config::arm_like(2));
    let c = counter();
    let h = r.reg.register(&watch(A, 8, c)).unwrap();
    on_cpu(1, || r.reg.modify_local(h, &Request::write(B + 4, 4))).unwrap();
    // Bytes B..B+4 are beside the re-pointed range: filtered, not reported.
    let out = r.access(1, B, 4, AccessKind::Write);
    assert!(out.is_none_or(|o| o.delivered == 0));
    assert_eq!(
        r.access(1, B + 6, 1, AccessKind::Write).unwrap().delivered,
        1
    );
    assert_eq!(last_addr(c), B + 6);
}

#[test]
fn it_takes_no_lock_and_touches_no_other_cpu() {
    let r = rig(Config::x86_like(4));
    let c = counter();
    let h = r.reg.register(&watch(A, 8, c)).unwrap();
    r.machine.clear_log();
    let (done, finished) = mpsc::channel();
    // Another CPU holds the registry's lock (an updating call in progress)
    // for as long as the local modify runs: it must finish regardless.
    std::thread::scope(|s| {
        critical_section::with(|_| {
            s.spawn(|| {
                let res = on_cpu(1, || r.reg.modify_local(h, &Request::write(B, 4)));
                done.send(res).unwrap();
            });
            // A deadlock detector, not a speed check: the call needs no
            // time bound, only not to wait for this lock.
            let res = finished.recv_timeout(Duration::from_secs(120));
            assert_eq!(res, Ok(Ok(())), "modify_local waited for the lock");
        });
    });
    let log = r.machine.log();
    assert!(!log.is_empty());
    for w in &log {
        let cpu = match *w {
            Write::Slot { cpu, .. } | Write::Control { cpu, .. } | Write::Armed { cpu, .. } => cpu,
        };
        assert_eq!(cpu, 1, "wrote another CPU's registers: {w:?}");
    }
    // Slot first, then its control word: never a control word naming
    // settings the slot does not hold yet.
    assert!(matches!(log.first(), Some(Write::Slot { .. })));
    assert!(r.consistent(1));
}

#[test]
fn no_cpu_is_left_with_torn_settings_across_updates() {
    let r = rig(Config::x86_like(4));
    let c = counter();
    let h = r.reg.register(&watch(A, 8, c)).unwrap();
    // A new length changes the control word's bits for that slot.
    on_cpu(1, || r.reg.modify_local(h, &Request::write(B, 2))).unwrap();
    assert!(r.consistent(1));
    assert!(traps(&r, 1, B + 1, 1) && !traps(&r, 1, B + 2, 1));
    // Other updates reload CPU 1: the local settings stay whole.
    let other = r.reg.register(&watch(A + 64, 8, c)).unwrap();
    for cpu in 0..4 {
        assert!(r.consistent(cpu), "cpu {cpu}");
    }
    assert!(traps(&r, 1, B + 1, 1) && !traps(&r, 1, B + 2, 1) && !traps(&r, 1, A, 1));
    assert!(traps(&r, 1, A + 64, 8));
    r.reg.unregister(other).unwrap();
    // A full reload (the CPU lost its registers) restores them too.
    r.machine.wipe(1);
    on_cpu(1, || r.reg.cpu_online()).unwrap();
    assert!(r.consistent(1));
    assert!(traps(&r, 1, B + 1, 1) && !traps(&r, 1, A, 1));
    // An update of the breakpoint itself drops the local settings.
    r.reg.modify(h, &watch(A + 8, 4, c)).unwrap();
    for cpu in 0..4 {
        assert!(r.consistent(cpu), "cpu {cpu}");
        assert!(
            traps(&r, cpu, A + 8, 4) && !traps(&r, cpu, B, 2),
            "cpu {cpu}"
        );
    }
}

#[test]
fn offline_and_disable_drop_the_local_settings() {
    let r = rig(Config::arm_like(2));
    let c = counter();
    let h = r.reg.register(&watch(A, 8, c)).unwrap();
    on_cpu(1, || r.reg.modify_local(h, &Request::write(B, 8))).unwrap();
    r.machine.set_online(1, false);
    on_cpu(1, || r.reg.cpu_offline()).unwrap();
    r.machine.set_online(1, true);
    on_cpu(1, || r.reg.cpu_online()).unwrap();
    assert!(traps(&r, 1, A, 8) && !traps(&r, 1, B, 8));
    on_cpu(1, || r.reg.modify_local(h, &Request::write(B, 8))).unwrap();
    r.reg.disable(h).unwrap();
    r.reg.enable(h).unwrap();
    assert!(traps(&r, 1, A, 8) && !traps(&r, 1, B, 8));
    assert!(r.consistent(1));
}

#[test]
fn refusals_change_nothing() {
    let r = rig(Config::x86_like(2));
    let c = counter();
    let h = r.reg.register(&watch(A, 8, c)).unwrap();
    let task = r
        .reg
        .register(&watch(A + 64, 8, c).scope(Scope::Task(TaskId(1))))
        .unwrap();
    r.switch(1, Some(1));
    let before = r.machine.all_regs();
    let refuse = |h: Handle, req: Request| on_cpu(1, || r.reg.modify_local(h, &req)).unwrap_err();
    // Sixteen bytes need two slots; the breakpoint holds one.
    assert_eq!(refuse(h, Request::write(B, 16)).kind(), ErrorKind::NotLocal);
    // x86 has no read-only watch.
    assert_eq!(
        refuse(h, Request::read(B, 8)).kind(),
        ErrorKind::UnsupportedKind
    );
    // Only system-wide settings are re-pointed locally.
    let on_cpu_1 = Request::write(B, 8).scope(Scope::Cpu(CpuId(1)));
    assert_eq!(refuse(h, on_cpu_1).kind(), ErrorKind::ScopeChange);
    assert_eq!(
        refuse(task, Request::write(B, 8)).kind(),
        ErrorKind::NotLocal
    );
    // Identical requests share slots: re-pointing them would move both.
    let twin = r.reg.register(&watch(A, 8, c)).unwrap();
    assert_eq!(refuse(h, Request::write(B, 8)).kind(), ErrorKind::NotLocal);
    r.reg.unregister(twin).unwrap();
    let before_disabled = r.machine.all_regs();
    r.reg.disable(h).unwrap();
    assert_eq!(refuse(h, Request::write(B, 8)).kind(), ErrorKind::NotLocal);
    r.reg.enable(h).unwrap();
    assert_eq!(r.machine.all_regs(), before_disabled);
    // A removed breakpoint whose entry was reused.
    r.reg.unregister(h).unwrap();
    let reuse = r.reg.register(&watch(A, 8, c)).unwrap();
    assert_eq!(reuse.index(), h.index());
    assert_eq!(
        refuse(h, Request::write(B, 8)).kind(),
        ErrorKind::StaleHandle
    );
    assert_eq!(r.machine.all_regs(), before);
}

// ---------------------------------------------------------------------
// From inside a handler, on a machine that steps over data hits
// ---------------------------------------------------------------------

static REGISTRY: AtomicPtr<Reg> = AtomicPtr::new(core::ptr::null_mut());
static MOVING: Mutex<Option<Handle>> = Mutex::new(None);
static SEEN: Mutex<Vec<(u32, Option<u64>)>> = Mutex::new(Vec::new());

/// Records the hit, then re-points its own breakpoint to B on this CPU.
fn move_to_b(e: &Event) {
    if e.kind != EventKind::Hit {
        return;
    }
    SEEN.lock().unwrap().push((e.cpu.0, e.address));
    let h = MOVING.lock().unwrap().unwrap();
    // SAFETY: the test stores a pointer to a registry that outlives it.
    let reg = unsafe { &*REGISTRY.load(Ordering::SeqCst) };
    reg.modify_local(h, &Request::write(B, 8)).unwrap();
}

#[test]
fn a_handler_re_points_its_own_breakpoint_mid_step() {
    let r = rig(Config::arm_like(3));
    REGISTRY.store(&*r.reg as *const Reg as *mut Reg, Ordering::SeqCst);
    let h = r
        .reg
        .register(&Request::write(A, 8).handler(move_to_b, 0))
        .unwrap();
    *MOVING.lock().unwrap() = Some(h);
    // The hit on A asks for a step over the store; the handler re-points
    // the slot meanwhile; the step's end re-arms it with the new settings.
    assert!(traps(&r, 1, A, 8));
    assert!(r.consistent(1));
    assert!(!traps(&r, 1, A, 8) && traps(&r, 1, B, 8));
    // The other CPUs still watch A until their own handler moves them.
    assert!(!traps(&r, 2, B, 8) && traps(&r, 2, A, 8) && traps(&r, 2, B, 8));
    assert!(!traps(&r, 0, B, 8));
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(1, Some(A)), (1, Some(B)), (2, Some(A)), (2, Some(B))]
    );
    REGISTRY.store(core::ptr::null_mut(), Ordering::SeqCst);
}

/// On one pool (x86) and on the second of two (AArch64's watchpoints, whose
/// entries must not be taken for another pool's).
#[test]
fn a_cpu_re_points_two_slots_at_most_and_refuses_a_third_changing_nothing() {
    for config in [Config::x86_like(2), Config::arm_like(2)] {
        let r = rig(config);
        let c = counter();
        let hs: Vec<Handle> = (0..3)
            .map(|i| r.reg.register(&watch(A + 0x40 * i, 8, c)).unwrap())
            .collect();
        for (i, &h) in hs[..2].iter().enumerate() {
            on_cpu(1, || {
                r.reg
                    .modify_local(h, &Request::write(B + 0x40 * i as u64, 8))
            })
            .unwrap();
        }
        let before = r.machine.all_regs();
        let err = on_cpu(1, || {
            r.reg.modify_local(hs[2], &Request::write(B + 0x80, 8))
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotLocal);
        assert_eq!(r.machine.all_regs(), before);
        assert!(traps(&r, 1, A + 0x80, 8) && !traps(&r, 1, B + 0x80, 8));
        // Re-pointing one of the two again takes no further room.
        on_cpu(1, || {
            r.reg.modify_local(hs[1], &Request::write(B + 0x48, 8))
        })
        .unwrap();
        assert!(traps(&r, 1, B + 0x48, 8) && !traps(&r, 1, B + 0x40, 8));
        // An update of a re-pointed breakpoint gives its entry back.
        r.reg.modify(hs[0], &Request::write(A + 8, 8)).unwrap();
        on_cpu(1, || {
            r.reg.modify_local(hs[2], &Request::write(B + 0x80, 8))
        })
        .unwrap();
        assert!(traps(&r, 1, B + 0x80, 8) && !traps(&r, 1, A + 0x80, 8));
        assert!(traps(&r, 1, A + 8, 8) && traps(&r, 1, B + 0x48, 8));
        assert!(traps(&r, 0, A + 0x80, 8) && traps(&r, 0, A + 0x40, 8));
        assert!(r.consistent(0) && r.consistent(1));
    }
}

#[test]
fn a_two_slot_breakpoint_is_re_pointed_whole() {
    let r = rig(Config::x86_like(2));
    let c = counter();
    let h = r.reg.register(&watch(A, 16, c)).unwrap();
    on_cpu(1, || r.reg.modify_local(h, &Request::write(B, 16))).unwrap();
    assert!(traps(&r, 1, B, 8) && traps(&r, 1, B + 8, 8));
    assert!(!traps(&r, 1, A, 8) && !traps(&r, 1, A + 8, 8));
    assert!(traps(&r, 0, A + 8, 8) && !traps(&r, 0, B, 8));
    // With both entries taken, another breakpoint is refused.
    let other = r.reg.register(&watch(A + 0x40, 8, c)).unwrap();
    let err = on_cpu(1, || {
        r.reg.modify_local(other, &Request::write(B + 0x40, 8))
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotLocal);
    assert!(r.consistent(1));
}
