//! cairn's prediction-log API (`/api/2.0/cairn/predictions/...`): the serving
//! endpoints' batched writes, and reads for evaluation and inspection.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_api_types::predictions::{
    LogPredictionsRequest, SearchPredictionsRequest, SearchPredictionsResponse,
};
use cairn_api_types::Empty;
use cairn_core::predictions::PredictionSearch;

use super::{flag, number, Errors};
use crate::error::ApiResult;
use crate::extract::MlflowRequest;
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/predictions/log-batch", post(log_batch))
        .route("/predictions/search", get(search))
}

/// The prediction log's part of the document (paths relative to cairn's prefix).
#[derive(utoipa::OpenApi)]
#[openapi(paths(log_batch, search))]
pub(super) struct Api;

/// Appends prediction records, all or none (at most 10,000 a request).
#[utoipa::path(post, path = "/predictions/log-batch", tag = "predictions",
    operation_id = "logPredictions",
    request_body = LogPredictionsRequest,
    responses((status = 200, description = "all written", body = Empty), Errors))]
async fn log_batch(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogPredictionsRequest>,
) -> ApiResult<Json<Empty>> {
    s.predictions.log(&req.predictions).await?;
    Ok(Json(Empty {}))
}

/// One page of a model's prediction log, oldest first.
#[utoipa::path(get, path = "/predictions/search", tag = "predictions",
    operation_id = "searchPredictions",
    params(SearchPredictionsRequest),
    responses((status = 200, description = "one page of records, and the token of the next", body = SearchPredictionsResponse), Errors))]
async fn search(
    State(s): State<Services>,
    Query(q): Query<SearchPredictionsRequest>,
) -> ApiResult<Json<SearchPredictionsResponse>> {
    let search = PredictionSearch {
        model_name: q.model_name.unwrap_or_default(),
        model_version: number("model_version", q.model_version)?,
        entity_id: q.entity_id,
        request_id: q.request_id,
        shadow: flag("shadow", q.shadow)?,
        alias: q.alias,
        since_ms: number("since_ms", q.since_ms)?,
        until_ms: number("until_ms", q.until_ms)?,
        max_results: number("max_results", q.max_results)?.unwrap_or(1000),
        after_id: number("page_token", q.page_token)?,
    };
    let page = s.predictions.search(search).await?;
    Ok(Json(SearchPredictionsResponse {
        predictions: page.items,
        next_page_token: page.next_page_token,
    }))
}
