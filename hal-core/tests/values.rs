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
