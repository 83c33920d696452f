//! cairn's jobs API (`/api/2.0/cairn/jobs/...`): the jobs folder's jobs, their runs
//! (start, follow, cancel), tag limits, and the protocol of `cairn worker`.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_api_types::jobs::*;
use cairn_api_types::Empty;
use cairn_core::jobs::JobRunId;
use cairn_core::{ErrorCode, MlflowError};
use cairn_jobs::spec::{ScheduleKind, Trigger};
use cairn_jobs::{JobSpec, LibraryState};
use cairn_service::jobs::{ScheduleState, Start};
use cairn_service::Services;

use super::Errors;
use crate::error::ApiResult;
use crate::extract::MlflowRequest;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/jobs/list", get(list_jobs))
        .route("/jobs/get", get(get_job))
        .route("/jobs/run", post(run_job))
        .route("/jobs/runs/list", get(list_runs))
        .route("/jobs/runs/get", get(get_run))
        .route("/jobs/runs/events", get(run_events))
        .route("/jobs/runs/logs", get(run_logs))
        .route("/jobs/runs/cancel", post(cancel_run))
        .route("/jobs/schedules/set-paused", post(set_schedule_paused))
        .route("/jobs/tag-limits/set", post(set_tag_limit))
        .route("/jobs/tag-limits/list", get(tag_limits))
        .route("/jobs/worker/claim", post(claim))
        .route("/jobs/worker/heartbeat", post(heartbeat))
        .route("/jobs/worker/finish", post(finish))
        .route("/jobs/worker/logs", post(append_logs))
        .route("/jobs/worker/cached", post(cached))
        .route("/jobs/worker/promote", post(promote))
        .route("/jobs/webhook/{name}", post(webhook))
}

/// The jobs API's part of the document (paths relative to cairn's prefix).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_jobs,
    get_job,
    run_job,
    list_runs,
    get_run,
    run_events,
    run_logs,
    cancel_run,
    set_schedule_paused,
    set_tag_limit,
    tag_limits,
    claim,
    heartbeat,
    finish,
    append_logs,
    cached,
    promote
))]
pub(super) struct Api;

fn number(field: &str, value: Option<&str>, default: i64) -> ApiResult<i64> {
    match value {
        None => Ok(default),
        Some(v) => v.parse::<i64>().map_err(|_| {
            MlflowError::new(
                ErrorCode::InvalidParameterValue,
                format!("{field} must be an integer, got '{v}'"),
            )
            .into()
        }),
    }
}

fn run_id(value: Option<&str>) -> ApiResult<JobRunId> {
    Ok(JobRunId::parse(value.unwrap_or_default())?)
}

/// The jobs of the jobs folder, and the files that do not read.
#[utoipa::path(get, path = "/jobs/list", tag = "jobs", operation_id = "listJobs",
    responses((status = 200, description = "every job, and every file in error", body = ListJobsResponse), Errors))]
async fn list_jobs(State(s): State<Services>) -> ApiResult<Json<ListJobsResponse>> {
    let Some(state) = s.jobs.library_state() else {
        return Ok(Json(ListJobsResponse::default()));
    };
    let active: Vec<&std::path::Path> = state.items.values().map(|j| j.file.as_path()).collect();
    let mut jobs = Vec::with_capacity(state.items.len());
    for j in state.items.values() {
        let schedules = s.jobs.schedules(j).await?;
        jobs.push(job_view(j, &schedules, Some(&state)));
    }
    Ok(Json(ListJobsResponse {
        jobs,
        errors: state
            .errors
            .iter()
            .filter(|(f, _)| !active.contains(&f.as_path()))
            .map(|(f, e)| JobFileError {
                file: f.display().to_string(),
                error: e.clone(),
            })
            .collect(),
    }))
}

/// A job as the API shows it.
pub(crate) fn job_view(
    j: &JobSpec,
    schedules: &[ScheduleState],
    state: Option<&LibraryState>,
) -> Job {
    Job {
        name: j.name.clone(),
        description: j.description.clone(),
        file: j.file.display().to_string(),
        version: j.version.clone(),
        pool: j.pool.clone(),
        parameters: j
            .parameters
            .iter()
            .map(|p| JobParameter {
                name: p.name.clone(),
                ty: p.ty.as_str().to_string(),
                default: p.default.as_ref().map(|d| d.to_json()),
                required: p.required,
                description: p.description.clone(),
                choices: p.choices.clone(),
            })
            .collect(),
        schedules: schedules.iter().map(schedule_view).collect(),
        triggers: j.triggers.iter().map(describe_trigger).collect(),
        steps: j
            .steps
            .iter()
            .map(|st| JobStep {
                name: st.name.clone(),
                kind: st.kind.clone(),
                needs: st.needs.clone(),
                retries: st.retry.retries,
                timeout_ms: st.timeout.map(|t| t.as_millis() as i64),
                tags: st.tags.clone(),
                cached: st.cache.is_some(),
            })
            .collect(),
        error: state.and_then(|s| s.error_for(&j.name)).map(str::to_string),
    }
}

fn describe_trigger(t: &Trigger) -> String {
    let opt =
        |k: &str, v: &Option<String>| v.as_ref().map(|v| format!(" {k}={v}")).unwrap_or_default();
    match t {
        Trigger::ModelVersionCreated { model } => {
            format!("model_version_created{}", opt("model", model))
        }
        Trigger::AliasSet { model, alias } => {
            format!("alias_set{}{}", opt("model", model), opt("alias", alias))
        }
        Trigger::JobCompleted { job, states } => {
            format!("job_completed job={job} states={}", states.join(","))
        }
        Trigger::Webhook { secret_env } => format!("webhook secret_env={secret_env}"),
    }
}

fn schedule_view(sc: &ScheduleState) -> JobSchedule {
    JobSchedule {
        index: sc.index as u32,
        description: match &sc.when {
            ScheduleKind::Cron { expr, timezone } => format!("cron {expr} ({timezone})"),
            ScheduleKind::Interval { every } => {
                format!("every {}", humantime::format_duration(*every))
            }
        },
        paused: sc.paused,
        paused_in_file: sc.paused_in_file,
        next_ms: sc.next_ms,
    }
}

/// One job as its file defines it now.
#[utoipa::path(get, path = "/jobs/get", tag = "jobs", operation_id = "getJob",
    params(GetJobRequest),
    responses((status = 200, description = "the job", body = GetJobResponse), Errors))]
async fn get_job(
    State(s): State<Services>,
    Query(q): Query<GetJobRequest>,
) -> ApiResult<Json<GetJobResponse>> {
    let name = q.name.unwrap_or_default();
    if name.is_empty() {
        return Err(MlflowError::missing("name").into());
    }
    let job = s.jobs.job(&name)?;
    let state = s.jobs.library_state();
    let schedules = s.jobs.schedules(&job).await?;
    Ok(Json(GetJobResponse {
        job: job_view(&job, &schedules, state.as_deref()),
    }))
}

/// Starts a run of a job now.
#[utoipa::path(post, path = "/jobs/run", tag = "jobs", operation_id = "runJob",
    request_body = RunJobRequest,
    responses((status = 200, description = "the run, PENDING", body = JobRunResponse), Errors))]
async fn run_job(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunJobRequest>,
) -> ApiResult<Json<JobRunResponse>> {
    if req.name.is_empty() {
        return Err(MlflowError::missing("name").into());
    }
    let run = s
        .jobs
        .run_job(&req.name, &req.params, Start::manual())
        .await?
        .ok_or_else(|| MlflowError::internal("the run was not created"))?;
    Ok(Json(JobRunResponse { run }))
}

/// Runs, newest first, of one job or of all.
#[utoipa::path(get, path = "/jobs/runs/list", tag = "jobs", operation_id = "listJobRuns",
    params(ListJobRunsRequest),
    responses((status = 200, description = "the runs", body = ListJobRunsResponse), Errors))]
async fn list_runs(
    State(s): State<Services>,
    Query(q): Query<ListJobRunsRequest>,
) -> ApiResult<Json<ListJobRunsResponse>> {
    let limit = number("max_results", q.max_results.as_deref(), 100)?;
    let runs = s
        .jobs
        .list_runs(q.job.as_deref(), limit.clamp(1, 1000) as u32)
        .await?;
    Ok(Json(ListJobRunsResponse { runs }))
}

/// A run with its steps.
#[utoipa::path(get, path = "/jobs/runs/get", tag = "jobs", operation_id = "getJobRun",
    params(JobRunRequest),
    responses((status = 200, description = "the run and its steps", body = GetJobRunResponse), Errors))]
async fn get_run(
    State(s): State<Services>,
    Query(q): Query<JobRunRequest>,
) -> ApiResult<Json<GetJobRunResponse>> {
    let d = s.jobs.get_run(&run_id(q.run_id.as_deref())?).await?;
    Ok(Json(GetJobRunResponse {
        run: d.run,
        steps: d.steps,
    }))
}

/// A run's state changes after `after`, oldest first.
#[utoipa::path(get, path = "/jobs/runs/events", tag = "jobs", operation_id = "getJobRunEvents",
    params(JobRunRequest),
    responses((status = 200, description = "the transitions", body = JobEventsResponse), Errors))]
async fn run_events(
    State(s): State<Services>,
    Query(q): Query<JobRunRequest>,
) -> ApiResult<Json<JobEventsResponse>> {
    let id = run_id(q.run_id.as_deref())?;
    let after = number("after", q.after.as_deref(), 0)?;
    Ok(Json(JobEventsResponse {
        events: s.jobs.events(&id, after).await?,
    }))
}

/// A run's log lines after `after`, oldest first: poll with the last id to follow.
#[utoipa::path(get, path = "/jobs/runs/logs", tag = "jobs", operation_id = "getJobRunLogs",
    params(JobRunRequest),
    responses((status = 200, description = "the lines", body = JobLogsResponse), Errors))]
async fn run_logs(
    State(s): State<Services>,
    Query(q): Query<JobRunRequest>,
) -> ApiResult<Json<JobLogsResponse>> {
    let id = run_id(q.run_id.as_deref())?;
    let after = number("after", q.after.as_deref(), 0)?;
    let limit = number("max_results", q.max_results.as_deref(), 1000)?;
    Ok(Json(JobLogsResponse {
        lines: s
            .jobs
            .logs(&id, after, limit.clamp(1, 10_000) as u32)
            .await?,
    }))
}

/// Cancels a run: steps not started end at once, running ones when their worker has
/// stopped their processes.
#[utoipa::path(post, path = "/jobs/runs/cancel", tag = "jobs", operation_id = "cancelJobRun",
    request_body = CancelJobRunRequest,
    responses((status = 200, description = "the run, CANCELLING or ended", body = JobRunResponse), Errors))]
async fn cancel_run(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CancelJobRunRequest>,
) -> ApiResult<Json<JobRunResponse>> {
    let run = s.jobs.cancel(&run_id(Some(&req.run_id))?).await?;
    Ok(Json(JobRunResponse { run }))
}

/// Pauses or resumes one schedule of a job, over what its file says. A resumed
/// schedule fires at its next time, never for the times it was paused through.
#[utoipa::path(post, path = "/jobs/schedules/set-paused", tag = "jobs", operation_id = "setJobSchedulePaused",
    request_body = SetSchedulePausedRequest,
    responses((status = 200, description = "the schedule as it stands", body = SetSchedulePausedResponse), Errors))]
async fn set_schedule_paused(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SetSchedulePausedRequest>,
) -> ApiResult<Json<SetSchedulePausedResponse>> {
    if req.name.is_empty() {
        return Err(MlflowError::missing("name").into());
    }
    let sc = s
        .jobs
        .set_schedule_paused(&req.name, req.schedule as usize, req.paused)
        .await?;
    Ok(Json(SetSchedulePausedResponse {
        schedule: schedule_view(&sc),
    }))
}

/// Limits how many steps with a tag run at once, across every worker.
#[utoipa::path(post, path = "/jobs/tag-limits/set", tag = "jobs", operation_id = "setJobTagLimit",
    request_body = SetTagLimitRequest,
    responses((status = 200, description = "set", body = Empty), Errors))]
async fn set_tag_limit(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<SetTagLimitRequest>,
) -> ApiResult<Json<Empty>> {
    s.jobs.set_tag_limit(&req.tag, req.slots).await?;
    Ok(Json(Empty {}))
}

#[utoipa::path(get, path = "/jobs/tag-limits/list", tag = "jobs", operation_id = "listJobTagLimits",
    responses((status = 200, description = "every limit", body = TagLimitsResponse), Errors))]
async fn tag_limits(State(s): State<Services>) -> ApiResult<Json<TagLimitsResponse>> {
    let limits = s
        .jobs
        .tag_limits()
        .await?
        .into_iter()
        .map(|(tag, slots)| TagLimit { tag, slots })
        .collect();
    Ok(Json(TagLimitsResponse { limits }))
}

/// A worker claims ready steps of its pool (leases it renews by heartbeat).
#[utoipa::path(post, path = "/jobs/worker/claim", tag = "jobs", operation_id = "claimJobSteps",
    request_body = ClaimRequest,
    responses((status = 200, description = "the steps claimed, maybe none", body = ClaimResponse), Errors))]
async fn claim(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<ClaimRequest>,
) -> ApiResult<Json<ClaimResponse>> {
    Ok(Json(ClaimResponse {
        steps: s.jobs.claim(req.claim).await?,
    }))
}

/// A worker renews its claims; the answer says which tries to stop.
#[utoipa::path(post, path = "/jobs/worker/heartbeat", tag = "jobs", operation_id = "heartbeatJobSteps",
    request_body = HeartbeatRequest,
    responses((status = 200, description = "per try, whether to stop it", body = HeartbeatResponse), Errors))]
async fn heartbeat(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    let tries = req
        .tries
        .into_iter()
        .map(|t| (t.run_id, t.step_name, t.attempt))
        .collect();
    Ok(Json(HeartbeatResponse {
        stop: s.jobs.heartbeat(&req.worker, tries, req.lease_ms).await?,
    }))
}

/// A worker reports how a try ended.
#[utoipa::path(post, path = "/jobs/worker/finish", tag = "jobs", operation_id = "finishJobStep",
    request_body = FinishRequest,
    responses((status = 200, description = "whether it was recorded", body = FinishResponse), Errors))]
async fn finish(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<FinishRequest>,
) -> ApiResult<Json<FinishResponse>> {
    Ok(Json(FinishResponse {
        accepted: s.jobs.finish(req.outcome).await?,
    }))
}

/// A worker sends a try's log lines.
#[utoipa::path(post, path = "/jobs/worker/logs", tag = "jobs", operation_id = "appendJobLogs",
    request_body = AppendLogsRequest,
    responses((status = 200, description = "stored", body = Empty), Errors))]
async fn append_logs(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<AppendLogsRequest>,
) -> ApiResult<Json<Empty>> {
    s.jobs
        .append_logs(&run_id(Some(&req.run_id))?, req.lines)
        .await?;
    Ok(Json(Empty {}))
}

/// A worker asks for an earlier success with the same inputs.
#[utoipa::path(post, path = "/jobs/worker/cached", tag = "jobs", operation_id = "cachedJobStep",
    request_body = CachedRequest,
    responses((status = 200, description = "the run and outputs, when there is one", body = CachedResponse), Errors))]
async fn cached(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CachedRequest>,
) -> ApiResult<Json<CachedResponse>> {
    let hit = s.jobs.cached(&req.cache_key, req.max_age_ms).await?;
    Ok(Json(match hit {
        Some((run_id, outputs)) => CachedResponse {
            run_id: Some(run_id),
            outputs: Some(outputs),
        },
        None => CachedResponse::default(),
    }))
}

/// A worker runs a `promote` step: the alias moves when the version's tags pass.
#[utoipa::path(post, path = "/jobs/worker/promote", tag = "jobs", operation_id = "promoteJobStep",
    request_body = PromoteRequest,
    responses((status = 200, description = "the step's outputs", body = PromoteResponse), Errors))]
async fn promote(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<PromoteRequest>,
) -> ApiResult<Json<PromoteResponse>> {
    Ok(Json(PromoteResponse {
        outputs: s
            .jobs
            .promote(&req.model, &req.version, &req.alias, &req.require_tags)
            .await?,
    }))
}

/// Starts a run of a job from another system (a CI pipeline, a data arrival): the
/// job's `webhook` trigger names the server environment variable holding the secret,
/// sent as `Authorization: Bearer <secret>`. The JSON body's fields become the run's
/// `event` (`${{ event.<field> }}`), its `params` object the run's parameters; an
/// `X-Cairn-Delivery` (or GitHub's `X-GitHub-Delivery`) header makes a retried call
/// start nothing new.
#[utoipa::path(post, path = "/jobs/webhook/{name}", tag = "jobs", operation_id = "jobWebhook",
    params(("name" = String, Path, description = "the job")),
    request_body(content = Object, description = "event fields, and optionally `params`"),
    responses((status = 200, description = "the run started, or none for a delivery seen before", body = WebhookResponse),
        (status = 401, description = "no or wrong secret", body = cairn_api_types::ErrorBody), Errors))]
async fn webhook(
    State(s): State<Services>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<WebhookResponse>> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let token = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    let delivery = header("x-cairn-delivery").or_else(|| header("x-github-delivery"));
    let body =
        if body.is_empty() {
            serde_json::Map::new()
        } else {
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => return Err(MlflowError::invalid_parameter(
                    "the webhook's body is a JSON object (event fields, and optionally `params`)",
                )
                .into()),
            }
        };
    let run = s.jobs.webhook(&name, token, delivery, body).await?;
    Ok(Json(WebhookResponse {
        duplicate: run.is_none(),
        run,
    }))
}
