//! MLflow's artifact proxy (`mlflow_artifacts.proto`, under
//! `/api/2.0/mlflow-artifacts`) and the run-level artifact routes.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

use cairn_core::ids::RunId;
use cairn_core::MlflowError;

/// MLflow's `FileInfo` on the wire (no `file_size` for a directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileInfo {
    /// The path, relative to the listed root.
    pub path: String,
    pub is_dir: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

/// `GET mlflow-artifacts/artifacts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListArtifactsRequest {
    /// The directory to list, under the proxy's root (the root if absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The entries directly under a directory of the proxy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListArtifactsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

/// `artifacts/list` and `get-artifact`: a path in a run's artifacts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunArtifactRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    /// Relative to the run's artifact root. (A `page_token` is accepted and ignored,
    /// as unknown fields are: a run's listing is one page.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl RunArtifactRequest {
    /// The run named, `run_id` before `run_uuid`.
    pub fn run_id(&self) -> Result<RunId, MlflowError> {
        crate::resolve_run_id(self.run_id.clone(), self.run_uuid.clone())
    }
}

/// A directory of a run's (or a logged model's) artifacts, with the root the paths
/// are relative to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RootedListingResponse {
    pub root_uri: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

/// `model-versions/get-artifact`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelVersionArtifactRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Relative to the version's files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A file's bytes, as uploaded and downloaded: the schema of a body that is not JSON.
pub struct FileContent;

impl utoipa::PartialSchema for FileContent {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("the file's bytes"))
            .into()
    }
}

impl utoipa::ToSchema for FileContent {}
