//! Config objects as live tables built from ODB rows. Each kind has a name (the topic of its
//! `Changed` events) and its own table, rebuilt and swapped (never patched) only when its own
//! rows change; a change naming one object fetches just that row. Security definitions are the
//! one kind others depend on: a change to them rebuilds the tables that use them from rows
//! already held, without reading those again.
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use rustc_hash::{FxHashMap, FxHashSet};
use zato_common::crypto::SecretKey;
use zato_common::odb::channels::HttpSoap;
use zato_common::odb::security::SecDef;
use zato_common::odb::{Odb, OdbError, kinds};

use crate::connectors::{self, HttpTable, SqlTable};
use crate::core::{ConfigListener, KindRows};
use crate::security::jwt::{self, JwtLogin};

pub mod routes;

use routes::Routes;

/// `http_soap` rows: REST/SOAP channels and outgoing connections.
pub const HTTP_SOAP: &str = "http_soap";
/// `sec_base` rows: every security definition type.
pub const SECURITY: &str = "security";
/// `sql_pool` rows: outgoing SQL connections.
pub const SQL: &str = "sql";
/// `service` rows: which services are active.
pub const SERVICE: &str = "service";

/// The kinds with hand-written tables here; [`Tables::kinds`] adds those declared as data.
pub const KINDS: [&str; 4] = [HTTP_SOAP, SECURITY, SQL, SERVICE];

/// The live tables of one server process.
#[derive(Default)]
pub struct Tables {
    secdefs: ArcSwap<Vec<SecDef>>,
    /// Every `http_soap` row by id: channels and outgoing connections are built from these.
    /// Rows are shared: a change copies the map of pointers, not ten thousand rows.
    http_rows: ArcSwap<FxHashMap<i64, Arc<HttpSoap>>>,
    pub channels: ArcSwap<Routes>,
    pub outgoing_http: ArcSwap<HttpTable>,
    pub sql: ArcSwap<SqlTable>,
    /// JWT definitions as log-in needs them.
    pub jwt_logins: ArcSwap<Vec<JwtLogin>>,
    /// Services switched off with `zato.service.edit`.
    pub inactive: ArcSwap<FxHashSet<String>>,
    /// Services watched beyond their statistics: a `slow_threshold` (ms) below upstream's
    /// "never" of 99999, or request/response pairs sampled one call in N.
    pub watched: Arc<ArcSwap<FxHashMap<String, Watch>>>,
    /// Rows of the kinds declared as data (AMQP...), for the listeners that keep connectors
    /// and channels of those kinds live.
    pub kind_rows: ArcSwap<KindRows>,
    listeners: RwLock<Vec<Arc<dyn ConfigListener>>>,
    /// One rebuild at a time: two interleaved would each start from a table the other replaces.
    rebuild: tokio::sync::Mutex<()>,
}

/// What a service is watched for beyond its statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watch {
    /// Calls slower than this many milliseconds are logged and kept.
    pub slow_ms: Option<u64>,
    /// One call in this many has its request and response kept (0: none).
    pub sample_every: u64,
}

/// The built-in cache where `zato.service.configure-request-response` keeps each service's
/// sampling frequency (a row of its own, so upstream's `service` table stays as it is).
pub const SAMPLE_FREQ_CACHE: &str = "zato.service.sample-freq";

/// Where tables load from.
pub struct Source<'a> {
    pub odb: &'a Odb,
    pub cluster_id: i64,
    pub key: &'a SecretKey,
}

impl Tables {
    /// Reloads the table of `kind` (one of [`Tables::kinds`]); `id` narrows an `http_soap`
    /// change to one row. Unknown kinds are logged and ignored: a newer server may publish kinds
    /// this one does not have.
    pub async fn reload(
        &self,
        src: &Source<'_>,
        kind: &str,
        id: Option<i64>,
    ) -> Result<(), OdbError> {
        let _one = self.rebuild.lock().await;
        match kind {
            HTTP_SOAP => self.reload_http_soap(src, id).await,
            SECURITY => self.reload_security(src).await,
            SQL => self.reload_sql(src).await,
            SERVICE => self.reload_services(src).await,
            other => match kinds::ALL.iter().find(|k| k.name == other) {
                Some(k) => {
                    let rows = src.odb.kind_list(k, src.cluster_id).await?;
                    let mut all = KindRows::clone(&self.kind_rows.load());
                    all.insert(k.name, Arc::new(rows));
                    self.kind_rows.store(Arc::new(all));
                    self.notify(Some(k.name));
                    Ok(())
                }
                None => {
                    tracing::warn!("ignoring a change to objects of unknown kind `{other}`");
                    Ok(())
                }
            },
        }
    }

    /// Every kind a table here reloads on its own (the `changed:<kind>` topics to subscribe).
    pub fn kinds() -> impl Iterator<Item = &'static str> {
        KINDS.into_iter().chain(kinds::ALL.iter().map(|k| k.name))
    }

    /// `listener` is told now, and whenever one of its kinds changes.
    pub fn listen(&self, listener: Arc<dyn ConfigListener>) {
        listener.apply(&self.kind_rows.load());
        self.listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
    }

    /// Stops every listener (the server is stopping), one after the other.
    pub async fn stop_listeners(&self) {
        let listeners: Vec<Arc<dyn ConfigListener>> = self
            .listeners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for l in listeners {
            l.stop().await;
        }
    }

    /// Tells the listeners of `kind` (all of them when None).
    fn notify(&self, kind: Option<&str>) {
        let rows = self.kind_rows.load();
        let listeners = self.listeners.read().unwrap_or_else(|p| p.into_inner());
        for l in listeners
            .iter()
            .filter(|l| kind.is_none_or(|k| l.kinds().contains(&k)))
        {
            l.apply(&rows);
        }
    }

    /// Reloads every table (start-up, and `config` events from the CLI or enmasse).
    pub async fn reload_all(&self, src: &Source<'_>) -> Result<(), OdbError> {
        let _one = self.rebuild.lock().await;
        let secs = src.odb.security_list(src.cluster_id, None).await?;
        self.secdefs.store(Arc::new(secs));
        self.http_rows.store(Arc::new(FxHashMap::default()));
        self.reload_http_soap(src, None).await?;
        self.jwt_logins
            .store(Arc::new(jwt::logins(&self.secdefs.load(), src.key)));
        self.reload_sql(src).await?;
        self.reload_services(src).await?;
        let mut all = KindRows::default();
        for k in kinds::ALL {
            all.insert(
                k.name,
                Arc::new(src.odb.kind_list(k, src.cluster_id).await?),
            );
        }
        self.kind_rows.store(Arc::new(all));
        self.notify(None);
        Ok(())
    }

    async fn reload_http_soap(&self, src: &Source<'_>, id: Option<i64>) -> Result<(), OdbError> {
        let secs = self.secdefs.load();
        let Some(id) = id else {
            let rows = src.odb.http_soap_list(src.cluster_id).await?;
            self.channels
                .store(Arc::new(Routes::build(&rows, &secs, src.key)));
            self.rebuild_outgoing_http(&rows, &secs, src.key);
            self.http_rows.store(Arc::new(
                rows.into_iter().map(|r| (r.id, Arc::new(r))).collect(),
            ));
            return Ok(());
        };
        let row = src.odb.http_soap_by_id(src.cluster_id, id).await?;
        let was_outgoing = self
            .http_rows
            .load()
            .get(&id)
            .is_some_and(|r| r.connection == "outgoing");
        let mut rows = FxHashMap::clone(&self.http_rows.load());
        match &row {
            Some(r) => rows.insert(id, Arc::new(r.clone())),
            None => rows.remove(&id),
        };
        self.http_rows.store(Arc::new(rows));
        let channels = self
            .channels
            .load()
            .with_row(id, row.as_ref(), &secs, src.key);
        self.channels.store(Arc::new(channels));
        if was_outgoing || row.as_ref().is_some_and(|r| r.connection == "outgoing") {
            let rows: Vec<HttpSoap> = self
                .http_rows
                .load()
                .values()
                .filter(|r| r.connection == "outgoing")
                .map(|r| HttpSoap::clone(r))
                .collect();
            self.rebuild_outgoing_http(&rows, &secs, src.key);
        }
        Ok(())
    }

    fn rebuild_outgoing_http(&self, rows: &[HttpSoap], secs: &[SecDef], key: &SecretKey) {
        let table = connectors::build_http(&self.outgoing_http.load(), rows, secs, key);
        self.outgoing_http.store(Arc::new(table));
    }

    /// New definitions, then what uses them, from the rows already held.
    async fn reload_security(&self, src: &Source<'_>) -> Result<(), OdbError> {
        let secs = src.odb.security_list(src.cluster_id, None).await?;
        let rows: Vec<HttpSoap> = self
            .http_rows
            .load()
            .values()
            .map(|r| HttpSoap::clone(r))
            .collect();
        self.channels
            .store(Arc::new(Routes::build(&rows, &secs, src.key)));
        self.rebuild_outgoing_http(&rows, &secs, src.key);
        self.jwt_logins.store(Arc::new(jwt::logins(&secs, src.key)));
        self.secdefs.store(Arc::new(secs));
        Ok(())
    }

    async fn reload_sql(&self, src: &Source<'_>) -> Result<(), OdbError> {
        let pools = src.odb.sql_pool_list(src.cluster_id).await?;
        let table = connectors::build_sql(&self.sql.load(), &pools, src.key);
        self.sql.store(Arc::new(table));
        Ok(())
    }

    async fn reload_services(&self, src: &Source<'_>) -> Result<(), OdbError> {
        let services = src.odb.service_list(src.cluster_id).await?;
        let inactive = services
            .iter()
            .filter(|s| !s.is_active)
            .map(|s| s.name.clone())
            .collect();
        self.inactive.store(Arc::new(inactive));
        let mut watched: FxHashMap<String, Watch> = services
            .into_iter()
            .filter_map(|s| {
                let ms = u64::try_from(s.slow_threshold).ok()?;
                let watch = Watch {
                    slow_ms: Some(ms),
                    sample_every: 0,
                };
                (ms < 99_999).then_some((s.name, watch))
            })
            .collect();
        let now = zato_common::time::utc_now_iso();
        let freqs = src
            .odb
            .cache_list(src.cluster_id, SAMPLE_FREQ_CACHE, "", &now)
            .await?;
        for e in freqs {
            if let Ok(every) = e.value.parse::<u64>()
                && every > 0
            {
                watched.entry(e.key).or_default().sample_every = every;
            }
        }
        self.watched.store(Arc::new(watched));
        Ok(())
    }
}
