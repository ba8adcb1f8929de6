//! `cargo xtask setup`: install what the project needs, idempotently.
//!
//! Every step first checks whether it is already satisfied and, if so, says
//! so and moves on (a satisfied run takes well under a second). Nothing is
//! downloaded from outside rustup and the distribution's package archive.
//!
//! What is needed comes from the repository itself:
//! - `rust-toolchain.toml`: the channel, its components and targets;
//! - `boards/*/board.toml`: each variant's toolchain and target, the QEMU
//!   binary it boots with (QEMU 8.1 or newer), the Debian packages it `needs`,
//!   and `rust-src` when it builds `core` itself (`-Zbuild-std`);
//! - for `cargo xtask test`: nightly's `miri` and `rust-src` (when the `miri`
//!   command exists) and `gdb-multiarch` (the GDB check);
//! - for `cargo xtask bench`: `valgrind`;
//! - for `cargo xtask mutants` and `cargo xtask test` (its mutants shard):
//!   cargo-mutants at [`CARGO_MUTANTS`], from crates.io.
//!
//! QEMU on Debian 12 comes from `bookworm-backports` (its own 7.2 lacks the
//! POWER watchpoint emulation the ppc64 boards rely on): the suite is added in
//! `/etc/apt/sources.list.d/hwbreak-bookworm-backports.list` when no apt source
//! provides it yet. Debian 13 or newer and Ubuntu 24.04 or newer ship a recent
//! enough QEMU in their main archive. Any other distribution is refused with a
//! list of what to install by hand.

use crate::util;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Oldest QEMU whose POWER DAWR/CIABR emulation the boards rely on.
const MIN_QEMU: (u32, u32) = (8, 1);
/// Oldest OpenSBI with the SBI Debug Triggers extension the RISC-V board's
/// S-mode variant uses (Debian 12's own 1.1 lacks it).
const MIN_OPENSBI: (u32, u32) = (1, 5);

/// The apt source this command writes on Debian 12.
const BACKPORTS_LIST: &str = "/etc/apt/sources.list.d/hwbreak-bookworm-backports.list";
const BACKPORTS_LINE: &str = "deb http://deb.debian.org/debian bookworm-backports main";

/// What the caller is about to do; decides which optional tools are needed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Purpose {
    /// Build and boot the boards (`cargo xtask demo`, `cargo xtask qemu`).
    Demo,
    /// Every check (`cargo xtask test`): the boards, miri, gdb-multiarch.
    Test,
    /// Benchmarks: the boards and valgrind.
    Bench,
    /// Mutation testing (`cargo xtask mutants`): cargo-mutants only.
    Mutants,
    /// Everything above (`cargo xtask setup` without arguments).
    All,
}

impl Purpose {
    fn boards(self) -> bool {
        self != Purpose::Mutants
    }
    fn mutants(self) -> bool {
        matches!(self, Purpose::Mutants | Purpose::Test | Purpose::All)
    }
    fn test(self) -> bool {
        matches!(self, Purpose::Test | Purpose::All)
    }
    fn bench(self) -> bool {
        matches!(self, Purpose::Bench | Purpose::All)
    }
}

/// Entry point: `cargo xtask setup [--for demo|test|bench|mutants|all]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let purpose = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["--for", "all"] => Purpose::All,
        ["--for", "demo"] => Purpose::Demo,
        ["--for", "test"] => Purpose::Test,
        ["--for", "bench"] => Purpose::Bench,
        ["--for", "mutants"] => Purpose::Mutants,
        _ => return Err("usage: cargo xtask setup [--for demo|test|bench|mutants|all]".into()),
    };
    ensure(purpose)?;
    println!("setup: everything is in place");
    Ok(())
}

/// Installs whatever `purpose` needs and is missing; cheap when nothing is.
pub fn ensure(purpose: Purpose) -> Result<(), String> {
    let root = util::root();
    let plan = Plan::collect(&root, purpose)?;
    rust(&plan)?;
    system(&plan)?;
    if purpose.mutants() {
        cargo_mutants()?;
    }
    Ok(())
}

/// The cargo-mutants release the mutation runs and the equivalents file
/// were checked with (its mutant names are what the file is keyed by).
pub const CARGO_MUTANTS: &str = "27.1.0";

/// Installs cargo-mutants [`CARGO_MUTANTS`] from crates.io unless that
/// version is already installed.
fn cargo_mutants() -> Result<(), String> {
    let what = format!("cargo-mutants {CARGO_MUTANTS}");
    let found = Command::new("cargo")
        .args(["mutants", "--version"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    match found {
        Some(v) if v.split_whitespace().any(|w| w == CARGO_MUTANTS) => {
            step(&what, None);
            Ok(())
        }
        other => {
            let why = match other {
                Some(v) => format!("found `{}`: installing", v.trim()),
                None => "missing: installing".into(),
            };
            step(&what, Some(&why));
            util::run(Command::new("cargo").args([
                "install",
                "cargo-mutants",
                "--version",
                CARGO_MUTANTS,
                "--locked",
            ]))
        }
    }
}

// ---------------------------------------------------------------------------
// What is needed
// ---------------------------------------------------------------------------

/// `rust-toolchain.toml`.
#[derive(Deserialize)]
struct ToolchainFile {
    toolchain: ToolchainSpec,
}

#[derive(Deserialize)]
struct ToolchainSpec {
    channel: String,
    #[serde(default)]
    components: Vec<String>,
    #[serde(default)]
    targets: Vec<String>,
}

/// The parts of a `board.toml` setup cares about (the full format is read
/// by `cargo xtask qemu`).
#[derive(Deserialize)]
struct BoardFile {
    #[serde(default)]
    variant: Vec<BoardVariant>,
}

#[derive(Deserialize)]
struct BoardVariant {
    name: String,
    target: String,
    #[serde(default = "stable")]
    toolchain: String,
    #[serde(default)]
    cargo_args: Vec<String>,
    #[serde(default)]
    qemu: Vec<String>,
    #[serde(default)]
    needs: Vec<String>,
    #[serde(default = "yes")]
    demo: bool,
}

fn stable() -> String {
    "stable".into()
}

fn yes() -> bool {
    true
}

/// Per toolchain: targets and components wanted.
#[derive(Default, Debug)]
struct RustWants {
    targets: BTreeSet<String>,
    components: BTreeSet<String>,
}

/// Everything one run needs.
#[derive(Debug)]
struct Plan {
    /// Toolchain name -> what it needs, the pinned channel first.
    rust: Vec<(String, RustWants)>,
    /// QEMU binaries the boards boot with.
    qemu: BTreeSet<String>,
    /// Debian packages, with why each is wanted.
    packages: Vec<(String, String)>,
}

impl Plan {
    fn collect(root: &Path, purpose: Purpose) -> Result<Plan, String> {
        let tc_path = root.join("rust-toolchain.toml");
        let text = std::fs::read_to_string(&tc_path)
            .map_err(|e| format!("cannot read {}: {e}", tc_path.display()))?;
        let tc: ToolchainFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", tc_path.display()))?;
        let mut plan = Plan {
            rust: Vec::new(),
            qemu: BTreeSet::new(),
            packages: Vec::new(),
        };
        let pinned = plan.toolchain(&tc.toolchain.channel);
        pinned.targets.extend(tc.toolchain.targets);
        pinned.components.extend(tc.toolchain.components);

        if purpose.boards() {
            for (path, board) in boards(root)? {
                for v in board.variant {
                    let want = plan.toolchain(&v.toolchain);
                    if !v.target.ends_with(".json") {
                        want.targets.insert(v.target.clone());
                    }
                    if v.cargo_args.iter().any(|a| a.contains("build-std")) {
                        want.components.insert("rust-src".into());
                    }
                    match v.qemu.first() {
                        Some(q) => {
                            plan.qemu.insert(q.clone());
                        }
                        None => return Err(format!("{}: a variant has no qemu", path.display())),
                    }
                    for n in v.needs {
                        plan.package(&n, &format!("needed by {}", rel(root, &path)));
                    }
                }
            }
        }
        if purpose.test() {
            if root.join("xtask/src/miri.rs").is_file() {
                let nightly = plan.toolchain("nightly");
                nightly.components.insert("miri".into());
                nightly.components.insert("rust-src".into());
            }
            plan.package("gdb-multiarch", "the end-to-end GDB check");
        }
        if purpose.bench() {
            plan.package("valgrind", "instruction counts in `cargo xtask bench`");
        }
        Ok(plan)
    }

    fn toolchain(&mut self, name: &str) -> &mut RustWants {
        let i = match self.rust.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.rust.push((name.to_string(), RustWants::default()));
                self.rust.len() - 1
            }
        };
        &mut self.rust[i].1
    }

    fn package(&mut self, name: &str, why: &str) {
        if !self.packages.iter().any(|(n, _)| n == name) {
            self.packages.push((name.to_string(), why.to_string()));
        }
    }
}

/// Every `boards/*/board.toml`, sorted by folder.
fn boards(root: &Path) -> Result<Vec<(PathBuf, BoardFile)>, String> {
    let dir = root.join("boards");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path().join("board.toml")))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            let b: BoardFile =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok((p, b))
        })
        .collect()
}

/// Names of the board variants `cargo xtask demo` runs (all but those with
/// `demo = false`), in the order `cargo xtask qemu all` runs them.
pub fn variant_names() -> Result<Vec<String>, String> {
    Ok(boards(&util::root())?
        .into_iter()
        .flat_map(|(_, b)| b.variant.into_iter().filter(|v| v.demo).map(|v| v.name))
        .collect())
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

// ---------------------------------------------------------------------------
// Rust: rustup toolchains, targets, components
// ---------------------------------------------------------------------------

fn rust(plan: &Plan) -> Result<(), String> {
    if !succeeds(Command::new("rustup").arg("--version")) {
        return Err(
            "rustup is not installed: install rustup (the project pins its toolchain in \
             rust-toolchain.toml), then run `cargo xtask setup` again"
                .into(),
        );
    }
    let installed = output(Command::new("rustup").args(["toolchain", "list"]))?;
    for (tc, wants) in &plan.rust {
        let have_tc = installed
            .lines()
            .any(|l| l == tc || l.starts_with(&format!("{tc}-")));
        if have_tc {
            step(&format!("rust toolchain `{tc}`"), None);
        } else {
            step(&format!("rust toolchain `{tc}`"), Some("installing"));
            util::run(
                rustup()
                    .args(["toolchain", "install", tc, "--profile", "minimal"])
                    .arg("--no-self-update"),
            )?;
        }
        let host = host_triple(tc)?;

        let have = output(rustup().args(["target", "list", "--installed", "--toolchain", tc]))?;
        let have: BTreeSet<&str> = have.lines().map(str::trim).collect();
        let missing: Vec<&String> = wants
            .targets
            .iter()
            .filter(|t| !have.contains(t.as_str()))
            .collect();
        let what = format!("`{tc}` targets {}", list(&wants.targets));
        if wants.targets.is_empty() {
            // Nothing asked of this toolchain's targets.
        } else if missing.is_empty() {
            step(&what, None);
        } else {
            step(&what, Some(&format!("adding {}", list(&missing))));
            util::run(
                rustup()
                    .args(["target", "add", "--toolchain", tc])
                    .args(&missing),
            )?;
        }

        if wants.components.is_empty() {
            continue;
        }
        let have = output(rustup().args(["component", "list", "--installed", "--toolchain", tc]))?;
        let have: BTreeSet<String> = have
            .lines()
            .map(|l| {
                let l = l.trim();
                l.strip_suffix(&format!("-{host}")).unwrap_or(l).to_string()
            })
            .collect();
        let missing: Vec<&String> = wants
            .components
            .iter()
            .filter(|c| !have.contains(c.as_str()))
            .collect();
        let what = format!("`{tc}` components {}", list(&wants.components));
        if missing.is_empty() {
            step(&what, None);
        } else {
            step(&what, Some(&format!("adding {}", list(&missing))));
            util::run(
                rustup()
                    .args(["component", "add", "--toolchain", tc])
                    .args(&missing),
            )?;
        }
    }
    Ok(())
}

/// `rustup`, never installing a toolchain behind our back while we look.
fn rustup() -> Command {
    let mut c = Command::new("rustup");
    c.env("RUSTUP_AUTO_INSTALL", "0");
    c
}

fn host_triple(tc: &str) -> Result<String, String> {
    let out = output(rustup().args(["run", tc, "rustc", "-vV"]))?;
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| format!("`rustc -vV` of `{tc}` names no host"))
}

// ---------------------------------------------------------------------------
// System packages: QEMU and the rest
// ---------------------------------------------------------------------------

/// How to get packages on this distribution.
#[derive(Debug, PartialEq, Eq)]
enum Distro {
    /// Debian 12: QEMU from bookworm-backports.
    Bookworm,
    /// A release whose main archive has QEMU >= 8.1.
    Recent(String),
    /// Anything else: refuse.
    Unknown(String),
}

fn system(plan: &Plan) -> Result<(), String> {
    // QEMU: present and recent enough?
    let mut qemu_pkgs: Vec<String> = Vec::new();
    for bin in &plan.qemu {
        let what = format!("{bin} >= {}.{}", MIN_QEMU.0, MIN_QEMU.1);
        match qemu_version(bin) {
            Some(v) if v >= MIN_QEMU => step(&format!("{what} (found {}.{})", v.0, v.1), None),
            found => {
                let pkg = qemu_package(bin)?;
                let why = match found {
                    Some(v) => format!("found {}.{}, too old: installing {pkg}", v.0, v.1),
                    None => format!("missing: installing {pkg}"),
                };
                step(&what, Some(&why));
                if !qemu_pkgs.contains(&pkg) {
                    qemu_pkgs.push(pkg);
                }
            }
        }
    }
    // OpenSBI, which `-bios default` loads, must carry SBI Debug Triggers
    // (1.5 or newer); it comes from the same suite as QEMU.
    if plan.qemu.iter().any(|b| b.starts_with("qemu-system-riscv")) {
        let what = format!(
            "opensbi >= {}.{} (SBI Debug Triggers)",
            MIN_OPENSBI.0, MIN_OPENSBI.1
        );
        match dpkg_version("opensbi")
            .as_deref()
            .and_then(parse_deb_version)
        {
            Some(v) if v >= MIN_OPENSBI => step(&format!("{what} (found {}.{})", v.0, v.1), None),
            found => {
                let why = match found {
                    Some(v) => format!("found {}.{}, too old: installing opensbi", v.0, v.1),
                    None => "missing: installing opensbi".to_string(),
                };
                step(&what, Some(&why));
                qemu_pkgs.push("opensbi".into());
            }
        }
    }
    let mut other: Vec<String> = Vec::new();
    for (pkg, why) in &plan.packages {
        let what = format!("package {pkg} ({why})");
        if dpkg_installed(pkg) {
            step(&what, None);
        } else {
            step(&what, Some("missing: installing"));
            other.push(pkg.clone());
        }
    }
    if qemu_pkgs.is_empty() && other.is_empty() {
        return Ok(());
    }

    let distro = distro(&std::fs::read_to_string("/etc/os-release").unwrap_or_default());
    let apt = Apt::new(&qemu_pkgs, &other)?;
    match &distro {
        Distro::Bookworm => {
            if !qemu_pkgs.is_empty() {
                ensure_backports(&apt)?;
            }
            apt.update()?;
            if !qemu_pkgs.is_empty() {
                apt.install(Some("bookworm-backports"), &qemu_pkgs)?;
            }
            if !other.is_empty() {
                apt.install(None, &other)?;
            }
        }
        Distro::Recent(name) => {
            step(
                &format!("distribution {name}: packages from its main archive"),
                None,
            );
            apt.update()?;
            let all: Vec<String> = qemu_pkgs.iter().chain(&other).cloned().collect();
            apt.install(None, &all)?;
        }
        Distro::Unknown(name) => {
            return Err(format!(
                "unsupported distribution `{name}`: this command installs packages only on \
                 Debian 12 or newer and Ubuntu 24.04 or newer. Install these yourself, then run \
                 `cargo xtask setup` again:\n  QEMU >= {}.{} providing {}\n  {}",
                MIN_QEMU.0,
                MIN_QEMU.1,
                list(&plan.qemu),
                other.join(" ")
            ))
        }
    }
    // Check the result rather than trusting apt.
    let qemu_installed = !qemu_pkgs.is_empty();
    for bin in plan.qemu.iter().filter(|_| qemu_installed) {
        match qemu_version(bin) {
            Some(v) if v >= MIN_QEMU => step(&format!("{bin} now {}.{}", v.0, v.1), None),
            Some(v) => {
                return Err(format!(
                    "{bin} is {}.{} after installing; {}.{} or newer is needed",
                    v.0, v.1, MIN_QEMU.0, MIN_QEMU.1
                ))
            }
            None => return Err(format!("{bin} still does not run after installing")),
        }
    }
    for pkg in &other {
        if !dpkg_installed(pkg) {
            return Err(format!("package {pkg} is still not installed"));
        }
    }
    Ok(())
}

/// Parses `/etc/os-release`.
fn distro(os_release: &str) -> Distro {
    let field = |k: &str| -> String {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let id = field("ID");
    let version = field("VERSION_ID");
    let codename = field("VERSION_CODENAME");
    let major: Option<u32> = version.split('.').next().and_then(|m| m.parse().ok());
    let name = format!("{id} {version}").trim().to_string();
    match (id.as_str(), major) {
        ("debian", Some(12)) => Distro::Bookworm,
        ("debian", None) if codename == "bookworm" => Distro::Bookworm,
        ("debian", Some(m)) if m >= 13 => Distro::Recent(name),
        // testing/sid carry no VERSION_ID; their QEMU is newer than stable's.
        ("debian", None) if codename == "trixie" || codename == "forky" || codename == "sid" => {
            Distro::Recent(name)
        }
        ("ubuntu", Some(m)) if m >= 24 => Distro::Recent(name),
        _ => Distro::Unknown(if name.is_empty() {
            "no /etc/os-release".into()
        } else {
            name
        }),
    }
}

/// Debian package holding a `qemu-system-*` binary.
fn qemu_package(bin: &str) -> Result<String, String> {
    let arch = bin.strip_prefix("qemu-system-").unwrap_or("");
    let pkg = match arch {
        "x86_64" | "i386" => "qemu-system-x86",
        "aarch64" | "arm" => "qemu-system-arm",
        "ppc64" | "ppc" => "qemu-system-ppc",
        // Debian 12's bookworm-backports and Debian 13 split the RISC-V
        // emulator out of qemu-system-misc; the package depends on the
        // OpenSBI 1.5 that `-bios default` loads (DBTR needs 1.5: bookworm's
        // own opensbi 1.1 has no Debug Triggers extension).
        "riscv64" | "riscv32" => "qemu-system-riscv",
        _ => return Err(format!("no known Debian package provides `{bin}`")),
    };
    Ok(pkg.into())
}

/// The installed version of Debian package `pkg`, if installed.
fn dpkg_version(pkg: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", pkg])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = text.strip_prefix("install ok installed ")?;
    Some(version.trim().to_string())
}

/// `(major, minor)` of a Debian version string (`1.5.1-1~bpo12+2`,
/// `1:10.0.2+ds-2`): the epoch is skipped.
fn parse_deb_version(v: &str) -> Option<(u32, u32)> {
    let v = v.split_once(':').map_or(v, |(_, rest)| rest);
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// `(major, minor)` of `bin --version`, or `None` when it does not run.
fn qemu_version(bin: &str) -> Option<(u32, u32)> {
    let out = Command::new(bin)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_qemu_version(&String::from_utf8_lossy(&out.stdout))
}

/// `QEMU emulator version 10.0.2 (Debian ...)` -> `(10, 0)`.
fn parse_qemu_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.split("version ").nth(1)?;
    let mut nums = rest.split(|c: char| !c.is_ascii_digit());
    let major = nums.next()?.parse().ok()?;
    let minor = nums.next()?.parse().ok()?;
    Some((major, minor))
}

fn dpkg_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .stderr(Stdio::null())
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).ends_with(" installed"))
        .unwrap_or(false)
}

/// apt-get, as root or through `sudo`.
struct Apt {
    sudo: bool,
}

impl Apt {
    fn new(qemu: &[String], other: &[String]) -> Result<Apt, String> {
        if !succeeds(Command::new("apt-get").arg("--version")) {
            return Err(format!(
                "apt-get is not available: install {} yourself",
                qemu.iter()
                    .chain(other)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        let uid = output(Command::new("id").arg("-u")).unwrap_or_default();
        if uid.trim() == "0" {
            return Ok(Apt { sudo: false });
        }
        if succeeds(Command::new("sudo").arg("-n").arg("true")) {
            return Ok(Apt { sudo: true });
        }
        Err(format!(
            "installing system packages needs root: run `sudo cargo xtask setup`, or install \
             {} yourself",
            qemu.iter()
                .chain(other)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        ))
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = if self.sudo {
            let mut c = Command::new("sudo");
            c.arg("-n").arg(program);
            c
        } else {
            Command::new(program)
        };
        c.env("DEBIAN_FRONTEND", "noninteractive");
        c
    }

    fn update(&self) -> Result<(), String> {
        step("apt package lists", Some("apt-get update"));
        util::run(self.cmd("apt-get").args(["update", "-q"]))
    }

    fn install(&self, suite: Option<&str>, pkgs: &[String]) -> Result<(), String> {
        let mut c = self.cmd("apt-get");
        c.args(["install", "-y", "-q"]);
        if let Some(s) = suite {
            c.args(["-t", s]);
        }
        c.args(pkgs);
        util::run(&mut c)
    }
}

/// Makes sure some apt source provides `bookworm-backports`.
fn ensure_backports(apt: &Apt) -> Result<(), String> {
    if let Some(src) = backports_source() {
        step(&format!("apt suite bookworm-backports (in {src})"), None);
        return Ok(());
    }
    step(
        "apt suite bookworm-backports",
        Some(&format!("writing {BACKPORTS_LIST}")),
    );
    let content = format!(
        "# Added by `cargo xtask setup` (hwbreak): QEMU >= {}.{} for the board tests.\n{BACKPORTS_LINE}\n",
        MIN_QEMU.0, MIN_QEMU.1
    );
    if apt.sudo {
        let mut c = Command::new("sudo");
        c.args(["-n", "tee", BACKPORTS_LIST]).stdout(Stdio::null());
        let mut child = c
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start sudo tee: {e}"))?;
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(content.as_bytes())
            .map_err(|e| e.to_string())?;
        let st = child.wait().map_err(|e| e.to_string())?;
        if !st.success() {
            return Err(format!("cannot write {BACKPORTS_LIST}: {st}"));
        }
        Ok(())
    } else {
        std::fs::write(BACKPORTS_LIST, content)
            .map_err(|e| format!("cannot write {BACKPORTS_LIST}: {e}"))
    }
}

/// The apt source file that already enables `bookworm-backports`, if any.
fn backports_source() -> Option<String> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
            .collect();
        more.sort();
        files.extend(more);
    }
    files.into_iter().find_map(|f| {
        let text = std::fs::read_to_string(&f).ok()?;
        enables_backports(&text).then(|| f.display().to_string())
    })
}

/// Whether a one-line (`.list`) or deb822 (`.sources`) apt source enables
/// the main component of `bookworm-backports`.
fn enables_backports(text: &str) -> bool {
    // One-line style.
    let one_line = text.lines().any(|l| {
        let l = l.trim();
        let w: Vec<&str> = l.split_whitespace().collect();
        !l.starts_with('#')
            && w.first() == Some(&"deb")
            && w.contains(&"bookworm-backports")
            && w.contains(&"main")
    });
    // deb822 style: a stanza with `Suites: ... bookworm-backports ...`,
    // `Components: ... main ...` and not `Enabled: no`.
    let deb822 = text.split("\n\n").any(|stanza| {
        let field = |k: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}:")))
                .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        field("Types").iter().any(|t| t == "deb")
            && field("Suites").iter().any(|s| s == "bookworm-backports")
            && field("Components").iter().any(|c| c == "main")
            && !field("Enabled").iter().any(|e| e == "no")
    });
    one_line || deb822
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Prints one setup step: satisfied (`action == None`) or what is done now.
fn step(what: &str, action: Option<&str>) {
    match action {
        None => eprintln!("setup: {what}: ok"),
        Some(a) => eprintln!("setup: {what}: {a}"),
    }
}

fn list<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", util::show(cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed: {}", util::show(cmd), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_versions() {
        assert_eq!(
            parse_qemu_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)\nCopyright"),
            Some((10, 0))
        );
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7)"),
            Some((7, 2))
        );
        assert!(parse_qemu_version("QEMU emulator version 7.2.15").unwrap() < MIN_QEMU);
        assert!(parse_qemu_version("QEMU emulator version 8.1.0").unwrap() >= MIN_QEMU);
        assert_eq!(parse_qemu_version("not qemu"), None);
    }

    #[test]
    fn distributions() {
        let bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n\
                        VERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(distro(bookworm), Distro::Bookworm);
        let trixie = "VERSION_ID=\"13\"\nVERSION_CODENAME=trixie\nID=debian\n";
        assert_eq!(distro(trixie), Distro::Recent("debian 13".into()));
        let sid = "VERSION_CODENAME=sid\nID=debian\n";
        assert!(matches!(distro(sid), Distro::Recent(_)));
        let bullseye = "VERSION_ID=\"11\"\nID=debian\n";
        assert_eq!(distro(bullseye), Distro::Unknown("debian 11".into()));
        let noble = "ID=ubuntu\nVERSION_ID=\"24.04\"\n";
        assert!(matches!(distro(noble), Distro::Recent(_)));
        let jammy = "ID=ubuntu\nVERSION_ID=\"22.04\"\n";
        assert!(matches!(distro(jammy), Distro::Unknown(_)));
        assert!(matches!(
            distro("ID=fedora\nVERSION_ID=40\n"),
            Distro::Unknown(_)
        ));
        assert!(matches!(distro(""), Distro::Unknown(_)));
    }

    #[test]
    fn apt_sources() {
        assert!(enables_backports(
            "deb http://deb.debian.org/debian bookworm-backports main\n"
        ));
        assert!(!enables_backports(
            "# deb http://deb.debian.org/debian bookworm-backports main\n"
        ));
        assert!(!enables_backports(
            "deb http://deb.debian.org/debian bookworm main\n"
        ));
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\n\
                      Suites: bookworm bookworm-updates bookworm-backports\nComponents: main\n";
        assert!(enables_backports(deb822));
        let disabled = format!("{deb822}Enabled: no\n");
        assert!(!enables_backports(&disabled));
        let debian_default = "Types: deb\nURIs: http://deb.debian.org/debian\n\
                              Suites: bookworm bookworm-updates\nComponents: main\n\n\
                              Types: deb\nURIs: http://deb.debian.org/debian-security\n\
                              Suites: bookworm-security\nComponents: main\n";
        assert!(!enables_backports(debian_default));
    }

    #[test]
    fn debian_versions() {
        assert_eq!(parse_deb_version("1.5.1-1~bpo12+2"), Some((1, 5)));
        assert_eq!(parse_deb_version("1.1-2"), Some((1, 1)));
        assert_eq!(parse_deb_version("1:10.0.2+ds-2"), Some((10, 0)));
        assert!(parse_deb_version("1.1-2").unwrap() < MIN_OPENSBI);
        assert_eq!(parse_deb_version("garbage"), None);
    }

    #[test]
    fn qemu_packages() {
        assert_eq!(
            qemu_package("qemu-system-x86_64").unwrap(),
            "qemu-system-x86"
        );
        assert_eq!(
            qemu_package("qemu-system-aarch64").unwrap(),
            "qemu-system-arm"
        );
        assert_eq!(
            qemu_package("qemu-system-ppc64").unwrap(),
            "qemu-system-ppc"
        );
        assert_eq!(
            qemu_package("qemu-system-riscv64").unwrap(),
            "qemu-system-riscv"
        );
        assert!(qemu_package("qemu-system-sparc64").is_err());
    }

    #[test]
    fn plan_of_this_repository() {
        let plan = Plan::collect(&util::root(), Purpose::All).unwrap();
        let (first, wants) = &plan.rust[0];
        assert_eq!(first, "stable");
        assert!(wants.targets.contains("x86_64-unknown-none"));
        assert!(wants.targets.contains("riscv64gc-unknown-none-elf"));
        assert!(plan.qemu.iter().any(|q| q == "qemu-system-riscv64"));
        assert!(wants.components.contains("clippy"));
    }
}
