//! Runs the scenario suite of every board variant under QEMU, through
//! `cargo xtask qemu <variant>`, and asserts each one passes (QEMU's pass
//! status, a summary line agreeing with the scenario lines, nothing failed).
//! A GDB variant (`kind = "gdb"`) runs its GDB session instead, through
//! `cargo xtask gdb <variant>`.
//!
//! It is ignored by a plain `cargo test` (`cargo test -- --ignored` runs
//! it): `cargo xtask test` boots the same variants in its `qemu` and `gdb`
//! steps, and booting them twice would double the longest part of the run.
//!
//! Variants come from `boards/*/board.toml` (`[[variant]]` tables). If a
//! variant's QEMU binary is missing, the test fails and says to run
//! `cargo xtask setup`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One variant: its name, QEMU binary and the xtask command that runs it.
#[derive(Debug)]
struct Variant {
    name: String,
    qemu: String,
    command: &'static str,
}

/// The first double-quoted string in `s`.
fn first_string(s: &str) -> Option<String> {
    let start = s.find('"')? + 1;
    let len = s[start..].find('"')?;
    Some(s[start..start + len].to_string())
}

/// Reads `name` and the first word of `qemu` of each `[[variant]]` table.
fn parse(text: &str) -> Vec<Variant> {
    let mut out = Vec::new();
    for table in text.split("[[variant]]").skip(1) {
        let mut name = None;
        let mut qemu = None;
        let mut command = "qemu";
        for (i, line) in table.lines().enumerate() {
            let l = line.trim_start();
            let key = l
                .split(|c: char| c == '=' || c.is_whitespace())
                .next()
                .unwrap_or("");
            if key == "name" && name.is_none() {
                name = first_string(l);
            } else if key == "kind" && first_string(l).as_deref() == Some("gdb") {
                command = "gdb";
            } else if key == "qemu" && qemu.is_none() {
                // The array may continue on the next lines.
                let rest: String = table.lines().skip(i).collect::<Vec<_>>().join("\n");
                qemu = rest.find('[').and_then(|b| first_string(&rest[b..]));
            }
        }
        if let (Some(name), Some(qemu)) = (name, qemu) {
            out.push(Variant {
                name,
                qemu,
                command,
            });
        }
    }
    out
}

fn variants(root: &Path) -> Vec<Variant> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("boards"))
        .expect("boards/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("board.toml").is_file())
        .collect();
    dirs.sort();
    dirs.iter()
        .flat_map(|d| parse(&std::fs::read_to_string(d.join("board.toml")).expect("readable")))
        .collect()
}

fn installed(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn board_toml_parsing() {
    let v = parse(
        "# c\n[[variant]]\nname = \"a\"\nqemu = [\n  \"qemu-system-x86_64\", \"-M\"]\n\
         [[variant]]\nname = \"b\"\nkind = \"gdb\"\nqemu = [\"qemu-system-ppc64\"]\n",
    );
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[0].name.as_str(), v[0].qemu.as_str()),
        ("a", "qemu-system-x86_64")
    );
    assert_eq!(
        (v[1].name.as_str(), v[1].qemu.as_str()),
        ("b", "qemu-system-ppc64")
    );
    assert_eq!((v[0].command, v[1].command), ("qemu", "gdb"));
}

#[test]
#[ignore = "boots every board kernel, minutes with the 4-CPU stress scenarios; \
            `cargo xtask test` runs the same variants in its qemu and gdb steps"]
fn every_board_variant_passes_under_qemu() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let all = variants(root);
    assert!(
        !all.is_empty(),
        "no [[variant]] found in boards/*/board.toml"
    );
    for v in &all {
        assert!(
            installed(&v.qemu),
            "`{}` (variant {}) is not installed: run `cargo xtask setup`",
            v.qemu,
            v.name
        );
    }
    let mut failed = Vec::new();
    for v in &all {
        let out = Command::new(env!("CARGO"))
            .args(["xtask", v.command, &v.name])
            .current_dir(root)
            .env_remove("RUSTFLAGS")
            .output()
            .expect("cargo runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or("").to_string();
        println!("variant {}: {}", v.name, last);
        if !out.status.success() {
            eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
            failed.push(v.name.clone());
        }
    }
    assert!(failed.is_empty(), "failing board variants: {failed:?}");
}
