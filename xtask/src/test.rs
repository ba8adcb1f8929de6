//! `cargo xtask test`: every check the project has, in one run.
//!
//! Steps, in order: setup, formatting, clippy, docs, defmt builds, host
//! tests, loom tests (on the real ledger, then on broken ones that must
//! fail), every board's QEMU suite, the GDB sessions, the bounded fuzz
//! run, miri, one shard of the mutation run.
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

/// Shards the mutation run is cut into for CI: each `cargo xtask test`
/// runs one (a few minutes), picked by the commit's hash.
const MUTANT_SHARDS: u64 = 64;

/// Pass/fail counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
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
    for p in [
        "hwbreak",
        "hwbreak-core",
        "hwbreak-x86",
        "hwbreak-aarch64",
        "hwbreak-ppc64",
        "hwbreak-riscv",
    ] {
        defmt.args(["-p", p]);
    }
    for t in [
        "host-tuple",
        "x86_64-unknown-none",
        "aarch64-unknown-none",
        "powerpc64-unknown-linux-gnu",
        "riscv64gc-unknown-none-elf",
    ] {
        defmt.args(["--target", t]);
    }
    v.push(("defmt", defmt, Parse::Step, None));

    // The model backend (hwbreak-core's `model` feature) is what the host
    // tests drive; `defmt` needs a logger a host test binary has not got.
    // `--no-fail-fast`: one failing test binary must not hide the others.
    // `hwbreak/gdbstub` compiles the integration guide's GDB snippet.
    let mut host = util::cargo();
    host.args([
        "test",
        "--workspace",
        "--no-fail-fast",
        "--features",
        "hwbreak-core/model,hwbreak-core/gdbstub,hwbreak/gdbstub",
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
    mutants.args(["mutants", "--shard", &shard]);
    v.push(("mutants", mutants, Parse::Step, Some("mutants")));

    v
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
fn cargo_result(l: &str) -> Option<Counts> {
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
    fn commands_of_main() {
        let cmds = main_commands();
        assert!(cmds.iter().any(|c| c == "setup"));
        assert!(cmds.iter().any(|c| c == "test"));
        assert!(!cmds.iter().any(|c| c == "other"));
    }
}
