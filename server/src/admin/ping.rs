//! `zato.ping` and `pub.zato.ping`.
use serde_json::{Value, json};

use super::{Builtin, Ctx, Io, ServiceResult};
use crate::{builtin, io};

async fn ping(_ctx: &Ctx, _input: Value) -> ServiceResult {
    Ok(json!({"pong": "zato"}))
}

const PING: Io = io! {
    doc: "Answers at once: a liveness check that runs no Python; any input is ignored.",
    any_input: true,
    output: &["pong"],
};

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!("zato.ping", ping, &PING),
        builtin!("pub.zato.ping", ping, &PING),
    ]
}
