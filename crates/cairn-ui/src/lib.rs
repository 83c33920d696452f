//! cairn's web UI: experiments, runs, comparison, charts and the model registry,
//! rendered on the server and built into the binary.
//!
//! Pages are plain HTML (maud) with SVG charts drawn here, so reading works without
//! JavaScript and every view is a shareable URL: filters, sort, columns, selections
//! and chart settings live in the query string. `app.js` only adds hover values,
//! drag-to-zoom, series toggles and auto-submit. Handlers call the same service
//! functions as the REST API ([`cairn_server::AppState`]), never the store.

mod chart;
mod error;
mod format;
mod layout;
mod pages;
mod query;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use cairn_server::AppState;

pub use error::UiError;

/// The UI's routes, ready to merge beside the API's (`cairn server` mounts them at `/`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::experiments::list))
        .route("/experiments", get(pages::experiments::list))
        .route("/experiments/create", post(pages::experiments::create))
        .route("/experiments/{id}", get(pages::runs::page))
        .route("/experiments/{id}/rename", post(pages::experiments::rename))
        .route("/experiments/{id}/delete", post(pages::experiments::delete))
        .route(
            "/experiments/{id}/restore",
            post(pages::experiments::restore),
        )
        .route("/runs/lifecycle", post(pages::runs::lifecycle))
        .route("/runs/{id}", get(pages::run::page))
        .route("/runs/{id}/artifacts", get(pages::artifacts::browse))
        .route("/runs/{id}/artifact", get(pages::artifacts::raw))
        .route("/compare", get(pages::compare::page))
        .route("/registry", get(pages::registry::list))
        .route("/registry/{name}", get(pages::registry::model))
        .route("/registry/{name}/aliases", post(pages::registry::set_alias))
        .route(
            "/registry/{name}/aliases/delete",
            post(pages::registry::delete_alias),
        )
        .route(
            "/registry/{name}/description",
            post(pages::registry::describe),
        )
        .route("/registry/{name}/tags", post(pages::registry::set_tag))
        .route(
            "/registry/{name}/tags/delete",
            post(pages::registry::delete_tag),
        )
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .with_state(state)
}

// The assets are versioned with the binary; a day's caching is safe because a new
// build changes the `?v=` the pages link them with.
const CACHE: &str = "public, max-age=86400";

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        include_str!("../assets/app.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        include_str!("../assets/app.js"),
    )
}
