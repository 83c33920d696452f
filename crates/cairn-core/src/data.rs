//! Stored results of data-quality checks.

use serde::{Deserialize, Serialize};

/// A data check's result as stored: what was checked, from which source version,
/// the verdict, and the whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataCheck {
    pub id: i64,
    /// The view or contract checked.
    pub target: String,
    /// `view` or `contract`.
    pub kind: String,
    /// The version (digest) of its contract file.
    pub version: String,
    /// The sources' fingerprints (file sizes and modification times), one per view.
    pub fingerprint: String,
    pub passed: bool,
    pub violations: i64,
    pub rows: i64,
    pub checked_ms: i64,
    pub duration_ms: i64,
    /// The job run that made it, if a job did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<String>,
    /// The whole report (per view and field: profile, constraints, examples); empty
    /// in lists.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

/// Where a field is used: a contract that reads it (as a feature or the label).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldUse {
    pub contract: String,
    /// `feature` or `label`.
    pub role: String,
    /// The registered model the contract describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// A field found by a catalog search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldHit {
    pub view: String,
    pub field: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
