//! Secrets: Fernet, as upstream. ODB secrets carry the `zato.secf.` prefix; config secrets are
//! referenced as `zato+secret://zato.<path>` and looked up in `secrets.conf`.
use thiserror::Error;

pub const ODB_SECRET_PREFIX: &str = "zato.secf.";
pub const CONFIG_SECRET_PREFIX: &str = "zato+secret://zato.";
/// Encrypted with the component's key so that a wrong key is detected at start-up.
pub const WELL_KNOWN_DATA: &str = "3.14159265358979323846264338327950288419716939937510";

#[derive(Debug, Error)]
pub enum CryptoError {
    #[error(
        "the secret key is not a valid Fernet key (32 url-safe base64 bytes); create one with `zato crypto create-secret-key`"
    )]
    BadKey,
    #[error("cannot decrypt a secret: it was encrypted with a different key, or it is corrupt")]
    Decrypt,
    #[error("a decrypted secret is not UTF-8 text")]
    NotText,
}

#[derive(Clone)]
pub struct SecretKey {
    fernet: fernet::Fernet,
    text: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    pub fn generate() -> Self {
        let text = fernet::Fernet::generate_key();
        // A freshly generated key is always valid.
        let fernet = fernet::Fernet::new(&text).unwrap_or_else(|| unreachable!());
        Self { fernet, text }
    }

    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim().to_string();
        let fernet = fernet::Fernet::new(&text).ok_or(CryptoError::BadKey)?;
        Ok(Self { fernet, text })
    }

    pub fn as_text(&self) -> &str {
        &self.text
    }

    pub fn encrypt(&self, plain: &str) -> String {
        self.fernet.encrypt(plain.as_bytes())
    }

    pub fn decrypt(&self, token: &str) -> Result<String, CryptoError> {
        let bytes = self
            .fernet
            .decrypt(token.trim())
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(bytes).map_err(|_| CryptoError::NotText)
    }

    /// Encrypts for storage in the ODB (`zato.secf.<token>`).
    pub fn encrypt_for_odb(&self, plain: &str) -> String {
        format!("{ODB_SECRET_PREFIX}{}", self.encrypt(plain))
    }

    /// Reads an ODB secret: prefixed values are decrypted, anything else is taken as plain text
    /// (upstream's quickstart stores the admin.invoke password plain).
    pub fn decrypt_from_odb(&self, stored: &str) -> Result<String, CryptoError> {
        match stored.strip_prefix(ODB_SECRET_PREFIX) {
            Some(token) if token.starts_with("gAAA") => self.decrypt(token),
            _ => Ok(stored.to_string()),
        }
    }
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_compares_whole_secrets() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }

    #[test]
    fn round_trip_and_wrong_key() {
        let k = SecretKey::generate();
        let stored = k.encrypt_for_odb("s3cret");
        assert!(stored.starts_with("zato.secf.gAAA"));
        assert_eq!(k.decrypt_from_odb(&stored).unwrap(), "s3cret");
        assert_eq!(k.decrypt_from_odb("plain").unwrap(), "plain");
        let other = SecretKey::generate();
        assert!(matches!(
            other.decrypt_from_odb(&stored),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            SecretKey::from_text("nope"),
            Err(CryptoError::BadKey)
        ));
    }
}
