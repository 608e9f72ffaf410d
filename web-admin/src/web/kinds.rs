//! The pages that list, create, edit and delete one kind of config object, as data: which
//! admin services back them, the table's columns and the form's fields. `crud.rs` serves
//! them all the same way.
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Text,
    /// A whole number.
    Int,
    Bool,
    Password,
    Area,
    Select(&'static [&'static str]),
    /// A service's name, offered from the cluster's services.
    Service,
    /// A security definition's name (or none), offered from the cluster's definitions.
    Security,
    /// An AMQP definition's name.
    AmqpDef,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// Where an edit form finds the field's value in a listed row, when named otherwise.
    pub row_key: Option<&'static str>,
    /// Shown on the create form only (a password given once).
    pub create_only: bool,
    pub default: &'static str,
    pub help: &'static str,
}

const fn f(name: &'static str, label: &'static str, ty: Ty) -> Field {
    Field {
        name,
        label,
        ty,
        required: false,
        row_key: None,
        create_only: false,
        default: "",
        help: "",
    }
}

const fn req(name: &'static str, label: &'static str, ty: Ty) -> Field {
    let mut x = f(name, label, ty);
    x.required = true;
    x
}

const fn active() -> Field {
    let mut x = f("is_active", "Active", Ty::Bool);
    x.default = "on";
    x
}

const fn help(mut x: Field, help: &'static str) -> Field {
    x.help = help;
    x
}

const fn dflt(mut x: Field, default: &'static str) -> Field {
    x.default = default;
    x
}

const fn from_row(mut x: Field, key: &'static str) -> Field {
    x.row_key = Some(key);
    x
}

const fn once(mut x: Field) -> Field {
    x.create_only = true;
    x
}

/// A button on each row that calls a service with the row's id.
#[derive(Debug, Clone, Copy)]
pub struct Action {
    pub name: &'static str,
    pub label: &'static str,
    pub service: &'static str,
    /// The service's input from the row.
    pub input: fn(&Value) -> Value,
    /// The label for this row, when it depends on it (activate / deactivate).
    pub label_for: Option<fn(&Value) -> &'static str>,
}

fn by_id(row: &Value) -> Value {
    json!({"id": row.get("id").cloned().unwrap_or(Value::Null)})
}

fn no_input(_: &Value) -> Value {
    json!({})
}

fn toggle_active(row: &Value) -> Value {
    let active = row
        .get("is_active")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    json!({"id": row.get("id").cloned().unwrap_or(Value::Null), "is_active": !active})
}

fn toggle_label(row: &Value) -> &'static str {
    if row
        .get("is_active")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        "Deactivate"
    } else {
        "Activate"
    }
}

const PING: Action = Action {
    name: "ping",
    label: "Ping",
    service: "",
    input: by_id,
    label_for: None,
};

#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub slug: &'static str,
    pub title: &'static str,
    pub singular: &'static str,
    pub list: &'static str,
    pub list_input: fn() -> Value,
    pub columns: &'static [(&'static str, &'static str)],
    pub fields: &'static [Field],
    /// Merged into every create and edit input (`connection`, `transport`...).
    pub fixed: fn() -> Value,
    pub create: Option<&'static str>,
    pub edit: Option<&'static str>,
    /// Whether the edit service takes the row's `id` (the one Redis connection has none).
    pub edit_by_id: bool,
    pub delete: Option<&'static str>,
    pub password: Option<&'static str>,
    pub actions: &'static [Action],
    /// A page of the row's own, `{id}` replaced (a cache's entries).
    pub row_link: Option<&'static str>,
    /// Columns made from the row rather than read from it: (column key, row) → its value.
    pub derived: Option<fn(&str, &Value) -> Option<Value>>,
}

fn nothing() -> Value {
    json!({})
}

const BASE: Kind = Kind {
    slug: "",
    title: "",
    singular: "",
    list: "",
    list_input: nothing,
    columns: &[],
    fields: &[],
    fixed: nothing,
    create: None,
    edit: None,
    edit_by_id: true,
    delete: None,
    password: None,
    actions: &[],
    row_link: None,
    derived: None,
};

/// A job's schedule in a few words: `every 1h 30m`, the cron definition, or `once`.
fn job_schedule(key: &str, row: &Value) -> Option<Value> {
    if key != "schedule" {
        return None;
    }
    let text = match row.get("job_type").and_then(Value::as_str) {
        Some("one_time") => "once".to_string(),
        Some("cron_style") => row
            .get("cron_definition")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => {
            let parts: Vec<String> = [
                ("weeks", "w"),
                ("days", "d"),
                ("hours", "h"),
                ("minutes", "m"),
                ("seconds", "s"),
            ]
            .iter()
            .filter_map(|(k, unit)| {
                let n = row.get(*k).and_then(Value::as_i64).filter(|n| *n > 0)?;
                Some(format!("{n}{unit}"))
            })
            .collect();
            let repeats = row
                .get("repeats")
                .and_then(Value::as_i64)
                .filter(|n| *n > 0)
                .map(|n| format!(", {n} times"))
                .unwrap_or_default();
            format!("every {}{repeats}", parts.join(" "))
        }
    };
    Some(Value::String(text))
}

const DATA_FORMATS: &[&str] = &["", "json", "xml", "csv", "dict"];
const METHODS: &[&str] = &[
    "", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

macro_rules! security {
    ($slug:literal, $title:literal, $singular:literal, $svc:literal, $cols:expr, $fields:expr) => {
        Kind {
            slug: $slug,
            title: $title,
            singular: $singular,
            list: concat!("zato.security.", $svc, ".get-list"),
            columns: $cols,
            fields: $fields,
            create: Some(concat!("zato.security.", $svc, ".create")),
            edit: Some(concat!("zato.security.", $svc, ".edit")),
            delete: Some(concat!("zato.security.", $svc, ".delete")),
            password: Some(concat!("zato.security.", $svc, ".change-password")),
            ..BASE
        }
    };
}

const fn http_soap(
    slug: &'static str,
    title: &'static str,
    singular: &'static str,
    list_input: fn() -> Value,
    columns: &'static [(&'static str, &'static str)],
    fields: &'static [Field],
    actions: &'static [Action],
) -> Kind {
    Kind {
        slug,
        title,
        singular,
        list: "zato.http-soap.get-list",
        list_input,
        columns,
        fields,
        fixed: list_input,
        create: Some("zato.http-soap.create"),
        edit: Some("zato.http-soap.edit"),
        delete: Some("zato.http-soap.delete"),
        actions,
        ..BASE
    }
}

pub static KINDS: &[Kind] = &[
    security!(
        "basic-auth",
        "HTTP Basic Auth",
        "Basic Auth definition",
        "basic-auth",
        &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("username", "Username"),
            ("realm", "Realm")
        ],
        &[
            req("name", "Name", Ty::Text),
            active(),
            req("username", "Username", Ty::Text),
            dflt(f("realm", "Realm", Ty::Text), "Zato"),
            once(help(
                f("password", "Password", Ty::Password),
                "Left empty, a random one is set; change it with the Password form.",
            )),
        ]
    ),
    security!(
        "apikey",
        "API keys",
        "API key",
        "apikey",
        &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("header", "Header")
        ],
        &[
            req("name", "Name", Ty::Text),
            active(),
            dflt(f("header", "Header", Ty::Text), "X-API-Key"),
            once(f("password", "Key", Ty::Password)),
        ]
    ),
    security!(
        "jwt",
        "JWT",
        "JWT definition",
        "jwt",
        &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("username", "Username"),
            ("ttl", "TTL (s)")
        ],
        &[
            req("name", "Name", Ty::Text),
            active(),
            req("username", "Username", Ty::Text),
            dflt(f("ttl", "TTL (seconds)", Ty::Int), "3600"),
            once(f("password", "Password", Ty::Password)),
        ]
    ),
    security!(
        "wss",
        "WS-Security",
        "WS-Security definition",
        "wss",
        &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("username", "Username"),
            ("password_type", "Password type")
        ],
        &[
            req("name", "Name", Ty::Text),
            active(),
            req("username", "Username", Ty::Text),
            f(
                "password_type",
                "Password type",
                Ty::Select(&["clear_text", "digest"])
            ),
            dflt(
                f(
                    "reject_empty_nonce_creat",
                    "Reject empty nonce or created",
                    Ty::Bool
                ),
                "on"
            ),
            dflt(
                f("reject_stale_tokens", "Reject stale tokens", Ty::Bool),
                "on"
            ),
            dflt(
                f("reject_expiry_limit", "Expiry limit (s)", Ty::Int),
                "3600"
            ),
            dflt(
                f("nonce_freshness_time", "Nonce freshness (s)", Ty::Int),
                "3600"
            ),
            once(f("password", "Password", Ty::Password)),
        ]
    ),
    security!(
        "tech-account",
        "Technical accounts",
        "technical account",
        "tech-account",
        &[("name", "Name"), ("is_active", "Active")],
        &[
            req("name", "Name", Ty::Text),
            active(),
            once(f("password", "Password", Ty::Password)),
        ]
    ),
    http_soap(
        "channel-rest",
        "REST channels",
        "REST channel",
        || json!({"connection": "channel", "transport": "plain_http"}),
        &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("url_path", "URL path"),
            ("method", "Method"),
            ("service_name", "Service"),
            ("security_name", "Security"),
            ("data_format", "Data format"),
        ],
        &[
            req("name", "Name", Ty::Text),
            active(),
            help(
                req("url_path", "URL path", Ty::Text),
                "For instance /api/customer/{id}",
            ),
            f("method", "Method", Ty::Select(METHODS)),
            from_row(req("service", "Service", Ty::Service), "service_name"),
            from_row(
                f("security_name", "Security", Ty::Security),
                "security_name",
            ),
            dflt(
                f("data_format", "Data format", Ty::Select(DATA_FORMATS)),
                "json",
            ),
        ],
        &[],
    ),
    http_soap(
        "channel-soap",
        "SOAP channels",
        "SOAP channel",
        || json!({"connection": "channel", "transport": "soap"}),
        &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("url_path", "URL path"),
            ("soap_action", "SOAP action"),
            ("soap_version", "SOAP version"),
            ("service_name", "Service"),
            ("security_name", "Security"),
        ],
        &[
            req("name", "Name", Ty::Text),
            active(),
            req("url_path", "URL path", Ty::Text),
            f("soap_action", "SOAP action", Ty::Text),
            dflt(
                f("soap_version", "SOAP version", Ty::Select(&["1.1", "1.2"])),
                "1.1",
            ),
            from_row(req("service", "Service", Ty::Service), "service_name"),
            from_row(
                f("security_name", "Security", Ty::Security),
                "security_name",
            ),
            dflt(f("data_format", "Data format", Ty::Select(&["xml"])), "xml"),
        ],
        &[],
    ),
    http_soap(
        "outgoing-rest",
        "Outgoing REST",
        "outgoing REST connection",
        || json!({"connection": "outgoing", "transport": "plain_http"}),
        &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("host", "Host"),
            ("url_path", "URL path"),
            ("data_format", "Data format"),
            ("timeout", "Timeout"),
            ("security_name", "Security"),
        ],
        &[
            req("name", "Name", Ty::Text),
            active(),
            help(
                req("host", "Host", Ty::Text),
                "For instance https://api.example.com",
            ),
            req("url_path", "URL path", Ty::Text),
            dflt(
                f("data_format", "Data format", Ty::Select(DATA_FORMATS)),
                "json",
            ),
            dflt(f("timeout", "Timeout (s)", Ty::Int), "10"),
            dflt(f("pool_size", "Pool size", Ty::Int), "20"),
            dflt(f("validate_tls", "Validate TLS", Ty::Bool), "on"),
            from_row(
                f("security_name", "Security", Ty::Security),
                "security_name",
            ),
        ],
        &[Action {
            service: "zato.http-soap.ping",
            ..PING
        }],
    ),
    http_soap(
        "outgoing-soap",
        "Outgoing SOAP",
        "outgoing SOAP connection",
        || json!({"connection": "outgoing", "transport": "soap"}),
        &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("host", "Host"),
            ("url_path", "URL path"),
            ("soap_action", "SOAP action"),
            ("security_name", "Security"),
        ],
        &[
            req("name", "Name", Ty::Text),
            active(),
            req("host", "Host", Ty::Text),
            req("url_path", "URL path", Ty::Text),
            f("soap_action", "SOAP action", Ty::Text),
            dflt(
                f("soap_version", "SOAP version", Ty::Select(&["1.1", "1.2"])),
                "1.1",
            ),
            dflt(f("timeout", "Timeout (s)", Ty::Int), "10"),
            from_row(
                f("security_name", "Security", Ty::Security),
                "security_name",
            ),
        ],
        &[Action {
            service: "zato.http-soap.ping",
            ..PING
        }],
    ),
    Kind {
        slug: "outgoing-sql",
        title: "Outgoing SQL",
        singular: "outgoing SQL connection",
        list: "zato.outgoing.sql.get-list",
        columns: &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("engine_display_name", "Engine"),
            ("host", "Host"),
            ("port", "Port"),
            ("db_name", "Database"),
            ("username", "Username"),
            ("pool_size", "Pool size"),
        ],
        fields: &[
            req("name", "Name", Ty::Text),
            active(),
            req(
                "engine",
                "Engine",
                Ty::Select(&["postgresql", "mysql", "sqlite"]),
            ),
            f("host", "Host", Ty::Text),
            f("port", "Port", Ty::Int),
            req("db_name", "Database", Ty::Text),
            f("username", "Username", Ty::Text),
            dflt(f("pool_size", "Pool size", Ty::Int), "10"),
            f("extra", "Extra", Ty::Area),
            once(f("password", "Password", Ty::Password)),
        ],
        create: Some("zato.outgoing.sql.create"),
        edit: Some("zato.outgoing.sql.edit"),
        delete: Some("zato.outgoing.sql.delete"),
        password: Some("zato.outgoing.sql.change-password"),
        actions: &[Action {
            service: "zato.outgoing.sql.ping",
            ..PING
        }],
        ..BASE
    },
    Kind {
        slug: "outgoing-redis",
        title: "Redis",
        singular: "Redis connection",
        list: "zato.outgoing.redis.get-list",
        columns: &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("host", "Host"),
            ("port", "Port"),
            ("db", "Database"),
        ],
        fields: &[
            req("host", "Host", Ty::Text),
            dflt(f("port", "Port", Ty::Int), "6379"),
            dflt(f("db", "Database", Ty::Int), "0"),
        ],
        edit: Some("zato.outgoing.redis.edit"),
        edit_by_id: false,
        password: Some("zato.outgoing.redis.change-password"),
        actions: &[Action {
            service: "zato.outgoing.redis.ping",
            input: no_input,
            ..PING
        }],
        ..BASE
    },
    Kind {
        slug: "definition-amqp",
        title: "AMQP definitions",
        singular: "AMQP definition",
        list: "zato.definition.amqp.get-list",
        columns: &[
            ("name", "Name"),
            ("host", "Host"),
            ("port", "Port"),
            ("vhost", "vhost"),
            ("username", "Username"),
            ("frame_max", "Max frame"),
            ("heartbeat", "Heartbeat"),
        ],
        fields: &[
            req("name", "Name", Ty::Text),
            req("host", "Host", Ty::Text),
            dflt(f("port", "Port", Ty::Int), "5672"),
            dflt(f("vhost", "vhost", Ty::Text), "/"),
            req("username", "Username", Ty::Text),
            dflt(f("frame_max", "Max frame", Ty::Int), "131072"),
            dflt(f("heartbeat", "Heartbeat (s)", Ty::Int), "30"),
            once(f("password", "Password", Ty::Password)),
        ],
        create: Some("zato.definition.amqp.create"),
        edit: Some("zato.definition.amqp.edit"),
        delete: Some("zato.definition.amqp.delete"),
        password: Some("zato.definition.amqp.change-password"),
        ..BASE
    },
    Kind {
        slug: "outgoing-amqp",
        title: "Outgoing AMQP",
        singular: "outgoing AMQP connection",
        list: "zato.outgoing.amqp.get-list",
        columns: &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("def_name", "Definition"),
            ("delivery_mode", "Delivery mode"),
            ("expiration", "Expiration"),
            ("pool_size", "Pool size"),
            ("user_id", "User ID"),
            ("app_id", "App ID"),
        ],
        fields: &[
            req("name", "Name", Ty::Text),
            active(),
            req("def_name", "Definition", Ty::AmqpDef),
            dflt(
                f("delivery_mode", "Delivery mode", Ty::Select(&["1", "2"])),
                "2",
            ),
            f("priority", "Priority", Ty::Int),
            f("content_type", "Content type", Ty::Text),
            f("content_encoding", "Content encoding", Ty::Text),
            f("expiration", "Expiration (ms)", Ty::Int),
            f("user_id", "User ID", Ty::Text),
            f("app_id", "App ID", Ty::Text),
            dflt(f("pool_size", "Pool size", Ty::Int), "10"),
        ],
        create: Some("zato.outgoing.amqp.create"),
        edit: Some("zato.outgoing.amqp.edit"),
        delete: Some("zato.outgoing.amqp.delete"),
        ..BASE
    },
    Kind {
        slug: "channel-amqp",
        title: "AMQP channels",
        singular: "AMQP channel",
        list: "zato.channel.amqp.get-list",
        columns: &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("def_name", "Definition"),
            ("queue", "Queue"),
            ("consumer_tag_prefix", "Consumer tag prefix"),
            ("pool_size", "Pool size"),
            ("ack_mode", "Ack mode"),
            ("prefetch_count", "Prefetch"),
            ("service_name", "Service"),
        ],
        fields: &[
            req("name", "Name", Ty::Text),
            active(),
            req("def_name", "Definition", Ty::AmqpDef),
            req("queue", "Queue", Ty::Text),
            from_row(req("service", "Service", Ty::Service), "service_name"),
            f("consumer_tag_prefix", "Consumer tag prefix", Ty::Text),
            dflt(f("pool_size", "Pool size", Ty::Int), "1"),
            dflt(
                f("ack_mode", "Ack mode", Ty::Select(&["ack", "reject"])),
                "ack",
            ),
            dflt(f("prefetch_count", "Prefetch", Ty::Int), "10"),
            f("data_format", "Data format", Ty::Select(DATA_FORMATS)),
            f("max_deliveries", "Max deliveries", Ty::Int),
        ],
        create: Some("zato.channel.amqp.create"),
        edit: Some("zato.channel.amqp.edit"),
        delete: Some("zato.channel.amqp.delete"),
        ..BASE
    },
    Kind {
        slug: "cache",
        title: "Built-in caches",
        singular: "cache definition",
        list: "zato.cache.builtin.get-list",
        columns: &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("is_default", "Default"),
            ("max_size", "Max size"),
            ("max_item_size", "Max item size"),
            ("extend_expiry_on_get", "Extend on get"),
            ("extend_expiry_on_set", "Extend on set"),
        ],
        fields: &[
            req("name", "Name", Ty::Text),
            active(),
            f("is_default", "Default", Ty::Bool),
            dflt(f("max_size", "Max size", Ty::Int), "10000"),
            dflt(f("max_item_size", "Max item size", Ty::Int), "1000000"),
            dflt(
                f("extend_expiry_on_get", "Extend expiry on get", Ty::Bool),
                "on",
            ),
            f("extend_expiry_on_set", "Extend expiry on set", Ty::Bool),
        ],
        create: Some("zato.cache.builtin.create"),
        edit: Some("zato.cache.builtin.edit"),
        delete: Some("zato.cache.builtin.delete"),
        row_link: Some("/cache/{id}"),
        ..BASE
    },
    Kind {
        slug: "scheduler",
        title: "Scheduler jobs",
        singular: "scheduler job",
        list: "zato.scheduler.job.get-list",
        columns: &[
            ("name", "Name"),
            ("is_active", "Active"),
            ("job_type", "Type"),
            ("service_name", "Service"),
            ("start_date", "Start (UTC)"),
            ("schedule", "Schedule"),
        ],
        fields: &[
            req("name", "Name", Ty::Text),
            active(),
            req(
                "job_type",
                "Type",
                Ty::Select(&["interval_based", "one_time", "cron_style"]),
            ),
            from_row(req("service", "Service", Ty::Service), "service_name"),
            help(
                req("start_date", "Start (UTC)", Ty::Text),
                "YYYY-MM-DD HH:MM:SS, in UTC",
            ),
            f("weeks", "Weeks", Ty::Int),
            f("days", "Days", Ty::Int),
            f("hours", "Hours", Ty::Int),
            f("minutes", "Minutes", Ty::Int),
            f("seconds", "Seconds", Ty::Int),
            help(f("repeats", "Repeats", Ty::Int), "Empty: for ever"),
            help(
                f("cron_definition", "Cron definition", Ty::Text),
                "For cron_style jobs: 5 fields, 6 with seconds first, or @hourly and the like",
            ),
            help(
                f("extra", "Extra (the service's payload)", Ty::Area),
                "JSON, or key=value lines",
            ),
        ],
        create: Some("zato.scheduler.job.create"),
        edit: Some("zato.scheduler.job.edit"),
        delete: Some("zato.scheduler.job.delete"),
        derived: Some(job_schedule),
        actions: &[
            Action {
                name: "execute",
                label: "Execute now",
                service: "zato.scheduler.job.execute",
                input: by_id,
                label_for: None,
            },
            Action {
                name: "toggle",
                label: "Activate / deactivate",
                service: "zato.scheduler.job.set-active-status",
                input: toggle_active,
                label_for: Some(toggle_label),
            },
        ],
        ..BASE
    },
];

pub fn find(slug: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_schedules_in_words() {
        let s = |row: Value| job_schedule("schedule", &row).unwrap();
        assert_eq!(
            s(json!({"job_type": "interval_based", "hours": 1, "minutes": 30, "seconds": 0})),
            "every 1h 30m"
        );
        assert_eq!(
            s(json!({"job_type": "interval_based", "seconds": 5, "repeats": 3})),
            "every 5s, 3 times"
        );
        assert_eq!(
            s(json!({"job_type": "cron_style", "cron_definition": "*/5 * * * *"})),
            "*/5 * * * *"
        );
        assert_eq!(s(json!({"job_type": "one_time"})), "once");
        assert!(job_schedule("name", &json!({})).is_none());
    }

    #[test]
    fn slugs_unique_and_fields_sane() {
        let mut slugs: Vec<&str> = KINDS.iter().map(|k| k.slug).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), KINDS.len());
        for k in KINDS {
            assert!(k.list.starts_with("zato."), "{}", k.slug);
            for a in k.actions {
                assert!(a.service.starts_with("zato."), "{} {}", k.slug, a.name);
            }
            // `csrf` is the guard's own form field.
            assert!(k.fields.iter().all(|f| f.name != "csrf" && f.name != "id"));
        }
    }
}
