//! The metadata store: MLflow's schema, and the SQL that reads and writes it.
//!
//! Services talk to a [`TrackingStore`] trait object; each backend implements it on
//! MLflow's own tables so that `mlflow server` and cairn can share one database. The
//! store only persists: it trusts its caller (the service layer) to have validated
//! input and checked rules such as "writes go to active runs only".

mod error;
mod postgres;
pub mod schema;
mod shared;
mod sql;
mod sqlite;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use cairn_core::entities::{
    DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput, Page, Run,
    RunInfo, RunStatus,
};
use cairn_core::jobs::{
    Claim, ClaimedStep, JobEvent, JobRun, JobRunId, LogLine, NewLogLine, StepOutcome, StepRun,
};
use cairn_core::logged_model::{LoggedModel, LoggedModelStatus};
use cairn_core::monitor::{GroundTruth, GroundTruthEntry, MonitorReport};
use cairn_core::predictions::{PredictionRecord, PredictionSearch};
use cairn_core::registry::{AliasEvent, ModelVersion, RegisteredModel, Stage};

pub use error::StoreError;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use types::{
    CoverageGroup, EvalScope, ExperimentSearch, HistoryRange, LabelGroup, LoggedModelSearch,
    NewExperiment, NewJobRun, NewLoggedModel, NewModelVersion, NewMonitorReport, NewRun, NewStep,
    RegistrySearch, RunSearch,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the tracking API persists.
#[async_trait]
pub trait TrackingStore: Send + Sync + 'static {
    /// Inserts an experiment; its artifact location is computed from its new id when
    /// the caller gave none. Fails with RESOURCE_ALREADY_EXISTS on a duplicate name.
    async fn create_experiment(&self, new: NewExperiment) -> Result<String>;
    async fn get_experiment(&self, experiment_id: i64) -> Result<Option<Experiment>>;
    async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;
    async fn search_experiments(&self, search: &ExperimentSearch) -> Result<Page<Experiment>>;
    async fn rename_experiment(&self, experiment_id: i64, new_name: &str) -> Result<()>;
    /// Soft-deletes or restores an experiment and, with it, its runs.
    async fn set_experiment_lifecycle(
        &self,
        experiment_id: i64,
        stage: LifecycleStage,
        now_ms: i64,
    ) -> Result<()>;
    async fn set_experiment_tag(&self, experiment_id: i64, key: &str, value: &str) -> Result<()>;
    async fn delete_experiment_tag(&self, experiment_id: i64, key: &str) -> Result<bool>;

    async fn create_run(&self, new: NewRun) -> Result<Run>;
    async fn get_run(&self, run_id: &str) -> Result<Option<Run>>;
    /// The run's info alone: the cheap read behind every "is this run active" check.
    async fn get_run_info(&self, run_id: &str) -> Result<Option<RunInfo>>;
    async fn update_run(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo>;
    async fn set_run_lifecycle(
        &self,
        run_id: &str,
        stage: LifecycleStage,
        deleted_time: Option<i64>,
    ) -> Result<()>;
    /// Writes metrics, params and tags in one transaction: all of them or none.
    /// A param logged again with another value fails with INVALID_PARAMETER_VALUE.
    /// The batch is taken by value: SQLite's writer thread needs it owned, and a copy of
    /// a 1,000-point batch would cost an allocation per point.
    async fn log_batch(
        &self,
        run_id: &str,
        metrics: Vec<Metric>,
        params: Vec<KeyValue>,
        tags: Vec<KeyValue>,
    ) -> Result<()>;
    async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<bool>;
    async fn log_inputs(
        &self,
        run_id: &str,
        experiment_id: i64,
        datasets: &[DatasetInput],
        models: &[ModelInput],
    ) -> Result<()>;
    async fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()>;
    async fn search_runs(&self, search: &RunSearch) -> Result<Page<Run>>;
    /// One page of a metric's history, in (step, timestamp) order.
    async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Metric>>;
    /// Every point of `key` for each run within the step range (for down-sampling).
    async fn metric_history_range(&self, range: &HistoryRange) -> Result<Vec<Metric>>;

    /// Whether the database answers; for `/health`.
    async fn ping(&self) -> Result<()>;
    /// Sets the gauges read at scrape time (a connection pool's state); the counters
    /// and histograms are recorded as writes happen.
    fn record_gauges(&self) {}
    /// Closes connections cleanly (checkpointing SQLite's WAL).
    async fn close(&self);
}

/// MLflow 3's logged models (`logged_models` and its tags, params and metrics
/// tables): models a run logged, before and apart from the registry.
#[async_trait]
pub trait LoggedModelStore: Send + Sync + 'static {
    /// Inserts a logged model in PENDING status with its params and tags.
    async fn create_logged_model(&self, new: NewLoggedModel) -> Result<LoggedModel>;
    /// A logged model with its tags, params and metrics; deleted ones only on request.
    async fn get_logged_model(
        &self,
        model_id: &str,
        allow_deleted: bool,
    ) -> Result<Option<LoggedModel>>;
    /// Sets the status (READY once the files are up) and returns the model.
    async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
        now_ms: i64,
    ) -> Result<LoggedModel>;
    async fn set_logged_model_tags(&self, model_id: &str, tags: &[KeyValue]) -> Result<()>;
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<bool>;
    async fn log_logged_model_params(&self, model_id: &str, params: &[KeyValue]) -> Result<()>;
    /// Soft-deletes (MLflow keeps the row, marked deleted).
    async fn delete_logged_model(&self, model_id: &str, now_ms: i64) -> Result<()>;
    async fn search_logged_models(&self, search: &LoggedModelSearch) -> Result<Page<LoggedModel>>;
}

/// Everything the model registry persists (`model_registry.proto`). Version numbers
/// are the registered model's max + 1, never reused: a deleted version stays as a row
/// in MLflow's `Deleted_Internal` stage, invisible to every read.
#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    /// Fails with RESOURCE_ALREADY_EXISTS on a duplicate name.
    async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[KeyValue],
        now_ms: i64,
    ) -> Result<RegisteredModel>;
    /// With its aliases, tags and latest version per stage.
    async fn get_registered_model(&self, name: &str) -> Result<Option<RegisteredModel>>;
    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        now_ms: i64,
    ) -> Result<RegisteredModel>;
    async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
        now_ms: i64,
    ) -> Result<RegisteredModel>;
    /// Deletes the model with its versions, tags and aliases.
    async fn delete_registered_model(&self, name: &str) -> Result<()>;
    async fn search_registered_models(
        &self,
        search: &RegistrySearch,
    ) -> Result<Page<RegisteredModel>>;
    async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()>;
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;

    /// Numbers the version max + 1 in the same transaction that inserts it.
    async fn create_model_version(&self, new: NewModelVersion) -> Result<ModelVersion>;
    async fn get_model_version(&self, name: &str, version: i64) -> Result<Option<ModelVersion>>;
    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
        now_ms: i64,
    ) -> Result<ModelVersion>;
    /// Moves a version to `stage`; with `archive_existing`, the model's other versions
    /// in that stage (Staging or Production) go to Archived.
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        now_ms: i64,
    ) -> Result<ModelVersion>;
    /// Hides the version (and drops its aliases and tags); its number is not reused.
    async fn delete_model_version(&self, name: &str, version: i64, now_ms: i64) -> Result<()>;
    async fn search_model_versions(&self, search: &RegistrySearch) -> Result<Page<ModelVersion>>;
    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<()>;
    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()>;
    /// Where the version's files are: its storage location, else its source.
    async fn model_version_download_uri(&self, name: &str, version: i64) -> Result<String>;

    /// Points `alias` at `version`, moving it if it pointed elsewhere; a change is
    /// recorded in the alias history in the same transaction.
    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        now_ms: i64,
    ) -> Result<()>;
    async fn delete_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        now_ms: i64,
    ) -> Result<()>;
    /// The model's alias moves, newest first, at most `limit`.
    async fn alias_history(&self, name: &str, limit: u32) -> Result<Vec<AliasEvent>>;
    /// The version `alias` points at, if the alias exists.
    async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>>;
}

/// The prediction log of the serving endpoints, in cairn's own table
/// (`cairn_predictions`), beside MLflow's.
#[async_trait]
pub trait PredictionStore: Send + Sync + 'static {
    /// Appends the records in one transaction: all of them or none.
    async fn log_predictions(&self, records: &[PredictionRecord]) -> Result<()>;
    /// Matching records oldest first, each with its id (the page cursor).
    async fn search_predictions(
        &self,
        search: &PredictionSearch,
    ) -> Result<Vec<(i64, PredictionRecord)>>;
}

/// The job queue and its history (cairn's `cairn_job*` tables): runs, steps, claims
/// with leases, transitions, logs, schedule marks, tag limits.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Creates the run and its steps; `None` when its dedup key was used already.
    async fn create_job_run(&self, new: NewJobRun) -> Result<Option<JobRun>>;
    async fn get_job_run(&self, run_id: &JobRunId) -> Result<Option<JobRun>>;
    /// The job file's text and path the run started with.
    async fn job_run_source(&self, run_id: &JobRunId) -> Result<Option<(String, String)>>;
    /// The run's steps in file order.
    async fn job_steps(&self, run_id: &JobRunId) -> Result<Vec<StepRun>>;
    /// Runs newest first, of one job or all.
    async fn search_job_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>>;
    /// The run's transitions after event `after`, oldest first.
    async fn job_events(&self, run_id: &JobRunId, after: i64) -> Result<Vec<JobEvent>>;
    async fn claim_job_steps(&self, claim: Claim) -> Result<Vec<ClaimedStep>>;
    /// Renews leases; per step, whether its worker should stop it.
    async fn heartbeat_job_steps(
        &self,
        worker: &str,
        steps: Vec<(String, String, i64)>,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<bool>>;
    /// Records a try's end and moves the run on; `false` when the try had lost its
    /// lease (nothing changes).
    async fn finish_job_step(&self, outcome: StepOutcome) -> Result<bool>;
    /// Tries whose lease ran out become CRASHED (and are retried by their policy).
    async fn expire_job_leases(&self, now_ms: i64, draw: f64)
        -> Result<Vec<(String, String, i64)>>;
    async fn cancel_job_run(&self, run_id: &JobRunId, now_ms: i64) -> Result<Option<JobRun>>;
    async fn append_job_logs(&self, run_id: &JobRunId, lines: Vec<NewLogLine>) -> Result<()>;
    async fn job_logs(&self, run_id: &JobRunId, after: i64, limit: u32) -> Result<Vec<LogLine>>;
    /// The newest success with this cache key ended at or after `since_ms`: its run
    /// and outputs.
    async fn cached_job_step(
        &self,
        cache_key: &str,
        since_ms: i64,
    ) -> Result<Option<(String, serde_json::Map<String, serde_json::Value>)>>;
    async fn job_schedule_last(&self, job: &str, key: &str) -> Result<Option<i64>>;
    async fn arm_job_schedule(&self, job: &str, key: &str, now_ms: i64) -> Result<()>;
    /// Moves the schedule's mark from `last_ms` to `to_ms` and creates the run (if
    /// any), atomically: `None` when another scheduler moved it first.
    async fn fire_job_schedule(
        &self,
        job: &str,
        key: &str,
        last_ms: i64,
        to_ms: i64,
        new: Option<NewJobRun>,
    ) -> Result<Option<JobRun>>;
    /// Sets (or with `None` removes) the limit of running steps with `tag`.
    /// Pauses or resumes a schedule over what its file says (`None`: as the file says).
    async fn set_job_schedule_paused(
        &self,
        job: &str,
        key: &str,
        paused: Option<bool>,
        now_ms: i64,
    ) -> Result<()>;
    /// Every schedule paused or resumed over its file: (job, schedule key, paused).
    async fn job_schedule_pauses(&self) -> Result<Vec<(String, String, bool)>>;
    async fn set_job_tag_limit(&self, tag: &str, slots: Option<i64>) -> Result<()>;
    async fn job_tag_limits(&self) -> Result<Vec<(String, i64)>>;
    /// Takes or renews a named lease (the scheduler's leadership).
    async fn take_lease(&self, name: &str, holder: &str, now_ms: i64, ms: i64) -> Result<bool>;
    /// Runs per (job, state), and steps waiting in the queue.
    async fn job_counts(&self) -> Result<(Vec<(String, String, i64)>, i64)>;
}

/// Ground truth and what online evaluation reads from it and the prediction log.
#[async_trait]
pub trait MonitorStore: Send + Sync + 'static {
    /// Writes a batch in one transaction: a record replaces its entity's earlier value
    /// (kept as a change when it differs); the same value again changes nothing.
    async fn log_ground_truth(&self, records: Vec<GroundTruth>, now_ms: i64) -> Result<()>;
    async fn ground_truth(&self, model: &str, entity: &str) -> Result<Option<GroundTruthEntry>>;
    /// How many of a model's ground truths are labels, and how many values.
    async fn ground_truth_kinds(&self, model: &str) -> Result<(i64, i64)>;
    /// The outputs (JSON text) of the model's newest logged prediction.
    async fn latest_outputs(&self, model: &str) -> Result<Option<String>>;
    /// Predictions and labelled predictions per version and window.
    async fn eval_coverage(&self, scope: &EvalScope) -> Result<Vec<CoverageGroup>>;
    /// Labelled predictions counted per (version, window, predicted, true label), the
    /// prediction read from the outputs' `key`.
    async fn eval_label_groups(&self, scope: &EvalScope, key: &str) -> Result<Vec<LabelGroup>>;
    /// Labelled rows one by one: (version, window, the outputs' `key` as text, true
    /// label, true value).
    async fn eval_labelled_rows(
        &self,
        scope: &EvalScope,
        key: &str,
    ) -> Result<Vec<(i64, i64, Option<String>, Option<String>, Option<f64>)>>;
    async fn add_monitor_report(&self, new: NewMonitorReport, now_ms: i64) -> Result<()>;
    /// A model's reports of one kind, newest first.
    async fn monitor_reports(
        &self,
        model: &str,
        kind: &str,
        limit: i64,
    ) -> Result<Vec<MonitorReport>>;
    /// The newest report per (model, version, kind), without the whole report.
    async fn latest_monitor_reports(&self) -> Result<Vec<MonitorReport>>;
}

/// Stored results of data-quality checks.
#[async_trait::async_trait]
pub trait DataCheckStore: Send + Sync {
    /// Stores a check (its `id` is ignored); returns the new id.
    async fn add_data_check(&self, check: cairn_core::data::DataCheck) -> Result<i64>;
    /// Checks of `target` (or all), newest first, without their reports.
    async fn data_checks(
        &self,
        target: Option<&str>,
        limit: i64,
    ) -> Result<Vec<cairn_core::data::DataCheck>>;
    /// One check with its report.
    async fn data_check(&self, id: i64) -> Result<Option<cairn_core::data::DataCheck>>;
    /// The newest check of each target, without reports.
    async fn latest_data_checks(&self) -> Result<Vec<cairn_core::data::DataCheck>>;
}

/// The stores one backend provides; all are the same object underneath.
#[derive(Clone)]
pub struct Stores {
    pub tracking: Arc<dyn TrackingStore>,
    pub logged_models: Arc<dyn LoggedModelStore>,
    pub registry: Arc<dyn RegistryStore>,
    pub predictions: Arc<dyn PredictionStore>,
    pub jobs: Arc<dyn JobStore>,
    pub monitor: Arc<dyn MonitorStore>,
    pub data: Arc<dyn DataCheckStore>,
}

/// What a database holds, as `cairn db check` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// No tables (or, for SQLite, no file yet): `cairn db upgrade` creates the schema.
    Empty,
    /// MLflow's schema at the revision cairn speaks.
    Current,
    /// MLflow's schema at another alembic revision.
    Revision(String),
    /// Tables, but not MLflow's: the first few of them.
    NotMlflow(String),
}

impl SchemaState {
    /// The state read from the table names alone, or `None` when the database has
    /// `alembic_version` and its revision decides (see [`SchemaState::at_revision`]).
    pub(crate) fn from_tables(tables: &[String]) -> Option<SchemaState> {
        if tables.is_empty() {
            return Some(SchemaState::Empty);
        }
        if !tables.iter().any(|t| t == "alembic_version") {
            return Some(SchemaState::NotMlflow(
                tables
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        None
    }

    /// The state of an MLflow database whose `alembic_version` holds `found`.
    pub(crate) fn at_revision(found: Option<String>) -> SchemaState {
        match found {
            Some(v) if v == schema::ALEMBIC_HEAD => SchemaState::Current,
            other => SchemaState::Revision(other.unwrap_or_default()),
        }
    }
}

/// Reads the schema state of the database `uri` names, changing nothing.
pub async fn check_schema(uri: &str) -> Result<SchemaState> {
    if let Some(path) = uri.strip_prefix("sqlite://") {
        return sqlite::schema_state(path).await;
    }
    if postgres::is_postgres_uri(uri) {
        let pool = postgres::connect(uri, 1).await?;
        let state = postgres::schema_state(&pool).await;
        pool.close().await;
        return state;
    }
    Err(StoreError::UnsupportedUri(cairn_core::secret::redact(uri)))
}

/// Creates MLflow's schema (and experiment 0) on an empty database, or checks that an
/// existing one is at the supported revision; what `cairn server` also does at start.
pub async fn upgrade_schema(uri: &str, default_artifact_root: &str) -> Result<()> {
    if uri.starts_with("sqlite://") {
        let stores = open(uri, default_artifact_root).await?;
        stores.tracking.close().await;
        return Ok(());
    }
    if postgres::is_postgres_uri(uri) {
        let pool = postgres::connect(uri, 1).await?;
        let result = postgres::ensure_schema(&pool, default_artifact_root).await;
        pool.close().await;
        return result;
    }
    Err(StoreError::UnsupportedUri(cairn_core::secret::redact(uri)))
}

/// Names of the metrics the stores record (through the `metrics` facade).
pub mod metric_names {
    /// Writes queued for SQLite's writer thread and not yet taken into a transaction.
    pub const SQLITE_WRITER_QUEUE: &str = "cairn_sqlite_writer_queue";
    /// Writes per SQLite transaction (group commit).
    pub const SQLITE_COMMIT_SIZE: &str = "cairn_sqlite_commit_writes_size";
    /// Time to commit a SQLite transaction.
    pub const SQLITE_COMMIT_LATENCY: &str = "cairn_sqlite_commit_duration_seconds";
    /// PostgreSQL pool connections, by `state` (idle, in_use) and the pool's `max`.
    pub const POSTGRES_POOL: &str = "cairn_postgres_pool_connections";
}

/// Describes the stores' metrics for `/metrics`.
pub fn describe_metrics() {
    use metric_names as m;
    metrics::describe_gauge!(
        m::SQLITE_WRITER_QUEUE,
        "Writes waiting for SQLite's writer thread."
    );
    metrics::describe_histogram!(m::SQLITE_COMMIT_SIZE, "Writes per SQLite transaction.");
    metrics::describe_histogram!(
        m::SQLITE_COMMIT_LATENCY,
        metrics::Unit::Seconds,
        "Time to commit one SQLite transaction."
    );
    metrics::describe_gauge!(
        m::POSTGRES_POOL,
        "PostgreSQL connections, by state (idle, in_use, max)."
    );
}

/// Connections a PostgreSQL store opens at most, unless told otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// Opens the store a `--backend-store-uri` names, creating MLflow's schema on a new
/// database and refusing one at another schema revision.
pub async fn open(uri: &str, default_artifact_root: &str) -> Result<Stores> {
    open_with_pool(uri, default_artifact_root, DEFAULT_POOL_SIZE).await
}

/// As [`open`], with the size of a PostgreSQL connection pool (SQLite ignores it: one
/// writer and a fixed set of readers serve any load there).
pub async fn open_with_pool(
    uri: &str,
    default_artifact_root: &str,
    pool_size: u32,
) -> Result<Stores> {
    if let Some(path) = uri.strip_prefix("sqlite://") {
        let store = Arc::new(SqliteStore::open(path, default_artifact_root).await?);
        return Ok(Stores {
            tracking: store.clone(),
            logged_models: store.clone(),
            registry: store.clone(),
            predictions: store.clone(),
            jobs: store.clone(),
            monitor: store.clone(),
            data: store,
        });
    }
    if postgres::is_postgres_uri(uri) {
        let store = Arc::new(PgStore::open(uri, default_artifact_root, pool_size).await?);
        return Ok(Stores {
            tracking: store.clone(),
            logged_models: store.clone(),
            registry: store.clone(),
            predictions: store.clone(),
            jobs: store.clone(),
            monitor: store.clone(),
            data: store,
        });
    }
    Err(StoreError::UnsupportedUri(cairn_core::secret::redact(uri)))
}
