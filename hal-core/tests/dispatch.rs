//! The debug-exception path on the model machine: what an outcome says,
//! step-over on before-access machines, the kernel debugger's slots in
//! both pools, and which CPUs the registry serves.

mod common;

use common::*;
use hwbreak_core::model::{on_cpu, Config, ModelTrap};
use hwbreak_core::{AccessKind, CpuId, ErrorKind, PoolId, Request, Resume, Scope, Space, TaskId};

const A: u64 = 0xffff_8000_0060_0000;

fn write_req(addr: u64, len: u64, ctx: usize) -> Request {
    Request::write(addr, len).handler(count, ctx)
}

/// A trap of data slot `k` for an access at `addr` of `len` bytes.
fn data_trap(k: usize, addr: u64, len: u8) -> ModelTrap {
    let mut trap = ModelTrap {
        address: Some(addr),
        access_len: len,
        ..ModelTrap::default()
    };
    trap.hits[1] = 1 << k;
    trap
}

/// Completes the single step a before-access hit asked for.
fn complete_step(r: &Rig) -> Resume {
    let step = ModelTrap {
        step: true,
        ..ModelTrap::default()
    };
    on_cpu(0, || r.reg.on_debug_exception(&step)).resume
}

fn armed_data_slot(r: &Rig) -> usize {
    (0..4)
        .find(|&k| r.reg.armed_slot(PoolId::SECOND, k).unwrap().is_some())
        .expect("one data slot armed")
}

#[test]
fn a_real_hit_is_not_spurious() {
    for config in [Config::x86_like(1), Config::arm_like(1)] {
        let r = rig(config);
        let c = counter();
        r.reg.register(&write_req(A, 8, c)).unwrap();
        let out = r.access(0, A, 8, AccessKind::Write).unwrap();
        assert!(!out.spurious);
        assert_eq!((out.delivered, out.filtered), (1, 0));
    }
}

/// A debug exception that names no slot and completes no step is spurious
/// (another debugger's, or a lying status); the completion of the step a
/// hit asked for names no slot either, and is not.
#[test]
fn an_exception_naming_nothing_is_spurious_and_a_step_completion_is_not() {
    let r = rig(Config::arm_like(1));
    let c = counter();
    r.reg.register(&write_req(A, 8, c)).unwrap();
    let nothing = on_cpu(0, || r.reg.on_debug_exception(&ModelTrap::default()));
    assert!(nothing.spurious);
    assert_eq!((nothing.delivered, hits(c)), (0, 0));
    let k = armed_data_slot(&r);
    let hit = on_cpu(0, || r.reg.on_debug_exception(&data_trap(k, A, 8)));
    assert_eq!((hit.delivered, hit.spurious), (1, false));
    assert_eq!(hit.resume, Resume::SingleStep);
    let step = ModelTrap {
        step: true,
        ..ModelTrap::default()
    };
    let end = on_cpu(0, || r.reg.on_debug_exception(&step));
    assert_eq!(
        (end.resume, end.spurious, end.delivered),
        (Resume::EndSingleStep, false, 0)
    );
}

/// On a machine that traps before the access, the hit slot is disarmed
/// for the step over the access (in the registers and as the decoder sees
/// it) and re-armed when the step completes.
#[test]
fn step_over_disarms_the_hit_slot_until_the_step_completes() {
    let r = rig(Config::arm_like(1));
    let c = counter();
    r.reg.register(&write_req(A, 8, c)).unwrap();
    let k = armed_data_slot(&r);
    let trap = r
        .machine
        .access(0, A, 8, AccessKind::Write, Space::Kernel)
        .unwrap();
    let out = on_cpu(0, || r.reg.on_debug_exception(&trap));
    assert_eq!(out.resume, Resume::SingleStep);
    assert_eq!(r.machine.regs(0).slots[1][k], None);
    assert_eq!(on_cpu(0, || r.reg.armed_slot(PoolId::SECOND, k)), Ok(None));
    assert_eq!(complete_step(&r), Resume::EndSingleStep);
    assert!(r.machine.regs(0).slots[1][k].is_some());
    assert!(r.access(0, A, 8, AccessKind::Write).is_some());
    assert_eq!(hits(c), 2);
}

/// A hit whose access misses the requested bytes calls no handler, but
/// the access must still be stepped over, or it would trap again forever.
#[test]
fn a_filtered_hit_is_still_stepped_over() {
    let r = rig(Config::arm_like(1));
    let c = counter();
    r.reg.register(&write_req(A, 8, c)).unwrap();
    let k = armed_data_slot(&r);
    let trap = data_trap(k, A + 0x100, 8);
    let out = on_cpu(0, || r.reg.on_debug_exception(&trap));
    assert_eq!((out.delivered, out.filtered), (0, 1));
    assert!(!out.spurious);
    assert_eq!(out.resume, Resume::SingleStep);
    assert_eq!(r.machine.regs(0).slots[1][k], None);
    complete_step(&r);
    assert_eq!(hits(c), 0);
}

/// The debugger's watch on a machine with separate code and data pools:
/// it lands in the data pool, its hits reach its handler with the address
/// of the access, and accesses that miss its bytes are filtered.
#[test]
fn a_debugger_watch_in_the_data_pool_reaches_its_handler() {
    let r = rig(Config::arm_like(1));
    let c = counter();
    let d = on_cpu(0, || {
        r.reg
            .debugger_install(&Request::write(A + 4, 2).handler(count, c))
    })
    .unwrap();
    assert_eq!(d.pool(), PoolId::SECOND);
    let out = r.access(0, A + 5, 1, AccessKind::Write).unwrap();
    assert_eq!((out.delivered, out.spurious), (1, false));
    assert_eq!(hits(c), 1);
    assert_eq!(last_addr(c), A + 5);
    let k = (0..4)
        .find(|&k| {
            on_cpu(0, || r.reg.armed_slot(PoolId::SECOND, k))
                .unwrap()
                .is_some()
        })
        .unwrap();
    let trap = data_trap(k, A + 0x100, 1);
    let out = on_cpu(0, || r.reg.on_debug_exception(&trap));
    assert_eq!((out.delivered, out.filtered), (0, 1));
    complete_step(&r);
    on_cpu(0, || r.reg.debugger_remove(d)).unwrap();
    assert!(r.access(0, A + 5, 1, AccessKind::Write).is_none());
}

/// The debugger takes the highest free slot; a CPU-bound breakpoint that
/// was loaded there moves to another slot and keeps trapping, and the
/// system-wide ones stay where they are.
#[test]
fn a_debugger_slot_moves_local_breakpoints_aside() {
    let r = rig(Config::x86_like(1));
    let sys = counter();
    r.reg.register(&write_req(A + 512, 8, sys)).unwrap();
    let scope = Scope::Cpu(CpuId(0));
    let local: Vec<(hwbreak_core::Handle, usize)> = (0..3)
        .map(|i| {
            let c = counter();
            (
                r.reg
                    .register(&write_req(A + 8 * i, 8, c).scope(scope))
                    .unwrap(),
                c,
            )
        })
        .collect();
    // System-wide watches and the debugger take slots from the top, so the
    // debugger's will be slot 2: keep only the CPU-bound watch loaded there.
    let slots = r.machine.regs(0).slots[0];
    assert_eq!(slots[3].map(|s| s.value), Some(A + 512));
    let under = slots[2].expect("slot 2 loaded").value;
    let mut kept = None;
    for (i, &(h, c)) in local.iter().enumerate() {
        let addr = A + 8 * i as u64;
        if addr == under {
            kept = Some((h, c, addr));
        } else {
            r.reg.unregister(h).unwrap();
        }
    }
    let (_, kc, kaddr) = kept.expect("a CPU-bound watch in slot 2");
    let dc = counter();
    let d = on_cpu(0, || {
        r.reg
            .debugger_install(&Request::write(A + 1024, 8).handler(count, dc))
    })
    .unwrap();
    let before = (hits(sys), hits(kc), hits(dc));
    assert!(r.access(0, A + 512, 8, AccessKind::Write).is_some());
    assert!(r.access(0, kaddr, 8, AccessKind::Write).is_some());
    assert!(r.access(0, A + 1024, 8, AccessKind::Write).is_some());
    assert_eq!(
        (hits(sys), hits(kc), hits(dc)),
        (before.0 + 1, before.1 + 1, before.2 + 1)
    );
    assert_eq!(r.machine.regs(0).slots[0].iter().flatten().count(), 3);
    on_cpu(0, || r.reg.debugger_remove(d)).unwrap();
    assert!(r.access(0, kaddr, 8, AccessKind::Write).is_some());
    assert!(r.access(0, A + 1024, 8, AccessKind::Write).is_none());
}

/// A CPU the platform does not count is not served, even if the registry
/// has room for it.
#[test]
fn a_cpu_past_the_platform_count_is_refused() {
    let r = rig(Config::x86_like(2));
    for cpu in [2, 3] {
        assert_eq!(
            on_cpu(cpu, || r.reg.cpu_offline()).unwrap_err().kind(),
            ErrorKind::BadCpu
        );
        assert_eq!(
            on_cpu(cpu, || r.reg.cpu_online()).unwrap_err().kind(),
            ErrorKind::BadCpu
        );
    }
    on_cpu(1, || r.reg.switch_task(Some(TaskId(0)))).unwrap();
}

/// An update while a hit slot is disarmed for its step-over rewrites the
/// slot: the new watch is armed at once, and what the registry says is
/// armed is what the registers hold, during the step and after it.
#[test]
fn an_update_during_a_step_over_arms_the_new_watch() {
    let r = rig(Config::arm_like(1));
    let c = counter();
    let h = r.reg.register(&write_req(A, 8, c)).unwrap();
    let other = r.reg.register(&write_req(A + 256, 8, 0)).unwrap();
    let k = armed_data_slot(&r);
    let trap = r
        .machine
        .access(0, A, 8, AccessKind::Write, Space::Kernel)
        .unwrap();
    assert_eq!(
        on_cpu(0, || r.reg.on_debug_exception(&trap)).resume,
        Resume::SingleStep
    );
    let agree = |r: &Rig| {
        for slot in 0..4 {
            assert_eq!(
                on_cpu(0, || r.reg.armed_slot(PoolId::SECOND, slot)).unwrap(),
                r.machine.regs(0).slots[1][slot],
                "slot {slot}"
            );
        }
    };
    r.reg.modify(h, &write_req(A + 64, 8, c)).unwrap();
    agree(&r);
    assert!(
        r.machine.regs(0).slots[1][k].is_some(),
        "re-armed with the new watch"
    );
    assert_eq!(complete_step(&r), Resume::EndSingleStep);
    agree(&r);
    assert!(r.access(0, A + 64, 8, AccessKind::Write).is_some());
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    r.reg.unregister(other).unwrap();
    agree(&r);
}

/// A CPU the update round has not reached yet (its cross-CPU call still on
/// its way) holds the settings from before a `modify`; a hit on them is
/// not reported as a hit of the new settings, which watch something else.
/// Once that CPU reloads, it traps on the new settings only.
#[test]
fn a_hit_on_settings_from_before_a_modify_is_not_reported() {
    let r = rig(Config::arm_like(2));
    let ctx = counter();
    let h = r.reg.register(&write_req(A, 8, ctx)).unwrap();
    r.machine.set_online(1, false);
    let read = Request::read(A, 8).handler(count, ctx);
    r.reg.modify(h, &read).unwrap();
    r.machine.set_online(1, true);
    let stale = r
        .access(1, A, 8, AccessKind::Write)
        .expect("CPU 1 still holds the write watch");
    assert_eq!(stale.delivered, 0);
    assert_eq!(hits(ctx), 0);

    on_cpu(1, || r.reg.refresh());
    assert!(r.access(1, A, 8, AccessKind::Write).is_none());
    assert_eq!(r.access(1, A, 8, AccessKind::Read).unwrap().delivered, 1);
    assert_eq!(hits(ctx), 1);
    assert!(r.consistent(1));
}
