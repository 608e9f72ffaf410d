//! The web admin's users: `config/repo/users.conf`, one `[users.NAME]` table each with an
//! argon2id password hash (PHC string) and, when the second factor is on, a TOTP key.
//! Read at every log-in, so `zato update password` takes effect without a restart.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use thiserror::Error;

pub const FILE: &str = "users.conf";
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

#[derive(Debug, Error)]
pub enum UsersError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is not valid: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("no web admin user named `{0}`")]
    NoUser(String),
    #[error("a password must have at least {MIN_PASSWORD} characters")]
    TooShort,
    #[error("a user name may only hold letters, digits, `.`, `-`, `_` and `@` (1 to 64 of them)")]
    BadName,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("no random numbers from the operating system: {0}")]
    Random(String),
    #[error(
        "the TOTP key of `{0}` cannot be decrypted with this web admin's secret key; run `zato reset-totp-key` for the user"
    )]
    TotpKey(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub password: String,
    /// The base32 TOTP secret encrypted with the web admin's secret key (so a copy of this
    /// file alone does not give the second factor away); empty when the user logs in with a
    /// password only.
    #[serde(default)]
    pub totp_key: String,
}

impl User {
    pub fn has_totp(&self) -> bool {
        !self.totp_key.is_empty()
    }

    /// The TOTP secret in clear, `name` being this user's.
    pub fn totp_secret(
        &self,
        name: &str,
        key: &zato_common::crypto::SecretKey,
    ) -> Result<String, UsersError> {
        key.decrypt(&self.totp_key)
            .map_err(|_| UsersError::TotpKey(name.to_string()))
    }
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    users: BTreeMap<String, User>,
}

pub fn path(dir: &Path) -> PathBuf {
    zato_common::config::repo_dir(dir).join(FILE)
}

/// Every user of the web admin in `dir`; none when the file is missing.
pub fn load(dir: &Path) -> Result<BTreeMap<String, User>, UsersError> {
    let path = path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(UsersError::Read { path, source }),
    };
    let file: File = toml::from_str(&text).map_err(|e| UsersError::Invalid {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    Ok(file.users)
}

/// Every user by name.
pub type Users = Arc<BTreeMap<String, User>>;

/// The users, read again only when `users.conf` changed: every request checks that its
/// session's user still exists with the password it logged in with.
pub struct Cache {
    dir: PathBuf,
    /// The file's modification time when read, and what it held.
    held: std::sync::Mutex<Option<(Option<std::time::SystemTime>, Users)>>,
}

impl Cache {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            held: std::sync::Mutex::new(None),
        }
    }

    /// The users as the file holds them now.
    pub fn current(&self) -> Result<Users, UsersError> {
        let modified = std::fs::metadata(path(&self.dir))
            .and_then(|m| m.modified())
            .ok();
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((when, users)) = held.as_ref()
            && *when == modified
            && modified.is_some()
        {
            return Ok(users.clone());
        }
        let users = Arc::new(load(&self.dir)?);
        *held = Some((modified, users.clone()));
        Ok(users)
    }
}

pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, UsersError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| UsersError::Random(e.to_string()))?;
    Ok(buf)
}

/// A random password of 24 URL-safe characters, as quickstart prints it.
pub fn generate_password() -> Result<String, UsersError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(18)?))
}

pub fn hash(password: &str) -> Result<String, UsersError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UsersError::TooShort);
    }
    let salt_bytes = random_bytes(16)?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| UsersError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UsersError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC `stored` hash; a malformed hash matches nothing.
pub fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash nobody's password matches, checked for unknown users so that a wrong user name
/// costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2J3S1f8ZMbKh1vQ2h9pGZ8q3uBrK0kQ8kq9JwV2Zr7E"
}

/// Sets `name`'s password (adding the user when `create`), keeping the file's other lines.
pub fn set_password(
    dir: &Path,
    name: &str,
    password: &str,
    create: bool,
) -> Result<(), UsersError> {
    if !valid_name(name) {
        return Err(UsersError::BadName);
    }
    let hashed = hash(password)?;
    edit(dir, name, create, |user| {
        user["password"] = toml_edit::value(hashed);
    })
}

/// Sets (encrypted with `secret_key`) or clears (`None`) `name`'s TOTP key.
pub fn set_totp_key(
    dir: &Path,
    name: &str,
    key: Option<&str>,
    secret_key: &zato_common::crypto::SecretKey,
) -> Result<(), UsersError> {
    let sealed = key.map(|k| secret_key.encrypt(k));
    edit(dir, name, false, |user| match sealed {
        Some(k) => user["totp_key"] = toml_edit::value(k),
        None => {
            user.remove("totp_key");
        }
    })
}

/// Encrypts the TOTP keys an earlier version stored in clear (valid base32 that is no token of
/// `secret_key`), so their users can log in again and a copy of `users.conf` alone no longer
/// gives their second factor away; returns their names. A key that is neither (encrypted
/// under another secret key, or damaged) is left as it is: it fails closed. `users`: what
/// `dir`'s file holds, as [`load`] read it.
pub fn seal_clear_totp_keys(
    dir: &Path,
    users: &BTreeMap<String, User>,
    secret_key: &zato_common::crypto::SecretKey,
) -> Result<Vec<String>, UsersError> {
    let mut sealed = Vec::new();
    for (name, u) in users {
        if u.has_totp()
            && secret_key.decrypt(&u.totp_key).is_err()
            && crate::totp::is_key(&u.totp_key)
        {
            set_totp_key(dir, name, Some(&u.totp_key), secret_key)?;
            sealed.push(name.clone());
        }
    }
    Ok(sealed)
}

fn edit(
    dir: &Path,
    name: &str,
    create: bool,
    change: impl FnOnce(&mut toml_edit::Table),
) -> Result<(), UsersError> {
    let path = path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HEADER.to_string(),
        Err(source) => return Err(UsersError::Read { path, source }),
    };
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| UsersError::Invalid {
                path: path.clone(),
                detail: e.to_string(),
            })?;
    let users = doc
        .entry("users")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| UsersError::Invalid {
            path: path.clone(),
            detail: "`users` is not a table".into(),
        })?;
    if !users.contains_key(name) {
        if !create {
            return Err(UsersError::NoUser(name.to_string()));
        }
        users.insert(name, toml_edit::Item::Table(toml_edit::Table::new()));
    }
    let user = users
        .get_mut(name)
        .and_then(toml_edit::Item::as_table_mut)
        .ok_or_else(|| UsersError::Invalid {
            path: path.clone(),
            detail: format!("users.{name} is not a table"),
        })?;
    change(user);
    zato_common::files::write_atomic(&path, &doc.to_string(), 0o600)
        .map_err(|source| UsersError::Write { path, source })
}

const HEADER: &str = "# Web admin users: argon2id password hashes and optional TOTP keys.\n# Change a password with `zato update password PATH USERNAME`.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip_and_keep_other_users() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(zato_common::config::repo_dir(dir.path())).unwrap();
        set_password(dir.path(), "admin", "first-password", true).unwrap();
        set_password(dir.path(), "ops", "second-password", true).unwrap();
        let users = load(dir.path()).unwrap();
        assert!(verify(&users["admin"].password, "first-password"));
        assert!(!verify(&users["admin"].password, "second-password"));
        let cache = Cache::new(dir.path());
        let before = cache.current().unwrap()["admin"].password.clone();
        set_password(dir.path(), "admin", "changed-password", false).unwrap();
        // The cache sees the new file.
        assert_ne!(cache.current().unwrap()["admin"].password, before);
        let users = load(dir.path()).unwrap();
        assert!(verify(&users["admin"].password, "changed-password"));
        assert!(verify(&users["ops"].password, "second-password"));
        assert!(matches!(
            set_password(dir.path(), "nobody", "whatever-123", false),
            Err(UsersError::NoUser(_))
        ));
        assert!(matches!(
            set_password(dir.path(), "admin", "short", false),
            Err(UsersError::TooShort)
        ));
        // The dummy is a real hash, so checking it costs what checking a user's does.
        assert!(PasswordHash::new(dummy_hash()).is_ok());
        assert!(!verify(dummy_hash(), "anything"));
        assert!(!verify("not a hash", "anything"));
    }

    #[test]
    fn totp_keys_are_stored_encrypted_and_fail_closed_with_another_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(zato_common::config::repo_dir(dir.path())).unwrap();
        set_password(dir.path(), "admin", "first-password", true).unwrap();
        let key = zato_common::crypto::SecretKey::generate();
        let plain = "JBSWY3DPEHPK3PXP";
        set_totp_key(dir.path(), "admin", Some(plain), &key).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(!text.contains(plain), "the key is in clear: {text}");
        let users = load(dir.path()).unwrap();
        assert!(users["admin"].has_totp());
        assert_eq!(users["admin"].totp_secret("admin", &key).unwrap(), plain);
        let other = zato_common::crypto::SecretKey::generate();
        assert!(matches!(
            users["admin"].totp_secret("admin", &other),
            Err(UsersError::TotpKey(_))
        ));
        set_totp_key(dir.path(), "admin", None, &key).unwrap();
        assert!(!load(dir.path()).unwrap()["admin"].has_totp());
    }

    /// Keys an earlier version wrote in clear are encrypted once; the others stay as they are.
    #[test]
    fn totp_keys_in_clear_are_sealed_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(zato_common::config::repo_dir(dir.path())).unwrap();
        let key = zato_common::crypto::SecretKey::generate();
        let other = zato_common::crypto::SecretKey::generate();
        let plain = "JBSWY3DPEHPK3PXPJBSWY3DP";
        let raw = |name: &str, stored: String| {
            set_password(dir.path(), name, "first-password", true).unwrap();
            edit(dir.path(), name, false, |u| {
                u["totp_key"] = toml_edit::value(stored)
            })
            .unwrap();
        };
        raw("old", plain.to_string());
        raw("sealed", key.encrypt(plain));
        raw("foreign", other.encrypt(plain));
        raw("damaged", "not a key!".to_string());
        set_password(dir.path(), "nofactor", "first-password", true).unwrap();

        let before = load(dir.path()).unwrap();
        assert_eq!(
            seal_clear_totp_keys(dir.path(), &before, &key).unwrap(),
            ["old"]
        );
        let users = load(dir.path()).unwrap();
        assert_ne!(users["old"].totp_key, plain, "still in clear");
        assert_eq!(users["old"].totp_secret("old", &key).unwrap(), plain);
        assert_eq!(users["sealed"].totp_secret("sealed", &key).unwrap(), plain);
        assert!(users["foreign"].totp_secret("foreign", &key).is_err());
        assert_eq!(users["damaged"].totp_key, "not a key!");
        assert!(!users["nofactor"].has_totp());
        assert!(
            seal_clear_totp_keys(dir.path(), &users, &key)
                .unwrap()
                .is_empty()
        );
    }
}
