//! How a channel's callers prove who they are: a security definition resolved once (its secret
//! decrypted) into what checking a request needs.
use serde_json::{Value, json};
use zato_common::crypto::SecretKey;
use zato_common::odb::security::{APIKEY, BASIC_AUTH, JWT, SecDef, TECH_ACCOUNT, WSS};

use super::wss::WssDef;

/// How a channel's callers prove who they are.
#[derive(Debug, Clone)]
pub enum SecCheck {
    /// HTTP Basic Auth: `basic_auth` definitions and technical accounts (`tech_acc`).
    Basic {
        id: i64,
        name: String,
        sec_type: &'static str,
        username: String,
        password: String,
        realm: String,
        is_active: bool,
    },
    ApiKey {
        id: i64,
        name: String,
        /// Lower-cased header name.
        header: String,
        key: String,
        is_active: bool,
    },
    /// WS-Security UsernameToken in the SOAP Header, checked once the body is read.
    Wss {
        name: String,
        def: WssDef,
        is_active: bool,
    },
    /// `Authorization: Bearer <JWT>` issued to this definition's user.
    Jwt {
        id: i64,
        name: String,
        username: String,
        is_active: bool,
    },
    /// The channel names a definition that no longer exists or is of an unsupported type:
    /// nobody gets in.
    Broken(String),
}

impl SecCheck {
    pub fn describe(&self) -> Value {
        match self {
            SecCheck::Basic {
                id,
                name,
                username,
                sec_type,
                ..
            } => {
                json!({"id": id, "name": name, "type": sec_type, "username": username})
            }
            SecCheck::Wss { name, def, .. } => {
                json!({"id": def.id, "name": name, "type": WSS, "username": def.username})
            }
            SecCheck::Jwt {
                id, name, username, ..
            } => {
                json!({"id": id, "name": name, "type": JWT, "username": username})
            }
            SecCheck::ApiKey { id, name, .. } => {
                json!({"id": id, "name": name, "type": APIKEY, "username": null})
            }
            SecCheck::Broken(_) => Value::Null,
        }
    }
}

impl SecCheck {
    /// What checking a caller against `def` needs, its secret decrypted once.
    pub fn resolve(def: &SecDef, key: &SecretKey) -> SecCheck {
        let password = match def.password.as_deref().map(|p| key.decrypt_from_odb(p)) {
            Some(Ok(p)) if !p.is_empty() => p,
            // An empty secret would let `user:` in: nobody passes until one is set.
            Some(Ok(_)) | None => {
                return SecCheck::Broken(format!(
                    "security definition `{}` has an empty secret; set one with its change-password service",
                    def.name
                ));
            }
            Some(Err(e)) => {
                return SecCheck::Broken(format!(
                    "cannot decrypt the secret of `{}`: {e}",
                    def.name
                ));
            }
        };
        match def.sec_type.as_str() {
            t @ (BASIC_AUTH | TECH_ACCOUNT) => SecCheck::Basic {
                id: def.id,
                name: def.name.clone(),
                sec_type: if t == BASIC_AUTH {
                    BASIC_AUTH
                } else {
                    TECH_ACCOUNT
                },
                username: def.username.clone(),
                password,
                realm: def.realm.clone().unwrap_or_default(),
                is_active: def.is_active,
            },
            APIKEY => SecCheck::ApiKey {
                id: def.id,
                name: def.name.clone(),
                header: def
                    .header
                    .clone()
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "X-API-Key".into())
                    .to_ascii_lowercase(),
                key: password,
                is_active: def.is_active,
            },
            WSS => SecCheck::Wss {
                name: def.name.clone(),
                def: WssDef {
                    id: def.id,
                    username: def.username.clone(),
                    password,
                    password_type: def.password_type.clone().unwrap_or_default(),
                    opts: def.wss.unwrap_or_default(),
                },
                is_active: def.is_active,
            },
            JWT => SecCheck::Jwt {
                id: def.id,
                name: def.name.clone(),
                username: def.username.clone(),
                is_active: def.is_active,
            },
            other => SecCheck::Broken(format!(
                "security type `{other}` is not supported on channels"
            )),
        }
    }
}
