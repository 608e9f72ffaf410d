//! The load balancer's fast path: request head and body framing, the response head and the chunked decoder (first byte picks which).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Bounded inputs keep executions fast; nothing of interest needs more.
    if data.len() <= 64 * 1024 {
        zato_lb::fuzzing::lb_framing(data);
    }
});
