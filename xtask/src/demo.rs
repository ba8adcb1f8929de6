//! `cargo xtask demo`: build and boot every board variant under QEMU and
//! print one table of what trapped.
//!
//! Each variant runs through `cargo xtask qemu <variant>` (which builds the
//! kernel and judges its scenario suite). The table is made from the lines
//! the shared suite prints for its representative scenarios:
//!
//! ```text
//! demo: <mechanism> | <requested watch> | trapped=<yes|no> | addr=<0x..|-> | <verdict>
//! ```
//!
//! A kernel that prints no such line is shown by its scenario results
//! instead. A kernel that ran the SMP stress scenario adds one row from its
//! counts line:
//!
//! ```text
//! smp stress: cpus=<n> updates=<n> hits=<a>/<b>/<c> misattributed=<n> after_removal=<n> lost=<n>
//! ```
//!
//! The command fails when any variant fails.

use crate::setup::{self, Purpose};
use crate::util::{self, Stream};
use std::time::Instant;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    arch: String,
    mechanism: String,
    watch: String,
    trapped: String,
    addr: String,
    verdict: String,
}

/// What one variant's run gave.
struct BoardRun {
    name: String,
    ok: bool,
    rows: Vec<Row>,
    /// `N passed, M failed, K skipped` of the kernel, if printed.
    summary: Option<String>,
    /// Why it failed (the runner's last error line).
    error: Option<String>,
    secs: f64,
}

/// Entry point.
pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask demo".into());
    }
    let start = Instant::now();
    setup::ensure(Purpose::Demo)?;
    let variants = setup::variant_names()?;
    if variants.is_empty() {
        return Err("no board variants under boards/*/board.toml".into());
    }
    let mut runs = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        eprintln!(
            "demo: [{}/{}] {v}: building the kernel and booting it in QEMU",
            i + 1,
            variants.len()
        );
        let r = run_board(v)?;
        eprintln!(
            "demo: [{}/{}] {v}: {} in {:.1} s{}",
            i + 1,
            variants.len(),
            if r.ok { "passed" } else { "FAILED" },
            r.secs,
            r.summary
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        );
        runs.push(r);
    }

    let rows: Vec<Row> = runs.iter().flat_map(board_rows).collect();
    println!();
    print!("{}", table(&rows));
    println!(
        "trapped: the handler was called; reported address: what it was given \
         (- where the hardware reports none, e.g. x86 data hits)"
    );
    println!();
    let name_width = runs.iter().map(|r| r.name.len()).max().unwrap_or(0).max(14);
    for r in &runs {
        println!(
            "{:<name_width$} {:<7} {}{}",
            r.name,
            if r.ok { "ok" } else { "FAILED" },
            r.summary.as_deref().unwrap_or("no summary line"),
            r.error
                .as_deref()
                .map(|e| format!(" -- {e}"))
                .unwrap_or_default()
        );
    }
    let failed: Vec<&str> = runs
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.name.as_str())
        .collect();
    println!(
        "demo: {} of {} boards passed in {:.0} s",
        runs.len() - failed.len(),
        runs.len(),
        start.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "failing boards: {} (rerun one with `cargo xtask qemu <board>` to see everything)",
            failed.join(", ")
        ))
    }
}

/// Runs `cargo xtask qemu <name>`, showing build progress, collecting lines.
fn run_board(name: &str) -> Result<BoardRun, String> {
    let t = Instant::now();
    let mut cmd = util::xtask();
    cmd.args(["qemu", name]);
    let (ok, lines) = util::run_lines(&mut cmd, |s, l| {
        if s == Stream::Err {
            if let Some(p) = progress(l) {
                eprintln!("demo:        {name}: {p}");
            }
        }
    })?;
    let mut rows = Vec::new();
    let mut summary = None;
    let mut error = None;
    let mut scenario_rows = Vec::new();
    let mut smp_rows = Vec::new();
    for (s, l) in &lines {
        match s {
            Stream::Out => {
                if let Some(r) = parse_demo_line(name, l) {
                    rows.push(r);
                } else if let Some(r) = parse_smp_line(name, l) {
                    smp_rows.push(r);
                } else if let Some(r) = parse_scenario_line(name, l) {
                    scenario_rows.push(r);
                } else if is_kernel_summary(l) {
                    summary = Some(l.trim().to_string());
                }
            }
            Stream::Err => {
                if let Some(e) = l.strip_prefix("xtask: ") {
                    error = Some(e.to_string());
                }
            }
        }
    }
    if rows.is_empty() {
        // No demo line (every demo scenario skipped, or an older suite):
        // the demo scenarios' own lines say why, else every scenario's.
        let demo: Vec<Row> = scenario_rows
            .iter()
            .filter(|r| r.mechanism.starts_with("scenario demo_"))
            .cloned()
            .collect();
        rows = if demo.is_empty() { scenario_rows } else { demo };
    }
    rows.extend(smp_rows);
    if !ok {
        eprintln!("demo: {name} failed; its last lines:");
        let n = lines.len().saturating_sub(20);
        for (_, l) in &lines[n..] {
            eprintln!("    {l}");
        }
        if error.is_none() {
            error = Some("see its last lines above".into());
        }
    }
    Ok(BoardRun {
        name: name.to_string(),
        ok,
        rows,
        summary,
        error,
        secs: t.elapsed().as_secs_f64(),
    })
}

/// Rows shown for one board: its demo (or scenario) rows, or one row that
/// says it failed before producing any.
fn board_rows(r: &BoardRun) -> Vec<Row> {
    if !r.rows.is_empty() {
        return r.rows.clone();
    }
    vec![Row {
        arch: r.name.clone(),
        mechanism: "-".into(),
        watch: "-".into(),
        trapped: "-".into(),
        addr: "-".into(),
        verdict: format!(
            "board FAILED: {}",
            r.error.as_deref().unwrap_or("no scenario output")
        ),
    }]
}

/// Cargo's progress lines worth showing while a kernel builds.
fn progress(l: &str) -> Option<&str> {
    let t = l.trim_start();
    ["Compiling ", "Finished ", "error", "warning: unused"]
        .iter()
        .any(|p| t.starts_with(p))
        .then_some(t)
}

/// `demo: <mechanism> | <watch> | trapped=<yes|no> | addr=<..> | <verdict>`.
fn parse_demo_line(arch: &str, l: &str) -> Option<Row> {
    let rest = l.trim().strip_prefix("demo: ")?;
    let f: Vec<&str> = rest.split(" | ").map(str::trim).collect();
    let [mechanism, watch, trapped, addr, verdict] = f.as_slice() else {
        return None;
    };
    Some(Row {
        arch: arch.to_string(),
        mechanism: mechanism.to_string(),
        watch: watch.to_string(),
        trapped: trapped.strip_prefix("trapped=")?.to_string(),
        addr: addr.strip_prefix("addr=")?.to_string(),
        verdict: verdict.to_string(),
    })
}

/// The SMP stress scenario's counts line (see the module docs): one row
/// saying how many updates ran, how many hits each secondary took, and
/// whether any was misattributed, came after removal or was lost.
fn parse_smp_line(arch: &str, l: &str) -> Option<Row> {
    let rest = l.trim().strip_prefix("smp stress: ")?;
    let field = |key: &str| {
        rest.split(' ')
            .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
    };
    let cpus = field("cpus")?;
    let updates = field("updates")?;
    let hits = field("hits")?;
    let counts = ["misattributed", "after_removal", "lost"]
        .map(|k| field(k).and_then(|v| v.parse::<u64>().ok()));
    let [Some(mis), Some(after), Some(lost)] = counts else {
        return None;
    };
    let total: u64 = hits.split('/').filter_map(|h| h.parse::<u64>().ok()).sum();
    let verdict = if mis == 0 && after == 0 && lost == 0 {
        "ok"
    } else {
        "FAILED"
    };
    Some(Row {
        arch: arch.to_string(),
        mechanism: format!("SMP stress, {cpus} CPUs"),
        watch: format!("write watch re-pointed A<->B, {updates} updates"),
        trapped: if total > 0 { "yes" } else { "no" }.into(),
        addr: "-".into(),
        verdict: format!(
            "{verdict}: hits per CPU {hits}, misattributed={mis} after_removal={after} lost={lost}"
        ),
    })
}

/// `test <name> ... <verdict>`, shown when a kernel prints no demo line.
fn parse_scenario_line(arch: &str, l: &str) -> Option<Row> {
    let (name, verdict) = l.trim().strip_prefix("test ")?.split_once(" ... ")?;
    Some(Row {
        arch: arch.to_string(),
        mechanism: format!("scenario {name}"),
        watch: "-".into(),
        trapped: "-".into(),
        addr: "-".into(),
        verdict: verdict.to_string(),
    })
}

/// The kernel's own `N passed, M failed, K skipped` line (the runner's
/// echo of it carries a `(QEMU exit status ...)` suffix and is not matched).
fn is_kernel_summary(l: &str) -> bool {
    let parts: Vec<&str> = l.trim().split(", ").collect();
    let words = ["passed", "failed", "skipped"];
    parts.len() == 3
        && parts.iter().zip(words).all(|(p, w)| {
            p.strip_suffix(w)
                .is_some_and(|n| n.trim_end().parse::<u32>().is_ok())
        })
}

/// The table, columns padded to their widest cell.
fn table(rows: &[Row]) -> String {
    let head = Row {
        arch: "arch".into(),
        mechanism: "mechanism".into(),
        watch: "requested watch".into(),
        trapped: "trapped".into(),
        addr: "reported address".into(),
        verdict: "verdict".into(),
    };
    let cells = |r: &Row| -> [String; 6] {
        [
            r.arch.clone(),
            r.mechanism.clone(),
            r.watch.clone(),
            r.trapped.clone(),
            r.addr.clone(),
            r.verdict.clone(),
        ]
    };
    let all: Vec<[String; 6]> = std::iter::once(&head).chain(rows).map(cells).collect();
    let mut width = [0usize; 6];
    for r in &all {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |r: &[String; 6]| -> String {
        let mut s = String::new();
        for (i, (c, w)) in r.iter().zip(width).enumerate() {
            if i == 5 {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$} | "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&all[0]);
    let rule: usize = width.iter().sum::<usize>() + 3 * 5;
    out.push_str(&"-".repeat(rule));
    out.push('\n');
    for r in &all[1..] {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_lines() {
        let r = parse_demo_line(
            "x86_64",
            "demo: DR0 write | write 8 B at 0x1000 | trapped=yes | addr=0x1000 | ok",
        )
        .unwrap();
        assert_eq!(r.mechanism, "DR0 write");
        assert_eq!(r.watch, "write 8 B at 0x1000");
        assert_eq!(r.trapped, "yes");
        assert_eq!(r.addr, "0x1000");
        assert_eq!(r.verdict, "ok");
        assert_eq!(r.arch, "x86_64");
        // Four fields, a missing `trapped=`, or another prefix: not a demo line.
        assert!(parse_demo_line("a", "demo: a | b | trapped=no | addr=-").is_none());
        assert!(parse_demo_line("a", "demo: a | b | no | addr=- | ok").is_none());
        assert!(parse_demo_line("a", "test x ... ok").is_none());
    }

    #[test]
    fn smp_stress_lines() {
        let l =
            "smp stress: cpus=4 updates=10000 hits=12/30/7 misattributed=0 after_removal=0 lost=0";
        let r = parse_smp_line("aarch64", l).unwrap();
        assert_eq!(r.mechanism, "SMP stress, 4 CPUs");
        assert_eq!(r.watch, "write watch re-pointed A<->B, 10000 updates");
        assert_eq!(r.trapped, "yes");
        assert_eq!(
            r.verdict,
            "ok: hits per CPU 12/30/7, misattributed=0 after_removal=0 lost=0"
        );
        let bad = l.replace("lost=0", "lost=3");
        assert!(parse_smp_line("a", &bad)
            .unwrap()
            .verdict
            .starts_with("FAILED"));
        let none = l.replace("hits=12/30/7", "hits=0/0/0");
        assert_eq!(parse_smp_line("a", &none).unwrap().trapped, "no");
        // A count missing or not a number: not the counts line.
        assert!(parse_smp_line("a", &l.replace(" lost=0", "")).is_none());
        assert!(parse_smp_line("a", &l.replace("lost=0", "lost=x")).is_none());
        assert!(parse_smp_line("a", "test smp_stress_repoint_watch ... ok").is_none());
    }

    #[test]
    fn scenario_lines_and_summaries() {
        let r = parse_scenario_line("aarch64", "test exec_once ... skipped (no exec)").unwrap();
        assert_eq!(r.mechanism, "scenario exec_once");
        assert_eq!(r.verdict, "skipped (no exec)");
        assert!(parse_scenario_line("a", "testing").is_none());
        assert!(is_kernel_summary("31 passed, 0 failed, 2 skipped"));
        assert!(!is_kernel_summary(
            "31 passed, 0 failed, 2 skipped (QEMU exit status 3)"
        ));
        assert!(!is_kernel_summary("31 passed, 0 failed"));
    }

    #[test]
    fn table_aligns_columns() {
        let row = Row {
            arch: "x86_64".into(),
            mechanism: "DR0".into(),
            watch: "write 8".into(),
            trapped: "yes".into(),
            addr: "0x10".into(),
            verdict: "ok".into(),
        };
        let t = table(&[row]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        // The separators line up between the header and the row.
        let bars = |s: &str| s.match_indices('|').map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(bars(lines[0]), bars(lines[2]));
        assert!(lines[2].starts_with("x86_64 | DR0"));
    }
}
