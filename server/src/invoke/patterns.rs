//! Upstream's parallel patterns over durable async invocations: `self.patterns.parallel`
//! (each target's outcome goes to the `on_target` services) and `self.patterns.fanout` (also,
//! once every target ended, all outcomes go to the `on_final` services). Targets run as async
//! requests on any server, sharing the caller's CID, with the pattern's context in their
//! `origin`. For a fan-out each outcome is kept in the ODB (built-in cache `zato.patterns`,
//! key `<cid>:<request id>`) until the last target's server, the one that sees them all,
//! wins a once-only `kv_data` key and sends the final message: exactly one, from whichever
//! server ran the last target. Payloads and channels are upstream's.
use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use zato_common::odb::async_requests::AsyncRequest;
use zato_common::odb::cache::CacheEntry;

use super::deferred::{AsyncCall, submit};
use crate::core::{Output, ServiceError};
use crate::state::ServerState;

/// The cache holding fan-out outcomes until the final message is sent.
const CACHE: &str = "zato.patterns";
/// Outcomes (and the once-only key) outlive a fan-out that never completes by a day at most.
const KEEP_MS: i64 = 24 * 3600 * 1000;

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A target of the pattern in `ctx` ended with `result`: tell the `on_target` services and,
/// for a fan-out whose targets have all ended, the `on_final` ones.
pub async fn target_done(
    state: &Arc<ServerState>,
    req: &AsyncRequest,
    ctx: &Value,
    result: &Result<Output, ServiceError>,
) {
    if ctx["kind"] == "retry" {
        return retry_done(state, req, ctx, result).await;
    }
    let fanout = ctx["kind"] == "fanout";
    let on_target = names(&ctx["on_target"]);
    if !fanout && on_target.is_empty() {
        // A parallel execution nobody hears of target by target: nothing to tell.
        return;
    }
    let (on_target_channel, on_final_channel) = if fanout {
        ("fanout-on-target", "fanout-on-final")
    } else {
        ("parallel-exec-on-target", "")
    };
    let now = zato_common::time::utc_now_iso();
    let (response, exception) = match result {
        Ok(out) => (out.body.to_value(), Value::Null),
        Err(e) => (
            Value::Null,
            json!(e.traceback.clone().unwrap_or_else(|| e.message.clone())),
        ),
    };
    let outcome = json!({
        "source": ctx["source"], "target": req.service, "response": response,
        "req_ts_utc": ctx["req_ts_utc"], "resp_ts_utc": now, "ok": exception.is_null(),
        "exception": exception, "cid": req.cid,
    });
    let send = |service: String, payload: Value, channel: &str| AsyncCall {
        cid: Some(req.cid.clone()),
        ..AsyncCall::new(service, payload, channel)
    };
    if fanout {
        // Kept before anything is sent: the last target's server must see this one.
        let entry = CacheEntry {
            key: format!("{}:{:020}", req.cid, req.id),
            value: outcome.to_string(),
            expiry_ms: KEEP_MS,
            expires_at: chrono::TimeDelta::try_milliseconds(KEEP_MS)
                .map(|d| zato_common::time::to_iso(Utc::now() + d)),
            last_modified: now.clone(),
        };
        if let Err(e) = state
            .odb
            .cache_set(state.cluster_id, CACHE, &entry, &now)
            .await
        {
            tracing::error!(
                cid = req.cid,
                "fan-out outcome of `{}` not kept: {e}",
                req.service
            );
        }
    }
    for name in on_target {
        let mut payload = outcome.clone();
        payload["phase"] = json!("on-target");
        if let Err(e) = submit(state, send(name.clone(), payload, on_target_channel)).await {
            tracing::error!(cid = req.cid, "on-target `{name}` not sent: {}", e.message);
        }
    }
    if fanout {
        final_if_last(state, req, ctx, on_final_channel, &now, send).await;
    }
}

/// Sends the fan-out's final message if every target has ended and no server sent it yet.
async fn final_if_last(
    state: &Arc<ServerState>,
    req: &AsyncRequest,
    ctx: &Value,
    channel: &str,
    now: &str,
    send: impl Fn(String, Value, &str) -> AsyncCall,
) {
    let total = ctx["total"].as_u64().unwrap_or(0) as usize;
    let prefix = format!("{}:", req.cid);
    let done = match state
        .odb
        .cache_list(state.cluster_id, CACHE, &prefix, now)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(cid = req.cid, "fan-out outcomes cannot be read: {e}");
            return;
        }
    };
    if done.len() < total {
        return;
    }
    let once = format!("zato.pattern.final.{}", req.cid);
    match state
        .odb
        .kv_insert_new(state.cluster_id, &once, "1", KEEP_MS / 1000)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(cid = req.cid, "fan-out final message not sent: {e}");
            return;
        }
    }
    let data: Vec<Value> = done
        .iter()
        .map(|e| serde_json::from_str(&e.value).unwrap_or(Value::Null))
        .collect();
    let message = json!({
        "phase": "on-final", "source": ctx["source"], "req_ts_utc": ctx["req_ts_utc"],
        "on_target": ctx["on_target"], "on_final": ctx["on_final"], "data": data,
    });
    for name in names(&ctx["on_final"]) {
        if let Err(e) = submit(state, send(name.clone(), message.clone(), channel)).await {
            tracing::error!(cid = req.cid, "on-final `{name}` not sent: {}", e.message);
        }
    }
    for e in done {
        let _ = state
            .odb
            .cache_delete(state.cluster_id, CACHE, &e.key, now)
            .await;
    }
}

/// A try of `self.patterns.invoke_retry`'s target (after its synchronous try failed, with
/// `async_fallback`) ended: stored again, `seconds` later, while it fails and tries are left;
/// else the `callback` services get upstream's message (`ok`, `response` or None, the CIDs,
/// `context`, the times).
async fn retry_done(
    state: &Arc<ServerState>,
    req: &AsyncRequest,
    ctx: &Value,
    result: &Result<Output, ServiceError>,
) {
    let left = ctx["left"].as_u64().unwrap_or(0);
    if result.is_err() && left > 1 {
        let mut next = ctx.clone();
        next["left"] = json!(left - 1);
        next["delay"] = ctx["seconds"].clone();
        let payload = serde_json::from_str(&req.payload).unwrap_or(Value::Null);
        let again = AsyncCall {
            cid: Some(req.cid.clone()),
            pattern: Some(next),
            ..AsyncCall::new(&req.service, payload, &req.channel)
        };
        if let Err(e) = submit(state, again).await {
            tracing::error!(
                cid = req.cid,
                "invoke-retry of `{}` not stored again: {}",
                req.service,
                e.message
            );
        }
        return;
    }
    let (ok, response) = match result {
        Ok(out) => (true, out.body.to_value()),
        Err(e) => {
            tracing::warn!(
                cid = req.cid,
                "invoke-retry of `{}` gave up after {} tries: {}",
                req.service,
                ctx["repeats"],
                e.message
            );
            (false, Value::Null)
        }
    };
    let message = json!({
        "ok": ok, "orig_cid": ctx["orig_cid"], "call_cid": req.cid, "source": ctx["source"],
        "target": req.service, "retry_seconds": ctx["seconds"], "retry_repeats": ctx["repeats"],
        "context": ctx["context"], "req_ts_utc": ctx["req_ts_utc"],
        "resp_ts_utc": zato_common::time::utc_now_iso(), "response": response,
    });
    for name in names(&ctx["callback"]) {
        let call = AsyncCall {
            in_reply_to: Some(req.cid.clone()),
            ..AsyncCall::new(&name, message.clone(), "invoke-async")
        };
        if let Err(e) = submit(state, call).await {
            tracing::error!(
                cid = req.cid,
                "invoke-retry callback `{name}` not sent: {}",
                e.message
            );
        }
    }
}
