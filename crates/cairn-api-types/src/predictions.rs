//! cairn's prediction-log API (`/api/2.0/cairn/predictions/...`): the serving
//! endpoints' batched writes, and reads for evaluation and inspection.

use cairn_core::predictions::PredictionRecord;
use serde::{Deserialize, Serialize};

/// `predictions/log-batch`: all the records are written, or none.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogPredictionsRequest {
    pub predictions: Vec<PredictionRecord>,
}

/// `predictions/search`. Numbers come as the query string's text and are checked by
/// the server, which names the field that is not an integer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchPredictionsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// An integer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `true` for a shadow's predictions only, `false` for answered ones only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<String>,
    /// Only predictions logged under this alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Predictions made at or after this time (Unix ms, an integer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<String>,
    /// Predictions made before this time (Unix ms, an integer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<String>,
    /// An integer, 1,000 if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// A page of a model's prediction log, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchPredictionsResponse {
    /// Always present, empty when nothing matched.
    #[serde(default)]
    pub predictions: Vec<PredictionRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}
