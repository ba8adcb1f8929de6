//! `cargo xtask miri`: the core's tests under miri (nightly), which checks
//! every `unsafe` block they reach for undefined behaviour (the handler
//! cells' pointer round trip, atomics, the model's register writes).
//!
//! What runs: the core's unit tests and every integration test in
//! `hal-core/tests` except two kinds, skipped with the reason printed:
//! property tests (files using `proptest`: hundreds of generated cases,
//! thousands of times slower under the interpreter, over the same code
//! paths the example-based tests reach) and the loom tests (loom is its own
//! model checker and needs `--cfg loom`). The bad-input catalogue runs
//! every fourth row under miri (`cfg!(miri)` in `tests/bad_input.rs`:
//! each row builds two registries and takes seconds interpreted).
//! Isolation is disabled because proptest and the model read the clock and
//! the environment.

use crate::util;

/// The integration tests of `hwbreak-core` to run under miri.
fn tests() -> Result<Vec<String>, String> {
    let dir = util::root().join("hal-core/tests");
    let mut names = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".rs"))
        else {
            continue;
        };
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        if name == "loom" {
            println!("miri: skipping tests/{name}.rs (loom tests run under loom)");
        } else if source.contains("proptest") {
            println!("miri: skipping tests/{name}.rs (property tests: too slow interpreted)");
        } else {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("miri: unknown argument `{a}`"));
    }
    // Install the component if this nightly lacks it (rustup is idempotent).
    let _ = util::run(util::cargo().args(["+nightly", "miri", "setup"]));
    let mut cmd = util::cargo();
    cmd.args([
        "+nightly",
        "miri",
        "test",
        "-p",
        "hwbreak-core",
        "--features",
        "model,gdbstub",
        "--lib",
    ]);
    for t in tests()? {
        cmd.args(["--test", &t]);
    }
    // `-Zmiri-ignore-leaks`: the model platform leaks its zone list on
    // purpose (`ModelPlatform::with_zones`: the registry borrows it for its
    // whole life), and tests leak the registries their handlers reach.
    cmd.env(
        "MIRIFLAGS",
        "-Zmiri-disable-isolation -Zmiri-strict-provenance -Zmiri-ignore-leaks",
    )
    // Keep miri's build apart from the ordinary one.
    .env("CARGO_TARGET_DIR", util::root().join("target/miri"));
    util::run(&mut cmd)
}
