//! cairn's online-evaluation API (`/api/2.0/cairn/ground-truth/...`,
//! `/api/2.0/cairn/evaluations/...`, `/api/2.0/cairn/monitor/...`): ground truth that
//! arrives after the predictions, the metrics of each model version over the
//! prediction log, and stored evaluation and drift reports.

use cairn_core::monitor::{GroundTruth, GroundTruthEntry, MonitorReport};
use serde::{Deserialize, Serialize};

/// `ground-truth/log-batch`: every record is written, or none (at most 10,000).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogGroundTruthRequest {
    pub ground_truth: Vec<GroundTruth>,
}

/// `ground-truth/get`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetGroundTruthRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GetGroundTruthResponse {
    pub ground_truth: GroundTruthEntry,
}

/// `evaluations/online`: numbers come as the query string's text and are checked by
/// the server, which names the field that is not one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnlineEvaluationRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// One version (an integer); every version that predicted in the range if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Predictions made at or after this time (Unix ms); 7 days before `until_ms` if
    /// absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<String>,
    /// Predictions made before this time (Unix ms); now if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<String>,
    /// `hour`, `day`, `week` or `all` (one window over the range, the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The output holding the prediction; found from the log if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_key: Option<String>,
    /// The output holding class probabilities; found from the log if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability_key: Option<String>,
    /// Only predictions logged under this alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// `monitor/reports`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListReportsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// `evaluation` or `drift`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// An integer, 20 if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListReportsResponse {
    pub reports: Vec<MonitorReport>,
}

/// `monitor/reports/create`: keeps an evaluation or drift result (a job step's).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateReportRequest {
    pub model_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<i64>,
    /// `evaluation` or `drift`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<String>,
    /// What lists and gauges read.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// The whole result.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}
