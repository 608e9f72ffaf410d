//! Correlation IDs: 96 random bits as 24 lower-case hex characters, as upstream. They label
//! requests in logs and responses and are not secrets, so a fast thread-local generator
//! (wyrand, seeded from the OS) is used instead of a system call per request.

const HEX: &[u8; 16] = b"0123456789abcdef";

pub fn new_cid() -> String {
    let mut bits = u128::from(fastrand::u64(..)) << 32 | u128::from(fastrand::u32(..));
    let mut out = [0u8; 24];
    for slot in out.iter_mut().rev() {
        *slot = HEX[(bits & 0xf) as usize];
        bits >>= 4;
    }
    // Every byte comes from HEX, so this is always valid ASCII.
    out.iter().map(|&b| b as char).collect()
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
        let many: std::collections::HashSet<String> =
            (0..10_000).map(|_| super::new_cid()).collect();
        assert_eq!(many.len(), 10_000);
    }
}
