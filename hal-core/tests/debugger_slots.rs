//! What the kernel debugger's lockless path leaves in the current CPU's
//! slots: each debugger slot armed exactly once, at the index its handle
//! names, and every breakpoint already loaded on the CPU still armed (moved
//! aside only when a debugger slot needs its index), both when a debugger
//! slot is installed and when one is given back.

mod common;

use common::*;
use hwbreak_core::model::{on_cpu, Config};
use hwbreak_core::{AccessKind, CpuId, PoolId, Request, Scope, SlotImage};

const A: u64 = 0xffff_8000_0070_0000;

fn write_req(addr: u64, len: u64, ctx: usize) -> Request {
    Request::write(addr, len).handler(count, ctx)
}

/// The addresses the current CPU's slots of `pool` hold, by index.
fn loaded(r: &Rig, cpu: u32, pool: usize) -> Vec<Option<u64>> {
    let n = r.machine.config.slots[pool] as usize;
    r.machine.regs(cpu).slots[pool][..n]
        .iter()
        .map(|s| s.map(|i: SlotImage| i.value))
        .collect()
}

/// A write of 8 bytes at each address on CPU 0 traps and calls its own
/// handler exactly once.
fn each_traps_once(r: &Rig, watches: &[(u64, usize)]) {
    for &(addr, ctx) in watches {
        let before = hits(ctx);
        assert!(
            r.access(0, addr, 8, AccessKind::Write).is_some(),
            "{addr:#x}"
        );
        assert_eq!(hits(ctx), before + 1, "{addr:#x}");
    }
}

/// A second debugger slot does not copy the first one into another slot:
/// each debugger watch is loaded once, where its handle says, and a hit on
/// it reaches its handler once.
#[test]
fn each_debugger_slot_is_loaded_once_at_its_own_index() {
    let r = rig(Config::x86_like(1));
    let (c1, c2) = (counter(), counter());
    let d1 = on_cpu(0, || r.reg.debugger_install(&write_req(A, 8, c1))).unwrap();
    let d2 = on_cpu(0, || r.reg.debugger_install(&write_req(A + 64, 8, c2))).unwrap();
    // The debugger takes the highest free index, the same on every CPU.
    assert_eq!((d1.slot(), d2.slot()), (3, 2));
    assert_eq!(loaded(&r, 0, 0), [None, None, Some(A + 64), Some(A)]);
    let out = r.access(0, A, 8, AccessKind::Write).unwrap();
    assert_eq!(out.delivered, 1);
    assert_eq!((hits(c1), hits(c2)), (1, 0));

    // Giving the first back leaves the second where it is, once.
    on_cpu(0, || r.reg.debugger_remove(d1)).unwrap();
    assert_eq!(loaded(&r, 0, 0), [None, None, Some(A + 64), None]);
    assert!(r.access(0, A, 8, AccessKind::Write).is_none());
    assert_eq!(
        r.access(0, A + 64, 8, AccessKind::Write).unwrap().delivered,
        1
    );
    assert_eq!((hits(c1), hits(c2)), (1, 1));
    on_cpu(0, || r.reg.debugger_remove(d2)).unwrap();
    assert_eq!(loaded(&r, 0, 0), [None; 4]);
}

/// The same in the data pool of a machine with separate pools: the code
/// pool is not touched, the data pool holds each debugger watch once.
#[test]
fn debugger_slots_in_the_second_pool_are_loaded_once() {
    let r = rig(Config::arm_like(1));
    let x = r.reg.register(&Request::execute(A + 0x400)).unwrap();
    let d1 = on_cpu(0, || r.reg.debugger_install(&Request::write(A, 8))).unwrap();
    let d2 = on_cpu(0, || r.reg.debugger_install(&Request::write(A + 64, 8))).unwrap();
    assert_eq!((d1.pool(), d2.pool()), (PoolId::SECOND, PoolId::SECOND));
    assert_eq!((d1.slot(), d2.slot()), (3, 2));
    assert_eq!(loaded(&r, 0, 1), [None, None, Some(A + 64), Some(A)]);
    let code = loaded(&r, 0, 0);
    assert_eq!(code.iter().flatten().count(), 1);
    assert!(code.contains(&Some(A + 0x400)));
    on_cpu(0, || r.reg.debugger_remove(d2)).unwrap();
    assert_eq!(loaded(&r, 0, 1), [None, None, None, Some(A)]);
    on_cpu(0, || r.reg.debugger_remove(d1)).unwrap();
    assert_eq!(loaded(&r, 0, 1), [None; 4]);
    r.reg.unregister(x).unwrap();
}

/// Breakpoints loaded in slots the debugger does not need keep their slots
/// and keep trapping when a debugger slot is installed and given back: the
/// CPU-bound ones in the low slots, the system-wide one at its index.
#[test]
fn breakpoints_outside_the_debugger_slot_stay_loaded() {
    let r = rig(Config::x86_like(1));
    let sys = counter();
    r.reg.register(&write_req(A + 512, 8, sys)).unwrap();
    let scope = Scope::Cpu(CpuId(0));
    let (l0, l1) = (counter(), counter());
    r.reg.register(&write_req(A, 8, l0).scope(scope)).unwrap();
    r.reg
        .register(&write_req(A + 8, 8, l1).scope(scope))
        .unwrap();
    // System-wide slots are taken from the top, CPU-bound ones from the
    // bottom.
    assert_eq!(
        loaded(&r, 0, 0),
        [Some(A), Some(A + 8), None, Some(A + 512)]
    );

    let dc = counter();
    let d = on_cpu(0, || r.reg.debugger_install(&write_req(A + 1024, 8, dc))).unwrap();
    assert_eq!(d.slot(), 2);
    assert_eq!(
        loaded(&r, 0, 0),
        [Some(A), Some(A + 8), Some(A + 1024), Some(A + 512)]
    );
    each_traps_once(&r, &[(A, l0), (A + 8, l1), (A + 512, sys), (A + 1024, dc)]);

    on_cpu(0, || r.reg.debugger_remove(d)).unwrap();
    assert_eq!(
        loaded(&r, 0, 0),
        [Some(A), Some(A + 8), None, Some(A + 512)]
    );
    each_traps_once(&r, &[(A, l0), (A + 8, l1), (A + 512, sys)]);
    assert!(r.access(0, A + 1024, 8, AccessKind::Write).is_none());
}

/// A CPU-bound breakpoint loaded under the index a debugger slot needs is
/// moved to a free slot (not dropped, not copied): after the install every
/// breakpoint is loaded exactly once.
#[test]
fn a_breakpoint_under_the_debugger_slot_moves_to_a_free_one() {
    let r = rig(Config::x86_like(1));
    let scope = Scope::Cpu(CpuId(0));
    let cs: Vec<usize> = (0..4).map(|_| counter()).collect();
    let hs: Vec<_> = (0..4)
        .map(|i| {
            r.reg
                .register(&write_req(A + 8 * i as u64, 8, cs[i]).scope(scope))
                .unwrap()
        })
        .collect();
    // Free slots 0 and 1: the watch loaded in slot 3 is under the
    // debugger's slot.
    r.reg.unregister(hs[0]).unwrap();
    r.reg.unregister(hs[1]).unwrap();
    assert_eq!(loaded(&r, 0, 0), [None, None, Some(A + 16), Some(A + 24)]);
    let dc = counter();
    let d = on_cpu(0, || r.reg.debugger_install(&write_req(A + 1024, 8, dc))).unwrap();
    assert_eq!(d.slot(), 3);
    assert_eq!(
        loaded(&r, 0, 0),
        [Some(A + 24), None, Some(A + 16), Some(A + 1024)]
    );
    each_traps_once(&r, &[(A + 16, cs[2]), (A + 24, cs[3]), (A + 1024, dc)]);
    on_cpu(0, || r.reg.debugger_remove(d)).unwrap();
    assert_eq!(loaded(&r, 0, 0), [Some(A + 24), None, Some(A + 16), None]);
}

/// The handles the debugger slots' handlers were called with.
static SEEN: std::sync::Mutex<Vec<hwbreak_core::Handle>> = std::sync::Mutex::new(Vec::new());

fn record(e: &hwbreak_core::Event) {
    SEEN.lock().unwrap().push(e.handle);
}

/// A debugger's handler can tell which of its slots hit: the handle it is
/// called with is the one `DebuggerHandle::handle` names, different for
/// every slot and pool, from every registration's, and from the next
/// debugger breakpoint armed in the same slot.
#[test]
fn a_debugger_hit_names_the_handle_of_its_slot() {
    let r = rig(Config::arm_like(1));
    let kernel = r.reg.register(&Request::write(A + 256, 8)).unwrap();
    let install = |req: &Request| on_cpu(0, || r.reg.debugger_install(&req.handler(record, 0)));
    let code = install(&Request::execute(A + 512)).unwrap();
    let data = install(&Request::write(A, 8)).unwrap();
    assert_ne!(code.pool(), data.pool());
    let handles = [code.handle(), data.handle(), kernel];
    for (i, a) in handles.iter().enumerate() {
        for b in &handles[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert!(r.access(0, A, 8, AccessKind::Write).is_some());
    assert!(r.access(0, A + 512, 4, AccessKind::Execute).is_some());
    assert_eq!(*SEEN.lock().unwrap(), [data.handle(), code.handle()]);

    on_cpu(0, || r.reg.debugger_remove(data)).unwrap();
    let again = install(&Request::write(A, 8)).unwrap();
    assert_eq!((again.pool(), again.slot()), (data.pool(), data.slot()));
    assert_ne!(again.handle(), data.handle());
    assert!(r.access(0, A, 8, AccessKind::Write).is_some());
    assert_eq!(SEEN.lock().unwrap().last(), Some(&again.handle()));
}
