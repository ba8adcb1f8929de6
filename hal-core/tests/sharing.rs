//! Identical requests sharing one slot, and modify in place: whatever the
//! chain of sharers goes through (an owner or a sharer leaving, being
//! modified away, being disabled), every breakpoint still registered traps
//! where it asked and calls exactly its own handler, and slots given back
//! are usable again.

mod common;

use common::*;
use hwbreak_core::model::{on_cpu, Config, Style};
use hwbreak_core::{AccessKind, CpuId, ErrorKind, Handle, PoolId, Request, Scope, State, TaskId};

const A: u64 = 0xffff_8000_0040_0000;

fn write_req(addr: u64, len: u64, ctx: usize) -> Request {
    Request::write(addr, len).handler(count, ctx)
}

/// Registers `n` identical watches at `addr`; returns (handle, counter).
fn sharers(r: &Rig, addr: u64, n: usize, scope: Scope) -> Vec<(Handle, usize)> {
    (0..n)
        .map(|_| {
            let c = counter();
            let h = r.reg.register(&write_req(addr, 8, c).scope(scope)).unwrap();
            (h, c)
        })
        .collect()
}

/// One write at `addr` on CPU 0: the handler counts must move by exactly
/// one for each of `expect` and by none for the rest of `all`.
fn hit_calls(r: &Rig, addr: u64, all: &[usize], expect: &[usize]) {
    let before: Vec<u32> = all.iter().map(|&c| hits(c)).collect();
    let out = r.access(0, addr, 8, AccessKind::Write);
    assert_eq!(
        out.map_or(0, |o| o.delivered),
        expect.len() as u32,
        "handlers called at {addr:#x}"
    );
    for (i, &c) in all.iter().enumerate() {
        let moved = hits(c) - before[i];
        assert_eq!(moved, u32::from(expect.contains(&c)), "counter {c}");
    }
}

fn used(r: &Rig) -> u32 {
    r.reg.pool_usage(PoolId::FIRST).0
}

#[test]
fn a_disabled_owner_keeps_the_slot_armed_for_an_enabled_sharer() {
    let r = rig(Config::x86_like(1));
    let s = sharers(&r, A, 2, Scope::AllCpus);
    let all: Vec<usize> = s.iter().map(|x| x.1).collect();
    r.reg.disable(s[0].0).unwrap();
    hit_calls(&r, A, &all, &[s[1].1]);
    r.reg.disable(s[1].0).unwrap();
    hit_calls(&r, A, &all, &[]);
    r.reg.enable(s[0].0).unwrap();
    hit_calls(&r, A, &all, &[s[0].1]);
}

/// The third of three sharers is modified away: it leaves the chain, the
/// other two keep the old watch, and it traps at its new address alone.
#[test]
fn a_sharer_modified_away_leaves_the_chain_intact() {
    for scope in [Scope::AllCpus, Scope::Task(TaskId(1))] {
        let r = rig(Config::x86_like(1));
        r.switch(0, Some(1));
        let s = sharers(&r, A, 3, scope);
        let all: Vec<usize> = s.iter().map(|x| x.1).collect();
        r.reg
            .modify(s[2].0, &write_req(A + 64, 8, s[2].1).scope(scope))
            .unwrap();
        assert_eq!(used(&r), 2);
        hit_calls(&r, A, &all, &[s[0].1, s[1].1]);
        hit_calls(&r, A + 64, &all, &[s[2].1]);
        // The middle one leaves too; the first still has the old watch.
        r.reg.unregister(s[1].0).unwrap();
        hit_calls(&r, A, &all, &[s[0].1]);
        r.reg.unregister(s[0].0).unwrap();
        hit_calls(&r, A, &all, &[]);
        hit_calls(&r, A + 64, &all, &[s[2].1]);
        assert_eq!(used(&r), 1);
    }
}

/// The owner of three sharers is modified away: the first sharer takes
/// over the slot and the reservation, the last one follows it, and each
/// can leave in turn.
#[test]
fn an_owner_modified_away_hands_the_slot_to_its_sharers() {
    for scope in [Scope::AllCpus, Scope::Task(TaskId(1))] {
        let r = rig(Config::x86_like(1));
        r.switch(0, Some(1));
        // An unrelated breakpoint of the same scope, before and after.
        let other = counter();
        r.reg
            .register(&write_req(A + 256, 8, other).scope(scope))
            .unwrap();
        let s = sharers(&r, A, 3, scope);
        let mut all: Vec<usize> = s.iter().map(|x| x.1).collect();
        all.push(other);
        r.reg
            .modify(s[0].0, &write_req(A + 64, 8, s[0].1).scope(scope))
            .unwrap();
        assert_eq!(used(&r), 3);
        hit_calls(&r, A, &all, &[s[1].1, s[2].1]);
        hit_calls(&r, A + 64, &all, &[s[0].1]);
        hit_calls(&r, A + 256, &all, &[other]);
        r.reg.unregister(s[1].0).unwrap();
        hit_calls(&r, A, &all, &[s[2].1]);
        r.reg.unregister(s[2].0).unwrap();
        hit_calls(&r, A, &all, &[]);
        hit_calls(&r, A + 256, &all, &[other]);
        assert_eq!(used(&r), 2);
        // Every slot given back is usable again.
        for i in 0..2 {
            r.reg
                .register(&write_req(A + 512 + 8 * i, 8, 0).scope(scope))
                .unwrap();
        }
        assert_eq!(used(&r), 4);
    }
}

/// A pinned sharer cannot be modified to a new watch when no slot is free
/// for it: refused, and it keeps its old watch.
#[test]
fn a_pinned_sharer_modified_into_a_full_pool_is_refused_unchanged() {
    let r = rig(Config::x86_like(1));
    let s = sharers(&r, A, 2, Scope::AllCpus);
    for i in 0..3 {
        r.reg.register(&write_req(A + 64 + 8 * i, 8, 0)).unwrap();
    }
    let e = r
        .reg
        .modify(s[1].0, &write_req(A + 128, 8, s[1].1))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSlot);
    assert_eq!(r.reg.state(s[1].0).unwrap(), State::Armed);
    let all = [s[0].1, s[1].1];
    hit_calls(&r, A, &all, &all);
    hit_calls(&r, A + 128, &all, &[]);
}

/// Modify changes how many slots a system-wide watch needs, or which pool
/// it is in: the slots it no longer needs are free, the other breakpoints
/// are untouched.
#[test]
fn modify_that_shrinks_or_moves_a_watch_frees_its_old_slots() {
    // 13 unaligned bytes need 3 pieces; an 8-byte aligned watch needs one.
    let r = rig(Config::x86_like(1));
    let c = counter();
    let keep = counter();
    r.reg.register(&write_req(A + 1024, 8, keep)).unwrap();
    let h = r.reg.register(&write_req(A + 3, 13, c)).unwrap();
    assert_eq!(used(&r), 4);
    r.reg.modify(h, &write_req(A + 64, 8, c)).unwrap();
    assert_eq!(used(&r), 2);
    let mut added = Vec::new();
    for i in 0..2 {
        let ci = counter();
        r.reg.register(&write_req(A + 256 + 8 * i, 8, ci)).unwrap();
        added.push((A + 256 + 8 * i, ci));
    }
    let mut all = vec![c, keep];
    all.extend(added.iter().map(|a| a.1));
    hit_calls(&r, A + 1024, &all, &[keep]);
    hit_calls(&r, A + 64, &all, &[c]);
    hit_calls(&r, A + 8, &all, &[]);
    for &(addr, ci) in &added {
        hit_calls(&r, addr, &all, &[ci]);
    }
    // Growing back needs three: refused, nothing changed.
    assert_eq!(
        r.reg
            .modify(h, &write_req(A + 3, 13, c))
            .unwrap_err()
            .kind(),
        ErrorKind::NoSlot
    );
    hit_calls(&r, A + 64, &all, &[c]);

    // Two pools: a write watch becomes an execute breakpoint, and the data
    // pool is entirely free again.
    let r = rig(Config::arm_like(1));
    let c = counter();
    let h = r.reg.register(&write_req(A, 8, c)).unwrap();
    r.reg
        .modify(h, &Request::execute(A + 64).handler(count, c))
        .unwrap();
    assert_eq!(r.reg.pool_usage(PoolId::SECOND).0, 0);
    assert_eq!(r.reg.pool_usage(PoolId::FIRST).0, 1);
    let data: Vec<usize> = (0..4)
        .map(|i| {
            let ci = counter();
            r.reg.register(&write_req(A + 256 + 8 * i, 8, ci)).unwrap();
            ci
        })
        .collect();
    for (i, &ci) in data.iter().enumerate() {
        let before = hits(ci);
        r.access(0, A + 256 + 8 * i as u64, 8, AccessKind::Write)
            .unwrap();
        assert_eq!(hits(ci), before + 1);
    }
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    let before = hits(c);
    r.access(0, A + 64, 1, AccessKind::Execute).unwrap();
    assert_eq!(hits(c), before + 1);
}

/// A pool of 16 slots, so one debug context can want more breakpoints
/// than its own record holds (16 per pool): one bound to each of four
/// CPUs, five on each.
fn big() -> Config {
    Config {
        style: Style::AfterAccess,
        slots: [16, 0],
        cpus: 4,
        user_limit: 0x0000_8000_0000_0000,
    }
}

/// A debug context's record holds at most 16 breakpoints per pool: the
/// 17th is refused (not silently dropped), and every accepted one traps on
/// its CPU. Modifying one in a full record may move it, not grow it.
#[test]
fn a_context_record_never_takes_more_than_it_holds() {
    let r = rig(big());
    let t = TaskId(3);
    for cpu in 0..4 {
        r.switch(cpu, Some(3));
    }
    let mut placed = Vec::new();
    let mut refused = 0;
    for cpu in 0..4u32 {
        for i in 0..5u64 {
            let addr = A + 0x1000 * u64::from(cpu) + 8 * i;
            let c = counter();
            let req = write_req(addr, 8, c).scope(Scope::TaskOnCpu(t, CpuId(cpu)));
            match r.reg.register(&req) {
                Ok(h) => placed.push((h, cpu, addr, c)),
                Err(_) => refused += 1,
            }
        }
    }
    assert_eq!(placed.len(), 16);
    assert_eq!(refused, 4);
    for &(_, cpu, addr, c) in &placed {
        let before = hits(c);
        assert!(r.access(cpu, addr, 8, AccessKind::Write).is_some());
        assert_eq!(hits(c), before + 1, "{addr:#x} on cpu {cpu}");
    }
    // Moving one 8-byte watch in the full record is fine ...
    let (h, cpu, _, c) = placed[5];
    let scope = Scope::TaskOnCpu(t, CpuId(cpu));
    let moved = A + 0x8000;
    r.reg
        .modify(h, &write_req(moved, 8, c).scope(scope))
        .unwrap();
    assert!(r.access(cpu, moved, 8, AccessKind::Write).is_some());
    // ... growing it to two pieces is not, and changes nothing.
    assert!(r
        .reg
        .modify(h, &write_req(moved + 4, 8, c).scope(scope))
        .is_err());
    let before = hits(c);
    assert!(r.access(cpu, moved, 8, AccessKind::Write).is_some());
    assert!(r.access(cpu, moved + 8, 4, AccessKind::Write).is_none());
    assert_eq!(hits(c), before + 1);
}

/// Modifying a task breakpoint that owns its slot moves it in place.
#[test]
fn a_task_breakpoint_is_modified_in_place() {
    let r = rig(Config::x86_like(1));
    r.reg.register(&write_req(A + 512, 8, 0)).unwrap();
    let scope = Scope::Task(TaskId(2));
    let c = counter();
    let h = r.reg.register(&write_req(A, 8, c).scope(scope)).unwrap();
    r.reg
        .modify(h, &write_req(A + 64, 8, c).scope(scope))
        .unwrap();
    r.switch(0, Some(2));
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    assert!(r.access(0, A + 64, 8, AccessKind::Write).is_some());
    assert_eq!(hits(c), 1);
    on_cpu(0, || r.reg.switch_task(None)).unwrap();
}

/// The slot stays armed while any sharer along the chain is enabled, even
/// when the owner and the sharer before it are disabled: the whole chain
/// is walked, each link to the entry it names.
#[test]
fn the_last_enabled_sharer_keeps_the_slot_armed() {
    let r = rig(Config::x86_like(1));
    let s = sharers(&r, A, 3, Scope::AllCpus);
    let all: Vec<usize> = s.iter().map(|x| x.1).collect();
    for keep in 0..3 {
        for (i, (h, _)) in s.iter().enumerate() {
            if i == keep {
                r.reg.enable(*h).unwrap();
            } else {
                r.reg.disable(*h).unwrap();
            }
        }
        hit_calls(&r, A, &all, &[s[keep].1]);
        assert_eq!(used(&r), 1);
    }
}

/// Sharers leave from the middle of a chain, before and after its owner
/// has left: every sharer behind the one leaving stays in the chain, an
/// owner's heir takes the whole rest of it, and an unrelated breakpoint
/// registered after the chain is never mistaken for a member. At the end
/// every slot and reservation is given back.
#[test]
fn sharers_leave_from_the_middle_of_a_chain() {
    for scope in [Scope::AllCpus, Scope::Task(TaskId(1))] {
        let r = rig(Config::x86_like(1));
        r.switch(0, Some(1));
        let s = sharers(&r, A, 5, scope);
        let other = counter();
        let after = r
            .reg
            .register(&write_req(A + 256, 8, other).scope(scope))
            .unwrap();
        let mut all: Vec<usize> = s.iter().map(|x| x.1).collect();
        all.push(other);
        let calls = |r: &Rig, left: &[usize]| {
            let expect: Vec<usize> = left.iter().map(|&i| s[i].1).collect();
            hit_calls(r, A, &all, &expect);
            hit_calls(r, A + 256, &all, &[other]);
            assert_eq!(used(r), 2);
        };
        calls(&r, &[0, 1, 2, 3, 4]);
        r.reg.unregister(s[2].0).unwrap();
        calls(&r, &[0, 1, 3, 4]);
        // The owner leaves: its first sharer takes over 3 and 4.
        r.reg.unregister(s[0].0).unwrap();
        calls(&r, &[1, 3, 4]);
        r.reg.unregister(s[3].0).unwrap();
        calls(&r, &[1, 4]);
        r.reg.unregister(s[1].0).unwrap();
        calls(&r, &[4]);
        r.reg.unregister(s[4].0).unwrap();
        hit_calls(&r, A, &all, &[]);
        assert_eq!(used(&r), 1);
        r.reg.unregister(after).unwrap();
        assert_eq!(used(&r), 0);
        assert!(r
            .machine
            .regs(0)
            .slots
            .iter()
            .flatten()
            .all(Option::is_none));
    }
}
