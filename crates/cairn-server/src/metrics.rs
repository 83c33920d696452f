//! The tracking server's Prometheus metrics: requests by route and status, their
//! latency, and the store's own gauges, rendered at `/metrics` with everything else
//! the process records (the serving endpoints' metrics when `--serve` runs them).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_service::Services;

const REQUESTS: &str = "cairn_http_requests_total";
const LATENCY: &str = "cairn_http_request_duration_seconds";

/// Counts the request and times it, labelled by the route's template (`/api/2.0/
/// mlflow/runs/get`, `/runs/{id}`), never the raw path, so ids do not multiply the
/// series.
pub(crate) async fn track(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched
        .as_ref()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(LATENCY, "route" => route.clone(), "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(REQUESTS, "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// The metrics page's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(page))]
pub(crate) struct Api;

/// `/metrics` in Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "server",
    operation_id = "getMetrics",
    responses((status = 200, description = "requests by route, method and status with their latency, the store's gauges, and whatever else the process records, in Prometheus' text format", body = String, content_type = "text/plain")))]
pub(crate) async fn page(State(state): State<Services>) -> impl IntoResponse {
    let handle = cairn_telemetry::prometheus();
    describe();
    // Gauges read at scrape time (the PostgreSQL pool's connections).
    state.tracking.store().record_gauges();
    // The newest online metrics and drift share per model version.
    state.monitor.record_gauges().await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}

fn describe() {
    use std::sync::Once;
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(|| {
        metrics::describe_counter!(
            REQUESTS,
            "HTTP requests answered, by route, method and status."
        );
        metrics::describe_histogram!(
            LATENCY,
            metrics::Unit::Seconds,
            "Time to answer an HTTP request, by route and method."
        );
        cairn_store::describe_metrics();
        metrics::describe_gauge!(
            "cairn_drift_share",
            "Share of drifting columns in the newest drift report, by model and version."
        );
        metrics::describe_gauge!(
            "cairn_dataset_drift",
            "1 when the newest drift report found dataset drift, by model and version."
        );
        metrics::describe_gauge!(
            "cairn_online_metric",
            "The newest stored online evaluation's figures, by model, version and metric."
        );
    });
}
