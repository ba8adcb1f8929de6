//! `cargo xtask qemu <variant>|all|list`: build a board kernel and run its
//! scenario suite under QEMU.
//!
//! Generic over `boards/*/board.toml`. Each file lists variants:
//!
//! ```toml
//! [[variant]]
//! name = "x86_64"                      # what `cargo xtask qemu <name>` takes
//! target = "x86_64-unknown-none"       # a triple, or a JSON spec path (relative to the board)
//! features = []                        # cargo features of the board crate
//! toolchain = "stable"                 # rustup toolchain
//! cargo_args = []                      # extra cargo build arguments
//! rustflags = ["-C", "relocation-model=static"]
//! env = { }                            # extra environment for cargo
//! qemu = ["qemu-system-x86_64", "...", "-kernel", "{kernel}"]
//! pass_status = 3                      # QEMU exit status meaning "all passed"
//! timeout_secs = 60
//! needs = []                           # Debian packages the build needs
//! console = "text"                     # or "defmt": see below
//! expect = []                          # texts some output line must contain
//! demo = true                          # false: `cargo xtask demo` leaves it out
//! ```
//!
//! The kernel prints `test <name> ... ok|FAILED (<why>)|skipped (<why>)`
//! lines and exactly one `N passed, M failed, K skipped` line. A variant
//! passes when QEMU exits with `pass_status`, the summary line is present,
//! agrees with the scenario lines, has no failure and at least one pass.
//!
//! With `console = "defmt"` the kernel writes defmt frames instead of text:
//! they are decoded with the kernel ELF's `.defmt` table into the same
//! lines (see `defmt_console.rs`), judged the same way, and a frame that
//! fails to decode fails the variant.

use crate::defmt_console;
use crate::util;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One `board.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardFile {
    #[serde(default)]
    variant: Vec<Variant>,
}

/// One `[[variant]]` of a board.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct Variant {
    pub(crate) name: String,
    target: String,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default = "default_toolchain")]
    toolchain: String,
    #[serde(default)]
    cargo_args: Vec<String>,
    #[serde(default)]
    rustflags: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    pub(crate) qemu: Vec<String>,
    pub(crate) pass_status: i32,
    #[serde(default = "default_timeout")]
    pub(crate) timeout_secs: u64,
    #[serde(default)]
    needs: Vec<String>,
    /// What the kernel writes on the serial port.
    #[serde(default)]
    console: ConsoleKind,
    /// Texts that some output line (decoded, for defmt) must contain.
    #[serde(default)]
    expect: Vec<String>,
    /// Whether `cargo xtask demo` runs it (read by `setup::variant_names`).
    #[serde(default = "default_demo")]
    #[allow(dead_code)]
    demo: bool,
    /// What the variant is for: the scenario suite (`cargo xtask qemu`)
    /// or a GDB session (`cargo xtask gdb`).
    #[serde(default)]
    pub(crate) kind: VariantKind,
    /// GDB sessions: whether a read-only watch (`rwatch`) traps or is
    /// refused by the backend (x86 has no read-only watchpoints).
    #[serde(default)]
    pub(crate) gdb_read_watch: crate::gdb::ReadWatch,
    /// GDB sessions: the threads (one per CPU) the stub reports, 0 or 1
    /// for a stub that reports one; see `gdb.rs` for what more than one
    /// makes the session check.
    #[serde(default)]
    pub(crate) gdb_threads: u32,
    /// Set when loading: the board folder.
    #[serde(skip)]
    pub(crate) board: PathBuf,
}

/// What a variant is for.
#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum VariantKind {
    /// Boots the scenario suite; `cargo xtask qemu` runs it.
    #[default]
    Suite,
    /// Waits for GDB on a second serial port; `cargo xtask gdb` runs it.
    Gdb,
}

fn default_toolchain() -> String {
    "stable".into()
}

fn default_timeout() -> u64 {
    60
}

fn default_demo() -> bool {
    true
}

/// A variant's `console`.
#[derive(Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ConsoleKind {
    /// Lines of text.
    #[default]
    Text,
    /// defmt frames (rzcobs), decoded with the kernel ELF's table.
    Defmt,
}

/// Scenario counts of one run.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Scenarios that passed.
    pub passed: u32,
    /// Scenarios that failed.
    pub failed: u32,
    /// Scenarios skipped.
    pub skipped: u32,
}

/// Entry point: `args` = what follows `qemu`.
pub fn run(args: &[String]) -> Result<(), String> {
    let variants = load_variants(&util::root().join("boards"))?;
    let Some(which) = args.first() else {
        return Err(format!(
            "usage: cargo xtask qemu <variant>|all|list\nvariants: {}",
            names(&variants)
        ));
    };
    let chosen: Vec<&Variant> = match which.as_str() {
        "list" => {
            for v in &variants {
                println!("{} ({})", v.name, v.board.display());
            }
            return Ok(());
        }
        "all" => variants
            .iter()
            .filter(|v| v.kind == VariantKind::Suite)
            .collect(),
        name => match variants.iter().find(|v| v.name == name) {
            Some(v) if v.kind == VariantKind::Gdb => {
                return Err(format!(
                    "`{name}` is a GDB session: run `cargo xtask gdb {name}`"
                ))
            }
            Some(v) => vec![v],
            None => {
                return Err(format!(
                    "no variant `{name}`; variants: {}",
                    names(&variants)
                ))
            }
        },
    };
    if chosen.is_empty() {
        return Err("no board variants found under boards/*/board.toml".into());
    }
    let mut total = Counts::default();
    let mut broken = Vec::new();
    for v in chosen {
        let mut seen = Counts::default();
        let r = run_variant(v, &mut seen);
        total.passed += seen.passed;
        total.failed += seen.failed;
        total.skipped += seen.skipped;
        if let Err(e) = r {
            eprintln!("xtask: variant {}: {e}", v.name);
            broken.push(v.name.clone());
        }
    }
    println!(
        "{} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("failing variants: {}", broken.join(", ")))
    }
}

fn names(vs: &[Variant]) -> String {
    vs.iter()
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every variant of every `boards/*/board.toml`, in folder order.
pub(crate) fn load_variants(boards: &Path) -> Result<Vec<Variant>, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(boards)
        .map_err(|e| format!("cannot read {}: {e}", boards.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("board.toml").is_file())
        .collect();
    dirs.sort();
    let mut out: Vec<Variant> = Vec::new();
    for d in dirs {
        let path = d.join("board.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: BoardFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for mut v in file.variant {
            if out.iter().any(|o| o.name == v.name) {
                return Err(format!(
                    "{}: variant `{}` defined twice",
                    path.display(),
                    v.name
                ));
            }
            if v.qemu.is_empty() {
                return Err(format!(
                    "{}: variant `{}` has an empty qemu",
                    path.display(),
                    v.name
                ));
            }
            v.board = d.clone();
            out.push(v);
        }
    }
    Ok(out)
}

/// Builds and runs one variant; `seen` gets the scenario counts the board
/// printed, even when the variant fails.
fn run_variant(v: &Variant, seen: &mut Counts) -> Result<(), String> {
    check_needs(v)?;
    let kernel = build(v)?;
    let qemu_bin = &v.qemu[0];
    if !command_exists(qemu_bin) {
        return Err(format!(
            "`{qemu_bin}` is not installed: run `cargo xtask setup`"
        ));
    }
    let kernel_s = kernel.to_string_lossy().into_owned();
    let args: Vec<String> = v.qemu[1..]
        .iter()
        .map(|a| a.replace("{kernel}", &kernel_s))
        .collect();
    println!("== {} ({})", v.name, kernel.display());
    let mut defmt = match v.console {
        ConsoleKind::Text => None,
        ConsoleKind::Defmt => Some(defmt_console::Console::from_elf(&kernel)?),
    };
    let (status, lines, timed_out) = run_qemu(qemu_bin, &args, v.timeout_secs, defmt.as_mut())?;
    *seen = count_lines(&lines);
    if timed_out {
        return Err(format!("timed out after {} s", v.timeout_secs));
    }
    let decoded = match defmt.as_mut() {
        Some(d) => d
            .result()
            .map(|frames| println!("{frames} defmt frames decoded")),
        None => Ok(()),
    };
    let judged = judge(&lines, status.code(), v.pass_status);
    decoded?;
    judged?;
    check_expect(&lines, &v.expect)
}

/// Every text of `expect` must be part of some output line.
fn check_expect(lines: &[String], expect: &[String]) -> Result<(), String> {
    let missing: Vec<&str> = expect
        .iter()
        .filter(|e| !lines.iter().any(|l| l.contains(e.as_str())))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("no output line contains {missing:?}"))
    }
}

/// Counts the scenario lines.
fn count_lines(lines: &[String]) -> Counts {
    let mut seen = Counts::default();
    for l in lines {
        if let Some((_, verdict)) = l
            .trim_end()
            .strip_prefix("test ")
            .and_then(|r| r.split_once(" ... "))
        {
            if verdict == "ok" {
                seen.passed += 1;
            } else if verdict.starts_with("FAILED") {
                seen.failed += 1;
            } else if verdict.starts_with("skipped") {
                seen.skipped += 1;
            }
        }
    }
    seen
}

/// Checks the board's output and exit status.
fn judge(lines: &[String], code: Option<i32>, pass_status: i32) -> Result<Counts, String> {
    let seen = count_lines(lines);
    let mut summary = None;
    for l in lines {
        if let Some(c) = parse_summary(l.trim_end()) {
            if summary.replace(c).is_some() {
                return Err("more than one summary line".into());
            }
        }
    }
    let Some(summary) = summary else {
        return Err(format!("no summary line (QEMU exit status {code:?})"));
    };
    if summary != seen {
        return Err(format!(
            "summary {summary:?} disagrees with the scenario lines {seen:?}"
        ));
    }
    println!(
        "{} passed, {} failed, {} skipped (QEMU exit status {})",
        summary.passed,
        summary.failed,
        summary.skipped,
        code.map_or("none".into(), |c| c.to_string())
    );
    if summary.failed > 0 {
        return Err(format!("{} scenario(s) failed", summary.failed));
    }
    if summary.passed == 0 {
        return Err("no scenario passed".into());
    }
    if code != Some(pass_status) {
        return Err(format!("QEMU exit status {code:?}, expected {pass_status}"));
    }
    Ok(summary)
}

/// `N passed, M failed, K skipped`.
fn parse_summary(l: &str) -> Option<Counts> {
    let mut it = l.split(", ");
    let num = |s: Option<&str>, word: &str| -> Option<u32> {
        s?.strip_suffix(word)?.trim_end().parse().ok()
    };
    let c = Counts {
        passed: num(it.next(), "passed")?,
        failed: num(it.next(), "failed")?,
        skipped: num(it.next(), "skipped")?,
    };
    it.next().is_none().then_some(c)
}

pub(crate) fn check_needs(v: &Variant) -> Result<(), String> {
    for pkg in &v.needs {
        let ok = Command::new("dpkg")
            .args(["-s", pkg])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err(format!(
                "package `{pkg}` is missing: run `cargo xtask setup`"
            ));
        }
    }
    Ok(())
}

pub(crate) fn command_exists(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Builds the board for the variant; returns the kernel ELF.
pub(crate) fn build(v: &Variant) -> Result<PathBuf, String> {
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run",
        &v.toolchain,
        "cargo",
        "build",
        "--release",
        "--message-format=json-render-diagnostics",
    ]);
    let target = if v.target.ends_with(".json") {
        v.board.join(&v.target).to_string_lossy().into_owned()
    } else {
        v.target.clone()
    };
    cmd.args(["--target", &target]);
    if !v.features.is_empty() {
        cmd.args(["--features", &v.features.join(",")]);
    }
    cmd.args(&v.cargo_args);
    cmd.current_dir(&v.board);
    // What the outer `cargo xtask` set must not leak into the board build.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let leak = (k.starts_with("CARGO") && k != "CARGO_HOME")
            || k.starts_with("RUSTC")
            || k == "RUSTUP_TOOLCHAIN"
            || k == "RUSTFLAGS"
            || k == "RUSTDOCFLAGS";
        if leak {
            cmd.env_remove(&k);
        }
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", v.rustflags.join("\x1f"));
    cmd.envs(&v.env);
    cmd.stdout(Stdio::piped());
    eprintln!("+ (in {}) {}", v.board.display(), util::show(&cmd));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start rustup: {e} (run `cargo xtask setup`)"))?;
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("build failed: {status}"));
    }
    let mut exe = None;
    for line in out.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact" {
            if let Some(e) = msg["executable"].as_str() {
                exe = Some(PathBuf::from(e));
            }
        }
    }
    exe.ok_or_else(|| "the build produced no executable".into())
}

/// Runs QEMU, echoing and collecting its output lines; kills it after
/// `timeout` seconds (it also runs under coreutils `timeout` when present).
/// With `defmt`, its standard output is defmt frames, decoded into lines.
fn run_qemu(
    bin: &str,
    args: &[String],
    timeout: u64,
    mut defmt: Option<&mut defmt_console::Console>,
) -> Result<(ExitStatus, Vec<String>, bool), String> {
    let mut cmd = if command_exists("timeout") {
        let mut c = Command::new("timeout");
        c.args(["--kill-after=5", &format!("{}", timeout + 2), bin]);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    eprintln!("+ {}", util::show(&cmd));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {bin}: {e}"))?;
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let tx2 = tx.clone();
    let (raw_tx, raw_rx) = mpsc::channel::<Vec<u8>>();
    let t1 = if defmt.is_some() {
        std::thread::spawn(move || forward_raw(stdout, raw_tx))
    } else {
        std::thread::spawn(move || forward(stdout, tx))
    };
    let t2 = std::thread::spawn(move || forward(stderr, tx2));
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut lines = Vec::new();
    let mut timed_out = false;
    let status = loop {
        while let Ok(l) = rx.try_recv() {
            println!("{l}");
            lines.push(l);
        }
        decode_raw(&raw_rx, defmt.as_deref_mut(), &mut lines);
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().map_err(|e| e.to_string())?;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = t1.join();
    let _ = t2.join();
    while let Ok(l) = rx.try_recv() {
        println!("{l}");
        lines.push(l);
    }
    decode_raw(&raw_rx, defmt.as_deref_mut(), &mut lines);
    if let Some(d) = defmt {
        for l in d.finish() {
            println!("{l}");
            lines.push(l);
        }
    }
    // coreutils `timeout` exits with 124 when it had to stop QEMU.
    if status.code() == Some(124) {
        timed_out = true;
    }
    Ok((status, lines, timed_out))
}

fn forward(r: impl Read, tx: mpsc::Sender<String>) {
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let s = String::from_utf8_lossy(&buf);
                let s = s.trim_end_matches(['\n', '\r']);
                if tx.send(s.to_string()).is_err() {
                    break;
                }
            }
        }
    }
}

/// Sends standard output on as it comes, in chunks of bytes.
fn forward_raw(mut r: impl Read, tx: mpsc::Sender<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        }
    }
}

/// Decodes the bytes received so far, echoing and collecting the lines.
fn decode_raw(
    rx: &mpsc::Receiver<Vec<u8>>,
    defmt: Option<&mut defmt_console::Console>,
    lines: &mut Vec<String>,
) {
    let Some(d) = defmt else { return };
    while let Ok(bytes) = rx.try_recv() {
        for l in d.feed(&bytes) {
            println!("{l}");
            lines.push(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn summary_parsing() {
        assert_eq!(
            parse_summary("27 passed, 0 failed, 2 skipped"),
            Some(Counts {
                passed: 27,
                failed: 0,
                skipped: 2
            })
        );
        assert_eq!(parse_summary("27 passed, 0 failed"), None);
        assert_eq!(parse_summary("x passed, 0 failed, 0 skipped"), None);
        assert_eq!(parse_summary("1 passed, 0 failed, 0 skipped, 3 more"), None);
    }

    #[test]
    fn judging() {
        let ok = lines(
            "boot\ntest a ... ok\ntest b ... skipped (no exec)\n1 passed, 0 failed, 1 skipped\n",
        );
        assert_eq!(
            judge(&ok, Some(3), 3),
            Ok(Counts {
                passed: 1,
                failed: 0,
                skipped: 1
            })
        );
        assert!(judge(&ok, Some(1), 3).is_err(), "wrong exit status");
        let failed = lines("test a ... FAILED (x)\n0 passed, 1 failed, 0 skipped\n");
        assert!(judge(&failed, Some(3), 3).is_err());
        let missing = lines("test a ... ok\n");
        assert!(judge(&missing, Some(3), 3).is_err());
        let lying = lines("test a ... FAILED (x)\n1 passed, 0 failed, 0 skipped\n");
        assert!(judge(&lying, Some(3), 3).is_err());
        let none = lines("0 passed, 0 failed, 0 skipped\n");
        assert!(judge(&none, Some(3), 3).is_err());
    }
}
