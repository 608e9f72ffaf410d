//! The optional second factor: RFC 6238 codes (SHA-1, 6 digits, 30 s), as upstream's and
//! every authenticator app's. A user has it when `users.conf` holds a `totp_key` for them
//! (encrypted with the web admin's secret key).
use totp_rs::{Algorithm, Secret, TOTP};

use crate::users::{UsersError, random_bytes};

fn totp(key: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(key.to_string()).to_bytes().ok()?;
    // One step either way for clocks that drift.
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes).into()
}

/// Whether `code` is the current code (or one step off) of the base32 `key`.
pub fn check(key: &str, code: &str) -> bool {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    totp(key).is_some_and(|t| t.check_current(code).unwrap_or(false))
}

/// The current code of `key` (for tests and for showing a new key works).
pub fn current(key: &str) -> Option<String> {
    totp(key)?.generate_current().ok()
}

/// Whether `key` is a TOTP key in clear: base32 (RFC 4648, upper case, `=` padding allowed)
/// of at least 80 bits, as RFC 4226 asks of a shared secret.
pub fn is_key(key: &str) -> bool {
    let body = key.trim_end_matches('=');
    body.len() >= 16
        && body
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        && Secret::Encoded(key.to_string()).to_bytes().is_ok()
}

/// A new random key, base32 (160 bits, as authenticator apps expect).
pub fn generate_key() -> Result<String, UsersError> {
    Ok(Secret::Raw(random_bytes(20)?).to_encoded().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_check() {
        let key = generate_key().unwrap();
        let code = current(&key).unwrap();
        assert!(check(&key, &code));
        assert!(!check(&key, "12345"));
        assert!(!check(&key, "abcdef"));
        assert!(!check("not base32!", "123456"));
    }
}
