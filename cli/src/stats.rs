//! `zato stats PATH`: the most used or slowest services of a period, through the server's
//! `zato.stats.trends.get-trends` (JSON, table) or `zato.stats.get-csv` (CSV, so the CLI
//! and the admin API give the same file).
use chrono::{Duration, NaiveDateTime, Utc};
use serde_json::{Value, json};

use crate::exit::{CliError, CliResult, INVALID_INPUT};
use crate::invoke::call;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum By {
    /// The most used services.
    Usage,
    /// The slowest services (mean time).
    Mean,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum StatsFormat {
    Table,
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// A server's directory.
    pub path: std::path::PathBuf,
    /// Rank by usage (most used) or by mean time (slowest).
    #[arg(long, value_enum, default_value = "usage")]
    pub by: By,
    /// How many services (0: all).
    #[arg(short, long, default_value_t = 10)]
    pub n: i64,
    /// The period up to now: 30s, 15m, 1h, 1d, 2w.
    #[arg(long, default_value = "1h", conflicts_with = "start")]
    pub last: String,
    /// The period's start (UTC, e.g. 2026-12-07T10:00:00 or 2026-12-07).
    #[arg(long, requires = "stop")]
    pub start: Option<String>,
    /// The period's end (UTC, excluded).
    #[arg(long, requires = "start")]
    pub stop: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: StatsFormat,
}

/// `30s`, `15m`, `1h`, `1d`, `2w` as a span of time.
pub fn parse_span(text: &str) -> CliResult<Duration> {
    let bad = || {
        CliError::new(
            INVALID_INPUT,
            format!("`--last {text}` is not a span of time; use e.g. 30s, 15m, 1h, 1d or 2w"),
        )
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: i64 = t[..split].parse().map_err(|_| bad())?;
    let span = match &t[split..] {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    };
    span.filter(|s| *s > Duration::zero()).ok_or_else(bad)
}

fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

pub async fn run(args: StatsArgs) -> CliResult<()> {
    let (start, stop) = match (args.start, args.stop) {
        (Some(start), Some(stop)) => (start, stop),
        _ => {
            let now = Utc::now().naive_utc();
            // Up to the end of this second, so what ran just now is in.
            (
                iso(now - parse_span(&args.last)?),
                iso(now + Duration::seconds(1)),
            )
        }
    };
    let n_type = match args.by {
        By::Usage => "usage",
        By::Mean => "mean",
    };
    let input = json!({"start": start, "stop": stop, "n": args.n, "n_type": n_type});
    match args.format {
        StatsFormat::Csv => {
            let out = call(&args.path, "zato.stats.get-csv", &input).await?;
            print!("{}", out["data"].as_str().unwrap_or_default());
        }
        StatsFormat::Json => {
            let out = call(&args.path, "zato.stats.trends.get-trends", &input).await?;
            println!("{out}");
        }
        StatsFormat::Table => {
            let out = call(&args.path, "zato.stats.trends.get-trends", &input).await?;
            print_table(&out, &start, &stop);
        }
    }
    Ok(())
}

fn print_table(rows: &Value, start: &str, stop: &str) {
    let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
    if rows.is_empty() {
        println!("No calls between {start} and {stop} (UTC)");
        return;
    }
    let mut table = comfy_table::Table::new();
    table
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_width(100)
        .set_header([
            "service", "usage", "errors", "rate/s", "mean ms", "min ms", "max ms", "% usage",
            "% time",
        ]);
    let cell = |r: &Value, k: &str| match &r[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    for r in rows {
        table.add_row(
            [
                "service_name",
                "usage",
                "errors",
                "rate",
                "mean",
                "min_resp_time",
                "max_resp_time",
                "usage_perc_all_services",
                "time_perc_all_services",
            ]
            .map(|k| cell(r, k)),
        );
    }
    println!("Between {start} and {stop} (UTC)\n{table}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_time() {
        assert_eq!(parse_span("15m").unwrap(), Duration::minutes(15));
        assert_eq!(parse_span("2w").unwrap(), Duration::weeks(2));
        for bad in ["", "h", "10", "0h", "5y", "-1h", "99999999999999999999d"] {
            let e = parse_span(bad).unwrap_err();
            assert_eq!(e.code, INVALID_INPUT, "{bad}");
        }
    }
}
