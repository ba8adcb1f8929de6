//! `cargo xtask test`: every check the project has, in one run.
//!
//! Steps, in order: setup, formatting, clippy, docs, packaging of the
//! published crates, their docs.rs builds, defmt builds, the MSRV builds,
//! host tests, loom tests (on the real ledger, then on broken ones that
//! must fail), every board's QEMU suite, the example kernel, the GDB
//! sessions, the bounded fuzz run, miri, one shard of the mutation run.
//! Each step's output is shown as it runs. A step whose command does not
//! exist yet fails; nothing is skipped silently.
//!
//! The run ends with a table of the steps and exactly one line
//! `N passed, M failed` over everything: individual tests where a step
//! reports them (cargo's `test result:` lines, the boards' summary line,
//! the fuzzer's `fuzz: ops = N, failures = F` line), the step itself
//! otherwise. It exits non-zero on any failure.

use crate::setup::{self, Purpose};
use crate::util::{self, Stream};
use std::process::Command;
use std::time::Instant;

/// Operations of the bounded fuzz run.
const FUZZ_OPS: &str = "1000000";

/// The crates published to crates.io.
const PUBLISHED: [&str; 6] = [
    "hwbreak",
    "hwbreak-core",
    "hwbreak-x86",
    "hwbreak-aarch64",
    "hwbreak-ppc64",
    "hwbreak-riscv",
];

/// Each published crate's folder and the name of its docs.rs step.
const DOCS_RS: [(&str, &str, &str); 6] = [
    ("hwbreak", ".", "docs.rs"),
    ("hwbreak-core", "hal-core", "docs.rs core"),
    ("hwbreak-x86", "arch-x86", "docs.rs x86"),
    ("hwbreak-aarch64", "arch-aarch64", "docs.rs arm"),
    ("hwbreak-ppc64", "arch-ppc64", "docs.rs ppc"),
    ("hwbreak-riscv", "arch-riscv", "docs.rs riscv"),
];

/// The targets kernels build the libraries for.
const KERNEL_TARGETS: [&str; 4] = [
    "x86_64-unknown-none",
    "aarch64-unknown-none",
    "powerpc64-unknown-linux-gnu",
    "riscv64gc-unknown-none-elf",
];
/// Shards the mutation run is cut into for CI: each `cargo xtask test`
/// runs one, picked by the commit's hash. About 1 650 mutants, so a shard
/// is 8 or 9 of them: on two cores, one build of the copied tree (about
/// 2 minutes) and then 10 to 30 s per mutant.
const MUTANT_SHARDS: u64 = 200;

/// Pass/fail counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

/// How a step's output is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parse {
    /// The step is one check.
    Step,
    /// Sum cargo's `test result: ... N passed; M failed` lines.
    CargoTests,
    /// The last bare `N passed, M failed, K skipped` line (`xtask qemu all`).
    Boards,
    /// `fuzz: ops = N, failures = F`: one check.
    Fuzz,
}

/// What one step gave.
struct Outcome {
    name: &'static str,
    ok: bool,
    counts: Counts,
    note: String,
    secs: f64,
}

/// Entry point.
pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask test".into());
    }
    let start = Instant::now();
    let mut results: Vec<Outcome> = Vec::new();

    // Setup first: without it nothing else can run.
    let t = Instant::now();
    banner("setup");
    let setup = setup::ensure(Purpose::Test);
    results.push(Outcome {
        name: "setup",
        ok: setup.is_ok(),
        counts: count_step(setup.is_ok()),
        note: setup.err().unwrap_or_default(),
        secs: t.elapsed().as_secs_f64(),
    });

    let commands = main_commands();
    for (name, mut cmd, parse, hint) in steps() {
        if let Some(sub) = hint {
            if !commands.iter().any(|c| c == sub) {
                banner(name);
                // A check that cannot run is a failure, never a skip.
                let note = format!("`cargo xtask {sub}` does not exist");
                eprintln!("test: {name}: FAILED: {note}");
                results.push(Outcome {
                    name,
                    ok: false,
                    counts: count_step(false),
                    note,
                    secs: 0.0,
                });
                continue;
            }
        }
        results.push(run_step(name, &mut cmd, parse));
    }

    let mut total = Counts::default();
    println!();
    println!(
        "test: {:<10} {:<7} {:>9} {:>9} {:>8}  note",
        "step", "result", "passed", "failed", "time"
    );
    for r in &results {
        total.passed += r.counts.passed;
        total.failed += r.counts.failed;
        println!(
            "test: {:<10} {:<7} {:>9} {:>9} {:>7.1}s  {}",
            r.name,
            if r.ok { "ok" } else { "FAILED" },
            r.counts.passed,
            r.counts.failed,
            r.secs,
            r.note
        );
    }
    println!("test: whole run {:.0} s", start.elapsed().as_secs_f64());
    println!("{} passed, {} failed", total.passed, total.failed);
    if results.iter().all(|r| r.ok) && total.failed == 0 {
        Ok(())
    } else {
        Err("some checks failed (see the table above)".into())
    }
}

/// The steps after setup: name, command, how to count it, and the xtask
/// subcommand it needs (checked against `main.rs`).
fn steps() -> Vec<(&'static str, Command, Parse, Option<&'static str>)> {
    let mut v = Vec::new();

    let mut fmt = util::cargo();
    fmt.args(["fmt", "--all", "--check", "--", "--color", "never"]);
    v.push(("fmt", fmt, Parse::Step, None));

    let mut clippy = util::cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]);
    v.push(("clippy", clippy, Parse::Step, None));

    let mut doc = util::cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings");
    v.push(("doc", doc, Parse::Step, None));

    // `cargo package` of every published crate, as `cargo publish` would
    // upload it: cargo orders them by dependency and verifies each one by
    // building the packaged sources, with the crates packaged before it
    // resolved from those packages (a temporary local registry), not from
    // the workspace. `--allow-dirty`: a working tree with uncommitted edits
    // is checked as it is.
    let mut publish = util::cargo();
    publish.args(["package", "--allow-dirty"]);
    for p in PUBLISHED {
        publish.args(["-p", p]);
    }
    v.push(("publish", publish, Parse::Step, None));

    // Each crate's documentation as docs.rs builds it from
    // `[package.metadata.docs.rs]`: with nightly, those targets, those
    // features, `docsrs` set (crates may then use nightly's `doc_cfg`),
    // warnings refused. `core` is built from source for each target:
    // nightly's prebuilt powerpc64 library is not always downloadable. Its
    // own target directory: nightly's artifacts would evict stable's.
    for (package, dir, step) in DOCS_RS {
        let doc = match docs_rs_build(&util::root().join(dir).join("Cargo.toml")) {
            Ok((targets, features)) => {
                let mut doc = util::cargo();
                doc.env_remove("RUSTUP_TOOLCHAIN")
                    .env("RUSTDOCFLAGS", "-D warnings --cfg docsrs")
                    .env("CARGO_TARGET_DIR", util::root().join("target/docs-rs"))
                    .args(["+nightly", "doc", "-Zbuild-std=core", "--no-deps"])
                    .args(["-p", package])
                    .args(["--features", &features.join(",")]);
                for t in targets {
                    doc.args(["--target", &t]);
                }
                doc
            }
            Err(e) => refused(&e),
        };
        v.push((step, doc, Parse::Step, None));
    }

    // `defmt::Format` on every public type, built for the host and each
    // kernel target (libraries only: a logger is needed only to link a
    // final binary). One family feature satisfies hwbreak-ppc64's
    // `compile_error!` on powerpc64. The model backend needs `std`, so
    // `defmt` + `model` is left to clippy's `--all-features` check.
    let mut defmt = util::cargo();
    defmt.args(["build", "--features"]).arg(
        "hwbreak/defmt,hwbreak-core/defmt,hwbreak-x86/defmt,\
         hwbreak-aarch64/defmt,hwbreak-ppc64/defmt,hwbreak-ppc64/dawr,\
         hwbreak-riscv/defmt",
    );
    for p in PUBLISHED {
        defmt.args(["-p", p]);
    }
    defmt.args(["--target", "host-tuple"]);
    for t in KERNEL_TARGETS {
        defmt.args(["--target", t]);
    }
    v.push(("defmt", defmt, Parse::Step, None));

    // The libraries with every feature a kernel may use, built by the
    // toolchain of each `rust-version` they claim, for the kernel targets
    // it is claimed for (setup installs them). Their own target
    // directory keeps the stable toolchain's cache intact.
    for b in &setup::MSRV_BUILDS {
        let build = match setup::rust_version(&util::root(), b.manifest) {
            Ok(version) => {
                let mut build = util::cargo();
                build
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .arg(format!("+{version}"))
                    .args(["build", "--features", b.features])
                    .env("CARGO_TARGET_DIR", util::root().join("target/msrv"));
                for p in b.packages {
                    build.args(["-p", p]);
                }
                for t in b.targets {
                    build.args(["--target", t]);
                }
                build
            }
            Err(e) => refused(&e),
        };
        v.push((b.step, build, Parse::Step, None));
    }

    // The model backend (hwbreak-core's `model` feature) is what the host
    // tests drive; `defmt` needs a logger a host test binary has not got.
    // `--no-fail-fast`: one failing test binary must not hide the others.
    // `hwbreak/gdbstub` compiles the integration guide's GDB snippet;
    // `hwbreak-suite/gdb` runs the tests of the boards' shared GDB pieces.
    let mut host = util::cargo();
    host.args([
        "test",
        "--workspace",
        "--no-fail-fast",
        "--features",
        "hwbreak-core/model,hwbreak-core/gdbstub,hwbreak/gdbstub,hwbreak-x86/x86_64,\
         hwbreak-suite/gdb",
    ]);
    v.push(("host tests", host, Parse::CargoTests, None));

    // loom swaps the core's atomics under `--cfg loom`; its own target
    // directory keeps the ordinary build's cache intact.
    let mut loom = util::cargo();
    loom.args(["test", "-p", "hwbreak-core", "--test", "loom", "--release"])
        .env("RUSTFLAGS", "--cfg loom")
        .env("CARGO_TARGET_DIR", util::root().join("target/loom"));
    v.push(("loom", loom, Parse::CargoTests, None));

    // The loom tests must also fail on deliberately broken ledgers.
    let mut broken = util::xtask();
    broken.args(["mutants", "--loom"]);
    v.push(("loom-bad", broken, Parse::Step, Some("mutants")));

    let mut qemu = util::xtask();
    qemu.args(["qemu", "all"]);
    v.push(("qemu", qemu, Parse::Boards, Some("qemu")));

    // examples/x86_64-kernel: a kernel on the x86_64 crate, uart_16550 and
    // PVH boot, using hwbreak as a crates.io user would (nightly: its IDT
    // handlers are `extern "x86-interrupt"`).
    let mut example = util::xtask();
    example.args(["qemu", "x86_64-example"]);
    v.push(("example", example, Parse::Boards, Some("qemu")));

    // A real gdb-multiarch against the boards' GDB stubs; its summary line
    // has the boards' format.
    let mut gdb = util::xtask();
    gdb.arg("gdb");
    v.push(("gdb", gdb, Parse::Boards, Some("gdb")));

    let mut fuzz = util::xtask();
    fuzz.args(["fuzz", "--ops", FUZZ_OPS]);
    v.push(("fuzz", fuzz, Parse::Fuzz, Some("fuzz")));

    let mut miri = util::xtask();
    miri.arg("miri");
    v.push(("miri", miri, Parse::CargoTests, Some("miri")));

    // One shard of `cargo xtask mutants`, so test strength cannot drop
    // unnoticed: it fails on a surviving mutant that `mutants-equivalent.md`
    // does not explain. Without a commit hash, shard 0.
    let shard = crate::mutants::shard_for_commit(MUTANT_SHARDS)
        .unwrap_or_else(|_| format!("0/{MUTANT_SHARDS}"));
    let mut mutants = util::xtask();
    mutants.args(["mutants", "--shard", &shard, "-j", "2"]);
    v.push(("mutants", mutants, Parse::Step, Some("mutants")));

    v
}

/// A step that cannot be built as a command: it prints why and fails.
fn refused(why: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo \"$1\" >&2; exit 1", "sh", why]);
    cmd
}

/// The targets (the default one first) and features of a manifest's
/// `[package.metadata.docs.rs]`.
fn docs_rs_build(manifest: &std::path::Path) -> Result<(Vec<String>, Vec<String>), String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let value: toml::Value =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let meta = value
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("docs"))
        .and_then(|d| d.get("rs"))
        .ok_or_else(|| format!("{}: no [package.metadata.docs.rs]", manifest.display()))?;
    let strings = |key: &str| -> Vec<String> {
        meta.get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut targets = strings("targets");
    if let Some(default) = meta.get("default-target").and_then(|v| v.as_str()) {
        targets.retain(|t| t != default);
        targets.insert(0, default.to_string());
    }
    if targets.is_empty() {
        return Err(format!(
            "{}: docs.rs builds no kernel target",
            manifest.display()
        ));
    }
    Ok((targets, strings("features")))
}

/// The commands `xtask` dispatches, read from its `main.rs` match arms.
fn main_commands() -> Vec<String> {
    let main = std::fs::read_to_string(util::root().join("xtask/src/main.rs")).unwrap_or_default();
    main.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix('"')?;
            let (name, tail) = rest.split_once('"')?;
            tail.trim_start()
                .starts_with("=>")
                .then(|| name.to_string())
        })
        .collect()
}

fn banner(name: &str) {
    eprintln!();
    eprintln!("==== test: {name} ====");
}

fn run_step(name: &'static str, cmd: &mut Command, parse: Parse) -> Outcome {
    banner(name);
    eprintln!("+ {}", util::show(cmd));
    let t = Instant::now();
    let run = util::run_lines(cmd, |s, l| match s {
        Stream::Out => println!("{l}"),
        Stream::Err => eprintln!("{l}"),
    });
    let secs = t.elapsed().as_secs_f64();
    let (ok, lines) = match run {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                name,
                ok: false,
                counts: count_step(false),
                note: e,
                secs,
            }
        }
    };
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let (counts, note) = count(parse, ok, &text);
    eprintln!(
        "test: {name}: {} ({} passed, {} failed, {secs:.1} s)",
        if ok { "ok" } else { "FAILED" },
        counts.passed,
        counts.failed
    );
    Outcome {
        name,
        ok,
        counts,
        note,
        secs,
    }
}

fn count_step(ok: bool) -> Counts {
    Counts {
        passed: u64::from(ok),
        failed: u64::from(!ok),
    }
}

/// Counts a finished step from its output and exit status. A step that
/// failed always counts at least one failure, whatever its output says.
fn count(parse: Parse, ok: bool, lines: &[&str]) -> (Counts, String) {
    let (parsed, note) = match parse {
        Parse::Step => (None, String::new()),
        Parse::CargoTests => {
            let mut c = Counts::default();
            let mut binaries = 0;
            for l in lines {
                if let Some(r) = cargo_result(l) {
                    c.passed += r.passed;
                    c.failed += r.failed;
                    binaries += 1;
                }
            }
            if binaries == 0 {
                (None, "no `test result:` line".into())
            } else {
                (Some(c), format!("{binaries} test binaries"))
            }
        }
        Parse::Boards => match lines.iter().rev().find_map(|l| board_summary(l)) {
            Some((c, skipped)) => (Some(c), format!("{skipped} scenarios skipped")),
            None => (None, "no summary line".into()),
        },
        Parse::Fuzz => match lines.iter().rev().find_map(|l| fuzz_line(l)) {
            Some((ops, failures)) => (
                Some(Counts {
                    passed: u64::from(failures == 0),
                    failed: u64::from(failures != 0),
                }),
                format!("{ops} ops, {failures} failures"),
            ),
            None => (None, "no `fuzz:` line".into()),
        },
    };
    let mut c = parsed.unwrap_or_else(|| count_step(ok));
    if !ok && c.failed == 0 {
        c.failed = 1;
    }
    if ok && parsed.is_some() && c.passed == 0 && c.failed == 0 {
        // Succeeded but ran nothing: that is not a pass.
        return (
            Counts {
                passed: 0,
                failed: 1,
            },
            "ran no test".into(),
        );
    }
    (c, note)
}

/// `test result: ok. 7 passed; 0 failed; 0 ignored; ...`.
pub(crate) fn cargo_result(l: &str) -> Option<Counts> {
    let rest = l.trim().strip_prefix("test result: ")?;
    let num = |word: &str| -> Option<u64> {
        rest.split(';').find_map(|p| {
            p.trim()
                .strip_suffix(word)?
                .trim()
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
    };
    Some(Counts {
        passed: num("passed")?,
        failed: num("failed")?,
    })
}

/// A bare `N passed, M failed, K skipped` line: counts and skipped.
fn board_summary(l: &str) -> Option<(Counts, u64)> {
    let parts: Vec<&str> = l.trim().split(", ").collect();
    let [p, f, s] = parts.as_slice() else {
        return None;
    };
    let n = |s: &str, w: &str| -> Option<u64> { s.strip_suffix(w)?.trim_end().parse().ok() };
    Some((
        Counts {
            passed: n(p, "passed")?,
            failed: n(f, "failed")?,
        },
        n(s, "skipped")?,
    ))
}

/// `fuzz: ops = N, failures = F`.
fn fuzz_line(l: &str) -> Option<(u64, u64)> {
    let rest = l.trim().strip_prefix("fuzz: ops = ")?;
    let (ops, failures) = rest.split_once(", failures = ")?;
    Some((ops.trim().parse().ok()?, failures.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_result_lines() {
        assert_eq!(
            cargo_result(
                "test result: ok. 7 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s"
            ),
            Some(Counts { passed: 7, failed: 0 })
        );
        assert_eq!(
            cargo_result("test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured"),
            Some(Counts {
                passed: 3,
                failed: 2
            })
        );
        assert_eq!(cargo_result("running 7 tests"), None);
    }

    #[test]
    fn counting_cargo_steps() {
        let out = [
            "test result: ok. 7 passed; 0 failed; 0 ignored",
            "test result: ok. 3 passed; 0 failed; 0 ignored",
        ];
        assert_eq!(
            count(Parse::CargoTests, true, &out).0,
            Counts {
                passed: 10,
                failed: 0
            }
        );
        // A failing step with no failing test (e.g. a build error) still fails.
        assert_eq!(
            count(Parse::CargoTests, false, &out).0,
            Counts {
                passed: 10,
                failed: 1
            }
        );
        assert_eq!(
            count(Parse::CargoTests, false, &[]).0,
            Counts {
                passed: 0,
                failed: 1
            }
        );
        // A successful step that ran no test is not a pass.
        let none = ["test result: ok. 0 passed; 0 failed; 0 ignored"];
        assert_eq!(
            count(Parse::CargoTests, true, &none).0,
            Counts {
                passed: 0,
                failed: 1
            }
        );
    }

    #[test]
    fn counting_boards_and_fuzz() {
        let out = [
            "31 passed, 0 failed, 2 skipped",
            "31 passed, 0 failed, 2 skipped (QEMU exit status 3)",
            "120 passed, 0 failed, 9 skipped",
        ];
        assert_eq!(
            count(Parse::Boards, true, &out).0,
            Counts {
                passed: 120,
                failed: 0
            }
        );
        assert_eq!(
            board_summary("1 passed, 0 failed, 0 skipped (QEMU exit status 0)"),
            None
        );
        assert_eq!(
            fuzz_line("fuzz: ops = 1000000, failures = 0"),
            Some((1_000_000, 0))
        );
        assert_eq!(
            count(Parse::Fuzz, true, &["fuzz: ops = 10, failures = 0"]).0,
            Counts {
                passed: 1,
                failed: 0
            }
        );
        assert_eq!(
            count(Parse::Fuzz, false, &["fuzz: ops = 10, failures = 2"]).0,
            Counts {
                passed: 0,
                failed: 1
            }
        );
        assert_eq!(
            count(Parse::Step, true, &[]).0,
            Counts {
                passed: 1,
                failed: 0
            }
        );
        assert_eq!(
            count(Parse::Step, false, &[]).0,
            Counts {
                passed: 0,
                failed: 1
            }
        );
    }

    #[test]
    fn docs_rs_of_every_published_crate() {
        for (package, dir, _) in DOCS_RS {
            let manifest = util::root().join(dir).join("Cargo.toml");
            let (targets, features) = docs_rs_build(&manifest).unwrap();
            assert!(
                targets.iter().all(|t| KERNEL_TARGETS.contains(&t.as_str())),
                "{package}"
            );
            assert!(features.iter().any(|f| f == "defmt"), "{package}");
        }
        let (targets, features) = docs_rs_build(&util::root().join("Cargo.toml")).unwrap();
        assert_eq!(targets[0], "x86_64-unknown-none");
        assert_eq!(targets.len(), 3);
        assert!(features.iter().any(|f| f == "gdbstub"));
        assert!(docs_rs_build(&util::root().join("xtask/Cargo.toml")).is_err());
    }

    #[test]
    fn refused_steps_fail_and_say_why() {
        let mut cmd = refused("no rust-version");
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            "no rust-version"
        );
    }

    #[test]
    fn commands_of_main() {
        let cmds = main_commands();
        assert!(cmds.iter().any(|c| c == "setup"));
        assert!(cmds.iter().any(|c| c == "test"));
        assert!(!cmds.iter().any(|c| c == "other"));
    }
}
