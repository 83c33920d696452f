//! cairn's online-evaluation API: ground truth in, metrics per model version out,
//! and the evaluation and drift reports jobs keep.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_api_types::monitor::{
    CreateReportRequest, GetGroundTruthRequest, GetGroundTruthResponse, ListReportsRequest,
    ListReportsResponse, LogGroundTruthRequest, OnlineEvaluationRequest,
};
use cairn_api_types::Empty;
use cairn_core::monitor::{EvalQuery, OnlineEvaluation, Window};
use cairn_core::{ErrorCode, MlflowError};

use super::{number, Errors};
use crate::error::ApiResult;
use crate::extract::MlflowRequest;
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/ground-truth/log-batch", post(log_batch))
        .route("/ground-truth/get", get(get_one))
        .route("/evaluations/online", get(online))
        .route("/monitor/reports", get(reports))
        .route("/monitor/reports/create", post(create_report))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(log_batch, get_one, online, reports, create_report))]
pub(super) struct Api;

/// Writes ground truth, all or none (at most 10,000 records a request); a later
/// value for an entity replaces the earlier one, which is kept as a change.
#[utoipa::path(post, path = "/ground-truth/log-batch", tag = "evaluation",
    operation_id = "logGroundTruth",
    request_body = LogGroundTruthRequest,
    responses((status = 200, description = "all written", body = Empty), Errors))]
async fn log_batch(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogGroundTruthRequest>,
) -> ApiResult<Json<Empty>> {
    s.monitor.log_ground_truth(req.ground_truth).await?;
    Ok(Json(Empty {}))
}

fn required(field: &str, value: Option<String>) -> ApiResult<String> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        MlflowError::new(
            ErrorCode::InvalidParameterValue,
            format!("Missing value for required parameter '{field}'"),
        )
        .into()
    })
}

/// An entity's ground truth, with the values it replaced.
#[utoipa::path(get, path = "/ground-truth/get", tag = "evaluation",
    operation_id = "getGroundTruth",
    params(GetGroundTruthRequest),
    responses((status = 200, description = "the entity's ground truth", body = GetGroundTruthResponse), Errors))]
async fn get_one(
    State(s): State<Services>,
    Query(q): Query<GetGroundTruthRequest>,
) -> ApiResult<Json<GetGroundTruthResponse>> {
    let model = required("model_name", q.model_name)?;
    let entity = required("entity_id", q.entity_id)?;
    Ok(Json(GetGroundTruthResponse {
        ground_truth: s.monitor.ground_truth(&model, &entity).await?,
    }))
}

/// Metrics of each model version over its logged predictions that have ground
/// truth, per window, with label coverage and delay.
#[utoipa::path(get, path = "/evaluations/online", tag = "evaluation",
    operation_id = "evaluateOnline",
    params(OnlineEvaluationRequest),
    responses((status = 200, description = "each version's metrics", body = OnlineEvaluation), Errors))]
async fn online(
    State(s): State<Services>,
    Query(q): Query<OnlineEvaluationRequest>,
) -> ApiResult<Json<OnlineEvaluation>> {
    let until_ms = number("until_ms", q.until_ms)?.unwrap_or_else(cairn_service::now_ms);
    let query = EvalQuery {
        model_name: required("model_name", q.model_name)?,
        version: number("version", q.version)?,
        since_ms: number("since_ms", q.since_ms)?.unwrap_or(until_ms - 7 * 86_400_000),
        until_ms,
        window: q.window.as_deref().unwrap_or("all").parse::<Window>()?,
        prediction_key: q.prediction_key,
        probability_key: q.probability_key,
        alias: q.alias,
    };
    Ok(Json(s.monitor.evaluate(query).await?))
}

/// A model's stored evaluation or drift reports, newest first.
#[utoipa::path(get, path = "/monitor/reports", tag = "evaluation",
    operation_id = "listMonitorReports",
    params(ListReportsRequest),
    responses((status = 200, description = "the reports", body = ListReportsResponse), Errors))]
async fn reports(
    State(s): State<Services>,
    Query(q): Query<ListReportsRequest>,
) -> ApiResult<Json<ListReportsResponse>> {
    let model = required("model_name", q.model_name)?;
    let kind = q.kind.unwrap_or_else(|| "drift".into());
    let limit = number("max_results", q.max_results)?.unwrap_or(20);
    Ok(Json(ListReportsResponse {
        reports: s.monitor.reports(&model, &kind, limit).await?,
    }))
}

/// Keeps an evaluation or drift result for its model (and version).
#[utoipa::path(post, path = "/monitor/reports/create", tag = "evaluation",
    operation_id = "createMonitorReport",
    request_body = CreateReportRequest,
    responses((status = 200, description = "kept", body = Empty), Errors))]
async fn create_report(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateReportRequest>,
) -> ApiResult<Json<Empty>> {
    s.monitor
        .add_report(cairn_store::NewMonitorReport {
            model_name: req.model_name,
            model_version: req.model_version,
            kind: req.kind,
            window_start_ms: req.window_start_ms,
            window_end_ms: req.window_end_ms,
            job_run_id: req.job_run_id,
            summary: req.summary,
            report: req.report,
        })
        .await?;
    Ok(Json(Empty {}))
}
