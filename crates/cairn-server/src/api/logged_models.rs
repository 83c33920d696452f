//! MLflow 3's logged-model endpoints (`/mlflow/logged-models...`), which
//! `mlflow.<flavor>.log_model` calls with no fallback.

use axum::extract::{Path, State};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use cairn_core::entities::KeyValue;
use cairn_core::logged_model::{LoggedModel, LoggedModelStatus};
use cairn_core::wire::{deserialize_opt_i64, deserialize_string_list};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::fields::{required, required_str, EnumValue};
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

#[derive(Deserialize)]
struct ArtifactsReq {
    artifact_directory_path: Option<String>,
    artifact_file_path: Option<String>,
}

#[derive(Serialize)]
struct ArtifactListing {
    root_uri: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<super::artifacts::FileInfo>,
}

/// A logged model's files under a directory, paths relative to its root.
async fn list_artifacts(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<ArtifactsReq>,
) -> ApiResult<Json<ArtifactListing>> {
    let model = s.tracking.get_logged_model(&model_id).await?;
    let files = s
        .artifacts
        .list_run(
            &model.info.artifact_uri,
            req.artifact_directory_path.as_deref(),
        )
        .await?;
    Ok(Json(ArtifactListing {
        root_uri: model.info.artifact_uri,
        files: files.into_iter().map(Into::into).collect(),
    }))
}

/// One file of a logged model (MLflow's UI reads `MLmodel` this way).
async fn get_artifact(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<ArtifactsReq>,
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

fn model(m: LoggedModel) -> Json<Value> {
    Json(json!({ "model": m }))
}

#[derive(Deserialize)]
struct CreateReq {
    #[serde(alias = "experimentId")]
    experiment_id: Option<String>,
    name: Option<String>,
    #[serde(alias = "modelType")]
    model_type: Option<String>,
    #[serde(alias = "sourceRunId")]
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateReq>,
) -> ApiResult<Json<Value>> {
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

async fn get_model(
    State(s): State<Services>,
    Path(model_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(model(s.tracking.get_logged_model(&model_id).await?))
}

#[derive(Deserialize)]
struct FinalizeReq {
    status: Option<EnumValue>,
}

async fn finalize(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<FinalizeReq>,
) -> ApiResult<Json<Value>> {
    let status = required(req.status, "status")?;
    let status = LoggedModelStatus::parse(&status.as_string())?;
    Ok(model(
        s.tracking.finalize_logged_model(&model_id, status).await?,
    ))
}

async fn delete_model(
    State(s): State<Services>,
    Path(model_id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.tracking.delete_logged_model(&model_id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct TagsReq {
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn set_tags(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<TagsReq>,
) -> ApiResult<Json<Value>> {
    s.tracking
        .set_logged_model_tags(&model_id, req.tags)
        .await?;
    Ok(Json(json!({})))
}

async fn delete_tag(
    State(s): State<Services>,
    Path((model_id, tag_key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    s.tracking
        .delete_logged_model_tag(&model_id, &tag_key)
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ParamsReq {
    #[serde(default)]
    params: Vec<KeyValue>,
}

async fn log_params(
    State(s): State<Services>,
    Path(model_id): Path<String>,
    MlflowRequest(req): MlflowRequest<ParamsReq>,
) -> ApiResult<Json<Value>> {
    s.tracking
        .log_logged_model_params(&model_id, req.params)
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct OrderByReq {
    field_name: Option<String>,
    #[serde(default)]
    ascending: Option<bool>,
}

#[derive(Deserialize)]
struct SearchReq {
    #[serde(
        default,
        alias = "experimentIds",
        deserialize_with = "deserialize_string_list"
    )]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    #[serde(default, alias = "orderBy")]
    order_by: Vec<OrderByReq>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64"
    )]
    max_results: Option<i64>,
    #[serde(alias = "pageToken")]
    page_token: Option<String>,
}

#[derive(Serialize)]
struct ModelsPage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    models: Vec<LoggedModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

async fn search(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SearchReq>,
) -> ApiResult<Json<ModelsPage>> {
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
    Ok(Json(ModelsPage {
        models: page.items,
        next_page_token: page.next_page_token,
    }))
}
