//! Asynchronous invocations that survive a crash: `invoke_async`, admin invoke with
//! `is_async` and their callbacks. Each request is stored in the ODB (`async_request`) before
//! its caller gets the CID. The server that stored it claims it at once when it has a free
//! background place (else any server claims it within a second) and holds it with a lease it
//! renews every second while the request waits or runs; once it ran it is deleted. A server
//! killed mid-flight stops renewing and another claims its requests: at least once, and a
//! request that ran is never run again. `expiration` (seconds) is honoured: a request not
//! started in time is dropped and logged.
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use zato_common::odb::async_requests::AsyncRequest;
use zato_common::odb::notify::Topic;
use zato_common::time::to_iso as iso;

use crate::core::deferred::{Deferred, LEASE, RedisDeferred};
use crate::core::{Call, Origin, ServiceError};
use crate::state::ServerState;

/// How often claims are renewed and free requests looked for.
const TICK: Duration = Duration::from_millis(500);
/// Requests claimed at most at once per look.
const CLAIM_AT_ONCE: usize = 200;
/// How often a process looks for ended processes in the Redis consumer group, and how long
/// one must have been idle (a live one reads every `TICK`).
const FORGET_EVERY: Duration = Duration::from_secs(600);
const FORGET_IDLE: Duration = Duration::from_secs(3600);

/// An asynchronous invocation as a caller asks for it.
pub struct AsyncCall {
    pub service: String,
    pub payload: Value,
    /// The channel type the service sees.
    pub channel: String,
    /// Services invoked (asynchronously) with the response.
    pub callback: Vec<String>,
    pub in_reply_to: Option<String>,
    /// Seconds within which it must start; None or 0: no limit.
    pub expiration: Option<f64>,
    /// The CID to run it under (upstream's `cid=`); a new one when None.
    pub cid: Option<String>,
    /// A fan-out's or parallel execution's context (`invoke::patterns`), for a target.
    pub pattern: Option<Value>,
}

impl AsyncCall {
    /// `service` with `payload` on `channel`, with nothing else set.
    pub fn new(service: impl Into<String>, payload: Value, channel: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            payload,
            channel: channel.into(),
            callback: Vec::new(),
            in_reply_to: None,
            expiration: None,
            cid: None,
            pattern: None,
        }
    }
}

/// The stored form of `c`.
fn request_of(c: AsyncCall) -> AsyncRequest {
    let now = Utc::now();
    let expires_at = c
        .expiration
        .filter(|e| *e > 0.0 && e.is_finite())
        .and_then(|e| TimeDelta::try_milliseconds((e.min(1e9) * 1000.0) as i64))
        .map(|d| iso(now + d));
    AsyncRequest {
        id: 0,
        cid: c.cid.unwrap_or_else(zato_common::new_cid),
        service: c.service,
        payload: c.payload.to_string(),
        channel: c.channel,
        callback: (!c.callback.is_empty()).then(|| json!(c.callback).to_string()),
        in_reply_to: c.in_reply_to,
        expires_at,
        // An invoke-retry's next try waits its `delay` (seconds).
        not_before: c
            .pattern
            .as_ref()
            .filter(|p| p["kind"] == "retry")
            .and_then(|p| p["delay"].as_f64())
            .filter(|d| *d > 0.0 && d.is_finite())
            .and_then(|d| TimeDelta::try_milliseconds((d.min(1e9) * 1000.0) as i64))
            .map(|d| iso(now + d)),
        origin: c.pattern.map(|p| json!({"pattern": p}).to_string()),
    }
}

/// The Redis stream `reqs` go to, if any: with `[kvdb]`, all but requests for later, which
/// stay in the ODB, whose loop honours `not_before` (a stream has no delayed delivery).
/// Every process waits on the stream: whichever has a free place takes them at once.
fn stream_for<'a>(state: &'a ServerState, reqs: &[AsyncRequest]) -> Option<&'a RedisDeferred> {
    state
        .async_redis
        .as_ref()
        .filter(|_| reqs.iter().all(|r| r.not_before.is_none()))
}

fn not_stored(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(&format!("the async request could not be stored: {e}"))
}

/// Stores `c` and returns its CID; the service runs in the background.
pub async fn submit(state: &Arc<ServerState>, c: AsyncCall) -> Result<String, ServiceError> {
    let mut cids = submit_all(state, vec![c]).await?;
    cids.pop().ok_or_else(|| not_stored("nothing was stored"))
}

/// Stores `calls`, all or none (a fan-out is never half sent), in one round trip, and returns
/// their CIDs in order; the services run in the background.
pub async fn submit_all(
    state: &Arc<ServerState>,
    calls: Vec<AsyncCall>,
) -> Result<Vec<String>, ServiceError> {
    if calls.is_empty() {
        return Ok(Vec::new());
    }
    let reqs: Vec<AsyncRequest> = calls.into_iter().map(request_of).collect();
    let cids = reqs.iter().map(|r| r.cid.clone()).collect();
    match stream_for(state, &reqs) {
        Some(r) => {
            r.queue.put_all(&reqs).await.map_err(not_stored)?;
        }
        None => store(state, reqs).await?,
    }
    Ok(cids)
}

/// Stores `reqs` in the ODB and runs them here when places are free.
async fn store(state: &Arc<ServerState>, reqs: Vec<AsyncRequest>) -> Result<(), ServiceError> {
    let d = &state.deferred;
    // Run here when places are free; otherwise any server's next look takes them.
    let (holder, until) = d.claim();
    let claim =
        (state.background.available_permits() >= reqs.len()).then_some((holder, until.as_str()));
    let ids = state
        .odb
        .async_put_all(state.cluster_id, &reqs, claim)
        .await
        .map_err(not_stored)?;
    if claim.is_some() {
        d.hold(reqs.len());
        for (mut req, id) in reqs.into_iter().zip(ids) {
            req.id = id;
            run(state, req, None);
        }
    } else if let Err(e) = state.events.notifier().notify(Topic::Async).await {
        tracing::warn!("cannot wake the other servers for an async request (they will poll): {e}");
    }
    Ok(())
}

/// Runs a request this process holds (counted by [`Deferred::hold`]) in the background: not
/// before its `not_before`, then once a background place is free; then it is marked done and
/// its callbacks are sent. `released_at`: when a scheduler's run was released (the same for
/// all of a batch); now when None.
pub fn run(state: &Arc<ServerState>, req: AsyncRequest, released_at: Option<String>) {
    run_via(state, Via::Odb, req, released_at);
}

/// Where a request is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Odb,
    Redis,
}

fn held(state: &ServerState, via: Via) -> &Deferred {
    match (via, &state.async_redis) {
        (Via::Redis, Some(r)) => &r.held,
        _ => &state.deferred,
    }
}

/// [`run`] for a request stored `via` a transport.
fn run_via(state: &Arc<ServerState>, via: Via, req: AsyncRequest, released_at: Option<String>) {
    let st = state.clone();
    state.rt.spawn(async move {
        let d = held(&st, via);
        // Stored ahead of its time and taken over from a server that died: wait for it.
        if let Some(wait) = req
            .not_before
            .as_deref()
            .and_then(|t| zato_common::schedule::parse_start_date(t).ok())
            .and_then(|t| (t - Utc::now().naive_utc()).to_std().ok())
        {
            tokio::time::sleep(wait).await;
        }
        let _place = st.background.acquire().await.ok();
        if d.lease_lapsed() {
            tracing::warn!(
                cid = req.cid,
                service = req.service,
                "async request left to another server: this one could not renew its lease"
            );
            d.abandoned();
            return;
        }
        let now = iso(Utc::now());
        if req.expires_at.as_deref().is_some_and(|e| e < now.as_str()) {
            tracing::warn!(
                cid = req.cid,
                service = req.service,
                "async request expired before it could run (expires_at {})",
                req.expires_at.as_deref().unwrap_or_default()
            );
            d.finished(req.id);
            return;
        }
        let call = call_of(&req, released_at.unwrap_or(now));
        let result = super::invoke(&st, call).await;
        if let Some(ctx) = pattern_of(&req) {
            super::patterns::target_done(&st, &req, &ctx, &result).await;
        }
        match result {
            Ok(out) => {
                let callbacks: Vec<String> = req
                    .callback
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or_default();
                let response = out.body.to_value();
                for name in callbacks {
                    let back = AsyncCall {
                        in_reply_to: Some(req.cid.clone()),
                        ..AsyncCall::new(&name, response.clone(), "invoke-async-callback")
                    };
                    if let Err(e) = submit(&st, back).await {
                        tracing::error!(cid = req.cid, "callback `{name}` not sent: {}", e.message);
                    }
                }
            }
            Err(e) => {
                tracing::error!(
                    cid = req.cid,
                    service = req.service,
                    "async invocation failed: {}",
                    e.message
                );
                if let Some(tb) = e.traceback {
                    tracing::error!(cid = req.cid, service = req.service, "{tb}");
                }
            }
        }
        held(&st, via).finished(req.id);
    });
}

/// A pattern target's context, from its `origin`.
fn pattern_of(req: &AsyncRequest) -> Option<Value> {
    let origin: Value = serde_json::from_str(req.origin.as_deref()?).ok()?;
    let ctx = origin.get("pattern")?;
    (!ctx.is_null()).then(|| ctx.clone())
}

/// The call a stored request makes: as `invoke_async` made it, or as its `origin` says (a
/// scheduler's run: channel `scheduler`, the run in `self.request.scheduler` with `fired_at`).
fn call_of(req: &AsyncRequest, released_at: String) -> Call {
    let payload = serde_json::from_str(&req.payload).unwrap_or(Value::Null);
    let mut call = Call::internal(&req.service, &req.cid, payload, &req.channel);
    call.raw_request = req.payload.clone();
    let origin: Option<Value> = req
        .origin
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok());
    match origin {
        Some(mut o) if o["transport"] == "scheduler" => {
            o["meta"]["fired_at"] = json!(released_at);
            call.data_format = "dict".into();
            call.raw_request = o["raw_request"].as_str().unwrap_or_default().to_string();
            call.channel = crate::core::ChannelInfo::new(o["channel"].take());
            call.origin = Origin::Message {
                transport: "scheduler",
                meta: o["meta"].take(),
            };
        }
        _ => {
            call.origin = Origin::Message {
                transport: "invoke-async",
                meta: json!({"in_reply_to": req.in_reply_to}),
            };
        }
    }
    call
}

/// Renews this process's claims, claims free requests while places are free, drops expired
/// ones and deletes those that ran, for the life of the server.
pub async fn serve(state: Arc<ServerState>) {
    let Some(mut done) = state.deferred.take_finished() else {
        return;
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ran = Vec::new();
    let mut wake = state.events.notifier().wake(Topic::Async).await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = wake.next() => {}
            n = done.recv_many(&mut ran, 1000) => {
                if n == 0 {
                    return;
                }
                drain(&mut done, &mut ran);
                let failed = state.odb.async_done(&ran).await.err().map(|e| e.to_string());
                deleted(&state.deferred, &mut ran, failed);
                continue;
            }
        }
        if let Err(e) = look(&state).await {
            tracing::warn!("async requests: {e}");
        }
    }
}

/// Batches deletes: what finished meanwhile goes in the same statement.
fn drain(done: &mut tokio::sync::mpsc::UnboundedReceiver<i64>, ran: &mut Vec<i64>) {
    while let Ok(id) = done.try_recv() {
        ran.push(id);
    }
}

/// After a batch of deletes: counted as no longer held, and logged when the store refused
/// them (`failed`: why).
fn deleted(d: &Deferred, ran: &mut Vec<i64>, failed: Option<String>) {
    if let Some(e) = failed {
        tracing::warn!(
            "{} async requests that ran could not be marked so (they may run again): {e}",
            ran.len()
        );
    }
    d.deleted(ran.len());
    ran.clear();
}

/// The Redis transport: takes requests as places free up (a blocking read, so a new one is
/// taken at once), renews what this process holds every half second and deletes what ran.
pub async fn serve_redis(state: Arc<ServerState>) {
    let Some(r) = &state.async_redis else {
        return;
    };
    if let Err(e) = r.queue.prepare().await {
        tracing::warn!("async requests on Redis: {e}; retrying");
    }
    tokio::spawn(keep_redis(state.clone()));
    // Requests a dead process held are looked for once a tick, not before every read.
    let mut reclaim_at = tokio::time::Instant::now();
    loop {
        // Wait for a free place rather than poll for one.
        drop(state.background.acquire().await);
        let places = state.background.available_permits().min(CLAIM_AT_ONCE);
        let holder = r.held.holder();
        let taken = if tokio::time::Instant::now() >= reclaim_at {
            reclaim_at = tokio::time::Instant::now() + TICK;
            r.queue.reclaim(holder, places).await
        } else {
            Ok(Vec::new())
        };
        // None lapsed: new ones, waiting at most a tick for one (then a reclaim is due).
        let taken = match taken {
            Ok(reqs) if reqs.is_empty() => r.queue.take(holder, places, TICK).await,
            other => other,
        };
        match taken {
            Ok(reqs) => {
                r.held.hold(reqs.len());
                for req in reqs {
                    run_via(&state, Via::Redis, req, None);
                }
            }
            Err(e) => {
                tracing::warn!("cannot take async requests from Redis: {e}");
                let _ = r.queue.prepare().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn keep_redis(state: Arc<ServerState>) {
    let Some(r) = &state.async_redis else {
        return;
    };
    let Some(mut done) = r.held.take_finished() else {
        return;
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut forget = tokio::time::interval(FORGET_EVERY);
    forget.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ran = Vec::new();
    loop {
        tokio::select! {
            _ = forget.tick() => {
                match r.queue.forget_idle(r.held.holder(), FORGET_IDLE).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("{n} ended processes removed from the async requests' consumer group"),
                    Err(e) => tracing::warn!("cannot look for ended consumers of async requests: {e}"),
                }
            }
            _ = tick.tick() => {
                if r.held.held() > 0 {
                    match r.queue.renew(r.held.holder()).await {
                        Ok(_) => r.held.renewed(),
                        Err(e) => tracing::warn!("cannot renew async requests held in Redis: {e}"),
                    }
                }
            }
            n = done.recv_many(&mut ran, 1000) => {
                if n == 0 {
                    return;
                }
                drain(&mut done, &mut ran);
                let failed = r.queue.done(&ran).await.err().map(|e| e.to_string());
                deleted(&r.held, &mut ran, failed);
            }
        }
    }
}

async fn look(state: &Arc<ServerState>) -> Result<(), zato_common::odb::OdbError> {
    let d = &state.deferred;
    let now = Utc::now();
    let until = iso(now + LEASE);
    if d.held() > 0 {
        state.odb.async_renew(d.holder(), &until).await?;
        d.renewed();
    }
    let now_s = iso(now);
    let (free, expired) = state.odb.async_probe(state.cluster_id, &now_s).await?;
    let gone = match expired {
        true => {
            state
                .odb
                .async_drop_expired(state.cluster_id, &now_s)
                .await?
        }
        false => Vec::new(),
    };
    for gone in gone {
        tracing::warn!(
            cid = gone.cid,
            service = gone.service,
            "async request expired before it could run (expires_at {})",
            gone.expires_at.unwrap_or_default()
        );
    }
    let places = state.background.available_permits().min(CLAIM_AT_ONCE);
    if !free || places == 0 {
        return Ok(());
    }
    let claimed = state
        .odb
        .async_claim(state.cluster_id, d.holder(), &until, &now_s, places)
        .await?;
    state.deferred.hold(claimed.len());
    for req in claimed {
        run(state, req, None);
    }
    Ok(())
}
