//! MLflow's model registry (`model_registry.proto`): registered models, model
//! versions, tags, stages and aliases.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_core::entities::KeyValue;
use cairn_core::registry::{ModelVersion, RegisteredModel};
use cairn_core::wire::{deserialize_opt_i64, deserialize_string_list};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::fields::{deserialize_opt_bool, deserialize_opt_string, required_str};
use crate::error::ApiResult;
use crate::extract::MlflowRequest;
use cairn_service::registry::{CreateModelVersion, RegistrySearchRequest};
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/registered-models/create", post(create_registered_model))
        .route("/registered-models/get", get(get_registered_model))
        .route("/registered-models/rename", post(rename_registered_model))
        .route(
            "/registered-models/update",
            axum::routing::patch(update_registered_model),
        )
        .route(
            "/registered-models/delete",
            axum::routing::delete(delete_registered_model),
        )
        .route("/registered-models/search", get(search_registered_models))
        .route(
            "/registered-models/get-latest-versions",
            post(get_latest_versions).get(get_latest_versions),
        )
        .route("/registered-models/set-tag", post(set_registered_model_tag))
        .route(
            "/registered-models/delete-tag",
            axum::routing::delete(delete_registered_model_tag),
        )
        .route(
            "/registered-models/alias",
            post(set_alias).delete(delete_alias).get(get_by_alias),
        )
        .route("/model-versions/create", post(create_model_version))
        .route("/model-versions/get", get(get_model_version))
        .route(
            "/model-versions/update",
            axum::routing::patch(update_model_version),
        )
        .route("/model-versions/transition-stage", post(transition_stage))
        .route(
            "/model-versions/delete",
            axum::routing::delete(delete_model_version),
        )
        .route("/model-versions/search", get(search_model_versions))
        .route("/model-versions/get-download-uri", get(get_download_uri))
        .route("/model-versions/set-tag", post(set_model_version_tag))
        .route(
            "/model-versions/delete-tag",
            axum::routing::delete(delete_model_version_tag),
        )
}

/// The fields registry requests share; each handler checks the ones it needs.
#[derive(Deserialize, Default)]
struct RegistryReq {
    name: Option<String>,
    #[serde(default, deserialize_with = "deserialize_opt_string")]
    version: Option<String>,
    #[serde(alias = "newName")]
    new_name: Option<String>,
    description: Option<String>,
    key: Option<String>,
    value: Option<String>,
    alias: Option<String>,
    stage: Option<String>,
    #[serde(
        default,
        alias = "archiveExistingVersions",
        deserialize_with = "deserialize_opt_bool"
    )]
    archive_existing_versions: Option<bool>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default, deserialize_with = "deserialize_string_list")]
    stages: Vec<String>,
}

impl RegistryReq {
    fn name(&self) -> Result<String, cairn_core::MlflowError> {
        required_str(self.name.clone(), "name")
    }

    fn version(&self) -> Result<String, cairn_core::MlflowError> {
        required_str(self.version.clone(), "version")
    }
}

fn model(m: RegisteredModel) -> Json<Value> {
    Json(json!({ "registered_model": m }))
}

fn version(mv: ModelVersion) -> Json<Value> {
    Json(json!({ "model_version": mv }))
}

fn empty() -> Json<Value> {
    Json(json!({}))
}

async fn create_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let name = req.name()?;
    let m = s
        .registry
        .create_registered_model(&name, req.description.as_deref(), req.tags)
        .await?;
    Ok(model(m))
}

async fn get_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    Ok(model(s.registry.get_registered_model(&req.name()?).await?))
}

async fn rename_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let m = s
        .registry
        .rename_registered_model(&req.name()?, req.new_name.as_deref())
        .await?;
    Ok(model(m))
}

async fn update_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let m = s
        .registry
        .update_registered_model(&req.name()?, req.description.as_deref())
        .await?;
    Ok(model(m))
}

async fn delete_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    s.registry.delete_registered_model(&req.name()?).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct SearchReq {
    filter: Option<String>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64"
    )]
    max_results: Option<i64>,
    #[serde(
        default,
        alias = "orderBy",
        deserialize_with = "deserialize_string_list"
    )]
    order_by: Vec<String>,
    #[serde(alias = "pageToken")]
    page_token: Option<String>,
}

impl From<SearchReq> for RegistrySearchRequest {
    fn from(r: SearchReq) -> Self {
        RegistrySearchRequest {
            filter: r.filter,
            order_by: r.order_by,
            max_results: r.max_results,
            page_token: r.page_token,
        }
    }
}

#[derive(Serialize)]
struct ModelsPage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    registered_models: Vec<RegisteredModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

#[derive(Serialize)]
struct VersionsPage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    model_versions: Vec<ModelVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

async fn search_registered_models(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SearchReq>,
) -> ApiResult<Json<ModelsPage>> {
    let page = s.registry.search_registered_models(req.into()).await?;
    Ok(Json(ModelsPage {
        registered_models: page.items,
        next_page_token: page.next_page_token,
    }))
}

async fn get_latest_versions(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<VersionsPage>> {
    let versions = s
        .registry
        .get_latest_versions(&req.name()?, &req.stages)
        .await?;
    Ok(Json(VersionsPage {
        model_versions: versions,
        next_page_token: None,
    }))
}

async fn set_registered_model_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let key = required_str(req.key.clone(), "key")?;
    // A missing value is proto3's default, the empty string, as MLflow reads it.
    let value = req.value.clone().unwrap_or_default();
    s.registry
        .set_registered_model_tag(&req.name()?, &key, &value)
        .await?;
    Ok(empty())
}

async fn delete_registered_model_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let key = required_str(req.key.clone(), "key")?;
    s.registry
        .delete_registered_model_tag(&req.name()?, &key)
        .await?;
    Ok(empty())
}

async fn set_alias(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let alias = required_str(req.alias.clone(), "alias")?;
    s.registry
        .set_alias(&req.name()?, &alias, &req.version()?)
        .await?;
    Ok(empty())
}

async fn delete_alias(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let alias = required_str(req.alias.clone(), "alias")?;
    s.registry.delete_alias(&req.name()?, &alias).await?;
    Ok(empty())
}

async fn get_by_alias(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let alias = required_str(req.alias.clone(), "alias")?;
    Ok(version(
        s.registry
            .get_version_by_alias(&req.name()?, &alias)
            .await?,
    ))
}

#[derive(Deserialize)]
struct CreateVersionReq {
    name: Option<String>,
    source: Option<String>,
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "modelId")]
    model_id: Option<String>,
    #[serde(alias = "runLink")]
    run_link: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create_model_version(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateVersionReq>,
) -> ApiResult<Json<Value>> {
    let mv = s
        .registry
        .create_model_version(CreateModelVersion {
            name: required_str(req.name, "name")?,
            source: required_str(req.source, "source")?,
            run_id: req.run_id,
            model_id: req.model_id,
            run_link: req.run_link,
            description: req.description,
            tags: req.tags,
        })
        .await?;
    Ok(version(mv))
}

async fn get_model_version(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    Ok(version(
        s.registry
            .get_model_version(&req.name()?, &req.version()?)
            .await?,
    ))
}

async fn update_model_version(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    Ok(version(
        s.registry
            .update_model_version(&req.name()?, &req.version()?, req.description.as_deref())
            .await?,
    ))
}

async fn transition_stage(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let stage = required_str(req.stage.clone(), "stage")?;
    // Absent is proto3's default, false, as MLflow reads it.
    let archive = req.archive_existing_versions.unwrap_or(false);
    Ok(version(
        s.registry
            .transition_stage(&req.name()?, &req.version()?, &stage, archive)
            .await?,
    ))
}

async fn delete_model_version(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    s.registry
        .delete_model_version(&req.name()?, &req.version()?)
        .await?;
    Ok(empty())
}

async fn search_model_versions(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SearchReq>,
) -> ApiResult<Json<VersionsPage>> {
    let page = s.registry.search_model_versions(req.into()).await?;
    Ok(Json(VersionsPage {
        model_versions: page.items,
        next_page_token: page.next_page_token,
    }))
}

async fn get_download_uri(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let uri = s
        .registry
        .download_uri(&req.name()?, &req.version()?)
        .await?;
    Ok(Json(json!({ "artifact_uri": uri })))
}

async fn set_model_version_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let key = required_str(req.key.clone(), "key")?;
    // A missing value is proto3's default, the empty string, as MLflow reads it.
    let value = req.value.clone().unwrap_or_default();
    s.registry
        .set_model_version_tag(&req.name()?, &req.version()?, &key, &value)
        .await?;
    Ok(empty())
}

async fn delete_model_version_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryReq>,
) -> ApiResult<Json<Value>> {
    let key = required_str(req.key.clone(), "key")?;
    s.registry
        .delete_model_version_tag(&req.name()?, &req.version()?, &key)
        .await?;
    Ok(empty())
}
