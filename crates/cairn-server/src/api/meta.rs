//! `/health`, `/version` and `server-info`: what probes and the client's capability
//! checks read.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cairn_api_types::tracking::{FeaturesEnabled, ServerInfoResponse};

use cairn_service::Services;

use cairn_core::MLFLOW_COMPAT_VERSION;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(server_info))
}

/// The probes' part of the document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(health, version, server_info))]
pub(super) struct Api;

/// Whether the server and its database answer.
#[utoipa::path(get, path = "/health", tag = "server",
    operation_id = "getHealth",
    responses(
        (status = 200, description = "`OK`: the database answers", body = String, content_type = "text/plain"),
        (status = 503, description = "the database does not answer", body = String, content_type = "text/plain"),
    ))]
async fn health(State(state): State<Services>) -> impl IntoResponse {
    match state.tracking.store().ping().await {
        Ok(()) => (StatusCode::OK, "OK"),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// The MLflow version whose API cairn serves.
#[utoipa::path(get, path = "/version", tag = "server",
    operation_id = "getVersion",
    responses((status = 200, description = "the version, e.g. `3.17.2`", body = String, content_type = "text/plain")))]
async fn version() -> &'static str {
    MLFLOW_COMPAT_VERSION
}

/// The server's capabilities, as MLflow 3's client reads them.
#[utoipa::path(get, path = "/api/3.0/mlflow/server-info", tag = "server",
    operation_id = "getServerInfo",
    responses((status = 200, description = "the capabilities", body = ServerInfoResponse)))]
async fn server_info() -> Json<ServerInfoResponse> {
    Json(ServerInfoResponse {
        store_type: "SqlStore".into(),
        workspaces_enabled: false,
        trace_archival_enabled: false,
        multipart_uploads_enabled: false,
        multipart_downloads_enabled: false,
        presigned_upload_run_id_supported: false,
        presigned_upload_model_id_supported: false,
        features_enabled: FeaturesEnabled { gateway: false },
    })
}
