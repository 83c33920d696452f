//! MLflow's tracking service (`service.proto`): experiments, runs, metrics.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_core::entities::{
    DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput, Run,
    RunStatus, ViewType,
};
use cairn_core::wire::{deserialize_opt_f64, deserialize_opt_i64, deserialize_string_list};
use cairn_core::MlflowError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::fields::{required, required_str, EnumValue};
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

// Search answers are serialized straight from the entities (no JSON tree in between):
// they are the largest responses, up to 50,000 runs or 25,000 points.

#[derive(Serialize)]
struct ExperimentsPage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    experiments: Vec<Experiment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

#[derive(Serialize)]
struct RunsPage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

#[derive(Serialize)]
struct MetricsPage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

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

#[derive(Deserialize)]
struct CreateExperimentReq {
    name: Option<String>,
    #[serde(alias = "artifactLocation")]
    artifact_location: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateExperimentReq>,
) -> ApiResult<Json<Value>> {
    let name = required_str(req.name, "name")?;
    let id = s
        .tracking
        .create_experiment(&name, req.artifact_location, req.tags)
        .await?;
    Ok(Json(json!({ "experiment_id": id })))
}

#[derive(Deserialize)]
struct ExperimentIdReq {
    #[serde(alias = "experimentId")]
    experiment_id: Option<String>,
}

async fn get_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentIdReq>,
) -> ApiResult<Json<Value>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    let exp = s.tracking.get_experiment(&id).await?;
    Ok(Json(json!({ "experiment": exp })))
}

#[derive(Deserialize)]
struct ExperimentNameReq {
    #[serde(alias = "experimentName")]
    experiment_name: Option<String>,
}

async fn get_experiment_by_name(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentNameReq>,
) -> ApiResult<Json<Value>> {
    let name = required_str(req.experiment_name, "experiment_name")?;
    let exp = s.tracking.get_experiment_by_name(&name).await?;
    Ok(Json(json!({ "experiment": exp })))
}

#[derive(Deserialize)]
struct SearchExperimentsReq {
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64"
    )]
    max_results: Option<i64>,
    #[serde(alias = "pageToken")]
    page_token: Option<String>,
    filter: Option<String>,
    #[serde(
        default,
        alias = "orderBy",
        deserialize_with = "deserialize_string_list"
    )]
    order_by: Vec<String>,
    #[serde(alias = "viewType")]
    view_type: Option<EnumValue>,
}

async fn search_experiments(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SearchExperimentsReq>,
) -> ApiResult<Json<ExperimentsPage>> {
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
    Ok(Json(ExperimentsPage {
        experiments: page.items,
        next_page_token: page.next_page_token,
    }))
}

#[derive(Deserialize)]
struct UpdateExperimentReq {
    #[serde(alias = "experimentId")]
    experiment_id: Option<String>,
    #[serde(alias = "newName")]
    new_name: Option<String>,
}

async fn update_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<UpdateExperimentReq>,
) -> ApiResult<Json<Value>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    if let Some(name) = req.new_name.filter(|n| !n.is_empty()) {
        s.tracking.rename_experiment(&id, &name).await?;
    } else {
        s.tracking.get_experiment(&id).await?;
    }
    Ok(Json(json!({})))
}

async fn delete_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentIdReq>,
) -> ApiResult<Json<Value>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    s.tracking
        .set_experiment_lifecycle(&id, LifecycleStage::Deleted)
        .await?;
    Ok(Json(json!({})))
}

async fn restore_experiment(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentIdReq>,
) -> ApiResult<Json<Value>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    s.tracking
        .set_experiment_lifecycle(&id, LifecycleStage::Active)
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ExperimentTagReq {
    #[serde(alias = "experimentId")]
    experiment_id: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

async fn set_experiment_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentTagReq>,
) -> ApiResult<Json<Value>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    let key = required_str(req.key, "key")?;
    // A missing value is proto3's default, the empty string, as MLflow reads it.
    let value = req.value.unwrap_or_default();
    s.tracking.set_experiment_tag(&id, &key, &value).await?;
    Ok(Json(json!({})))
}

async fn delete_experiment_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ExperimentTagReq>,
) -> ApiResult<Json<Value>> {
    let id = required_str(req.experiment_id, "experiment_id")?;
    let key = required_str(req.key, "key")?;
    s.tracking.delete_experiment_tag(&id, &key).await?;
    Ok(Json(json!({})))
}

// ------------------------------------------------------------------------ runs

#[derive(Deserialize)]
struct RunIdReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
}

/// The run a request names: `run_id`, else the older `run_uuid`. (Each request type
/// spells both fields out rather than flattening a shared struct, because serde's
/// `flatten` would lose the field path that error messages name.)
fn resolve_run_id(run_id: Option<String>, run_uuid: Option<String>) -> Result<String, MlflowError> {
    required_str(run_id.filter(|s| !s.is_empty()).or(run_uuid), "run_id")
}

#[derive(Deserialize)]
struct CreateRunReq {
    #[serde(alias = "experimentId")]
    experiment_id: Option<String>,
    #[serde(alias = "userId")]
    user_id: Option<String>,
    #[serde(alias = "runName")]
    run_name: Option<String>,
    #[serde(default, alias = "startTime", deserialize_with = "deserialize_opt_i64")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateRunReq>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({ "run": run })))
}

async fn get_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunIdReq>,
) -> ApiResult<Json<Value>> {
    let run = s
        .tracking
        .get_run(&resolve_run_id(req.run_id, req.run_uuid)?)
        .await?;
    Ok(Json(json!({ "run": run })))
}

#[derive(Deserialize)]
struct UpdateRunReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    status: Option<EnumValue>,
    #[serde(default, alias = "endTime", deserialize_with = "deserialize_opt_i64")]
    end_time: Option<i64>,
    #[serde(alias = "runName")]
    run_name: Option<String>,
}

async fn update_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<UpdateRunReq>,
) -> ApiResult<Json<Value>> {
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
    let info = s
        .tracking
        .update_run(&run_id, status, req.end_time, req.run_name.as_deref())
        .await?;
    Ok(Json(json!({ "run_info": info })))
}

async fn delete_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunIdReq>,
) -> ApiResult<Json<Value>> {
    s.tracking
        .delete_run(&resolve_run_id(req.run_id, req.run_uuid)?)
        .await?;
    Ok(Json(json!({})))
}

async fn restore_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunIdReq>,
) -> ApiResult<Json<Value>> {
    s.tracking
        .restore_run(&resolve_run_id(req.run_id, req.run_uuid)?)
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct SearchRunsReq {
    #[serde(
        default,
        alias = "experimentIds",
        deserialize_with = "deserialize_string_list"
    )]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    #[serde(alias = "runViewType")]
    run_view_type: Option<EnumValue>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64"
    )]
    max_results: Option<i64>,
    #[serde(
        default,
        alias = "orderBy",
        deserialize_with = "deserialize_string_list"
    )]
    order_by: Vec<String>,
    #[serde(alias = "pageToken")]
    page_token: Option<String>,
}

async fn search_runs(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SearchRunsReq>,
) -> ApiResult<Json<RunsPage>> {
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
    Ok(Json(RunsPage {
        runs: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// A metric as a client sends it: every field optional here, so that a missing one
/// gets MLflow's "Missing value for required parameter" message.
#[derive(Deserialize)]
struct MetricReq {
    key: Option<String>,
    #[serde(default, deserialize_with = "deserialize_opt_f64")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "deserialize_opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "deserialize_opt_i64")]
    step: Option<i64>,
    #[serde(default, alias = "modelId")]
    model_id: Option<String>,
}

impl MetricReq {
    fn into_metric(self, path: &str) -> Result<Metric, MlflowError> {
        let field = |f: &str| {
            if path.is_empty() {
                f.to_string()
            } else {
                format!("{path}.{f}")
            }
        };
        Ok(Metric {
            key: required_str(self.key, &field("key"))?,
            value: required(self.value, &field("value"))?,
            timestamp: required(self.timestamp, &field("timestamp"))?,
            step: self.step.unwrap_or(0),
            run_id: None,
            model_id: self.model_id.filter(|m| !m.is_empty()),
        })
    }
}

#[derive(Deserialize)]
struct LogMetricReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    key: Option<String>,
    #[serde(default, deserialize_with = "deserialize_opt_f64")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "deserialize_opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "deserialize_opt_i64")]
    step: Option<i64>,
    #[serde(default, alias = "modelId")]
    model_id: Option<String>,
}

async fn log_metric(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogMetricReq>,
) -> ApiResult<Json<Value>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    let metric = MetricReq {
        key: req.key,
        value: req.value,
        timestamp: req.timestamp,
        step: req.step,
        model_id: req.model_id,
    }
    .into_metric("")?;
    s.tracking
        .log_batch(&run_id, vec![metric], Vec::new(), Vec::new())
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct KeyValueReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

impl KeyValueReq {
    fn into_parts(self) -> Result<(String, KeyValue), MlflowError> {
        let run_id = resolve_run_id(self.run_id, self.run_uuid)?;
        let key = required_str(self.key, "key")?;
        // A missing value is proto3's default, the empty string, as MLflow reads it.
        let value = self.value.unwrap_or_default();
        Ok((run_id, KeyValue::new(key, value)))
    }
}

async fn log_param(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<KeyValueReq>,
) -> ApiResult<Json<Value>> {
    let (run_id, param) = req.into_parts()?;
    s.tracking
        .log_batch(&run_id, Vec::new(), vec![param], Vec::new())
        .await?;
    Ok(Json(json!({})))
}

async fn set_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<KeyValueReq>,
) -> ApiResult<Json<Value>> {
    let (run_id, tag) = req.into_parts()?;
    s.tracking
        .log_batch(&run_id, Vec::new(), Vec::new(), vec![tag])
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct DeleteTagReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    key: Option<String>,
}

async fn delete_tag(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<DeleteTagReq>,
) -> ApiResult<Json<Value>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    let key = required_str(req.key, "key")?;
    s.tracking.delete_tag(&run_id, &key).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct LogBatchReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    #[serde(default)]
    metrics: Vec<MetricReq>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn log_batch(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogBatchReq>,
) -> ApiResult<Json<Value>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    let metrics = req
        .metrics
        .into_iter()
        .enumerate()
        .map(|(i, m)| m.into_metric(&format!("metrics[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    s.tracking
        .log_batch(&run_id, metrics, req.params, req.tags)
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct LogInputsReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    #[serde(default)]
    datasets: Vec<DatasetInput>,
    #[serde(default)]
    models: Vec<ModelInput>,
}

async fn log_inputs(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogInputsReq>,
) -> ApiResult<Json<Value>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    s.tracking
        .log_inputs(&run_id, req.datasets, req.models)
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct LogOutputsReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    #[serde(default)]
    models: Vec<ModelOutput>,
}

async fn log_outputs(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<LogOutputsReq>,
) -> ApiResult<Json<Value>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    s.tracking.log_outputs(&run_id, req.models).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct GetHistoryReq {
    #[serde(alias = "runId")]
    run_id: Option<String>,
    #[serde(alias = "runUuid")]
    run_uuid: Option<String>,
    #[serde(alias = "metricKey")]
    metric_key: Option<String>,
    #[serde(alias = "pageToken")]
    page_token: Option<String>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64"
    )]
    max_results: Option<i64>,
}

async fn get_metric_history(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<GetHistoryReq>,
) -> ApiResult<Json<MetricsPage>> {
    let run_id = resolve_run_id(req.run_id, req.run_uuid)?;
    let key = required_str(req.metric_key, "metric_key")?;
    let page = s
        .tracking
        .metric_history(&run_id, &key, req.max_results, req.page_token.as_deref())
        .await?;
    Ok(Json(MetricsPage {
        metrics: page.items,
        next_page_token: page.next_page_token,
    }))
}

#[derive(Deserialize)]
struct BulkIntervalReq {
    #[serde(
        default,
        alias = "runIds",
        deserialize_with = "deserialize_string_list"
    )]
    run_ids: Vec<String>,
    #[serde(alias = "metricKey")]
    metric_key: Option<String>,
    #[serde(default, alias = "startStep", deserialize_with = "deserialize_opt_i64")]
    start_step: Option<i64>,
    #[serde(default, alias = "endStep", deserialize_with = "deserialize_opt_i64")]
    end_step: Option<i64>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64"
    )]
    max_results: Option<i64>,
}

async fn get_metric_history_bulk_interval(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<BulkIntervalReq>,
) -> ApiResult<Json<MetricsPage>> {
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
    Ok(Json(MetricsPage {
        metrics,
        next_page_token: None,
    }))
}
