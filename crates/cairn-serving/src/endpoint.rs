//! An endpoint bound to `models:/<name>@<alias>`: the version it serves now, swapped
//! atomically when the alias moves, and the watcher that moves it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use cairn_client::Client;
use serde::Serialize;
use tokio::sync::watch;

use crate::error::ServingError;
use crate::flavor::{self, Predictor};
use crate::input::{self, ModelInput};
use crate::metrics::{self as m, ModelMetrics};
use crate::mlmodel::{MlModel, Schema};

/// `name@alias`, as `models:/name@alias` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub name: String,
    pub alias: String,
}

impl std::str::FromStr for ModelRef {
    type Err = String;

    /// Takes `models:/name@alias` or `name@alias`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix("models:/").unwrap_or(s);
        match rest.rsplit_once('@') {
            Some((name, alias)) if !name.is_empty() && !alias.is_empty() && !name.contains('/') => {
                Ok(ModelRef {
                    name: name.to_string(),
                    alias: alias.to_string(),
                })
            }
            _ => Err(format!(
                "'{s}' is not a model alias URI: expected models:/<name>@<alias>"
            )),
        }
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "models:/{}@{}", self.name, self.alias)
    }
}

/// One model version, loaded and checked, as requests see it.
pub struct LoadedModel {
    pub version: i64,
    /// The version number as the response header carries it.
    pub version_header: axum::http::HeaderValue,
    pub predictor: Box<dyn Predictor>,
    pub schema: Option<Schema>,
    pub metrics: ModelMetrics,
    pub loaded_at_ms: i64,
}

impl LoadedModel {
    /// Parses, validates and predicts: the whole scoring path after routing.
    pub fn score(
        &self,
        content_type: Option<&str>,
        body: &[u8],
        entity_column: Option<&str>,
    ) -> Result<Scored, ServingError> {
        let mut input = input::parse(content_type, body)?;
        let entity_ids = entity_column.and_then(|c| input.take_entity_ids(c));
        if let Some(schema) = &self.schema {
            input.enforce(schema)?;
        }
        let outputs = self.predictor.predict(&input)?;
        let predictions = outputs.to_json(&input);
        Ok(Scored {
            input,
            entity_ids,
            outputs,
            predictions,
        })
    }
}

pub struct Scored {
    pub input: ModelInput,
    pub entity_ids: Option<Vec<Option<String>>>,
    pub outputs: crate::flavor::Outputs,
    pub predictions: serde_json::Value,
}

/// What `/health` reports for an endpoint.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct EndpointStatus {
    pub model: String,
    pub alias: String,
    /// The version answering requests; absent until one has loaded.
    pub serving_version: Option<i64>,
    pub flavor: Option<String>,
    /// The version the alias pointed at when last checked.
    pub alias_version: Option<i64>,
    pub loaded_at_ms: Option<i64>,
    pub last_checked_ms: Option<i64>,
    /// Why the alias's version is not the one serving (a failed load or check, or
    /// an unreachable registry); cleared when the alias's version serves.
    pub error: Option<String>,
}

pub struct Endpoint {
    pub model: ModelRef,
    pub name: Arc<str>,
    pub alias: Arc<str>,
    current: ArcSwapOption<LoadedModel>,
    status: Mutex<EndpointStatus>,
}

impl Endpoint {
    pub fn new(model: ModelRef) -> Endpoint {
        let status = EndpointStatus {
            model: model.name.clone(),
            alias: model.alias.clone(),
            ..Default::default()
        };
        Endpoint {
            name: model.name.as_str().into(),
            alias: model.alias.as_str().into(),
            model,
            current: ArcSwapOption::empty(),
            status: Mutex::new(status),
        }
    }

    /// The version serving now; a request keeps its `Arc` to the end, so a swap
    /// never pulls a model from under it.
    pub fn current(&self) -> Option<Arc<LoadedModel>> {
        self.current.load_full()
    }

    pub fn status(&self) -> EndpointStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn update(&self, f: impl FnOnce(&mut EndpointStatus)) {
        let mut guard = self.status.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard);
    }

    fn swap_in(&self, model: LoadedModel, flavor: &str) {
        let (version, at) = (model.version, model.loaded_at_ms);
        self.current.store(Some(Arc::new(model)));
        self.update(|s| {
            s.serving_version = Some(version);
            s.flavor = Some(flavor.to_string());
            s.loaded_at_ms = Some(at);
            s.error = None;
        });
    }
}

/// How the watcher reaches the registry and where it unpacks versions.
#[derive(Clone)]
pub struct WatchConfig {
    pub client: Client,
    pub poll_interval: Duration,
    /// Scratch space for downloads; each version's folder is removed once loaded.
    pub cache_dir: PathBuf,
    /// How long a version that failed to load is left alone before another try.
    pub retry_after: Duration,
}

/// Follows the alias until `shutdown` flips: loads the version it points at whenever
/// that differs from the one serving, and swaps it in once it has loaded and passed
/// its input-example check.
pub async fn watch(
    endpoint: Arc<Endpoint>,
    config: WatchConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let reloads = metrics::counter!(m::RELOADS, "model" => endpoint.model.name.clone());
    let failures = metrics::counter!(m::RELOAD_FAILURES, "model" => endpoint.model.name.clone());
    let reload_latency =
        metrics::histogram!(m::RELOAD_LATENCY, "model" => endpoint.model.name.clone());
    let mut failed: Option<(i64, Instant)> = None;
    loop {
        let now = now_ms();
        match config
            .client
            .get_model_version_by_alias(&endpoint.model.name, &endpoint.model.alias)
            .await
        {
            Ok(mv) => {
                let version = mv.version.parse::<i64>().unwrap_or(0);
                endpoint.update(|s| {
                    s.alias_version = Some(version);
                    s.last_checked_ms = Some(now);
                });
                let serving = endpoint.current().map(|m| m.version);
                let backing_off =
                    failed.is_some_and(|(v, at)| v == version && at.elapsed() < config.retry_after);
                if serving != Some(version) && !backing_off {
                    let started = Instant::now();
                    match load_version(&endpoint.model, version, &config.client, &config.cache_dir)
                        .await
                    {
                        Ok((model, flavor)) => {
                            endpoint.swap_in(model, flavor);
                            failed = None;
                            reloads.increment(1);
                            reload_latency.record(started.elapsed().as_secs_f64());
                            tracing::info!(
                                model = %endpoint.model, version, previous = ?serving,
                                seconds = started.elapsed().as_secs_f64(),
                                "serving a new version"
                            );
                        }
                        Err(e) => {
                            failures.increment(1);
                            failed = Some((version, Instant::now()));
                            let message = format!("version {version} was not swapped in: {e}");
                            tracing::error!(model = %endpoint.model, version, error = %e,
                                "a new version failed to load; the previous one keeps serving");
                            endpoint.update(|s| s.error = Some(message));
                        }
                    }
                }
            }
            Err(e) => {
                // An alias deleted or a registry down: keep serving what is loaded.
                let message = format!("cannot resolve {}: {e}", endpoint.model);
                tracing::warn!(model = %endpoint.model, error = %e, "alias check failed");
                endpoint.update(|s| {
                    s.last_checked_ms = Some(now);
                    s.error = Some(message);
                });
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.poll_interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Downloads, loads and checks one version.
pub(crate) async fn load_version(
    model: &ModelRef,
    version: i64,
    client: &Client,
    cache_dir: &Path,
) -> Result<(LoadedModel, &'static str), ServingError> {
    let uri = client
        .get_model_version_download_uri(&model.name, &version.to_string())
        .await?;
    std::fs::create_dir_all(cache_dir)?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-v{version}-", sanitize(&model.name)))
        .tempdir_in(cache_dir)?;
    fetch(client, &uri, dir.path()).await?;
    let name = model.name.clone();
    let path = dir.path().to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || load_dir(&path, &name, version))
        .await
        .map_err(|e| ServingError::Load(format!("the loader stopped: {e}")))??;
    drop(dir);
    Ok(loaded)
}

/// Loads a model directory and runs its serving input example through it.
pub fn load_dir(
    dir: &Path,
    name: &str,
    version: i64,
) -> Result<(LoadedModel, &'static str), ServingError> {
    let mlmodel = MlModel::read(dir)?;
    let predictor = flavor::load(dir, &mlmodel)?;
    let flavor = predictor.flavor();
    let model = LoadedModel {
        version,
        version_header: axum::http::HeaderValue::from(version),
        predictor,
        schema: mlmodel.input_schema()?,
        metrics: ModelMetrics::new(name, version),
        loaded_at_ms: now_ms(),
    };
    if let Some(example) = mlmodel.serving_example(dir) {
        let body = std::fs::read(&example)?;
        model
            .score(Some("application/json"), &body, None)
            .map_err(|e| {
                ServingError::Load(format!("the model fails on its own input example: {e}"))
            })?;
    }
    Ok((model, flavor))
}

/// Copies the version's files from where the registry says they are.
async fn fetch(client: &Client, uri: &str, dest: &Path) -> Result<(), ServingError> {
    if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
        // `mlflow-artifacts:/path` or `mlflow-artifacts://host:port/path`.
        let path = match rest.strip_prefix("//") {
            Some(authority_and_path) => authority_and_path.split_once('/').map_or("", |(_, p)| p),
            None => rest.trim_start_matches('/'),
        };
        let files = client.download_artifact_tree(path, dest).await?;
        if files.is_empty() {
            return Err(ServingError::Load(format!("{uri} holds no files")));
        }
        return Ok(());
    }
    let local = uri.strip_prefix("file://").unwrap_or(uri);
    if Path::new(local).is_absolute() {
        return copy_tree(Path::new(local), dest);
    }
    Err(ServingError::Load(format!(
        "cannot fetch model files from {uri}: cairn serve reads the tracking server's \
         artifact proxy (mlflow-artifacts:/) or a local folder"
    )))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), ServingError> {
    if !from.is_dir() {
        return Err(ServingError::Load(format!(
            "{} is not a model directory",
            from.display()
        )));
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_refs_parse_with_and_without_scheme() {
        let r: ModelRef = "models:/iris@champion".parse().unwrap();
        assert_eq!((r.name.as_str(), r.alias.as_str()), ("iris", "champion"));
        assert_eq!(r.to_string(), "models:/iris@champion");
        let r: ModelRef = "my model@b".parse().unwrap();
        assert_eq!(r.name, "my model");
        for bad in ["iris", "models:/iris/3", "@champion", "iris@"] {
            assert!(bad.parse::<ModelRef>().is_err(), "{bad}");
        }
    }
}
