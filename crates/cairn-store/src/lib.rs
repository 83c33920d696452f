//! The metadata store: MLflow's schema, and the SQL that reads and writes it.
//!
//! Services talk to a [`TrackingStore`] trait object; each backend implements it on
//! MLflow's own tables so that `mlflow server` and cairn can share one database. The
//! store only persists: it trusts its caller (the service layer) to have validated
//! input and checked rules such as "writes go to active runs only".

mod error;
pub mod schema;
mod sqlite;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use cairn_core::entities::{
    DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput, Page, Run,
    RunInfo, RunStatus,
};

pub use error::StoreError;
pub use sqlite::SqliteStore;
pub use types::{ExperimentSearch, HistoryRange, NewExperiment, NewRun, RunSearch};

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
    async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
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
    /// Closes connections cleanly (checkpointing SQLite's WAL).
    async fn close(&self);
}

/// Opens the store a `--backend-store-uri` names, creating MLflow's schema on a new
/// database and refusing one at another schema revision.
pub async fn open(uri: &str, default_artifact_root: &str) -> Result<Arc<dyn TrackingStore>> {
    if let Some(path) = uri.strip_prefix("sqlite://") {
        let store = SqliteStore::open(path, default_artifact_root).await?;
        return Ok(Arc::new(store));
    }
    Err(StoreError::UnsupportedUri(uri.to_string()))
}
