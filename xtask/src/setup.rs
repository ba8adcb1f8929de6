//! `cargo xtask setup`: install what the project needs, idempotently.

/// Entry point.
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("setup is being written".into())
}
