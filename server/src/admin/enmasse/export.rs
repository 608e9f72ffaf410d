//! `zato.enmasse.export`: the cluster's user configuration in enmasse's file format, secrets
//! as `{Zato_Enmasse_Env.VAR}` placeholders, objects sorted by name so that an export of an
//! import of an export is the same file.
use serde_json::{Map, Value, json};
use zato_common::odb::channels::HttpSoap;
use zato_common::odb::jobs::{CRON_STYLE, INTERVAL_BASED, Job};
use zato_common::odb::kinds::{self, Kind, Ty, Values};
use zato_common::odb::security::{APIKEY, BASIC_AUTH, JWT, SEC_TYPES, SecDef, WSS};
use zato_common::odb::sql_pool::SqlPool;
use zato_common::setup::{ADMIN_INVOKE_SEC, PUBAPI_SEC};

use super::{
    CHANNEL_REST, CHANNEL_SOAP, OUTCONN_SQL, OUTGOING_REST, OUTGOING_SOAP, SCHEDULER, SECURITY,
};
use crate::admin::kinds::RefNames;
use crate::admin::{Ctx, ServiceResult};

/// The environment variable a secret is read from on import: `ZATO_<KIND>_<NAME>_PASSWORD`.
pub fn secret_var(kind: &str, name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{{Zato_Enmasse_Env.ZATO_{kind}_{name}_PASSWORD}}")
}

/// Adds `value` under `key` unless it is None (absent attributes stay absent).
fn put(m: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        m.insert(key.to_string(), value);
    }
}

fn security(d: &SecDef) -> Value {
    let mut m = Map::new();
    put(&mut m, "name", json!(d.name));
    put(&mut m, "type", json!(d.sec_type));
    if [BASIC_AUTH, WSS, JWT].contains(&d.sec_type.as_str()) {
        put(&mut m, "username", json!(d.username));
    }
    put(&mut m, "password", json!(secret_var("SEC", &d.name)));
    match d.sec_type.as_str() {
        BASIC_AUTH => put(&mut m, "realm", json!(d.realm)),
        APIKEY => put(&mut m, "header", json!(d.header)),
        WSS => {
            let o = d.wss.unwrap_or_default();
            put(&mut m, "password_type", json!(d.password_type));
            put(
                &mut m,
                "reject_empty_nonce_creat",
                json!(o.reject_empty_nonce_creat),
            );
            put(&mut m, "reject_stale_tokens", json!(o.reject_stale_tokens));
            put(&mut m, "reject_expiry_limit", json!(o.reject_expiry_limit));
            put(
                &mut m,
                "nonce_freshness_time",
                json!(o.nonce_freshness_time),
            );
        }
        JWT => put(&mut m, "ttl", json!(d.ttl)),
        _ => {}
    }
    put(&mut m, "is_active", json!(d.is_active));
    Value::Object(m)
}

fn http_soap(h: &HttpSoap) -> Value {
    let mut m = Map::new();
    put(&mut m, "name", json!(h.name));
    let channel = h.connection == "channel";
    if channel {
        put(&mut m, "service", json!(h.service_name));
    } else {
        put(&mut m, "host", json!(h.host));
    }
    put(&mut m, "url_path", json!(h.url_path));
    put(&mut m, "method", json!(h.method));
    if h.transport == "soap" {
        put(&mut m, "soap_action", json!(h.soap_action));
        put(&mut m, "soap_version", json!(h.soap_version));
    }
    put(&mut m, "data_format", json!(h.data_format));
    put(&mut m, "security_name", json!(h.security_name));
    if channel {
        put(
            &mut m,
            "merge_url_params_req",
            json!(h.merge_url_params_req),
        );
    } else {
        put(&mut m, "timeout", json!(h.timeout));
        put(&mut m, "pool_size", json!(h.pool_size));
        put(&mut m, "validate_tls", json!(h.validate_tls));
    }
    put(&mut m, "is_active", json!(h.is_active));
    Value::Object(m)
}

fn sql(p: &SqlPool) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("name", json!(p.name)),
        ("engine", json!(p.engine)),
        ("host", json!(p.host)),
        ("port", json!(p.port)),
        ("db_name", json!(p.db_name)),
        ("username", json!(p.username)),
        // SQLite has no password: no placeholder an import would then need.
        (
            "password",
            if p.engine == "sqlite" {
                Value::Null
            } else {
                json!(secret_var("SQL", &p.name))
            },
        ),
        ("pool_size", json!(p.pool_size)),
        ("extra", json!(p.extra)),
        ("is_active", json!(p.is_active)),
    ] {
        put(&mut m, k, v);
    }
    Value::Object(m)
}

fn job(j: &Job) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("name", json!(j.name)),
        ("service", json!(j.service_name)),
        ("job_type", json!(j.job_type)),
        ("start_date", json!(j.start_date)),
        ("extra", json!(j.extra.clone().filter(|e| !e.is_empty()))),
        ("is_active", json!(j.is_active)),
    ] {
        put(&mut m, k, v);
    }
    match j.job_type.as_str() {
        INTERVAL_BASED => {
            for (k, v) in j.interval.parts() {
                put(&mut m, k, json!(v));
            }
        }
        CRON_STYLE => put(&mut m, "cron_definition", json!(j.cron_definition)),
        _ => {}
    }
    Value::Object(m)
}

/// A row of a kind declared as data: references by name, the secret as a placeholder.
fn kind_row(kind: &Kind, row: &Values, names: &RefNames) -> Value {
    let mut m = Map::new();
    put(&mut m, "name", row["name"].clone());
    for f in kind.fields {
        let v = row.get(f.name).cloned().unwrap_or(Value::Null);
        match f.ty {
            Ty::Secret => put(
                &mut m,
                f.name,
                json!(secret_var(
                    &kind.enmasse.to_ascii_uppercase(),
                    row["name"].as_str().unwrap_or_default()
                )),
            ),
            Ty::Ref(_) | Ty::Service => put(&mut m, &RefNames::key(f), names.of(f, &v)),
            _ => put(&mut m, f.name, v),
        }
    }
    Value::Object(m)
}

fn sorted(mut items: Vec<Value>) -> Value {
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Value::Array(items)
}

pub async fn export(ctx: &Ctx, _input: Value) -> ServiceResult {
    let (odb, cluster) = (&ctx.state.odb, ctx.state.cluster_id);
    let secs = odb.security_list(cluster, None).await?;
    let rows = odb.http_soap_list(cluster).await?;
    let pools = odb.sql_pool_list(cluster).await?;
    let jobs = odb.job_list(cluster).await?;
    let mut out = Map::new();
    // The definitions every new cluster has are not part of its configuration.
    let security: Vec<Value> = secs
        .iter()
        .filter(|d| SEC_TYPES.contains(&d.sec_type.as_str()))
        .filter(|d| d.name != ADMIN_INVOKE_SEC && d.name != PUBAPI_SEC)
        .map(security)
        .collect();
    let user_rows = || rows.iter().filter(|r| !r.is_internal);
    let pick = |connection: &str, transport: &str| -> Vec<Value> {
        user_rows()
            .filter(|r| r.connection == connection && r.transport == transport)
            .map(http_soap)
            .collect()
    };
    for (key, items) in [
        (SECURITY, security),
        (CHANNEL_REST, pick("channel", "plain_http")),
        (CHANNEL_SOAP, pick("channel", "soap")),
        (OUTGOING_REST, pick("outgoing", "plain_http")),
        (OUTGOING_SOAP, pick("outgoing", "soap")),
        (OUTCONN_SQL, pools.iter().map(sql).collect()),
        (SCHEDULER, jobs.iter().map(job).collect()),
    ] {
        if !items.is_empty() {
            out.insert(key.to_string(), sorted(items));
        }
    }
    let names = RefNames::load(odb, cluster).await?;
    for kind in kinds::ALL {
        let rows = odb.kind_list(kind, cluster).await?;
        if !rows.is_empty() {
            let items = rows.iter().map(|r| kind_row(kind, r, &names)).collect();
            out.insert(kind.enmasse.to_string(), sorted(items));
        }
    }
    Ok(Value::Object(out))
}
