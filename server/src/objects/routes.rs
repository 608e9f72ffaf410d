//! The HTTP channel table: url paths with `{params}` and methods, loaded from `http_soap` rows,
//! each channel with its security resolved to what a request check needs.
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use zato_common::crypto::SecretKey;
use zato_common::odb::channels::HttpSoap;
use zato_common::odb::security::SecDef;

use crate::core::ChannelInfo;
use crate::security::check::SecCheck;

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
    info: Arc<ChannelInfo>,
}

impl Channel {
    pub fn info(&self) -> Arc<ChannelInfo> {
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

    /// The URL path params of a request path this channel's trie branch matched; None when
    /// one does not decode (not UTF-8, or control characters).
    fn params(&self, parts: &[&str]) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        for (seg, part) in self.segs.iter().zip(parts) {
            if let Seg::Param(name) = seg {
                params.push((name.clone(), percent_decode(part)?));
            }
        }
        Some(params)
    }

    /// An active channel row as the table holds it; None for outgoing connections and
    /// inactive channels. `secs` holds the resolved security of at least this row's definition.
    fn from_row(row: &HttpSoap, secs: &HashMap<i64, SecCheck>) -> Option<Self> {
        if row.connection != "channel" || !row.is_active {
            return None;
        }
        let security = row.security_id.map(|id| match secs.get(&id) {
            None => SecCheck::Broken(format!("security definition {id} does not exist")),
            Some(check) => check.clone(),
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
        ch.info = ChannelInfo::new(ch.build_info());
        Some(ch)
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

/// A matched channel and its URL path params.
type Found = (Arc<Channel>, Vec<(String, String)>);

/// One path segment of the trie: literal children by text, at most one `{param}` child (the
/// param's name is the channel's own), and the channels whose path ends here. Children are
/// shared between table versions: a change copies only the nodes on its path
/// (`Arc::make_mut`), so one channel created among ten thousand costs a few nodes.
#[derive(Default, Debug, Clone)]
struct Node {
    lit: rustc_hash::FxHashMap<Arc<str>, Arc<Node>>,
    param: Option<Arc<Node>>,
    here: Vec<Arc<Channel>>,
}

impl Node {
    fn insert(&mut self, segs: &[Seg], ch: Arc<Channel>) {
        match segs.split_first() {
            None => {
                // Same path twice: the older channel (lower id) is tried first.
                let at = self.here.partition_point(|c| c.id < ch.id);
                self.here.insert(at, ch);
            }
            Some((Seg::Lit(l), rest)) => match self.lit.get_mut(l.as_str()) {
                Some(child) => Arc::make_mut(child).insert(rest, ch),
                None => {
                    let mut child = Node::default();
                    child.insert(rest, ch);
                    self.lit.insert(l.as_str().into(), Arc::new(child));
                }
            },
            Some((Seg::Param(_), rest)) => {
                Arc::make_mut(self.param.get_or_insert_with(Default::default)).insert(rest, ch)
            }
        }
    }

    /// Removes channel `id` from under `segs`; true when this node is left empty.
    fn remove(&mut self, segs: &[Seg], id: i64) -> bool {
        match segs.split_first() {
            None => self.here.retain(|c| c.id != id),
            Some((Seg::Lit(l), rest)) => {
                if let Some(child) = self.lit.get_mut(l.as_str())
                    && Arc::make_mut(child).remove(rest, id)
                {
                    self.lit.remove(l.as_str());
                }
            }
            Some((Seg::Param(_), rest)) => {
                if let Some(child) = self.param.as_mut()
                    && Arc::make_mut(child).remove(rest, id)
                {
                    self.param = None;
                }
            }
        }
        self.here.is_empty() && self.lit.is_empty() && self.param.is_none()
    }

    /// Literal segments win over params at each level; a branch that ends in channels of
    /// other methods only is remembered in `wrong_method` and the search goes on.
    fn find(
        &self,
        method: &str,
        parts: &[&str],
        all: &[&str],
        wrong_method: &mut bool,
    ) -> Option<Found> {
        let Some((part, rest)) = parts.split_first() else {
            let mut path_matched = false;
            for ch in &self.here {
                if let Some(params) = ch.params(all) {
                    if ch.method_ok(method) {
                        return Some((ch.clone(), params));
                    }
                    path_matched = true;
                }
            }
            *wrong_method |= path_matched;
            return None;
        };
        if let Some(found) = self
            .lit
            .get(*part)
            .and_then(|n| n.find(method, rest, all, wrong_method))
        {
            return Some(found);
        }
        match &self.param {
            Some(n) if !part.is_empty() && part.chars().all(param_char) => {
                n.find(method, rest, all, wrong_method)
            }
            _ => None,
        }
    }
}

/// The live table of HTTP channels. Matching walks a trie of path segments, so it costs the
/// same for the first channel and the ten-thousandth; a change to one channel makes a new
/// version sharing everything but the trie nodes on that channel's paths.
#[derive(Default, Debug, Clone)]
pub struct Routes {
    by_id: rustc_hash::FxHashMap<i64, Arc<Channel>>,
    root: Node,
}

impl Routes {
    /// Builds every channel of `rows` (outgoing connections are skipped).
    pub fn build(rows: &[HttpSoap], secdefs: &[SecDef], key: &SecretKey) -> Self {
        let secs = resolve_all(secdefs, key);
        Self::from_channels(
            rows.iter()
                .filter_map(|r| Channel::from_row(r, &secs))
                .map(Arc::new),
        )
    }

    /// This table with the channel `id` replaced by `row` (or removed when `row` is None or
    /// not an active channel); the other channels are kept as they are.
    pub fn with_row(
        &self,
        id: i64,
        row: Option<&HttpSoap>,
        secdefs: &[SecDef],
        key: &SecretKey,
    ) -> Self {
        let secs: HashMap<i64, SecCheck> = row
            .and_then(|r| r.security_id)
            .and_then(|sid| secdefs.iter().find(|s| s.id == sid))
            .map(|d| (d.id, SecCheck::resolve(d, key)))
            .into_iter()
            .collect();
        let new = row.and_then(|r| Channel::from_row(r, &secs)).map(Arc::new);
        let mut routes = self.clone();
        if let Some(old) = routes.by_id.remove(&id) {
            routes.root.remove(&old.segs, id);
        }
        if let Some(ch) = new {
            routes.root.insert(&ch.segs, ch.clone());
            routes.by_id.insert(id, ch);
        }
        routes
    }

    fn from_channels(channels: impl Iterator<Item = Arc<Channel>>) -> Self {
        let mut routes = Routes::default();
        for ch in channels {
            routes.root.insert(&ch.segs, ch.clone());
            routes.by_id.insert(ch.id, ch);
        }
        routes
    }

    pub fn find(&self, method: &str, path: &str) -> Match {
        let parts = split(path);
        let mut wrong_method = false;
        match self.root.find(method, &parts, &parts, &mut wrong_method) {
            Some((ch, params)) => Match::Found(ch, params),
            None if wrong_method => Match::WrongMethod,
            None => Match::None,
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Every definition resolved once, so channels sharing one do not decrypt its secret each.
fn resolve_all(secdefs: &[SecDef], key: &SecretKey) -> HashMap<i64, SecCheck> {
    secdefs
        .iter()
        .map(|d| (d.id, SecCheck::resolve(d, key)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A channel row as the fuzz targets build them.
    fn row(id: i64, path: &str, method: Option<&str>) -> HttpSoap {
        crate::fuzzing::http_row(id, path, method)
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

    #[test]
    fn literal_segments_win_and_methods_are_searched_across_branches() {
        let key = SecretKey::generate();
        let mut rows: Vec<HttpSoap> = (0..1000)
            .map(|n| row(n, &format!("/scale/{n}/items/{{id}}"), Some("GET")))
            .collect();
        rows.push(row(5000, "/users/{id}", Some("GET")));
        rows.push(row(5001, "/users/me", Some("POST")));
        rows.push(row(5002, "/users/{id}", Some("DELETE")));
        let r = Routes::build(&rows, &[], &key);
        assert_eq!(r.len(), 1003);
        for n in [0, 999] {
            match r.find("GET", &format!("/scale/{n}/items/42")) {
                Match::Found(c, p) => {
                    assert_eq!(c.id, n);
                    assert_eq!(p, vec![("id".to_string(), "42".to_string())]);
                }
                _ => panic!("no match for channel {n}"),
            }
        }
        // `me` is literal on POST only; GET falls back to the `{id}` branch.
        assert!(matches!(r.find("POST", "/users/me"), Match::Found(c, _) if c.id == 5001));
        assert!(matches!(r.find("GET", "/users/me"), Match::Found(c, _) if c.id == 5000));
        assert!(matches!(r.find("DELETE", "/users/7"), Match::Found(c, _) if c.id == 5002));
        assert!(matches!(r.find("PUT", "/users/me"), Match::WrongMethod));
        // One row replaced and one removed; the others stay the same channels.
        let before = match r.find("GET", "/scale/1/items/1") {
            Match::Found(c, _) => c,
            _ => panic!("no match"),
        };
        let r2 = r.with_row(2, Some(&row(2, "/moved/{x}", None)), &[], &key);
        let r2 = r2.with_row(3, None, &[], &key);
        assert!(matches!(r2.find("GET", "/scale/2/items/1"), Match::None));
        assert!(matches!(r2.find("PATCH", "/moved/a"), Match::Found(c, _) if c.id == 2));
        assert!(matches!(r2.find("GET", "/scale/3/items/1"), Match::None));
        match r2.find("GET", "/scale/1/items/1") {
            Match::Found(c, _) => assert!(Arc::ptr_eq(&c, &before)),
            _ => panic!("no match"),
        }
        assert_eq!(r2.len(), 1002);
    }
}
