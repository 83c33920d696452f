//! A typed client of cairn's REST API, which is MLflow's: the CLI, jobs and the
//! server's own integration tests all talk to a server through it.

use cairn_core::entities::{
    DatasetInput, Experiment, KeyValue, Metric, Page, Run, RunInfo, RunStatus, ViewType,
};
use cairn_core::registry::{ModelVersion, RegisteredModel};
use cairn_core::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

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

fn view_type_name(v: ViewType) -> &'static str {
    match v {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    }
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
            let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
            let (error_code, message) = match parsed {
                Some(v) if v.get("error_code").is_some() => (
                    v["error_code"].as_str().unwrap_or_default().to_string(),
                    v["message"].as_str().unwrap_or_default().to_string(),
                ),
                _ => (String::new(), String::from_utf8_lossy(&bytes).into_owned()),
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
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T> {
        let resp = self.http.post(self.url(path)).json(body).send().await?;
        Self::decode(resp).await
    }

    /// POSTs a message whose answer is `{}`.
    async fn call(&self, path: &str, body: &Value) -> Result<()> {
        self.post::<Value>(path, body).await.map(drop)
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

    /// Sends a JSON message with any method (the registry uses PATCH and DELETE).
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
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
        #[derive(Deserialize)]
        struct R {
            experiment_id: String,
        }
        let r: R = self
            .post("experiments/create", &json!({"name": name, "tags": tags}))
            .await?;
        Ok(r.experiment_id)
    }

    pub async fn get_experiment(&self, id: &str) -> Result<Experiment> {
        #[derive(Deserialize)]
        struct R {
            experiment: Experiment,
        }
        let r: R = self
            .get("experiments/get", &[("experiment_id", id.to_string())])
            .await?;
        Ok(r.experiment)
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        #[derive(Deserialize)]
        struct R {
            experiment: Experiment,
        }
        let r: R = self
            .get(
                "experiments/get-by-name",
                &[("experiment_name", name.to_string())],
            )
            .await?;
        Ok(r.experiment)
    }

    pub async fn search_experiments(&self, s: &SearchExperiments) -> Result<Page<Experiment>> {
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            experiments: Vec<Experiment>,
            next_page_token: Option<String>,
        }
        let mut body = json!({"view_type": view_type_name(s.view_type), "order_by": s.order_by});
        add_search_fields(&mut body, &s.filter, s.max_results, &s.page_token);
        let r: R = self.post("experiments/search", &body).await?;
        Ok(Page {
            items: r.experiments,
            next_page_token: r.next_page_token,
        })
    }

    pub async fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        self.call(
            "experiments/update",
            &json!({"experiment_id": id, "new_name": new_name}),
        )
        .await
    }

    pub async fn delete_experiment(&self, id: &str) -> Result<()> {
        self.call("experiments/delete", &json!({"experiment_id": id}))
            .await
    }

    pub async fn restore_experiment(&self, id: &str) -> Result<()> {
        self.call("experiments/restore", &json!({"experiment_id": id}))
            .await
    }

    pub async fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()> {
        self.call(
            "experiments/set-experiment-tag",
            &json!({"experiment_id": id, "key": key, "value": value}),
        )
        .await
    }

    pub async fn delete_experiment_tag(&self, id: &str, key: &str) -> Result<()> {
        self.call(
            "experiments/delete-experiment-tag",
            &json!({"experiment_id": id, "key": key}),
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
        #[derive(Deserialize)]
        struct R {
            run: Run,
        }
        let mut body = json!({"experiment_id": experiment_id, "tags": tags, "user_id": "cairn"});
        if let Some(n) = run_name {
            body["run_name"] = json!(n);
        }
        if let Some(t) = start_time {
            body["start_time"] = json!(t);
        }
        let r: R = self.post("runs/create", &body).await?;
        Ok(r.run)
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        #[derive(Deserialize)]
        struct R {
            run: Run,
        }
        let r: R = self
            .get(
                "runs/get",
                &[
                    ("run_id", run_id.to_string()),
                    ("run_uuid", run_id.to_string()),
                ],
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
        #[derive(Deserialize)]
        struct R {
            run_info: RunInfo,
        }
        let mut body = json!({"run_id": run_id, "run_uuid": run_id});
        if let Some(s) = status {
            body["status"] = json!(s.as_str());
        }
        if let Some(t) = end_time {
            body["end_time"] = json!(t);
        }
        if let Some(n) = run_name {
            body["run_name"] = json!(n);
        }
        let r: R = self.post("runs/update", &body).await?;
        Ok(r.run_info)
    }

    pub async fn delete_run(&self, run_id: &str) -> Result<()> {
        self.call("runs/delete", &json!({"run_id": run_id})).await
    }

    pub async fn restore_run(&self, run_id: &str) -> Result<()> {
        self.call("runs/restore", &json!({"run_id": run_id})).await
    }

    pub async fn log_metric(&self, run_id: &str, metric: &Metric) -> Result<()> {
        self.call(
            "runs/log-metric",
            &json!({"run_id": run_id, "key": metric.key, "value": metric_value(metric.value),
                    "timestamp": metric.timestamp, "step": metric.step}),
        )
        .await
    }

    pub async fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.call(
            "runs/log-parameter",
            &json!({"run_id": run_id, "key": key, "value": value}),
        )
        .await
    }

    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.call(
            "runs/set-tag",
            &json!({"run_id": run_id, "key": key, "value": value}),
        )
        .await
    }

    pub async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.call("runs/delete-tag", &json!({"run_id": run_id, "key": key}))
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
            &json!({"run_id": run_id, "metrics": metrics, "params": params, "tags": tags}),
        )
        .await
    }

    pub async fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        self.call(
            "runs/log-inputs",
            &json!({"run_id": run_id, "datasets": datasets}),
        )
        .await
    }

    pub async fn search_runs(&self, s: &SearchRuns) -> Result<Page<Run>> {
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            runs: Vec<Run>,
            next_page_token: Option<String>,
        }
        let mut body = json!({
            "experiment_ids": s.experiment_ids,
            "run_view_type": view_type_name(s.view_type),
            "order_by": s.order_by,
        });
        add_search_fields(&mut body, &s.filter, s.max_results, &s.page_token);
        let r: R = self.post("runs/search", &body).await?;
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
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            metrics: Vec<Metric>,
            next_page_token: Option<String>,
        }
        let mut q = vec![
            ("run_id", run_id.to_string()),
            ("metric_key", key.to_string()),
        ];
        if let Some(m) = max_results {
            q.push(("max_results", m.to_string()));
        }
        if let Some(t) = page_token {
            q.push(("page_token", t.to_string()));
        }
        let r: R = self.get("metrics/get-history", &q).await?;
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
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            metrics: Vec<Metric>,
        }
        let mut q: Vec<(&str, String)> = run_ids.iter().map(|r| ("run_ids", r.clone())).collect();
        q.push(("metric_key", key.to_string()));
        if let Some(m) = max_results {
            q.push(("max_results", m.to_string()));
        }
        let r: R = self.get("metrics/get-history-bulk-interval", &q).await?;
        Ok(r.metrics)
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
        let mut body = json!({ "name": name, "tags": tags });
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        let r: RegisteredModelResponse = self.post("registered-models/create", &body).await?;
        Ok(r.registered_model)
    }

    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let r: RegisteredModelResponse = self
            .get("registered-models/get", &[("name", name.to_string())])
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
                &json!({ "name": name, "new_name": new_name }),
            )
            .await?;
        Ok(r.registered_model)
    }

    pub async fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.send::<Value>(
            reqwest::Method::DELETE,
            "registered-models/delete",
            &json!({ "name": name }),
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
        let query = registry_search_query(filter, order_by, max_results, page_token);
        let r: RegisteredModelsPage = self.get("registered-models/search", &query).await?;
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
        let query = registry_search_query(filter, order_by, max_results, page_token);
        let r: ModelVersionsPage = self.get("model-versions/search", &query).await?;
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
        let mut body = json!({ "name": name, "source": source });
        if let Some(r) = run_id {
            body["run_id"] = json!(r);
        }
        let r: ModelVersionResponse = self.post("model-versions/create", &body).await?;
        Ok(r.model_version)
    }

    pub async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let r: ModelVersionResponse = self
            .get(
                "model-versions/get",
                &[("name", name.to_string()), ("version", version.to_string())],
            )
            .await?;
        Ok(r.model_version)
    }

    pub async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        self.send::<Value>(
            reqwest::Method::DELETE,
            "model-versions/delete",
            &json!({ "name": name, "version": version }),
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
                &json!({
                    "name": name,
                    "version": version,
                    "stage": stage,
                    "archive_existing_versions": archive_existing_versions,
                }),
            )
            .await?;
        Ok(r.model_version)
    }

    pub async fn get_model_version_download_uri(
        &self,
        name: &str,
        version: &str,
    ) -> Result<String> {
        let r: Value = self
            .get(
                "model-versions/get-download-uri",
                &[("name", name.to_string()), ("version", version.to_string())],
            )
            .await?;
        Ok(r["artifact_uri"].as_str().unwrap_or_default().to_string())
    }

    pub async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        self.call(
            "registered-models/alias",
            &json!({ "name": name, "alias": alias, "version": version }),
        )
        .await
    }

    pub async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.send::<Value>(
            reqwest::Method::DELETE,
            "registered-models/alias",
            &json!({ "name": name, "alias": alias }),
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
            &json!({"name": name, "version": version, "key": key, "value": value}),
        )
        .await
    }

    pub async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion> {
        let r: ModelVersionResponse = self
            .get(
                "registered-models/alias",
                &[("name", name.to_string()), ("alias", alias.to_string())],
            )
            .await?;
        Ok(r.model_version)
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
            .json(&json!({ "predictions": records }))
            .send()
            .await?;
        Self::decode::<Value>(resp).await.map(drop)
    }

    /// One page of a model's prediction log, oldest first; `query` takes
    /// `model_version`, `entity_id`, `request_id`, `max_results`, `page_token`.
    pub async fn search_predictions(
        &self,
        model_name: &str,
        query: &[(&str, String)],
    ) -> Result<Page<cairn_core::predictions::PredictionRecord>> {
        #[derive(Deserialize)]
        struct Resp {
            #[serde(default)]
            predictions: Vec<cairn_core::predictions::PredictionRecord>,
            next_page_token: Option<String>,
        }
        let resp = self
            .http
            .get(format!("{}/api/2.0/cairn/predictions/search", self.base))
            .query(&[("model_name", model_name)])
            .query(query)
            .send()
            .await?;
        let r: Resp = Self::decode(resp).await?;
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
        Self::decode::<Value>(resp).await.map(drop)
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
        let mut req = self
            .http
            .get(format!("{}/api/2.0/mlflow-artifacts/artifacts", self.base));
        if let Some(p) = path {
            req = req.query(&[("path", p)]);
        }
        let r: Value = Self::decode(req.send().await?).await?;
        Ok(r["files"].as_array().cloned().unwrap_or_default())
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
            for entry in self.list_artifacts(Some(&listed)).await? {
                let Some(path) = entry["path"].as_str() else {
                    continue;
                };
                let name = path.rsplit('/').next().unwrap_or(path);
                if name.is_empty() || name == "." || name == ".." {
                    continue;
                }
                let child = if rel.is_empty() {
                    name.to_string()
                } else {
                    format!("{rel}/{name}")
                };
                if entry["is_dir"].as_bool().unwrap_or(false) {
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
        Self::decode::<Value>(resp).await.map(drop)
    }
}

#[derive(Deserialize)]
struct RegisteredModelResponse {
    registered_model: RegisteredModel,
}

#[derive(Deserialize)]
struct ModelVersionResponse {
    model_version: ModelVersion,
}

#[derive(Deserialize)]
struct RegisteredModelsPage {
    #[serde(default)]
    registered_models: Vec<RegisteredModel>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ModelVersionsPage {
    #[serde(default)]
    model_versions: Vec<ModelVersion>,
    next_page_token: Option<String>,
}

/// The query string of a registry search (a GET with `order_by` repeated).
fn registry_search_query(
    filter: Option<&str>,
    order_by: &[&str],
    max_results: Option<i64>,
    page_token: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut query: Vec<(&str, String)> = order_by
        .iter()
        .map(|o| ("order_by", o.to_string()))
        .collect();
    query.extend(filter.map(|f| ("filter", f.to_string())));
    query.extend(max_results.map(|m| ("max_results", m.to_string())));
    query.extend(page_token.map(|t| ("page_token", t.to_string())));
    query
}

/// The optional fields every search request shares.
fn add_search_fields(
    body: &mut Value,
    filter: &Option<String>,
    max_results: Option<i64>,
    page_token: &Option<String>,
) {
    if let Some(f) = filter {
        body["filter"] = json!(f);
    }
    if let Some(m) = max_results {
        body["max_results"] = json!(m);
    }
    if let Some(t) = page_token {
        body["page_token"] = json!(t);
    }
}

/// A metric value as MLflow's JSON writes it (non-finite values as strings).
fn metric_value(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else if v.is_nan() {
        json!("NaN")
    } else if v > 0.0 {
        json!("Infinity")
    } else {
        json!("-Infinity")
    }
}
