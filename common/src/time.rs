//! Timestamps as stored in the ODB: ISO-8601 UTC text, portable across all three backends.
use chrono::{DateTime, Utc};

/// Text comparison of these strings orders them in time.
pub fn to_iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

pub fn utc_now_iso() -> String {
    to_iso(Utc::now())
}
