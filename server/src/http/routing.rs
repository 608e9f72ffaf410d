//! Channel matching: url paths with `{params}` and methods, loaded from `http_soap` rows, and
//! the channel security resolved to what a request check needs.
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use zato_common::crypto::SecretKey;
use zato_common::odb::channels::HttpSoap;
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

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Lit(String),
    Param(String),
}

#[derive(Debug)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub url_path: String,
    pub method: Option<String>,
    pub transport: String,
    pub data_format: String,
    pub soap_action: Option<String>,
    pub service: Option<String>,
    pub security: Option<SecCheck>,
    pub merge_url_params_req: bool,
    /// `qs-over-path` (default) or `path-over-qs`: which wins when both have a name.
    pub url_params_pri: Option<String>,
    /// `channel-params-over-msg` (default) or `msg-over-channel-params`.
    pub params_pri: Option<String>,
    pub is_internal: bool,
    pub content_type: Option<String>,
    segs: Vec<Seg>,
    /// Upstream's ChannelInfo as services see it, built once per channel.
    info: Arc<crate::invoke::ChannelInfo>,
}

impl Channel {
    pub fn info(&self) -> Arc<crate::invoke::ChannelInfo> {
        self.info.clone()
    }

    fn build_info(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "type": "http-soap",
            "data_format": self.data_format,
            "url_path": self.url_path,
            "is_internal": self.is_internal,
            "merge_url_params_req": self.merge_url_params_req,
            "url_params_pri": self.url_params_pri,
            "params_pri": self.params_pri,
            "security": self.security.as_ref().map(SecCheck::describe),
        })
    }

    fn method_ok(&self, method: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.is_empty() || m.eq_ignore_ascii_case(method))
    }

    fn match_path(&self, parts: &[&str]) -> Option<Vec<(String, String)>> {
        if parts.len() != self.segs.len() {
            return None;
        }
        let mut params = Vec::new();
        for (seg, part) in self.segs.iter().zip(parts) {
            match seg {
                Seg::Lit(l) if l == part => {}
                Seg::Param(name) if !part.is_empty() && part.chars().all(param_char) => {
                    params.push((name.clone(), percent_decode(part)?));
                }
                _ => return None,
            }
        }
        Some(params)
    }
}

/// Upstream's `[\w $.\-:|=~^]+` plus percent-escapes.
fn param_char(c: char) -> bool {
    c.is_alphanumeric() || "_ $.-:|=~^%".contains(c)
}

/// A path segment decoded with path rules: `%XX` escapes only (`+` stays `+`). None when the
/// result is not UTF-8 or holds control characters, which no parameter may carry.
fn percent_decode(s: &str) -> Option<String> {
    let text = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
    (!text.chars().any(char::is_control)).then(|| text.into_owned())
}

fn split(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').collect()
}

fn compile(path: &str) -> Vec<Seg> {
    split(path)
        .into_iter()
        .map(
            |p| match p.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                Some(name) => Seg::Param(name.to_string()),
                None => Seg::Lit(p.to_string()),
            },
        )
        .collect()
}

/// The result of matching a request.
pub enum Match {
    Found(Arc<Channel>, Vec<(String, String)>),
    WrongMethod,
    None,
}

#[derive(Default, Debug)]
pub struct Routes {
    /// Paths without params, for an O(1) first look.
    exact: rustc_hash::FxHashMap<String, Vec<Arc<Channel>>>,
    patterned: Vec<Arc<Channel>>,
}

impl Routes {
    pub fn build(rows: &[HttpSoap], secdefs: &[SecDef], key: &SecretKey) -> Self {
        let secs: HashMap<i64, &SecDef> = secdefs.iter().map(|s| (s.id, s)).collect();
        let mut routes = Routes::default();
        for row in rows
            .iter()
            .filter(|r| r.connection == "channel" && r.is_active)
        {
            let security = row.security_id.map(|id| match secs.get(&id) {
                None => SecCheck::Broken(format!("security definition {id} does not exist")),
                Some(def) => resolve_security(def, key),
            });
            let default_format = if row.transport == "soap" {
                "soap"
            } else {
                "json"
            };
            let mut ch = Channel {
                id: row.id,
                name: row.name.clone(),
                url_path: row.url_path.clone(),
                method: row.method.clone().filter(|m| !m.is_empty()),
                transport: row.transport.clone(),
                data_format: row
                    .data_format
                    .clone()
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| default_format.to_string()),
                soap_action: row.soap_action.clone().filter(|a| !a.is_empty()),
                service: row.service_name.clone(),
                security,
                merge_url_params_req: row.merge_url_params_req,
                url_params_pri: row.url_params_pri.clone().filter(|p| !p.is_empty()),
                params_pri: row.params_pri.clone().filter(|p| !p.is_empty()),
                is_internal: row.is_internal,
                content_type: row.content_type.clone().filter(|c| !c.is_empty()),
                segs: compile(&row.url_path),
                info: Default::default(),
            };
            ch.info = crate::invoke::ChannelInfo::new(ch.build_info());
            let ch = Arc::new(ch);
            if ch.segs.iter().any(|s| matches!(s, Seg::Param(_))) {
                routes.patterned.push(ch);
            } else {
                routes
                    .exact
                    .entry(row.url_path.clone())
                    .or_default()
                    .push(ch);
            }
        }
        routes
    }

    pub fn find(&self, method: &str, path: &str) -> Match {
        let mut wrong_method = false;
        if let Some(chs) = self.exact.get(path) {
            if let Some(ch) = chs.iter().find(|c| c.method_ok(method)) {
                return Match::Found(ch.clone(), Vec::new());
            }
            wrong_method = true;
        }
        let parts = split(path);
        for ch in &self.patterned {
            if let Some(params) = ch.match_path(&parts) {
                if ch.method_ok(method) {
                    return Match::Found(ch.clone(), params);
                }
                wrong_method = true;
            }
        }
        if wrong_method {
            Match::WrongMethod
        } else {
            Match::None
        }
    }

    pub fn len(&self) -> usize {
        self.exact.values().map(Vec::len).sum::<usize>() + self.patterned.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn resolve_security(def: &SecDef, key: &SecretKey) -> SecCheck {
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
            return SecCheck::Broken(format!("cannot decrypt the secret of `{}`: {e}", def.name));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, path: &str, method: Option<&str>) -> HttpSoap {
        HttpSoap {
            id,
            name: format!("ch{id}"),
            is_active: true,
            is_internal: false,
            connection: "channel".into(),
            transport: "plain_http".into(),
            host: None,
            url_path: path.into(),
            method: method.map(str::to_string),
            soap_action: None,
            soap_version: None,
            data_format: Some("json".into()),
            content_type: None,
            timeout: None,
            pool_size: None,
            validate_tls: true,
            merge_url_params_req: true,
            url_params_pri: None,
            params_pri: None,
            security_id: None,
            security_name: None,
            sec_type: None,
            service_id: None,
            service_name: Some("svc".into()),
            cluster_id: 1,
        }
    }

    #[test]
    fn exact_params_and_methods() {
        let key = SecretKey::generate();
        let r = Routes::build(
            &[
                row(1, "/zato/ping", None),
                row(2, "/zato/api/invoke/{service_name}", None),
                row(3, "/users/{id}/orders/{order}", Some("GET")),
            ],
            &[],
            &key,
        );
        assert!(matches!(r.find("POST", "/zato/ping"), Match::Found(c, _) if c.id == 1));
        match r.find("GET", "/zato/api/invoke/pub.zato.ping") {
            Match::Found(c, p) => {
                assert_eq!(c.id, 2);
                assert_eq!(
                    p,
                    vec![("service_name".to_string(), "pub.zato.ping".to_string())]
                );
            }
            _ => panic!("no match"),
        }
        match r.find("GET", "/users/7/orders/a%20b") {
            Match::Found(_, p) => assert_eq!(p[1].1, "a b"),
            _ => panic!("no match"),
        }
        assert!(matches!(
            r.find("POST", "/users/7/orders/1"),
            Match::WrongMethod
        ));
        assert!(matches!(r.find("GET", "/users/7/orders"), Match::None));
        assert!(matches!(r.find("GET", "/zato/api/invoke/a/b"), Match::None));
        // Path rules: an escaped `+` is a plus; control characters never reach a service.
        match r.find("GET", "/users/7/orders/a%2Bb%20c") {
            Match::Found(_, p) => assert_eq!(p[1].1, "a+b c"),
            _ => panic!("no match"),
        }
        for bad in [
            "/users/7/orders/a%0d%0aX",
            "/users/7/orders/%00",
            "/users/7/orders/%ff",
        ] {
            assert!(matches!(r.find("GET", bad), Match::None), "{bad}");
        }
    }
}
