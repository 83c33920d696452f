//! MLflow's model registry (`model_registry.proto`): registered models, model
//! versions, tags, stages and aliases.

use cairn_core::entities::KeyValue;
use cairn_core::ids::{ModelName, Version};
use cairn_core::registry::{ModelVersion, RegisteredModel};
use cairn_core::MlflowError;
use serde::{Deserialize, Serialize};

use crate::{
    deserialize_opt_bool, deserialize_opt_i64, deserialize_opt_string, deserialize_string_list,
    required_str,
};

/// The fields registry requests share; each endpoint reads the ones it needs (its
/// description says which) and ignores the rest, as MLflow's server does.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistryRequest {
    /// The registered model's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A version number, as a string or a number.
    #[serde(
        default,
        deserialize_with = "deserialize_opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<String>,
    #[serde(alias = "newName", skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `None`, `Staging`, `Production` or `Archived`, in any case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(
        default,
        alias = "archiveExistingVersions",
        deserialize_with = "deserialize_opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub archive_existing_versions: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(
        default,
        deserialize_with = "deserialize_string_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub stages: Vec<String>,
}

impl RegistryRequest {
    /// A request naming a registered model.
    pub fn model(name: &str) -> Self {
        RegistryRequest {
            name: Some(name.to_string()),
            ..Default::default()
        }
    }

    /// A request naming one version of a registered model.
    pub fn version(name: &str, version: &str) -> Self {
        RegistryRequest {
            name: Some(name.to_string()),
            version: Some(version.to_string()),
            ..Default::default()
        }
    }

    /// The required `name`, parsed once here for the services.
    pub fn name(&self) -> Result<ModelName, MlflowError> {
        ModelName::parse(required_str(self.name.clone(), "name")?)
    }

    /// The required `name` and `version`, parsed. Both must be present before either
    /// is checked, so a request missing one hears of that first, as from MLflow.
    pub fn name_and_version(&self) -> Result<(ModelName, Version), MlflowError> {
        let name = required_str(self.name.clone(), "name")?;
        let version = required_str(self.version.clone(), "version")?;
        Ok((ModelName::parse(name)?, Version::parse(&version)?))
    }
}

/// One registered model.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisteredModelResponse {
    pub registered_model: RegisteredModel,
}

/// One model version.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelVersionResponse {
    pub model_version: ModelVersion,
}

/// `registered-models/search` and `model-versions/search`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistrySearchRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_results: Option<i64>,
    #[serde(
        default,
        alias = "orderBy",
        deserialize_with = "deserialize_string_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub order_by: Vec<String>,
    #[serde(alias = "pageToken", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// A page of registered models.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchRegisteredModelsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registered_models: Vec<RegisteredModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A page of model versions (`get-latest-versions` answers one page, no token).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelVersionsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_versions: Vec<ModelVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// `model-versions/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateModelVersionRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the model's files are (`runs:/...`, `models:/m-...`, a URI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "modelId", skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(alias = "runLink", skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// `model-versions/get-download-uri`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DownloadUriResponse {
    pub artifact_uri: String,
}
