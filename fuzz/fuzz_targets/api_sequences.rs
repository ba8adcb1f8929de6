//! libFuzzer target: every input is a machine and a call sequence; any
//! violated invariant is a crash with the call trace.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = hwbreak_fuzz::run(data) {
        panic!("{failure}");
    }
});
