//! `zato.http-soap.*`: REST/SOAP channels and outgoing connections in `http_soap`.
use serde_json::{Value, json};
use zato_common::odb::channels::{HttpSoap, HttpSoapInput};

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use crate::{builtin, io, objects};

/// Upstream's name for "no security definition".
pub const NO_SECURITY: &str = "zato-no-security";

const DATA_FORMATS: &[&str] = &["json", "xml", "soap", "plain", "form", "csv"];

fn describe(h: &HttpSoap) -> Value {
    serde_json::to_value(h).unwrap_or(Value::Null)
}

/// An outgoing connection needs an absolute http(s) address and sane limits.
/// Idle connections an outgoing connection keeps per host, at most.
const MAX_POOL_SIZE: i64 = 10_000;

fn check_outgoing(
    host: Option<&str>,
    url_path: &str,
    timeout: Option<i64>,
    pool_size: Option<i64>,
) -> Result<(), ServiceError> {
    let host = host.unwrap_or_default();
    if !(host.starts_with("http://") || host.starts_with("https://")) {
        return Err(ServiceError::bad_request(format!(
            "`host` of an outgoing connection must start with http:// or https://, got `{host}`"
        )));
    }
    if !url_path.is_empty() && !url_path.starts_with('/') {
        return Err(ServiceError::bad_request(format!(
            "`url_path` must be empty or start with `/`, got `{url_path}`"
        )));
    }
    let year = zato_common::config::MAX_SECONDS as i64;
    if timeout.is_some_and(|t| !(1..=year).contains(&t)) {
        return Err(ServiceError::bad_request(format!(
            "`timeout` must be a number of seconds from 1 to {year} (a year)"
        )));
    }
    if pool_size.is_some_and(|p| !(1..=MAX_POOL_SIZE).contains(&p)) {
        return Err(ServiceError::bad_request(format!(
            "`pool_size` must be from 1 to {MAX_POOL_SIZE}"
        )));
    }
    Ok(())
}

/// Create/edit input with its references still by name (resolved against the ODB by the
/// admin services, against the ODB and the file by enmasse).
pub struct Parsed {
    /// `security_id` as given (if by id); `service_id` not yet set.
    pub data: HttpSoapInput,
    pub security_name: Option<String>,
    pub service: Option<String>,
}

/// Reads and checks create/edit input; `existing` supplies defaults on edit.
pub fn parse_input(i: &mut Input<'_>, existing: Option<&HttpSoap>) -> Result<Parsed, ServiceError> {
    let name = i.str("name");
    let url_path = i.str("url_path");
    let connection = i.str("connection");
    let is_active = i
        .opt_bool("is_active")?
        .or(existing.map(|e| e.is_active))
        .unwrap_or(true);
    let is_internal = i
        .opt_bool("is_internal")?
        .or(existing.map(|e| e.is_internal))
        .unwrap_or(false);
    let merge = i
        .opt_bool("merge_url_params_req")?
        .or(existing.map(|e| e.merge_url_params_req))
        .unwrap_or(true);
    let transport = i
        .opt_str("transport")
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "plain_http".into());
    let data_format = i.opt_str("data_format").filter(|d| !d.is_empty());
    let timeout = i.opt_int("timeout")?.or(existing.and_then(|e| e.timeout));
    let pool_size = i
        .opt_int("pool_size")?
        .or(existing.and_then(|e| e.pool_size));
    let validate_tls = i
        .opt_bool("validate_tls")?
        .or(existing.map(|e| e.validate_tls))
        .unwrap_or(true);
    let security_id = i.opt_int("security_id")?;
    let security_name = i.opt_str("security_name").or_else(|| i.opt_str("sec_def"));
    let service = i.opt_str("service").or_else(|| i.opt_str("service_name"));
    let get = |k: &str| i.opt_str(k).filter(|v| !v.is_empty());
    let (method, soap_action, soap_version, content_type, host, url_params_pri, params_pri) = (
        get("method"),
        get("soap_action"),
        get("soap_version"),
        get("content_type"),
        get("host"),
        get("url_params_pri"),
        get("params_pri"),
    );
    i.done()?;
    if connection != "channel" && connection != "outgoing" {
        return Err(ServiceError::bad_request(format!(
            "`connection` must be `channel` or `outgoing`, got `{connection}`"
        )));
    }
    if transport != "plain_http" && transport != "soap" {
        return Err(ServiceError::bad_request(format!(
            "`transport` must be `plain_http` or `soap`, got `{transport}`"
        )));
    }
    for (field, value, allowed) in [
        (
            "url_params_pri",
            &url_params_pri,
            ["qs-over-path", "path-over-qs"],
        ),
        (
            "params_pri",
            &params_pri,
            ["channel-params-over-msg", "msg-over-channel-params"],
        ),
    ] {
        if let Some(v) = value
            && !allowed.contains(&v.as_str())
        {
            return Err(ServiceError::bad_request(format!(
                "`{field}` must be one of {allowed:?}, got `{v}`"
            )));
        }
    }
    if connection == "outgoing" {
        check_outgoing(host.as_deref(), &url_path, timeout, pool_size)?;
    }
    if connection == "channel" && !url_path.starts_with('/') {
        return Err(ServiceError::bad_request(format!(
            "`url_path` must start with `/`, got `{url_path}`"
        )));
    }
    if let Some(f) = &data_format
        && !DATA_FORMATS.contains(&f.as_str())
    {
        return Err(ServiceError::bad_request(format!(
            "`data_format` must be one of {DATA_FORMATS:?}, got `{f}`"
        )));
    }
    if connection == "channel" && service.as_deref().is_none_or(str::is_empty) {
        return Err(ServiceError::bad_request(
            "Missing input: service (a channel needs a service)",
        ));
    }
    let data = HttpSoapInput {
        name,
        is_active,
        is_internal,
        connection,
        transport,
        host,
        url_path,
        method,
        soap_action,
        soap_version,
        data_format,
        content_type,
        timeout,
        pool_size,
        validate_tls,
        merge_url_params_req: merge,
        url_params_pri,
        params_pri,
        security_id,
        service_id: None,
    };
    Ok(Parsed {
        data,
        security_name: security_name.filter(|s| !s.is_empty() && s != NO_SECURITY),
        service: service.filter(|s| !s.is_empty()),
    })
}

/// Reads create/edit input and resolves its references against the ODB.
async fn read_input(
    ctx: &Ctx,
    input: &Value,
    existing: Option<&HttpSoap>,
) -> Result<HttpSoapInput, ServiceError> {
    let mut i = Input::new(input);
    check_cluster(ctx, &i)?;
    let Parsed {
        mut data,
        security_name,
        service,
    } = parse_input(&mut i, existing)?;
    let state = &ctx.state;
    if let Some(sec_name) = security_name {
        let def = state
            .odb
            .security_by_name(state.cluster_id, &sec_name)
            .await?
            .ok_or_else(|| {
                ServiceError::bad_request(format!("No security definition named `{sec_name}`"))
            })?;
        data.security_id = Some(def.id);
    } else if let Some(id) = data.security_id
        && state
            .odb
            .security_by_id(state.cluster_id, id)
            .await?
            .is_none()
    {
        return Err(ServiceError::bad_request(format!(
            "No security definition with id {id}"
        )));
    }
    if let Some(name) = service {
        data.service_id = Some(
            state
                .odb
                .service_by_name(state.cluster_id, &name)
                .await?
                .ok_or_else(|| {
                    ServiceError::bad_request(format!("No service named `{name}`; deploy it first"))
                })?
                .id,
        );
    }
    Ok(data)
}

async fn get_list(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    check_cluster(ctx, &i)?;
    let connection = i.opt_str("connection");
    let transport = i.opt_str("transport");
    let rows = ctx.state.odb.http_soap_list(ctx.state.cluster_id).await?;
    Ok(Value::Array(
        rows.iter()
            .filter(|r| {
                connection
                    .as_deref()
                    .is_none_or(|c| c.is_empty() || r.connection == c)
            })
            .filter(|r| {
                transport
                    .as_deref()
                    .is_none_or(|t| t.is_empty() || r.transport == t)
            })
            .map(describe)
            .collect(),
    ))
}

async fn find(ctx: &Ctx, input: &Value) -> Result<HttpSoap, ServiceError> {
    let i = Input::new(input);
    let cluster = ctx.state.cluster_id;
    if let Some(id) = i.opt_int("id")? {
        return ctx
            .state
            .odb
            .http_soap_by_id(cluster, id)
            .await?
            .ok_or_else(|| {
                ServiceError::new(
                    crate::core::ErrorKind::NotFound,
                    format!("No channel or outgoing connection with id {id}"),
                )
            });
    }
    let name = i
        .opt_str("name")
        .ok_or_else(|| ServiceError::bad_request("Missing input: id or name"))?;
    let connection = i.opt_str("connection").unwrap_or_else(|| "channel".into());
    ctx.state
        .odb
        .http_soap_by_name(cluster, &name, &connection)
        .await?
        .ok_or_else(|| {
            ServiceError::new(
                crate::core::ErrorKind::NotFound,
                format!("No {connection} named `{name}`"),
            )
        })
}

async fn get(ctx: &Ctx, input: Value) -> ServiceResult {
    Ok(describe(&find(ctx, &input).await?))
}

/// A channel answers by path and method; one with the same path (params in the same places)
/// and an overlapping method would never be reached.
pub fn clash<'a>(
    channels: impl IntoIterator<Item = (i64, &'a str, &'a str, Option<&'a str>)>,
    data: &HttpSoapInput,
    except: Option<i64>,
) -> Option<ServiceError> {
    if data.connection != "channel" || !data.is_active {
        return None;
    }
    let shape = |p: &str| -> Vec<String> {
        p.split('/')
            .map(|s| {
                if s.contains('{') {
                    "{}".into()
                } else {
                    s.to_string()
                }
            })
            .collect()
    };
    let method = |m: Option<&str>| m.filter(|m| !m.is_empty()).map(str::to_ascii_uppercase);
    let (mine, my_method) = (shape(&data.url_path), method(data.method.as_deref()));
    let (_, name, path, m) = channels.into_iter().find(|(id, _, path, m)| {
        Some(*id) != except
            && shape(path) == mine
            && match (&my_method, method(*m)) {
                (Some(a), Some(b)) => *a == b,
                _ => true,
            }
    })?;
    let methods = match method(m) {
        Some(m) => format!("for {m}"),
        None => "for every method".into(),
    };
    Some(ServiceError::new(
        crate::core::ErrorKind::Conflict,
        format!(
            "channel `{name}` already serves `{path}` {methods}; give this one another path or method, or edit `{name}`"
        ),
    ))
}

/// Refuses `data` when an active channel in the ODB already serves its path and method.
async fn refuse_clash(
    ctx: &Ctx,
    data: &HttpSoapInput,
    except: Option<i64>,
) -> Result<(), ServiceError> {
    if data.connection != "channel" || !data.is_active {
        return Ok(());
    }
    let rows = ctx.state.odb.http_soap_list(ctx.state.cluster_id).await?;
    let active = rows
        .iter()
        .filter(|r| r.connection == "channel" && r.is_active)
        .map(|r| {
            (
                r.id,
                r.name.as_str(),
                r.url_path.as_str(),
                r.method.as_deref(),
            )
        });
    match clash(active, data, except) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn create(ctx: &Ctx, input: Value) -> ServiceResult {
    let data = read_input(ctx, &input, None).await?;
    refuse_clash(ctx, &data, None).await?;
    let id = ctx
        .state
        .odb
        .http_soap_create(ctx.state.cluster_id, &data)
        .await?;
    ctx.state.changed(objects::HTTP_SOAP, Some(id)).await;
    Ok(json!({"id": id, "name": data.name, "url_path": data.url_path}))
}

async fn edit(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let id = i.int("id")?;
    i.done()?;
    let existing = ctx
        .state
        .odb
        .http_soap_by_id(ctx.state.cluster_id, id)
        .await?
        .ok_or_else(|| {
            ServiceError::new(
                crate::core::ErrorKind::NotFound,
                format!("No channel or outgoing connection with id {id}"),
            )
        })?;
    let data = read_input(ctx, &input, Some(&existing)).await?;
    refuse_clash(ctx, &data, Some(id)).await?;
    ctx.state
        .odb
        .http_soap_edit(ctx.state.cluster_id, id, &data)
        .await?;
    ctx.state.changed(objects::HTTP_SOAP, Some(id)).await;
    Ok(json!({"id": id, "name": data.name}))
}

async fn delete(ctx: &Ctx, input: Value) -> ServiceResult {
    let i = Input::new(&input);
    let should_raise = i.opt_bool("should_raise_if_missing")?.unwrap_or(true);
    let row = match find(ctx, &input).await {
        Ok(r) => r,
        Err(e) if !should_raise && e.kind == crate::core::ErrorKind::NotFound => {
            return Ok(json!({"details": e.message}));
        }
        Err(e) => return Err(e),
    };
    if row.is_internal {
        return Err(ServiceError::bad_request(format!(
            "`{}` is internal and cannot be deleted",
            row.name
        )));
    }
    ctx.state
        .odb
        .http_soap_delete(ctx.state.cluster_id, row.id)
        .await?;
    ctx.state.changed(objects::HTTP_SOAP, Some(row.id)).await;
    Ok(json!({"details": format!("Deleted `{}`", row.name)}))
}

/// `{id[, ping_path]}` → `{id, is_success, info}` for an outgoing connection.
async fn ping(ctx: &Ctx, input: Value) -> ServiceResult {
    let row = find(ctx, &input).await?;
    if row.connection != "outgoing" {
        return Err(ServiceError::bad_request(format!(
            "`{}` is a channel; only outgoing connections can be pinged",
            row.name
        )));
    }
    let conn = ctx
        .state
        .tables
        .outgoing_http
        .load()
        .get(&(row.transport.clone(), row.name.clone()))
        .cloned()
        .ok_or_else(|| ServiceError::bad_request(format!("`{}` is not active", row.name)))?;
    let path = Input::new(&input).opt_str("ping_path");
    let (is_success, info) = match conn.ping(path.as_deref()).await {
        Ok((status, took)) => (
            status < 500,
            format!("HTTP {status} in {:.3} s", took.as_secs_f64()),
        ),
        Err(e) => (false, e.message),
    };
    Ok(json!({"id": row.id, "is_success": is_success, "info": info}))
}

/// What create and edit read (edit: `id` too).
pub const FIELDS: &[&str] = &[
    "name",
    "url_path",
    "connection",
    "transport",
    "is_active",
    "is_internal",
    "merge_url_params_req",
    "data_format",
    "timeout",
    "pool_size",
    "validate_tls",
    "security_id",
    "security_name",
    "sec_def",
    "service",
    "service_name",
    "method",
    "soap_action",
    "soap_version",
    "content_type",
    "host",
    "url_params_pri",
    "params_pri",
];

/// Upstream's create/edit keys with no effect here.
pub const IGNORED: &[&str] = &[
    "service_id",
    "ping_method",
    "serialization_type",
    "content_encoding",
    "match_slash",
    "http_accept",
    "hl7_version",
    "json_path",
    "should_parse_on_input",
    "should_validate",
    "should_return_errors",
    "data_encoding",
    "is_audit_log_sent_active",
    "is_audit_log_received_active",
    "max_len_messages_sent",
    "max_len_messages_received",
    "max_bytes_per_message_sent",
    "max_bytes_per_message_received",
    "tls_verify",
    "is_wrapper",
    "wrapper_type",
    "username",
    "password",
    "cache_expiry",
    "rate_limit_type",
    "rate_limit_def",
    "rate_limit_check_parent_def",
];

/// Upstream's create/edit keys for features this server does not have: refused with a value.
pub const UNSUPPORTED: &[&str] = &[
    "security_groups",
    "has_rbac",
    "sec_use_rbac",
    "sec_tls_ca_cert_id",
    "cache_id",
    "service_whitelist",
    "is_rate_limit_active",
];

const DESCRIBED: &[&str] = &[
    "id",
    "name",
    "is_active",
    "is_internal",
    "connection",
    "transport",
    "host",
    "url_path",
    "method",
    "soap_action",
    "soap_version",
    "data_format",
    "content_type",
    "timeout",
    "pool_size",
    "validate_tls",
    "merge_url_params_req",
    "url_params_pri",
    "params_pri",
    "security_id",
    "security_name",
    "sec_type",
    "service_id",
    "service_name",
    "cluster_id",
];

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!(
            "zato.http-soap.get-list",
            get_list,
            &io! {
                doc: "REST and SOAP channels and outgoing connections, filtered by `connection` and `transport`.",
                optional: &["connection", "transport"],
                ignored: &["data_format", "cur_page", "paginate", "query"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.http-soap.get",
            get,
            &io! {
                doc: "One channel or outgoing connection, by id, or by name and `connection` (default `channel`).",
                optional: &["id", "name", "connection"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.http-soap.get-by-name",
            get,
            &io! {
                doc: "The same as zato.http-soap.get.",
                optional: &["name", "connection", "id"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.http-soap.ping",
            ping,
            &io! {
                doc: "Sends a request through an outgoing connection (to `ping_path`, or its own path).",
                optional: &["id", "name", "connection", "ping_path"],
                output: &["id", "is_success", "info"],
            }
        ),
        builtin!(
            "zato.http-soap.create",
            create,
            &io! {
                doc: "Creates a REST or SOAP channel (`connection: channel`, needs a `service`) or outgoing connection (`connection: outgoing`, needs a `host`). A second channel with the same path and method is refused.",
                required: &["name", "url_path", "connection"],
                optional: FIELDS,
                ignored: IGNORED,
                unsupported: UNSUPPORTED,
                output: &["id", "name", "url_path"],
            }
        ),
        builtin!(
            "zato.http-soap.edit",
            edit,
            &io! {
                doc: "Changes a channel or outgoing connection; optional fields left out keep their values.",
                required: &["id", "name", "url_path", "connection"],
                optional: FIELDS,
                ignored: IGNORED,
                unsupported: UNSUPPORTED,
                output: &["id", "name"],
            }
        ),
        builtin!(
            "zato.http-soap.delete",
            delete,
            &io! {
                doc: "Deletes a channel or outgoing connection (not an internal one), by id, or by name and `connection`.",
                optional: &["id", "name", "connection", "should_raise_if_missing"],
                output: &["details"],
            }
        ),
    ]
}
