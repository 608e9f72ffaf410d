//! Channel security checked on the request head: HTTP Basic Auth (and technical accounts), API
//! keys and JWTs, against definitions the server holds in memory (reloaded on every cluster
//! change). WS-Security needs the body and is checked after it is read ([`check_body`]).
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::HeaderMap;

use super::respond::{Resp, unauthorized};
use crate::objects::routes::Channel;
use crate::proto::soap::SoapVersion;
use crate::security::check::SecCheck;
use crate::security::same;
use crate::state::ServerState;

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

/// The SOAP version a refusal is answered in on a SOAP channel (1.2 when the request is
/// `application/soap+xml`), None on other channels.
fn soap_of(ch: &Channel, headers: &HeaderMap) -> Option<SoapVersion> {
    if ch.transport != "soap" && ch.data_format != "soap" {
        return None;
    }
    let soap12 = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/soap+xml"));
    Some(if soap12 {
        SoapVersion::V12
    } else {
        SoapVersion::V11
    })
}

fn refuse(
    ch: &Channel,
    headers: &HeaderMap,
    cid: &str,
    why: &str,
    realm: Option<&str>,
) -> Box<Resp> {
    tracing::info!(cid, channel = ch.name, "unauthorized: {why:?}");
    Box::new(unauthorized(soap_of(ch, headers), cid, realm))
}

/// Ok when the caller may use the channel (so far as the request head tells).
/// The error is boxed: it is the rare path, and keeps the happy one small.
pub fn check(
    state: &ServerState,
    ch: &Channel,
    headers: &HeaderMap,
    cid: &str,
) -> Result<(), Box<Resp>> {
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
            Some(_) => Err(refuse(ch, headers, cid, "wrong credentials", Some(realm))),
            None => Err(refuse(
                ch,
                headers,
                cid,
                "no Basic Auth credentials",
                Some(realm),
            )),
        },
        SecCheck::ApiKey {
            header,
            key,
            is_active,
            ..
        } => match headers.get(header.as_str()).map(|v| v.as_bytes()) {
            Some(v) if *is_active && !key.is_empty() && same(v, key.as_bytes()) => Ok(()),
            _ => Err(refuse(ch, headers, cid, "missing or wrong API key", None)),
        },
        SecCheck::Jwt {
            id,
            username,
            is_active,
            ..
        } => {
            let Some(token) = crate::security::jwt::bearer(headers) else {
                return Err(refuse(ch, headers, cid, "no Bearer token", None));
            };
            match state.jwt_keys.verify(token) {
                Ok(c) if !*is_active || c.sec_def != *id || c.sub != *username => Err(refuse(
                    ch,
                    headers,
                    cid,
                    "the token is for another definition",
                    None,
                )),
                Ok(c) if state.revoked_jwts.load().contains_key(&c.jti) => {
                    Err(refuse(ch, headers, cid, "the token was logged out", None))
                }
                Ok(_) => Ok(()),
                Err(e) => Err(refuse(
                    ch,
                    headers,
                    cid,
                    &format!("invalid token: {e}"),
                    None,
                )),
            }
        }
        SecCheck::Wss { .. } => Ok(()),
        SecCheck::Broken(why) => {
            tracing::error!(cid, channel = ch.name, "refusing a request: {why}");
            Err(Box::new(unauthorized(soap_of(ch, headers), cid, None)))
        }
    }
}

/// The checks that need the body (WS-Security); a refusal is a SOAP Fault with 401.
pub async fn check_body(
    state: &ServerState,
    ch: &Channel,
    body: &[u8],
    cid: &str,
) -> Result<(), Box<Resp>> {
    let Some(SecCheck::Wss { def, is_active, .. }) = &ch.security else {
        return Ok(());
    };
    let result = if *is_active {
        crate::security::wss::check(&state.odb, state.cluster_id, def, body).await
    } else {
        Err(crate::security::wss::WssRefusal::Inactive)
    };
    result.map_err(|why| {
        tracing::info!(cid, channel = ch.name, "unauthorized: {why}");
        Box::new(super::respond::error(
            Some(crate::proto::soap::SoapVersion::V11),
            401,
            cid,
            &format!("Unauthorized; cid={cid}"),
        ))
    })
}
