//! The admin invoke request body and its base64 payload, decoded as the server does before a service runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Bounded inputs keep executions fast; nothing of interest needs more.
    if data.len() <= 64 * 1024 {
        zato_server::fuzzing::admin_invoke(data);
    }
});
