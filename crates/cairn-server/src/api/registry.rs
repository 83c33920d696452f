//! MLflow's model registry (`model_registry.proto`): registered models, model
//! versions, tags, stages and aliases.

use axum::extract::State;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use cairn_api_types::registry::{
    CreateModelVersionRequest, DownloadUriResponse, ModelVersionResponse, ModelVersionsResponse,
    RegisteredModelResponse, RegistryRequest, RegistrySearchRequest,
    SearchRegisteredModelsResponse,
};
use cairn_api_types::{required_str, Empty};
use cairn_core::ids::ModelName;
use cairn_core::registry::{ModelVersion, RegisteredModel, Stage};

use super::Errors;
use crate::error::ApiResult;
use crate::extract::MlflowRequest;
use cairn_service::registry::{self as service, CreateModelVersion};
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/registered-models/create", post(create_registered_model))
        .route("/registered-models/get", get(get_registered_model))
        .route("/registered-models/rename", post(rename_registered_model))
        .route("/registered-models/update", patch(update_registered_model))
        .route("/registered-models/delete", delete(delete_registered_model))
        .route("/registered-models/search", get(search_registered_models))
        .route(
            "/registered-models/get-latest-versions",
            post(get_latest_versions).get(get_latest_versions),
        )
        .route("/registered-models/set-tag", post(set_registered_model_tag))
        .route(
            "/registered-models/delete-tag",
            delete(delete_registered_model_tag),
        )
        .route(
            "/registered-models/alias",
            post(set_alias).delete(delete_alias).get(get_by_alias),
        )
        .route("/model-versions/create", post(create_model_version))
        .route("/model-versions/get", get(get_model_version))
        .route("/model-versions/update", patch(update_model_version))
        .route("/model-versions/transition-stage", post(transition_stage))
        .route("/model-versions/delete", delete(delete_model_version))
        .route("/model-versions/search", get(search_model_versions))
        .route("/model-versions/get-download-uri", get(get_download_uri))
        .route("/model-versions/set-tag", post(set_model_version_tag))
        .route(
            "/model-versions/delete-tag",
            delete(delete_model_version_tag),
        )
}

/// The registry endpoints' part of the document (paths relative to the API prefix).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_registered_model,
    get_registered_model,
    rename_registered_model,
    update_registered_model,
    delete_registered_model,
    search_registered_models,
    get_latest_versions,
    set_registered_model_tag,
    delete_registered_model_tag,
    set_alias,
    delete_alias,
    get_by_alias,
    create_model_version,
    get_model_version,
    update_model_version,
    transition_stage,
    delete_model_version,
    search_model_versions,
    get_download_uri,
    set_model_version_tag,
    delete_model_version_tag,
))]
pub(super) struct Api;

fn model(registered_model: RegisteredModel) -> Json<RegisteredModelResponse> {
    Json(RegisteredModelResponse { registered_model })
}

fn version(model_version: ModelVersion) -> Json<ModelVersionResponse> {
    Json(ModelVersionResponse { model_version })
}

fn search_request(r: RegistrySearchRequest) -> service::RegistrySearchRequest {
    service::RegistrySearchRequest {
        filter: r.filter,
        order_by: r.order_by,
        max_results: r.max_results,
        page_token: r.page_token,
    }
}

/// Creates a registered model (`name`, optional `description` and `tags`).
#[utoipa::path(post, path = "/registered-models/create", tag = "registered-models",
    operation_id = "createRegisteredModel",
    request_body = RegistryRequest,
    responses((status = 200, description = "the new model", body = RegisteredModelResponse), Errors))]
async fn create_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<RegisteredModelResponse>> {
    let name = req.name()?;
    let m = s
        .registry
        .create_registered_model(&name, req.description.as_deref(), req.tags)
        .await?;
    Ok(model(m))
}

/// A registered model by `name`.
#[utoipa::path(get, path = "/registered-models/get", tag = "registered-models",
    operation_id = "getRegisteredModel",
    params(RegistryRequest),
    responses((status = 200, description = "the model", body = RegisteredModelResponse), Errors))]
async fn get_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<RegisteredModelResponse>> {
    Ok(model(s.registry.get_registered_model(&req.name()?).await?))
}

/// Renames a registered model (`name` to `new_name`), its versions with it.
#[utoipa::path(post, path = "/registered-models/rename", tag = "registered-models",
    operation_id = "renameRegisteredModel",
    request_body = RegistryRequest,
    responses((status = 200, description = "the renamed model", body = RegisteredModelResponse), Errors))]
async fn rename_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<RegisteredModelResponse>> {
    let m = s
        .registry
        .rename_registered_model(&req.name()?, req.new_name.as_deref())
        .await?;
    Ok(model(m))
}

/// Sets a registered model's `description`.
#[utoipa::path(patch, path = "/registered-models/update", tag = "registered-models",
    operation_id = "updateRegisteredModel",
    request_body = RegistryRequest,
    responses((status = 200, description = "the updated model", body = RegisteredModelResponse), Errors))]
async fn update_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<RegisteredModelResponse>> {
    let m = s
        .registry
        .update_registered_model(&req.name()?, req.description.as_deref())
        .await?;
    Ok(model(m))
}

/// Deletes a registered model and its versions.
#[utoipa::path(delete, path = "/registered-models/delete", tag = "registered-models",
    operation_id = "deleteRegisteredModel",
    request_body = RegistryRequest,
    responses((status = 200, description = "deleted", body = Empty), Errors))]
async fn delete_registered_model(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    s.registry.delete_registered_model(&req.name()?).await?;
    Ok(Json(Empty {}))
}

/// Searches registered models with MLflow's filter grammar.
#[utoipa::path(get, path = "/registered-models/search", tag = "registered-models",
    operation_id = "searchRegisteredModels",
    params(RegistrySearchRequest),
    responses((status = 200, description = "one page of models, and the token of the next", body = SearchRegisteredModelsResponse), Errors))]
async fn search_registered_models(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistrySearchRequest>,
) -> ApiResult<Json<SearchRegisteredModelsResponse>> {
    let page = s
        .registry
        .search_registered_models(search_request(req))
        .await?;
    Ok(Json(SearchRegisteredModelsResponse {
        registered_models: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// The newest version of a model in each of `stages` (all stages if none). Also
/// served as GET, with the same fields in the query string.
#[utoipa::path(post, path = "/registered-models/get-latest-versions", tag = "registered-models",
    operation_id = "getLatestVersions",
    request_body = RegistryRequest,
    responses((status = 200, description = "the versions, one page", body = ModelVersionsResponse), Errors))]
async fn get_latest_versions(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<ModelVersionsResponse>> {
    // The stages are read before the name is checked, as MLflow reports them.
    let name = required_str(req.name.clone(), "name")?;
    let stages = req
        .stages
        .iter()
        .map(|s| Stage::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let versions = s
        .registry
        .get_latest_versions(&ModelName::parse(name)?, &stages)
        .await?;
    Ok(Json(ModelVersionsResponse {
        model_versions: versions,
        next_page_token: None,
    }))
}

/// Sets a tag (`key`, `value`) on a registered model.
#[utoipa::path(post, path = "/registered-models/set-tag", tag = "registered-models",
    operation_id = "setRegisteredModelTag",
    request_body = RegistryRequest,
    responses((status = 200, description = "the tag is set", body = Empty), Errors))]
async fn set_registered_model_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let key = required_str(req.key.clone(), "key")?;
    // A missing value is proto3's default, the empty string, as MLflow reads it.
    let value = req.value.clone().unwrap_or_default();
    s.registry
        .set_registered_model_tag(&req.name()?, &key, &value)
        .await?;
    Ok(Json(Empty {}))
}

/// Deletes a tag (`key`) of a registered model.
#[utoipa::path(delete, path = "/registered-models/delete-tag", tag = "registered-models",
    operation_id = "deleteRegisteredModelTag",
    request_body = RegistryRequest,
    responses((status = 200, description = "the tag is gone", body = Empty), Errors))]
async fn delete_registered_model_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let key = required_str(req.key.clone(), "key")?;
    s.registry
        .delete_registered_model_tag(&req.name()?, &key)
        .await?;
    Ok(Json(Empty {}))
}

/// Points an `alias` of a model at a `version` (moving it if it exists).
#[utoipa::path(post, path = "/registered-models/alias", tag = "registered-models",
    operation_id = "setRegisteredModelAlias",
    request_body = RegistryRequest,
    responses((status = 200, description = "the alias is set", body = Empty), Errors))]
async fn set_alias(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let alias = required_str(req.alias.clone(), "alias")?;
    let (name, version) = req.name_and_version()?;
    s.registry.set_alias(&name, &alias, version).await?;
    Ok(Json(Empty {}))
}

/// Removes an `alias` of a model.
#[utoipa::path(delete, path = "/registered-models/alias", tag = "registered-models",
    operation_id = "deleteRegisteredModelAlias",
    request_body = RegistryRequest,
    responses((status = 200, description = "the alias is gone", body = Empty), Errors))]
async fn delete_alias(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let alias = required_str(req.alias.clone(), "alias")?;
    s.registry.delete_alias(&req.name()?, &alias).await?;
    Ok(Json(Empty {}))
}

/// The version an `alias` of a model points at.
#[utoipa::path(get, path = "/registered-models/alias", tag = "registered-models",
    operation_id = "getModelVersionByAlias",
    params(RegistryRequest),
    responses((status = 200, description = "the version", body = ModelVersionResponse), Errors))]
async fn get_by_alias(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let alias = required_str(req.alias.clone(), "alias")?;
    Ok(version(
        s.registry
            .get_version_by_alias(&req.name()?, &alias)
            .await?,
    ))
}

/// Registers a new version of a model from a `source`.
#[utoipa::path(post, path = "/model-versions/create", tag = "model-versions",
    operation_id = "createModelVersion",
    request_body = CreateModelVersionRequest,
    responses((status = 200, description = "the new version", body = ModelVersionResponse), Errors))]
async fn create_model_version(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateModelVersionRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let name = required_str(req.name, "name")?;
    let source = required_str(req.source, "source")?;
    let mv = s
        .registry
        .create_model_version(CreateModelVersion {
            name: ModelName::parse(name)?,
            source,
            run_id: req.run_id,
            model_id: req.model_id,
            run_link: req.run_link,
            description: req.description,
            tags: req.tags,
        })
        .await?;
    Ok(version(mv))
}

/// A model version by `name` and `version`.
#[utoipa::path(get, path = "/model-versions/get", tag = "model-versions",
    operation_id = "getModelVersion",
    params(RegistryRequest),
    responses((status = 200, description = "the version", body = ModelVersionResponse), Errors))]
async fn get_model_version(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let (name, v) = req.name_and_version()?;
    Ok(version(s.registry.get_model_version(&name, v).await?))
}

/// Sets a model version's `description`.
#[utoipa::path(patch, path = "/model-versions/update", tag = "model-versions",
    operation_id = "updateModelVersion",
    request_body = RegistryRequest,
    responses((status = 200, description = "the updated version", body = ModelVersionResponse), Errors))]
async fn update_model_version(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let (name, v) = req.name_and_version()?;
    Ok(version(
        s.registry
            .update_model_version(&name, v, req.description.as_deref())
            .await?,
    ))
}

/// Moves a version to a `stage`, optionally archiving the others in it.
#[utoipa::path(post, path = "/model-versions/transition-stage", tag = "model-versions",
    operation_id = "transitionModelVersionStage",
    request_body = RegistryRequest,
    responses((status = 200, description = "the version in its new stage", body = ModelVersionResponse), Errors))]
async fn transition_stage(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let stage = required_str(req.stage.clone(), "stage")?;
    // Absent is proto3's default, false, as MLflow reads it.
    let archive = req.archive_existing_versions.unwrap_or(false);
    let (name, v) = req.name_and_version()?;
    Ok(version(
        s.registry
            .transition_stage(&name, v, &stage, archive)
            .await?,
    ))
}

/// Deletes a model version (its number is never reused).
#[utoipa::path(delete, path = "/model-versions/delete", tag = "model-versions",
    operation_id = "deleteModelVersion",
    request_body = RegistryRequest,
    responses((status = 200, description = "deleted", body = Empty), Errors))]
async fn delete_model_version(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let (name, version) = req.name_and_version()?;
    s.registry.delete_model_version(&name, version).await?;
    Ok(Json(Empty {}))
}

/// Searches model versions with MLflow's filter grammar.
#[utoipa::path(get, path = "/model-versions/search", tag = "model-versions",
    operation_id = "searchModelVersions",
    params(RegistrySearchRequest),
    responses((status = 200, description = "one page of versions, and the token of the next", body = ModelVersionsResponse), Errors))]
async fn search_model_versions(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistrySearchRequest>,
) -> ApiResult<Json<ModelVersionsResponse>> {
    let page = s
        .registry
        .search_model_versions(search_request(req))
        .await?;
    Ok(Json(ModelVersionsResponse {
        model_versions: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Where a version's files are.
#[utoipa::path(get, path = "/model-versions/get-download-uri", tag = "model-versions",
    operation_id = "getModelVersionDownloadUri",
    params(RegistryRequest),
    responses((status = 200, description = "the files' URI", body = DownloadUriResponse), Errors))]
async fn get_download_uri(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<DownloadUriResponse>> {
    let (name, version) = req.name_and_version()?;
    let artifact_uri = s.registry.download_uri(&name, version).await?;
    Ok(Json(DownloadUriResponse { artifact_uri }))
}

/// Sets a tag (`key`, `value`) on a model version.
#[utoipa::path(post, path = "/model-versions/set-tag", tag = "model-versions",
    operation_id = "setModelVersionTag",
    request_body = RegistryRequest,
    responses((status = 200, description = "the tag is set", body = Empty), Errors))]
async fn set_model_version_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let key = required_str(req.key.clone(), "key")?;
    // A missing value is proto3's default, the empty string, as MLflow reads it.
    let value = req.value.clone().unwrap_or_default();
    let (name, version) = req.name_and_version()?;
    s.registry
        .set_model_version_tag(&name, version, &key, &value)
        .await?;
    Ok(Json(Empty {}))
}

/// Deletes a tag (`key`) of a model version.
#[utoipa::path(delete, path = "/model-versions/delete-tag", tag = "model-versions",
    operation_id = "deleteModelVersionTag",
    request_body = RegistryRequest,
    responses((status = 200, description = "the tag is gone", body = Empty), Errors))]
async fn delete_model_version_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let key = required_str(req.key.clone(), "key")?;
    let (name, version) = req.name_and_version()?;
    s.registry
        .delete_model_version_tag(&name, version, &key)
        .await?;
    Ok(Json(Empty {}))
}
