//! Channel security: HTTP Basic Auth and API keys, checked against definitions the server
//! holds in memory (reloaded on every cluster change).
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::HeaderMap;

use super::respond::{Resp, unauthorized};
use super::routing::{Channel, SecCheck};

/// Compares secrets without stopping at the first differing byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = B64.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Ok when the caller may use the channel.
/// The error is boxed: it is the rare path, and keeps the happy one small.
pub fn check(ch: &Channel, headers: &HeaderMap, cid: &str) -> Result<(), Box<Resp>> {
    let Some(sec) = &ch.security else {
        return Ok(());
    };
    match sec {
        SecCheck::Basic {
            username,
            password,
            realm,
            is_active,
            ..
        } => match basic_credentials(headers) {
            Some((u, p))
                if *is_active
                    && same(u.as_bytes(), username.as_bytes())
                    && same(p.as_bytes(), password.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(Box::new(unauthorized(cid, Some(realm)))),
        },
        SecCheck::ApiKey {
            header,
            key,
            is_active,
            ..
        } => match headers.get(header.as_str()).map(|v| v.as_bytes()) {
            Some(v) if *is_active && !key.is_empty() && same(v, key.as_bytes()) => Ok(()),
            _ => Err(Box::new(unauthorized(cid, None))),
        },
        SecCheck::Broken(why) => {
            tracing::error!(cid, channel = ch.name, "refusing a request: {why}");
            Err(Box::new(unauthorized(cid, None)))
        }
    }
}
