//! A typed client of cairn's REST API, which is MLflow's: the CLI, jobs and the
//! server's own integration tests all talk to a server through it.

mod data;
mod jobs;

use cairn_api_types::artifacts::ListArtifactsResponse;
use cairn_api_types::predictions::{
    LogPredictionsRequest, SearchPredictionsRequest, SearchPredictionsResponse,
};
use cairn_api_types::registry::{
    CreateModelVersionRequest, DownloadUriResponse, ModelVersionResponse, ModelVersionsResponse,
    RegisteredModelResponse, RegistryRequest, RegistrySearchRequest,
    SearchRegisteredModelsResponse,
};
use cairn_api_types::tracking::{
    CreateExperimentRequest, CreateExperimentResponse, CreateRunRequest, DeleteTagRequest,
    ExperimentIdRequest, ExperimentNameRequest, ExperimentResponse, ExperimentTagRequest,
    GetMetricHistoryBulkIntervalRequest, GetMetricHistoryRequest, KeyValueRequest, LogBatchRequest,
    LogInputsRequest, LogMetricRequest, MetricRequest, MetricsResponse, RunIdRequest, RunResponse,
    SearchExperimentsRequest, SearchExperimentsResponse, SearchRunsRequest, SearchRunsResponse,
    UpdateExperimentRequest, UpdateRunRequest, UpdateRunResponse,
};
use cairn_api_types::{Empty, EnumValue, ErrorBody};
use cairn_core::entities::{
    DatasetInput, Experiment, KeyValue, Metric, Page, Run, RunInfo, RunStatus, ViewType,
};
use cairn_core::registry::{ModelVersion, RegisteredModel};
use cairn_core::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// A failed call: the server's MLflow error, or a transport failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{status} {error_code}: {message}")]
    Api {
        status: u16,
        /// The `error_code` string as sent (empty for a non-JSON error body).
        error_code: String,
        message: String,
    },
    #[error("HTTP transport error: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot decode the response: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("cannot write a downloaded file: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// The MLflow error code, when the server sent one cairn knows.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { error_code, .. } => ErrorCode::parse(error_code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// What a run search asks for.
#[derive(Debug, Clone, Default)]
pub struct SearchRuns {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub view_type: ViewType,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

/// What an experiment search asks for.
#[derive(Debug, Clone, Default)]
pub struct SearchExperiments {
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub view_type: ViewType,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

fn view_type_name(v: ViewType) -> EnumValue {
    EnumValue::from(match v {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    })
}

/// A GET request's message as its query string: each field a key, a list's items
/// the key repeated, as MLflow's server reads it (and serde's URL encoding cannot
/// write).
fn query_pairs(message: &impl Serialize) -> Result<Vec<(String, String)>> {
    let Value::Object(fields) = serde_json::to_value(message)? else {
        return Ok(Vec::new());
    };
    let mut pairs = Vec::new();
    for (key, value) in fields {
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            match item {
                Value::Null => {}
                Value::String(s) => pairs.push((key.clone(), s)),
                other => pairs.push((key.clone(), other.to_string())),
            }
        }
    }
    Ok(pairs)
}

/// A connection to one server, e.g. `Client::new("http://127.0.0.1:5000")`.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base_url: impl Into<String>) -> Self {
        Client {
            base: base_url.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow/{}", self.base, path)
    }

    async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        if status != 200 {
            let (error_code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => (e.error_code, e.message),
                Err(_) => (String::new(), String::from_utf8_lossy(&bytes).into_owned()),
            };
            return Err(ClientError::Api {
                status,
                error_code,
                message,
            });
        }
        let bytes = if bytes.is_empty() {
            &b"{}"[..]
        } else {
            &bytes[..]
        };
        Ok(serde_json::from_slice(bytes)?)
    }

    /// POSTs a JSON message to `/api/2.0/mlflow/<path>`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        let resp = self.http.post(self.url(path)).json(body).send().await?;
        Self::decode(resp).await
    }

    /// POSTs a JSON message to cairn's own API, `/api/2.0/cairn/<path>`.
    pub(crate) async fn cairn_post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T> {
        let resp = self
            .http
            .post(format!("{}/api/2.0/cairn/{path}", self.base))
            .json(body)
            .send()
            .await?;
        Self::decode(resp).await
    }

    /// GETs `/api/2.0/cairn/<path>` with query parameters.
    pub(crate) async fn cairn_get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let resp = self
            .http
            .get(format!("{}/api/2.0/cairn/{path}", self.base))
            .query(query)
            .send()
            .await?;
        Self::decode(resp).await
    }

    /// POSTs a message whose answer is `{}`.
    async fn call(&self, path: &str, body: &impl Serialize) -> Result<()> {
        self.post::<Empty>(path, body).await.map(drop)
    }

    /// GETs `/api/2.0/mlflow/<path>` with query parameters (repeat a key for a list).
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let resp = self.http.get(self.url(path)).query(query).send().await?;
        Self::decode(resp).await
    }

    /// GETs `/api/2.0/mlflow/<path>` with a request message as the query string.
    async fn get_message<T: DeserializeOwned>(
        &self,
        path: &str,
        message: &impl Serialize,
    ) -> Result<T> {
        let query = query_pairs(message)?;
        let resp = self.http.get(self.url(path)).query(&query).send().await?;
        Self::decode(resp).await
    }

    /// Sends a JSON message with any method (the registry uses PATCH and DELETE).
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        let resp = self
            .http
            .request(method, self.url(path))
            .json(body)
            .send()
            .await?;
        Self::decode(resp).await
    }

    /// The plain-text `/health` answer.
    pub async fn health(&self) -> Result<String> {
        let resp = self
            .http
            .get(format!("{}/health", self.base))
            .send()
            .await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        if status != 200 {
            return Err(ClientError::Api {
                status,
                error_code: String::new(),
                message: text,
            });
        }
        Ok(text)
    }

    // ------------------------------------------------------------- experiments

    pub async fn create_experiment(&self, name: &str, tags: &[KeyValue]) -> Result<String> {
        let r: CreateExperimentResponse = self
            .post(
                "experiments/create",
                &CreateExperimentRequest {
                    name: Some(name.to_string()),
                    artifact_location: None,
                    tags: tags.to_vec(),
                },
            )
            .await?;
        Ok(r.experiment_id)
    }

    pub async fn get_experiment(&self, id: &str) -> Result<Experiment> {
        let r: ExperimentResponse = self
            .get_message("experiments/get", &experiment_id(id))
            .await?;
        Ok(r.experiment)
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let r: ExperimentResponse = self
            .get_message(
                "experiments/get-by-name",
                &ExperimentNameRequest {
                    experiment_name: Some(name.to_string()),
                },
            )
            .await?;
        Ok(r.experiment)
    }

    pub async fn search_experiments(&self, s: &SearchExperiments) -> Result<Page<Experiment>> {
        let r: SearchExperimentsResponse = self
            .post(
                "experiments/search",
                &SearchExperimentsRequest {
                    max_results: s.max_results,
                    page_token: s.page_token.clone(),
                    filter: s.filter.clone(),
                    order_by: s.order_by.clone(),
                    view_type: Some(view_type_name(s.view_type)),
                },
            )
            .await?;
        Ok(Page {
            items: r.experiments,
            next_page_token: r.next_page_token,
        })
    }

    pub async fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        self.call(
            "experiments/update",
            &UpdateExperimentRequest {
                experiment_id: Some(id.to_string()),
                new_name: Some(new_name.to_string()),
            },
        )
        .await
    }

    pub async fn delete_experiment(&self, id: &str) -> Result<()> {
        self.call("experiments/delete", &experiment_id(id)).await
    }

    pub async fn restore_experiment(&self, id: &str) -> Result<()> {
        self.call("experiments/restore", &experiment_id(id)).await
    }

    pub async fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()> {
        self.call(
            "experiments/set-experiment-tag",
            &ExperimentTagRequest {
                experiment_id: Some(id.to_string()),
                key: Some(key.to_string()),
                value: Some(value.to_string()),
            },
        )
        .await
    }

    pub async fn delete_experiment_tag(&self, id: &str, key: &str) -> Result<()> {
        self.call(
            "experiments/delete-experiment-tag",
            &ExperimentTagRequest {
                experiment_id: Some(id.to_string()),
                key: Some(key.to_string()),
                value: None,
            },
        )
        .await
    }

    // -------------------------------------------------------------------- runs

    pub async fn create_run(
        &self,
        experiment_id: &str,
        run_name: Option<&str>,
        start_time: Option<i64>,
        tags: &[KeyValue],
    ) -> Result<Run> {
        let r: RunResponse = self
            .post(
                "runs/create",
                &CreateRunRequest {
                    experiment_id: Some(experiment_id.to_string()),
                    user_id: Some("cairn".to_string()),
                    run_name: run_name.map(str::to_string),
                    start_time,
                    tags: tags.to_vec(),
                },
            )
            .await?;
        Ok(r.run)
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        // Both names, so that a server reading either (MLflow before 1.x read
        // `run_uuid`) finds the run.
        let r: RunResponse = self
            .get_message(
                "runs/get",
                &RunIdRequest {
                    run_id: Some(run_id.to_string()),
                    run_uuid: Some(run_id.to_string()),
                },
            )
            .await?;
        Ok(r.run)
    }

    pub async fn update_run(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        let r: UpdateRunResponse = self
            .post(
                "runs/update",
                &UpdateRunRequest {
                    run_id: Some(run_id.to_string()),
                    run_uuid: Some(run_id.to_string()),
                    status: status.map(|s| EnumValue::from(s.as_str())),
                    end_time,
                    run_name: run_name.map(str::to_string),
                },
            )
            .await?;
        Ok(r.run_info)
    }

    pub async fn delete_run(&self, run_id: &str) -> Result<()> {
        self.call("runs/delete", &RunIdRequest::new(run_id)).await
    }

    pub async fn restore_run(&self, run_id: &str) -> Result<()> {
        self.call("runs/restore", &RunIdRequest::new(run_id)).await
    }

    pub async fn log_metric(&self, run_id: &str, metric: &Metric) -> Result<()> {
        self.call(
            "runs/log-metric",
            &LogMetricRequest {
                run_id: Some(run_id.to_string()),
                run_uuid: None,
                key: Some(metric.key.clone()),
                value: Some(metric.value),
                timestamp: Some(metric.timestamp),
                step: Some(metric.step),
                model_id: None,
                dataset_name: None,
                dataset_digest: None,
            },
        )
        .await
    }

    pub async fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.call("runs/log-parameter", &key_value(run_id, key, value))
            .await
    }

    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.call("runs/set-tag", &key_value(run_id, key, value))
            .await
    }

    pub async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.call(
            "runs/delete-tag",
            &DeleteTagRequest {
                run_id: Some(run_id.to_string()),
                run_uuid: None,
                key: Some(key.to_string()),
            },
        )
        .await
    }

    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()> {
        self.call(
            "runs/log-batch",
            &LogBatchRequest {
                run_id: Some(run_id.to_string()),
                run_uuid: None,
                metrics: metrics.iter().map(MetricRequest::from).collect(),
                params: params.to_vec(),
                tags: tags.to_vec(),
            },
        )
        .await
    }

    pub async fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        self.call(
            "runs/log-inputs",
            &LogInputsRequest {
                run_id: Some(run_id.to_string()),
                run_uuid: None,
                datasets: datasets.to_vec(),
                models: Vec::new(),
            },
        )
        .await
    }

    pub async fn search_runs(&self, s: &SearchRuns) -> Result<Page<Run>> {
        let r: SearchRunsResponse = self
            .post(
                "runs/search",
                &SearchRunsRequest {
                    experiment_ids: s.experiment_ids.clone(),
                    filter: s.filter.clone(),
                    run_view_type: Some(view_type_name(s.view_type)),
                    max_results: s.max_results,
                    order_by: s.order_by.clone(),
                    page_token: s.page_token.clone(),
                },
            )
            .await?;
        Ok(Page {
            items: r.runs,
            next_page_token: r.next_page_token,
        })
    }

    pub async fn get_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<Metric>> {
        let r: MetricsResponse = self
            .get_message(
                "metrics/get-history",
                &GetMetricHistoryRequest {
                    run_id: Some(run_id.to_string()),
                    run_uuid: None,
                    metric_key: Some(key.to_string()),
                    page_token: page_token.map(str::to_string),
                    max_results,
                },
            )
            .await?;
        Ok(Page {
            items: r.metrics,
            next_page_token: r.next_page_token,
        })
    }

    pub async fn get_metric_history_bulk_interval(
        &self,
        run_ids: &[String],
        key: &str,
        max_results: Option<i64>,
    ) -> Result<Vec<Metric>> {
        let r: MetricsResponse = self
            .get_message(
                "metrics/get-history-bulk-interval",
                &GetMetricHistoryBulkIntervalRequest {
                    run_ids: run_ids.to_vec(),
                    metric_key: Some(key.to_string()),
                    start_step: None,
                    end_step: None,
                    max_results,
                },
            )
            .await?;
        Ok(r.metrics)
    }
}

fn experiment_id(id: &str) -> ExperimentIdRequest {
    ExperimentIdRequest {
        experiment_id: Some(id.to_string()),
    }
}

fn key_value(run_id: &str, key: &str, value: &str) -> KeyValueRequest {
    KeyValueRequest {
        run_id: Some(run_id.to_string()),
        run_uuid: None,
        key: Some(key.to_string()),
        value: Some(value.to_string()),
    }
}

/// Model registry calls.
impl Client {
    pub async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[KeyValue],
    ) -> Result<RegisteredModel> {
        let r: RegisteredModelResponse = self
            .post(
                "registered-models/create",
                &RegistryRequest {
                    description: description.map(str::to_string),
                    tags: tags.to_vec(),
                    ..RegistryRequest::model(name)
                },
            )
            .await?;
        Ok(r.registered_model)
    }

    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let r: RegisteredModelResponse = self
            .get_message("registered-models/get", &RegistryRequest::model(name))
            .await?;
        Ok(r.registered_model)
    }

    pub async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel> {
        let r: RegisteredModelResponse = self
            .post(
                "registered-models/rename",
                &RegistryRequest {
                    new_name: Some(new_name.to_string()),
                    ..RegistryRequest::model(name)
                },
            )
            .await?;
        Ok(r.registered_model)
    }

    pub async fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.send::<Empty>(
            reqwest::Method::DELETE,
            "registered-models/delete",
            &RegistryRequest::model(name),
        )
        .await
        .map(drop)
    }

    /// One page of `registered-models/search`.
    pub async fn search_registered_models(
        &self,
        filter: Option<&str>,
        order_by: &[&str],
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<RegisteredModel>> {
        let request = registry_search(filter, order_by, max_results, page_token);
        let r: SearchRegisteredModelsResponse = self
            .get_message("registered-models/search", &request)
            .await?;
        Ok(Page {
            items: r.registered_models,
            next_page_token: r.next_page_token,
        })
    }

    /// One page of `model-versions/search`.
    pub async fn search_model_versions(
        &self,
        filter: Option<&str>,
        order_by: &[&str],
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<ModelVersion>> {
        let request = registry_search(filter, order_by, max_results, page_token);
        let r: ModelVersionsResponse = self.get_message("model-versions/search", &request).await?;
        Ok(Page {
            items: r.model_versions,
            next_page_token: r.next_page_token,
        })
    }

    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
    ) -> Result<ModelVersion> {
        let r: ModelVersionResponse = self
            .post(
                "model-versions/create",
                &CreateModelVersionRequest {
                    name: Some(name.to_string()),
                    source: Some(source.to_string()),
                    run_id: run_id.map(str::to_string),
                    ..Default::default()
                },
            )
            .await?;
        Ok(r.model_version)
    }

    pub async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let r: ModelVersionResponse = self
            .get_message(
                "model-versions/get",
                &RegistryRequest::version(name, version),
            )
            .await?;
        Ok(r.model_version)
    }

    pub async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        self.send::<Empty>(
            reqwest::Method::DELETE,
            "model-versions/delete",
            &RegistryRequest::version(name, version),
        )
        .await
        .map(drop)
    }

    pub async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        let r: ModelVersionResponse = self
            .post(
                "model-versions/transition-stage",
                &RegistryRequest {
                    stage: Some(stage.to_string()),
                    archive_existing_versions: Some(archive_existing_versions),
                    ..RegistryRequest::version(name, version)
                },
            )
            .await?;
        Ok(r.model_version)
    }

    pub async fn get_model_version_download_uri(
        &self,
        name: &str,
        version: &str,
    ) -> Result<String> {
        let r: DownloadUriResponse = self
            .get_message(
                "model-versions/get-download-uri",
                &RegistryRequest::version(name, version),
            )
            .await?;
        Ok(r.artifact_uri)
    }

    pub async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        self.call(
            "registered-models/alias",
            &RegistryRequest {
                alias: Some(alias.to_string()),
                ..RegistryRequest::version(name, version)
            },
        )
        .await
    }

    pub async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.send::<Empty>(
            reqwest::Method::DELETE,
            "registered-models/alias",
            &RegistryRequest {
                alias: Some(alias.to_string()),
                ..RegistryRequest::model(name)
            },
        )
        .await
        .map(drop)
    }

    pub async fn set_model_version_tag(
        &self,
        name: &str,
        version: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        self.call(
            "model-versions/set-tag",
            &RegistryRequest {
                key: Some(key.to_string()),
                value: Some(value.to_string()),
                ..RegistryRequest::version(name, version)
            },
        )
        .await
    }

    pub async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion> {
        let r: ModelVersionResponse = self
            .get_message(
                "registered-models/alias",
                &RegistryRequest {
                    alias: Some(alias.to_string()),
                    ..RegistryRequest::model(name)
                },
            )
            .await?;
        Ok(r.model_version)
    }
}

/// A registry search's message (a GET: `order_by` goes as a repeated key).
fn registry_search(
    filter: Option<&str>,
    order_by: &[&str],
    max_results: Option<i64>,
    page_token: Option<&str>,
) -> RegistrySearchRequest {
    RegistrySearchRequest {
        filter: filter.map(str::to_string),
        max_results,
        order_by: order_by.iter().map(|o| o.to_string()).collect(),
        page_token: page_token.map(str::to_string),
    }
}

/// cairn's own API (`/api/2.0/cairn`): the prediction log.
impl Client {
    /// Appends prediction records (all or none).
    pub async fn log_predictions(
        &self,
        records: &[cairn_core::predictions::PredictionRecord],
    ) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}/api/2.0/cairn/predictions/log-batch", self.base))
            .json(&LogPredictionsRequest {
                predictions: records.to_vec(),
            })
            .send()
            .await?;
        Self::decode::<Empty>(resp).await.map(drop)
    }

    /// One page of a model's prediction log, oldest first; `query` takes
    /// `model_version`, `entity_id`, `request_id`, `shadow`, `alias`, `since_ms`,
    /// `until_ms`, `max_results`, `page_token`.
    pub async fn search_predictions(
        &self,
        model_name: &str,
        query: &[(&str, String)],
    ) -> Result<Page<cairn_core::predictions::PredictionRecord>> {
        let request = SearchPredictionsRequest {
            model_name: Some(model_name.to_string()),
            ..Default::default()
        };
        let resp = self
            .http
            .get(format!("{}/api/2.0/cairn/predictions/search", self.base))
            .query(&query_pairs(&request)?)
            .query(query)
            .send()
            .await?;
        let r: SearchPredictionsResponse = Self::decode(resp).await?;
        Ok(Page {
            items: r.predictions,
            next_page_token: r.next_page_token,
        })
    }
}

/// Artifact proxy calls (`/api/2.0/mlflow-artifacts`).
impl Client {
    fn artifact_url(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow-artifacts/artifacts/{}", self.base, path)
    }

    /// PUTs a file; `path` is sent as given, so callers can test odd encodings.
    pub async fn upload_artifact(&self, path: &str, body: impl Into<reqwest::Body>) -> Result<()> {
        let resp = self
            .http
            .put(self.artifact_url(path))
            .header("Content-Type", "application/octet-stream")
            .body(body)
            .send()
            .await?;
        Self::decode::<Empty>(resp).await.map(drop)
    }

    pub async fn download_artifact(&self, path: &str) -> Result<Vec<u8>> {
        use futures::TryStreamExt;
        let chunks: Vec<bytes::Bytes> = self
            .download_artifact_stream(path)
            .await?
            .try_collect()
            .await?;
        Ok(chunks.concat())
    }

    /// Opens a file for streaming: its body arrives chunk by chunk, never whole in
    /// memory.
    pub async fn download_artifact_stream(
        &self,
        path: &str,
    ) -> Result<impl futures::Stream<Item = std::result::Result<bytes::Bytes, reqwest::Error>>>
    {
        let resp = self.http.get(self.artifact_url(path)).send().await?;
        if resp.status().as_u16() != 200 {
            return Err(Self::decode::<Value>(resp)
                .await
                .err()
                .unwrap_or(ClientError::Api {
                    status: 0,
                    error_code: String::new(),
                    message: "unexpected success".into(),
                }));
        }
        Ok(resp.bytes_stream())
    }

    /// The `{path, is_dir, file_size}` entries directly under `path`.
    pub async fn list_artifacts(&self, path: Option<&str>) -> Result<Vec<Value>> {
        self.list_artifact_files(path)
            .await?
            .iter()
            .map(|f| serde_json::to_value(f).map_err(ClientError::from))
            .collect()
    }

    /// The entries directly under `path`, typed.
    pub async fn list_artifact_files(
        &self,
        path: Option<&str>,
    ) -> Result<Vec<cairn_api_types::artifacts::FileInfo>> {
        let request = cairn_api_types::artifacts::ListArtifactsRequest {
            path: path.map(str::to_string),
        };
        let resp = self
            .http
            .get(format!("{}/api/2.0/mlflow-artifacts/artifacts", self.base))
            .query(&query_pairs(&request)?)
            .send()
            .await?;
        let r: ListArtifactsResponse = Self::decode(resp).await?;
        Ok(r.files)
    }

    /// Downloads every file under the proxy path `root` into the folder `dest`,
    /// keeping the tree; returns the files' paths relative to `root`. Files are
    /// streamed to disk, never held whole in memory.
    pub async fn download_artifact_tree(
        &self,
        root: &str,
        dest: &std::path::Path,
    ) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        use tokio::io::AsyncWriteExt;
        let root = root.trim_end_matches('/');
        let mut files = Vec::new();
        let mut dirs = vec![String::new()];
        while let Some(rel) = dirs.pop() {
            let listed = if rel.is_empty() {
                root.to_string()
            } else {
                format!("{root}/{rel}")
            };
            for entry in self.list_artifact_files(Some(&listed)).await? {
                let path = entry.path.as_str();
                let name = path.rsplit('/').next().unwrap_or(path);
                if name.is_empty() || name == "." || name == ".." {
                    continue;
                }
                let child = if rel.is_empty() {
                    name.to_string()
                } else {
                    format!("{rel}/{name}")
                };
                if entry.is_dir {
                    dirs.push(child);
                    continue;
                }
                let target = dest.join(&child);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                let mut file = tokio::fs::File::create(&target).await?;
                let mut body = self
                    .download_artifact_stream(&format!("{root}/{child}"))
                    .await?;
                while let Some(chunk) = body.try_next().await? {
                    file.write_all(&chunk).await?;
                }
                file.flush().await?;
                files.push(child);
            }
        }
        Ok(files)
    }

    pub async fn delete_artifact(&self, path: &str) -> Result<()> {
        let resp = self.http.delete(self.artifact_url(path)).send().await?;
        Self::decode::<Empty>(resp).await.map(drop)
    }
}

/// cairn's online evaluation (`/api/2.0/cairn/ground-truth`, `evaluations`, `monitor`).
impl Client {
    /// Writes ground truth (all or none).
    pub async fn log_ground_truth(
        &self,
        records: &[cairn_core::monitor::GroundTruth],
    ) -> Result<()> {
        let resp = self
            .http
            .post(format!(
                "{}/api/2.0/cairn/ground-truth/log-batch",
                self.base
            ))
            .json(&cairn_api_types::monitor::LogGroundTruthRequest {
                ground_truth: records.to_vec(),
            })
            .send()
            .await?;
        Self::decode::<Empty>(resp).await.map(drop)
    }

    /// An entity's ground truth with the values it replaced.
    pub async fn get_ground_truth(
        &self,
        model_name: &str,
        entity_id: &str,
    ) -> Result<cairn_core::monitor::GroundTruthEntry> {
        let request = cairn_api_types::monitor::GetGroundTruthRequest {
            model_name: Some(model_name.to_string()),
            entity_id: Some(entity_id.to_string()),
        };
        let resp = self
            .http
            .get(format!("{}/api/2.0/cairn/ground-truth/get", self.base))
            .query(&query_pairs(&request)?)
            .send()
            .await?;
        let r: cairn_api_types::monitor::GetGroundTruthResponse = Self::decode(resp).await?;
        Ok(r.ground_truth)
    }

    /// Each model version's metrics over its labelled predictions.
    pub async fn evaluate_online(
        &self,
        request: &cairn_api_types::monitor::OnlineEvaluationRequest,
    ) -> Result<cairn_core::monitor::OnlineEvaluation> {
        let resp = self
            .http
            .get(format!("{}/api/2.0/cairn/evaluations/online", self.base))
            .query(&query_pairs(request)?)
            .send()
            .await?;
        Self::decode(resp).await
    }

    /// Keeps an evaluation or drift result.
    pub async fn create_monitor_report(
        &self,
        request: &cairn_api_types::monitor::CreateReportRequest,
    ) -> Result<()> {
        let resp = self
            .http
            .post(format!(
                "{}/api/2.0/cairn/monitor/reports/create",
                self.base
            ))
            .json(request)
            .send()
            .await?;
        Self::decode::<Empty>(resp).await.map(drop)
    }

    /// A model's stored evaluation or drift reports, newest first.
    pub async fn monitor_reports(
        &self,
        model_name: &str,
        kind: &str,
    ) -> Result<Vec<cairn_core::monitor::MonitorReport>> {
        let request = cairn_api_types::monitor::ListReportsRequest {
            model_name: Some(model_name.to_string()),
            kind: Some(kind.to_string()),
            max_results: None,
        };
        let resp = self
            .http
            .get(format!("{}/api/2.0/cairn/monitor/reports", self.base))
            .query(&query_pairs(&request)?)
            .send()
            .await?;
        let r: cairn_api_types::monitor::ListReportsResponse = Self::decode(resp).await?;
        Ok(r.reports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_messages_become_query_strings_with_repeated_keys() {
        let request = GetMetricHistoryBulkIntervalRequest {
            run_ids: vec!["a".into(), "b".into()],
            metric_key: Some("loss".into()),
            max_results: Some(5),
            ..Default::default()
        };
        let mut pairs = query_pairs(&request).unwrap();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                ("max_results".to_string(), "5".to_string()),
                ("metric_key".to_string(), "loss".to_string()),
                ("run_ids".to_string(), "a".to_string()),
                ("run_ids".to_string(), "b".to_string()),
            ]
        );
    }

    #[test]
    fn non_finite_metric_values_go_as_protobuf_json_strings() {
        let metric = Metric {
            key: "k".into(),
            value: f64::NAN,
            timestamp: 1,
            step: 0,
            run_id: None,
            model_id: None,
        };
        let body = serde_json::to_value(MetricRequest::from(&metric)).unwrap();
        assert_eq!(body["value"], "NaN");
    }
}
