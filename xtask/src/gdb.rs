//! `cargo xtask gdb [variant]`: a real GDB session against each board
//! variant with `kind = "gdb"`.
//!
//! The kernel (built with its `gdb` feature) waits for GDB on a second
//! serial port, which QEMU serves on a loopback TCP port (`{gdb_port}` in
//! the variant's QEMU command). Debian's `gdb-multiarch`, in batch mode,
//! connects, sets `hbreak` on a function and `watch`, `rwatch`, `awatch`
//! on the debuggee's variables (see `tests/suite/src/gdb.rs`), continues
//! through every stop, and sees the kernel exit. The transcript is checked
//! for each stop, in order, with the values GDB must show; it is kept in
//! `target/gdb/<variant>.log`.
//!
//! A variant whose stub reports one thread per CPU says how many
//! (`gdb_threads`): GDB then lists them (`info threads`) at the first
//! breakpoint, and every breakpoint and watchpoint stop must be on another
//! thread than thread 1, which took the boot stop (such a kernel runs the
//! debuggee on a secondary CPU).

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::qemu::{self, Variant, VariantKind};
use crate::util;

/// What a read-only watchpoint (`rwatch`) does on a variant.
#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ReadWatch {
    /// It traps on the read (AArch64, POWER with a loads-only DAWR).
    #[default]
    Traps,
    /// The backend refuses it (x86: no read-only watchpoints); GDB must
    /// report it could not insert it, and nothing may trap in its place.
    Refused,
}

/// The debuggee's variables, as GDB names them. Quoted: GDB's Rust
/// expression parser does not resolve these paths, its C parser looks the
/// quoted name up in the debug information.
const WRITE_VAR: &str = "'hwbreak_suite::gdb::GDB_WRITE_ME'";
const READ_VAR: &str = "'hwbreak_suite::gdb::GDB_READ_ME'";
const ACCESS_VAR: &str = "'hwbreak_suite::gdb::GDB_ACCESS_ME'";

/// Seconds GDB may take for the whole session.
const GDB_TIMEOUT: u64 = 120;

/// Entry point: `args` = what follows `gdb` (optional variant names).
pub fn run(args: &[String]) -> Result<(), String> {
    let variants = qemu::load_variants(&util::root().join("boards"))?;
    let sessions: Vec<&Variant> = variants
        .iter()
        .filter(|v| v.kind == VariantKind::Gdb)
        .filter(|v| args.is_empty() || args.contains(&v.name))
        .collect();
    if sessions.is_empty() {
        return Err(format!(
            "no GDB variant matches {args:?} (variants with kind = \"gdb\" in boards/*/board.toml)"
        ));
    }
    crate::setup::ensure(crate::setup::Purpose::Test)?;
    let (mut passed, mut failed) = (0, 0);
    for v in sessions {
        match session(v) {
            Ok(()) => {
                println!("test gdb {} ... ok", v.name);
                passed += 1;
            }
            Err(e) => {
                println!("test gdb {} ... FAILED ({e})", v.name);
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed, 0 skipped");
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} GDB session(s) failed"))
    }
}

/// One variant: build, boot, drive GDB, check.
fn session(v: &Variant) -> Result<(), String> {
    qemu::check_needs(v)?;
    let kernel = qemu::build(v)?;
    let port = free_port()?;
    let kernel_s = kernel.to_string_lossy().into_owned();
    let args: Vec<String> = v.qemu[1..]
        .iter()
        .map(|a| {
            a.replace("{kernel}", &kernel_s)
                .replace("{gdb_port}", &port.to_string())
        })
        .collect();
    println!(
        "== {} ({}), GDB on 127.0.0.1:{port}",
        v.name,
        kernel.display()
    );
    let mut cmd = Command::new(&v.qemu[0]);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    eprintln!("+ {}", util::show(&cmd));
    let mut qemu = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", v.qemu[0]))?;
    let console = read_in_background(qemu.stdout.take().expect("piped"));
    let qemu_err = read_in_background(qemu.stderr.take().expect("piped"));

    let log_dir = util::root().join("target/gdb");
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let gdb = gdb_command(&kernel, port, v.gdb_read_watch, v.gdb_threads);
    eprintln!("+ {}", util::show(&gdb));
    let transcript = run_with_timeout(
        gdb,
        &log_dir.join(format!("{}.gdb.txt", v.name)),
        Duration::from_secs(GDB_TIMEOUT),
    );

    // The kernel powers off after the exit stop; give it a moment.
    let status = wait_or_kill(&mut qemu, Duration::from_secs(v.timeout_secs.min(30)))?;
    let console = console.join().unwrap_or_default();
    let qemu_err = qemu_err.join().unwrap_or_default();
    let transcript = transcript?;

    let log = log_dir.join(format!("{}.log", v.name));
    let _ = std::fs::write(
        &log,
        format!("## GDB\n{transcript}\n## console\n{console}\n## QEMU stderr\n{qemu_err}"),
    );
    println!("-- GDB transcript ({}):", log.display());
    for l in transcript.lines() {
        println!("   {l}");
    }
    println!("-- kernel console:");
    for l in console.lines() {
        println!("   {}", l.trim_end_matches('\r'));
    }

    check_transcript(&transcript, v.gdb_read_watch, v.gdb_threads)?;
    match status.and_then(|s| s.code()) {
        Some(c) if c == v.pass_status => {}
        other => {
            return Err(format!(
                "QEMU ended with {other:?}, not {} (the kernel's verdict; see the console)",
                v.pass_status
            ))
        }
    }
    if !console.contains("debuggee returned 34") {
        return Err("the kernel did not report the debuggee's result".into());
    }
    Ok(())
}

/// A loopback port nobody listens on now.
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The GDB session, as batch commands. Every breakpoint is deleted before
/// the next is set, so each stop can only come from the one just set.
fn gdb_script(read_watch: ReadWatch, threads: u32) -> Vec<String> {
    let mut s: Vec<String> = [
        "set pagination off",
        "set confirm off",
        // QEMU may still be opening its socket: GDB retries refused
        // connections this long.
        "set tcp connect-timeout 30",
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    s.push("hbreak gdb_hbreak_target".into());
    s.push("continue".into());
    if threads > 1 {
        s.push("info threads".into());
    }
    s.push("delete".into());
    // The variables are named in C syntax (see `WRITE_VAR`).
    s.push("set language c".into());
    s.push(format!("watch {WRITE_VAR}"));
    s.push("continue".into());
    s.push("delete".into());
    s.push(format!("rwatch {READ_VAR}"));
    s.push("continue".into());
    s.push("delete".into());
    if read_watch == ReadWatch::Refused {
        // The refused insertion aborted the `continue` above: nothing ran.
        s.push(format!("print {READ_VAR}"));
    }
    s.push(format!("awatch {ACCESS_VAR}"));
    s.push("continue".into());
    s.push("continue".into());
    s.push("delete".into());
    s.push("continue".into());
    s
}

fn gdb_command(kernel: &Path, port: u16, read_watch: ReadWatch, threads: u32) -> Command {
    let mut cmd = Command::new("gdb-multiarch");
    cmd.args(["-batch", "-nx"]);
    cmd.arg("-ex").arg(format!("file {}", kernel.display()));
    let script = gdb_script(read_watch, threads);
    // The connection comes after the settings, before the breakpoints.
    let (settings, rest) = script.split_at(3);
    for c in settings {
        cmd.arg("-ex").arg(c);
    }
    cmd.arg("-ex")
        .arg(format!("target remote 127.0.0.1:{port}"));
    for c in rest {
        cmd.arg("-ex").arg(c);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// What the transcript must show, in this order.
fn expectations(read_watch: ReadWatch, threads: u32) -> Vec<String> {
    let mut e = vec![
        "Hardware assisted breakpoint 1 at".to_string(),
        "Breakpoint 1, hwbreak_suite::gdb::gdb_hbreak_target (x=5)".into(),
    ];
    if threads > 1 {
        // `info threads`: one line per CPU, `<pid>.<tid>` (gdbstub's
        // multiprocess ids), in order.
        e.extend((1..=threads).map(|t| format!("Thread 1.{t} ")));
    }
    e.extend([
        format!("Hardware watchpoint 2: {WRITE_VAR}"),
        "Old value = 1".into(),
        "New value = 2".into(),
    ]);
    match read_watch {
        ReadWatch::Traps => {
            e.push(format!("Hardware read watchpoint 3: {READ_VAR}"));
            e.push("Value = 7".into());
        }
        ReadWatch::Refused => {
            e.push("Could not insert hardware watchpoint 3.".into());
            // Still unread by then: the refusal stopped the `continue`.
            e.push("$1 = 7".into());
        }
    }
    e.extend([
        format!("Hardware access (read/write) watchpoint 4: {ACCESS_VAR}"),
        "Old value = 10".into(),
        "New value = 11".into(),
        format!("Hardware access (read/write) watchpoint 4: {ACCESS_VAR}"),
        "Value = 11".into(),
        "[Inferior 1 (process 1) exited normally]".into(),
    ]);
    e
}

/// Checks that every expectation appears, in order, and that nothing went
/// wrong in between.
fn check_transcript(transcript: &str, read_watch: ReadWatch, threads: u32) -> Result<(), String> {
    let mut rest = transcript;
    for want in expectations(read_watch, threads) {
        match rest.find(&want) {
            Some(at) => rest = &rest[at + want.len()..],
            None => return Err(format!("GDB never printed `{want}` where expected")),
        }
    }
    let forbidden: &[&str] = match read_watch {
        // A refused rwatch must not have been widened into something that
        // traps on reads.
        ReadWatch::Refused => {
            &["Hardware read watchpoint 3: 'hwbreak_suite::gdb::GDB_READ_ME'\n\nValue"]
        }
        ReadWatch::Traps => &["Could not insert"],
    };
    for bad in forbidden.iter().chain(&[
        "Remote connection closed",
        "Program received signal",
        "Remote communication error",
    ]) {
        if transcript.contains(bad) {
            return Err(format!("GDB printed `{bad}`"));
        }
    }
    if threads > 1 {
        check_stop_threads(transcript, threads)?;
    }
    Ok(())
}

/// With one thread per CPU: no thread past the last CPU, and each stop
/// line (`Thread <n> hit ...`) names a thread other than 1, the boot
/// stop's: the hits trapped on another CPU than the one that stopped
/// first.
fn check_stop_threads(transcript: &str, threads: u32) -> Result<(), String> {
    let extra = format!("Thread 1.{} ", threads + 1);
    if transcript.contains(&extra) {
        return Err(format!("GDB listed `{}`, past the CPUs", extra.trim_end()));
    }
    let stops: Vec<&str> = transcript
        .lines()
        .filter(|l| l.contains(" hit ") && l.starts_with("Thread "))
        .collect();
    // hbreak, watch, rwatch (where it traps) and awatch twice.
    if stops.len() < 4 {
        return Err(format!(
            "GDB named the thread of {} stops, not every breakpoint and watchpoint stop",
            stops.len()
        ));
    }
    match stops.iter().find(|l| l.starts_with("Thread 1 hit ")) {
        Some(l) => Err(format!("`{l}`: a stop on the boot stop's thread")),
        None => Ok(()),
    }
}

/// Collects a pipe in a thread.
fn read_in_background(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits up to `timeout` for `child` to exit; kills it then. `None`: it
/// had to be killed.
fn wait_or_kill(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Some(s));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` with stdout and stderr into one file (`out`), so GDB's stop
/// reports and its error messages keep their order; returns what it wrote.
/// Kills it after `timeout`.
fn run_with_timeout(mut cmd: Command, out: &Path, timeout: Duration) -> Result<String, String> {
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let file2 = file.try_clone().map_err(|e| e.to_string())?;
    cmd.stdout(file).stderr(file2);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start gdb-multiarch: {e} (run `cargo xtask setup`)"))?;
    let timed_out = wait_or_kill(&mut child, timeout)?.is_none();
    let text = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    if timed_out {
        return Err(format!(
            "gdb-multiarch did not finish in {} s; it printed:\n{text}",
            timeout.as_secs()
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stop lines as GDB 13 prints them for the x86_64 board.
    const X86: &str = "\
Hardware assisted breakpoint 1 at 0x10cd40: file src/gdb.rs, line 47.

Breakpoint 1, hwbreak_suite::gdb::gdb_hbreak_target (x=5) at src/gdb.rs:47
Hardware watchpoint 2: 'hwbreak_suite::gdb::GDB_WRITE_ME'

Hardware watchpoint 2: 'hwbreak_suite::gdb::GDB_WRITE_ME'

Old value = 1
New value = 2
Hardware read watchpoint 3: 'hwbreak_suite::gdb::GDB_READ_ME'
Could not insert hardware watchpoint 3.
$1 = 7
Hardware access (read/write) watchpoint 4: 'hwbreak_suite::gdb::GDB_ACCESS_ME'

Hardware access (read/write) watchpoint 4: 'hwbreak_suite::gdb::GDB_ACCESS_ME'

Old value = 10
New value = 11

Hardware access (read/write) watchpoint 4: 'hwbreak_suite::gdb::GDB_ACCESS_ME'

Value = 11
[Inferior 1 (process 1) exited normally]
";

    #[test]
    fn a_complete_x86_session_passes() {
        assert_eq!(check_transcript(X86, ReadWatch::Refused, 1), Ok(()));
    }

    #[test]
    fn a_wrong_value_or_a_missing_stop_fails() {
        for (from, to) in [
            ("New value = 2", "New value = 3"),
            ("Value = 11", "Value = 10"),
            ("exited normally", "exited with code 01"),
            ("gdb_hbreak_target (x=5)", "debuggee ()"),
        ] {
            let broken = X86.replace(from, to);
            assert!(
                check_transcript(&broken, ReadWatch::Refused, 1).is_err(),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn stops_out_of_order_fail() {
        let swapped = X86
            .replace("Old value = 10", "@@")
            .replace("Old value = 1\n", "Old value = 10\n")
            .replace("@@", "Old value = 1");
        assert!(check_transcript(&swapped, ReadWatch::Refused, 1).is_err());
    }

    #[test]
    fn a_refusal_where_the_read_watch_must_trap_fails() {
        assert!(check_transcript(X86, ReadWatch::Traps, 1).is_err());
    }

    #[test]
    fn the_script_deletes_every_breakpoint_before_setting_the_next() {
        let s = gdb_script(ReadWatch::Traps, 4);
        let sets: Vec<usize> = s
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.starts_with("watch") || c.contains("watch ") || c.starts_with("hbreak")
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(sets.len(), 4);
        for w in sets.windows(2) {
            assert!(s[w[0]..w[1]].iter().any(|c| c == "delete"), "{s:?}");
        }
    }

    /// Stop lines as GDB 13 prints them for the AArch64 board on 4 CPUs
    /// (the debuggee on CPU 1, thread 2).
    const AARCH64_SMP: &str = "\
Hardware assisted breakpoint 1 at 0x4008d9b4: file src/gdb.rs, line 47.
[Switching to Thread 1.2]

Thread 2 hit Breakpoint 1, hwbreak_suite::gdb::gdb_hbreak_target (x=5) at src/gdb.rs:47
  Id   Target Id         Frame 
  1    Thread 1.1        core::hint::spin_loop () at hint.rs:1
* 2    Thread 1.2        hwbreak_suite::gdb::gdb_hbreak_target (x=5) at src/gdb.rs:47
  3    Thread 1.3        qemu_virt_aarch64::smp::idle () at src/smp.rs:179
  4    Thread 1.4        qemu_virt_aarch64::smp::idle () at src/smp.rs:179
Hardware watchpoint 2: 'hwbreak_suite::gdb::GDB_WRITE_ME'

Thread 2 hit Hardware watchpoint 2: 'hwbreak_suite::gdb::GDB_WRITE_ME'

Old value = 1
New value = 2
Hardware read watchpoint 3: 'hwbreak_suite::gdb::GDB_READ_ME'

Thread 2 hit Hardware read watchpoint 3: 'hwbreak_suite::gdb::GDB_READ_ME'

Value = 7
Hardware access (read/write) watchpoint 4: 'hwbreak_suite::gdb::GDB_ACCESS_ME'

Thread 2 hit Hardware access (read/write) watchpoint 4: 'hwbreak_suite::gdb::GDB_ACCESS_ME'

Old value = 10
New value = 11

Thread 2 hit Hardware access (read/write) watchpoint 4: 'hwbreak_suite::gdb::GDB_ACCESS_ME'

Value = 11
[Inferior 1 (process 1) exited normally]
";

    #[test]
    fn a_complete_four_thread_session_passes() {
        assert_eq!(check_transcript(AARCH64_SMP, ReadWatch::Traps, 4), Ok(()));
    }

    #[test]
    fn a_missing_thread_or_a_hit_on_the_boot_thread_fails() {
        for (from, to) in [
            ("  4    Thread 1.4 ", "  4    Thread 1.5 "),
            ("  3    Thread 1.3 ", ""),
            (
                "Thread 2 hit Hardware watchpoint 2",
                "Thread 1 hit Hardware watchpoint 2",
            ),
        ] {
            let broken = AARCH64_SMP.replace(from, to);
            assert!(
                check_transcript(&broken, ReadWatch::Traps, 4).is_err(),
                "{from} -> {to}"
            );
        }
        // One thread reported where four run: no `Thread <n> hit` lines.
        assert!(check_transcript(
            &AARCH64_SMP.replace("Thread 2 hit ", ""),
            ReadWatch::Traps,
            4
        )
        .is_err());
    }

    #[test]
    fn the_thread_list_is_asked_for_only_with_several_threads() {
        assert!(!gdb_script(ReadWatch::Traps, 1)
            .iter()
            .any(|c| c == "info threads"));
        assert!(gdb_script(ReadWatch::Traps, 4)
            .iter()
            .any(|c| c == "info threads"));
    }
}
