//! MLflow's artifact proxy (`mlflow_artifacts.proto`), under
//! `/api/2.0/mlflow-artifacts`: files stream in and out, never whole in memory.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_api_types::artifacts::{
    FileContent, FileInfo, ListArtifactsRequest, ListArtifactsResponse,
    ModelVersionArtifactRequest, RootedListingResponse, RunArtifactRequest,
};
use cairn_api_types::{required_str, Empty, ErrorBody};
use cairn_core::ids::{ModelName, Version};
use cairn_core::{ErrorCode, MlflowError};

use super::Errors;
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
        .route("/mpu/create/{*path}", post(multipart_create))
        .route("/mpu/complete/{*path}", post(multipart_complete))
        .route("/mpu/abort/{*path}", post(multipart_abort))
        .route("/presigned/{*path}", get(presigned))
}

/// The proxy's part of the document (paths relative to its prefix).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    download,
    upload,
    delete,
    multipart_create,
    multipart_complete,
    multipart_abort,
    presigned
))]
pub(super) struct Api;

/// The run-level artifact routes' part of the document (relative to MLflow's prefix).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_run))]
pub(super) struct RunApi;

/// The downloads at the server's root.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_run_artifact, get_model_version_artifact))]
pub(super) struct RootApi;

/// The wildcard path, percent-decoded; one that does not decode is an invalid path.
fn artifact_path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError(MlflowError::invalid_parameter(format!("Invalid path: {e}"))))
}

/// Uploads a file, streamed to the artifact destination (any earlier file there is
/// replaced).
#[utoipa::path(put, path = "/artifacts/{path}", tag = "artifacts",
    operation_id = "uploadArtifact",
    params(("path" = String, Path, description = "the file's path under the proxy's root")),
    request_body(content = FileContent, content_type = "application/octet-stream", description = "the file's bytes"),
    responses((status = 200, description = "stored", body = Empty), Errors))]
async fn upload(
    State(s): State<Services>,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> ApiResult<Json<Empty>> {
    let path = artifact_path(path)?;
    s.artifacts.upload(&path, body.into_data_stream()).await?;
    Ok(Json(Empty {}))
}

/// Downloads a file, streamed.
#[utoipa::path(get, path = "/artifacts/{path}", tag = "artifacts",
    operation_id = "downloadArtifact",
    params(("path" = String, Path, description = "the file's path under the proxy's root")),
    responses((status = 200, description = "the file, as an attachment", body = FileContent, content_type = "application/octet-stream"), Errors))]
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

/// A directory of a run's artifacts, paths relative to the run's root.
#[utoipa::path(get, path = "/artifacts/list", tag = "artifacts",
    operation_id = "listRunArtifacts",
    params(RunArtifactRequest),
    responses((status = 200, description = "the directory's entries and the run's artifact root", body = RootedListingResponse), Errors))]
async fn list_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunArtifactRequest>,
) -> ApiResult<Json<RootedListingResponse>> {
    let run = s.tracking.get_run(&req.run_id()?).await?;
    let files = s
        .artifacts
        .list_run(&run.info.artifact_uri, req.path.as_deref())
        .await?;
    Ok(Json(RootedListingResponse {
        root_uri: run.info.artifact_uri,
        files: files.into_iter().map(file_info).collect(),
    }))
}

/// One file of a run's artifacts (MLflow's UI links).
#[utoipa::path(get, path = "/get-artifact", tag = "artifacts",
    operation_id = "getRunArtifact",
    params(RunArtifactRequest),
    responses((status = 200, description = "the file, as an attachment", body = FileContent, content_type = "application/octet-stream"), Errors))]
async fn get_run_artifact(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunArtifactRequest>,
) -> ApiResult<Response> {
    let path = required_str(req.path.clone(), "path")?;
    let run = s.tracking.get_run(&req.run_id()?).await?;
    let file = s
        .artifacts
        .download_run(&run.info.artifact_uri, &path)
        .await?;
    Ok(file_response(&path, file))
}

/// One file of a model version (MLflow's UI links).
#[utoipa::path(get, path = "/model-versions/get-artifact", tag = "artifacts",
    operation_id = "getModelVersionArtifact",
    params(ModelVersionArtifactRequest),
    responses((status = 200, description = "the file, as an attachment", body = FileContent, content_type = "application/octet-stream"), Errors))]
async fn get_model_version_artifact(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ModelVersionArtifactRequest>,
) -> ApiResult<Response> {
    let name = required_str(req.name, "name")?;
    let version = required_str(req.version, "version")?;
    let path = required_str(req.path, "path")?;
    let root = s
        .registry
        .download_uri(&ModelName::parse(name)?, Version::parse(&version)?)
        .await?;
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

/// MLflow's `FileInfo` from the artifact store's.
pub(super) fn file_info(f: cairn_artifacts::FileInfo) -> FileInfo {
    FileInfo {
        path: f.path,
        is_dir: f.is_dir,
        file_size: f.file_size,
    }
}

/// The entries directly under a directory of the proxy.
#[utoipa::path(get, path = "/artifacts", tag = "artifacts",
    operation_id = "listArtifacts",
    params(ListArtifactsRequest),
    responses((status = 200, description = "the directory's entries", body = ListArtifactsResponse), Errors))]
async fn list(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ListArtifactsRequest>,
) -> ApiResult<Json<ListArtifactsResponse>> {
    let files = s.artifacts.list(req.path.as_deref()).await?;
    Ok(Json(ListArtifactsResponse {
        files: files.into_iter().map(file_info).collect(),
    }))
}

/// Deletes a file or a directory of the proxy.
#[utoipa::path(delete, path = "/artifacts/{path}", tag = "artifacts",
    operation_id = "deleteArtifact",
    params(("path" = String, Path, description = "the path under the proxy's root")),
    responses((status = 200, description = "deleted", body = Empty), Errors))]
async fn delete(
    State(s): State<Services>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Empty>> {
    let path = artifact_path(path)?;
    s.artifacts.delete(&path).await?;
    Ok(Json(Empty {}))
}

/// cairn streams every upload through itself, so it reports multipart and presigned
/// transfers as disabled in server-info, and the client never calls these; a client
/// that does gets MLflow's answer for a backend without them.
fn multipart_unsupported() -> ApiError {
    ApiError(MlflowError::new(
        ErrorCode::NotImplemented,
        "Multipart and presigned transfers are not supported: upload through the proxy",
    ))
}

/// Starts a multipart upload: not supported (server-info says so).
#[utoipa::path(post, path = "/mpu/create/{path}", tag = "artifacts",
    operation_id = "createMultipartUpload",
    params(("path" = String, Path, description = "the file's path under the proxy's root")),
    responses((status = 501, description = "multipart uploads are not supported: upload through the proxy", body = ErrorBody)))]
async fn multipart_create() -> ApiError {
    multipart_unsupported()
}

/// Completes a multipart upload: not supported (server-info says so).
#[utoipa::path(post, path = "/mpu/complete/{path}", tag = "artifacts",
    operation_id = "completeMultipartUpload",
    params(("path" = String, Path, description = "the file's path under the proxy's root")),
    responses((status = 501, description = "multipart uploads are not supported: upload through the proxy", body = ErrorBody)))]
async fn multipart_complete() -> ApiError {
    multipart_unsupported()
}

/// Aborts a multipart upload: not supported (server-info says so).
#[utoipa::path(post, path = "/mpu/abort/{path}", tag = "artifacts",
    operation_id = "abortMultipartUpload",
    params(("path" = String, Path, description = "the file's path under the proxy's root")),
    responses((status = 501, description = "multipart uploads are not supported: upload through the proxy", body = ErrorBody)))]
async fn multipart_abort() -> ApiError {
    multipart_unsupported()
}

/// A presigned URL for a direct transfer: not supported (server-info says so).
#[utoipa::path(get, path = "/presigned/{path}", tag = "artifacts",
    operation_id = "getPresignedUrl",
    params(("path" = String, Path, description = "the file's path under the proxy's root")),
    responses((status = 501, description = "presigned transfers are not supported: download through the proxy", body = ErrorBody)))]
async fn presigned() -> ApiError {
    multipart_unsupported()
}
