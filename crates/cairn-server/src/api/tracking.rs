//! MLflow's tracking service (`service.proto`): experiments, runs, metrics.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_api_types::tracking::{
    CreateExperimentRequest, CreateExperimentResponse, CreateRunRequest, DeleteTagRequest,
    ExperimentIdRequest, ExperimentNameRequest, ExperimentResponse, ExperimentTagRequest,
    GetMetricHistoryBulkIntervalRequest, GetMetricHistoryRequest, KeyValueRequest, LogBatchRequest,
    LogInputsRequest, LogMetricRequest, LogOutputsRequest, MetricsResponse, RunIdRequest,
    RunResponse, SearchExperimentsRequest, SearchExperimentsResponse, SearchRunsRequest,
    SearchRunsResponse, UpdateExperimentRequest, UpdateRunRequest, UpdateRunResponse,
};
use cairn_api_types::{required_str, resolve_run_id, Empty};
use cairn_core::entities::{LifecycleStage, RunStatus, ViewType};
use cairn_core::MlflowError;

use super::Errors;
use crate::error::ApiResult;
use crate::extract::MlflowRequest;
use cairn_service::tracking::{BulkInterval, CreateRun};
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/experiments/create", post(create_experiment))
        .route("/experiments/get", get(get_experiment))
        .route("/experiments/get-by-name", get(get_experiment_by_name))
        .route(
            "/experiments/search",
            get(search_experiments).post(search_experiments),
        )
        .route("/experiments/update", post(update_experiment))
        .route("/experiments/delete", post(delete_experiment))
        .route("/experiments/restore", post(restore_experiment))
        .route("/experiments/set-experiment-tag", post(set_experiment_tag))
        .route(
            "/experiments/delete-experiment-tag",
            post(delete_experiment_tag),
        )
        .route("/runs/create", post(create_run))
        .route("/runs/get", get(get_run))
        .route("/runs/update", post(update_run))
        .route("/runs/delete", post(delete_run))
        .route("/runs/restore", post(restore_run))
        .route("/runs/search", post(search_runs).get(search_runs))
        .route("/runs/log-metric", post(log_metric))
        .route("/runs/log-parameter", post(log_param))
        .route("/runs/set-tag", post(set_tag))
        .route("/runs/delete-tag", post(delete_tag))
        .route("/runs/log-batch", post(log_batch))
        .route("/runs/log-inputs", post(log_inputs))
        .route("/runs/outputs", post(log_outputs))
        .route("/metrics/get-history", get(get_metric_history))
        .route(
            "/metrics/get-history-bulk-interval",
            get(get_metric_history_bulk_interval),
        )
}

/// The tracking endpoints' part of the document (paths relative to the API prefix).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_experiment,
    get_experiment,
    get_experiment_by_name,
    search_experiments,
    update_experiment,
    delete_experiment,
    restore_experiment,
    set_experiment_tag,
    delete_experiment_tag,
    create_run,
    get_run,
    update_run,
    delete_run,
    restore_run,
    search_runs,
    log_metric,
    log_param,
    set_tag,
    delete_tag,
    log_batch,
    log_inputs,
    log_outputs,
    get_metric_history,
    get_metric_history_bulk_interval,
))]
pub(super) struct Api;

fn view_type(raw: Option<&str>, field: &str) -> Result<ViewType, MlflowError> {
    match raw {
        None | Some("") => Ok(ViewType::ActiveOnly),
        Some(s) => ViewType::parse(s).map_err(|_| {
            MlflowError::invalid_parameter(format!(
                "Invalid value '{s}' for parameter '{field}': expected ACTIVE_ONLY, \
                 DELETED_ONLY or ALL"
            ))
        }),
    }
}

// ----------------------------------------------------------------- experiments

/// Creates an experiment; its name must be unique among active and deleted ones.
#[utoipa::path(post, path = "/experiments/create", tag = "experiments",
    operation_id = "createExperiment",
    request_body = CreateExperimentRequest,
    responses((status = 200, description = "the new experiment's id", body = CreateExperimentResponse), Errors))]
async fn create_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateExperimentRequest>,
) -> ApiResult<Json<CreateExperimentResponse>> {
    let name = required_str(req.name, "name")?;
    let experiment_id = s
        .tracking
        .create_experiment(&name, req.artifact_location, req.tags)
        .await?;
    Ok(Json(CreateExperimentResponse { experiment_id }))
}

/// An experiment by id.
#[utoipa::path(get, path = "/experiments/get", tag = "experiments",
    operation_id = "getExperiment",
    params(ExperimentIdRequest),
    responses((status = 200, description = "the experiment", body = ExperimentResponse), Errors))]
async fn get_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentIdRequest>,
) -> ApiResult<Json<ExperimentResponse>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    let experiment = s.tracking.get_experiment(&id).await?;
    Ok(Json(ExperimentResponse { experiment }))
}

/// An experiment by name.
#[utoipa::path(get, path = "/experiments/get-by-name", tag = "experiments",
    operation_id = "getExperimentByName",
    params(ExperimentNameRequest),
    responses((status = 200, description = "the experiment", body = ExperimentResponse), Errors))]
async fn get_experiment_by_name(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentNameRequest>,
) -> ApiResult<Json<ExperimentResponse>> {
    let name = required_str(req.experiment_name, "experiment_name")?;
    let experiment = s.tracking.get_experiment_by_name(&name).await?;
    Ok(Json(ExperimentResponse { experiment }))
}

/// Searches experiments with MLflow's filter grammar. Also served as GET, with the
/// same fields in the query string.
#[utoipa::path(post, path = "/experiments/search", tag = "experiments",
    operation_id = "searchExperiments",
    request_body = SearchExperimentsRequest,
    responses((status = 200, description = "one page of experiments, and the token of the next", body = SearchExperimentsResponse), Errors))]
async fn search_experiments(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SearchExperimentsRequest>,
) -> ApiResult<Json<SearchExperimentsResponse>> {
    let view = view_type(req.view_type.map(|v| v.as_string()).as_deref(), "view_type")?;
    let page = s
        .tracking
        .search_experiments(
            req.filter.as_deref(),
            &req.order_by,
            view,
            req.max_results,
            req.page_token.as_deref(),
        )
        .await?;
    Ok(Json(SearchExperimentsResponse {
        experiments: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Renames an experiment.
#[utoipa::path(post, path = "/experiments/update", tag = "experiments",
    operation_id = "updateExperiment",
    request_body = UpdateExperimentRequest,
    responses((status = 200, description = "renamed (or, with no new name, found)", body = Empty), Errors))]
async fn update_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<UpdateExperimentRequest>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    if let Some(name) = req.new_name.filter(|n| !n.is_empty()) {
        s.tracking.rename_experiment(&id, &name).await?;
    } else {
        s.tracking.get_experiment(&id).await?;
    }
    Ok(Json(Empty {}))
}

/// Marks an experiment and its runs deleted (restorable).
#[utoipa::path(post, path = "/experiments/delete", tag = "experiments",
    operation_id = "deleteExperiment",
    request_body = ExperimentIdRequest,
    responses((status = 200, description = "deleted", body = Empty), Errors))]
async fn delete_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentIdRequest>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    s.tracking
        .set_experiment_lifecycle(&id, LifecycleStage::Deleted)
        .await?;
    Ok(Json(Empty {}))
}

/// Restores a deleted experiment.
#[utoipa::path(post, path = "/experiments/restore", tag = "experiments",
    operation_id = "restoreExperiment",
    request_body = ExperimentIdRequest,
    responses((status = 200, description = "restored", body = Empty), Errors))]
async fn restore_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentIdRequest>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    s.tracking
        .set_experiment_lifecycle(&id, LifecycleStage::Active)
        .await?;
    Ok(Json(Empty {}))
}

/// Sets a tag on an experiment.
#[utoipa::path(post, path = "/experiments/set-experiment-tag", tag = "experiments",
    operation_id = "setExperimentTag",
    request_body = ExperimentTagRequest,
    responses((status = 200, description = "the tag is set", body = Empty), Errors))]
async fn set_experiment_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentTagRequest>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    let key = required_str(req.key, "key")?;
    // A missing value is proto3's default, the empty string, as MLflow reads it.
    let value = req.value.unwrap_or_default();
    s.tracking.set_experiment_tag(&id, &key, &value).await?;
    Ok(Json(Empty {}))
}

/// Deletes a tag of an experiment.
#[utoipa::path(post, path = "/experiments/delete-experiment-tag", tag = "experiments",
    operation_id = "deleteExperimentTag",
    request_body = ExperimentTagRequest,
    responses((status = 200, description = "the tag is gone", body = Empty), Errors))]
async fn delete_experiment_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentTagRequest>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    let key = required_str(req.key, "key")?;
    s.tracking.delete_experiment_tag(&id, &key).await?;
    Ok(Json(Empty {}))
}

// ------------------------------------------------------------------------ runs

/// Starts a run in an experiment (the default one if none is named).
#[utoipa::path(post, path = "/runs/create", tag = "runs",
    operation_id = "createRun",
    request_body = CreateRunRequest,
    responses((status = 200, description = "the new run", body = RunResponse), Errors))]
async fn create_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateRunRequest>,
) -> ApiResult<Json<RunResponse>> {
    let run = s
        .tracking
        .create_run(CreateRun {
            experiment_id: req.experiment_id,
            user_id: req.user_id,
            run_name: req.run_name,
            start_time: req.start_time,
            tags: req.tags,
        })
        .await?;
    Ok(Json(RunResponse { run }))
}

/// A run with its latest metrics, params, tags, inputs and outputs.
#[utoipa::path(get, path = "/runs/get", tag = "runs",
    operation_id = "getRun",
    params(RunIdRequest),
    responses((status = 200, description = "the run", body = RunResponse), Errors))]
async fn get_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunIdRequest>,
) -> ApiResult<Json<RunResponse>> {
    let run = s.tracking.get_run(&req.run_id()?).await?;
    Ok(Json(RunResponse { run }))
}

/// Sets a run's status, end time or name.
#[utoipa::path(post, path = "/runs/update", tag = "runs",
    operation_id = "updateRun",
    request_body = UpdateRunRequest,
    responses((status = 200, description = "the run's updated info", body = UpdateRunResponse), Errors))]
async fn update_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<UpdateRunRequest>,
) -> ApiResult<Json<UpdateRunResponse>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    let status = match req.status {
        None => None,
        Some(v) => {
            let raw = v.as_string();
            Some(RunStatus::parse(&raw).ok_or_else(|| {
                MlflowError::invalid_parameter(format!(
                    "Invalid value '{raw}' for parameter 'status': expected one of RUNNING, \
                     SCHEDULED, FINISHED, FAILED, KILLED"
                ))
            })?)
        }
    };
    let run_info = s
        .tracking
        .update_run(&run_id, status, req.end_time, req.run_name.as_deref())
        .await?;
    Ok(Json(UpdateRunResponse { run_info }))
}

/// Marks a run deleted (restorable).
#[utoipa::path(post, path = "/runs/delete", tag = "runs",
    operation_id = "deleteRun",
    request_body = RunIdRequest,
    responses((status = 200, description = "deleted", body = Empty), Errors))]
async fn delete_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunIdRequest>,
) -> ApiResult<Json<Empty>> {
    s.tracking.delete_run(&req.run_id()?).await?;
    Ok(Json(Empty {}))
}

/// Restores a deleted run.
#[utoipa::path(post, path = "/runs/restore", tag = "runs",
    operation_id = "restoreRun",
    request_body = RunIdRequest,
    responses((status = 200, description = "restored", body = Empty), Errors))]
async fn restore_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunIdRequest>,
) -> ApiResult<Json<Empty>> {
    s.tracking.restore_run(&req.run_id()?).await?;
    Ok(Json(Empty {}))
}

/// Searches runs of some experiments with MLflow's filter grammar. Also served as
/// GET, with the same fields in the query string.
#[utoipa::path(post, path = "/runs/search", tag = "runs",
    operation_id = "searchRuns",
    request_body = SearchRunsRequest,
    responses((status = 200, description = "one page of runs, and the token of the next", body = SearchRunsResponse), Errors))]
async fn search_runs(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SearchRunsRequest>,
) -> ApiResult<Json<SearchRunsResponse>> {
    let view = view_type(
        req.run_view_type.map(|v| v.as_string()).as_deref(),
        "run_view_type",
    )?;
    let page = s
        .tracking
        .search_runs(
            &req.experiment_ids,
            req.filter.as_deref(),
            &req.order_by,
            view,
            req.max_results,
            req.page_token.as_deref(),
        )
        .await?;
    Ok(Json(SearchRunsResponse {
        runs: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Logs one point of a metric.
#[utoipa::path(post, path = "/runs/log-metric", tag = "runs",
    operation_id = "logMetric",
    request_body = LogMetricRequest,
    responses((status = 200, description = "logged", body = Empty), Errors))]
async fn log_metric(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogMetricRequest>,
) -> ApiResult<Json<Empty>> {
    let (run_id, metric) = req.into_parts()?;
    s.tracking
        .log_batch(&run_id, vec![metric], Vec::new(), Vec::new())
        .await?;
    Ok(Json(Empty {}))
}

/// Logs a parameter; a parameter, once logged, cannot change.
#[utoipa::path(post, path = "/runs/log-parameter", tag = "runs",
    operation_id = "logParam",
    request_body = KeyValueRequest,
    responses((status = 200, description = "logged", body = Empty), Errors))]
async fn log_param(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<KeyValueRequest>,
) -> ApiResult<Json<Empty>> {
    let (run_id, param) = req.into_parts()?;
    s.tracking
        .log_batch(&run_id, Vec::new(), vec![param], Vec::new())
        .await?;
    Ok(Json(Empty {}))
}

/// Sets a tag on a run.
#[utoipa::path(post, path = "/runs/set-tag", tag = "runs",
    operation_id = "setTag",
    request_body = KeyValueRequest,
    responses((status = 200, description = "the tag is set", body = Empty), Errors))]
async fn set_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<KeyValueRequest>,
) -> ApiResult<Json<Empty>> {
    let (run_id, tag) = req.into_parts()?;
    s.tracking
        .log_batch(&run_id, Vec::new(), Vec::new(), vec![tag])
        .await?;
    Ok(Json(Empty {}))
}

/// Deletes a tag of a run.
#[utoipa::path(post, path = "/runs/delete-tag", tag = "runs",
    operation_id = "deleteTag",
    request_body = DeleteTagRequest,
    responses((status = 200, description = "the tag is gone", body = Empty), Errors))]
async fn delete_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<DeleteTagRequest>,
) -> ApiResult<Json<Empty>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    let key = required_str(req.key, "key")?;
    s.tracking.delete_tag(&run_id, &key).await?;
    Ok(Json(Empty {}))
}

/// Logs metrics, params and tags in one transaction: all or none.
#[utoipa::path(post, path = "/runs/log-batch", tag = "runs",
    operation_id = "logBatch",
    request_body = LogBatchRequest,
    responses((status = 200, description = "all logged", body = Empty), Errors))]
async fn log_batch(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogBatchRequest>,
) -> ApiResult<Json<Empty>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    let metrics = LogBatchRequest::metrics(req.metrics)?;
    s.tracking
        .log_batch(&run_id, metrics, req.params, req.tags)
        .await?;
    Ok(Json(Empty {}))
}

/// Records the datasets and models a run read.
#[utoipa::path(post, path = "/runs/log-inputs", tag = "runs",
    operation_id = "logInputs",
    request_body = LogInputsRequest,
    responses((status = 200, description = "logged", body = Empty), Errors))]
async fn log_inputs(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogInputsRequest>,
) -> ApiResult<Json<Empty>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    s.tracking
        .log_inputs(&run_id, req.datasets, req.models)
        .await?;
    Ok(Json(Empty {}))
}

/// Records the logged models a run produced.
#[utoipa::path(post, path = "/runs/outputs", tag = "runs",
    operation_id = "logOutputs",
    request_body = LogOutputsRequest,
    responses((status = 200, description = "logged", body = Empty), Errors))]
async fn log_outputs(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogOutputsRequest>,
) -> ApiResult<Json<Empty>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    s.tracking.log_outputs(&run_id, req.models).await?;
    Ok(Json(Empty {}))
}

/// Every point of one metric of a run, paged.
#[utoipa::path(get, path = "/metrics/get-history", tag = "metrics",
    operation_id = "getMetricHistory",
    params(GetMetricHistoryRequest),
    responses((status = 200, description = "one page of the metric's points", body = MetricsResponse), Errors))]
async fn get_metric_history(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<GetMetricHistoryRequest>,
) -> ApiResult<Json<MetricsResponse>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    let key = required_str(req.metric_key, "metric_key")?;
    let page = s
        .tracking
        .metric_history(&run_id, &key, req.max_results, req.page_token.as_deref())
        .await?;
    Ok(Json(MetricsResponse {
        metrics: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// One metric of several runs, sampled over a range of steps (MLflow's charts).
#[utoipa::path(get, path = "/metrics/get-history-bulk-interval", tag = "metrics",
    operation_id = "getMetricHistoryBulkInterval",
    params(GetMetricHistoryBulkIntervalRequest),
    responses((status = 200, description = "the sampled points, each with its run_id", body = MetricsResponse), Errors))]
async fn get_metric_history_bulk_interval(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<GetMetricHistoryBulkIntervalRequest>,
) -> ApiResult<Json<MetricsResponse>> {
    let metric_key = required_str(req.metric_key, "metric_key")?;
    let metrics = s
        .tracking
        .metric_history_bulk_interval(BulkInterval {
            run_ids: req.run_ids,
            metric_key,
            start_step: req.start_step,
            end_step: req.end_step,
            max_results: req.max_results,
        })
        .await?;
    Ok(Json(MetricsResponse {
        metrics,
        next_page_token: None,
    }))
}
