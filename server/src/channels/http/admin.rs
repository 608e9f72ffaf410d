//! `POST /zato/admin/invoke` (upstream's wire format, used by the CLI, web admin, scheduler,
//! enmasse and `zato-client`) and `/zato/api/invoke/{service_name}` (the public invoker).
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use zato_common::admin::{InvokeRequest, encode_response};

use super::respond::{self, JSON, Resp};
use crate::core::{Body, Call, HttpReq, Origin};
use crate::invoke::invoke;
use crate::invoke::request::invoke_from_request;
use crate::objects::routes::Channel;
use crate::proto::codec;
use crate::state::ServerState;

fn human_time(ms: f64) -> String {
    if ms < 1.0 {
        "Below 1 ms".into()
    } else if ms < 1000.0 {
        format!("{} ms", ms.round())
    } else {
        format!("{:.2} sec.", ms / 1000.0)
    }
}

pub async fn admin_invoke(state: &Arc<ServerState>, cid: &str, body: &[u8]) -> Resp {
    let started = Instant::now();
    let req: InvokeRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return respond::error_json(
                400,
                cid,
                &format!("Invalid admin invoke request, expected a JSON object: {e}"),
            );
        }
    };
    let result = invoke_from_request(state, cid, &req).await;
    let mut resp = match result {
        Ok(data) => respond::build(
            200,
            Some(JSON),
            cid,
            encode_response(cid, Some(&data)).to_string(),
        ),
        Err(e) => {
            let service = req.name.as_deref().unwrap_or("?");
            let details = super::error_details(state, cid, service, &e);
            let mut r = respond::error_json(respond::status(e.kind), cid, &details);
            if respond::status(e.kind) >= 500 {
                respond::add_header(
                    &mut r,
                    "x-zato-message",
                    e.message.lines().next().unwrap_or(""),
                );
            }
            r
        }
    };
    if req.needs_response_time.unwrap_or(false) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        respond::add_header(&mut resp, "x-zato-response-time", &format!("{ms:.3}"));
        respond::add_header(&mut resp, "x-zato-response-time-human", &human_time(ms));
    }
    resp
}

fn internal_allowed(state: &ServerState, ch: &Channel, target: &str) -> bool {
    let allow = &state.cfg.misc.service_invoker_allow_internal;
    allow.iter().any(|a| a == target) && allow.contains(&ch.url_path)
}

/// `/zato/api/invoke/{service_name}`: the raw output of any user service as JSON.
pub async fn service_invoker(
    state: &Arc<ServerState>,
    cid: &str,
    ch: &Channel,
    method: &str,
    params: &[(String, String)],
    query: &str,
    body: &[u8],
) -> Resp {
    let Some(target) = params
        .iter()
        .find(|(k, _)| k == "service_name")
        .map(|(_, v)| v.clone())
    else {
        return respond::error_json(400, cid, "Missing input: service_name");
    };
    let is_internal = target.starts_with("zato") || target.starts_with("pub.zato");
    if (is_internal && !internal_allowed(state, ch, &target)) || !state.service_exists(&target) {
        return respond::error_json(400, cid, &format!("No such service `{target}`"));
    }
    let decoded = match codec::decode("json", body) {
        Ok(d) => d,
        Err(e) => return respond::error_json(respond::status(e.kind), cid, &e.message),
    };
    let payload = if method == "GET" && decoded.payload.is_null() {
        Value::Object(super::query_map(query))
    } else {
        decoded.payload
    };
    let mut call = Call::internal(&target, cid, payload, "http-soap");
    call.channel = ch.info();
    call.data_format = "json".into();
    call.raw_request = decoded.raw;
    call.origin = Origin::Http {
        req: Some(HttpReq {
            method: method.to_string(),
            path: ch.url_path.clone(),
            query: query.to_string(),
            ..Default::default()
        }),
        client: None,
    };
    match invoke(state, call).await {
        Ok(mut out) => {
            // Internal services answer flat, without their top element (upstream).
            if is_internal
                && let Body::Json(Value::Object(m)) = &out.body
                && m.len() == 1
                && let Some((k, v)) = m.iter().next()
                && (k.starts_with("zato") || k == "response")
            {
                out.body = Body::Json(v.clone());
            }
            out.content_type = Some(JSON.into());
            respond::encode("json", None, None, out, cid)
        }
        Err(e) => {
            let details = super::error_details(state, cid, &target, &e);
            respond::error_json(respond::status(e.kind), cid, &details)
        }
    }
}
