//! JWT security: HS256 tokens issued by `zato.security.jwt.log-in` to the user of a `jwt`
//! definition, checked on channels (`Authorization: Bearer <token>`), revoked by
//! `zato.security.jwt.log-out` for the whole cluster (`kv_data`, reloaded by every server).
use hyper::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zato_common::crypto::SecretKey;

/// A JWT definition as log-in needs it: the secret kept only as its SHA-256.
#[derive(Debug)]
pub struct JwtLogin {
    pub id: i64,
    pub username: String,
    password_sha256: [u8; 32],
    pub ttl: i64,
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The active JWT definitions of `secs` with a secret (one that cannot be read is left out
/// and logged).
pub fn logins(secs: &[zato_common::odb::security::SecDef], key: &SecretKey) -> Vec<JwtLogin> {
    secs.iter()
        .filter(|d| d.sec_type == zato_common::odb::security::JWT && d.is_active)
        .filter_map(|d| {
            let secret = d.password.as_deref().map(|p| key.decrypt_from_odb(p));
            match secret {
                Some(Ok(p)) if !p.is_empty() => Some(JwtLogin {
                    id: d.id,
                    username: d.username.clone(),
                    password_sha256: sha256(&p),
                    ttl: d.ttl.unwrap_or(3600),
                }),
                Some(Err(e)) => {
                    tracing::error!(
                        "JWT definition `{}`: cannot decrypt its secret: {e}",
                        d.name
                    );
                    None
                }
                _ => None,
            }
        })
        .collect()
}

/// The definition `username`/`password` log in to. Every definition is compared, each in
/// constant time over fixed-length digests, so the time taken does not tell whether the user
/// name exists.
pub fn find_login<'a>(
    logins: &'a [JwtLogin],
    username: &str,
    password: &str,
) -> Option<&'a JwtLogin> {
    let (user, pass) = (sha256(username), sha256(password));
    let mut found = None;
    for l in logins {
        let ok = crate::security::same(&sha256(&l.username), &user)
            & crate::security::same(&l.password_sha256, &pass);
        if ok && found.is_none() {
            found = Some(l);
        }
    }
    found
}

/// `kv_data` keys of logged-out tokens: this prefix + the token's `jti`.
pub const REVOKED_PREFIX: &str = "zato.jwt.revoked.";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The definition's user name.
    pub sub: String,
    /// The definition's id: a token is good only for channels secured by that definition.
    pub sec_def: i64,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The cluster's signing key, derived from the secret key every server shares.
pub struct JwtKeys {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &SecretKey) -> Self {
        let mut h = Sha256::new();
        h.update(b"zato.jwt.hs256:");
        h.update(secret.as_text().as_bytes());
        let key = h.finalize();
        Self {
            enc: EncodingKey::from_secret(&key),
            dec: DecodingKey::from_secret(&key),
        }
    }

    pub fn issue(
        &self,
        sub: &str,
        sec_def: i64,
        ttl: i64,
    ) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            sec_def,
            iat: now,
            exp: now.saturating_add(ttl.max(1)),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc)?;
        Ok((token, claims))
    }

    /// The claims of a token signed by this cluster and not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.dec, &v).map(|d| d.claims)
    }
}

/// The token of `Authorization: Bearer <token>` (upstream also accepts the `JWT` scheme).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("jwt"))
        .then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let keys = JwtKeys::new(&SecretKey::generate());
        let (token, claims) = keys.issue("u1", 7, 60).unwrap();
        let back = keys.verify(&token).unwrap();
        assert_eq!((back.sub.as_str(), back.sec_def), ("u1", 7));
        assert_eq!(back.jti, claims.jti);
        let other = JwtKeys::new(&SecretKey::generate());
        assert!(other.verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }
}
