//! cairn's jobs API (`/api/2.0/cairn/jobs/...`), for the CLI and `cairn worker`.

use cairn_api_types::jobs::*;
use cairn_api_types::Empty;
use cairn_core::jobs::{Claim, ClaimedStep, JobEvent, JobRun, LogLine, NewLogLine, StepOutcome};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Client, Result};

impl Client {
    async fn jobs_post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.cairn_post(&format!("jobs/{path}"), body).await
    }

    async fn jobs_get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        self.cairn_get(&format!("jobs/{path}"), query).await
    }

    pub async fn list_jobs(&self) -> Result<ListJobsResponse> {
        self.jobs_get("list", &[]).await
    }

    pub async fn get_job(&self, name: &str) -> Result<Job> {
        let r: GetJobResponse = self.jobs_get("get", &[("name", name.to_string())]).await?;
        Ok(r.job)
    }

    /// Starts a run; parameter values may be strings (read as the parameter's type).
    pub async fn run_job(
        &self,
        name: &str,
        params: serde_json::Map<String, serde_json::Value>,
    ) -> Result<JobRun> {
        let r: JobRunResponse = self
            .jobs_post(
                "run",
                &RunJobRequest {
                    name: name.to_string(),
                    params,
                },
            )
            .await?;
        Ok(r.run)
    }

    pub async fn list_job_runs(&self, job: Option<&str>, max_results: u32) -> Result<Vec<JobRun>> {
        let mut q = vec![("max_results", max_results.to_string())];
        if let Some(j) = job {
            q.push(("job", j.to_string()));
        }
        let r: ListJobRunsResponse = self.jobs_get("runs/list", &q).await?;
        Ok(r.runs)
    }

    pub async fn get_job_run(&self, run_id: &str) -> Result<GetJobRunResponse> {
        self.jobs_get("runs/get", &[("run_id", run_id.to_string())])
            .await
    }

    pub async fn job_run_events(&self, run_id: &str, after: i64) -> Result<Vec<JobEvent>> {
        let r: JobEventsResponse = self
            .jobs_get(
                "runs/events",
                &[("run_id", run_id.to_string()), ("after", after.to_string())],
            )
            .await?;
        Ok(r.events)
    }

    pub async fn job_run_logs(&self, run_id: &str, after: i64) -> Result<Vec<LogLine>> {
        let r: JobLogsResponse = self
            .jobs_get(
                "runs/logs",
                &[("run_id", run_id.to_string()), ("after", after.to_string())],
            )
            .await?;
        Ok(r.lines)
    }

    pub async fn cancel_job_run(&self, run_id: &str) -> Result<JobRun> {
        let r: JobRunResponse = self
            .jobs_post(
                "runs/cancel",
                &CancelJobRunRequest {
                    run_id: run_id.to_string(),
                },
            )
            .await?;
        Ok(r.run)
    }

    /// Pauses or resumes schedule `schedule` (its index in the job file) of `name`.
    pub async fn set_job_schedule_paused(
        &self,
        name: &str,
        schedule: u32,
        paused: bool,
    ) -> Result<JobSchedule> {
        let r: SetSchedulePausedResponse = self
            .jobs_post(
                "schedules/set-paused",
                &SetSchedulePausedRequest {
                    name: name.to_string(),
                    schedule,
                    paused,
                },
            )
            .await?;
        Ok(r.schedule)
    }

    pub async fn set_job_tag_limit(&self, tag: &str, slots: Option<i64>) -> Result<()> {
        let _: Empty = self
            .jobs_post(
                "tag-limits/set",
                &SetTagLimitRequest {
                    tag: tag.to_string(),
                    slots,
                },
            )
            .await?;
        Ok(())
    }

    // ---- the worker protocol -----------------------------------------------------------

    pub async fn claim_job_steps(&self, claim: Claim) -> Result<Vec<ClaimedStep>> {
        let r: ClaimResponse = self
            .jobs_post("worker/claim", &ClaimRequest { claim })
            .await?;
        Ok(r.steps)
    }

    pub async fn heartbeat_job_steps(
        &self,
        worker: &str,
        tries: Vec<HeldTry>,
        lease_ms: i64,
    ) -> Result<Vec<bool>> {
        let r: HeartbeatResponse = self
            .jobs_post(
                "worker/heartbeat",
                &HeartbeatRequest {
                    worker: worker.to_string(),
                    lease_ms,
                    tries,
                },
            )
            .await?;
        Ok(r.stop)
    }

    pub async fn finish_job_step(&self, outcome: StepOutcome) -> Result<bool> {
        let r: FinishResponse = self
            .jobs_post("worker/finish", &FinishRequest { outcome })
            .await?;
        Ok(r.accepted)
    }

    pub async fn append_job_logs(&self, run_id: &str, lines: Vec<NewLogLine>) -> Result<()> {
        let _: Empty = self
            .jobs_post(
                "worker/logs",
                &AppendLogsRequest {
                    run_id: run_id.to_string(),
                    lines,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn cached_job_step(
        &self,
        cache_key: &str,
        max_age_ms: Option<i64>,
    ) -> Result<CachedResponse> {
        self.jobs_post(
            "worker/cached",
            &CachedRequest {
                cache_key: cache_key.to_string(),
                max_age_ms,
            },
        )
        .await
    }

    pub async fn promote_job_step(
        &self,
        req: &PromoteRequest,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let r: PromoteResponse = self.jobs_post("worker/promote", req).await?;
        Ok(r.outputs)
    }
}
