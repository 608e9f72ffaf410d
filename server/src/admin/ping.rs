//! `zato.ping` and `pub.zato.ping`.
use serde_json::{Value, json};

use super::{Builtin, Ctx, ServiceResult};
use crate::builtin;

async fn ping(_ctx: &Ctx, _input: Value) -> ServiceResult {
    Ok(json!({"pong": "zato"}))
}

pub fn services() -> Vec<Builtin> {
    vec![builtin!("zato.ping", ping), builtin!("pub.zato.ping", ping)]
}
