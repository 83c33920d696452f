//! Moving in from MLflow: `cairn import --from <tracking server>`.
//!
//! The source is read over MLflow's REST API (any MLflow 3 server, or cairn itself
//! serving a database MLflow made); the destination is written through cairn's own
//! stores, so ids, timestamps and version numbers are kept, which the REST API could
//! not set.
//!
//! Running it again copies nothing twice: experiments and registered models are
//! matched by name, runs and logged models by id, versions by number, and artifact
//! files by path and size. Runs are the bulk of the work, so each finished run is
//! written to a journal file and skipped on the next run; a run cut off half-way is
//! copied again, which is harmless because every write of a run is idempotent (a
//! metric point or a param already there is left as it is).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use cairn_artifacts::{ArtifactPath, ArtifactStore};
use cairn_client::{Client, ClientError, SearchExperiments, SearchRuns};
use cairn_core::entities::{
    Experiment, KeyValue, LifecycleStage, Metric, Run, RunStatus, ViewType,
};
use cairn_core::logged_model::LoggedModelStatus;
use cairn_core::registry::{ModelVersion, Stage};
use cairn_store::{NewExperiment, NewLoggedModel, NewModelVersion, NewRun, Stores};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading the source: {0}")]
    Source(#[from] ClientError),
    #[error("writing cairn's store: {0}")]
    Store(#[from] cairn_store::StoreError),
    #[error("copying artifacts: {0}")]
    Artifacts(#[from] cairn_artifacts::ArtifactError),
    #[error("the import journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = ImportError> = std::result::Result<T, E>;

/// Points per log-batch written to the store, as MLflow's client batches them.
const METRICS_PER_BATCH: usize = 1000;
/// Runs copied at once.
const RUNS_IN_FLIGHT: usize = 8;
/// Page size for the source's searches and metric histories.
const PAGE: i64 = 1000;

/// What an import copied and what it found already there.
#[derive(Debug, Default)]
pub struct Summary {
    pub experiments: Count,
    pub runs: Count,
    pub metric_points: AtomicU64,
    pub params: AtomicU64,
    pub logged_models: Count,
    pub registered_models: Count,
    pub model_versions: Count,
    pub aliases: AtomicU64,
    pub artifact_files: Count,
    pub artifact_bytes: AtomicU64,
}

/// Copied now, and found already copied.
#[derive(Debug, Default)]
pub struct Count {
    pub copied: AtomicU64,
    pub skipped: AtomicU64,
}

impl Count {
    fn copied(&self) {
        self.copied.fetch_add(1, Ordering::Relaxed);
    }
    fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> (u64, u64) {
        (
            self.copied.load(Ordering::Relaxed),
            self.skipped.load(Ordering::Relaxed),
        )
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |f: &mut fmt::Formatter<'_>, what: &str, c: &Count| {
            let (copied, skipped) = c.get();
            writeln!(
                f,
                "  {what:<18} {copied:>9} copied {skipped:>9} already there"
            )
        };
        writeln!(f, "import summary:")?;
        row(f, "experiments", &self.experiments)?;
        row(f, "runs", &self.runs)?;
        writeln!(
            f,
            "  {:<18} {:>9} copied (with {} params)",
            "metric points",
            self.metric_points.load(Ordering::Relaxed),
            self.params.load(Ordering::Relaxed)
        )?;
        row(f, "logged models", &self.logged_models)?;
        row(f, "registered models", &self.registered_models)?;
        row(f, "model versions", &self.model_versions)?;
        writeln!(
            f,
            "  {:<18} {:>9} set",
            "aliases",
            self.aliases.load(Ordering::Relaxed)
        )?;
        row(f, "artifact files", &self.artifact_files)?;
        write!(
            f,
            "  {:<18} {:>9} bytes copied",
            "artifacts",
            self.artifact_bytes.load(Ordering::Relaxed)
        )
    }
}

/// The runs a previous import finished, one id per line, appended as runs finish.
struct Journal {
    path: PathBuf,
    done: BTreeSet<String>,
    file: Mutex<std::fs::File>,
}

impl Journal {
    fn open(path: PathBuf) -> Result<Journal> {
        let err = |source| ImportError::Journal {
            path: path.clone(),
            source,
        };
        let done = match std::fs::read_to_string(&path) {
            Ok(text) => text.lines().map(str::to_string).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(err(e)),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        Ok(Journal {
            path,
            done,
            file: Mutex::new(file),
        })
    }

    fn finished(&self, run_id: &str) -> Result<()> {
        let mut file = self
            .file
            .lock()
            .map_err(|_| ImportError::Conflict("the journal lock was poisoned".into()))?;
        writeln!(file, "{run_id}")
            .and_then(|_| file.flush())
            .map_err(|source| ImportError::Journal {
                path: self.path.clone(),
                source,
            })
    }
}

/// Where an import reads and writes.
pub struct Import<'a> {
    pub source: &'a Client,
    pub dest: &'a Stores,
    pub artifacts: &'a ArtifactStore,
    /// Remembers finished runs between attempts.
    pub journal: PathBuf,
    pub show_progress: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Import<'_> {
    /// Copies everything; returns what was copied and what was there already.
    pub async fn run(&self) -> Result<Summary> {
        let summary = Summary::default();
        let journal = Journal::open(self.journal.clone())?;
        let experiments = self.experiments(&summary).await?;
        let bar = if self.show_progress {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:<28} [{bar:40}] {pos}/{len} runs ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        for (src, dest_id) in &experiments {
            bar.set_message(src.name.chars().take(28).collect::<String>());
            let model_metrics = self.logged_models(src, *dest_id, &summary).await?;
            self.runs(src, *dest_id, &journal, &bar, &summary).await?;
            self.logged_model_metrics(model_metrics).await?;
            if src.lifecycle_stage == LifecycleStage::Deleted {
                // Last: deleting an experiment deletes its runs with it.
                self.dest
                    .tracking
                    .set_experiment_lifecycle(
                        *dest_id,
                        LifecycleStage::Deleted,
                        src.last_update_time.unwrap_or_else(now_ms),
                    )
                    .await?;
            }
        }
        bar.finish_and_clear();
        self.registry(&summary).await?;
        for (src, _) in &experiments {
            self.artifacts(src, &summary).await?;
        }
        Ok(summary)
    }

    /// Every experiment of the source, matched to one in cairn by name (created when
    /// missing), with cairn's id.
    async fn experiments(&self, summary: &Summary) -> Result<Vec<(Experiment, i64)>> {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .source
                .search_experiments(&SearchExperiments {
                    view_type: ViewType::All,
                    max_results: Some(PAGE),
                    page_token: token.take(),
                    ..Default::default()
                })
                .await?;
            all.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        // Oldest first, so a fresh cairn hands out ids in the source's order.
        all.sort_by_key(|e| e.experiment_id.parse::<i64>().unwrap_or(i64::MAX));
        let mut matched = Vec::with_capacity(all.len());
        for e in all {
            let id = match self.dest.tracking.get_experiment_by_name(&e.name).await? {
                Some(found) => {
                    summary.experiments.skipped();
                    let id = found.experiment_id.parse().unwrap_or(0);
                    for t in &e.tags {
                        self.dest
                            .tracking
                            .set_experiment_tag(id, &t.key, &t.value)
                            .await?;
                    }
                    id
                }
                None => {
                    summary.experiments.copied();
                    self.dest
                        .tracking
                        .create_experiment(NewExperiment {
                            name: e.name.clone(),
                            artifact_location: e.artifact_location.clone(),
                            tags: e.tags.clone(),
                            now_ms: e.creation_time.unwrap_or_else(now_ms),
                        })
                        .await?
                        .parse()
                        .unwrap_or(0)
                }
            };
            matched.push((e, id));
        }
        Ok(matched)
    }

    async fn runs(
        &self,
        exp: &Experiment,
        dest_id: i64,
        journal: &Journal,
        bar: &ProgressBar,
        summary: &Summary,
    ) -> Result<()> {
        let mut token = None;
        loop {
            let page = self
                .source
                .search_runs(&SearchRuns {
                    experiment_ids: vec![exp.experiment_id.clone()],
                    view_type: ViewType::All,
                    max_results: Some(PAGE),
                    page_token: token.take(),
                    ..Default::default()
                })
                .await?;
            bar.inc_length(page.items.len() as u64);
            let copies = futures::stream::iter(page.items.into_iter().map(|run| async move {
                let result = if journal.done.contains(&run.info.run_id) {
                    summary.runs.skipped();
                    Ok(())
                } else {
                    self.copy_run(run.clone(), dest_id, summary).await?;
                    journal.finished(&run.info.run_id)
                };
                bar.inc(1);
                result
            }))
            .buffer_unordered(RUNS_IN_FLIGHT)
            .collect::<Vec<Result<()>>>()
            .await;
            for c in copies {
                c?;
            }
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(()),
            }
        }
    }

    /// One run, whole: its row, params, tags, full metric histories, inputs and
    /// outputs, status and lifecycle.
    async fn copy_run(&self, run: Run, dest_experiment: i64, summary: &Summary) -> Result<()> {
        let t = &self.dest.tracking;
        let id = run.info.run_id.clone();
        let created = t.get_run_info(&id).await?.is_none();
        if created {
            t.create_run(NewRun {
                run_id: id.clone(),
                experiment_id: dest_experiment,
                user_id: run.info.user_id.clone(),
                run_name: run.info.run_name.clone(),
                start_time: run.info.start_time,
                artifact_uri: run.info.artifact_uri.clone(),
                tags: run.data.tags.clone(),
            })
            .await?;
        }
        summary.runs.copied();
        // A new run got its tags with its row; one copied before may lack some.
        let tags: &[KeyValue] = if created { &[] } else { &run.data.tags };
        t.log_batch(&id, Vec::new(), run.data.params.clone(), tags.to_vec())
            .await?;
        summary
            .params
            .fetch_add(run.data.params.len() as u64, Ordering::Relaxed);
        for latest in &run.data.metrics {
            let history = self.history(&id, &latest.key).await?;
            for chunk in history.chunks(METRICS_PER_BATCH) {
                t.log_batch(&id, chunk.to_vec(), Vec::new(), Vec::new())
                    .await?;
            }
            summary
                .metric_points
                .fetch_add(history.len() as u64, Ordering::Relaxed);
        }
        if !run.inputs.dataset_inputs.is_empty() || !run.inputs.model_inputs.is_empty() {
            t.log_inputs(
                &id,
                dest_experiment,
                &run.inputs.dataset_inputs,
                &run.inputs.model_inputs,
            )
            .await?;
        }
        if !run.outputs.model_outputs.is_empty() {
            t.log_outputs(&id, &run.outputs.model_outputs).await?;
        }
        if run.info.status != RunStatus::Running || run.info.end_time.is_some() {
            t.update_run(&id, Some(run.info.status), run.info.end_time, None)
                .await?;
        }
        if run.info.lifecycle_stage == LifecycleStage::Deleted {
            t.set_run_lifecycle(&id, LifecycleStage::Deleted, Some(now_ms()))
                .await?;
        }
        Ok(())
    }

    /// Every point of one metric of one run, page by page.
    async fn history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .source
                .get_metric_history(run_id, key, Some(PAGE * 25), token.as_deref())
                .await?;
            points.extend(page.items.into_iter().map(|mut m| {
                m.run_id = None;
                m
            }));
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(points),
            }
        }
    }

    /// The experiment's logged models (MLflow 3), by id. Returns the metrics of the
    /// models it created, to be written once their runs are in.
    async fn logged_models(
        &self,
        exp: &Experiment,
        dest_id: i64,
        summary: &Summary,
    ) -> Result<Vec<Metric>> {
        let mut metrics = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "experiment_ids": [exp.experiment_id], "max_results": 100 });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let page: Value = self.source.post("logged-models/search", &body).await?;
            for m in page["models"].as_array().into_iter().flatten() {
                if let Some(model_id) = self.logged_model(m, dest_id, summary).await? {
                    metrics.extend(
                        m["data"]["metrics"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|v| serde_json::from_value::<Metric>(v.clone()).ok())
                            .map(|mut metric| {
                                metric.model_id = Some(model_id.clone());
                                metric
                            }),
                    );
                }
            }
            match page["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(metrics),
            }
        }
    }

    /// Logged models' metrics go in through their runs' log-batch, as MLflow's client
    /// logs them: the run keeps the point, the model is linked to it.
    async fn logged_model_metrics(&self, metrics: Vec<Metric>) -> Result<()> {
        let mut by_run: HashMap<String, Vec<Metric>> = HashMap::new();
        for m in metrics {
            if let Some(run) = m.run_id.clone() {
                by_run
                    .entry(run)
                    .or_default()
                    .push(Metric { run_id: None, ..m });
            }
        }
        for (run, points) in by_run {
            if self.dest.tracking.get_run_info(&run).await?.is_none() {
                tracing::warn!(
                    run,
                    "a logged model's metric names a run the source does not list"
                );
                continue;
            }
            for chunk in points.chunks(METRICS_PER_BATCH) {
                self.dest
                    .tracking
                    .log_batch(&run, chunk.to_vec(), Vec::new(), Vec::new())
                    .await?;
            }
        }
        Ok(())
    }

    /// Copies one logged model unless cairn has it; returns its id when copied.
    async fn logged_model(
        &self,
        m: &Value,
        dest_id: i64,
        summary: &Summary,
    ) -> Result<Option<String>> {
        let info = &m["info"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        let Some(model_id) = text(&info["model_id"]) else {
            return Ok(None);
        };
        if self
            .dest
            .logged_models
            .get_logged_model(&model_id, true)
            .await?
            .is_some()
        {
            summary.logged_models.skipped();
            return Ok(None);
        }
        let pairs = |v: &Value| -> Vec<KeyValue> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|kv| Some(KeyValue::new(text(&kv["key"])?, text(&kv["value"])?)))
                .collect()
        };
        let created = info["creation_timestamp_ms"]
            .as_i64()
            .unwrap_or_else(now_ms);
        self.dest
            .logged_models
            .create_logged_model(NewLoggedModel {
                model_id: model_id.clone(),
                experiment_id: dest_id,
                name: text(&info["name"]).unwrap_or_default(),
                artifact_location: text(&info["artifact_uri"]).unwrap_or_default(),
                model_type: text(&info["model_type"]),
                source_run_id: text(&info["source_run_id"]),
                params: pairs(&m["data"]["params"]),
                tags: pairs(&info["tags"]),
                now_ms: created,
            })
            .await?;
        let status = info["status"]
            .as_str()
            .and_then(|s| LoggedModelStatus::parse(s).ok())
            .unwrap_or(LoggedModelStatus::Pending);
        if status != LoggedModelStatus::Pending {
            let updated = info["last_updated_timestamp_ms"]
                .as_i64()
                .unwrap_or(created);
            self.dest
                .logged_models
                .finalize_logged_model(&model_id, status, updated)
                .await?;
        }
        summary.logged_models.copied();
        Ok(Some(model_id))
    }

    /// Registered models by name, their versions by number (deleted numbers stay
    /// unused, as in the source), stages, tags and aliases.
    async fn registry(&self, summary: &Summary) -> Result<()> {
        let r = &self.dest.registry;
        let mut models = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .source
                .search_registered_models(None, &[], Some(PAGE), token.as_deref())
                .await?;
            models.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        for m in models {
            if r.get_registered_model(&m.name).await?.is_some() {
                summary.registered_models.skipped();
            } else {
                r.create_registered_model(
                    &m.name,
                    m.description.as_deref(),
                    &m.tags,
                    m.creation_timestamp.unwrap_or_else(now_ms),
                )
                .await?;
                summary.registered_models.copied();
            }
            let mut versions = self.versions(&m.name).await?;
            versions.sort_by_key(|v| v.version.parse::<i64>().unwrap_or(0));
            for v in versions {
                self.version(&v, summary).await?;
            }
            for a in &m.aliases {
                let version = a.version.parse::<i64>().unwrap_or(0);
                r.set_registered_model_alias(&m.name, &a.alias, version, now_ms())
                    .await?;
                summary.aliases.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    async fn versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let filter = format!("name = '{}'", name.replace('\'', "\\'"));
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .source
                .search_model_versions(Some(&filter), &[], Some(PAGE), token.as_deref())
                .await?;
            all.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
    }

    async fn version(&self, v: &ModelVersion, summary: &Summary) -> Result<()> {
        let r = &self.dest.registry;
        let number: i64 = v.version.parse().unwrap_or(0);
        if r.get_model_version(&v.name, number).await?.is_some() {
            summary.model_versions.skipped();
            return Ok(());
        }
        let storage_location = self
            .source
            .get_model_version_download_uri(&v.name, &v.version)
            .await
            .unwrap_or_else(|_| v.source.clone().unwrap_or_default());
        let now = v.creation_timestamp.unwrap_or_else(now_ms);
        // Versions are numbered by cairn; numbers the source deleted are taken and
        // deleted again, so every number lands where it was.
        loop {
            let created = r
                .create_model_version(NewModelVersion {
                    name: v.name.clone(),
                    source: v.source.clone().unwrap_or_default(),
                    storage_location: storage_location.clone(),
                    run_id: v.run_id.clone().filter(|s| !s.is_empty()),
                    run_link: v.run_link.clone().filter(|s| !s.is_empty()),
                    description: v.description.clone().filter(|s| !s.is_empty()),
                    tags: v.tags.clone(),
                    now_ms: now,
                })
                .await?;
            let got: i64 = created.version.parse().unwrap_or(0);
            if got == number {
                break;
            }
            if got > number {
                return Err(ImportError::Conflict(format!(
                    "model '{}' already has version {got} in cairn, past the source's \
                     version {number}; versions registered in cairn before the import \
                     would be overwritten",
                    v.name
                )));
            }
            r.delete_model_version(&v.name, got, now).await?;
        }
        if let Ok(stage) = Stage::parse(&v.current_stage) {
            if stage != Stage::None {
                r.transition_model_version_stage(&v.name, number, stage, false, now)
                    .await?;
            }
        }
        summary.model_versions.copied();
        Ok(())
    }

    /// The files under an experiment served by the source's artifact proxy
    /// (`mlflow-artifacts:/...`), which hold its runs' and logged models' artifacts.
    /// Files already in cairn with the same size are left alone.
    async fn artifacts(&self, exp: &Experiment, summary: &Summary) -> Result<()> {
        let Some(root) = exp
            .artifact_location
            .as_deref()
            .and_then(|l| l.strip_prefix("mlflow-artifacts:"))
        else {
            return Ok(());
        };
        let mut dirs = vec![root.trim_start_matches('/').to_string()];
        while let Some(dir) = dirs.pop() {
            let existing: HashMap<String, Option<u64>> = match ArtifactPath::parse(&dir) {
                Ok(p) => self
                    .artifacts
                    .list(&p)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| (f.path, f.file_size))
                    .collect(),
                Err(_) => continue,
            };
            for f in self.source.list_artifacts(Some(&dir)).await? {
                let Some(name) = f["path"].as_str() else {
                    continue;
                };
                let name = name.rsplit('/').next().unwrap_or(name);
                let path = format!("{dir}/{name}");
                if f["is_dir"].as_bool().unwrap_or(false) {
                    dirs.push(path);
                    continue;
                }
                let size = f["file_size"]
                    .as_u64()
                    .or_else(|| f["file_size"].as_str().and_then(|s| s.parse().ok()));
                let there = existing
                    .get(name)
                    .or_else(|| existing.get(&path))
                    .copied()
                    .flatten();
                if there.is_some() && there == size {
                    summary.artifact_files.skipped();
                    continue;
                }
                let bytes = self.source.download_artifact(&path).await?;
                let len = bytes.len() as u64;
                let body = futures::stream::once(async move {
                    Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
                });
                self.artifacts
                    .put(&ArtifactPath::parse(&path)?, body)
                    .await?;
                summary.artifact_files.copied();
                summary.artifact_bytes.fetch_add(len, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}
