//! `zato.security.*`: Basic Auth, API keys, WS-Security, technical accounts and JWT
//! definitions, plus `zato.security.jwt.log-in|log-out`. Secrets are stored encrypted and never
//! returned.
use serde_json::{Value, json};
use zato_common::odb::security::{
    APIKEY, BASIC_AUTH, JWT, SEC_TYPES, SecDef, SecInput, TECH_ACCOUNT, WSS, WSS_CLEAR_TEXT,
    WSS_DIGEST, WssOpts,
};

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster, new_password};
use crate::events::ClusterEvent;
use crate::{builtin, io, objects};

/// What get-list and get-by-name return: the type's own fields, never the secret.
pub fn describe(d: &SecDef) -> Value {
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "is_active": d.is_active,
        "username": d.username,
        "sec_type": d.sec_type,
    });
    match d.sec_type.as_str() {
        BASIC_AUTH => v["realm"] = json!(d.realm),
        APIKEY => v["header"] = json!(d.header),
        WSS => {
            let o = d.wss.unwrap_or_default();
            v["password_type"] = json!(d.password_type);
            v["reject_empty_nonce_creat"] = json!(o.reject_empty_nonce_creat);
            v["reject_stale_tokens"] = json!(o.reject_stale_tokens);
            v["reject_expiry_limit"] = json!(o.reject_expiry_limit);
            v["nonce_freshness_time"] = json!(o.nonce_freshness_time);
        }
        JWT => v["ttl"] = json!(d.ttl),
        _ => {}
    }
    v
}

async fn list(ctx: &Ctx, input: &Value, sec_type: Option<&str>) -> ServiceResult {
    check_cluster(ctx, &Input::new(input))?;
    let defs = ctx
        .state
        .odb
        .security_list(ctx.state.cluster_id, sec_type)
        .await?;
    Ok(Value::Array(
        defs.iter()
            .filter(|d| sec_type.is_some() || SEC_TYPES.contains(&d.sec_type.as_str()))
            .map(describe)
            .collect(),
    ))
}

/// `zato.security.get-list`: every definition, or those of the `sec_type`s given.
async fn get_list_all(ctx: &Ctx, input: Value) -> ServiceResult {
    let wanted: Vec<String> = match input.get("sec_type") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    };
    let Value::Array(all) = list(ctx, &input, None).await? else {
        return Ok(Value::Array(Vec::new()));
    };
    Ok(Value::Array(
        all.into_iter()
            .filter(|d| {
                wanted.is_empty()
                    || d["sec_type"]
                        .as_str()
                        .is_some_and(|t| wanted.iter().any(|w| w == t))
            })
            .collect(),
    ))
}

/// Reads create/edit input; on edit, `old` supplies what is not given.
pub fn read(
    i: &mut Input<'_>,
    sec_type: &str,
    old: Option<&SecDef>,
) -> Result<SecInput, ServiceError> {
    let name = match old {
        Some(o) => i.opt_str("name").unwrap_or(o.name.clone()),
        None => i.str("name"),
    };
    let is_active = i
        .opt_bool("is_active")?
        .or(old.map(|o| o.is_active))
        .unwrap_or(true);
    let username = match sec_type {
        BASIC_AUTH | WSS | JWT => match old {
            Some(o) => i.opt_str("username").unwrap_or(o.username.clone()),
            None => i.str("username"),
        },
        // API keys and technical accounts are known by their name.
        _ => name.clone(),
    };
    let realm = i
        .opt_str("realm")
        .or(old.and_then(|o| o.realm.clone()))
        .unwrap_or_default();
    let header = i
        .opt_str("header")
        .or(old.and_then(|o| o.header.clone()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "X-API-Key".into());
    let password_type = i
        .opt_str("password_type")
        .or(old.and_then(|o| o.password_type.clone()))
        .unwrap_or_else(|| WSS_CLEAR_TEXT.into());
    if sec_type == WSS && password_type != WSS_CLEAR_TEXT && password_type != WSS_DIGEST {
        return Err(ServiceError::bad_request(format!(
            "`password_type` must be `{WSS_CLEAR_TEXT}` (PasswordText) or `{WSS_DIGEST}` (PasswordDigest), got `{password_type}`"
        )));
    }
    let base = old.and_then(|o| o.wss).unwrap_or_default();
    let wss = WssOpts {
        reject_empty_nonce_creat: i
            .opt_bool("reject_empty_nonce_creat")?
            .unwrap_or(base.reject_empty_nonce_creat),
        reject_stale_tokens: i
            .opt_bool("reject_stale_tokens")?
            .unwrap_or(base.reject_stale_tokens),
        reject_expiry_limit: i
            .opt_int("reject_expiry_limit")?
            .unwrap_or(base.reject_expiry_limit),
        nonce_freshness_time: i
            .opt_int("nonce_freshness_time")?
            .unwrap_or(base.nonce_freshness_time),
    };
    let ttl = i
        .opt_int("ttl")?
        .or(old.and_then(|o| o.ttl))
        .unwrap_or(3600);
    // Bounded so that no expiry date computed from them can overflow.
    let year = zato_common::config::MAX_SECONDS as i64;
    let seconds = |v: i64| (1..=year).contains(&v);
    if sec_type == JWT && !seconds(ttl) {
        return Err(ServiceError::bad_request(format!(
            "`ttl` must be a number of seconds from 1 to {year} (a year), not {ttl}"
        )));
    }
    if sec_type == WSS && !(seconds(wss.reject_expiry_limit) && seconds(wss.nonce_freshness_time)) {
        return Err(ServiceError::bad_request(format!(
            "`reject_expiry_limit` and `nonce_freshness_time` must be numbers of seconds from 1 to {year} (a year)"
        )));
    }
    Ok(SecInput {
        name,
        username,
        is_active,
        realm,
        header,
        password_type,
        wss,
        ttl,
    })
}

async fn create(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    let mut i = Input::new(input);
    check_cluster(ctx, &i)?;
    let data = read(&mut i, sec_type, None)?;
    // Upstream creates definitions with a random secret that change-password then sets.
    let password = i
        .opt_str("password")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    i.done()?;
    let stored = ctx.state.cfg.secret_key.encrypt_for_odb(&password);
    let id = ctx
        .state
        .odb
        .security_create(ctx.state.cluster_id, sec_type, &data, &stored)
        .await?;
    ctx.state.changed(objects::SECURITY, None).await;
    let mut out = json!({"id": id, "name": data.name});
    if sec_type == APIKEY {
        out["header"] = json!(data.header);
    }
    Ok(out)
}

async fn existing(ctx: &Ctx, i: &Input<'_>, sec_type: &str) -> Result<SecDef, ServiceError> {
    let cluster = ctx.state.cluster_id;
    let def = if let Some(id) = i.opt_int("id")? {
        ctx.state.odb.security_by_id(cluster, id).await?
    } else if let Some(name) = i.opt_str("name") {
        ctx.state.odb.security_by_name(cluster, &name).await?
    } else {
        return Err(ServiceError::bad_request("Missing input: id or name"));
    };
    def.filter(|d| d.sec_type == sec_type).ok_or_else(|| {
        ServiceError::new(
            crate::core::ErrorKind::NotFound,
            format!("No such {sec_type} definition"),
        )
    })
}

async fn get_by_name(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    let i = Input::new(input);
    check_cluster(ctx, &i)?;
    Ok(describe(&existing(ctx, &i, sec_type).await?))
}

async fn edit(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    let mut i = Input::new(input);
    check_cluster(ctx, &i)?;
    let id = i.int("id")?;
    i.done()?;
    if i.opt_str("password").is_some() {
        return Err(ServiceError::bad_request(
            "edit does not change the secret; use change-password (password1, password2)",
        ));
    }
    let old = existing(ctx, &Input::new(&json!({"id": id})), sec_type).await?;
    let data = read(&mut i, sec_type, Some(&old))?;
    ctx.state
        .odb
        .security_edit(ctx.state.cluster_id, id, sec_type, &data)
        .await?;
    ctx.state.changed(objects::SECURITY, None).await;
    Ok(json!({"id": id, "name": data.name}))
}

async fn delete(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    let i = Input::new(input);
    check_cluster(ctx, &i)?;
    let def = existing(ctx, &i, sec_type).await?;
    if def.name == zato_common::setup::ADMIN_INVOKE_SEC {
        return Err(ServiceError::bad_request(
            "`admin.invoke` is needed by every admin client and cannot be deleted",
        ));
    }
    ctx.state
        .odb
        .security_delete(ctx.state.cluster_id, def.id)
        .await?;
    ctx.state.changed(objects::SECURITY, None).await;
    Ok(json!({"details": format!("Deleted `{}`", def.name)}))
}

async fn change_password(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    let mut i = Input::new(input);
    check_cluster(ctx, &i)?;
    let p1 = new_password(&mut i, false)?;
    let def = existing(ctx, &i, sec_type).await?;
    let stored = ctx.state.cfg.secret_key.encrypt_for_odb(&p1);
    ctx.state
        .odb
        .security_set_password(ctx.state.cluster_id, def.id, &stored)
        .await?;
    ctx.state.changed(objects::SECURITY, None).await;
    Ok(json!({"id": def.id}))
}

/// `zato.security.jwt.log-in {username, password}` → `{token}` for an active JWT definition.
/// Definitions come from memory; every one is compared, in constant time, so neither the
/// ODB nor timing tells which user names exist. Failures are throttled per client and user.
async fn jwt_log_in(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let username = i.str("username");
    let password = i.str("password");
    i.done()?;
    let throttle = &ctx.state.login_throttle;
    let user_key = format!("user:{username}");
    let client_key = ctx.client.as_ref().map(|c| format!("client:{}", c.key()));
    let blocked = [Some(&user_key), client_key.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|k| throttle.blocked_for(k))
        .max();
    if let Some(wait) = blocked {
        tracing::info!(cid = ctx.cid, username = ?username, "JWT log-in throttled");
        return Err(ServiceError::new(
            crate::core::ErrorKind::TooManyRequests,
            format!(
                "Too many failed log-ins; try again in {} s",
                wait.as_secs() + 1
            ),
        ));
    }
    let logins = ctx.state.tables.jwt_logins.load();
    let Some(def) = crate::security::jwt::find_login(&logins, &username, &password) else {
        for k in [Some(&user_key), client_key.as_ref()].into_iter().flatten() {
            throttle.failed(k);
        }
        tracing::info!(cid = ctx.cid, username = ?username, "JWT log-in refused");
        return Err(ServiceError::new(
            crate::core::ErrorKind::Unauthorized,
            "Invalid username or password",
        ));
    };
    let (token, claims) = ctx
        .state
        .jwt_keys
        .issue(&def.username, def.id, def.ttl)
        .map_err(|e| ServiceError::internal(&format!("cannot sign the token: {e}")))?;
    Ok(json!({"token": token, "expires_at": claims.exp, "ttl": def.ttl}))
}

/// `zato.security.jwt.log-out {token}`: the token is refused by every server from now on.
/// Only the revocation travels (a `jwt_revoked` event): nothing else is reloaded.
async fn jwt_log_out(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let token = i.str("token");
    i.done()?;
    let claims = ctx.state.jwt_keys.verify(&token).map_err(|e| {
        ServiceError::new(
            crate::core::ErrorKind::Unauthorized,
            format!("Invalid token: {e}"),
        )
    })?;
    let ttl = claims.exp - chrono::Utc::now().timestamp();
    let key = format!("{}{}", crate::security::jwt::REVOKED_PREFIX, claims.jti);
    ctx.state
        .odb
        .kv_insert_new(ctx.state.cluster_id, &key, &claims.sub, ttl.max(1))
        .await?;
    ctx.state.revoke_jwt(&claims.jti, claims.exp);
    ctx.state
        .events
        .publish(&ClusterEvent::JwtRevoked {
            jti: claims.jti,
            exp: claims.exp,
        })
        .await;
    Ok(json!({"result": "ok"}))
}

macro_rules! family {
    ($mod:ident, $ty:expr) => {
        mod $mod {
            use super::*;
            pub async fn get_list(ctx: &Ctx, input: Value) -> ServiceResult {
                list(ctx, &input, Some($ty)).await
            }
            pub async fn get_by_name(ctx: &Ctx, input: Value) -> ServiceResult {
                super::get_by_name(ctx, &input, $ty).await
            }
            pub async fn create(ctx: &Ctx, input: Value) -> ServiceResult {
                super::create(ctx, &input, $ty).await
            }
            pub async fn edit(ctx: &Ctx, input: Value) -> ServiceResult {
                super::edit(ctx, &input, $ty).await
            }
            pub async fn delete(ctx: &Ctx, input: Value) -> ServiceResult {
                super::delete(ctx, &input, $ty).await
            }
            pub async fn change_password(ctx: &Ctx, input: Value) -> ServiceResult {
                super::change_password(ctx, &input, $ty).await
            }
        }
    };
}

family!(basic, BASIC_AUTH);
family!(apikey, APIKEY);
family!(wss, WSS);
family!(tech, TECH_ACCOUNT);
family!(jwt, JWT);

/// The fields each family's create and edit read, besides `name` and `is_active`.
const BASIC_FIELDS: &[&str] = &["name", "is_active", "username", "realm", "password"];
const APIKEY_FIELDS: &[&str] = &["name", "is_active", "header", "password"];
const WSS_FIELDS: &[&str] = &[
    "name",
    "is_active",
    "username",
    "password",
    "password_type",
    "reject_empty_nonce_creat",
    "reject_stale_tokens",
    "reject_expiry_limit",
    "nonce_freshness_time",
];
const TECH_FIELDS: &[&str] = &["name", "is_active", "password"];
const JWT_FIELDS: &[&str] = &["name", "is_active", "username", "ttl", "password"];
const WITH_USER: &[&str] = &["name", "username"];
/// Upstream's rate limits: not here (yet), so a limit is never silently dropped.
pub const RATE_LIMITS: &[&str] = &["is_rate_limit_active"];
pub const RATE_LIMIT_DETAILS: &[&str] = &[
    "rate_limit_type",
    "rate_limit_def",
    "rate_limit_check_parent_def",
];
const DESCRIBED: &[&str] = &[
    "id",
    "name",
    "is_active",
    "username",
    "sec_type",
    "realm",
    "header",
    "password_type",
    "reject_empty_nonce_creat",
    "reject_stale_tokens",
    "reject_expiry_limit",
    "nonce_freshness_time",
    "ttl",
];

macro_rules! register {
    ($out:ident, $prefix:literal, $m:ident, $what:literal, $required:expr, $fields:expr) => {
        $out.extend([
            builtin!(
                concat!($prefix, ".get-list"),
                $m::get_list,
                &io! {
                    doc: concat!("Every ", $what, " definition (secrets are never returned)."),
                    ignored: &["cur_page", "paginate", "query"],
                    output: DESCRIBED,
                }
            ),
            builtin!(
                concat!($prefix, ".get-by-name"),
                $m::get_by_name,
                &io! {
                    doc: concat!("One ", $what, " definition, by name or id."),
                    optional: &["name", "id"],
                    output: DESCRIBED,
                }
            ),
            builtin!(
                concat!($prefix, ".create"),
                $m::create,
                &io! {
                    doc: concat!("Creates a ", $what, " definition; without a `password` it gets a random one (set it with change-password)."),
                    required: $required,
                    optional: $fields,
                    ignored: RATE_LIMIT_DETAILS,
                    unsupported: RATE_LIMITS,
                    output: &["id", "name", "header"],
                }
            ),
            builtin!(
                concat!($prefix, ".edit"),
                $m::edit,
                &io! {
                    doc: concat!("Changes a ", $what, " definition; fields left out keep their values."),
                    required: &["id"],
                    optional: $fields,
                    ignored: RATE_LIMIT_DETAILS,
                    unsupported: RATE_LIMITS,
                    output: &["id", "name"],
                }
            ),
            builtin!(
                concat!($prefix, ".delete"),
                $m::delete,
                &io! {
                    doc: concat!("Deletes a ", $what, " definition, by id or name, unless a channel uses it."),
                    optional: &["id", "name"],
                    output: &["details"],
                }
            ),
            builtin!(
                concat!($prefix, ".change-password"),
                $m::change_password,
                &io! {
                    doc: concat!("Sets the secret of a ", $what, " definition, by id or name."),
                    required: &["password1"],
                    optional: &["id", "name", "password2"],
                    output: &["id"],
                }
            ),
        ]);
    };
}

pub fn services() -> Vec<Builtin> {
    let mut out = vec![
        builtin!(
            "zato.security.get-list",
            get_list_all,
            &io! {
                doc: "Every security definition, or those of the types in `sec_type` (a name or a list).",
                optional: &["sec_type"],
                ignored: &["needs_internal", "cur_page", "paginate", "query"],
                output: DESCRIBED,
            }
        ),
        builtin!(
            "zato.security.jwt.log-in",
            jwt_log_in,
            &io! {
                doc: "Checks a JWT definition's username and password and returns a signed token.",
                required: &["username", "password"],
                unsupported: &["totp_code"],
                output: &["token", "expires_at", "ttl"],
            }
        ),
        builtin!(
            "zato.security.jwt.log-out",
            jwt_log_out,
            &io! {
                doc: "Revokes a token issued by zato.security.jwt.log-in.",
                required: &["token"],
                output: &["result"],
            }
        ),
    ];
    register!(
        out,
        "zato.security.basic-auth",
        basic,
        "Basic Auth",
        WITH_USER,
        BASIC_FIELDS
    );
    register!(
        out,
        "zato.security.apikey",
        apikey,
        "API key",
        &["name"],
        APIKEY_FIELDS
    );
    register!(
        out,
        "zato.security.wss",
        wss,
        "WS-Security",
        WITH_USER,
        WSS_FIELDS
    );
    register!(
        out,
        "zato.security.tech-account",
        tech,
        "technical account",
        &["name"],
        TECH_FIELDS
    );
    register!(out, "zato.security.jwt", jwt, "JWT", WITH_USER, JWT_FIELDS);
    out
}

/// The fields a definition of `sec_type` takes, for enmasse.
pub fn fields(sec_type: &str) -> &'static [&'static str] {
    match sec_type {
        BASIC_AUTH => BASIC_FIELDS,
        APIKEY => APIKEY_FIELDS,
        WSS => WSS_FIELDS,
        JWT => JWT_FIELDS,
        _ => TECH_FIELDS,
    }
}
