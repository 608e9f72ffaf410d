//! Correlation IDs: 96 random bits as 24 lower-case hex characters, as upstream.
use std::fmt::Write;

pub fn new_cid() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(24);
    for b in &bytes[..12] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn cid_is_24_hex_and_unique() {
        let a = super::new_cid();
        let b = super::new_cid();
        assert_eq!(a.len(), 24);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
