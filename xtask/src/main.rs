//! `cargo xtask <command>`: everything the project needs beyond plain cargo.
//!
//! Each command installs what it is missing (through [`setup`]) before it
//! starts, so the README's first two commands work on a fresh machine.

mod bench;
mod defmt_console;
mod demo;
mod elf;
mod fuzz;
mod gdb;
mod miri;
mod mutants;
mod qemu;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup [--for demo|test|bench|mutants]
                     install rustup targets/components, QEMU, packages (idempotent)
  demo               build and boot every board in QEMU, print what trapped
  test               every check: fmt, clippy, docs, host tests, QEMU suites
  qemu <board>       build one board kernel and run its scenario suite
  bench              benchmarks (see BENCHMARKS.md)
  fuzz [--ops N]     fuzz API call sequences against the model backend
  miri               the core's tests under miri
  mutants [--crate C] [--shard K/N]
                     mutation testing of the core and the backends' pure code
  gdb [variant]      a real gdb-multiarch session against each GDB board variant
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "setup" => setup::run(rest),
        "demo" => demo::run(rest),
        "test" => test::run(rest),
        "qemu" => qemu::run(rest),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "miri" => miri::run(rest),
        "mutants" => mutants::run(rest),
        "gdb" => gdb::run(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
