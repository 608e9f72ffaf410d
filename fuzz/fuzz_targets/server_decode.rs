//! The server's request decoding per channel data format: json, xml, soap, form, plain (first byte picks the format).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Bounded inputs keep executions fast; nothing of interest needs more.
    if data.len() <= 64 * 1024 {
        zato_server::fuzzing::server_decode(data);
    }
});
