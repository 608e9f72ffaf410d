//! Channel matching: a fixed table of channels with {param} paths, fuzzed methods and paths.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Bounded inputs keep executions fast; nothing of interest needs more.
    if data.len() <= 64 * 1024 {
        zato_server::fuzzing::path_match(data);
    }
});
