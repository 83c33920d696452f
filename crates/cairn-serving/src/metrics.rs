//! Prometheus metrics of the serving endpoints. The recorder is process-wide (the
//! `metrics` facade has one), installed on first use; `/metrics` renders it.

use std::sync::OnceLock;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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

/// Latency buckets from 50 µs (a small model's whole request) to 10 s (a reload).
const BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];

/// The process's Prometheus handle, installing the recorder the first time. If
/// another recorder was installed first (an embedding program's), metrics go there
/// and this handle renders an empty page.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        describe();
        handle
    })
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
