//! `GET /zato/metrics` on the frontend (and `GET /metrics` on the agent): the load balancer's
//! own Prometheus metrics, made from its per-server counters at each scrape with the
//! `prometheus` crate (text format 0.0.4). The frontend answers the path itself and never
//! forwards it: a server's metrics are scraped from the server's own port.
use std::sync::atomic::Ordering::Relaxed;

use prometheus::{Encoder, GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::state::Lb;

pub const METRICS_URI: &str = "/zato/metrics";
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Whether a request-target (path and query) asks for the metrics.
pub fn is_metrics(target: &str) -> bool {
    target.split('?').next() == Some(METRICS_URI)
}

fn render_with(lb: &Lb) -> prometheus::Result<String> {
    let r = Registry::new();
    let by_server = |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["server"]);
    let requests = by_server("zato_lb_requests_total", "Requests a server answered")?;
    let errors = by_server(
        "zato_lb_errors_total",
        "Requests a server failed (refused, timed out, broken)",
    )?;
    let opened = by_server(
        "zato_lb_connections_opened_total",
        "Connections ever opened to a server",
    )?;
    let gauge = |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), &["server"]);
    let active = gauge(
        "zato_lb_connections",
        "Connections open to a server, idle ones included",
    )?;
    let in_flight = gauge(
        "zato_lb_in_flight",
        "Requests sent to a server, not yet answered",
    )?;
    let up = gauge(
        "zato_lb_server_up",
        "1 while a server takes requests (not down, not in maintenance)",
    )?;
    let weight = gauge("zato_lb_server_weight", "A server's share of requests")?;
    let latency = GaugeVec::new(
        Opts::new(
            "zato_lb_latency_seconds",
            "Latency of a server's answers (within about 19%), by quantile",
        ),
        &["server", "quantile"],
    )?;
    let no_server = IntCounter::new(
        "zato_lb_no_server_available_total",
        "Requests answered 503 because no server was available",
    )?;
    let uptime = prometheus::IntGauge::new(
        "zato_lb_uptime_seconds",
        "Seconds since the load balancer started",
    )?;
    for s in lb.pool.load().states() {
        let name = [s.name.as_str()];
        requests.with_label_values(&name).inc_by(s.stats.requests);
        errors.with_label_values(&name).inc_by(s.stats.errors);
        opened
            .with_label_values(&name)
            .inc_by(s.stats.connections_opened);
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        active
            .with_label_values(&name)
            .set(n(s.stats.active_connections));
        in_flight.with_label_values(&name).set(n(s.stats.in_flight));
        up.with_label_values(&name).set(i64::from(s.state == "UP"));
        weight.with_label_values(&name).set(i64::from(s.weight));
        for (q, v) in [("0.5", s.stats.p50_ms), ("0.99", s.stats.p99_ms)] {
            if let Some(ms) = v {
                latency
                    .with_label_values(&[s.name.as_str(), q])
                    .set(ms / 1000.0);
            }
        }
    }
    no_server.inc_by(lb.no_server.load(Relaxed));
    uptime.set(i64::try_from(lb.started.elapsed().as_secs()).unwrap_or(i64::MAX));
    r.register(Box::new(requests))?;
    r.register(Box::new(errors))?;
    r.register(Box::new(opened))?;
    r.register(Box::new(active))?;
    r.register(Box::new(in_flight))?;
    r.register(Box::new(up))?;
    r.register(Box::new(weight))?;
    r.register(Box::new(latency))?;
    r.register(Box::new(no_server))?;
    r.register(Box::new(uptime))?;
    let mut out = Vec::new();
    prometheus::TextEncoder::new().encode(&r.gather(), &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The metrics as Prometheus text; a failure to render is logged and answered empty.
pub fn render(lb: &Lb) -> String {
    render_with(lb).unwrap_or_else(|e| {
        tracing::warn!("cannot render metrics: {e}");
        String::new()
    })
}
