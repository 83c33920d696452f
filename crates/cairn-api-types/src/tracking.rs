//! MLflow's tracking service (`service.proto`): experiments, runs, metrics.

use cairn_core::entities::{
    DatasetInput, Experiment, KeyValue, Metric, ModelInput, ModelOutput, Run, RunInfo,
};
use cairn_core::ids::RunId;
use cairn_core::MlflowError;
use serde::{Deserialize, Serialize};

use crate::{
    deserialize_opt_f64, deserialize_opt_i64, deserialize_string_list, required_str,
    resolve_run_id, serialize_opt_f64, EnumValue,
};

// ----------------------------------------------------------------- experiments

/// `experiments/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateExperimentRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(alias = "artifactLocation", skip_serializing_if = "Option::is_none")]
    pub artifact_location: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateExperimentResponse {
    pub experiment_id: String,
}

/// The requests that name one experiment by id: `experiments/get`, `delete`,
/// `restore`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExperimentIdRequest {
    #[serde(alias = "experimentId", skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
}

/// `experiments/get-by-name`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExperimentNameRequest {
    #[serde(alias = "experimentName", skip_serializing_if = "Option::is_none")]
    pub experiment_name: Option<String>,
}

/// One experiment: what `experiments/get` and `get-by-name` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExperimentResponse {
    pub experiment: Experiment,
}

/// `experiments/search` (POST, or GET with the same fields in the query string).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchExperimentsRequest {
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_results: Option<i64>,
    #[serde(alias = "pageToken", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(
        default,
        alias = "orderBy",
        deserialize_with = "deserialize_string_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub order_by: Vec<String>,
    /// `ACTIVE_ONLY` (the default), `DELETED_ONLY` or `ALL`, or their numbers.
    #[serde(alias = "viewType", skip_serializing_if = "Option::is_none")]
    pub view_type: Option<EnumValue>,
}

/// A page of experiments. Serialized straight from the entities (no JSON tree in
/// between): search answers are the largest responses.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchExperimentsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<Experiment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// `experiments/update`: a rename (no new name only checks that the experiment exists).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateExperimentRequest {
    #[serde(alias = "experimentId", skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    #[serde(alias = "newName", skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
}

/// `experiments/set-experiment-tag` and `delete-experiment-tag` (which ignores `value`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExperimentTagRequest {
    #[serde(alias = "experimentId", skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

// ------------------------------------------------------------------------ runs

/// The requests that name one run: `runs/get`, `delete`, `restore`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunIdRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The older name of `run_id`, read when `run_id` is absent.
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
}

impl RunIdRequest {
    /// A request for `run_id`.
    pub fn new(run_id: &str) -> Self {
        RunIdRequest {
            run_id: Some(run_id.to_string()),
            run_uuid: None,
        }
    }

    /// The run named, `run_id` before `run_uuid`.
    pub fn run_id(self) -> Result<RunId, MlflowError> {
        resolve_run_id(self.run_id, self.run_uuid)
    }
}

/// `runs/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateRunRequest {
    #[serde(alias = "experimentId", skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    #[serde(alias = "userId", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(alias = "runName", skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    #[serde(
        default,
        alias = "startTime",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// One run: what `runs/create` and `runs/get` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunResponse {
    pub run: Run,
}

/// `runs/update`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateRunRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    /// A `RunStatus` name (`FINISHED`) or number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<EnumValue>,
    #[serde(
        default,
        alias = "endTime",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<i64>,
    #[serde(alias = "runName", skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateRunResponse {
    pub run_info: RunInfo,
}

/// `runs/search` (POST, or GET with the same fields in the query string).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchRunsRequest {
    #[serde(
        default,
        alias = "experimentIds",
        deserialize_with = "deserialize_string_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub experiment_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `ACTIVE_ONLY` (the default), `DELETED_ONLY` or `ALL`, or their numbers.
    #[serde(alias = "runViewType", skip_serializing_if = "Option::is_none")]
    pub run_view_type: Option<EnumValue>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_results: Option<i64>,
    #[serde(
        default,
        alias = "orderBy",
        deserialize_with = "deserialize_string_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub order_by: Vec<String>,
    #[serde(alias = "pageToken", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// A page of runs, serialized straight from the entities.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchRunsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A metric as a client sends it: every field optional here, so that a missing one
/// gets MLflow's "Missing value for required parameter" message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    #[serde(
        default,
        deserialize_with = "deserialize_opt_f64",
        serialize_with = "serialize_opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<f64>,
    #[serde(
        default,
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<i64>,
    #[serde(
        default,
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub step: Option<i64>,
    #[serde(default, alias = "modelId", skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

impl MetricRequest {
    /// The metric, its required fields checked. `index` is its place in a batch (an
    /// error names `metrics[3].value`), `None` for log-metric's top-level fields. The
    /// field's name is formatted only for an error: a 1,000-point batch would otherwise
    /// allocate four strings per point.
    pub fn into_metric(self, index: Option<usize>) -> Result<Metric, MlflowError> {
        let missing = |f: &str| match index {
            None => MlflowError::missing(f),
            Some(i) => MlflowError::missing(&format!("metrics[{i}].{f}")),
        };
        let key = match self.key {
            Some(key) if !key.is_empty() => key,
            _ => return Err(missing("key")),
        };
        Ok(Metric {
            key,
            value: self.value.ok_or_else(|| missing("value"))?,
            timestamp: self.timestamp.ok_or_else(|| missing("timestamp"))?,
            step: self.step.unwrap_or(0),
            run_id: None,
            model_id: self.model_id.filter(|m| !m.is_empty()),
        })
    }
}

impl From<&Metric> for MetricRequest {
    fn from(m: &Metric) -> Self {
        MetricRequest {
            key: Some(m.key.clone()),
            value: Some(m.value),
            timestamp: Some(m.timestamp),
            step: Some(m.step),
            model_id: m.model_id.clone(),
        }
    }
}

/// `runs/log-metric`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogMetricRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    #[serde(
        default,
        deserialize_with = "deserialize_opt_f64",
        serialize_with = "serialize_opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<f64>,
    #[serde(
        default,
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<i64>,
    #[serde(
        default,
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub step: Option<i64>,
    #[serde(default, alias = "modelId", skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The dataset the metric was computed on, by name and digest: both or neither.
    #[serde(
        default,
        alias = "datasetName",
        skip_serializing_if = "Option::is_none"
    )]
    pub dataset_name: Option<String>,
    #[serde(
        default,
        alias = "datasetDigest",
        skip_serializing_if = "Option::is_none"
    )]
    pub dataset_digest: Option<String>,
}

impl LogMetricRequest {
    /// The run and the metric, their required fields checked.
    pub fn into_parts(self) -> Result<(RunId, Metric), MlflowError> {
        let named = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if named(&self.dataset_name) != named(&self.dataset_digest) {
            return Err(MlflowError::invalid_parameter(
                "Both dataset_name and dataset_digest must be provided if one is provided",
            ));
        }
        let run_id = resolve_run_id(self.run_id, self.run_uuid)?;
        let metric = MetricRequest {
            key: self.key,
            value: self.value,
            timestamp: self.timestamp,
            step: self.step,
            model_id: self.model_id,
        }
        .into_metric(None)?;
        Ok((run_id, metric))
    }
}

/// `runs/log-parameter` and `runs/set-tag`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyValueRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl KeyValueRequest {
    /// The run and the pair, their required fields checked.
    pub fn into_parts(self) -> Result<(RunId, KeyValue), MlflowError> {
        let run_id = resolve_run_id(self.run_id, self.run_uuid)?;
        let key = required_str(self.key, "key")?;
        // A missing value is proto3's default, the empty string, as MLflow reads it.
        let value = self.value.unwrap_or_default();
        Ok((run_id, KeyValue::new(key, value)))
    }
}

/// `runs/delete-tag`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeleteTagRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `runs/log-batch`: up to 1,000 metrics, 100 params and 100 tags.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogBatchRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricRequest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

impl LogBatchRequest {
    /// The metrics, each checked, its fields named by position (`metrics[3].value`).
    pub fn metrics(metrics: Vec<MetricRequest>) -> Result<Vec<Metric>, MlflowError> {
        metrics
            .into_iter()
            .enumerate()
            .map(|(i, m)| m.into_metric(Some(i)))
            .collect()
    }
}

/// `runs/log-inputs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogInputsRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<DatasetInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelInput>,
}

/// `runs/outputs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogOutputsRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelOutput>,
}

/// `metrics/get-history`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetMetricHistoryRequest {
    #[serde(alias = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid", skip_serializing_if = "Option::is_none")]
    pub run_uuid: Option<String>,
    #[serde(alias = "metricKey", skip_serializing_if = "Option::is_none")]
    pub metric_key: Option<String>,
    #[serde(alias = "pageToken", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_results: Option<i64>,
}

/// `metrics/get-history-bulk-interval`: several runs' histories of one metric,
/// sampled to at most `max_results` steps.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetMetricHistoryBulkIntervalRequest {
    #[serde(
        default,
        alias = "runIds",
        deserialize_with = "deserialize_string_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub run_ids: Vec<String>,
    #[serde(alias = "metricKey", skip_serializing_if = "Option::is_none")]
    pub metric_key: Option<String>,
    #[serde(
        default,
        alias = "startStep",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_step: Option<i64>,
    #[serde(
        default,
        alias = "endStep",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_step: Option<i64>,
    #[serde(
        default,
        alias = "maxResults",
        deserialize_with = "deserialize_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_results: Option<i64>,
}

/// Points of a metric's history, serialized straight from the entities.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

// ---------------------------------------------------------------- server info

/// `server-info`: what MLflow 3's client checks before choosing how to talk to the
/// server.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServerInfoResponse {
    /// `SqlStore`, as MLflow's server on a database says.
    pub store_type: String,
    pub workspaces_enabled: bool,
    pub trace_archival_enabled: bool,
    /// Always false: cairn streams every upload through its proxy.
    pub multipart_uploads_enabled: bool,
    pub multipart_downloads_enabled: bool,
    pub presigned_upload_run_id_supported: bool,
    pub presigned_upload_model_id_supported: bool,
    pub features_enabled: FeaturesEnabled,
}

/// The optional features of MLflow's server that cairn has.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeaturesEnabled {
    pub gateway: bool,
}
