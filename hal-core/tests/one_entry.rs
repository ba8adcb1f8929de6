//! A registry with room for exactly one breakpoint: every index over its
//! table (the sharing roots' hash chains among them) has one entry, and
//! the one breakpoint is registered, shared, found again and removed.

use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
use hwbreak_core::{AccessKind, ErrorKind, Registry, Request, Space};

const A: u64 = 0xffff_8000_0030_0000;

#[test]
fn a_one_entry_registry_holds_its_breakpoint() {
    let machine = Machine::new(Config::x86_like(1));
    let reg = Box::new(Registry::<_, _, 1, 1, 1>::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online()).unwrap();
    let h = reg.register(&Request::write(A, 8)).unwrap();
    assert!(machine
        .access(0, A, 8, AccessKind::Write, Space::Kernel)
        .is_some());
    // The table is full: an identical request has no entry of its own,
    // another one neither.
    for req in [Request::write(A, 8), Request::write(A + 8, 8)] {
        assert_eq!(reg.register(&req).unwrap_err().kind(), ErrorKind::TableFull);
    }
    reg.modify(h, &Request::write(A + 64, 8)).unwrap();
    assert!(machine
        .access(0, A + 64, 8, AccessKind::Write, Space::Kernel)
        .is_some());
    reg.unregister(h).unwrap();
    assert!(machine
        .access(0, A + 64, 8, AccessKind::Write, Space::Kernel)
        .is_none());
    // The entry is free again, for the same watch or another.
    let h = reg.register(&Request::write(A, 8)).unwrap();
    reg.unregister(h).unwrap();
    reg.register(&Request::write(A + 8, 8)).unwrap();
}
