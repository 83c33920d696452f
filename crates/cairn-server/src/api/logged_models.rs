//! MLflow 3's logged-model endpoints (`/mlflow/logged-models...`), which
//! `mlflow.<flavor>.log_model` calls with no fallback.

use axum::extract::{Path, State};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use cairn_api_types::artifacts::{FileContent, RootedListingResponse};
use cairn_api_types::logged_models::{
    CreateLoggedModelRequest, FinalizeLoggedModelRequest, LogLoggedModelParamsRequest,
    LoggedModelArtifactsRequest, LoggedModelResponse, SearchLoggedModelsRequest,
    SearchLoggedModelsResponse, SetLoggedModelTagsRequest,
};
use cairn_api_types::{required, required_str, Empty};
use cairn_core::logged_model::{LoggedModel, LoggedModelStatus};

use super::Errors;
use crate::error::ApiResult;
use crate::extract::MlflowRequest;
use cairn_service::logged_models::{CreateLoggedModel, SearchLoggedModels};
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/logged-models", post(create))
        .route("/logged-models/search", post(search))
        .route(
            "/logged-models/{model_id}",
            get(get_model).patch(finalize).delete(delete_model),
        )
        .route("/logged-models/{model_id}/tags", patch(set_tags))
        .route(
            "/logged-models/{model_id}/tags/{tag_key}",
            delete(delete_tag),
        )
        .route("/logged-models/{model_id}/params", post(log_params))
        .route(
            "/logged-models/{model_id}/artifacts/directories",
            get(list_artifacts),
        )
        .route(
            "/logged-models/{model_id}/artifacts/files",
            get(get_artifact),
        )
}

/// The logged-model endpoints' part of the document (paths relative to the API
/// prefix).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create,
    search,
    get_model,
    finalize,
    delete_model,
    set_tags,
    delete_tag,
    log_params,
    list_artifacts,
    get_artifact,
))]
pub(super) struct Api;

/// A logged model's files under a directory, paths relative to its root.
#[utoipa::path(get, path = "/logged-models/{model_id}/artifacts/directories", tag = "logged-models",
    operation_id = "listLoggedModelArtifacts",
    params(("model_id" = String, Path, description = "the logged model's id (`m-...`)"), LoggedModelArtifactsRequest),
    responses((status = 200, description = "the directory's entries and the model's artifact root", body = RootedListingResponse), Errors))]
async fn list_artifacts(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<LoggedModelArtifactsRequest>,
) -> ApiResult<Json<RootedListingResponse>> {
    let model = s.tracking.get_logged_model(&model_id).await?;
    let files = s
        .artifacts
        .list_run(
            &model.info.artifact_uri,
            req.artifact_directory_path.as_deref(),
        )
        .await?;
    Ok(Json(RootedListingResponse {
        root_uri: model.info.artifact_uri,
        files: files.into_iter().map(super::artifacts::file_info).collect(),
    }))
}

/// One file of a logged model (MLflow's UI reads `MLmodel` this way).
#[utoipa::path(get, path = "/logged-models/{model_id}/artifacts/files", tag = "logged-models",
    operation_id = "getLoggedModelArtifact",
    params(("model_id" = String, Path, description = "the logged model's id (`m-...`)"), LoggedModelArtifactsRequest),
    responses((status = 200, description = "the file, as an attachment", body = FileContent, content_type = "application/octet-stream"), Errors))]
async fn get_artifact(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<LoggedModelArtifactsRequest>,
) -> ApiResult<axum::response::Response> {
    let Some(path) = req.artifact_file_path.filter(|p| !p.is_empty()) else {
        return Err(cairn_core::MlflowError::new(
            cairn_core::ErrorCode::BadRequest,
            "Request must include the \"artifact_file_path\" query parameter.",
        )
        .into());
    };
    let model = s.tracking.get_logged_model(&model_id).await?;
    let file = s
        .artifacts
        .download_run(&model.info.artifact_uri, &path)
        .await?;
    Ok(super::artifacts::file_response(&path, file))
}

fn model(model: LoggedModel) -> Json<LoggedModelResponse> {
    Json(LoggedModelResponse { model })
}

/// Creates a logged model, PENDING until its files are uploaded and it is finalized.
#[utoipa::path(post, path = "/logged-models", tag = "logged-models",
    operation_id = "createLoggedModel",
    request_body = CreateLoggedModelRequest,
    responses((status = 200, description = "the new model", body = LoggedModelResponse), Errors))]
async fn create(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateLoggedModelRequest>,
) -> ApiResult<Json<LoggedModelResponse>> {
    let m = s
        .tracking
        .create_logged_model(CreateLoggedModel {
            experiment_id: required_str(req.experiment_id, "experiment_id")?,
            name: req.name,
            model_type: req.model_type,
            source_run_id: req.source_run_id,
            params: req.params,
            tags: req.tags,
        })
        .await?;
    Ok(model(m))
}

/// A logged model by id.
#[utoipa::path(get, path = "/logged-models/{model_id}", tag = "logged-models",
    operation_id = "getLoggedModel",
    params(("model_id" = String, Path, description = "the logged model's id (`m-...`)")),
    responses((status = 200, description = "the model", body = LoggedModelResponse), Errors))]
async fn get_model(
    State(s): State<Services>,
    Path(model_id): Path<String>,
) -> ApiResult<Json<LoggedModelResponse>> {
    Ok(model(s.tracking.get_logged_model(&model_id).await?))
}

/// Sets a logged model's final status once its files are uploaded (or failed to).
#[utoipa::path(patch, path = "/logged-models/{model_id}", tag = "logged-models",
    operation_id = "finalizeLoggedModel",
    params(("model_id" = String, Path, description = "the logged model's id (`m-...`)")),
    request_body = FinalizeLoggedModelRequest,
    responses((status = 200, description = "the model in its final status", body = LoggedModelResponse), Errors))]
async fn finalize(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<FinalizeLoggedModelRequest>,
) -> ApiResult<Json<LoggedModelResponse>> {
    let status = required(req.status, "status")?;
    let status = LoggedModelStatus::parse(&status.as_string())?;
    Ok(model(
        s.tracking.finalize_logged_model(&model_id, status).await?,
    ))
}

/// Deletes a logged model.
#[utoipa::path(delete, path = "/logged-models/{model_id}", tag = "logged-models",
    operation_id = "deleteLoggedModel",
    params(("model_id" = String, Path, description = "the logged model's id (`m-...`)")),
    responses((status = 200, description = "deleted", body = Empty), Errors))]
async fn delete_model(
    State(s): State<Services>,
    Path(model_id): Path<String>,
) -> ApiResult<Json<Empty>> {
    s.tracking.delete_logged_model(&model_id).await?;
    Ok(Json(Empty {}))
}

/// Sets tags on a logged model.
#[utoipa::path(patch, path = "/logged-models/{model_id}/tags", tag = "logged-models",
    operation_id = "setLoggedModelTags",
    params(("model_id" = String, Path, description = "the logged model's id (`m-...`)")),
    request_body = SetLoggedModelTagsRequest,
    responses((status = 200, description = "the tags are set", body = Empty), Errors))]
async fn set_tags(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<SetLoggedModelTagsRequest>,
) -> ApiResult<Json<Empty>> {
    s.tracking
        .set_logged_model_tags(&model_id, req.tags)
        .await?;
    Ok(Json(Empty {}))
}

/// Deletes a tag of a logged model.
#[utoipa::path(delete, path = "/logged-models/{model_id}/tags/{tag_key}", tag = "logged-models",
    operation_id = "deleteLoggedModelTag",
    params(
        ("model_id" = String, Path, description = "the logged model's id (`m-...`)"),
        ("tag_key" = String, Path, description = "the tag's key"),
    ),
    responses((status = 200, description = "the tag is gone", body = Empty), Errors))]
async fn delete_tag(
    State(s): State<Services>,
    Path((model_id, tag_key)): Path<(String, String)>,
) -> ApiResult<Json<Empty>> {
    s.tracking
        .delete_logged_model_tag(&model_id, &tag_key)
        .await?;
    Ok(Json(Empty {}))
}

/// Logs params of a logged model.
#[utoipa::path(post, path = "/logged-models/{model_id}/params", tag = "logged-models",
    operation_id = "logLoggedModelParams",
    params(("model_id" = String, Path, description = "the logged model's id (`m-...`)")),
    request_body = LogLoggedModelParamsRequest,
    responses((status = 200, description = "logged", body = Empty), Errors))]
async fn log_params(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<LogLoggedModelParamsRequest>,
) -> ApiResult<Json<Empty>> {
    s.tracking
        .log_logged_model_params(&model_id, req.params)
        .await?;
    Ok(Json(Empty {}))
}

/// Searches logged models of some experiments.
#[utoipa::path(post, path = "/logged-models/search", tag = "logged-models",
    operation_id = "searchLoggedModels",
    request_body = SearchLoggedModelsRequest,
    responses((status = 200, description = "one page of models, and the token of the next", body = SearchLoggedModelsResponse), Errors))]
async fn search(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SearchLoggedModelsRequest>,
) -> ApiResult<Json<SearchLoggedModelsResponse>> {
    let order_by = req
        .order_by
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            Ok((
                required_str(o.field_name, &format!("order_by[{i}].field_name"))?,
                o.ascending.unwrap_or(true),
            ))
        })
        .collect::<Result<Vec<_>, cairn_core::MlflowError>>()?;
    let page = s
        .tracking
        .search_logged_models(SearchLoggedModels {
            experiment_ids: req.experiment_ids,
            filter: req.filter,
            order_by,
            max_results: req.max_results,
            page_token: req.page_token,
        })
        .await?;
    Ok(Json(SearchLoggedModelsResponse {
        models: page.items,
        next_page_token: page.next_page_token,
    }))
}
