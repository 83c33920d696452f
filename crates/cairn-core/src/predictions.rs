//! The prediction log: one record per row a served model predicted, written by the
//! serving endpoints and read by online evaluation, which joins it with ground truth
//! through `entity_id`.

use serde::{Deserialize, Serialize};

use crate::{ErrorCode, MlflowError, Result};

/// One predicted row: what went in, what came out, and which model version said it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PredictionRecord {
    /// The id of the request the row came in (the `X-Request-Id` the endpoint answered).
    pub request_id: String,
    /// The row's position in its request.
    pub row_index: i64,
    pub model_name: String,
    pub model_version: i64,
    /// The alias the endpoint follows (`champion`), so a log can be read per alias.
    #[serde(default)]
    pub alias: Option<String>,
    /// The caller's key for the predicted thing, taken from the endpoint's entity
    /// column; ground truth that arrives later is joined on it.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// When the endpoint answered, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The row's inputs as a JSON object (column -> value) or array (a tensor slice).
    pub inputs: serde_json::Value,
    /// The row's outputs, likewise.
    pub outputs: serde_json::Value,
    /// Predicted by a shadow (`cairn serve --shadow`): the challenger scored the
    /// request off the response path and its answer was never returned. Its
    /// `inputs` are null: they are those of the answered row with the same
    /// `request_id` and `row_index`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// The ground truth logged for the row's entity, as a search reads it (joined on
    /// model and entity); ignored when the row is logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<RecordTruth>,
}

/// An entity's ground truth beside a logged prediction: a label or a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordTruth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// Most records one log-batch request may carry.
pub const MAX_LOG_BATCH: usize = 10_000;
/// Most records one search answers with.
pub const MAX_SEARCH_RESULTS: i64 = 10_000;

impl PredictionRecord {
    /// Checks what the store cannot: names present and within MLflow's limits.
    pub fn validate(&self, index: usize) -> Result<()> {
        let field = |name: &str| format!("predictions[{index}].{name}");
        if self.request_id.is_empty() || self.request_id.len() > 64 {
            return Err(MlflowError::new(
                ErrorCode::InvalidParameterValue,
                format!("{} must be 1 to 64 characters", field("request_id")),
            ));
        }
        if self.model_name.is_empty() || self.model_name.len() > 256 {
            return Err(MlflowError::new(
                ErrorCode::InvalidParameterValue,
                format!("{} must be 1 to 256 characters", field("model_name")),
            ));
        }
        if self.model_version < 1 {
            return Err(MlflowError::new(
                ErrorCode::InvalidParameterValue,
                format!(
                    "{} must be a version number (1 or more)",
                    field("model_version")
                ),
            ));
        }
        if self.row_index < 0 {
            return Err(MlflowError::new(
                ErrorCode::InvalidParameterValue,
                format!("{} must not be negative", field("row_index")),
            ));
        }
        for (name, value) in [("alias", &self.alias), ("entity_id", &self.entity_id)] {
            if value.as_ref().is_some_and(|v| v.len() > 256) {
                return Err(MlflowError::new(
                    ErrorCode::InvalidParameterValue,
                    format!("{} must be at most 256 characters", field(name)),
                ));
            }
        }
        Ok(())
    }
}

/// Which records a search returns, oldest first.
#[derive(Debug, Clone, Default)]
pub struct PredictionSearch {
    pub model_name: String,
    pub model_version: Option<i64>,
    pub entity_id: Option<String>,
    pub request_id: Option<String>,
    /// Only shadow predictions (`true`) or only answered ones (`false`).
    pub shadow: Option<bool>,
    /// Only predictions logged under this alias.
    pub alias: Option<String>,
    /// Only predictions made at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only predictions made before this time (Unix ms).
    pub until_ms: Option<i64>,
    pub max_results: i64,
    /// The id of the last record of the previous page.
    pub after_id: Option<i64>,
}
