//! `/health`, `/version` and `server-info`: what probes and the client's capability
//! checks read.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use cairn_service::Services;

use cairn_core::MLFLOW_COMPAT_VERSION;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(server_info))
}

async fn health(State(state): State<Services>) -> impl IntoResponse {
    match state.tracking.store().ping().await {
        Ok(()) => (StatusCode::OK, "OK"),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

async fn version() -> &'static str {
    MLFLOW_COMPAT_VERSION
}

async fn server_info() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {"gateway": false},
    }))
}
