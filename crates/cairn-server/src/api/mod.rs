//! HTTP routes. Handlers parse the request message, call a service and shape the
//! response; they hold no rules of their own. The messages are `cairn-api-types`',
//! which the client shares, and every handler describes itself for the OpenAPI
//! document ([`openapi`]), so routes, types and document come from one place.

mod artifacts;
mod data;
mod jobs;
mod logged_models;
mod meta;
mod monitor;
mod predictions;
mod registry;
mod tracking;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::Router;
use cairn_api_types::ErrorBody;
use utoipa::OpenApi;

use cairn_service::Services;

/// Where MLflow's REST API lives (also under `/ajax-api/2.0/mlflow`, which its web UI
/// calls; the document names the first only).
const MLFLOW_PREFIX: &str = "/api/2.0/mlflow";
const ARTIFACTS_PREFIX: &str = "/api/2.0/mlflow-artifacts";
const CAIRN_PREFIX: &str = "/api/2.0/cairn";

/// Every route cairn serves: MLflow's API under both of its prefixes, plus the
/// plain-text probes.
pub fn router(state: Services) -> Router {
    let mlflow_v2 = tracking::routes()
        .merge(logged_models::routes())
        .merge(registry::routes())
        .merge(artifacts::run_routes());
    let artifacts = artifacts::routes();
    Router::new()
        .nest(MLFLOW_PREFIX, mlflow_v2.clone())
        .nest("/ajax-api/2.0/mlflow", mlflow_v2)
        .nest(ARTIFACTS_PREFIX, artifacts.clone())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifacts)
        .nest(
            CAIRN_PREFIX,
            predictions::routes()
                .merge(jobs::routes())
                .merge(monitor::routes())
                .merge(data::routes()),
        )
        .merge(artifacts::root_routes())
        .merge(meta::routes())
        .fallback(not_found)
        .with_state(state)
}

/// An integer of a query string (cairn's GET messages carry numbers as text), or
/// INVALID_PARAMETER_VALUE naming the field.
fn number(field: &str, value: Option<String>) -> crate::error::ApiResult<Option<i64>> {
    value
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                cairn_core::MlflowError::new(
                    cairn_core::ErrorCode::InvalidParameterValue,
                    format!("{field} must be an integer, got '{v}'"),
                )
                .into()
            })
        })
        .transpose()
}

/// `true` or `false` of a query string, or INVALID_PARAMETER_VALUE naming the field.
fn flag(field: &str, value: Option<String>) -> crate::error::ApiResult<Option<bool>> {
    value
        .map(|v| match v.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(cairn_core::MlflowError::new(
                cairn_core::ErrorCode::InvalidParameterValue,
                format!("{field} must be true or false, got '{v}'"),
            )
            .into()),
        })
        .transpose()
}

/// MLflow answers unknown routes with an HTML 404, which its client reads as
/// ENDPOINT_NOT_FOUND (and uses to fall back to older endpoints), so cairn does too.
async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>\n"),
    )
}

/// The errors any MLflow endpoint may answer, each as MLflow's error message.
#[derive(utoipa::IntoResponses)]
#[expect(
    dead_code,
    reason = "describes responses for the document; errors are built as `ApiError`"
)]
enum Errors {
    /// A field is missing or invalid (`INVALID_PARAMETER_VALUE`, the message names
    /// the field), or the resource exists already (`RESOURCE_ALREADY_EXISTS`).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// The experiment, run, model or file named does not exist
    /// (`RESOURCE_DOES_NOT_EXIST`).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The store or the artifact destination failed (`INTERNAL_ERROR`); the cause is
    /// logged with the request's id, not sent.
    #[response(status = 500)]
    Internal(ErrorBody),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cairn",
        description = "MLflow's tracking, model registry and artifact REST API as cairn \
                       serves it (MLflow clients work unchanged), plus cairn's prediction \
                       log. MLflow's API is also served under `/ajax-api/2.0/mlflow` and \
                       `/ajax-api/2.0/mlflow-artifacts`. GET requests carry their message \
                       in the query string (repeat a key for a list); other methods in a \
                       JSON body. Integers may be sent as strings and enums as names or \
                       numbers, as protobuf's JSON mapping allows."
    ),
    components(schemas(ErrorBody, cairn_api_types::artifacts::FileContent)),
    tags(
        (name = "experiments", description = "MLflow experiments"),
        (name = "runs", description = "MLflow runs: parameters, metrics, tags, inputs and outputs"),
        (name = "metrics", description = "Metric histories"),
        (name = "registered-models", description = "The model registry's models, tags and aliases"),
        (name = "model-versions", description = "The model registry's versions"),
        (name = "logged-models", description = "MLflow 3's logged models"),
        (name = "artifacts", description = "Artifact files, through the server's proxy"),
        (name = "predictions", description = "cairn's prediction log, written by the serving endpoints"),
        (name = "evaluation", description = "cairn's online evaluation: ground truth, each model version's metrics over the prediction log, evaluation and drift reports"),
        (name = "jobs", description = "cairn's jobs: the jobs folder's jobs, their runs, and the worker protocol"),
        (name = "server", description = "Probes and capabilities"),
    )
)]
struct ApiDoc;

/// The OpenAPI document of the tracking server's API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
        .nest(MLFLOW_PREFIX, tracking::Api::openapi())
        .nest(MLFLOW_PREFIX, registry::Api::openapi())
        .nest(MLFLOW_PREFIX, logged_models::Api::openapi())
        .nest(MLFLOW_PREFIX, artifacts::RunApi::openapi())
        .nest(ARTIFACTS_PREFIX, artifacts::Api::openapi())
        .nest(CAIRN_PREFIX, predictions::Api::openapi())
        .nest(CAIRN_PREFIX, jobs::Api::openapi())
        .nest(CAIRN_PREFIX, monitor::Api::openapi())
        .nest(CAIRN_PREFIX, data::Api::openapi())
        .merge_from(artifacts::RootApi::openapi())
        .merge_from(meta::Api::openapi())
        .merge_from(crate::metrics::Api::openapi())
}
