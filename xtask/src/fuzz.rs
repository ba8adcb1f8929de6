//! `cargo xtask fuzz [--ops N] [--seed S] [--engine plain|libfuzzer]`:
//! API call sequences against the model backend, with the invariant checks
//! of `fuzz/src/lib.rs` after every call.
//!
//! - `plain` (default): the deterministic driver `fuzz/src/bin/drive.rs`,
//!   stable Rust, no libFuzzer. Runs exactly N operations (default
//!   1 000 000) from seed S (default 0).
//! - `libfuzzer`: cargo-fuzz on nightly (`cargo install cargo-fuzz`), for
//!   about N / 50 inputs with libFuzzer's seed S; the corpus it grew is then
//!   replayed through the same checker, which prints the operation count.
//!
//! Either way the last line is `fuzz: ops = N, failures = F`, and the
//! engine used is printed before it.

use std::process::Command;

use crate::util;

/// Average operations per libFuzzer input, to turn `--ops` into `-runs`.
const OPS_PER_INPUT: u64 = 50;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut ops = 1_000_000u64;
    let mut seed = 0u64;
    let mut engine = String::from("plain");
    let mut i = 0;
    while i < args.len() {
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("`{}` needs a value", args[i]))?;
        match args[i].as_str() {
            "--ops" => {
                ops = value
                    .replace('_', "")
                    .parse()
                    .map_err(|e| format!("--ops {value}: {e}"))?
            }
            "--seed" => seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?,
            "--engine" => engine = value.clone(),
            other => return Err(format!("fuzz: unknown argument `{other}`")),
        }
        i += 2;
    }
    let manifest = util::root().join("fuzz/Cargo.toml");
    let manifest = manifest.to_string_lossy().into_owned();
    match engine.as_str() {
        "plain" => {
            println!(
                "fuzz engine: plain deterministic driver (fuzz/src/bin/drive.rs), seed {seed}"
            );
            util::run(util::cargo().args([
                "run",
                "--quiet",
                "--release",
                "--manifest-path",
                &manifest,
                "--bin",
                "drive",
                "--",
                "--ops",
                &ops.to_string(),
                "--seed",
                &seed.to_string(),
            ]))
        }
        "libfuzzer" => {
            let installed = Command::new("cargo")
                .args(["fuzz", "--version"])
                .output()
                .is_ok_and(|o| o.status.success());
            if !installed {
                return Err(
                    "fuzz: cargo-fuzz is not installed (`cargo install cargo-fuzz`); \
                     `--engine plain` needs nothing"
                        .into(),
                );
            }
            let runs = (ops / OPS_PER_INPUT).max(1);
            println!(
                "fuzz engine: libFuzzer through cargo-fuzz (nightly), {runs} inputs, seed {seed}"
            );
            let fuzzed = util::run(
                util::cargo()
                    .current_dir(util::root().join("fuzz"))
                    .env("ASAN_OPTIONS", "detect_leaks=0")
                    .args([
                        "+nightly",
                        "fuzz",
                        "run",
                        "api_sequences",
                        "--features",
                        "libfuzzer",
                        "--",
                        &format!("-runs={runs}"),
                        &format!("-seed={}", seed.max(1)),
                        // `ModelPlatform::with_zones` leaks each machine's 16-byte
                        // zone list on purpose (the registry borrows it for its
                        // whole life): not a finding.
                        "-detect_leaks=0",
                        // Let inputs grow to full call sequences at once.
                        "-len_control=0",
                        "-max_len=4096",
                    ]),
            );
            // Count what was exercised (and re-check it) with the plain
            // checker, which prints the `fuzz:` line.
            let corpus = util::root().join("fuzz/corpus/api_sequences");
            let replayed = util::run(util::cargo().args([
                "run",
                "--quiet",
                "--release",
                "--manifest-path",
                &manifest,
                "--bin",
                "drive",
                "--",
                "--corpus",
                &corpus.to_string_lossy(),
            ]));
            if let Err(e) = fuzzed {
                // libFuzzer found a crash (saved under fuzz/artifacts): the
                // replay above only counted the corpus, so say it failed.
                println!("fuzz: ops = 0, failures = 1");
                return Err(e);
            }
            replayed
        }
        other => Err(format!(
            "fuzz: unknown engine `{other}` (plain or libfuzzer)"
        )),
    }
}
