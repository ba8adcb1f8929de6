//! The small public value types keep the promises their docs make:
//! handlers compare by function and context, print both, and handles of
//! distinct registrations have distinct indices.

mod common;

use common::*;
use hwbreak_core::model::Config;
use hwbreak_core::{AccessKind, Event, Handler, Request};

fn first(_: &Event) {}

fn second(e: &Event) {
    // A body unlike `first`'s, so the two are never merged into one.
    std::hint::black_box(e.context);
}

#[test]
fn handlers_are_equal_only_with_the_same_function_and_context() {
    // One function pointer, taken once: Rust does not promise that two
    // casts of the same function give the same address (miri gives
    // different ones), so the comparison is of pointer values.
    let f: fn(&Event) = first;
    assert_eq!(Handler::new(f, 7), Handler::new(f, 7));
    assert_ne!(Handler::new(f, 7), Handler::new(f, 8));
    assert_ne!(Handler::new(f, 7), Handler::new(second, 7));
    assert_ne!(Handler::new(f, 7), Handler::none());
}

#[test]
fn only_memory_accesses_are_data() {
    for kind in [AccessKind::Write, AccessKind::Read, AccessKind::ReadWrite] {
        assert!(kind.is_data(), "{kind:?}");
    }
    // An instruction fetch and a port access are not memory data.
    for kind in [AccessKind::Execute, AccessKind::Io] {
        assert!(!kind.is_data(), "{kind:?}");
    }
}

#[test]
fn a_handler_prints_its_function_and_context() {
    let text = format!("{:?}", Handler::new(first, 0x2a));
    assert!(text.starts_with("Handler"), "{text}");
    assert!(text.contains("func"), "{text}");
    assert!(text.contains("context: 42"), "{text}");
}

/// Identical requests share a slot, yet each registration has its own
/// table entry: their indices differ.
#[test]
fn distinct_registrations_have_distinct_indices() {
    let r = rig(Config::x86_like(1));
    let req = Request::write(0xffff_8000_0070_0000, 8);
    let indices: Vec<u32> = (0..3)
        .map(|_| r.reg.register(&req).unwrap().index())
        .collect();
    assert_ne!(indices[0], indices[1]);
    assert_ne!(indices[1], indices[2]);
    assert_ne!(indices[0], indices[2]);
}

/// An entry used again gets a new generation each time, so each handle it
/// ever had stays distinct from the current one (and is refused as stale).
#[test]
fn an_entry_used_again_gets_a_new_generation_each_time() {
    let r = rig(Config::x86_like(1));
    let req = Request::write(0xffff_8000_0070_0000, 8);
    let mut seen: Vec<hwbreak_core::Handle> = Vec::new();
    for _ in 0..4 {
        let h = r.reg.register(&req).unwrap();
        for old in &seen {
            assert_eq!(h.index(), old.index());
            assert_ne!(h.generation(), old.generation());
            assert_ne!(h, *old);
        }
        r.reg.unregister(h).unwrap();
        seen.push(h);
    }
}

/// A decoded exception names a hit when any slot of any pool matched, and
/// only then: a step completion or an empty status is not a hit.
#[test]
fn a_decoded_exception_is_a_hit_when_any_pool_names_a_slot() {
    use hwbreak_core::Decoded;
    assert!(!Decoded::default().any_hit());
    let step = Decoded {
        step_complete: true,
        address: Some(0x1000),
        ..Decoded::default()
    };
    assert!(!step.any_hit());
    // The first pool, the second alone, both.
    for hits in [[1, 0], [0, 1 << 5], [1 << 3, 1]] {
        let d = Decoded {
            hits,
            ..Decoded::default()
        };
        assert!(d.any_hit(), "hits {hits:?}");
    }
}

/// A cover says how many pieces (slots) it takes: one per aligned piece of
/// the range, never 0.
#[test]
fn a_cover_counts_its_pieces() {
    use hwbreak_core::cover::exact_cover;
    use hwbreak_core::model::{Machine, ModelArch};
    use hwbreak_core::{MemoryType, Space};
    let arch = ModelArch::new(Machine::new(Config::x86_like(1)));
    for (addr, len, pieces) in [(0x1000, 8, 1), (0x1003, 13, 3), (0x1000, 16, 2)] {
        let c = exact_cover(
            &arch,
            addr,
            len,
            AccessKind::Write,
            Space::Kernel,
            MemoryType::Normal,
            4,
        )
        .unwrap();
        assert_eq!(c.pieces().len(), pieces, "{addr:#x}+{len}");
    }
}

/// Every error kind says what went wrong in words of its own, and an
/// error prints as its kind does.
#[test]
fn every_error_kind_has_its_own_description() {
    use hwbreak_core::{Error, ErrorKind as K};
    let kinds = [
        K::ZeroLength,
        K::UnsupportedLength,
        K::Misaligned,
        K::UnsupportedKind,
        K::AddressOverflow,
        K::NonCanonical,
        K::KernelAddressFromUser,
        K::NoBreakpointZone,
        K::NotCoverable,
        K::NoSlot,
        K::StaleHandle,
        K::ForeignHandle,
        K::SlotOutOfRange,
        K::BadCpu,
        K::BadTask,
        K::TableFull,
        K::CacheInhibited,
        K::CrossesBoundary,
        K::NotEnabled,
        K::ScopeChange,
        K::NotInitialized,
        K::UnsupportedPrivilege,
        K::NotLocal,
        K::SlotCapacity,
    ];
    let mut seen = std::collections::HashSet::new();
    for k in kinds {
        let d = k.description();
        assert!(d.len() >= 8 && d.is_ascii(), "{k:?}: {d:?}");
        assert!(seen.insert(d), "{k:?} repeats {d:?}");
        assert_eq!(k.to_string(), d);
        assert_eq!(Error::from(k).to_string(), d);
    }
    assert_eq!(K::NoSlot.description(), "no free slot");
}
