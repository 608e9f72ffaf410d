//! Timestamps as stored in the ODB: ISO-8601 UTC text, portable across all three backends.
pub fn utc_now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}
