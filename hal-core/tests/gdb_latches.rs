//! Stop latches, each in a test binary of its own: a latch claims one of
//! the kernel-wide `MAX_LATCHES` places for good, so latches of unrelated
//! tests must not share one process's places.

mod common;

use common::rig;
use hwbreak_core::gdb::{GdbBreakpoints, GdbStop, StopLatch, WatchKind, MAX_LATCHES};
use hwbreak_core::model::{on_cpu, Config, ModelTrap};
use hwbreak_core::{AccessKind, Space};

const VAR: u64 = 0xffff_8000_0020_0000;

/// A latch claims its place once and keeps it: inserting and removing more
/// times than there are places keeps working; and a second latch in the
/// same kernel (a second stub) hears only its own breakpoints' hits.
#[test]
fn each_latch_keeps_its_own_place_and_hears_only_its_own_hits() {
    static FIRST: StopLatch<4> = StopLatch::new();
    static SECOND: StopLatch<4> = StopLatch::new();
    let r = rig(Config::arm_like(1));
    let mut a = GdbBreakpoints::<_, _, 64, 4, 8>::new(&r.reg, &FIRST);
    let mut b = GdbBreakpoints::<_, _, 64, 4, 8>::new(&r.reg, &SECOND);
    for _ in 0..2 * MAX_LATCHES {
        assert!(a.add_hw_watchpoint(VAR, 4, WatchKind::Write));
        assert!(a.remove_hw_watchpoint(VAR, 4, WatchKind::Write));
    }
    assert!(a.add_hw_watchpoint(VAR, 4, WatchKind::Write));
    assert!(b.add_hw_watchpoint(VAR + 64, 4, WatchKind::Write));
    let write = |addr: u64| {
        let trap = r
            .machine
            .access(0, addr, 1, AccessKind::Write, Space::Kernel)
            .unwrap();
        on_cpu(0, || r.reg.on_debug_exception(&trap));
        let step = ModelTrap {
            step: true,
            ..Default::default()
        };
        on_cpu(0, || r.reg.on_debug_exception(&step));
    };
    let watch = |addr| GdbStop::Watch {
        kind: WatchKind::Write,
        addr,
    };
    write(VAR + 65);
    assert_eq!(on_cpu(0, || a.take_stop()), None);
    assert_eq!(on_cpu(0, || b.take_stop()), Some(watch(VAR + 65)));
    write(VAR + 1);
    assert_eq!(on_cpu(0, || b.take_stop()), None);
    assert_eq!(on_cpu(0, || a.take_stop()), Some(watch(VAR + 1)));
}
