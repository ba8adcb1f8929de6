//! The plain fuzz driver: deterministic, seeded, no libFuzzer, stable Rust.
//!
//! `drive [--ops N] [--seed S]`: runs exactly N operations (default
//! 1 000 000) from inputs drawn from seed S (default 0) and prints
//! `fuzz: ops = N, failures = F`. Failing inputs are written as hex to
//! `artifacts/drive-<seed>-<n>.hex`; `--repro HEX` runs one input again.
//! `drive --corpus DIR` replays every file of a libFuzzer corpus (raw
//! bytes) and prints the same line for the operations they contain.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut ops = 1_000_000u64;
    let mut seed = 0u64;
    let mut repro = None;
    let mut corpus = None;
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--ops" => ops = value.replace('_', "").parse().expect("--ops N"),
            "--seed" => seed = value.parse().expect("--seed S"),
            "--repro" => repro = Some(value),
            "--corpus" => corpus = Some(value),
            other => {
                eprintln!("drive: unknown argument `{other}`");
                return ExitCode::FAILURE;
            }
        }
        i += 2;
    }
    if let Some(hex) = repro {
        let data = hwbreak_fuzz::unhex(&hex).expect("--repro takes hex bytes");
        return match hwbreak_fuzz::run(&data) {
            Ok(n) => {
                println!("fuzz: ops = {n}, failures = 0");
                ExitCode::SUCCESS
            }
            Err(f) => {
                println!("{f}");
                println!("fuzz: ops = {}, failures = 1", f.step);
                ExitCode::FAILURE
            }
        };
    }
    if let Some(dir) = corpus {
        return replay(&dir);
    }
    let report = hwbreak_fuzz::drive(seed, ops, 3);
    for (n, (data, failure)) in report.failures.iter().enumerate() {
        println!("{failure}");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
        let path = dir.join(format!("drive-{seed}-{n}.hex"));
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, hwbreak_fuzz::hex(data)));
        match saved {
            Ok(()) => println!("input saved to {}", path.display()),
            Err(e) => println!("input (not saved: {e}): {}", hwbreak_fuzz::hex(data)),
        }
    }
    println!(
        "engine: plain driver, seed {seed}, {} inputs; {:?}",
        report.inputs,
        hwbreak_fuzz::stats()
    );
    println!(
        "fuzz: ops = {}, failures = {}",
        report.ops,
        report.failures.len()
    );
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Replays a libFuzzer corpus through the checker.
fn replay(dir: &str) -> ExitCode {
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(d) => d.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(e) => {
            eprintln!("drive: cannot read {dir}: {e}");
            return ExitCode::FAILURE;
        }
    };
    entries.sort();
    let (mut ops, mut failures) = (0u64, 0u64);
    for path in &entries {
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        match hwbreak_fuzz::run(&data) {
            Ok(n) => ops += n,
            Err(f) => {
                println!("{}: {f}", path.display());
                ops += f.step as u64;
                failures += 1;
            }
        }
    }
    println!("engine: libFuzzer corpus replay, {} inputs", entries.len());
    println!("fuzz: ops = {ops}, failures = {failures}");
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
