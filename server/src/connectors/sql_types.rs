//! Values across the SQL boundary, per driver: result columns decoded by their type name into
//! what Python gets (dates, decimals, UUIDs and JSON as typed values), and PostgreSQL
//! parameters bound as the types the server infers for them (PostgreSQL, unlike MySQL and
//! SQLite, does not turn text into a number, date or UUID on its own).
use std::str::FromStr;

use serde_json::Value;
use sqlx::mysql::MySqlRow;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::SqliteRow;
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, Json, Uuid};
use sqlx::{Column, Postgres, Row, TypeInfo};

/// Values Python builds from text (decimal.Decimal, datetime, uuid.UUID, json.loads).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Decimal,
    DateTime,
    Date,
    Time,
    Uuid,
    Json,
}

/// One column's value as Python will see it.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Typed(Kind, String),
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> SqlValue) -> SqlValue {
    v.map_or(SqlValue::Null, f)
}

/// A value that cannot cross between a column or parameter and its JSON form.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

macro_rules! get {
    ($row:expr, $i:expr, $t:ty) => {
        $row.try_get::<Option<$t>, _>($i)
            .map_err(|e| ValueError(e.to_string()))
    };
}

fn naive(v: NaiveDateTime) -> SqlValue {
    SqlValue::Typed(Kind::DateTime, v.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
}

/// Columns of no type this build decodes: their text, else an error saying to cast.
fn fallback<R: Row>(row: &R, i: usize, type_name: &str) -> Result<SqlValue, ValueError>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    row.try_get_unchecked::<Option<String>, _>(i)
        .map(|v| opt(v, SqlValue::Text))
        .map_err(|_| {
            ValueError(format!(
                "the type {type_name} is not supported; cast the column to text in the query"
            ))
        })
}

fn pg_value(row: &PgRow, i: usize) -> Result<SqlValue, ValueError> {
    let ty = row.columns()[i].type_info().name().to_ascii_uppercase();
    Ok(match ty.as_str() {
        "BOOL" => opt(get!(row, i, bool)?, SqlValue::Bool),
        "INT2" => opt(get!(row, i, i16)?, |v| SqlValue::Int(v.into())),
        "INT4" => opt(get!(row, i, i32)?, |v| SqlValue::Int(v.into())),
        "INT8" => opt(get!(row, i, i64)?, SqlValue::Int),
        "OID" => opt(get!(row, i, sqlx::postgres::types::Oid)?, |v| {
            SqlValue::Int(v.0.into())
        }),
        "FLOAT4" => opt(get!(row, i, f32)?, |v| SqlValue::Float(v.into())),
        "FLOAT8" => opt(get!(row, i, f64)?, SqlValue::Float),
        "NUMERIC" => opt(get!(row, i, Decimal)?, |v| {
            SqlValue::Typed(Kind::Decimal, v.to_string())
        }),
        "TIMESTAMP" => opt(get!(row, i, NaiveDateTime)?, naive),
        "TIMESTAMPTZ" => opt(get!(row, i, DateTime<Utc>)?, |v| {
            SqlValue::Typed(Kind::DateTime, v.to_rfc3339())
        }),
        "DATE" => opt(get!(row, i, NaiveDate)?, |v| {
            SqlValue::Typed(Kind::Date, v.to_string())
        }),
        "TIME" => opt(get!(row, i, NaiveTime)?, |v| {
            SqlValue::Typed(Kind::Time, v.to_string())
        }),
        "UUID" => opt(get!(row, i, Uuid)?, |v| {
            SqlValue::Typed(Kind::Uuid, v.to_string())
        }),
        "JSON" | "JSONB" => opt(get!(row, i, Json<Value>)?, |v| {
            SqlValue::Typed(Kind::Json, v.0.to_string())
        }),
        "BYTEA" => opt(get!(row, i, Vec<u8>)?, SqlValue::Bytes),
        "VOID" => SqlValue::Null,
        _ => return fallback(row, i, &ty),
    })
}

fn mysql_value(row: &MySqlRow, i: usize) -> Result<SqlValue, ValueError> {
    let ty = row.columns()[i].type_info().name().to_ascii_uppercase();
    let base = ty.trim_end_matches(" UNSIGNED");
    Ok(match base {
        "NULL" => SqlValue::Null,
        "BOOLEAN" => opt(get!(row, i, bool)?, SqlValue::Bool),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR"
            if ty.ends_with("UNSIGNED") || base == "YEAR" =>
        {
            match get!(row, i, u64) {
                Ok(v) => opt(v, |v| {
                    i64::try_from(v).map_or(SqlValue::Text(v.to_string()), SqlValue::Int)
                }),
                Err(_) => opt(get!(row, i, u16)?, |v| SqlValue::Int(v.into())),
            }
        }
        "TINYINT" => opt(get!(row, i, i8)?, |v| SqlValue::Int(v.into())),
        "SMALLINT" => opt(get!(row, i, i16)?, |v| SqlValue::Int(v.into())),
        "MEDIUMINT" | "INT" => opt(get!(row, i, i32)?, |v| SqlValue::Int(v.into())),
        "BIGINT" => opt(get!(row, i, i64)?, SqlValue::Int),
        "FLOAT" => opt(get!(row, i, f32)?, |v| SqlValue::Float(v.into())),
        "DOUBLE" => opt(get!(row, i, f64)?, SqlValue::Float),
        "DECIMAL" => opt(get!(row, i, Decimal)?, |v| {
            SqlValue::Typed(Kind::Decimal, v.to_string())
        }),
        "DATETIME" | "TIMESTAMP" => opt(get!(row, i, NaiveDateTime)?, naive),
        "DATE" => opt(get!(row, i, NaiveDate)?, |v| {
            SqlValue::Typed(Kind::Date, v.to_string())
        }),
        "TIME" => match get!(row, i, NaiveTime) {
            Ok(v) => opt(v, |v| SqlValue::Typed(Kind::Time, v.to_string())),
            // Durations beyond a day are MySQL TIMEs too.
            Err(_) => fallback(row, i, &ty)?,
        },
        "JSON" => opt(get!(row, i, Json<Value>)?, |v| {
            SqlValue::Typed(Kind::Json, v.0.to_string())
        }),
        "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BINARY" | "VARBINARY" | "BIT"
        | "GEOMETRY" => opt(get!(row, i, Vec<u8>)?, SqlValue::Bytes),
        _ => return fallback(row, i, &ty),
    })
}

/// SQLite's types are per value: what the value holds decides.
fn sqlite_value(row: &SqliteRow, i: usize) -> Result<SqlValue, ValueError> {
    let ty = row.columns()[i].type_info().name().to_ascii_uppercase();
    if ty == "BOOLEAN" {
        return Ok(opt(get!(row, i, bool)?, SqlValue::Bool));
    }
    if let Ok(v) = row.try_get_unchecked::<Option<i64>, _>(i)
        && matches!(ty.as_str(), "INTEGER" | "NUMERIC" | "NULL")
    {
        return Ok(opt(v, SqlValue::Int));
    }
    if let Ok(v) = get!(row, i, f64)
        && ty == "REAL"
    {
        return Ok(opt(v, SqlValue::Float));
    }
    if ty == "BLOB" {
        return Ok(opt(get!(row, i, Vec<u8>)?, SqlValue::Bytes));
    }
    if let Ok(v) = row.try_get_unchecked::<Option<String>, _>(i) {
        return Ok(opt(v, SqlValue::Text));
    }
    if let Ok(v) = row.try_get_unchecked::<Option<f64>, _>(i) {
        return Ok(opt(v, SqlValue::Float));
    }
    row.try_get_unchecked::<Option<Vec<u8>>, _>(i)
        .map(|v| opt(v, SqlValue::Bytes))
        .map_err(|e| ValueError(e.to_string()))
}

fn decode_with<R: Row>(
    row: &R,
    f: fn(&R, usize) -> Result<SqlValue, ValueError>,
) -> Result<Vec<SqlValue>, ValueError> {
    (0..row.columns().len())
        .map(|i| {
            f(row, i).map_err(|e| ValueError(format!("column `{}`: {e}", row.columns()[i].name())))
        })
        .collect()
}

pub fn decode_pg(row: &PgRow) -> Result<Vec<SqlValue>, ValueError> {
    decode_with(row, pg_value)
}

pub fn decode_mysql(row: &MySqlRow) -> Result<Vec<SqlValue>, ValueError> {
    decode_with(row, mysql_value)
}

pub fn decode_sqlite(row: &SqliteRow) -> Result<Vec<SqlValue>, ValueError> {
    decode_with(row, sqlite_value)
}

/// A parameter's text (numbers and booleans as written, JSON documents serialised).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse<T: FromStr>(v: &Value, what: &str) -> Result<T, ValueError> {
    let t = text(v);
    t.trim()
        .parse()
        .map_err(|_| ValueError(format!("`{t}` is not a valid {what}")))
}

fn parse_datetime(v: &Value) -> Result<NaiveDateTime, ValueError> {
    let t = text(v);
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t.trim(), f).ok())
    .or_else(|| {
        DateTime::parse_from_rfc3339(t.trim())
            .ok()
            .map(|d| d.naive_utc())
    })
    .ok_or_else(|| {
        ValueError(format!(
            "`{t}` is not a date and time (YYYY-MM-DD HH:MM:SS)"
        ))
    })
}

fn parse_datetime_tz(v: &Value) -> Result<DateTime<Utc>, ValueError> {
    let t = text(v);
    DateTime::parse_from_rfc3339(t.trim())
        .or_else(|_| DateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M:%S%.f%:z"))
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| parse_datetime(v).map(|n| n.and_utc()))
}

fn parse_bool(v: &Value) -> Result<bool, ValueError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0) != 0.0),
        other => match text(other).to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" | "on" => Ok(true),
            "false" | "f" | "0" | "no" | "off" => Ok(false),
            t => Err(ValueError(format!("`{t}` is not a boolean"))),
        },
    }
}

/// Binds one PostgreSQL parameter as `type_name`, the type the server inferred for it.
pub fn bind_pg<'q>(
    q: Query<'q, Postgres, PgArguments>,
    type_name: &str,
    v: &Value,
) -> Result<Query<'q, Postgres, PgArguments>, ValueError> {
    let null = v.is_null();
    macro_rules! typed {
        ($t:ty, $parse:expr) => {
            if null {
                q.bind(None::<$t>)
            } else {
                q.bind(Some::<$t>($parse?))
            }
        };
    }
    Ok(match type_name.to_ascii_uppercase().as_str() {
        "BOOL" => typed!(bool, parse_bool(v)),
        "INT2" => typed!(i16, parse(v, "small integer")),
        "INT4" => typed!(i32, parse(v, "integer")),
        "INT8" => typed!(i64, parse(v, "integer")),
        "FLOAT4" => typed!(f32, parse(v, "number")),
        "FLOAT8" => typed!(f64, parse(v, "number")),
        "NUMERIC" => typed!(Decimal, parse(v, "decimal number")),
        "TIMESTAMP" => typed!(NaiveDateTime, parse_datetime(v)),
        "TIMESTAMPTZ" => typed!(DateTime<Utc>, parse_datetime_tz(v)),
        "DATE" => typed!(NaiveDate, parse(v, "date (YYYY-MM-DD)")),
        "TIME" => typed!(NaiveTime, parse(v, "time (HH:MM:SS)")),
        "UUID" => typed!(Uuid, parse(v, "UUID")),
        "JSON" | "JSONB" => typed!(
            Json<Value>,
            Ok::<_, ValueError>(Json(match v {
                Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
                other => other.clone(),
            }))
        ),
        "BYTEA" => typed!(Vec<u8>, Ok::<_, ValueError>(text(v).into_bytes())),
        _ => typed!(String, Ok::<_, ValueError>(text(v))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_parse_per_type() {
        assert!(parse_bool(&json!("yes")).unwrap());
        assert_eq!(parse::<i32>(&json!("42"), "integer").unwrap(), 42);
        assert!(
            parse::<i32>(&json!("x"), "integer")
                .unwrap_err()
                .0
                .contains("`x`")
        );
        assert_eq!(
            parse_datetime(&json!("2026-11-22 18:00:00.5"))
                .unwrap()
                .to_string(),
            "2026-11-22 18:00:00.500"
        );
        assert_eq!(
            parse_datetime_tz(&json!("2026-11-22T18:00:00+02:00"))
                .unwrap()
                .to_rfc3339(),
            "2026-11-22T16:00:00+00:00"
        );
        assert_eq!(
            parse::<Decimal>(&json!(1.25), "decimal")
                .unwrap()
                .to_string(),
            "1.25"
        );
    }
}
