//! Import, step one: every object of the file read, checked and matched against the ODB.
//! Nothing is written here; every problem is collected, each naming the object type, the
//! object's name and, where there is one, the field.
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use zato_common::odb::channels::{HttpSoap, HttpSoapInput};
use zato_common::odb::jobs::{Job, JobInput};
use zato_common::odb::kinds::{Kind, Ty, Values};
use zato_common::odb::security::{SEC_TYPES, SecDef, SecInput, TECH_ACCOUNT};
use zato_common::odb::sql_pool::{SqlPool, SqlPoolInput};

use super::{
    CHANNEL_REST, CHANNEL_SOAP, OUTCONN_SQL, OUTGOING_REST, OUTGOING_SOAP, SCHEDULER, SECURITY,
};
use crate::admin::kinds::{self, Parsed, RefValue};
use crate::admin::{Input, ServiceError, http_soap, scheduler, security, sql};
use crate::core::refuse_unknown_keys;

/// One thing wrong with the file.
#[derive(Debug)]
pub struct Problem {
    pub object_type: String,
    pub name: String,
    pub field: Option<String>,
    pub message: String,
}

impl Problem {
    fn new(object_type: &str, name: &str, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            object_type: object_type.to_string(),
            name: name.to_string(),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"type": self.object_type, "name": self.name, "field": self.field, "message": self.message})
    }
}

/// A security definition to create (`id` None) or update.
pub struct SecPlan {
    pub id: Option<i64>,
    pub sec_type: String,
    pub input: SecInput,
    pub password: Option<String>,
}

/// A channel or outgoing connection; its references are resolved when it is written.
pub struct HttpPlan {
    pub id: Option<i64>,
    pub object_type: &'static str,
    pub input: HttpSoapInput,
    pub security_name: Option<String>,
    pub service: Option<String>,
}

pub struct SqlPlan {
    pub id: Option<i64>,
    pub input: SqlPoolInput,
    pub password: Option<String>,
}

/// A scheduler job; its service (by name) is resolved when it is written.
pub struct JobPlan {
    pub id: Option<i64>,
    pub input: JobInput,
    pub service: String,
}

/// An object of a kind declared as data; references are resolved when it is written.
pub struct KindPlan {
    pub kind: &'static Kind,
    pub id: Option<i64>,
    pub parsed: Parsed,
    pub password: Option<String>,
}

#[derive(Default)]
pub struct Plan {
    pub security: Vec<SecPlan>,
    pub http: Vec<HttpPlan>,
    pub sql: Vec<SqlPlan>,
    pub jobs: Vec<JobPlan>,
    pub kinds: Vec<KindPlan>,
    /// Objects left out because of --ignore-missing-defs: "type `name`: why".
    pub skipped: Vec<String>,
    pub problems: Vec<Problem>,
}

/// What the ODB holds now.
pub struct Current {
    pub secs: Vec<SecDef>,
    pub rows: Vec<HttpSoap>,
    pub pools: Vec<SqlPool>,
    pub jobs: Vec<Job>,
    /// Deployed services by name.
    pub services: HashMap<String, i64>,
    /// Rows of the kinds declared as data, by kind name.
    pub kind_rows: HashMap<&'static str, Vec<Values>>,
}

/// Upstream's older type names and what they became in 3.2.
fn canonical(object_type: &str) -> Option<&'static str> {
    Some(match object_type {
        "security" | "def_sec" => SECURITY,
        "channel_rest" | "channel_plain_http" => CHANNEL_REST,
        "channel_soap" => CHANNEL_SOAP,
        "outgoing_rest" | "outconn_plain_http" => OUTGOING_REST,
        "outgoing_soap" | "outconn_soap" => OUTGOING_SOAP,
        "outconn_sql" => OUTCONN_SQL,
        "scheduler" => SCHEDULER,
        _ => return None,
    })
}

/// Types of upstream's format this build does not have (yet).
const NOT_SUPPORTED: &[&str] = &[
    "outconn_ftp",
    "outconn_amqp",
    "def_amqp",
    "channel_amqp",
    "outconn_redis",
    "channel_zmq",
    "outconn_zmq",
    "channel_jms_wmq",
    "outconn_jms_wmq",
    "def_jms_wmq",
    "email_smtp",
    "email_imap",
    "search_es",
    "search_solr",
    "notif_sql",
    "cloud_aws_s3",
    "web_socket",
    "pubsub_topic",
    "pubsub_endpoint",
    "pubsub_subscription",
    "zato_cache_builtin",
    "zato_generic_connection",
    "security_groups",
    "outgoing_ldap",
    "outgoing_wsx",
];

/// `http_soap` objects (upstream's generic name) by their `connection` and `transport`.
fn http_soap_type(obj: &Map<String, Value>) -> Option<&'static str> {
    let connection = obj
        .get("connection")
        .and_then(Value::as_str)
        .unwrap_or("channel");
    let transport = obj
        .get("transport")
        .and_then(Value::as_str)
        .unwrap_or("plain_http");
    Some(match (connection, transport) {
        ("channel", "plain_http") => CHANNEL_REST,
        ("channel", "soap") => CHANNEL_SOAP,
        ("outgoing", "plain_http") => OUTGOING_REST,
        ("outgoing", "soap") => OUTGOING_SOAP,
        _ => return None,
    })
}

fn password_of(obj: &Map<String, Value>) -> Option<String> {
    obj.get("password").and_then(|p| match p {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// The problem a read error is: the field is named when the message names one.
fn from_error(object_type: &str, name: &str, e: ServiceError) -> Problem {
    let field = e
        .message
        .split('`')
        .nth(1)
        .filter(|f| f.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_string)
        .or_else(|| {
            e.message.strip_prefix("Missing input: ").map(|f| {
                f.split(' ')
                    .next()
                    .unwrap_or(f)
                    .trim_end_matches(',')
                    .to_string()
            })
        });
    Problem::new(object_type, name, field.as_deref(), e.message)
}

impl Plan {
    /// Reads every object of `objects` (type name → list of objects) against `current`.
    pub fn build(
        objects: &Value,
        current: &Current,
        replace: bool,
        ignore_missing_defs: bool,
    ) -> Plan {
        let mut plan = Plan::default();
        let Some(types) = objects.as_object() else {
            plan.problems.push(Problem::new(
                "file",
                "",
                None,
                "the file must be a map of object type to a list of objects",
            ));
            return plan;
        };
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut sec_users: HashSet<(String, String)> = HashSet::new();
        for (given_type, list) in types {
            let Some(items) = list.as_array() else {
                plan.problems.push(Problem::new(
                    given_type,
                    "",
                    None,
                    "must be a list of objects",
                ));
                continue;
            };
            let as_kind = zato_common::odb::kinds::ALL
                .iter()
                .find(|k| k.enmasse == given_type);
            let fixed = canonical(given_type);
            if fixed.is_none() && as_kind.is_none() && given_type != "http_soap" {
                let msg = if NOT_SUPPORTED.contains(&given_type.as_str()) {
                    format!("type `{given_type}` is not supported by this version")
                } else {
                    format!(
                        "unknown type `{given_type}`; known: security, channel_rest, channel_soap, outgoing_rest, outgoing_soap, outconn_sql, scheduler (and def_sec, channel_plain_http, outconn_plain_http, outconn_soap, http_soap)"
                    )
                };
                plan.problems.push(Problem::new(given_type, "", None, msg));
                continue;
            }
            for (n, item) in items.iter().enumerate() {
                let Some(obj) = item.as_object() else {
                    plan.problems.push(Problem::new(
                        given_type,
                        &format!("#{}", n + 1),
                        None,
                        "must be a map of attributes",
                    ));
                    continue;
                };
                let name = obj
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if let Some(kind) = as_kind {
                    if name.is_empty() {
                        plan.problems.push(Problem::new(
                            kind.enmasse,
                            &format!("#{}", n + 1),
                            Some("name"),
                            "missing name",
                        ));
                    } else if !seen.insert((kind.enmasse.to_string(), name.clone())) {
                        plan.problems.push(Problem::new(
                            kind.enmasse,
                            &name,
                            Some("name"),
                            "appears more than once in the file",
                        ));
                    } else {
                        plan.kind_object(kind, obj, &name, current, replace);
                    }
                    continue;
                }
                let object_type = match fixed.or_else(|| http_soap_type(obj)) {
                    Some(t) => t,
                    None => {
                        plan.problems.push(Problem::new(given_type, &name, Some("connection"), "`connection` must be channel or outgoing and `transport` plain_http or soap"));
                        continue;
                    }
                };
                if name.is_empty() {
                    plan.problems.push(Problem::new(
                        object_type,
                        &format!("#{}", n + 1),
                        Some("name"),
                        "missing name",
                    ));
                    continue;
                }
                if !seen.insert((object_type.to_string(), name.clone())) {
                    plan.problems.push(Problem::new(
                        object_type,
                        &name,
                        Some("name"),
                        "appears more than once in the file",
                    ));
                    continue;
                }
                match object_type {
                    SECURITY => plan.security_object(obj, &name, current, replace, &mut sec_users),
                    OUTCONN_SQL => plan.sql_object(obj, &name, current, replace),
                    SCHEDULER => plan.job_object(obj, &name, current, replace),
                    t => plan.http_object(t, obj, &name, current, replace),
                }
            }
        }
        plan.check_references(current, ignore_missing_defs);
        plan
    }

    fn exists_problem(&mut self, object_type: &str, name: &str) {
        self.problems.push(Problem::new(
            object_type,
            name,
            None,
            "already exists in the cluster; import with --replace to update it",
        ));
    }

    fn security_object(
        &mut self,
        obj: &Map<String, Value>,
        name: &str,
        current: &Current,
        replace: bool,
        users: &mut HashSet<(String, String)>,
    ) {
        let given = obj
            .get("type")
            .or_else(|| obj.get("sec_type"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let sec_type = if given == "tech_account" {
            TECH_ACCOUNT
        } else {
            given
        };
        if !SEC_TYPES.contains(&sec_type) {
            let msg = if sec_type.is_empty() {
                "missing type".to_string()
            } else {
                format!("unsupported security type `{sec_type}`; use one of {SEC_TYPES:?}")
            };
            self.problems
                .push(Problem::new(SECURITY, name, Some("type"), msg));
            return;
        }
        let value = Value::Object(obj.clone());
        if let Err(e) = refuse_unknown_keys(
            &format!("a {sec_type} definition"),
            &value,
            &[
                security::fields(sec_type),
                &["type", "sec_type"],
                security::RATE_LIMIT_DETAILS,
            ],
            security::RATE_LIMITS,
        ) {
            return self.problems.push(from_error(SECURITY, name, e));
        }
        let mut i = Input::new(&value);
        let input = match security::read(&mut i, sec_type, None).and_then(|d| i.done().map(|_| d)) {
            Ok(d) => d,
            Err(e) => return self.problems.push(from_error(SECURITY, name, e)),
        };
        // An empty secret would let `user:` in; a missing one gets a random secret instead.
        if password_of(obj).is_some_and(|p| p.is_empty()) {
            self.problems.push(Problem::new(
                SECURITY,
                name,
                Some("password"),
                "must not be empty; give a secret, or leave the key out for a random one",
            ));
        }
        if !users.insert((sec_type.to_string(), input.username.clone())) {
            self.problems.push(Problem::new(
                SECURITY,
                name,
                Some("username"),
                format!(
                    "another {sec_type} definition in the file has the user `{}`",
                    input.username
                ),
            ));
        }
        let existing = current.secs.iter().find(|d| d.name == name);
        let id = match existing {
            Some(d) if d.sec_type != sec_type => {
                return self.problems.push(Problem::new(
                    SECURITY,
                    name,
                    Some("type"),
                    format!("exists in the cluster as a {} definition", d.sec_type),
                ));
            }
            Some(_) if !replace => return self.exists_problem(SECURITY, name),
            Some(d) => Some(d.id),
            None => None,
        };
        self.security.push(SecPlan {
            id,
            sec_type: sec_type.to_string(),
            input,
            password: password_of(obj),
        });
    }

    fn http_object(
        &mut self,
        object_type: &'static str,
        obj: &Map<String, Value>,
        name: &str,
        current: &Current,
        replace: bool,
    ) {
        let (connection, transport) = match object_type {
            CHANNEL_REST => ("channel", "plain_http"),
            CHANNEL_SOAP => ("channel", "soap"),
            OUTGOING_REST => ("outgoing", "plain_http"),
            _ => ("outgoing", "soap"),
        };
        let mut value = Value::Object(obj.clone());
        if let Err(e) = refuse_unknown_keys(
            &format!("a {object_type}"),
            &value,
            &[
                http_soap::FIELDS,
                http_soap::IGNORED,
                http_soap::UNSUPPORTED,
            ],
            http_soap::UNSUPPORTED,
        ) {
            return self.problems.push(from_error(object_type, name, e));
        }
        value["connection"] = json!(connection);
        value["transport"] = json!(transport);
        let mut i = Input::new(&value);
        let parsed = match http_soap::parse_input(&mut i, None) {
            Ok(p) => p,
            Err(e) => return self.problems.push(from_error(object_type, name, e)),
        };
        if let Some(service) = &parsed.service
            && !current.services.contains_key(service)
        {
            self.problems.push(Problem::new(
                object_type,
                name,
                Some("service"),
                format!("no service named `{service}` is deployed; deploy it first"),
            ));
        }
        let existing = current
            .rows
            .iter()
            .find(|r| r.name == name && r.connection == connection && r.transport == transport);
        let id = match existing {
            Some(r) if r.is_internal => {
                return self.problems.push(Problem::new(
                    object_type,
                    name,
                    None,
                    "is internal and cannot be replaced",
                ));
            }
            Some(_) if !replace => return self.exists_problem(object_type, name),
            Some(r) => Some(r.id),
            None => None,
        };
        // Against the cluster's channels (less the one replaced) and the file's earlier ones.
        let replaced: HashSet<i64> = self.http.iter().filter_map(|p| p.id).chain(id).collect();
        let in_cluster = current
            .rows
            .iter()
            .filter(|r| r.connection == "channel" && r.is_active && !replaced.contains(&r.id))
            .map(|r| {
                (
                    r.id,
                    r.name.as_str(),
                    r.url_path.as_str(),
                    r.method.as_deref(),
                )
            });
        let in_file = self
            .http
            .iter()
            .filter(|p| p.input.connection == "channel" && p.input.is_active)
            .map(|p| {
                (
                    -1,
                    p.input.name.as_str(),
                    p.input.url_path.as_str(),
                    p.input.method.as_deref(),
                )
            });
        if let Some(e) = http_soap::clash(in_cluster.chain(in_file), &parsed.data, None) {
            return self.problems.push(from_error(object_type, name, e));
        }
        self.http.push(HttpPlan {
            id,
            object_type,
            input: parsed.data,
            security_name: parsed.security_name,
            service: parsed.service,
        });
    }

    fn sql_object(
        &mut self,
        obj: &Map<String, Value>,
        name: &str,
        current: &Current,
        replace: bool,
    ) {
        let value = Value::Object(obj.clone());
        if let Err(e) =
            refuse_unknown_keys("an outconn_sql", &value, &[sql::FIELDS, &["password"]], &[])
        {
            return self.problems.push(from_error(OUTCONN_SQL, name, e));
        }
        let mut i = Input::new(&value);
        let input = match sql::read(&mut i, None).and_then(|d| i.done().map(|_| d)) {
            Ok(d) => d,
            Err(e) => return self.problems.push(from_error(OUTCONN_SQL, name, e)),
        };
        let id = match current.pools.iter().find(|p| p.name == name) {
            Some(_) if !replace => return self.exists_problem(OUTCONN_SQL, name),
            Some(p) => Some(p.id),
            None => None,
        };
        self.sql.push(SqlPlan {
            id,
            input,
            password: password_of(obj),
        });
    }

    fn job_object(
        &mut self,
        obj: &Map<String, Value>,
        name: &str,
        current: &Current,
        replace: bool,
    ) {
        let value = Value::Object(obj.clone());
        if let Err(e) = refuse_unknown_keys("a scheduler job", &value, &[scheduler::FIELDS], &[]) {
            return self.problems.push(from_error(SCHEDULER, name, e));
        }
        let mut i = Input::new(&value);
        let fields = match scheduler::parse(&mut i, None) {
            Ok(f) => f,
            Err(e) => return self.problems.push(from_error(SCHEDULER, name, e)),
        };
        let Some(service) = fields.service else {
            return self.problems.push(Problem::new(
                SCHEDULER,
                name,
                Some("service"),
                "give the service by name",
            ));
        };
        if !current.services.contains_key(&service) {
            return self.problems.push(Problem::new(
                SCHEDULER,
                name,
                Some("service"),
                format!("no service named `{service}` is deployed; deploy it before the import"),
            ));
        }
        let id = match current.jobs.iter().find(|j| j.name == name) {
            Some(_) if !replace => return self.exists_problem(SCHEDULER, name),
            Some(j) => Some(j.id),
            None => None,
        };
        self.jobs.push(JobPlan {
            id,
            input: fields.input,
            service,
        });
    }

    fn kind_object(
        &mut self,
        kind: &'static Kind,
        obj: &Map<String, Value>,
        name: &str,
        current: &Current,
        replace: bool,
    ) {
        let mut value = obj.clone();
        let password = kind.secret().and_then(|f| {
            value
                .remove(f.name)
                .and_then(|p| p.as_str().map(str::to_string))
        });
        let parsed = match kinds::parse(kind, &Value::Object(value), None) {
            Ok(p) => p,
            Err(e) => return self.problems.push(from_error(kind.enmasse, name, e)),
        };
        let existing = current
            .kind_rows
            .get(kind.name)
            .and_then(|rows| rows.iter().find(|r| r["name"] == name));
        // The same object already there (a cluster's own caches in an export from another
        // cluster) is left as it is, as upstream does.
        if existing.is_some_and(|r| same_plain_row(kind, r, &parsed.values)) {
            return;
        }
        let id = match existing {
            Some(_) if !replace => return self.exists_problem(kind.enmasse, name),
            Some(r) => r["id"].as_i64(),
            None => None,
        };
        self.kinds.push(KindPlan {
            kind,
            id,
            parsed,
            password,
        });
    }

    /// References of kinds declared as data must be in the file or the cluster; their
    /// services must be deployed.
    fn check_kind_references(&mut self, current: &Current, ignore_missing_defs: bool) {
        let in_file: HashSet<(&'static str, String)> = self
            .kinds
            .iter()
            .map(|p| (p.kind.name, p.parsed.name.clone()))
            .collect();
        let mut kept = Vec::new();
        for p in std::mem::take(&mut self.kinds) {
            let mut missing = None;
            for (f, given) in &p.parsed.refs {
                let found = match (given, f.ty) {
                    (RefValue::Name(n), Ty::Ref(target)) => {
                        let in_file = in_file.contains(&(target.name, n.clone()));
                        let in_cluster = current
                            .kind_rows
                            .get(target.name)
                            .is_some_and(|rows| rows.iter().any(|r| r["name"] == n.as_str()));
                        (in_file || in_cluster).then_some(()).ok_or_else(|| {
                            (
                                format!("{}_name", f.ref_stem()),
                                format!(
                                    "no {} named `{n}` in the file or the cluster",
                                    target.label
                                ),
                            )
                        })
                    }
                    (RefValue::Name(n), _) => current
                        .services
                        .contains_key(n)
                        .then_some(())
                        .ok_or_else(|| {
                            (
                                "service".to_string(),
                                format!("no service named `{n}` is deployed; deploy it first"),
                            )
                        }),
                    (RefValue::Id(_), _) => Err((
                        f.name.to_string(),
                        format!("give `{}_name` in a file, not an id", f.ref_stem()),
                    )),
                };
                if let Err(m) = found {
                    missing = Some(m);
                    break;
                }
            }
            match missing {
                None => kept.push(p),
                Some((_, why)) if ignore_missing_defs => self
                    .skipped
                    .push(format!("{} `{}`: {why}", p.kind.enmasse, p.parsed.name)),
                Some((field, why)) => self.problems.push(Problem::new(
                    p.kind.enmasse,
                    &p.parsed.name,
                    Some(&field),
                    why,
                )),
            }
        }
        self.kinds = kept;
    }

    /// Security definitions channels and connections name must be in the file or the cluster.
    fn check_references(&mut self, current: &Current, ignore_missing_defs: bool) {
        self.check_kind_references(current, ignore_missing_defs);
        let known: HashSet<String> = self
            .security
            .iter()
            .map(|s| s.input.name.clone())
            .chain(current.secs.iter().map(|d| d.name.clone()))
            .collect();
        let mut kept = Vec::new();
        for h in std::mem::take(&mut self.http) {
            let missing = h.security_name.clone().filter(|sec| !known.contains(sec));
            match missing {
                None => kept.push(h),
                Some(sec) if ignore_missing_defs => self.skipped.push(format!(
                    "{} `{}`: its security definition `{sec}` does not exist",
                    h.object_type, h.input.name
                )),
                Some(sec) => self.problems.push(Problem::new(
                    h.object_type,
                    &h.input.name,
                    Some("security_name"),
                    format!("no security definition named `{sec}` in the file or the cluster (--ignore-missing-defs skips such objects)"),
                )),
            }
        }
        self.http = kept;
    }
}

/// Whether `row` holds `values`, for a kind whose fields are all plain (no secret, no
/// reference to compare by name): then importing it changes nothing.
fn same_plain_row(kind: &Kind, row: &Map<String, Value>, values: &Map<String, Value>) -> bool {
    kind.fields.iter().all(|f| {
        matches!(f.ty, Ty::Str(_) | Ty::Int | Ty::Bool)
            && row.get(f.name).unwrap_or(&Value::Null) == values.get(f.name).unwrap_or(&Value::Null)
    })
}
