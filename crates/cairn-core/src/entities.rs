//! MLflow's tracking entities, shaped as MLflow's server writes them in JSON.
//!
//! Field names and the omission of empty fields follow MLflow's `message_to_json`
//! (proto2 presence: an unset field or an empty list is left out), so the server
//! can serialize these directly and the client can read them back.

use serde::{Deserialize, Serialize};

use crate::error::MlflowError;
use crate::wire;

fn is_empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

/// `active` or `deleted`: MLflow soft-deletes experiments and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(LifecycleStage::Active),
            "deleted" => Some(LifecycleStage::Deleted),
            _ => None,
        }
    }
}

/// Which lifecycle stages a search returns (`ViewType` in MLflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    /// Accepts the enum name or its number, as protobuf JSON does.
    pub fn parse(s: &str) -> Result<Self, MlflowError> {
        match s {
            "ACTIVE_ONLY" | "1" => Ok(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Ok(ViewType::DeletedOnly),
            "ALL" | "3" => Ok(ViewType::All),
            other => Err(MlflowError::invalid_parameter(format!(
                "Invalid value '{other}' for parameter 'view_type': expected one of \
                 ACTIVE_ONLY, DELETED_ONLY, ALL"
            ))),
        }
    }

    /// The lifecycle stages this view includes.
    pub fn stages(self) -> &'static [&'static str] {
        match self {
            ViewType::ActiveOnly => &["active"],
            ViewType::DeletedOnly => &["deleted"],
            ViewType::All => &["active", "deleted"],
        }
    }
}

/// A run's status (`RunStatus` in MLflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Accepts the enum name or its number (1-5), as protobuf JSON does.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RUNNING" | "1" => RunStatus::Running,
            "SCHEDULED" | "2" => RunStatus::Scheduled,
            "FINISHED" | "3" => RunStatus::Finished,
            "FAILED" | "4" => RunStatus::Failed,
            "KILLED" | "5" => RunStatus::Killed,
            _ => return None,
        })
    }

    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

/// A key/value tag or param, as MLflow writes `{key, value}` pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_location: Option<String>,
    pub lifecycle_stage: LifecycleStage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<i64>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub tags: Vec<KeyValue>,
}

/// One point of a metric's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Metric {
    pub key: String,
    #[serde(
        serialize_with = "wire::serialize_f64",
        deserialize_with = "deserialize_f64"
    )]
    pub value: f64,
    pub timestamp: i64,
    #[serde(default)]
    pub step: i64,
    /// Set only where MLflow sets it: bulk-interval history and logged-model metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The logged model the point is also recorded for (MLflow 3's log_model re-logs
    /// the run's metrics with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

fn deserialize_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    wire::deserialize_opt_f64(d)?.ok_or_else(|| serde::de::Error::custom("value is required"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunInfo {
    pub run_id: String,
    pub run_uuid: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: RunStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: LifecycleStage,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunData {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dataset {
    /// `name`, `digest` and `source` may be missing from a request: they are proto3
    /// strings, and MLflow stores the empty string for them.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub digest: String,
    pub source_type: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetInput {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub tags: Vec<KeyValue>,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelInput {
    pub model_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelOutput {
    pub model_id: String,
    #[serde(default)]
    pub step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunInputs {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub dataset_inputs: Vec<DatasetInput>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub model_inputs: Vec<ModelInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunOutputs {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub model_outputs: Vec<ModelOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
    #[serde(default)]
    pub inputs: RunInputs,
    #[serde(default)]
    pub outputs: RunOutputs,
}

/// One page of a search, with the token for the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// The system tag that mirrors a run's name.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// The system tag that holds the user who created a run.
pub const USER_TAG: &str = "mlflow.user";
/// The system tag that links a child run (an HPO trial) to its parent.
pub const PARENT_RUN_TAG: &str = "mlflow.parentRunId";
