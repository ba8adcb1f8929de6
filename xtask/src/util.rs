//! Small helpers shared by the commands.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of this crate's folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs `cmd`, echoing it, and fails with its exit status.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("+ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed: {status}", show(cmd)))
    }
}

/// A command line as a shell would show it.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// `cargo`, without the variables the outer `cargo xtask` (a `cargo run`)
/// set for this binary, so nested builds see a clean environment.
pub fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        let set_by_cargo_run = k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || matches!(
                &*k,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            cmd.env_remove(&*k);
        }
    }
    cmd.current_dir(root());
    cmd
}

/// This very `xtask` binary, to run another of its commands without
/// rebuilding it.
pub fn xtask() -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "xtask".into());
    let mut cmd = Command::new(exe);
    cmd.current_dir(root());
    cmd
}

/// Where a captured line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Out,
    /// Standard error.
    Err,
}

/// Runs `cmd` with its output piped, calling `each` for every line as it
/// arrives (in arrival order across both streams); returns whether it
/// succeeded and every line.
pub fn run_lines(
    cmd: &mut Command,
    mut each: impl FnMut(Stream, &str),
) -> Result<(bool, Vec<(Stream, String)>), String> {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    use std::sync::mpsc;

    fn pump(r: impl Read, s: Stream, tx: mpsc::Sender<(Stream, String)>) {
        let mut r = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let l = String::from_utf8_lossy(&buf);
                    let l = l.trim_end_matches(['\n', '\r']).to_string();
                    if tx.send((s, l)).is_err() {
                        break;
                    }
                }
            }
        }
    }

    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("piped");
    let err = child.stderr.take().expect("piped");
    let tx2 = tx.clone();
    let t1 = std::thread::spawn(move || pump(out, Stream::Out, tx));
    let t2 = std::thread::spawn(move || pump(err, Stream::Err, tx2));
    let mut lines = Vec::new();
    // Ends when both pumps have dropped their senders (both pipes closed).
    for (s, l) in rx {
        each(s, &l);
        lines.push((s, l));
    }
    let _ = t1.join();
    let _ = t2.join();
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok((status.success(), lines))
}
