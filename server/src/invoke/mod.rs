//! Invoking a service by name, whatever it is written in: the one path used by channels,
//! admin invoke, `self.invoke` from Python and async invocations. Observers see every call
//! before and after it runs; statistics, slow-response logs and rate limits plug in there.
use std::sync::Arc;
use std::time::Instant;

pub use crate::core::Observer;
use crate::core::{Call, Ctx, Output, Ran, ServiceError};
use crate::state::ServerState;

pub mod deferred;
pub mod observe;
pub mod patterns;
pub mod request;

pub async fn invoke(state: &Arc<ServerState>, call: Call) -> Result<Output, ServiceError> {
    let observers = &state.observers;
    // Which observers want this call, asked once (at most 64 observers are told).
    let wanted = observers
        .iter()
        .take(64)
        .enumerate()
        .filter(|(_, o)| o.wants(&call.name))
        .fold(0u64, |mask, (i, _)| mask | 1 << i);
    if wanted == 0 {
        return run(state, call).await;
    }
    let started = Instant::now();
    let wanting = || {
        observers
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i < 64 && wanted & (1 << i) != 0)
            .map(|(_, o)| o)
    };
    // Copied per call only what every observer needs; the rest when asked for (hot path).
    let name = call.name.clone();
    let channel = call
        .channel
        .value
        .get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    let details = wanting()
        .any(|o| o.keeps_request(&name))
        .then(|| (call.cid.clone(), request_text(&call)));
    let result = match wanting().try_for_each(|o| o.before(&call)) {
        Ok(()) => run(state, call).await,
        Err(e) => Err(e),
    };
    // A name that is no service is not observed: statistics and metrics keep only real names.
    if let Err(e) = &result
        && e.kind == crate::core::ErrorKind::NotFound
        && !state.service_exists(&name)
    {
        return result;
    }
    let took = started.elapsed();
    let ran = Ran {
        name: &name,
        channel: &channel,
        cid: details.as_ref().map_or("", |d| d.0.as_str()),
        request: details.as_ref().map(|d| d.1.as_str()),
        took,
        ended: state.wall_clock(started + took),
        result: result.as_ref(),
    };
    for o in wanting() {
        o.after(&ran);
    }
    result
}

/// The request as it came (a channel's body) or, for calls made in-process, its payload.
fn request_text(call: &Call) -> String {
    if call.raw_request.is_empty() {
        call.payload.to_string()
    } else {
        call.raw_request.clone()
    }
}

async fn run(state: &Arc<ServerState>, call: Call) -> Result<Output, ServiceError> {
    if state.tables.inactive.load().contains(&call.name) {
        return Err(ServiceError::bad_request(format!(
            "Service `{}` is not active",
            call.name
        )));
    }
    if let Some(svc) = state.builtins.get(call.name.as_str()) {
        svc.io().refuse_unknown(&call.name, &call.payload)?;
        let ctx = Ctx {
            state: state.clone(),
            cid: call.cid.clone(),
            client: call.client().cloned(),
        };
        let timeout = state.service_timeout();
        return match tokio::time::timeout(timeout, svc.handle(&ctx, call.payload)).await {
            Ok(r) => r.map(Output::json),
            Err(_) => Err(ServiceError::timeout(&call.name, timeout)),
        };
    }
    if state.python.has(&call.name) {
        return state.python.invoke(call, state.service_timeout()).await;
    }
    Err(ServiceError::not_found(&call.name))
}

/// Runs a future to its end from a thread that runs Python: an interpreter thread of the pool
/// lane, or a runtime thread of the inline lane (where blocking needs `block_in_place`).
pub fn wait<F: std::future::Future>(state: &ServerState, fut: F) -> F::Output {
    if tokio::runtime::Handle::try_current().is_ok() {
        state.python.demote_inline();
        tokio::task::block_in_place(|| state.rt.block_on(fut))
    } else {
        state.python.io_wait(&state.rt, fut)
    }
}
