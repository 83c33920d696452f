//! Prometheus metrics of the serving endpoints. The recorder is the process's one
//! (`cairn_telemetry`); `/metrics` renders it, beside the tracking server's metrics
//! when the endpoints run inside `cairn server`.

use std::sync::Once;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::PrometheusHandle;

pub const REQUESTS: &str = "cairn_serving_requests_total";
pub const ERRORS: &str = "cairn_serving_errors_total";
pub const LATENCY: &str = "cairn_serving_request_duration_seconds";
pub const ROWS: &str = "cairn_serving_rows_predicted_total";
pub const RELOADS: &str = "cairn_serving_reloads_total";
pub const RELOAD_FAILURES: &str = "cairn_serving_reload_failures_total";
pub const RELOAD_LATENCY: &str = "cairn_serving_reload_duration_seconds";
pub const LOG_WRITTEN: &str = "cairn_prediction_log_rows_written_total";
pub const LOG_SHED: &str = "cairn_prediction_log_rows_shed_total";
pub const LOG_FAILED: &str = "cairn_prediction_log_rows_failed_total";
pub const SHADOW_REQUESTS: &str = "cairn_shadow_requests_total";
pub const SHADOW_SHED: &str = "cairn_shadow_requests_shed_total";
pub const SHADOW_LATENCY: &str = "cairn_shadow_request_duration_seconds";

/// The process's Prometheus handle (see `cairn_telemetry`), with this crate's
/// metrics described the first time.
pub fn handle() -> &'static PrometheusHandle {
    static DESCRIBED: Once = Once::new();
    let handle = cairn_telemetry::prometheus();
    DESCRIBED.call_once(describe);
    handle
}

fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        REQUESTS,
        "Scoring requests answered, by model, version and status."
    );
    describe_counter!(
        ERRORS,
        "Scoring requests that failed, by model, version and kind."
    );
    describe_histogram!(LATENCY, Unit::Seconds, "Time to answer a scoring request.");
    describe_counter!(ROWS, "Rows predicted, by model and version.");
    describe_counter!(RELOADS, "Model versions loaded and swapped in.");
    describe_counter!(
        RELOAD_FAILURES,
        "Model versions that failed to load or check."
    );
    describe_histogram!(
        RELOAD_LATENCY,
        Unit::Seconds,
        "From seeing an alias move to serving the new version."
    );
    describe_counter!(LOG_WRITTEN, "Prediction-log rows written.");
    describe_counter!(
        LOG_SHED,
        "Prediction-log rows dropped because the queue was full."
    );
    describe_counter!(LOG_FAILED, "Prediction-log rows the store did not take.");
    describe_counter!(
        SHADOW_REQUESTS,
        "Requests a shadow challenger scored, by model, version and status \
         (ok, error, unloaded: no version loaded yet)."
    );
    describe_counter!(
        SHADOW_SHED,
        "Requests not given to the shadow challenger because its queue was full."
    );
    describe_histogram!(
        SHADOW_LATENCY,
        Unit::Seconds,
        "Time the shadow challenger took to score a request."
    );
}

/// One loaded model version's request metrics, registered once at load so a request
/// only touches atomics.
pub struct ModelMetrics {
    pub ok: Counter,
    pub failed: Counter,
    pub client_errors: Counter,
    pub server_errors: Counter,
    pub latency: Histogram,
    pub rows: Counter,
}

impl ModelMetrics {
    pub fn new(model: &str, version: i64) -> ModelMetrics {
        handle();
        let labels = |extra: Option<(&'static str, &'static str)>| {
            let mut l = vec![
                ("model", model.to_string()),
                ("version", version.to_string()),
            ];
            if let Some((k, v)) = extra {
                l.push((k, v.to_string()));
            }
            l
        };
        ModelMetrics {
            ok: metrics::counter!(REQUESTS, &labels(Some(("status", "ok")))),
            failed: metrics::counter!(REQUESTS, &labels(Some(("status", "error")))),
            client_errors: metrics::counter!(ERRORS, &labels(Some(("kind", "client")))),
            server_errors: metrics::counter!(ERRORS, &labels(Some(("kind", "server")))),
            latency: metrics::histogram!(LATENCY, &labels(None)),
            rows: metrics::counter!(ROWS, &labels(None)),
        }
    }
}
