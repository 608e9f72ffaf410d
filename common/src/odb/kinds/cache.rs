//! Built-in cache definitions (`zato.cache.builtin.*`, enmasse `zato_cache_builtin`): upstream's
//! `cache` and `cache_builtin` columns in one table of ours. A definition names a cache and
//! bounds it; `self.cache.get_cache('builtin', name)` also reaches a cache with no definition,
//! unbounded. Entries live in the ODB (`odb::cache`), shared by every server, so
//! `sync_method` and `persistent_storage` are kept for upstream's clients only.
use super::{Default as D, Field, Kind, Ty};
use crate::odb::{Odb, OdbError, OdbResult};

/// Upstream's default for both limits.
pub const DEFAULT_MAX: i64 = 10_000;

pub static BUILTIN: Kind = Kind {
    name: "cache_builtin",
    label: "built-in cache definition",
    table: "cache_builtin",
    services: "zato.cache.builtin",
    enmasse: "zato_cache_builtin",
    fields: &[
        Field::new("is_active", Ty::Bool).default(D::Bool(true)),
        Field::new("is_default", Ty::Bool).default(D::Bool(false)),
        // Entries kept at most (the oldest written go first, within a minute).
        Field::new("max_size", Ty::Int)
            .default(D::Int(DEFAULT_MAX))
            .range(1, 2_147_483_647),
        // Characters of a value's JSON text at most.
        Field::new("max_item_size", Ty::Int)
            .default(D::Int(DEFAULT_MAX))
            .range(1, 2_147_483_647),
        // A read of an entry that expires starts its expiry over.
        Field::new("extend_expiry_on_get", Ty::Bool).default(D::Bool(true)),
        // Ours always: a write sets the entry's expiry anew.
        Field::new("extend_expiry_on_set", Ty::Bool).default(D::Bool(true)),
        Field::new("sync_method", Ty::Str(20))
            .default(D::Str("in-background"))
            .one_of(&["in-background", "no-sync"]),
        Field::new("persistent_storage", Ty::Str(40))
            .default(D::Str("sql"))
            .one_of(&["sql", "no-persistent-storage"]),
    ],
};

impl Odb {
    /// Upstream's two built-in caches for `cluster_id`: `default` (`self.cache.default`) and
    /// the one for Bearer tokens, whose reads do not extend an entry's life. One that exists
    /// already is left as it is (servers upgrading an ODB together race to add them).
    pub async fn add_default_caches(&self, cluster_id: i64) -> OdbResult<()> {
        let mut default = BUILTIN.defaults();
        default.insert("is_default".into(), true.into());
        let mut bearer = BUILTIN.defaults();
        bearer.insert("extend_expiry_on_get".into(), false.into());
        for (name, values) in [("default", default), ("zato.bearer.token", bearer)] {
            match self.kind_create(&BUILTIN, cluster_id, name, &values).await {
                Ok(_) | Err(OdbError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
