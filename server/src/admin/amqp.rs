//! `zato.outgoing.amqp.publish`: a message through an outgoing AMQP connection, from the admin
//! API (the web admin's "publish" form, tests). The connections' CRUD comes from their kinds.
use serde_json::{Value, json};

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult};
use crate::core::ErrorKind;
use crate::{builtin, io};

/// `{conn_name, request_data, exchange, routing_key}` → `{response_data: {"result": "OK"}}`,
/// returned once the broker confirmed the message.
async fn publish(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let conn = i.str("conn_name");
    let data = i.opt_str("request_data").unwrap_or_default();
    let args = json!({
        "exchange": i.opt_str("exchange").unwrap_or_else(|| "/".into()),
        "routing_key": i.opt_str("routing_key").unwrap_or_default(),
        "confirm": true,
    });
    i.done()?;
    let amqp = ctx.state.connectors.get("amqp").cloned().ok_or_else(|| {
        ServiceError::new(ErrorKind::NotFound, "this server is built without AMQP")
    })?;
    let result = amqp
        .call(&conn, "publish", args, Some(data.into_bytes()))
        .await
        .map_err(|e| {
            let kind = match e.kind {
                crate::connectors::ConnErrorKind::Missing => ErrorKind::NotFound,
                crate::connectors::ConnErrorKind::Input => ErrorKind::BadInput,
                _ => ErrorKind::Upstream,
            };
            ServiceError::new(kind, e.message)
        })?;
    Ok(json!({"response_data": result.to_string()}))
}

pub fn services() -> Vec<Builtin> {
    vec![builtin!(
        "zato.outgoing.amqp.publish",
        publish,
        &io! {
            doc: "Publishes `request_data` through an outgoing AMQP connection; returns once the broker confirmed it.",
            required: &["conn_name"],
            optional: &["request_data", "exchange", "routing_key"],
            output: &["response_data"],
        }
    )]
}
