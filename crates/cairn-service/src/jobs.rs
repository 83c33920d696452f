//! Jobs: runs started by hand, by schedule or by an event; the queue workers claim
//! from; cancellation; schedules fired once per time across replicas.
//!
//! The job files are the [`JobLibrary`] (read again when they change); a run keeps
//! the text of the file it started with, so an edit never changes a run in flight.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cairn_core::jobs::{
    Claim, ClaimedStep, JobEvent, JobRun, JobRunId, LogLine, NewLogLine, State, StepOutcome,
    StepRun,
};
use cairn_core::registry::RegistryEvent;
use cairn_core::{MlflowError, Result};
use cairn_jobs::spec::{ScheduleKind, Trigger};
use cairn_jobs::{JobError, JobLibrary, JobSpec, LibraryState};
use cairn_store::{JobStore, NewJobRun, NewStep};
use serde_json::{Map, Value};
use tokio::sync::Notify;

use crate::now_ms;
use crate::registry::RegistryService;

/// A job's schedule as it stands: what its file says, with a pause or resume set over
/// it from the UI, the API or the CLI.
#[derive(Debug, Clone)]
pub struct ScheduleState {
    /// Its place in the job file's `schedules:` list.
    pub index: usize,
    pub when: ScheduleKind,
    pub paused: bool,
    /// What the file says (`paused: true`), before any override.
    pub paused_in_file: bool,
    /// The next time it fires (none while paused).
    pub next_ms: Option<i64>,
}

/// A run with its steps, for the API and the UI.
#[derive(Debug, Clone)]
pub struct RunDetail {
    pub run: JobRun,
    pub steps: Vec<StepRun>,
}

/// What started a run.
#[derive(Debug, Clone)]
pub struct Start {
    /// `manual`, `schedule`, `model_version_created`, `alias_set`, `job_completed`,
    /// `webhook`.
    pub trigger: String,
    pub event: Map<String, Value>,
    /// Runs once per key.
    pub dedup_key: Option<String>,
}

impl Start {
    pub fn manual() -> Self {
        Start {
            trigger: "manual".into(),
            event: Map::new(),
            dedup_key: None,
        }
    }
}

/// How long the scheduler's leadership lasts without renewal: another replica takes
/// over within this after the leader dies.
const LEADER_LEASE_MS: i64 = 10_000;

/// The longest a worker's claim waits on the server for a step.
const MAX_CLAIM_WAIT_MS: i64 = 20_000;

pub struct JobService {
    store: Arc<dyn JobStore>,
    /// The jobs folder, once `cairn server` attached one (none: no jobs).
    library: std::sync::OnceLock<Arc<JobLibrary>>,
    registry: Arc<RegistryService>,
    /// This process, as a lease holder.
    holder: String,
    /// Workers in this process, woken when a run is created here.
    wakers: Mutex<Vec<Arc<Notify>>>,
    /// Claims waiting (long polls of workers elsewhere), woken with the workers.
    ready: Notify,
    /// Set when the server shuts down: waiting claims answer at once.
    closing: tokio_util::sync::CancellationToken,
}

fn job_error(e: JobError) -> MlflowError {
    match e {
        JobError::Param { .. } | JobError::Spec { .. } | JobError::Template { .. } => {
            MlflowError::invalid_parameter(e.to_string())
        }
        JobError::Io(io) => MlflowError::internal(io.to_string()),
    }
}

impl JobService {
    pub fn new(store: Arc<dyn JobStore>, registry: Arc<RegistryService>) -> Self {
        JobService {
            store,
            library: std::sync::OnceLock::new(),
            registry,
            holder: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
            wakers: Mutex::new(Vec::new()),
            ready: Notify::new(),
            closing: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Ends waiting claims now and answers later ones at once (the server is
    /// shutting down).
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Serves the jobs of `library` (once; later calls change nothing).
    pub fn attach_library(&self, library: Arc<JobLibrary>) {
        let _ = self.library.set(library);
    }

    pub fn library(&self) -> Option<&Arc<JobLibrary>> {
        self.library.get()
    }

    /// The jobs folder's state now, if one is attached.
    pub fn library_state(&self) -> Option<Arc<LibraryState>> {
        self.library.get().map(|l| l.state())
    }

    /// Registers a worker of this process to wake on new runs.
    pub fn add_waker(&self, waker: Arc<Notify>) {
        self.wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(waker);
    }

    fn wake(&self) {
        for w in self.wakers.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            w.notify_one();
        }
        self.ready.notify_waiters();
    }

    /// The job `name` as its file defines it now.
    pub fn job(&self, name: &str) -> Result<Arc<JobSpec>> {
        self.library_state()
            .and_then(|s| s.get(name).cloned())
            .ok_or_else(|| MlflowError::not_found(format!("job `{name}` does not exist")))
    }

    /// The schedules of `job` as they stand (file settings and pauses set over them).
    pub async fn schedules(&self, job: &JobSpec) -> Result<Vec<ScheduleState>> {
        let overrides = self.store.job_schedule_pauses().await?;
        let now = now_ms();
        Ok(job
            .schedules
            .iter()
            .enumerate()
            .map(|(index, sc)| {
                let key = schedule_key(index, &sc.when);
                let paused = overrides
                    .iter()
                    .find(|(j, k, _)| *j == job.name && *k == key)
                    .map_or(sc.paused, |(_, _, p)| *p);
                ScheduleState {
                    index,
                    when: sc.when.clone(),
                    paused,
                    paused_in_file: sc.paused,
                    next_ms: (!paused)
                        .then(|| cairn_jobs::schedule::next_after(sc, now))
                        .flatten(),
                }
            })
            .collect())
    }

    /// Pauses or resumes schedule `index` of `job` (Prefect's pause on a deployment's
    /// schedule). A paused schedule starts no run; resumed, it fires at its next time
    /// and never for the times it was paused through. It holds until it is set again
    /// or the schedule's definition is edited in the file (the file then decides).
    #[tracing::instrument(skip(self))]
    pub async fn set_schedule_paused(
        &self,
        job: &str,
        index: usize,
        paused: bool,
    ) -> Result<ScheduleState> {
        let spec = self.job(job)?;
        let Some(schedule) = spec.schedules.get(index) else {
            return Err(MlflowError::invalid_parameter(format!(
                "`schedule`: job `{job}` has {} schedule(s), numbered from 0; there is no {index}",
                spec.schedules.len()
            )));
        };
        let key = schedule_key(index, &schedule.when);
        // Back to what the file says, stored as no override at all.
        let over = (paused != schedule.paused).then_some(paused);
        self.store
            .set_job_schedule_paused(&spec.name, &key, over, now_ms())
            .await?;
        tracing::info!(job, schedule = index, paused, "schedule paused or resumed");
        let states = self.schedules(&spec).await?;
        states
            .into_iter()
            .nth(index)
            .ok_or_else(|| MlflowError::internal("a schedule vanished while it was set"))
    }

    /// Starts a run of `job` with `params` (checked against the job's types).
    #[tracing::instrument(skip(self, params, start), fields(trigger = %start.trigger))]
    pub async fn run_job(
        &self,
        job: &str,
        params: &Map<String, Value>,
        start: Start,
    ) -> Result<Option<JobRun>> {
        let spec = self.job(job)?;
        let params = spec.resolve_params(params).map_err(job_error)?;
        let now = now_ms();
        let new = new_run(&spec, params, start, now, now);
        let run = self.store.create_job_run(new).await?;
        if let Some(r) = &run {
            tracing::info!(run_id = %r.run_id, job = %r.job_name, "job run created");
            self.wake();
        }
        Ok(run)
    }

    pub async fn get_run(&self, id: &JobRunId) -> Result<RunDetail> {
        let run = self
            .store
            .get_job_run(id)
            .await?
            .ok_or_else(|| MlflowError::not_found(format!("job run `{id}` does not exist")))?;
        let steps = self.store.job_steps(id).await?;
        Ok(RunDetail { run, steps })
    }

    pub async fn list_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>> {
        Ok(self
            .store
            .search_job_runs(job, limit.clamp(1, 1000))
            .await?)
    }

    pub async fn events(&self, id: &JobRunId, after: i64) -> Result<Vec<JobEvent>> {
        Ok(self.store.job_events(id, after).await?)
    }

    pub async fn logs(&self, id: &JobRunId, after: i64, limit: u32) -> Result<Vec<LogLine>> {
        Ok(self
            .store
            .job_logs(id, after, limit.clamp(1, 10_000))
            .await?)
    }

    /// The job file text a run started with.
    pub async fn run_source(&self, id: &JobRunId) -> Result<String> {
        self.store
            .job_run_source(id)
            .await?
            .map(|(text, _)| text)
            .ok_or_else(|| MlflowError::not_found(format!("job run `{id}` does not exist")))
    }

    #[tracing::instrument(skip(self))]
    pub async fn cancel(&self, id: &JobRunId) -> Result<JobRun> {
        self.store
            .cancel_job_run(id, now_ms())
            .await?
            .ok_or_else(|| MlflowError::not_found(format!("job run `{id}` does not exist")))
    }

    // ---- the worker protocol --------------------------------------------------------

    pub async fn claim(&self, mut claim: Claim) -> Result<Vec<ClaimedStep>> {
        if claim.worker.is_empty() {
            return Err(MlflowError::missing("worker"));
        }
        claim.max = claim.max.clamp(1, 64);
        claim.lease_ms = claim.lease_ms.clamp(1_000, 3_600_000);
        let deadline = tokio::time::Instant::now()
            + std::time::Duration::from_millis(claim.wait_ms.clamp(0, MAX_CLAIM_WAIT_MS) as u64);
        loop {
            // Registered before the store is asked, so a run created between the
            // answer and the wait still wakes this claim.
            let ready = self.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            claim.now_ms = now_ms();
            let steps = self.store.claim_job_steps(claim.clone()).await?;
            let now = tokio::time::Instant::now();
            if !steps.is_empty() || now >= deadline || self.closing.is_cancelled() {
                return Ok(steps);
            }
            // Asked again at least every second: a retry's delay ends, or another
            // replica (which cannot wake this one) created a run.
            let wake = deadline.min(now + std::time::Duration::from_secs(1));
            tokio::select! {
                () = ready => {}
                () = tokio::time::sleep_until(wake) => {}
                () = self.closing.cancelled() => {}
            }
        }
    }

    pub async fn heartbeat(
        &self,
        worker: &str,
        steps: Vec<(String, String, i64)>,
        lease_ms: i64,
    ) -> Result<Vec<bool>> {
        Ok(self
            .store
            .heartbeat_job_steps(worker, steps, now_ms(), lease_ms.clamp(1_000, 3_600_000))
            .await?)
    }

    #[tracing::instrument(skip(self, outcome), fields(run_id = %outcome.run_id, step = %outcome.step_name, state = %outcome.state))]
    pub async fn finish(&self, mut outcome: StepOutcome) -> Result<bool> {
        if !matches!(
            outcome.state,
            State::Completed | State::Failed | State::Crashed | State::Cancelled
        ) {
            return Err(MlflowError::invalid_parameter(format!(
                "a step ends COMPLETED, FAILED, CRASHED or CANCELLED, not {}",
                outcome.state
            )));
        }
        outcome.now_ms = now_ms();
        outcome.draw = rand::random::<f64>();
        let id = outcome.run_id.clone();
        let (step, state) = (outcome.step_name.clone(), outcome.state);
        let accepted = self.store.finish_job_step(outcome).await?;
        if accepted {
            self.record_step(&id, &step, state).await;
            self.after_change(&id).await;
            self.wake();
        }
        Ok(accepted)
    }

    pub async fn append_logs(&self, id: &JobRunId, lines: Vec<NewLogLine>) -> Result<()> {
        Ok(self.store.append_job_logs(id, lines).await?)
    }

    pub async fn cached(
        &self,
        key: &str,
        max_age_ms: Option<i64>,
    ) -> Result<Option<(String, Map<String, Value>)>> {
        let since = max_age_ms.map_or(0, |age| now_ms() - age);
        Ok(self.store.cached_job_step(key, since).await?)
    }

    /// Moves `alias` of `model` to `version` when the version carries every one of
    /// `require_tags`; the step's outputs say whether it did.
    pub async fn promote(
        &self,
        model: &str,
        version: &str,
        alias: &str,
        require_tags: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>> {
        let name = cairn_core::ids::ModelName::parse(model)?;
        let v = cairn_core::ids::Version::parse(version)?;
        let mv = self.registry.get_model_version(&name, v).await?;
        let missing: Vec<String> = require_tags
            .iter()
            .filter(|(k, want)| !mv.tags.iter().any(|t| &t.key == *k && &t.value == *want))
            .map(|(k, want)| format!("{k}={want}"))
            .collect();
        let mut out = Map::new();
        out.insert("model".into(), Value::from(model));
        out.insert("version".into(), Value::from(version));
        out.insert("alias".into(), Value::from(alias));
        if missing.is_empty() {
            self.registry.set_alias(&name, alias, v).await?;
            out.insert("promoted".into(), Value::from(true));
        } else {
            out.insert("promoted".into(), Value::from(false));
            out.insert(
                "reason".into(),
                Value::from(format!(
                    "version {version} lacks the tags {}",
                    missing.join(", ")
                )),
            );
        }
        Ok(out)
    }

    /// The step's duration, for the `cairn_job_step_seconds` histogram.
    async fn record_step(&self, id: &JobRunId, step: &str, state: State) {
        let Ok(Some(run)) = self.store.get_job_run(id).await else {
            return;
        };
        let Ok(steps) = self.store.job_steps(id).await else {
            return;
        };
        if let Some(s) = steps.iter().find(|s| s.step_name == step) {
            if let (Some(a), Some(b)) = (s.started_ms, s.ended_ms) {
                metrics::histogram!("cairn_job_step_seconds", "job" => run.job_name, "state" => state.as_str())
                    .record((b - a).max(0) as f64 / 1000.0);
            }
        }
    }

    /// After a step's change: a run that just ended may trigger other jobs.
    async fn after_change(&self, id: &JobRunId) {
        let Ok(Some(run)) = self.store.get_job_run(id).await else {
            return;
        };
        if !run.state.is_final() {
            return;
        }
        let Some(state) = self.library_state() else {
            return;
        };
        for (name, spec) in &state.items {
            for t in &spec.triggers {
                if let Trigger::JobCompleted { job, states } = t {
                    if job == &run.job_name && states.iter().any(|s| s == run.state.as_str()) {
                        let mut event = Map::new();
                        event.insert("job".into(), Value::from(run.job_name.clone()));
                        event.insert("run_id".into(), Value::from(run.run_id.to_string()));
                        event.insert("state".into(), Value::from(run.state.as_str()));
                        let start = Start {
                            trigger: "job_completed".into(),
                            event,
                            dedup_key: Some(format!("job_completed/{name}/{}", run.run_id)),
                        };
                        if let Err(e) = self.run_job(name, &Map::new(), start).await {
                            tracing::warn!(job = %name, error = %e, "a job_completed trigger could not start its run");
                        }
                    }
                }
            }
        }
    }

    /// Starts the runs of jobs whose triggers match a registry event.
    pub async fn on_registry_event(&self, ev: &RegistryEvent) {
        let Some(state) = self.library_state() else {
            return;
        };
        for (name, spec) in &state.items {
            for t in &spec.triggers {
                let (matches, kind) = match (t, ev) {
                    (
                        Trigger::ModelVersionCreated { model },
                        RegistryEvent::VersionCreated { name: m, .. },
                    ) => (
                        model.as_ref().is_none_or(|x| x == m),
                        "model_version_created",
                    ),
                    (
                        Trigger::AliasSet { model, alias },
                        RegistryEvent::AliasSet {
                            name: m, alias: a, ..
                        },
                    ) => (
                        model.as_ref().is_none_or(|x| x == m)
                            && alias.as_ref().is_none_or(|x| x == a),
                        "alias_set",
                    ),
                    _ => (false, ""),
                };
                if !matches {
                    continue;
                }
                let start = Start {
                    trigger: kind.into(),
                    event: ev.fields(),
                    dedup_key: None,
                };
                match self.run_job(name, &Map::new(), start).await {
                    Ok(Some(run)) => {
                        tracing::info!(job = %name, run_id = %run.run_id, trigger = kind, "registry event started a job run");
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(job = %name, error = %e, "a registry trigger could not start its run");
                    }
                }
            }
        }
    }

    /// A webhook call: starts a run of `job` when `token` is the secret of one of its
    /// `webhook` triggers. The body's fields become the run's `event`, its `params`
    /// object the run's parameters; `delivery` (the sender's id of this call) makes
    /// the call idempotent: the same delivery again starts nothing (`None`).
    #[tracing::instrument(skip(self, token, body))]
    pub async fn webhook(
        &self,
        job: &str,
        token: Option<&str>,
        delivery: Option<&str>,
        body: Map<String, Value>,
    ) -> Result<Option<JobRun>> {
        let spec = self.job(job)?;
        let secrets: Vec<&String> = spec
            .triggers
            .iter()
            .filter_map(|t| match t {
                Trigger::Webhook { secret_env } => Some(secret_env),
                _ => None,
            })
            .collect();
        if secrets.is_empty() {
            return Err(MlflowError::not_found(format!(
                "job `{job}` has no webhook trigger"
            )));
        }
        let unauthenticated = || {
            MlflowError::new(
                cairn_core::ErrorCode::Unauthenticated,
                format!("the webhook of job `{job}` needs its secret as a bearer token"),
            )
        };
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthenticated)?;
        // Compared as digests: equal-length values, so the time taken says nothing of
        // how much of the secret matched.
        let digest = |s: &str| {
            use sha2::Digest;
            sha2::Sha256::digest(s.as_bytes())
        };
        let given = digest(token);
        let known = secrets.iter().any(|var| {
            std::env::var(var)
                .ok()
                .filter(|secret| !secret.is_empty())
                .is_some_and(|secret| digest(&secret) == given)
        });
        if !known {
            tracing::warn!(
                job,
                "a webhook call with a wrong or unset secret was refused"
            );
            return Err(unauthenticated());
        }
        let mut body = body;
        let params = match body.remove("params") {
            Some(Value::Object(p)) => p,
            Some(_) => {
                return Err(MlflowError::invalid_parameter(
                    "`params` is an object of parameter values",
                ))
            }
            None => Map::new(),
        };
        let start = Start {
            trigger: "webhook".into(),
            event: body,
            dedup_key: delivery
                .filter(|d| !d.is_empty())
                .map(|d| format!("webhook/{job}/{d}")),
        };
        self.run_job(job, &params, start).await
    }

    // ---- the scheduler ---------------------------------------------------------------

    /// One pass of the scheduler: if this process leads, gives up the steps of
    /// vanished workers and fires the schedules that are due. Called every second or
    /// so by every replica; one leads at a time.
    pub async fn tick(&self) -> Result<bool> {
        let now = now_ms();
        let leads = self
            .store
            .take_lease("scheduler", &self.holder, now, LEADER_LEASE_MS)
            .await?;
        if !leads {
            return Ok(false);
        }
        let lost = self
            .store
            .expire_job_leases(now, rand::random::<f64>())
            .await?;
        metrics::counter!("cairn_job_lease_losses_total").increment(lost.len() as u64);
        for (run_id, step, attempt) in &lost {
            tracing::warn!(%run_id, %step, attempt, "a worker stopped renewing its claim: the try is CRASHED");
            self.after_change(&JobRunId::from_store(run_id.clone()))
                .await;
        }
        if !lost.is_empty() {
            self.wake();
        }
        let Some(state) = self.library_state() else {
            return Ok(true);
        };
        let overrides = self.store.job_schedule_pauses().await?;
        for spec in state.items.values() {
            for (i, schedule) in spec.schedules.iter().enumerate() {
                let key = schedule_key(i, &schedule.when);
                let paused = overrides
                    .iter()
                    .find(|(j, k, _)| *j == spec.name && *k == key)
                    .map_or(schedule.paused, |(_, _, p)| *p);
                let last = self.store.job_schedule_last(&spec.name, &key).await?;
                let Some(last) = last else {
                    self.store.arm_job_schedule(&spec.name, &key, now).await?;
                    continue;
                };
                if paused {
                    // The mark moves on through a pause, so a resumed schedule fires at
                    // its next time and never for the times it was paused through.
                    if let Some(t) =
                        cairn_jobs::schedule::last_at_or_before(schedule, now).filter(|&t| t > last)
                    {
                        self.store
                            .fire_job_schedule(&spec.name, &key, last, t, None)
                            .await?;
                    }
                    continue;
                }
                let Some(time) = cairn_jobs::schedule::due(schedule, Some(last), now, spec.missed)
                else {
                    if let Some(t) =
                        cairn_jobs::schedule::last_at_or_before(schedule, now).filter(|&t| t > last)
                    {
                        // Missed times skipped: the mark moves on without a run.
                        tracing::info!(job = %spec.name, schedule = i, "missed schedule times skipped (missed: skip)");
                        self.store
                            .fire_job_schedule(&spec.name, &key, last, t, None)
                            .await?;
                    }
                    continue;
                };
                let given: Map<String, Value> = schedule
                    .parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect();
                let params = match spec.resolve_params(&given) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(job = %spec.name, error = %e, "a schedule could not start its run");
                        continue;
                    }
                };
                let mut event = Map::new();
                event.insert("schedule".into(), Value::from(i as i64));
                event.insert("scheduled_ms".into(), Value::from(time));
                let start = Start {
                    trigger: "schedule".into(),
                    event,
                    dedup_key: Some(format!("schedule/{}/{key}/{time}", spec.name)),
                };
                let new = new_run(spec, params, start, now, time);
                if let Some(run) = self
                    .store
                    .fire_job_schedule(&spec.name, &key, last, time, Some(new))
                    .await?
                {
                    tracing::info!(job = %spec.name, run_id = %run.run_id, scheduled_ms = time, "schedule fired");
                    self.wake();
                }
            }
        }
        Ok(true)
    }

    pub async fn set_tag_limit(&self, tag: &str, slots: Option<i64>) -> Result<()> {
        if tag.is_empty() {
            return Err(MlflowError::missing("tag"));
        }
        if slots.is_some_and(|s| s < 0) {
            return Err(MlflowError::invalid_parameter("`slots` is 0 or more"));
        }
        Ok(self.store.set_job_tag_limit(tag, slots).await?)
    }

    pub async fn tag_limits(&self) -> Result<Vec<(String, i64)>> {
        Ok(self.store.job_tag_limits().await?)
    }

    /// Sets the Prometheus gauges: runs by job and state, and the queue's depth.
    pub async fn record_gauges(&self) {
        if let Ok((runs, queued)) = self.store.job_counts().await {
            // Every state of every job, 0 where none: a gauge left at its last count
            // would show runs that have moved on.
            let jobs: std::collections::BTreeSet<&String> =
                runs.iter().map(|(j, _, _)| j).collect();
            for job in jobs {
                for state in State::ALL {
                    let n = runs
                        .iter()
                        .find(|(j, s, _)| j == job && s == state.as_str())
                        .map_or(0, |(_, _, n)| *n);
                    metrics::gauge!("cairn_job_runs", "job" => job.clone(), "state" => state.as_str())
                        .set(n as f64);
                }
            }
            metrics::gauge!("cairn_job_queue_depth").set(queued as f64);
        }
    }
}

/// A schedule's identity: its place and definition, so an edited schedule starts
/// afresh rather than inheriting the old one's mark.
fn schedule_key(i: usize, when: &ScheduleKind) -> String {
    match when {
        ScheduleKind::Cron { expr, timezone } => format!("{i}:cron:{expr}:{timezone}"),
        ScheduleKind::Interval { every } => format!("{i}:interval:{}", every.as_millis()),
    }
}

fn new_run(
    spec: &JobSpec,
    params: Map<String, Value>,
    start: Start,
    now: i64,
    scheduled: i64,
) -> NewJobRun {
    NewJobRun {
        run: JobRun {
            run_id: JobRunId::new(),
            job_name: spec.name.clone(),
            job_version: spec.version.clone(),
            state: if scheduled > now {
                State::Scheduled
            } else {
                State::Pending
            },
            params,
            trigger: start.trigger,
            event: start.event,
            created_ms: now,
            scheduled_ms: scheduled,
            started_ms: None,
            ended_ms: None,
            message: None,
        },
        job_file: spec.file.display().to_string(),
        job_source: spec.source.clone(),
        pool: spec.pool.clone(),
        dedup_key: start.dedup_key,
        steps: spec
            .steps
            .iter()
            .map(|s| NewStep {
                name: s.name.clone(),
                needs: s.needs.clone(),
                tags: s.tags.clone(),
                retry: s.retry.clone(),
                timeout_ms: s.timeout.map(|t| t.as_millis() as i64),
            })
            .collect(),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "cairn".into())
}

/// The worker protocol in process: the worker embedded in `cairn server` calls the
/// service directly (no loopback HTTP).
pub struct InProcess(pub Arc<JobService>);

#[async_trait::async_trait]
impl cairn_jobs::worker::JobsApi for InProcess {
    async fn claim(&self, claim: Claim) -> std::result::Result<Vec<ClaimedStep>, String> {
        self.0.claim(claim).await.map_err(|e| e.to_string())
    }

    async fn heartbeat(
        &self,
        worker: &str,
        steps: Vec<(String, String, i64)>,
        lease_ms: i64,
    ) -> std::result::Result<Vec<bool>, String> {
        self.0
            .heartbeat(worker, steps, lease_ms)
            .await
            .map_err(|e| e.to_string())
    }

    async fn finish(&self, outcome: StepOutcome) -> std::result::Result<bool, String> {
        self.0.finish(outcome).await.map_err(|e| e.to_string())
    }

    async fn append_logs(
        &self,
        run_id: &str,
        lines: Vec<NewLogLine>,
    ) -> std::result::Result<(), String> {
        let id = JobRunId::parse(run_id).map_err(|e| e.to_string())?;
        self.0
            .append_logs(&id, lines)
            .await
            .map_err(|e| e.to_string())
    }

    async fn cached(
        &self,
        cache_key: &str,
        max_age_ms: Option<i64>,
    ) -> std::result::Result<Option<(String, Map<String, Value>)>, String> {
        self.0
            .cached(cache_key, max_age_ms)
            .await
            .map_err(|e| e.to_string())
    }

    async fn promote(
        &self,
        model: &str,
        version: &str,
        alias: &str,
        require_tags: &BTreeMap<String, String>,
    ) -> std::result::Result<Map<String, Value>, String> {
        self.0
            .promote(model, version, alias, require_tags)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Runs the scheduler until `shutdown`: a tick a second (leadership, lost workers,
/// due schedules), and the jobs gauges.
pub async fn run_scheduler(jobs: Arc<JobService>, shutdown: tokio_util::sync::CancellationToken) {
    let mut led = false;
    loop {
        match jobs.tick().await {
            Ok(leads) if leads != led => {
                led = leads;
                tracing::info!(leads, "job scheduler leadership changed");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "job scheduler tick failed"),
        }
        jobs.record_gauges().await;
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Starts the runs of jobs triggered by registry events, until `shutdown`.
pub async fn follow_registry(
    jobs: Arc<JobService>,
    mut events: tokio::sync::broadcast::Receiver<RegistryEvent>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => jobs.on_registry_event(&ev).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "registry events were dropped before jobs saw them");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            () = shutdown.cancelled() => return,
        }
    }
}
