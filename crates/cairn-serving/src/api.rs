//! The serving HTTP API: MLflow's scoring protocol per endpoint, probes, Prometheus
//! metrics, and the OpenAPI document with Swagger UI.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::endpoint::{Endpoint, EndpointStatus, LoadedModel};
use crate::error::ServingError;
use crate::predlog::{LogEntry, PredictionLog};
use crate::shadow::Shadow;

/// The version of the answering model, on every scoring response that had one.
pub const MODEL_VERSION_HEADER: HeaderName = HeaderName::from_static("x-cairn-model-version");
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Bodies up to this size are scored on the request's own task; larger ones on the
/// blocking pool, so a big batch cannot stall other requests on the runtime's few
/// worker threads.
const INLINE_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct ServingState {
    pub endpoints: Arc<Vec<Arc<Endpoint>>>,
    pub log: Option<PredictionLog>,
    pub entity_column: Option<Arc<str>>,
    /// Challengers scoring, off the response path, what their champion answered.
    pub shadows: Arc<Vec<Shadow>>,
}

impl ServingState {
    fn endpoint(&self, name: &str) -> Result<&Arc<Endpoint>, ServingError> {
        self.endpoints
            .iter()
            .find(|e| &*e.name == name)
            .ok_or_else(|| {
                ServingError::NotFound(format!(
                    "no endpoint serves a model named '{name}'; this server serves {:?}",
                    self.names()
                ))
            })
    }

    fn shadow_of(&self, endpoint: &Endpoint) -> Option<&Shadow> {
        self.shadows
            .iter()
            .find(|s| s.endpoint.name == endpoint.name)
    }

    fn names(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.name.to_string()).collect()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cairn model serving",
        description = "MLflow's scoring protocol for models served from the registry by alias. \
                       Each response names the model version that answered in the \
                       `x-cairn-model-version` header."
    ),
    paths(invocations, model_invocations, ping, health, metrics_page),
    components(schemas(
        InvocationRequest,
        Predictions,
        ErrorBody,
        HealthReport,
        EndpointStatus
    ))
)]
struct ApiDoc;

/// The scoring request: exactly one of the four input fields (or a CSV body with
/// `Content-Type: text/csv`).
#[derive(Serialize, utoipa::ToSchema)]
struct InvocationRequest {
    /// `{"columns": [...], "data": [[...], ...]}`, pandas' split orientation.
    dataframe_split: Option<serde_json::Value>,
    /// `[{"column": value, ...}, ...]`, one record per row.
    dataframe_records: Option<serde_json::Value>,
    /// TF-serving rows: a list of tensors, or of records of named tensors.
    instances: Option<serde_json::Value>,
    /// TF-serving columns: a tensor, or a dictionary of named tensors.
    inputs: Option<serde_json::Value>,
    /// Inference parameters (accepted; the onnx flavor takes none).
    params: Option<serde_json::Value>,
}

/// Records (one per row) for a data-frame request, else named output tensors.
#[derive(Serialize, utoipa::ToSchema)]
struct Predictions {
    predictions: serde_json::Value,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorBody {
    error_code: String,
    message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HealthReport {
    /// `ok` when every endpoint serves the version its alias points at, `degraded`
    /// when one serves an older version or none.
    status: &'static str,
    endpoints: Vec<EndpointStatus>,
    /// Shadow challengers (`--shadow`): listed, never part of `status`, since the
    /// champion answers whatever they do.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    shadows: Vec<EndpointStatus>,
}

/// Routes of a serving process. `standalone` adds MLflow's scoring-server probes
/// (`/health`, `/version`), `/metrics` and the OpenAPI document with Swagger UI
/// (`/openapi.json`, `/docs`) at the root; embedded in `cairn server`, those paths
/// belong to the tracking server, serving health is at `/serving/health`, and
/// [`openapi`] goes into the tracking server's document.
pub fn router(state: ServingState, standalone: bool) -> Router {
    let mut router = Router::new()
        .route("/invocations", post(invocations))
        .route("/models/{name}/invocations", post(model_invocations))
        .route("/ping", get(ping))
        .route("/serving/health", get(health));
    if standalone {
        // Inside `cairn server`, its own /metrics renders the same recorder, and its
        // /openapi.json serves this document merged into the tracking API's.
        router = router
            .route("/metrics", get(metrics_page))
            .route("/health", get(health))
            .route("/version", get(version))
            .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi()));
    }
    router.with_state(state)
}

/// The serving API's OpenAPI document, which `cairn server --serve` merges into the
/// tracking server's.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Scores on the server's only endpoint.
#[utoipa::path(post, path = "/invocations",
    request_body(content = InvocationRequest, content_type = "application/json"),
    responses(
        (status = 200, body = Predictions, description = "the predictions", headers(("x-cairn-model-version" = i64))),
        (status = 400, body = ErrorBody, description = "the payload cannot be scored; the message names the field"),
        (status = 404, body = ErrorBody, description = "the server serves several models: use /models/{name}/invocations"),
        (status = 415, body = ErrorBody, description = "the content type is neither JSON nor CSV"),
        (status = 503, body = ErrorBody, description = "no version loaded yet"),
    ))]
async fn invocations(State(s): State<ServingState>, headers: HeaderMap, body: Bytes) -> Response {
    match &s.endpoints[..] {
        [only] => score(&s, only, &headers, body).await,
        _ => ServingError::NotFound(format!(
            "this server serves several models: POST to /models/<name>/invocations, \
             <name> one of {:?}",
            s.names()
        ))
        .into_response(),
    }
}

/// Scores on the endpoint serving model `name`.
#[utoipa::path(post, path = "/models/{name}/invocations",
    params(("name" = String, Path, description = "registered model name")),
    request_body(content = InvocationRequest, content_type = "application/json"),
    responses(
        (status = 200, body = Predictions, description = "the predictions", headers(("x-cairn-model-version" = i64))),
        (status = 400, body = ErrorBody, description = "the payload cannot be scored; the message names the field"),
        (status = 404, body = ErrorBody, description = "no endpoint serves a model of that name"),
        (status = 503, body = ErrorBody, description = "no version loaded yet"),
    ))]
async fn model_invocations(
    State(s): State<ServingState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match s.endpoint(&name) {
        Ok(endpoint) => score(&s, endpoint, &headers, body).await,
        Err(e) => e.into_response(),
    }
}

async fn score(
    s: &ServingState,
    endpoint: &Arc<Endpoint>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let Some(model) = endpoint.current() else {
        let status = endpoint.status();
        return ServingError::Unavailable(format!(
            "{} has no version loaded yet{}",
            endpoint.model,
            status.error.map(|e| format!(": {e}")).unwrap_or_default()
        ))
        .into_response();
    };
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let entity = s.entity_column.clone();
    // A handle on the body for the shadow (reference-counted: no copy).
    let for_shadow = s
        .shadow_of(endpoint)
        .map(|shadow| (shadow, body.clone(), content_type.clone()));
    // The shadow waits while the champion works (see `shadow`).
    let _busy = for_shadow.as_ref().map(|(shadow, _, _)| shadow.busy());
    let result = if body.len() <= INLINE_BODY_BYTES {
        model.score(content_type.as_deref(), &body, entity.as_deref())
    } else {
        let m = model.clone();
        tokio::task::spawn_blocking(move || {
            m.score(content_type.as_deref(), &body, entity.as_deref())
        })
        .await
        .unwrap_or_else(|e| Err(ServingError::Predict(format!("scoring stopped: {e}"))))
    };
    let mut response = match result {
        Ok(scored) => {
            let rows = scored.input.rows();
            model.metrics.ok.increment(1);
            model.metrics.rows.increment(rows as u64);
            let body = Json(json!({ "predictions": scored.predictions })).into_response();
            if let Some(log) = &s.log {
                log.record(LogEntry {
                    request_id: request_id.clone(),
                    model_name: endpoint.name.clone(),
                    alias: endpoint.alias.clone(),
                    model_version: model.version,
                    timestamp_ms: crate::endpoint::now_ms(),
                    entity_ids: scored.entity_ids,
                    input: scored.input,
                    outputs: scored.outputs,
                    shadow: false,
                });
            }
            if let Some((shadow, request_body, content_type)) = for_shadow {
                shadow.offer(&request_id, content_type.as_deref(), request_body);
            }
            body
        }
        Err(e) => {
            model.metrics.failed.increment(1);
            if matches!(
                e,
                ServingError::BadRequest(_)
                    | ServingError::UnsupportedMediaType(_)
                    | ServingError::Predict(_)
            ) {
                model.metrics.client_errors.increment(1);
            } else {
                model.metrics.server_errors.increment(1);
            }
            e.into_response()
        }
    };
    model
        .metrics
        .latency
        .record(started.elapsed().as_secs_f64());
    annotate(&mut response, &model, &request_id);
    response
}

fn annotate(response: &mut Response, model: &LoadedModel, request_id: &str) {
    let headers = response.headers_mut();
    headers.insert(MODEL_VERSION_HEADER, model.version_header.clone());
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
}

/// 200 once every endpoint has a version loaded, as MLflow's scoring server answers
/// once its model has loaded.
#[utoipa::path(get, path = "/ping", responses((status = 200, description = "every endpoint has a version loaded"), (status = 503, description = "an endpoint has no version loaded yet")))]
async fn ping(State(s): State<ServingState>) -> Response {
    if s.endpoints.iter().all(|e| e.current().is_some()) {
        (StatusCode::OK, "\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no model version loaded yet\n",
        )
            .into_response()
    }
}

/// Each endpoint's alias, serving version and last reload error.
#[utoipa::path(get, path = "/serving/health", responses(
    (status = 200, body = HealthReport, description = "every alias's version is serving"),
    (status = 503, body = HealthReport, description = "a version is missing or failed to load"),
))]
async fn health(State(s): State<ServingState>) -> Response {
    let endpoints: Vec<EndpointStatus> = s.endpoints.iter().map(|e| e.status()).collect();
    let ok = endpoints.iter().all(|e| {
        e.serving_version.is_some() && e.serving_version == e.alias_version && e.error.is_none()
    });
    let code = if endpoints.iter().all(|e| e.serving_version.is_some()) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let report = HealthReport {
        status: if ok { "ok" } else { "degraded" },
        endpoints,
        shadows: s.shadows.iter().map(|s| s.endpoint.status()).collect(),
    };
    (code, Json(report)).into_response()
}

async fn version() -> &'static str {
    cairn_core::MLFLOW_COMPAT_VERSION
}

/// Prometheus' text format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus' text format", content_type = "text/plain")))]
async fn metrics_page() -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
        .into_response()
}
