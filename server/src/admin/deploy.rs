//! `zato.hot-deploy.create` (apply a stored deployment package on this server).
use serde_json::{Value, json};

use super::{Builtin, Ctx, Input, ServiceResult};
use crate::{builtin, deploy, io};

async fn hot_deploy_create(ctx: &Ctx, input: Value) -> ServiceResult {
    let mut i = Input::new(&input);
    let package_id = i.int("package_id")?;
    i.done()?;
    let names = deploy::apply_package(&ctx.state, package_id, true).await?;
    Ok(json!({"services_deployed": names}))
}

pub fn services() -> Vec<Builtin> {
    vec![builtin!(
        "zato.hot-deploy.create",
        hot_deploy_create,
        &io! {
            doc: "Deploys a package stored in the ODB (by zato.service.upload-package) on this server.",
            required: &["package_id"],
            ignored: &["is_startup"],
            output: &["services_deployed"],
        }
    )]
}
