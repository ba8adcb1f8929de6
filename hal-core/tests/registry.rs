//! Behaviour of the registry on the model machine.

mod common;

use common::*;
use hwbreak_core::model::{on_cpu, Config};
use hwbreak_core::{
    AccessKind, CpuId, ErrorKind, EventKind, PoolId, Request, Resume, Scope, Space, State, TaskId,
    Zone,
};

const A: u64 = 0xffff_8000_0010_0000;

fn write_req(addr: u64, len: u64, ctx: usize) -> Request {
    Request::write(addr, len).handler(count, ctx)
}

#[test]
fn a_system_wide_watch_traps_on_every_cpu() {
    let r = rig(Config::x86_like(4));
    let c = counter();
    r.reg.register(&write_req(A, 8, c)).unwrap();
    for cpu in 0..4 {
        assert!(
            r.access(cpu, A + 4, 1, AccessKind::Write).is_some(),
            "cpu {cpu}"
        );
    }
    assert_eq!(hits(c), 4);
    assert!(r.access(0, A + 8, 1, AccessKind::Write).is_none());
    assert!(
        r.access(0, A, 8, AccessKind::Read).is_none(),
        "write watch ignores reads"
    );
}

#[test]
fn unregister_stops_hits_and_a_stale_handle_is_refused() {
    let r = rig(Config::x86_like(2));
    let c = counter();
    let h = r.reg.register(&write_req(A, 4, c)).unwrap();
    r.reg.unregister(h).unwrap();
    assert!(r.access(1, A, 4, AccessKind::Write).is_none());
    assert_eq!(
        r.reg.unregister(h).unwrap_err().kind(),
        ErrorKind::StaleHandle
    );
    // The entry is reused; the old handle still names nothing.
    let h2 = r.reg.register(&write_req(A, 4, c)).unwrap();
    assert_eq!(h2.index(), h.index());
    assert_eq!(
        r.reg.unregister(h).unwrap_err().kind(),
        ErrorKind::StaleHandle
    );
    assert_eq!(r.reg.state(h2).unwrap(), State::Armed);
}

#[test]
fn a_handle_from_another_registry_is_foreign() {
    let r1 = rig(Config::x86_like(1));
    let r2 = rig(Config::x86_like(1));
    let h = r1.reg.register(&write_req(A, 4, 0)).unwrap();
    assert_eq!(
        r2.reg.unregister(h).unwrap_err().kind(),
        ErrorKind::ForeignHandle
    );
}

#[test]
fn pool_exhaustion_is_refused_and_arms_nothing() {
    let r = rig(Config::x86_like(1));
    for i in 0..4 {
        r.reg.register(&write_req(A + 8 * i, 8, 0)).unwrap();
    }
    let before = r.machine.all_regs();
    let writes = r.machine.register_writes();
    let e = r.reg.register(&write_req(A + 64, 8, 0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSlot);
    assert_eq!(r.machine.all_regs(), before);
    assert_eq!(r.machine.register_writes(), writes);
}

#[test]
fn an_unaligned_13_byte_range_is_covered_exactly() {
    let r = rig(Config::x86_like(1));
    let c = counter();
    // 0x...3 + 13: 1 @3, 4 @4, 8 @8 = 3 slots.
    r.reg.register(&write_req(A + 3, 13, c)).unwrap();
    let armed = (0..4)
        .filter(|&k| r.reg.armed_slot(PoolId::FIRST, k).unwrap().is_some())
        .count();
    assert_eq!(armed, 3);
    assert!(r.access(0, A + 2, 1, AccessKind::Write).is_none());
    assert!(r.access(0, A + 16, 1, AccessKind::Write).is_none());
    assert!(r.access(0, A + 3, 1, AccessKind::Write).is_some());
    assert!(r.access(0, A + 15, 1, AccessKind::Write).is_some());
    assert_eq!(hits(c), 2);
}

#[test]
fn a_range_needing_more_slots_than_exist_is_not_coverable() {
    let r = rig(Config::x86_like(1));
    // 1 @1, 2 @2, 4 @4, 8 @8, 1 @16 = 5 pieces > 4 slots.
    let e = r.reg.register(&write_req(A + 1, 16, 0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotCoverable);
}

#[test]
fn read_only_watch_is_unsupported_on_after_access_hardware() {
    let r = rig(Config::x86_like(1));
    let e = r.reg.register(&Request::read(A, 4)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedKind);
}

#[test]
fn user_requests_stay_in_user_space() {
    let r = rig(Config::x86_like(1));
    let user = Request::write(0x7fff_ffff_fffc, 8).space(Space::User);
    assert_eq!(
        r.reg.register(&user).unwrap_err().kind(),
        ErrorKind::KernelAddressFromUser
    );
    let user = Request::write(0x1000, 8)
        .space(Space::User)
        .scope(Scope::Task(TaskId(0)));
    r.reg.register(&user).unwrap();
}

#[test]
fn bad_lengths_and_overflow_are_refused() {
    let r = rig(Config::x86_like(1));
    assert_eq!(
        r.reg.register(&Request::write(A, 0)).unwrap_err().kind(),
        ErrorKind::ZeroLength
    );
    assert_eq!(
        r.reg
            .register(&Request::write(u64::MAX - 3, 8))
            .unwrap_err()
            .kind(),
        ErrorKind::AddressOverflow
    );
    assert_eq!(
        r.reg
            .register(&Request::write(0x0000_8000_0000_0000, 8))
            .unwrap_err()
            .kind(),
        ErrorKind::NonCanonical
    );
}

#[test]
fn no_breakpoint_zones_are_refused_including_the_registry_itself() {
    let r = rig_with_zones(Config::x86_like(1), vec![Zone::new(A, A + 0x1000)]);
    assert_eq!(
        r.reg
            .register(&write_req(A + 0xff8, 8, 0))
            .unwrap_err()
            .kind(),
        ErrorKind::NoBreakpointZone
    );
    let own = r.reg.own_zone();
    let e = r
        .reg
        .register(&Request::write(own.start, 1).space(Space::Kernel))
        .unwrap_err();
    // The model's heap is in user-half addresses: still refused as the
    // registry's own state, whichever check speaks first.
    assert!(matches!(
        e.kind(),
        ErrorKind::NoBreakpointZone | ErrorKind::NonCanonical
    ));
}

#[test]
fn modify_moves_the_watch_in_place_and_an_invalid_modify_keeps_the_old_one() {
    let r = rig(Config::x86_like(1));
    let c = counter();
    let h = r.reg.register(&write_req(A, 8, c)).unwrap();
    let slot_of = |r: &Rig| {
        (0..4)
            .find(|&k| r.reg.armed_slot(PoolId::FIRST, k).unwrap().is_some())
            .unwrap()
    };
    let k = slot_of(&r);
    r.reg.modify(h, &write_req(A + 64, 8, c)).unwrap();
    assert_eq!(slot_of(&r), k, "same slot after modify");
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    assert!(r.access(0, A + 64, 8, AccessKind::Write).is_some());
    let e = r
        .reg
        .modify(h, &Request::read(A + 128, 8).handler(count, c))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedKind);
    assert!(
        r.access(0, A + 64, 8, AccessKind::Write).is_some(),
        "old watch still fires"
    );
    assert_eq!(
        r.reg
            .modify(h, &write_req(A, 8, c).scope(Scope::Cpu(CpuId(0))))
            .unwrap_err()
            .kind(),
        ErrorKind::ScopeChange
    );
}

#[test]
fn identical_requests_share_one_slot_and_both_handlers_run() {
    let r = rig(Config::x86_like(1));
    let (c1, c2) = (counter(), counter());
    let h1 = r.reg.register(&write_req(A, 8, c1)).unwrap();
    let h2 = r.reg.register(&write_req(A, 8, c2)).unwrap();
    let armed = (0..4)
        .filter(|&k| r.reg.armed_slot(PoolId::FIRST, k).unwrap().is_some())
        .count();
    assert_eq!(armed, 1);
    let out = r.access(0, A, 8, AccessKind::Write).unwrap();
    assert_eq!(out.delivered, 2);
    // The first owner leaves; the second keeps the slot.
    r.reg.unregister(h1).unwrap();
    assert!(r.access(0, A, 8, AccessKind::Write).is_some());
    assert_eq!((hits(c1), hits(c2)), (1, 2));
    r.reg.unregister(h2).unwrap();
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
}

#[test]
fn a_pinned_request_displaces_a_lower_priority_flexible_one_which_comes_back() {
    let r = rig(Config::one_slot(1));
    let (cf, cp) = (counter(), counter());
    let flex = r
        .reg
        .register(
            &write_req(A, 8, cf)
                .flexible()
                .priority(hwbreak_core::Priority(10)),
        )
        .unwrap();
    assert_eq!(r.reg.state(flex).unwrap(), State::Armed);
    let pinned = r
        .reg
        .register(&write_req(A + 64, 8, cp).priority(hwbreak_core::Priority(200)))
        .unwrap();
    assert_eq!(r.reg.state(flex).unwrap(), State::Waiting);
    assert_eq!(events_of(cf), vec![EventKind::Displaced]);
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    assert!(r.access(0, A + 64, 8, AccessKind::Write).is_some());
    r.reg.unregister(pinned).unwrap();
    assert_eq!(r.reg.state(flex).unwrap(), State::Armed);
    assert_eq!(
        events_of(cf),
        vec![EventKind::Displaced, EventKind::Reinstated]
    );
    assert!(r.access(0, A, 8, AccessKind::Write).is_some());
    assert_eq!(hits(cf), 1);
}

#[test]
fn the_single_slot_is_fully_usable_by_a_pinned_request() {
    let r = rig(Config::one_slot(2));
    r.reg.register(&write_req(A, 8, 0)).unwrap();
    assert_eq!(
        r.reg.register(&write_req(A + 8, 8, 0)).unwrap_err().kind(),
        ErrorKind::NoSlot
    );
}

#[test]
fn a_pinned_request_never_displaces_a_pinned_one() {
    let r = rig(Config::one_slot(1));
    r.reg
        .register(&write_req(A, 8, 0).priority(hwbreak_core::Priority(1)))
        .unwrap();
    let e = r
        .reg
        .register(&write_req(A + 8, 8, 0).priority(hwbreak_core::Priority(255)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSlot);
}

#[test]
fn task_breakpoints_follow_their_context_and_switches_write_the_minimum() {
    let r = rig(Config::x86_like(2));
    let (c1, c2) = (counter(), counter());
    r.reg
        .register(&write_req(A, 8, c1).scope(Scope::Task(TaskId(1))))
        .unwrap();
    r.reg
        .register(&write_req(A + 8, 8, c2).scope(Scope::Task(TaskId(2))))
        .unwrap();
    r.switch(0, Some(1));
    assert!(r.access(0, A, 8, AccessKind::Write).is_some());
    assert!(r.access(0, A + 8, 8, AccessKind::Write).is_none());
    assert!(
        r.access(1, A, 8, AccessKind::Write).is_none(),
        "task 1 does not run on cpu 1"
    );
    r.machine.clear_log();
    r.switch(0, Some(1));
    assert_eq!(r.machine.register_writes(), 0, "same state: zero writes");
    r.switch(0, Some(2));
    // Slot 0 rewritten in place (one slot write), control unchanged.
    assert_eq!(r.machine.register_writes(), 1);
    assert!(r.access(0, A + 8, 8, AccessKind::Write).is_some());
    r.switch(0, None);
    assert!(r.access(0, A + 8, 8, AccessKind::Write).is_none());
    assert_eq!((hits(c1), hits(c2)), (1, 1));
}

#[test]
fn two_contexts_may_each_use_every_slot() {
    let r = rig(Config::x86_like(2));
    for t in 0..2 {
        for i in 0..4 {
            r.reg
                .register(&write_req(A + 8 * i, 8, 0).scope(Scope::Task(TaskId(t))))
                .unwrap();
        }
    }
    let e = r
        .reg
        .register(&write_req(A + 64, 8, 0).scope(Scope::Task(TaskId(0))))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSlot);
    let e = r
        .reg
        .register(&write_req(A + 64, 8, 0).scope(Scope::Cpu(CpuId(1))))
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::NoSlot,
        "a CPU-bound one would not fit beside either context"
    );
}

#[test]
fn cpu_online_reloads_lost_registers() {
    let r = rig(Config::x86_like(2));
    let c = counter();
    r.reg.register(&write_req(A, 8, c)).unwrap();
    r.machine.wipe(1);
    assert!(r.access(1, A, 8, AccessKind::Write).is_none());
    on_cpu(1, || r.reg.cpu_online().unwrap());
    assert!(r.access(1, A, 8, AccessKind::Write).is_some());
}

#[test]
fn execute_hits_ask_for_the_resume_flag() {
    let r = rig(Config::x86_like(1));
    let c = counter();
    r.reg
        .register(&Request::execute(A).handler(count, c))
        .unwrap();
    let out = r.access(0, A, 1, AccessKind::Execute).unwrap();
    assert_eq!(out.resume, Resume::SetResumeFlag);
    assert_eq!(hits(c), 1);
}

#[test]
fn step_over_rearms_the_watch() {
    let r = rig(Config::arm_like(1));
    let c = counter();
    r.reg.register(&write_req(A + 3, 1, c)).unwrap();
    for _ in 0..10 {
        let out = r.access(0, A + 3, 1, AccessKind::Write).unwrap();
        assert_eq!(out.resume, Resume::SingleStep);
    }
    assert_eq!(hits(c), 10);
    assert_eq!(last_addr(c), A + 3);
}

#[test]
fn a_hit_outside_the_requested_bytes_is_filtered() {
    let r = rig(Config::arm_like(1));
    let c = counter();
    r.reg.register(&write_req(A + 4, 2, c)).unwrap();
    // A wide access from below reaches it: reported, at the range start.
    let out = r.access(0, A, 8, AccessKind::Write).unwrap();
    assert_eq!(out.delivered, 1);
    assert_eq!(last_addr(c), A + 4);
}

#[test]
fn a_pending_hit_on_a_removed_breakpoint_is_spurious() {
    let r = rig(Config::x86_like(1));
    let h = r.reg.register(&write_req(A, 8, 0)).unwrap();
    let trap = r
        .machine
        .access(0, A, 8, AccessKind::Write, Space::Kernel)
        .unwrap();
    r.reg.unregister(h).unwrap();
    let out = on_cpu(0, || r.reg.on_debug_exception(&trap));
    assert!(out.spurious);
    assert_eq!(out.delivered, 0);
}

#[test]
fn the_debugger_path_shares_the_ledger() {
    let r = rig(Config::x86_like(2));
    let c = counter();
    for i in 0..3 {
        r.reg.register(&write_req(A + 8 * i, 8, 0)).unwrap();
    }
    let d = on_cpu(0, || {
        r.reg
            .debugger_install(&Request::write(A + 64, 8).handler(count, c))
    })
    .unwrap();
    assert_eq!(
        on_cpu(0, || r.reg.debugger_install(&Request::write(A + 72, 8)))
            .unwrap_err()
            .kind(),
        ErrorKind::NoSlot
    );
    assert_eq!(
        r.reg.register(&write_req(A + 80, 8, 0)).unwrap_err().kind(),
        ErrorKind::NoSlot
    );
    assert!(r.access(0, A + 64, 8, AccessKind::Write).is_some());
    assert_eq!(hits(c), 1);
    // Other CPUs pick the slot up when they leave the debugger.
    on_cpu(1, || r.reg.refresh());
    assert!(r.access(1, A + 64, 8, AccessKind::Write).is_some());
    on_cpu(0, || r.reg.debugger_remove(d)).unwrap();
    assert_eq!(
        on_cpu(0, || r.reg.debugger_remove(d)).unwrap_err().kind(),
        ErrorKind::StaleHandle
    );
    r.reg.register(&write_req(A + 80, 8, 0)).unwrap();
}

#[test]
fn disable_keeps_the_reservation_and_enable_cannot_fail() {
    let r = rig(Config::one_slot(1));
    let c = counter();
    let h = r.reg.register(&write_req(A, 8, c)).unwrap();
    r.reg.disable(h).unwrap();
    assert_eq!(r.reg.state(h).unwrap(), State::Disabled);
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    assert_eq!(
        r.reg.register(&write_req(A + 8, 8, 0)).unwrap_err().kind(),
        ErrorKind::NoSlot
    );
    r.reg.enable(h).unwrap();
    assert!(r.access(0, A, 8, AccessKind::Write).is_some());
}

#[test]
fn removing_a_breakpoint_inside_its_own_handler_is_survived() {
    use std::sync::Mutex;
    static TARGET: Mutex<Option<(usize, hwbreak_core::Handle)>> = Mutex::new(None);
    static REG: std::sync::atomic::AtomicPtr<Reg> =
        std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());
    fn remove_self(e: &hwbreak_core::Event) {
        let reg = REG.load(std::sync::atomic::Ordering::Acquire).cast_const();
        // SAFETY: the test keeps the registry alive while accesses run.
        let reg = unsafe { &*reg };
        reg.unregister(e.handle).unwrap();
        *TARGET.lock().unwrap() = Some((e.context, e.handle));
    }
    let r = rig(Config::x86_like(1));
    REG.store(
        (&*r.reg as *const Reg).cast_mut(),
        std::sync::atomic::Ordering::Release,
    );
    r.reg
        .register(&Request::write(A, 8).handler(remove_self, 7))
        .unwrap();
    let out = r.access(0, A, 8, AccessKind::Write).unwrap();
    assert_eq!(out.delivered, 1);
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    assert_eq!(TARGET.lock().unwrap().unwrap().0, 7);
}

#[test]
fn reload_cpu_rearms_slots_a_stop_suspended_behind_the_registry() {
    let r = rig(Config::x86_like(2));
    let c = counter();
    r.reg.register(&write_req(A, 8, c)).unwrap();
    // A debugger stop (or an entry stub) disables CPU 1's slots without
    // telling the registry.
    // SAFETY: model backend; "current CPU" is CPU 1 inside `on_cpu`.
    on_cpu(1, || unsafe { hwbreak_core::Arch::suspend(r.reg.arch()) });
    assert!(r.access(1, A, 8, AccessKind::Write).is_none());
    // refresh() sees nothing changed in the registry and writes nothing.
    on_cpu(1, || r.reg.refresh());
    assert!(r.access(1, A, 8, AccessKind::Write).is_none());
    on_cpu(1, || r.reg.reload_cpu());
    assert!(r.access(1, A, 8, AccessKind::Write).is_some());
    assert!(
        r.access(0, A, 8, AccessKind::Write).is_some(),
        "CPU 0 untouched"
    );
    assert_eq!(hits(c), 2);
}
