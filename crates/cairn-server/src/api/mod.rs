//! HTTP routes. Handlers parse the request message, call a service and shape the
//! response; they hold no rules of their own.

mod artifacts;
mod fields;
mod logged_models;
mod meta;
mod predictions;
mod registry;
mod tracking;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::Router;

use cairn_service::Services;

/// Every route cairn serves: MLflow's API under both of its prefixes, plus the
/// plain-text probes.
pub fn router(state: Services) -> Router {
    let mlflow_v2 = tracking::routes()
        .merge(logged_models::routes())
        .merge(registry::routes())
        .merge(artifacts::run_routes());
    let artifacts = artifacts::routes();
    Router::new()
        .nest("/api/2.0/mlflow", mlflow_v2.clone())
        .nest("/ajax-api/2.0/mlflow", mlflow_v2)
        .nest("/api/2.0/mlflow-artifacts", artifacts.clone())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifacts)
        .nest("/api/2.0/cairn", predictions::routes())
        .merge(artifacts::root_routes())
        .merge(meta::routes())
        .fallback(not_found)
        .with_state(state)
}

/// MLflow answers unknown routes with an HTML 404, which its client reads as
/// ENDPOINT_NOT_FOUND (and uses to fall back to older endpoints), so cairn does too.
async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>\n"),
    )
}
