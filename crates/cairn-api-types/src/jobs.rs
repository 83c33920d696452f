//! cairn's jobs API (`/api/2.0/cairn/jobs/...`): the jobs of the jobs folder, their
//! runs, and the protocol workers on other machines speak.

use std::collections::BTreeMap;

use cairn_core::jobs::{
    Claim, ClaimedStep, JobEvent, JobRun, LogLine, NewLogLine, StepOutcome, StepRun,
};
use serde::{Deserialize, Serialize};

/// A parameter of a job, as its run form shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobParameter {
    pub name: String,
    /// `string`, `int`, `float`, `bool` or `choice`.
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub default: Option<serde_json::Value>,
    pub required: bool,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// A step of a job's DAG.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobStep {
    pub name: String,
    pub kind: String,
    pub needs: Vec<String>,
    pub retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    pub tags: Vec<String>,
    pub cached: bool,
}

/// A schedule of a job.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobSchedule {
    /// Its place in the job file's `schedules:` list (what pausing names).
    #[serde(default)]
    pub index: u32,
    /// `cron: 0 2 * * * (Europe/Paris)` or `every 15m`.
    pub description: String,
    /// Paused now: by the file, or set from the UI, the API or the CLI over it.
    pub paused: bool,
    /// What the job file says, before any pause or resume set over it.
    #[serde(default)]
    pub paused_in_file: bool,
    /// The next time it fires (Unix ms), unless paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_ms: Option<i64>,
}

/// A job as the jobs folder defines it now.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    pub name: String,
    pub description: String,
    pub file: String,
    /// The digest of the file's text that runs started now use.
    pub version: String,
    pub pool: String,
    pub parameters: Vec<JobParameter>,
    pub schedules: Vec<JobSchedule>,
    /// Each trigger described (`alias_set model=wine alias=challenger`).
    pub triggers: Vec<String>,
    pub steps: Vec<JobStep>,
    /// The error of the file's latest edit, when it does not read (this job is its
    /// last good version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A job file that does not read and defines no active job.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobFileError {
    pub file: String,
    pub error: String,
}

/// `jobs/list`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListJobsResponse {
    #[serde(default)]
    pub jobs: Vec<Job>,
    #[serde(default)]
    pub errors: Vec<JobFileError>,
}

/// `jobs/get`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct GetJobRequest {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GetJobResponse {
    pub job: Job,
}

/// `jobs/run`: starts a run; parameters are checked against the job's types
/// (strings are read as the type, as from a form or the CLI).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunJobRequest {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobRunResponse {
    pub run: JobRun,
}

/// `jobs/runs/list`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct ListJobRunsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// An integer, 100 if absent (at most 1,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListJobRunsResponse {
    #[serde(default)]
    pub runs: Vec<JobRun>,
}

/// `jobs/runs/get`, `jobs/runs/events`, `jobs/runs/logs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct JobRunRequest {
    pub run_id: Option<String>,
    /// Events or log lines after this id (an integer), for following a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// An integer, 1,000 if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GetJobRunResponse {
    pub run: JobRun,
    pub steps: Vec<StepRun>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobEventsResponse {
    #[serde(default)]
    pub events: Vec<JobEvent>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobLogsResponse {
    #[serde(default)]
    pub lines: Vec<LogLine>,
}

/// `jobs/runs/cancel`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CancelJobRunRequest {
    #[serde(default)]
    pub run_id: String,
}

/// `jobs/schedules/set-paused`: pauses or resumes one schedule of a job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetSchedulePausedRequest {
    #[serde(default)]
    pub name: String,
    /// The schedule's index in the job file's `schedules:` list, from 0.
    #[serde(default)]
    pub schedule: u32,
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetSchedulePausedResponse {
    pub schedule: JobSchedule,
}

/// `jobs/tag-limits/set`: `slots` absent removes the limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetTagLimitRequest {
    #[serde(default)]
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TagLimit {
    pub tag: String,
    pub slots: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TagLimitsResponse {
    #[serde(default)]
    pub limits: Vec<TagLimit>,
}

// ---- the worker protocol ---------------------------------------------------------------

/// `jobs/worker/claim`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimRequest {
    pub claim: Claim,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimResponse {
    #[serde(default)]
    pub steps: Vec<ClaimedStep>,
}

/// One try a worker holds: (run id, step, attempt).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeldTry {
    pub run_id: String,
    pub step_name: String,
    pub attempt: i64,
}

/// `jobs/worker/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeartbeatRequest {
    pub worker: String,
    pub lease_ms: i64,
    pub tries: Vec<HeldTry>,
}

/// Per try, in order: whether to stop it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeartbeatResponse {
    #[serde(default)]
    pub stop: Vec<bool>,
}

/// `jobs/worker/finish`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FinishRequest {
    pub outcome: StepOutcome,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FinishResponse {
    /// False when the try had lost its claim (nothing was recorded).
    pub accepted: bool,
}

/// `jobs/worker/logs`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppendLogsRequest {
    pub run_id: String,
    pub lines: Vec<NewLogLine>,
}

/// `jobs/worker/cached`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CachedRequest {
    pub cache_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CachedResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub outputs: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `jobs/worker/promote`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromoteRequest {
    pub model: String,
    pub version: String,
    pub alias: String,
    #[serde(default)]
    pub require_tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromoteResponse {
    #[schema(value_type = Object)]
    pub outputs: serde_json::Map<String, serde_json::Value>,
}

/// `jobs/webhook/{name}`: the run started, or none (`duplicate`) for a delivery id
/// seen before.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<JobRun>,
    #[serde(default)]
    pub duplicate: bool,
}
