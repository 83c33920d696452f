//! MLflow 3's logged-model endpoints (`/mlflow/logged-models...`). The answers carry
//! [`LoggedModel`], which cairn only writes, so they are serialize-only.

use cairn_core::entities::KeyValue;
use cairn_core::logged_model::LoggedModel;
use serde::{Deserialize, Serialize};

use crate::{deserialize_opt_i64, deserialize_string_list, EnumValue};

/// `POST logged-models`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateLoggedModelRequest {
    #[serde(alias = "experimentId", skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(alias = "modelType", skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(alias = "sourceRunId", skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// One logged model.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoggedModelResponse {
    pub model: LoggedModel,
}

/// `PATCH logged-models/{model_id}`: the model's files are uploaded (or failed).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FinalizeLoggedModelRequest {
    /// A `LoggedModelStatus` name (`LOGGED_MODEL_READY`) or number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<EnumValue>,
}

/// `PATCH logged-models/{model_id}/tags`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetLoggedModelTagsRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// `POST logged-models/{model_id}/params`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogLoggedModelParamsRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
}

/// One sort key of a logged-model search.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderBy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// Ascending unless `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ascending: Option<bool>,
}

/// `logged-models/search`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchLoggedModelsRequest {
    #[serde(
        default,
        alias = "experimentIds",
        deserialize_with = "deserialize_string_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub experiment_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, alias = "orderBy", skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<OrderBy>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_results: Option<i64>,
    #[serde(alias = "pageToken", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// A page of logged models.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SearchLoggedModelsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<LoggedModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// `logged-models/{model_id}/artifacts/directories` and `.../files`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoggedModelArtifactsRequest {
    /// The directory to list, relative to the model's root (the root if absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_directory_path: Option<String>,
    /// The file to download, relative to the model's root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_file_path: Option<String>,
}
