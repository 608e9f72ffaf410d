//! Config kinds declared as data: one [`Kind`] per ODB table of a connector (its columns,
//! which are required, which hold a secret, which point at another kind or at a service).
//! From a descriptor come the table's DDL, the ODB reads and writes below, the admin CRUD
//! services and the enmasse type, so a new connector declares its tables and gets those.
//!
//! Rows travel as JSON maps whose values are typed by the descriptor (integers as numbers,
//! booleans as booleans, NULL as null); the connector parses them into its own types.
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Odb, OdbError, OdbResult, conflict_or};

pub mod amqp;
pub mod cache;

/// Every kind with a table of its own, in dependency order (a kind after those it points at).
pub static ALL: &[&Kind] = &[&amqp::DEF, &amqp::OUT, &amqp::CHANNEL, &cache::BUILTIN];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    /// Text up to this many characters.
    Str(u16),
    Int,
    Bool,
    /// The `password` column, encrypted with the cluster's key; never listed.
    Secret,
    /// `<x>_id` pointing at a row of another kind; also given and shown as `<x>_name`.
    Ref(&'static Kind),
    /// `service_id`; also given as `service` or `service_name` and shown as `service_name`.
    Service,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    None,
    Int(i64),
    Str(&'static str),
    Bool(bool),
}

impl Default {
    pub fn value(self) -> Value {
        match self {
            Self::None => Value::Null,
            Self::Int(i) => Value::from(i),
            Self::Str(s) => Value::from(s),
            Self::Bool(b) => Value::Bool(b),
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub default: Default,
    /// Inclusive bounds of an integer.
    pub range: Option<(i64, i64)>,
    /// The only values a text field may take.
    pub one_of: &'static [&'static str],
}

impl Field {
    pub const fn new(name: &'static str, ty: Ty) -> Self {
        Self {
            name,
            ty,
            required: false,
            default: Default::None,
            range: None,
            one_of: &[],
        }
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn default(mut self, d: Default) -> Self {
        self.default = d;
        self
    }
    pub const fn range(mut self, lo: i64, hi: i64) -> Self {
        self.range = Some((lo, hi));
        self
    }
    pub const fn one_of(mut self, values: &'static [&'static str]) -> Self {
        self.one_of = values;
        self
    }

    /// For a [`Ty::Ref`] field `def_id`: `def`.
    pub fn ref_stem(&self) -> &'static str {
        self.name.strip_suffix("_id").unwrap_or(self.name)
    }
}

/// One config kind: its table and what its rows hold besides `id`, `name` and `cluster_id`.
#[derive(Debug, PartialEq)]
pub struct Kind {
    /// The kind's name among cluster events and live tables (`amqp_def`).
    pub name: &'static str,
    /// What people call one (`AMQP definition`), for messages.
    pub label: &'static str,
    /// Upstream's table (`conn_def_amqp`).
    pub table: &'static str,
    /// Upstream's admin service prefix (`zato.definition.amqp`).
    pub services: &'static str,
    /// Upstream's enmasse type (`def_amqp`).
    pub enmasse: &'static str,
    pub fields: &'static [Field],
}

impl Kind {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Every field at its default (a row made by the server itself).
    pub fn defaults(&self) -> Values {
        self.fields
            .iter()
            .map(|f| (f.name.to_string(), f.default.value()))
            .collect()
    }

    pub fn secret(&self) -> Option<&Field> {
        self.fields.iter().find(|f| f.ty == Ty::Secret)
    }

    fn columns(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter()
    }

    fn select(&self) -> String {
        let cols: Vec<&str> = self.columns().map(|f| f.name).collect();
        format!(
            "SELECT id, name, {} FROM {} WHERE cluster_id = ?",
            cols.join(", "),
            self.table
        )
    }

    fn row(&self, r: &AnyRow) -> OdbResult<Map<String, Value>> {
        let mut m = Map::new();
        m.insert("id".into(), Value::from(r.try_get::<i64, _>("id")?));
        m.insert("name".into(), Value::from(r.try_get::<String, _>("name")?));
        for f in self.columns() {
            let v = match f.ty {
                Ty::Str(_) | Ty::Secret => r
                    .try_get::<Option<String>, _>(f.name)?
                    .map_or(Value::Null, Value::from),
                Ty::Int | Ty::Ref(_) | Ty::Service => r
                    .try_get::<Option<i64>, _>(f.name)?
                    .map_or(Value::Null, Value::from),
                Ty::Bool => r
                    .try_get::<Option<i64>, _>(f.name)?
                    .map_or(Value::Null, |i| Value::Bool(i != 0)),
            };
            m.insert(f.name.to_string(), v);
        }
        Ok(m)
    }
}

/// What [`Odb::kind_create`] and [`Odb::kind_update`] write: column values (the secret already
/// encrypted), checked by the caller.
pub type Values = Map<String, Value>;

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind<'q>(q: AnyQuery<'q>, f: &Field, v: Option<&Value>) -> AnyQuery<'q> {
    match (f.ty, v) {
        (_, None | Some(Value::Null)) => match f.ty {
            Ty::Str(_) | Ty::Secret => q.bind(None::<String>),
            _ => q.bind(None::<i64>),
        },
        (Ty::Bool, Some(v)) => q.bind(i64::from(v.as_bool().unwrap_or(false))),
        (Ty::Int | Ty::Ref(_) | Ty::Service, Some(v)) => q.bind(v.as_i64()),
        (Ty::Str(_) | Ty::Secret, Some(Value::String(s))) => q.bind(s.clone()),
        (Ty::Str(_) | Ty::Secret, Some(other)) => q.bind(other.to_string()),
    }
}

impl Odb {
    pub async fn kind_list(&self, kind: &Kind, cluster_id: i64) -> OdbResult<Vec<Values>> {
        let sql = self.dialect(&format!("{} ORDER BY name", kind.select()));
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(cluster_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| kind.row(r)).collect()
    }

    pub async fn kind_by_id(
        &self,
        kind: &Kind,
        cluster_id: i64,
        id: i64,
    ) -> OdbResult<Option<Values>> {
        self.kind_one(kind, cluster_id, "id", |q| q.bind(id)).await
    }

    pub async fn kind_by_name(
        &self,
        kind: &Kind,
        cluster_id: i64,
        name: &str,
    ) -> OdbResult<Option<Values>> {
        self.kind_one(kind, cluster_id, "name", |q| q.bind(name.to_string()))
            .await
    }

    /// The row whose `column` has the value `bind` adds to the query.
    async fn kind_one<'q>(
        &self,
        kind: &Kind,
        cluster_id: i64,
        column: &str,
        bind: impl FnOnce(AnyQuery<'q>) -> AnyQuery<'q>,
    ) -> OdbResult<Option<Values>> {
        let sql = self.dialect(&format!("{} AND {column} = ?", kind.select()));
        let row = bind(sqlx::query(AssertSqlSafe(sql)).bind(cluster_id))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(|r| kind.row(r)).transpose()
    }

    pub async fn kind_create(
        &self,
        kind: &Kind,
        cluster_id: i64,
        name: &str,
        values: &Values,
    ) -> OdbResult<i64> {
        let mut conn = self.pool().acquire().await?;
        self.kind_create_on(&mut conn, kind, cluster_id, name, values)
            .await
    }

    /// [`Odb::kind_create`] on a given connection (a transaction's).
    pub async fn kind_create_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        kind: &Kind,
        cluster_id: i64,
        name: &str,
        values: &Values,
    ) -> OdbResult<i64> {
        let cols: Vec<&str> = kind.columns().map(|f| f.name).collect();
        let marks = vec!["?"; cols.len() + 2].join(", ");
        let mut sql = self.dialect(&format!(
            "INSERT INTO {} (name, cluster_id, {}) VALUES ({marks})",
            kind.table,
            cols.join(", ")
        ));
        if self.engine() != crate::config::OdbEngine::Mysql {
            sql.push_str(" RETURNING id");
        }
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(name.to_string())
            .bind(cluster_id);
        for f in kind.columns() {
            q = bind(q, f, values.get(f.name));
        }
        self.insert_returning_id_on(conn, q)
            .await
            .map_err(|e| match e {
                OdbError::Query(e) => {
                    conflict_or(e, || format!("{} `{name}` already exists", kind.label))
                }
                other => other,
            })
    }

    /// Writes `name` and the columns present in `values` (others keep their value).
    pub async fn kind_update(
        &self,
        kind: &Kind,
        cluster_id: i64,
        id: i64,
        name: &str,
        values: &Values,
    ) -> OdbResult<u64> {
        let mut conn = self.pool().acquire().await?;
        self.kind_update_on(&mut conn, kind, cluster_id, id, name, values)
            .await
    }

    /// [`Odb::kind_update`] on a given connection (a transaction's).
    pub async fn kind_update_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        kind: &Kind,
        cluster_id: i64,
        id: i64,
        name: &str,
        values: &Values,
    ) -> OdbResult<u64> {
        let set: Vec<&Field> = kind
            .columns()
            .filter(|f| values.contains_key(f.name))
            .collect();
        let mut assignments = vec!["name = ?".to_string()];
        assignments.extend(set.iter().map(|f| format!("{} = ?", f.name)));
        let sql = self.dialect(&format!(
            "UPDATE {} SET {} WHERE cluster_id = ? AND id = ?",
            kind.table,
            assignments.join(", ")
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(name.to_string());
        for f in set {
            q = bind(q, f, values.get(f.name));
        }
        let res = q
            .bind(cluster_id)
            .bind(id)
            .execute(conn)
            .await
            .map_err(|e| conflict_or(e, || format!("{} `{name}` already exists", kind.label)))?;
        Ok(res.rows_affected())
    }

    pub async fn kind_delete(&self, kind: &Kind, cluster_id: i64, id: i64) -> OdbResult<u64> {
        let sql = self.dialect(&format!(
            "DELETE FROM {} WHERE cluster_id = ? AND id = ?",
            kind.table
        ));
        let res = sqlx::query(AssertSqlSafe(sql))
            .bind(cluster_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected())
    }

    /// Rows of other kinds that point at `id` of `kind`: "AMQP channel `x`" each.
    pub async fn kind_users(
        &self,
        kind: &'static Kind,
        cluster_id: i64,
        id: i64,
    ) -> OdbResult<Vec<String>> {
        let mut users = Vec::new();
        for other in ALL {
            for f in other.fields.iter().filter(|f| f.ty == Ty::Ref(kind)) {
                let sql = self.dialect(&format!(
                    "SELECT name FROM {} WHERE cluster_id = ? AND {} = ? ORDER BY name",
                    other.table, f.name
                ));
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(cluster_id)
                    .bind(id)
                    .fetch_all(self.pool())
                    .await?;
                for r in rows {
                    users.push(format!("{} `{}`", other.label, r.try_get::<String, _>(0)?));
                }
            }
        }
        Ok(users)
    }
}
