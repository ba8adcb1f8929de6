//! `cargo xtask mutants`: mutation testing of the core and the backends'
//! pure code with cargo-mutants, judged against `mutants-equivalent.md`.
//!
//! ```text
//! cargo xtask mutants [--crate C]... [--shard K/N] [--file PATH]... [--re REGEX]
//!                     [-j JOBS] [--list]
//! ```
//!
//! `cargo xtask mutants --loom` instead checks the loom tests themselves:
//! they must pass on the real ledger and fail on each deliberately broken
//! one (`hal-core/src/broken_ledger.rs`).
//!
//! `--crate` takes `core`, `x86`, `aarch64`, `ppc64`, `riscv` or a package
//! name (default: all five). `--shard`, `--file`, `--re` and `-j` are handed to
//! cargo-mutants as they are. What is mutated and how the tests run is in
//! `.cargo/mutants.toml` (it excludes the files that only run on their
//! target, and the defmt-only code).
//!
//! The run prints, per crate and then in total, exactly
//! `mutants: caught = N, missed = M, timeout = T, unviable = U`, then every
//! missed mutant, each marked `equivalent` when `mutants-equivalent.md`
//! lists it. It fails when a missed mutant is not listed. Time-outs (a
//! mutant that makes a test loop) count as detected.

use crate::setup::{self, Purpose};
use crate::util;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates whose code is mutated, with the short names `--crate` takes
/// and the folder their sources are in.
const CRATES: [(&str, &str, &str); 5] = [
    ("core", "hwbreak-core", "hal-core/"),
    ("x86", "hwbreak-x86", "arch-x86/"),
    ("aarch64", "hwbreak-aarch64", "arch-aarch64/"),
    ("ppc64", "hwbreak-ppc64", "arch-ppc64/"),
    ("riscv", "hwbreak-riscv", "arch-riscv/"),
];

/// The file naming the survivors no test can kill, at the workspace root.
pub const EQUIVALENTS: &str = "mutants-equivalent.md";

/// What the command line asked for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    crates: Vec<&'static str>,
    /// Handed to cargo-mutants unchanged.
    pass: Vec<String>,
    list: bool,
    loom: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("`{flag}` needs a value"))
        };
        match a.as_str() {
            "--crate" => {
                let v = value("--crate")?;
                let (_, package, _) = CRATES
                    .iter()
                    .find(|(short, package, _)| v == *short || v == *package)
                    .ok_or_else(|| {
                        format!("unknown crate `{v}` (core, x86, aarch64, ppc64 or riscv)")
                    })?;
                if !out.crates.contains(package) {
                    out.crates.push(package);
                }
            }
            "--shard" => {
                let v = value("--shard")?;
                shard(&v)?;
                out.pass.extend(["--shard".into(), v]);
            }
            "--file" | "--re" | "-j" | "--jobs" => {
                let v = value(a)?;
                out.pass.extend([a.clone(), v]);
            }
            "--list" => out.list = true,
            "--loom" => out.loom = true,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if out.crates.is_empty() {
        out.crates = CRATES.iter().map(|c| c.1).collect();
    }
    Ok(out)
}

const USAGE: &str = "usage: cargo xtask mutants [--crate core|x86|aarch64|ppc64|riscv]... \
                     [--shard K/N] [--file PATH]... [--re REGEX] [-j JOBS] [--list]\n       \
                     cargo xtask mutants --loom";

/// `K/N` with `K < N`.
pub fn shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("`--shard {s}`: expected K/N with 0 <= K < N");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k >= n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Entry point.
pub fn run(args: &[String]) -> Result<(), String> {
    let args = parse(args)?;
    if args.loom {
        return loom_check();
    }
    setup::ensure(Purpose::Mutants)?;
    let root = util::root();
    let mut cmd = util::cargo();
    cmd.arg("mutants");
    for p in &args.crates {
        cmd.args(["--package", p]);
    }
    if !nextest_available() {
        // `.cargo/mutants.toml` asks for nextest; without it, plain
        // `cargo test` over the unit and integration tests (doctests would
        // rebuild for every mutant).
        eprintln!("mutants: cargo-nextest not found: testing with `cargo test --tests`");
        cmd.args(["--test-tool", "cargo", "--cargo-test-arg", "--tests"]);
    }
    cmd.args(&args.pass);
    if args.list {
        cmd.arg("--list");
        return util::run(&mut cmd);
    }
    let out_dir = root.join("target/mutants");
    cmd.arg("--output").arg(&out_dir);
    eprintln!("+ {}", util::show(&cmd));
    // cargo-mutants exits 2 when a mutant is missed and 3 when one timed
    // out: those runs are judged here, against the equivalents file. Any
    // other failure (4: the tests fail on the unmutated tree) means the
    // outcomes say nothing.
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start cargo-mutants: {e}"))?;
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        return Err(format!("cargo-mutants failed: {status}"));
    }
    let results = out_dir.join("mutants.out");
    let outcomes = read_outcomes(&results).map_err(|e| {
        format!(
            "cargo-mutants left no outcomes in {}: {e}",
            results.display()
        )
    })?;
    if outcomes.is_empty() {
        return Err("cargo-mutants tested no mutant".into());
    }
    let equivalents = std::fs::read_to_string(root.join(EQUIVALENTS))
        .map(|t| equivalent_keys(&t))
        .unwrap_or_default();
    report(&args.crates, &outcomes, &equivalents)
}

fn nextest_available() -> bool {
    util::cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// How one mutant ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Caught,
    Missed,
    Timeout,
    Unviable,
}

/// cargo-mutants' per-outcome lists (`caught.txt`, ...): one mutant a line,
/// `file:line:col: mutation`.
fn read_outcomes(dir: &Path) -> Result<Vec<(Verdict, String)>, String> {
    let mut all = Vec::new();
    for (verdict, file) in [
        (Verdict::Caught, "caught.txt"),
        (Verdict::Missed, "missed.txt"),
        (Verdict::Timeout, "timeout.txt"),
        (Verdict::Unviable, "unviable.txt"),
    ] {
        let path: PathBuf = dir.join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        all.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| (verdict, l.to_string())),
        );
    }
    Ok(all)
}

/// `hal-core/src/cover.rs:133:22: replace || with && in exact_cover` ->
/// `hal-core/src/cover.rs: replace || with && in exact_cover`: the file and
/// the mutation (which names the function), without the position, so that
/// an entry survives lines moving.
fn key(line: &str) -> String {
    let Some((file, rest)) = line.split_once(':') else {
        return line.trim().to_string();
    };
    // Drop `line:col:` when present.
    let mut rest = rest;
    for _ in 0..2 {
        if let Some((num, tail)) = rest.split_once(':') {
            if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
                rest = tail;
            }
        }
    }
    format!("{file}: {}", rest.trim())
}

/// The keys listed in the equivalents file: every `` `...` `` span of the
/// form `path/file.rs: mutation` (a path without spaces, then `.rs: `).
fn equivalent_keys(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            span.split_once(".rs: ")
                .is_some_and(|(path, _)| !path.is_empty() && !path.contains(char::is_whitespace))
        })
        .map(key)
        .collect()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    caught: usize,
    missed: usize,
    timeout: usize,
    unviable: usize,
}

impl Tally {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Caught => self.caught += 1,
            Verdict::Missed => self.missed += 1,
            Verdict::Timeout => self.timeout += 1,
            Verdict::Unviable => self.unviable += 1,
        }
    }

    fn line(&self) -> String {
        format!(
            "caught = {}, missed = {}, timeout = {}, unviable = {}",
            self.caught, self.missed, self.timeout, self.unviable
        )
    }
}

fn report(
    crates: &[&str],
    outcomes: &[(Verdict, String)],
    equivalents: &[String],
) -> Result<(), String> {
    let mut total = Tally::default();
    for (_, package, dir) in CRATES.iter().filter(|c| crates.contains(&c.1)) {
        let mut t = Tally::default();
        for (v, _) in outcomes.iter().filter(|(_, l)| l.starts_with(dir)) {
            t.add(*v);
        }
        total.caught += t.caught;
        total.missed += t.missed;
        total.timeout += t.timeout;
        total.unviable += t.unviable;
        println!("mutants {package}: {}", t.line());
    }
    println!("mutants: {}", total.line());
    let mut unexplained = 0;
    for (_, l) in outcomes.iter().filter(|(v, _)| *v == Verdict::Missed) {
        if equivalents.contains(&key(l)) {
            println!("mutants: missed (equivalent): {l}");
        } else {
            unexplained += 1;
            println!("mutants: MISSED: {l}");
        }
    }
    if unexplained == 0 {
        Ok(())
    } else {
        Err(format!(
            "{unexplained} missed mutants are not listed in {EQUIVALENTS}: kill them with a \
             test, or list them there with the reason no input can tell them apart"
        ))
    }
}

/// The deliberately broken ledgers (`--cfg hwbreak_broken_ledger=...`).
const BROKEN_LEDGERS: [&str; 2] = ["load_store", "relaxed"];

/// Loom tests left out of the broken-ledger runs: on a broken ledger their
/// bounded search can take far longer than on the real one (more of its
/// interleavings stay alive), and the other tests decide.
const LONG_LOOM_TESTS: [&str; 1] = ["repeated_rounds_three_threads"];

/// The loom tests pass on the real ledger and fail on every broken one.
fn loom_check() -> Result<(), String> {
    let root = util::root();
    let run = |cfg: &str, dir: &str, skip: &[&str]| -> Result<(bool, Option<(u64, u64)>), String> {
        let mut cmd = util::cargo();
        cmd.args(["test", "-p", "hwbreak-core", "--test", "loom", "--release"])
            .env("RUSTFLAGS", cfg)
            .env("CARGO_TARGET_DIR", root.join(dir));
        if !skip.is_empty() {
            cmd.arg("--");
            for name in skip {
                cmd.args(["--skip", name]);
            }
        }
        eprintln!("+ RUSTFLAGS='{cfg}' {}", util::show(&cmd));
        // Loom's reports of the interleavings it found are long: keep
        // only cargo's own lines and the failing tests' names.
        let (ok, lines) = util::run_lines(&mut cmd, |_, l| {
            if l.starts_with("test ") || l.contains("error") {
                eprintln!("{l}");
            }
        })?;
        let counts = lines
            .iter()
            .rev()
            .find_map(|(_, l)| crate::test::cargo_result(l))
            .map(|c| (c.passed, c.failed));
        Ok((ok, counts))
    };
    let (ok, counts) = run("--cfg loom", "target/loom", &[])?;
    let Some((passed, failed)) = counts.filter(|_| ok) else {
        return Err("loom tests fail on the real ledger".into());
    };
    println!("mutants: loom: real ledger: {passed} passed, {failed} failed");
    let mut survivors = Vec::new();
    for broken in BROKEN_LEDGERS {
        let cfg = format!("--cfg loom --cfg hwbreak_broken_ledger=\"{broken}\"");
        let (ok, counts) = run(
            &cfg,
            &format!("target/loom-broken-{broken}"),
            &LONG_LOOM_TESTS,
        )?;
        match counts {
            Some((passed, failed)) if !ok && failed > 0 => println!(
                "mutants: loom: broken ledger `{broken}`: caught ({failed} failed, {passed} passed)"
            ),
            Some((passed, _)) if ok => {
                println!("mutants: loom: broken ledger `{broken}`: MISSED ({passed} passed)");
                survivors.push(broken);
            }
            _ => {
                return Err(format!(
                    "broken ledger `{broken}`: the loom tests did not run"
                ))
            }
        }
    }
    if survivors.is_empty() {
        Ok(())
    } else {
        Err(format!("the loom tests miss broken ledgers: {survivors:?}"))
    }
}

/// The `--shard` CI uses for a commit: `hash mod n` of the commit's hash,
/// so successive commits rotate through the shards.
pub fn shard_for_commit(n: u64) -> Result<String, String> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(util::root())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err("`git rev-parse HEAD` failed".into());
    }
    let hash = String::from_utf8_lossy(&out.stdout);
    Ok(format!("{}/{n}", seed_of(hash.trim(), n)?))
}

/// The commit hash's last 15 hex digits, modulo `n`.
fn seed_of(hash: &str, n: u64) -> Result<u64, String> {
    let tail = &hash[hash.len().saturating_sub(15)..];
    let v = u64::from_str_radix(tail, 16).map_err(|_| format!("not a commit hash: `{hash}`"))?;
    Ok(v % n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments() {
        let a = parse(&strings(&["--crate", "core", "--shard", "3/40", "-j", "2"])).unwrap();
        assert_eq!(a.crates, ["hwbreak-core"]);
        assert_eq!(a.pass, strings(&["--shard", "3/40", "-j", "2"]));
        assert_eq!(parse(&[]).unwrap().crates.len(), 5);
        assert_eq!(
            parse(&strings(&["--crate", "riscv", "--crate", "hwbreak-riscv"]))
                .unwrap()
                .crates,
            ["hwbreak-riscv"]
        );
        assert!(parse(&strings(&["--crate", "sparc"])).is_err());
        assert!(parse(&strings(&["--shard", "4/4"])).is_err());
        assert!(parse(&strings(&["--shard"])).is_err());
        assert!(parse(&strings(&["--bogus"])).is_err());
    }

    #[test]
    fn loom_flag() {
        assert!(parse(&strings(&["--loom"])).unwrap().loom);
    }

    #[test]
    fn shards() {
        assert_eq!(shard("0/1"), Ok((0, 1)));
        assert_eq!(shard("39/40"), Ok((39, 40)));
        assert!(shard("40/40").is_err());
        assert!(shard("1").is_err());
        assert!(shard("a/3").is_err());
        assert_eq!(
            seed_of("426dd5c0000000000000000000000000000000ff", 16),
            Ok(15)
        );
        assert_eq!(
            seed_of("0000000000000000000000000000000000000010", 16),
            Ok(0)
        );
        assert!(seed_of("xyz", 4).is_err());
    }

    #[test]
    fn keys_ignore_positions() {
        assert_eq!(
            key("hal-core/src/cover.rs:133:22: replace || with && in exact_cover"),
            "hal-core/src/cover.rs: replace || with && in exact_cover"
        );
        assert_eq!(
            key("hal-core/src/cover.rs: replace || with && in exact_cover"),
            "hal-core/src/cover.rs: replace || with && in exact_cover"
        );
        let md = "# Equivalent\n\n- `hal-core/src/reserve.rs: replace | with ^ in Ledger::commit_load`\n  \
                  and `hal-core/src/a.rs: delete ! in f`: disjoint bits, see \
                  `tests/reservations.rs` and `a b.rs: c`.\n";
        assert_eq!(
            equivalent_keys(md),
            [
                "hal-core/src/reserve.rs: replace | with ^ in Ledger::commit_load",
                "hal-core/src/a.rs: delete ! in f"
            ]
        );
    }

    #[test]
    fn verdict_against_the_equivalents() {
        let outcomes = vec![
            (
                Verdict::Caught,
                "hal-core/src/a.rs:1:1: replace f -> bool with true".into(),
            ),
            (
                Verdict::Missed,
                "hal-core/src/a.rs:9:5: replace | with ^ in g".into(),
            ),
            (
                Verdict::Timeout,
                "arch-x86/src/dr7.rs:3:3: replace += with *= in h".into(),
            ),
        ];
        let crates = ["hwbreak-core", "hwbreak-x86"];
        assert!(report(&crates, &outcomes, &[]).is_err());
        let listed = vec!["hal-core/src/a.rs: replace | with ^ in g".to_string()];
        assert!(report(&crates, &outcomes, &listed).is_ok());
    }
}
