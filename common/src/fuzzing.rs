//! What the fuzz targets of every crate share.

use std::sync::OnceLock;

/// Known findings (listed in fuzz/RESULTS.md) that `ZATO_FUZZ_ALLOW` (names separated by
/// commas) turns from a crash into a skipped input, so that fuzzing can go on past them until
/// they are fixed. Unset, every one is a crash: their inputs in fuzz/seeds replay them.
pub fn allowed(finding: &str) -> bool {
    static ALLOW: OnceLock<Vec<String>> = OnceLock::new();
    ALLOW
        .get_or_init(|| {
            std::env::var("ZATO_FUZZ_ALLOW")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .collect()
        })
        .iter()
        .any(|a| a == finding)
}
