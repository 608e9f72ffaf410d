//! `zato.security.basic-auth.*` and `zato.security.apikey.*`. Secrets are stored encrypted
//! and never returned.
use serde_json::{Value, json};
use zato_common::odb::security::{APIKEY, BASIC_AUTH, SecDef, SecInput};

use super::{Builtin, Ctx, Input, ServiceError, ServiceResult, check_cluster};
use crate::{broker, builtin};

fn describe(d: &SecDef) -> Value {
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "is_active": d.is_active,
        "username": d.username,
        "sec_type": d.sec_type,
    });
    if d.sec_type == BASIC_AUTH {
        v["realm"] = json!(d.realm);
    } else {
        v["header"] = json!(d.header);
    }
    v
}

async fn list(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    check_cluster(ctx, &Input::new(input))?;
    let defs = ctx
        .state
        .odb
        .security_list(ctx.state.cluster_id, Some(sec_type))
        .await?;
    Ok(Value::Array(defs.iter().map(describe).collect()))
}

async fn create(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    let mut i = Input::new(input);
    check_cluster(ctx, &i)?;
    let name = i.str("name");
    let is_active = i.opt_bool("is_active")?.unwrap_or(true);
    let (username, realm, header) = if sec_type == BASIC_AUTH {
        let u = i.str("username");
        (u, i.opt_str("realm").unwrap_or_default(), String::new())
    } else {
        let h = i
            .opt_str("header")
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "X-API-Key".into());
        (name.clone(), String::new(), h)
    };
    // Upstream creates definitions with a random secret that change-password then sets.
    let password = i
        .opt_str("password")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    i.done()?;
    let stored = ctx.state.cfg.secret_key.encrypt_for_odb(&password);
    let input = SecInput {
        name: &name,
        username: &username,
        is_active,
        realm: &realm,
        header: &header,
    };
    let id = ctx
        .state
        .odb
        .security_create(ctx.state.cluster_id, sec_type, &input, &stored)
        .await?;
    broker::config_changed(&ctx.state).await;
    Ok(
        json!({"id": id, "name": name, "header": if sec_type == APIKEY { json!(header) } else { Value::Null }}),
    )
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
    def.filter(|d| d.sec_type == sec_type)
        .ok_or_else(|| ServiceError::new(404, format!("No such {sec_type} definition")))
}

async fn edit(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    let mut i = Input::new(input);
    check_cluster(ctx, &i)?;
    let id = i.int("id")?;
    i.done()?;
    let old = existing(ctx, &Input::new(&json!({"id": id})), sec_type).await?;
    let name = i.opt_str("name").unwrap_or(old.name.clone());
    let is_active = i.opt_bool("is_active")?.unwrap_or(old.is_active);
    let username = if sec_type == BASIC_AUTH {
        i.opt_str("username").unwrap_or(old.username.clone())
    } else {
        name.clone()
    };
    let realm = i.opt_str("realm").or(old.realm.clone()).unwrap_or_default();
    let header = i
        .opt_str("header")
        .or(old.header.clone())
        .unwrap_or_default();
    let data = SecInput {
        name: &name,
        username: &username,
        is_active,
        realm: &realm,
        header: &header,
    };
    ctx.state
        .odb
        .security_edit(ctx.state.cluster_id, id, sec_type, &data)
        .await?;
    broker::config_changed(&ctx.state).await;
    Ok(json!({"id": id, "name": name}))
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
    broker::config_changed(&ctx.state).await;
    Ok(json!({"details": format!("Deleted `{}`", def.name)}))
}

async fn change_password(ctx: &Ctx, input: &Value, sec_type: &str) -> ServiceResult {
    let mut i = Input::new(input);
    check_cluster(ctx, &i)?;
    let p1 = i.str("password1");
    let p2 = i.opt_str("password2").unwrap_or_else(|| p1.clone());
    i.done()?;
    if p1 != p2 {
        return Err(ServiceError::bad_request("password1 and password2 differ"));
    }
    let def = existing(ctx, &i, sec_type).await?;
    let stored = ctx.state.cfg.secret_key.encrypt_for_odb(&p1);
    ctx.state
        .odb
        .security_set_password(ctx.state.cluster_id, def.id, &stored)
        .await?;
    broker::config_changed(&ctx.state).await;
    Ok(json!({"id": def.id}))
}

macro_rules! family {
    ($mod:ident, $ty:expr) => {
        mod $mod {
            use super::*;
            pub async fn get_list(ctx: &Ctx, input: Value) -> ServiceResult {
                list(ctx, &input, $ty).await
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

pub fn services() -> Vec<Builtin> {
    vec![
        builtin!("zato.security.basic-auth.get-list", basic::get_list),
        builtin!("zato.security.basic-auth.create", basic::create),
        builtin!("zato.security.basic-auth.edit", basic::edit),
        builtin!("zato.security.basic-auth.delete", basic::delete),
        builtin!(
            "zato.security.basic-auth.change-password",
            basic::change_password
        ),
        builtin!("zato.security.apikey.get-list", apikey::get_list),
        builtin!("zato.security.apikey.create", apikey::create),
        builtin!("zato.security.apikey.edit", apikey::edit),
        builtin!("zato.security.apikey.delete", apikey::delete),
        builtin!(
            "zato.security.apikey.change-password",
            apikey::change_password
        ),
    ]
}
