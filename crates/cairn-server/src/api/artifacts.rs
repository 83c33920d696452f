//! MLflow's artifact proxy (`mlflow_artifacts.proto`), under
//! `/api/2.0/mlflow-artifacts`: files stream in and out, never whole in memory.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_core::{ErrorCode, MlflowError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::fields::required_str;
use crate::error::{ApiError, ApiResult};
use crate::extract::MlflowRequest;
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/artifacts", get(list))
        .route(
            "/artifacts/{*path}",
            get(download).put(upload).delete(delete),
        )
        .route("/mpu/create/{*path}", post(multipart_unsupported))
        .route("/mpu/complete/{*path}", post(multipart_unsupported))
        .route("/mpu/abort/{*path}", post(multipart_unsupported))
        .route("/presigned/{*path}", get(multipart_unsupported))
}

/// The wildcard path, percent-decoded; one that does not decode is an invalid path.
fn artifact_path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError(MlflowError::invalid_parameter(format!("Invalid path: {e}"))))
}

async fn upload(
    State(s): State<Services>,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let path = artifact_path(path)?;
    s.artifacts.upload(&path, body.into_data_stream()).await?;
    Ok(Json(json!({})))
}

async fn download(
    State(s): State<Services>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let path = artifact_path(path)?;
    let file = s.artifacts.download(&path).await?;
    Ok(file_response(&path, file))
}

/// A file as a download. Always an attachment, never rendered: an uploaded HTML file
/// must not run as the server's own page.
pub(super) fn file_response(path: &str, file: cairn_artifacts::Download) -> Response {
    let name = path.rsplit('/').next().unwrap_or("artifact");
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        name.replace(['"', '\\'], "_")
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(name)),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, HeaderValue::from(file.size)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Body::from_stream(file.body),
    )
        .into_response()
}

// ------------------------------------------------- a run's artifacts, by run id

/// MLflow's run-level artifact routes: `artifacts/list` under the API prefixes.
pub fn run_routes() -> Router<Services> {
    Router::new().route("/artifacts/list", get(list_run))
}

/// The downloads MLflow's server has at its root (its UI's links).
pub fn root_routes() -> Router<Services> {
    Router::new()
        .route("/get-artifact", get(get_run_artifact))
        .route(
            "/model-versions/get-artifact",
            get(get_model_version_artifact),
        )
}

#[derive(Deserialize)]
struct RunArtifactReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    /// (A `page_token` is accepted and ignored, as unknown fields are: a run's
    /// listing is one page.)
    path: Option<String>,
}

impl RunArtifactReq {
    fn run_id(&self) -> Result<String, MlflowError> {
        required_str(
            self.run_id
                .clone()
                .filter(|s| !s.is_empty())
                .or_else(|| self.run_uuid.clone()),
            "run_id",
        )
    }
}

#[derive(Serialize)]
struct RunListing {
    root_uri: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileInfo>,
}

async fn list_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunArtifactReq>,
) -> ApiResult<Json<RunListing>> {
    let run = s.tracking.get_run(&req.run_id()?).await?;
    let files = s
        .artifacts
        .list_run(&run.info.artifact_uri, req.path.as_deref())
        .await?;
    Ok(Json(RunListing {
        root_uri: run.info.artifact_uri,
        files: files.into_iter().map(FileInfo::from).collect(),
    }))
}

async fn get_run_artifact(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunArtifactReq>,
) -> ApiResult<Response> {
    let path = required_str(req.path.clone(), "path")?;
    let run = s.tracking.get_run(&req.run_id()?).await?;
    let file = s
        .artifacts
        .download_run(&run.info.artifact_uri, &path)
        .await?;
    Ok(file_response(&path, file))
}

#[derive(Deserialize)]
struct ModelVersionArtifactReq {
    name: Option<String>,
    version: Option<String>,
    path: Option<String>,
}

async fn get_model_version_artifact(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ModelVersionArtifactReq>,
) -> ApiResult<Response> {
    let name = required_str(req.name, "name")?;
    let version = required_str(req.version, "version")?;
    let path = required_str(req.path, "path")?;
    let root = s.registry.download_uri(&name, &version).await?;
    let file = s.artifacts.download_run(&root, &path).await?;
    Ok(file_response(&path, file))
}

/// A plain type for the few text formats MLflow logs; bytes for the rest.
fn content_type(name: &str) -> &'static str {
    match name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
    {
        Some(ext) if ext == "json" => "application/json",
        Some(ext) if matches!(ext.as_str(), "txt" | "log" | "yaml" | "yml" | "md" | "csv") => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

#[derive(Deserialize)]
struct ListReq {
    path: Option<String>,
}

/// MLflow's `FileInfo` on the wire (no `file_size` for a directory).
#[derive(Serialize)]
pub(super) struct FileInfo {
    path: String,
    is_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_size: Option<u64>,
}

impl From<cairn_artifacts::FileInfo> for FileInfo {
    fn from(f: cairn_artifacts::FileInfo) -> Self {
        FileInfo {
            path: f.path,
            is_dir: f.is_dir,
            file_size: f.file_size,
        }
    }
}

#[derive(Serialize)]
struct Listing {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileInfo>,
}

async fn list(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ListReq>,
) -> ApiResult<Json<Listing>> {
    let files = s.artifacts.list(req.path.as_deref()).await?;
    Ok(Json(Listing {
        files: files.into_iter().map(FileInfo::from).collect(),
    }))
}

async fn delete(
    State(s): State<Services>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let path = artifact_path(path)?;
    s.artifacts.delete(&path).await?;
    Ok(Json(json!({})))
}

/// cairn streams every upload through itself, so it reports multipart and presigned
/// transfers as disabled in server-info, and the client never calls these; a client
/// that does gets MLflow's answer for a backend without them.
async fn multipart_unsupported() -> ApiError {
    ApiError(MlflowError::new(
        ErrorCode::NotImplemented,
        "Multipart and presigned transfers are not supported: upload through the proxy",
    ))
}
