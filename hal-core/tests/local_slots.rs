//! `Registry::modify_local` and the slots it writes: only the breakpoint's
//! own slots, exactly as many as it holds, no control word it does not
//! change, and a slot disarmed for a step left disarmed until the step
//! ends.

mod common;

use common::*;
use hwbreak_core::model::{on_cpu, Config, ModelTrap, Write};
use hwbreak_core::{AccessKind, ErrorKind, Request, Resume, Space};

const A: u64 = 0xffff_8000_0020_0000;
const B: u64 = A + 0x100;

fn watch(addr: u64, len: u64, ctx: usize) -> Request {
    Request::write(addr, len).handler(count, ctx)
}

/// With other system-wide breakpoints loaded beside it, a breakpoint is
/// re-pointed alone: its slot changes, theirs do not.
#[test]
fn other_breakpoints_slots_are_not_counted_or_touched() {
    let r = rig(Config::x86_like(1));
    let (c0, c1, c2) = (counter(), counter(), counter());
    let h0 = r.reg.register(&watch(A, 8, c0)).unwrap();
    let h1 = r.reg.register(&watch(A + 8, 8, c1)).unwrap();
    r.reg.register(&watch(A + 16, 8, c2)).unwrap();
    let before = r.machine.regs(0).slots[0];
    on_cpu(0, || r.reg.modify_local(h1, &Request::write(B, 8))).unwrap();
    let after = r.machine.regs(0).slots[0];
    let changed: Vec<usize> = (0..4).filter(|&k| before[k] != after[k]).collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(after[changed[0]].map(|i| i.value), Some(B));
    assert!(r.consistent(0));
    on_cpu(0, || r.reg.modify_local(h0, &Request::write(B + 8, 8))).unwrap();
    for (addr, ctx) in [(B + 8, c0), (B, c1), (A + 16, c2)] {
        let n = hits(ctx);
        assert!(
            r.access(0, addr, 8, AccessKind::Write).is_some(),
            "{addr:#x}"
        );
        assert_eq!(hits(ctx), n + 1, "{addr:#x}");
    }
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    assert!(r.access(0, A + 8, 8, AccessKind::Write).is_none());
}

/// A breakpoint holding two slots is re-pointed only to settings that need
/// two slots again: fewer is refused and changes nothing.
#[test]
fn the_number_of_slots_must_match_exactly() {
    let r = rig(Config::x86_like(1));
    let c = counter();
    let h = r.reg.register(&watch(A, 16, c)).unwrap();
    let before = r.machine.all_regs();
    for req in [
        Request::write(B, 8),
        Request::write(B, 1),
        Request::write(B + 8, 24),
    ] {
        let e = on_cpu(0, || r.reg.modify_local(h, &req)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotLocal, "{req:?}");
        assert_eq!(r.machine.all_regs(), before, "{req:?}");
    }
    on_cpu(0, || r.reg.modify_local(h, &Request::write(B, 16))).unwrap();
    assert!(r.consistent(0));
    assert!(r.access(0, B + 12, 4, AccessKind::Write).is_some());
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
}

/// A re-pointing writes the minimum: the breakpoint's slot, and the
/// control word only if it changes (on the model machine the word says
/// which slots are enabled, so re-pointing a slot in place keeps it).
#[test]
fn only_the_re_pointed_slot_is_written() {
    let r = rig(Config::x86_like(2));
    let c = counter();
    let h = r.reg.register(&watch(A, 8, c)).unwrap();
    r.reg.register(&watch(A + 64, 8, c)).unwrap();
    let k = (0..4)
        .find(|&k| r.machine.regs(0).slots[0][k].map(|i| i.value) == Some(A))
        .unwrap();
    let word = r.machine.regs(0).control[0];
    r.machine.clear_log();
    on_cpu(0, || {
        r.reg
            .modify_local(h, &Request::new(B, 4, AccessKind::ReadWrite))
    })
    .unwrap();
    let log = r.machine.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        matches!(log[0], Write::Slot { cpu: 0, pool: 0, index, image: Some(i) } if index == k && i.value == B),
        "{log:?}"
    );
    assert_eq!(r.machine.regs(0).control[0], word);
    assert!(r.consistent(0));
    assert!(r.access(0, B, 4, AccessKind::Read).is_some());
}

/// On a machine that traps before the access, a hit slot is disarmed for
/// the step over the access. Re-pointing it from atomic context before
/// the step ends (an interrupt taken in between, say) records the new
/// settings but leaves the slot disarmed; the step's end arms it with them.
#[test]
fn a_slot_disarmed_for_a_step_stays_so_until_the_step_ends() {
    let r = rig(Config::arm_like(1));
    let c = counter();
    let h = r.reg.register(&watch(A, 8, c)).unwrap();
    let k = (0..4)
        .find(|&k| r.machine.regs(0).slots[1][k].is_some())
        .unwrap();
    // System-wide slots are taken from the top: not slot 0.
    assert_ne!(k, 0);
    let trap = r
        .machine
        .access(0, A, 8, AccessKind::Write, Space::Kernel)
        .unwrap();
    let out = on_cpu(0, || r.reg.on_debug_exception(&trap));
    assert_eq!((out.resume, hits(c)), (Resume::SingleStep, 1));
    assert_eq!(r.machine.regs(0).slots[1][k], None);
    on_cpu(0, || r.reg.modify_local(h, &Request::write(B, 8))).unwrap();
    assert_eq!(r.machine.regs(0).slots[1][k], None, "re-armed mid-step");
    let step = ModelTrap {
        step: true,
        ..ModelTrap::default()
    };
    let end = on_cpu(0, || r.reg.on_debug_exception(&step));
    assert_eq!(end.resume, Resume::EndSingleStep);
    assert_eq!(r.machine.regs(0).slots[1][k].map(|i| i.value), Some(B));
    assert!(r.consistent(0));
    assert!(r.access(0, B, 8, AccessKind::Write).is_some());
    assert_eq!(hits(c), 2);
}
