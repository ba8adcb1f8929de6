//! `cargo xtask bench`: every benchmark of BENCHMARKS.md in one run.
//!
//! 1. The timed and counted benchmarks of the core (`hal-core/benches/*`,
//!    release build, model backend): reservation against a global-list
//!    baseline and a model of the modern upstream one (and the plot
//!    `docs/bench-reserve.svg`), context-switch register writes, the
//!    flatness of registry operations in what is held, per-CPU footprint.
//! 2. Instructions per debug exception, per context switch and per
//!    reserve + release (ours and the modern baseline's), counted with
//!    `valgrind --tool=callgrind` on the `dispatch`, `switch` and `reserve`
//!    bench binaries.
//! 3. Bytes of code the core plus each backend add to a freestanding
//!    kernel: a probe kernel is built for each architecture with and
//!    without a registry exercising the whole API, and the `.text` sizes of
//!    the two ELF files are compared.
//!
//! It rewrites the results section of BENCHMARKS.md and ends by printing
//! one `bench: <name> = <number>` line per metric.

use crate::elf::Elf;
use crate::setup;
use crate::util::{self, Stream};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The headline metrics, in the order they are printed, with their goals.
const METRICS: &[(&str, Goal)] = &[
    ("reserve_speedup_vs_baseline", Goal::AtLeast(1000.0)),
    ("reserve_flatness", Goal::AtMost(1.5)),
    ("reserve_speedup_vs_modern", Goal::AtLeast(2.0)),
    ("reserve_speedup_vs_modern_flatness", Goal::AtMost(1.5)),
    ("switch_writes_over_minimum", Goal::AtMost(1.0)),
    ("switch_writes_vs_naive", Goal::AtLeast(2.0)),
    ("dispatch_instructions", Goal::AtMost(100.0)),
    ("dispatch_instructions_flatness", Goal::AtMost(1.0)),
    ("switch_instructions_unchanged", Goal::AtMost(30.0)),
    ("switch_instructions_flatness", Goal::AtMost(1.0)),
    ("enable_flatness", Goal::AtMost(1.5)),
    ("register_unregister_flatness", Goal::AtMost(1.5)),
    ("modify_flatness", Goal::AtMost(1.5)),
    ("disable_enable_flatness", Goal::AtMost(1.5)),
    ("text_bytes_x86_64", Goal::AtMost(16384.0)),
    ("text_bytes_aarch64", Goal::AtMost(16384.0)),
    ("text_bytes_ppc64", Goal::AtMost(16384.0)),
    ("percpu_state_bytes", Goal::AtMost(256.0)),
];

#[derive(Clone, Copy)]
enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

impl Goal {
    fn met(self, v: f64) -> bool {
        match self {
            Goal::AtLeast(g) => v >= g,
            Goal::AtMost(g) => v <= g,
        }
    }

    fn show(self) -> String {
        match self {
            Goal::AtLeast(g) => format!(">= {}", num(g)),
            Goal::AtMost(g) => format!("<= {}", num(g)),
        }
    }
}

fn num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Collected results: headline values (as printed) and supporting lines.
#[derive(Default)]
struct Results {
    metrics: BTreeMap<String, String>,
    details: Vec<String>,
    notes: Vec<String>,
}

impl Results {
    fn metric(&mut self, name: &str, value: String) {
        self.metrics.insert(name.to_string(), value);
    }

    fn detail(&mut self, line: String) {
        println!("bench-detail: {line}");
        self.details.push(line);
    }
}

/// Entry point: `cargo xtask bench [--only core|dispatch|size]`. A partial
/// run prints what it measured and leaves BENCHMARKS.md alone.
pub fn run(args: &[String]) -> Result<(), String> {
    let only = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => None,
        ["--only", part @ ("core" | "dispatch" | "size")] => Some(part.to_string()),
        _ => return Err("usage: cargo xtask bench [--only core|dispatch|size]".into()),
    };
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    setup::ensure(setup::Purpose::Bench)?;
    let root = util::root();
    let mut results = Results::default();
    if runs("core") {
        core_benches(&root, &mut results)?;
    }
    if runs("dispatch") {
        dispatch_instructions(&root, &mut results)?;
        switch_instructions(&root, &mut results)?;
        reserve_instructions(&root, &mut results)?;
        registry_op_instructions(&root, &mut results)?;
    }
    if runs("size") {
        text_sizes(&root, &mut results)?;
    }
    if only.is_none() {
        write_doc(&root, &results)?;
    }

    println!();
    for note in &results.notes {
        println!("bench-note: {note}");
    }
    for (name, goal) in METRICS {
        let v = results
            .metrics
            .get(*name)
            .and_then(|s| s.parse::<f64>().ok());
        match v {
            Some(v) if goal.met(v) => println!("bench-goal: {name} {} met", goal.show()),
            Some(_) => println!("bench-goal: {name} {} MISSED", goal.show()),
            None => println!("bench-goal: {name} not measured"),
        }
    }
    for (name, _) in METRICS {
        match results.metrics.get(*name) {
            Some(v) => println!("bench: {name} = {v}"),
            None if only.is_some() => {}
            None => return Err(format!("metric {name} was not measured")),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 1. The core's benchmarks
// ---------------------------------------------------------------------------

const BENCHES: &[&str] = &[
    "reserve",
    "switch",
    "enable",
    "flatness",
    "dispatch",
    "footprint",
];

fn bench_command() -> Command {
    let mut cmd = util::cargo();
    cmd.args(["bench", "-p", "hwbreak-core", "--features", "model"]);
    for b in BENCHES {
        cmd.args(["--bench", b]);
    }
    cmd
}

fn core_benches(root: &Path, results: &mut Results) -> Result<(), String> {
    let docs = root.join("docs");
    std::fs::create_dir_all(&docs).map_err(|e| format!("create {}: {e}", docs.display()))?;
    let svg = docs.join("bench-reserve.svg");
    let mut cmd = bench_command();
    cmd.env("HWBREAK_BENCH_SVG", &svg);
    eprintln!("+ {}", util::show(&cmd));
    let (ok, lines) = util::run_lines(&mut cmd, |s, l| match s {
        Stream::Out => println!("{l}"),
        Stream::Err => eprintln!("{l}"),
    })?;
    if !ok {
        return Err("the core's benchmarks failed (see above)".into());
    }
    for (s, l) in lines {
        if s != Stream::Out {
            continue;
        }
        if let Some(rest) = l.strip_prefix("bench: ") {
            if let Some((name, value)) = rest.split_once(" = ") {
                results.metric(name.trim(), value.trim().to_string());
            }
        } else if let Some(rest) = l.strip_prefix("bench-detail: ") {
            results.details.push(rest.to_string());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 2. Instructions per dispatch and per context switch (callgrind)
// ---------------------------------------------------------------------------

/// Dispatches per counted run: large enough that the loop's entry and exit
/// vanish in the division, small enough for valgrind to be quick.
const DISPATCHES: u64 = 2_000;

/// Instructions per call of the loop `function` of bench `bench` in each
/// configuration: a run of `calls` calls minus a run of none, divided by
/// `calls`. Each is also reported as a detail line `<metric>{<config>}`.
fn per_call(
    root: &Path,
    results: &mut Results,
    bench: &str,
    function: &str,
    metric: &str,
    configs: &[&str],
    calls: u64,
) -> Result<BTreeMap<String, f64>, String> {
    let exe = bench_executable(bench)?;
    let out_dir = root.join("target").join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut per = BTreeMap::new();
    for config in configs {
        let empty = callgrind(&exe, function, config, 0, &out_dir)?;
        let full = callgrind(&exe, function, config, calls, &out_dir)?;
        let n = (full.saturating_sub(empty)) as f64 / calls as f64;
        results.detail(format!(
            "{metric}{{{config}}} = {} instructions ({full} - {empty} over {calls} calls)",
            num(n)
        ));
        per.insert(config.to_string(), n);
    }
    Ok(per)
}

/// Largest over smallest of `values` (1 when they are all equal).
fn spread<'a>(values: impl IntoIterator<Item = &'a f64>) -> f64 {
    let (lo, hi) = values
        .into_iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if lo > 0.0 {
        hi / lo
    } else {
        f64::INFINITY
    }
}

fn dispatch_instructions(root: &Path, results: &mut Results) -> Result<(), String> {
    let per = per_call(
        root,
        results,
        "dispatch",
        "dispatch_loop",
        "dispatch_instructions",
        &[
            "core-1",
            "core-4",
            "core-16",
            "core-16-contexts",
            "shared-2",
            "shared-4",
            "shared-8",
            "model-1",
            "model-16",
        ],
        DISPATCHES,
    )?;
    let armed = ["core-1", "core-4", "core-16"].map(|c| per[c]);
    let worst = armed.iter().cloned().fold(0.0, f64::max);
    results.metric("dispatch_instructions", num(worst));
    results.metric(
        "dispatch_instructions_flatness",
        format!("{:.3}", spread(&armed)),
    );
    results.detail(format!(
        "dispatch_instructions_per_extra_sharer = {} instructions (shared-8 - shared-2, over 6 more handlers)",
        num((per["shared-8"] - per["shared-2"]) / 6.0)
    ));
    results.notes.push(format!(
        "dispatch_instructions is the core alone (a backend whose decode copies the status word \
         and whose register writes are empty), worst of 1, 4 and 16 armed breakpoints; the model backend \
         adds {} (locks and logging of a test double, not a real backend)",
        num(per["model-16"] - per["core-16"])
    ));
    Ok(())
}

/// Reserve+release cycles per counted run.
const RESERVES: u64 = 2_000;

/// Instructions per reserve+release of a task breakpoint, ours and the
/// modern baseline's, as an exact companion to the timed ratio.
fn reserve_instructions(root: &Path, results: &mut Results) -> Result<(), String> {
    let per = per_call(
        root,
        results,
        "reserve",
        "reserve_loop",
        "reserve_release_instructions",
        &["ours", "modern"],
        RESERVES,
    )?;
    results.detail(format!(
        "reserve_instructions_ratio_vs_modern = {} (modern / ours, 256 CPUs, 10000 task breakpoints)",
        num(per["modern"] / per["ours"])
    ));
    Ok(())
}

/// Registry operations per counted run (each reloads the CPU).
const REGISTRY_OPS: u64 = 200;

/// Instructions per register + unregister, modify (there and back) and
/// disable + enable with 1 and 60 000 breakpoints held, the exact
/// companion of the timed `*_flatness` metrics.
fn registry_op_instructions(root: &Path, results: &mut Results) -> Result<(), String> {
    let ops = ["register_unregister", "modify", "disable_enable"];
    let configs: Vec<String> = ops
        .iter()
        .flat_map(|op| [format!("{op}-1"), format!("{op}-60000")])
        .collect();
    let refs: Vec<&str> = configs.iter().map(String::as_str).collect();
    let per = per_call(
        root,
        results,
        "flatness",
        "op_loop",
        "registry_op_instructions",
        &refs,
        REGISTRY_OPS,
    )?;
    for op in ops {
        results.detail(format!(
            "{op}_instructions_flatness = {:.3} (60000 held / 1 held)",
            per[&format!("{op}-60000")] / per[&format!("{op}-1")]
        ));
    }
    Ok(())
}

/// Context switches per counted run.
const SWITCHES: u64 = 2_000;

fn switch_instructions(root: &Path, results: &mut Results) -> Result<(), String> {
    let same = ["same-2", "same-64", "same-1024"];
    let change = ["change-2", "change-64", "change-1024"];
    let configs: Vec<&str> = same
        .iter()
        .chain(&change)
        .chain(&["change16-2"])
        .copied()
        .collect();
    let per = per_call(
        root,
        results,
        "switch",
        "switch_loop",
        "switch_instructions",
        &configs,
        SWITCHES,
    )?;
    let worst_same = same.iter().map(|c| per[*c]).fold(0.0, f64::max);
    results.metric("switch_instructions_unchanged", num(worst_same));
    let flat = spread(&same.map(|c| per[c])).max(spread(&change.map(|c| per[c])));
    results.metric("switch_instructions_flatness", format!("{flat:.3}"));
    results.notes.push(format!(
        "switch_instructions_unchanged is the worst of 2, 64 and 1024 debug contexts holding \
         breakpoints when the incoming context is the one loaded; a switch changing 4 slots and \
         the control word costs {} (change-1024), 16 slots {} (change16-2); \
         switch_instructions_flatness is the larger spread (largest / smallest) over the task \
         counts of the two",
        num(per["change-1024"]),
        num(per["change16-2"])
    ));
    Ok(())
}

/// Path of a bench binary of hwbreak-core, built if needed.
fn bench_executable(name: &str) -> Result<PathBuf, String> {
    let mut cmd = bench_command();
    cmd.args(["--no-run", "--message-format=json"]);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", util::show(&cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed:\n{}",
            util::show(&cmd),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] == "compiler-artifact" && v["target"]["name"] == name {
            if let Some(exe) = v["executable"].as_str() {
                return Ok(PathBuf::from(exe));
            }
        }
    }
    Err(format!("no executable for bench `{name}`"))
}

/// Instructions executed inside `function` when `exe --probe config n`
/// runs.
fn callgrind(
    exe: &Path,
    function: &str,
    config: &str,
    n: u64,
    out_dir: &Path,
) -> Result<u64, String> {
    let file = out_dir.join(format!("callgrind.{function}.{config}.{n}"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--toggle-collect=*{function}*"))
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(exe)
        .args(["--probe", config, &n.to_string()]);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", util::show(&cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed:\n{}",
            util::show(&cmd),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text =
        std::fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no instruction total in {}", file.display()))
}

// ---------------------------------------------------------------------------
// 3. Code size in a freestanding kernel
// ---------------------------------------------------------------------------

struct SizeTarget {
    /// Metric suffix.
    name: &'static str,
    triple: &'static str,
    /// Cargo feature of the probe selecting the backend.
    feature: &'static str,
    rustflags: &'static [&'static str],
}

/// Same targets and code generation flags as the board kernels.
const SIZE_TARGETS: &[SizeTarget] = &[
    SizeTarget {
        name: "x86_64",
        triple: "x86_64-unknown-none",
        feature: "x86_64",
        rustflags: &["-C", "relocation-model=static"],
    },
    SizeTarget {
        name: "aarch64",
        triple: "aarch64-unknown-none",
        feature: "aarch64",
        rustflags: &["-C", "relocation-model=static"],
    },
    SizeTarget {
        name: "ppc64",
        triple: "powerpc64-unknown-linux-gnu",
        feature: "ppc64",
        rustflags: &[
            "-C",
            "linker=powerpc64-linux-gnu-ld",
            "-C",
            "linker-flavor=ld",
            "-C",
            "relocation-model=static",
            "-C",
            "target-feature=-altivec,-vsx",
        ],
    },
];

const PROBE_MANIFEST: &str = r#"[package]
name = "hwbreak-size-probe"
version = "0.0.0"
edition = "2021"
publish = false

# Generated by `cargo xtask bench`: a freestanding kernel with and without
# a registry, to measure the code the registry adds.
[workspace]

[features]
registry = []
x86_64 = ["dep:hwbreak-x86"]
aarch64 = ["dep:hwbreak-aarch64"]
ppc64 = ["dep:hwbreak-ppc64"]

[dependencies]
hwbreak-core = { path = "@ROOT@/hal-core" }
hwbreak-x86 = { path = "@ROOT@/arch-x86", optional = true }
hwbreak-aarch64 = { path = "@ROOT@/arch-aarch64", optional = true }
hwbreak-ppc64 = { path = "@ROOT@/arch-ppc64", optional = true, features = ["dawr"] }
critical-section = "1.2"

[[bin]]
name = "probe"
path = "main.rs"
test = false
bench = false

# As the board kernels.
[profile.release]
panic = "abort"
opt-level = 2
codegen-units = 1
debug = false
"#;

const PROBE_MAIN: &str = r#"//! Generated by `cargo xtask bench`. Without the `registry` feature this
//! kernel only prints through a console (so it links `core::fmt`, as any
//! kernel does); with it, it owns a registry and calls every public
//! operation on inputs the compiler cannot see, so all of it is linked.
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};

static mut INPUT: [u64; 8] = [0; 8];
static mut SINK: u64 = 0;

fn v(i: usize) -> u64 {
    // SAFETY: a plain static read through its address; nothing writes it.
    unsafe { read_volatile(core::ptr::addr_of!(INPUT).cast::<u64>().add(i)) }
}

fn sink(x: u64) {
    // SAFETY: a plain static written through its address; one CPU.
    unsafe { write_volatile(core::ptr::addr_of_mut!(SINK), x) }
}

/// A console, as every kernel has one: both variants format through it,
/// so `core::fmt` is part of the kernel with or without the registry.
struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            sink(u64::from(b));
        }
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let _ = write!(Console, "panic: {info}");
    loop {}
}

struct Cs;
critical_section::set_impl!(Cs);
// SAFETY: one CPU and no interrupts in this probe.
unsafe impl critical_section::Impl for Cs {
    unsafe fn acquire() -> critical_section::RawRestoreState {}
    unsafe fn release(_: critical_section::RawRestoreState) {}
}

/// The memory routines `core` calls: the powerpc64 Linux target expects
/// them from a C library, as the pseries board provides them. Both
/// variants link them (see `_start`), so they do not count as added code.
#[cfg(target_arch = "powerpc64")]
mod mem {
    use core::ptr::{read_volatile, write_volatile};

    #[no_mangle]
    pub unsafe extern "C" fn memcpy(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
        let mut i = 0;
        while i < n {
            write_volatile(d.add(i), read_volatile(s.add(i)));
            i += 1;
        }
        d
    }

    #[no_mangle]
    pub unsafe extern "C" fn memmove(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
        if (d as usize) <= (s as usize) {
            return memcpy(d, s, n);
        }
        let mut i = n;
        while i > 0 {
            i -= 1;
            write_volatile(d.add(i), read_volatile(s.add(i)));
        }
        d
    }

    #[no_mangle]
    pub unsafe extern "C" fn memset(d: *mut u8, c: i32, n: usize) -> *mut u8 {
        let mut i = 0;
        while i < n {
            write_volatile(d.add(i), c as u8);
            i += 1;
        }
        d
    }

    #[no_mangle]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        let mut i = 0;
        while i < n {
            let (x, y) = (read_volatile(a.add(i)), read_volatile(b.add(i)));
            if x != y {
                return i32::from(x) - i32::from(y);
            }
            i += 1;
        }
        0
    }

    #[no_mangle]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        memcmp(a, b, n)
    }

    pub fn keep() -> u64 {
        (memcpy as usize ^ memmove as usize ^ memset as usize ^ memcmp as usize ^ bcmp as usize)
            as u64
    }
}

#[cfg(feature = "registry")]
mod with {
    use super::{sink, v};
    use hwbreak_core::*;

    struct Board;

    impl Platform for Board {
        fn cpu_count(&self) -> u32 {
            4
        }
        fn current_cpu(&self) -> CpuId {
            CpuId(v(7) as u32)
        }
        fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
            f()
        }
        fn user_limit(&self) -> u64 {
            0x0000_8000_0000_0000
        }
    }

    #[cfg(feature = "x86_64")]
    mod native {
        pub type A = hwbreak_x86::X86;
        pub const ARCH: A = hwbreak_x86::X86::new();
        /// As the x86_64 board and the README build it: the real count.
        pub const SLOTS: usize = hwbreak_x86::SLOTS;
        pub fn trap() -> hwbreak_x86::Trap {
            hwbreak_x86::Trap::new(super::v(0))
        }
    }
    #[cfg(feature = "aarch64")]
    mod native {
        pub type A = hwbreak_aarch64::Aarch64;
        pub const ARCH: A = hwbreak_aarch64::Aarch64::new();
        /// The architecture allows 16 of each; the board keeps the default.
        pub const SLOTS: usize = hwbreak_core::MAX_SLOTS;
        pub fn trap() -> hwbreak_aarch64::Trap {
            hwbreak_aarch64::Trap::new(super::v(0), super::v(1), super::v(2))
        }
    }
    #[cfg(feature = "ppc64")]
    mod native {
        pub type A = hwbreak_ppc64::Ppc64;
        pub const ARCH: A = hwbreak_ppc64::Ppc64::new(hwbreak_ppc64::Family::Dawr);
        /// As the pseries board builds it: the most any family has.
        pub const SLOTS: usize = hwbreak_ppc64::SLOTS;
        pub fn trap() -> hwbreak_ppc64::Trap {
            hwbreak_ppc64::Trap {
                vector: super::v(0),
                srr0: super::v(1),
                srr1: super::v(2),
                dar: super::v(3),
                dsisr: super::v(4),
                access: None,
                stepping: super::v(5) != 0,
            }
        }
    }

    static REG: Registry<native::A, Board, 64, 4, 64, { native::SLOTS }> =
        Registry::new(native::ARCH, Board);

    fn hit(e: &Event) {
        sink(e.address.unwrap_or(0));
    }

    pub fn exercise() {
        let _ = REG.init();
        let _ = REG.cpu_online();
        let kind = match v(0) {
            0 => AccessKind::Execute,
            1 => AccessKind::Write,
            2 => AccessKind::Read,
            3 => AccessKind::ReadWrite,
            _ => AccessKind::Io,
        };
        let space = if v(1) == 0 { Space::Kernel } else { Space::User };
        let (t, c) = (TaskId(v(3) as u32), CpuId(v(4) as u32));
        let scope = match v(2) {
            0 => Scope::AllCpus,
            1 => Scope::Cpu(c),
            2 => Scope::Task(t),
            _ => Scope::TaskOnCpu(t, c),
        };
        let mut req = Request::new(v(5), v(6), kind)
            .space(space)
            .scope(scope)
            .priority(Priority(v(7) as u8))
            .handler(hit, 0);
        if v(1) == 2 {
            req = req.flexible();
        }
        if let Ok(h) = REG.register(&req) {
            let _ = REG.modify(h, &req);
            let _ = REG.disable(h);
            let _ = REG.enable(h);
            sink(REG.state(h).is_ok() as u64);
            let _ = REG.unregister(h);
        }
        let _ = REG.switch_task(Some(t));
        REG.refresh();
        if let Ok(d) = REG.debugger_install(&req) {
            let _ = REG.debugger_remove(d);
        }
        if let Ok(Some(image)) = REG.armed_slot(PoolId::FIRST, v(4) as usize) {
            sink(image.value);
        }
        let out = REG.on_debug_exception(&native::trap());
        sink(u64::from(out.delivered) + out.resume as u64);
        sink(u64::from(REG.pool_usage(PoolId::SECOND).0));
        let _ = REG.cpu_offline();
    }
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    #[cfg(target_arch = "powerpc64")]
    sink(mem::keep());
    {
        use core::fmt::Write;
        let _ = write!(Console, "boot {} {:x} {:?}", v(0), v(1), Some(v(2)));
        if v(3) == 1 {
            panic!("stop {}", v(4));
        }
    }
    #[cfg(feature = "registry")]
    with::exercise();
    loop {
        sink(v(0));
    }
}
"#;

/// What one build of the size probe measured.
struct Probe {
    text: u64,
    rodata: u64,
    /// Sized function symbols, as [`Elf::functions`] lists them.
    functions: Vec<(String, u64)>,
}

/// How many of the largest functions the registry adds are listed per
/// architecture.
const LARGEST_FUNCTIONS: usize = 12;

/// What each function of `with` adds over `without` (all of it for a
/// function `without` has not got; the growth of one both have, such as
/// the entry point the registry's calls are inlined into), largest first,
/// by name without the core's crate path.
fn added_functions(without: &[(String, u64)], with: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut added: Vec<(String, u64)> = with
        .iter()
        .filter_map(|(name, size)| {
            let before = without
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, s)| *s);
            let grew = size.checked_sub(before).filter(|&g| g > 0)?;
            Some((name.replace("hwbreak_core::", ""), grew))
        })
        .collect();
    added.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    added
}

fn text_sizes(root: &Path, results: &mut Results) -> Result<(), String> {
    let dir = root.join("target").join("bench").join("size-probe");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let root_str = root.to_string_lossy();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok::<_, String>(())
    };
    write("Cargo.toml", &PROBE_MANIFEST.replace("@ROOT@", &root_str))?;
    write("main.rs", PROBE_MAIN)?;
    // Same dependency versions as the project.
    if !dir.join("Cargo.lock").exists() {
        let _ = std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"));
    }
    for t in SIZE_TARGETS {
        let measure = |with: bool| -> Result<Probe, String> {
            let mut cmd = util::cargo();
            cmd.current_dir(&dir)
                .args(["build", "--release", "--target", t.triple])
                .arg("--features")
                .arg(if with {
                    format!("{},registry", t.feature)
                } else {
                    t.feature.to_string()
                })
                .env("CARGO_TARGET_DIR", dir.join("target"))
                .env("CARGO_ENCODED_RUSTFLAGS", t.rustflags.join("\x1f"))
                .env_remove("RUSTFLAGS");
            util::run(&mut cmd)?;
            let elf = dir
                .join("target")
                .join(t.triple)
                .join("release")
                .join("probe");
            let bytes = std::fs::read(&elf).map_err(|e| format!("read {}: {e}", elf.display()))?;
            let not_elf = || format!("{}: not a 64-bit ELF file", elf.display());
            let file = Elf::parse(&bytes).ok_or_else(not_elf)?;
            let sections = file.section_sizes().ok_or_else(not_elf)?;
            let functions = file.functions().ok_or_else(not_elf)?;
            let sum = |prefix: &str| {
                sections
                    .iter()
                    .filter(|(n, _)| n == prefix || n.starts_with(&format!("{prefix}.")))
                    .map(|(_, s)| s)
                    .sum::<u64>()
            };
            Ok(Probe {
                text: sum(".text"),
                rodata: sum(".rodata"),
                functions,
            })
        };
        match measure(false).and_then(|without| Ok((without, measure(true)?))) {
            Ok((without, with)) => {
                let (text0, ro0, text1, ro1) =
                    (without.text, without.rodata, with.text, with.rodata);
                let added = added_functions(&without.functions, &with.functions);
                for (name, size) in added.into_iter().take(LARGEST_FUNCTIONS) {
                    results.detail(format!(
                        "function_bytes{{{},{name}}} = {size} bytes",
                        t.name
                    ));
                }
                let added = text1.saturating_sub(text0);
                results.detail(format!(
                    "text_bytes_{} = {added} bytes (.text {text1} with the registry, {text0} without)",
                    t.name
                ));
                results.detail(format!(
                    "rodata_bytes_{} = {} bytes (.rodata {ro1} with, {ro0} without)",
                    t.name,
                    ro1.saturating_sub(ro0)
                ));
                results.metric(&format!("text_bytes_{}", t.name), added.to_string());
            }
            Err(e) => {
                results.notes.push(format!(
                    "text_bytes_{}: the probe kernel did not build: {e}",
                    t.name
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// BENCHMARKS.md
// ---------------------------------------------------------------------------

const BEGIN: &str = "<!-- bench-results:begin (written by `cargo xtask bench`) -->";
const END: &str = "<!-- bench-results:end -->";

fn write_doc(root: &Path, results: &Results) -> Result<(), String> {
    let path = root.join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!("{}: no results markers", path.display()));
    };
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}\n");
    let _ = writeln!(s, "Machine: {}.\n", machine());
    let _ = writeln!(s, "| metric | goal | result | |");
    let _ = writeln!(s, "|---|---|---|---|");
    for (name, goal) in METRICS {
        let value = results.metrics.get(*name);
        let mark = match value.and_then(|v| v.parse::<f64>().ok()) {
            Some(v) if goal.met(v) => "met",
            Some(_) => "**missed**",
            None => "not measured",
        };
        let _ = writeln!(
            s,
            "| `{name}` | {} | {} | {mark} |",
            goal.show(),
            value.map_or("-", String::as_str)
        );
    }
    let _ = writeln!(s, "\nSupporting measurements:\n\n```text");
    for d in &results.details {
        let _ = writeln!(s, "{d}");
    }
    let _ = writeln!(s, "```");
    for n in &results.notes {
        let _ = writeln!(s, "\nNote: {n}");
    }
    s.push('\n');
    let new = format!("{}{}{}", &doc[..b], s, &doc[e..]);
    std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))
}

/// What the numbers were measured on.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let version = |prog: &str| {
        Command::new(prog)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| format!("{prog} (unknown version)"))
    };
    format!(
        "{cpu}, {cores} cores, {}; {}",
        version("rustc"),
        version("valgrind")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_functions_count_new_ones_whole_and_grown_ones_by_their_growth() {
        let s = |n: &str, b| (n.to_string(), b);
        let without = [s("_start", 100), s("core::fmt::write", 900)];
        let with = [
            s("core::fmt::write", 900),
            s("_start", 2100),
            s("hwbreak_core::registry::admit", 1500),
            s("hwbreak_core::reserve::apply", 40),
        ];
        assert_eq!(
            added_functions(&without, &with),
            [
                s("_start", 2000),
                s("registry::admit", 1500),
                s("reserve::apply", 40)
            ]
        );
    }
}
