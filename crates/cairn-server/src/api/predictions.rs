//! cairn's prediction-log API (`/api/2.0/cairn/predictions/...`): the serving
//! endpoints' batched writes, and reads for evaluation and inspection.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_core::predictions::{PredictionRecord, PredictionSearch};
use cairn_core::{ErrorCode, MlflowError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::MlflowRequest;
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/predictions/log-batch", post(log_batch))
        .route("/predictions/search", get(search))
}

#[derive(Deserialize)]
struct LogBatch {
    predictions: Vec<PredictionRecord>,
}

async fn log_batch(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogBatch>,
) -> ApiResult<Json<Value>> {
    s.predictions.log(&req.predictions).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct SearchQuery {
    model_name: Option<String>,
    model_version: Option<String>,
    entity_id: Option<String>,
    request_id: Option<String>,
    max_results: Option<String>,
    page_token: Option<String>,
}

fn number(field: &str, value: Option<String>) -> ApiResult<Option<i64>> {
    value
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                MlflowError::new(
                    ErrorCode::InvalidParameterValue,
                    format!("{field} must be an integer, got '{v}'"),
                )
                .into()
            })
        })
        .transpose()
}

async fn search(State(s): State<Services>, Query(q): Query<SearchQuery>) -> ApiResult<Json<Value>> {
    let search = PredictionSearch {
        model_name: q.model_name.unwrap_or_default(),
        model_version: number("model_version", q.model_version)?,
        entity_id: q.entity_id,
        request_id: q.request_id,
        max_results: number("max_results", q.max_results)?.unwrap_or(1000),
        after_id: number("page_token", q.page_token)?,
    };
    let page = s.predictions.search(search).await?;
    let mut body = json!({ "predictions": page.items });
    if let Some(token) = page.next_page_token {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}
