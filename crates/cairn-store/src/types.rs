//! What callers hand the store: validated inputs for writes and searches.

use cairn_core::entities::{KeyValue, ViewType};
use cairn_core::search::{Clause, ExperimentAttr, LoggedModelAttr, OrderBy, RegistryAttr, RunAttr};

pub struct NewExperiment {
    pub name: String,
    /// `None`: `<default artifact root>/<new id>`.
    pub artifact_location: Option<String>,
    pub tags: Vec<KeyValue>,
    pub now_ms: i64,
}

pub struct NewRun {
    pub run_id: String,
    pub experiment_id: i64,
    pub user_id: String,
    pub run_name: String,
    pub start_time: Option<i64>,
    pub artifact_uri: String,
    pub tags: Vec<KeyValue>,
}

#[derive(Clone)]
pub struct ExperimentSearch {
    pub filter: Vec<Clause<ExperimentAttr>>,
    pub order_by: Vec<OrderBy<ExperimentAttr>>,
    pub view_type: ViewType,
    pub max_results: u64,
    pub offset: u64,
}

#[derive(Clone)]
pub struct RunSearch {
    pub experiment_ids: Vec<i64>,
    pub filter: Vec<Clause<RunAttr>>,
    pub order_by: Vec<OrderBy<RunAttr>>,
    pub view_type: ViewType,
    pub max_results: u64,
    pub offset: u64,
}

#[derive(Clone)]
pub struct HistoryRange {
    pub run_ids: Vec<String>,
    pub key: String,
    pub start_step: Option<i64>,
    pub end_step: Option<i64>,
}

pub struct NewModelVersion {
    pub name: String,
    pub source: String,
    /// Where the files are: the source itself, or what a `models:/` source resolves to.
    pub storage_location: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<KeyValue>,
    pub now_ms: i64,
}

/// A registered-model or model-version search.
#[derive(Clone)]
pub struct RegistrySearch {
    pub filter: Vec<Clause<RegistryAttr>>,
    pub order_by: Vec<OrderBy<RegistryAttr>>,
    pub max_results: u64,
    pub offset: u64,
}

pub struct NewLoggedModel {
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub artifact_location: String,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    pub now_ms: i64,
}

/// A logged-model search: experiments, a validated filter, order and page.
#[derive(Clone)]
pub struct LoggedModelSearch {
    pub experiment_ids: Vec<i64>,
    pub filter: Vec<Clause<LoggedModelAttr>>,
    pub order_by: Vec<OrderBy<LoggedModelAttr>>,
    pub max_results: u64,
    pub offset: u64,
}

/// A job run to create, with its steps (see [`crate::JobStore::create_job_run`]).
#[derive(Debug, Clone)]
pub struct NewJobRun {
    /// The run as it starts (PENDING, or SCHEDULED for a later time).
    pub run: cairn_core::jobs::JobRun,
    pub job_file: String,
    /// The job file's text the run keeps, whatever later edits do.
    pub job_source: String,
    pub pool: String,
    /// Makes the run once per key (a schedule's time, a webhook delivery): a second
    /// run with a used key is not created.
    pub dedup_key: Option<String>,
    pub steps: Vec<NewStep>,
}

#[derive(Debug, Clone)]
pub struct NewStep {
    pub name: String,
    pub needs: Vec<String>,
    pub tags: Vec<String>,
    pub retry: cairn_core::jobs::RetryPolicy,
    pub timeout_ms: Option<i64>,
}

/// What an online evaluation reads: a model's predictions in `[since_ms, until_ms)`,
/// one version or all, cut into windows of `width_ms` counted from `origin_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalScope {
    pub model_name: String,
    pub version: Option<i64>,
    pub since_ms: i64,
    pub until_ms: i64,
    pub alias: Option<String>,
    pub origin_ms: i64,
    pub width_ms: i64,
}

/// Predictions of one version in one window, and how many have ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageGroup {
    pub version: i64,
    pub bucket_ms: i64,
    pub predictions: i64,
    pub labelled: i64,
    /// Sum and largest of (ground truth's event time - prediction time) over the
    /// labelled rows.
    pub delay_sum_ms: Option<f64>,
    pub delay_max_ms: Option<i64>,
}

/// Labelled predictions of one version in one window with one (predicted, true)
/// pair: a cell of the window's confusion matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelGroup {
    pub version: i64,
    pub bucket_ms: i64,
    /// `None` when the logged outputs have no such key.
    pub predicted: Option<String>,
    pub truth: String,
    pub count: i64,
}

/// An evaluation or drift result to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMonitorReport {
    pub model_name: String,
    pub model_version: Option<i64>,
    /// `evaluation` or `drift`.
    pub kind: String,
    pub window_start_ms: Option<i64>,
    pub window_end_ms: Option<i64>,
    pub job_run_id: Option<String>,
    pub summary: serde_json::Value,
    pub report: serde_json::Value,
}
