//! The model registry's entities (`model_registry.proto`), shaped as MLflow's server
//! writes them in JSON: version numbers as strings, aliases as a list of names on a
//! version and as `{alias, version}` pairs on a registered model.

use serde::{Deserialize, Serialize};

use crate::entities::KeyValue;
use crate::error::MlflowError;

fn is_empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisteredModelAlias {
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisteredModel {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The newest version in each stage (MLflow's deprecated `latest_versions`).
    #[serde(default, skip_serializing_if = "is_empty")]
    pub latest_versions: Vec<ModelVersion>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub aliases: Vec<RegisteredModelAlias>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub current_stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

/// The legacy deployment stages; MLflow 2.9 deprecated them in favour of aliases but
/// older clients still transition versions between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// Case-insensitive, as MLflow's `get_canonical_stage`.
    pub fn parse(s: &str) -> Result<Self, MlflowError> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                MlflowError::invalid_parameter(format!(
                    "Invalid Model Version stage: {s}. Value must be one of None, Staging, \
                     Production, Archived."
                ))
            })
    }
}

/// The stage MLflow's SQL store gives a deleted version: such rows stay in the table
/// (so version numbers are never reused) but are invisible.
pub const DELETED_STAGE: &str = "Deleted_Internal";

/// The tag that marks a registered model as a prompt; searches leave prompts out.
pub const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// One move of a registry alias: set (`from_version` none), moved, or removed
/// (`to_version` none). cairn's own record; MLflow keeps only the current target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasEvent {
    pub alias: String,
    pub from_version: Option<i64>,
    pub to_version: Option<i64>,
    pub time_ms: i64,
}

/// A change in the registry that jobs can be triggered by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A model version was created (registered).
    VersionCreated { name: String, version: i64 },
    /// An alias was set or moved.
    AliasSet {
        name: String,
        alias: String,
        version: i64,
    },
}

impl RegistryEvent {
    /// The event's fields, as a triggered run's `event` (`${{ event.version }}`).
    pub fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        match self {
            RegistryEvent::VersionCreated { name, version } => {
                m.insert("model".into(), name.as_str().into());
                m.insert("version".into(), version.to_string().into());
            }
            RegistryEvent::AliasSet {
                name,
                alias,
                version,
            } => {
                m.insert("model".into(), name.as_str().into());
                m.insert("alias".into(), alias.as_str().into());
                m.insert("version".into(), version.to_string().into());
            }
        }
        m
    }
}
