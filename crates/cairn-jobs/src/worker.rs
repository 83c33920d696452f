//! The worker: claims ready steps from the queue, runs them, reports how they ended.
//!
//! One loop for the worker embedded in `cairn server` and for `cairn worker` on other
//! machines: they differ only in their [`JobsApi`] (the services in process, or the
//! REST API through the typed client). A claim is a lease the worker renews by
//! heartbeat; the heartbeat's answer also tells it to stop a step (its run is being
//! cancelled, or the lease was lost and the step may already run elsewhere).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cairn_core::jobs::{Claim, ClaimedStep, NewLogLine, State, StepOutcome};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::executor::{Executor, ProcessEnd, ProcessSpec};
use crate::kinds::{Action, Render, Tmpl};
use crate::spec::JobSpec;
use crate::template::Ref;
use crate::Registry;

/// What a worker needs from the jobs service: in process or over HTTP.
#[async_trait]
pub trait JobsApi: Send + Sync {
    async fn claim(&self, claim: Claim) -> Result<Vec<ClaimedStep>, String>;
    /// Per step, whether to stop it.
    async fn heartbeat(
        &self,
        worker: &str,
        steps: Vec<(String, String, i64)>,
        lease_ms: i64,
    ) -> Result<Vec<bool>, String>;
    async fn finish(&self, outcome: StepOutcome) -> Result<bool, String>;
    async fn append_logs(&self, run_id: &str, lines: Vec<NewLogLine>) -> Result<(), String>;
    /// The newest success with `cache_key` no older than `max_age_ms` (`None`: any).
    async fn cached(
        &self,
        cache_key: &str,
        max_age_ms: Option<i64>,
    ) -> Result<Option<(String, Map<String, Value>)>, String>;
    /// Moves an alias when the version carries the required tags; the step's outputs.
    async fn promote(
        &self,
        model: &str,
        version: &str,
        alias: &str,
        require_tags: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, String>;
}

/// A worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub id: String,
    pub pool: String,
    pub slots: usize,
    /// How long a claim holds without a heartbeat (a killed worker's steps are
    /// given up after this).
    pub lease: Duration,
    /// How often the queue is asked when nothing wakes the worker.
    pub poll: Duration,
    /// How long each claim may wait on the server for a step (a long poll, so a
    /// worker on another machine starts a new step within milliseconds without
    /// asking many times a second); zero for a worker the server wakes in process.
    pub long_poll: Duration,
    /// The cairn binary `cairn` in a step's argv stands for.
    pub cairn_bin: PathBuf,
    /// Given to steps as `MLFLOW_TRACKING_URI`.
    pub tracking_uri: String,
    /// Where each try gets its scratch folder (outputs file, inline files).
    pub scratch: PathBuf,
}

/// Lines of one try, batched to the store.
#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<(String, String)>,
}

impl LogSink {
    pub fn line(&self, stream: &str, line: impl Into<String>) {
        let _ = self.tx.send((stream.to_string(), line.into()));
    }

    /// A sink and the task that sends its lines in batches (every 200 ms or 500
    /// lines) until every sender is gone.
    pub fn start(
        api: Arc<dyn JobsApi>,
        run_id: String,
        step: String,
        attempt: i64,
    ) -> (LogSink, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, String)>();
        let task = tokio::spawn(async move {
            let mut batch = Vec::new();
            loop {
                let more = tokio::select! {
                    got = rx.recv() => match got {
                        Some((stream, line)) => {
                            batch.push(NewLogLine { step_name: step.clone(), attempt, stream, time_ms: now_ms(), line });
                            true
                        }
                        None => false,
                    },
                    () = tokio::time::sleep(Duration::from_millis(200)), if !batch.is_empty() => true,
                };
                let full = batch.len() >= 500;
                let idle = rx.is_empty();
                if !batch.is_empty() && (full || idle || !more) {
                    if let Err(e) = api.append_logs(&run_id, std::mem::take(&mut batch)).await {
                        tracing::warn!(run_id = %run_id, error = %e, "step log lines lost");
                    }
                }
                if !more {
                    break;
                }
            }
        });
        (LogSink { tx }, task)
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

type TryKey = (String, String, i64);

pub struct Worker {
    api: Arc<dyn JobsApi>,
    registry: Arc<Registry>,
    executor: Arc<dyn Executor>,
    cfg: WorkerConfig,
    /// Wakes the loop at once (a run was triggered in this process).
    wake: Arc<Notify>,
    running: Mutex<HashMap<TryKey, CancellationToken>>,
    /// Parsed job files by version: a worker reads each version once.
    specs: Mutex<HashMap<String, Arc<JobSpec>>>,
}

impl Worker {
    pub fn new(
        api: Arc<dyn JobsApi>,
        registry: Arc<Registry>,
        executor: Arc<dyn Executor>,
        cfg: WorkerConfig,
    ) -> Arc<Worker> {
        Arc::new(Worker {
            api,
            registry,
            executor,
            cfg,
            wake: Arc::new(Notify::new()),
            running: Mutex::new(HashMap::new()),
            specs: Mutex::new(HashMap::new()),
        })
    }

    /// Wakes the loop, for a claim now rather than at the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    pub fn id(&self) -> &str {
        &self.cfg.id
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<TryKey, CancellationToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims and runs steps until `shutdown`; then stops what runs (reported as
    /// CRASHED, so each is retried by its policy, on another worker if one is up).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let beat = tokio::spawn(Arc::clone(&self).heartbeats(shutdown.clone()));
        let done = Arc::new(Notify::new());
        tracing::info!(worker = %self.cfg.id, pool = %self.cfg.pool, slots = self.cfg.slots, "job worker started");
        loop {
            let free = self.cfg.slots.saturating_sub(self.running().len());
            if free > 0 {
                let claim = Claim {
                    worker: self.cfg.id.clone(),
                    pool: self.cfg.pool.clone(),
                    max: free,
                    now_ms: now_ms(),
                    lease_ms: self.cfg.lease.as_millis() as i64,
                    wait_ms: self.cfg.long_poll.as_millis() as i64,
                };
                let asked = tokio::time::Instant::now();
                let answer = tokio::select! {
                    a = self.api.claim(claim) => a,
                    () = shutdown.cancelled() => break,
                };
                match answer {
                    Ok(steps) => {
                        let got = steps.len();
                        for step in steps {
                            self.start(step, Arc::clone(&done));
                        }
                        if got == free {
                            continue; // more may be waiting
                        }
                        // A long-polling worker asks again at once: the server holds
                        // the claim until there is work. One answered empty before its
                        // wait ended (the server is shutting down) waits a poll first.
                        if !self.cfg.long_poll.is_zero()
                            && (got > 0
                                || asked.elapsed() + Duration::from_millis(200)
                                    >= self.cfg.long_poll)
                        {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(worker = %self.cfg.id, error = %e, "claiming job steps failed");
                    }
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = done.notified() => {}
                () = tokio::time::sleep(self.cfg.poll) => {}
                () = shutdown.cancelled() => break,
            }
        }
        let stopping: Vec<CancellationToken> = self.running().values().cloned().collect();
        for t in &stopping {
            t.cancel();
        }
        // Give the stopped steps their report.
        for _ in 0..100 {
            if self.running().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        beat.abort();
        tracing::info!(worker = %self.cfg.id, "job worker stopped");
    }

    fn start(self: &Arc<Self>, claimed: ClaimedStep, done: Arc<Notify>) {
        let key: TryKey = (
            claimed.run.run_id.to_string(),
            claimed.step.step_name.clone(),
            claimed.step.attempt,
        );
        let stop = CancellationToken::new();
        self.running().insert(key.clone(), stop.clone());
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let outcome = me.execute(&claimed, stop).await;
            let state = outcome.state;
            match me.api.finish(outcome).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(run_id = %key.0, step = %key.1, "the step's claim was lost before it ended; its result is dropped");
                }
                Err(e) => {
                    tracing::warn!(run_id = %key.0, step = %key.1, %state, error = %e, "reporting a step's end failed");
                }
            }
            me.running().remove(&key);
            done.notify_one();
        });
    }

    async fn heartbeats(self: Arc<Self>, shutdown: CancellationToken) {
        let every = (self.cfg.lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = shutdown.cancelled() => return,
            }
            let tries: Vec<(TryKey, CancellationToken)> = self
                .running()
                .iter()
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect();
            if tries.is_empty() {
                continue;
            }
            let keys: Vec<TryKey> = tries.iter().map(|(k, _)| k.clone()).collect();
            match self
                .api
                .heartbeat(&self.cfg.id, keys, self.cfg.lease.as_millis() as i64)
                .await
            {
                Ok(stop) => {
                    for ((key, token), stop) in tries.iter().zip(stop) {
                        if stop && !token.is_cancelled() {
                            tracing::info!(run_id = %key.0, step = %key.1, "stopping a step: its run is cancelled or its claim was lost");
                            token.cancel();
                        }
                    }
                }
                Err(e) => tracing::warn!(worker = %self.cfg.id, error = %e, "job heartbeat failed"),
            }
        }
    }

    fn spec(&self, claimed: &ClaimedStep) -> Result<Arc<JobSpec>, String> {
        let version = &claimed.run.job_version;
        if let Some(s) = self
            .specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(version)
        {
            return Ok(Arc::clone(s));
        }
        let spec = JobSpec::parse(
            &claimed.job_source,
            Path::new(&claimed.job_file),
            &self.registry,
        )
        .map_err(|e| e.to_string())?;
        let spec = Arc::new(spec);
        self.specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(version.clone(), Arc::clone(&spec));
        Ok(spec)
    }

    /// Runs one try and says how it ended.
    async fn execute(&self, claimed: &ClaimedStep, stop: CancellationToken) -> StepOutcome {
        let run_id = claimed.run.run_id.to_string();
        let step_name = claimed.step.step_name.clone();
        let attempt = claimed.step.attempt;
        let (logs, flusher) = LogSink::start(
            Arc::clone(&self.api),
            run_id.clone(),
            step_name.clone(),
            attempt,
        );
        let mut outcome = StepOutcome {
            run_id: claimed.run.run_id.clone(),
            step_name: step_name.clone(),
            attempt,
            worker: self.cfg.id.clone(),
            state: State::Failed,
            outputs: Map::new(),
            message: None,
            cache_key: None,
            cached_from: None,
            now_ms: 0,
            draw: 0.0,
        };
        let result = self.try_step(claimed, &logs, stop, &mut outcome).await;
        match result {
            Ok(()) => {}
            Err(message) => {
                logs.line("cairn", message.clone());
                outcome.state = State::Failed;
                outcome.message = Some(message);
            }
        }
        drop(logs);
        let _ = tokio::time::timeout(Duration::from_secs(5), flusher).await;
        outcome.now_ms = now_ms();
        outcome
    }

    async fn try_step(
        &self,
        claimed: &ClaimedStep,
        logs: &LogSink,
        stop: CancellationToken,
        outcome: &mut StepOutcome,
    ) -> Result<(), String> {
        let spec = self.spec(claimed)?;
        let step = spec.step(&claimed.step.step_name).ok_or_else(|| {
            format!(
                "job `{}` has no step `{}` in this version",
                spec.name, claimed.step.step_name
            )
        })?;
        let values = Values {
            claimed,
            attempt: claimed.step.attempt,
        };
        let action = step.config.plan(&values).map_err(|e| e.to_string())?;
        if let Some(cache) = &step.cache {
            let key = cache_key(&spec.name, &step.name, &step.kind, &action);
            outcome.cache_key = Some(key.clone());
            let max_age = cache.expiry.map(|e| e.as_millis() as i64);
            if let Some((from, outputs)) = self.api.cached(&key, max_age).await? {
                logs.line(
                    "cairn",
                    format!("cached: the same inputs completed in run {from}"),
                );
                outcome.state = State::Completed;
                outcome.outputs = outputs;
                outcome.cached_from = Some(from.clone());
                outcome.message = Some(format!("cached from run {from}"));
                return Ok(());
            }
        }
        let timeout = claimed
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.max(0) as u64));
        match action {
            Action::Process {
                argv,
                env,
                cwd,
                files,
            } => {
                let scratch = self.cfg.scratch.join(format!(
                    "{}-{}-{}",
                    claimed.run.run_id, step.name, claimed.step.attempt
                ));
                std::fs::create_dir_all(&scratch)
                    .map_err(|e| format!("scratch folder {}: {e}", scratch.display()))?;
                for (name, text) in &files {
                    std::fs::write(scratch.join(name), text)
                        .map_err(|e| format!("writing {name}: {e}"))?;
                }
                let outputs_file = scratch.join("outputs");
                let scratch_s = scratch.display().to_string();
                let mut argv: Vec<String> = argv
                    .into_iter()
                    .map(|a| a.replace("${CAIRN_SCRATCH}", &scratch_s))
                    .collect();
                if argv.first().map(String::as_str) == Some("cairn") {
                    argv[0] = self.cfg.cairn_bin.display().to_string();
                }
                let mut env = env;
                env.insert("CAIRN_JOB_RUN_ID".into(), claimed.run.run_id.to_string());
                env.insert("CAIRN_JOB_NAME".into(), spec.name.clone());
                env.insert("CAIRN_STEP".into(), step.name.clone());
                env.insert("CAIRN_ATTEMPT".into(), claimed.step.attempt.to_string());
                env.insert("CAIRN_OUTPUTS".into(), outputs_file.display().to_string());
                env.insert("CAIRN_SCRATCH".into(), scratch_s.clone());
                env.entry("MLFLOW_TRACKING_URI".into())
                    .or_insert_with(|| self.cfg.tracking_uri.clone());
                logs.line(
                    "cairn",
                    format!("try {}: {}", claimed.step.attempt, argv.join(" ")),
                );
                let cwd = cwd.unwrap_or_else(|| {
                    spec.file
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_default()
                });
                let end = self
                    .executor
                    .run(ProcessSpec { argv, env, cwd }, logs.clone(), stop, timeout)
                    .await;
                let outputs = read_outputs(&outputs_file);
                let _ = std::fs::remove_dir_all(&scratch);
                match end {
                    ProcessEnd::Exited(Some(0)) => {
                        outcome.state = State::Completed;
                        outcome.outputs = outputs?;
                    }
                    ProcessEnd::Exited(code) => {
                        outcome.state = State::Failed;
                        outcome.message = Some(match code {
                            Some(c) => format!("exited with code {c}"),
                            None => "killed by a signal".into(),
                        });
                    }
                    ProcessEnd::TimedOut => {
                        outcome.state = State::Failed;
                        outcome.message = Some(format!(
                            "timed out after {}; stopped",
                            humantime::format_duration(timeout.unwrap_or_default())
                        ));
                    }
                    ProcessEnd::Stopped => {
                        outcome.state = State::Cancelled;
                        outcome.message = Some("stopped: the run was cancelled".into());
                    }
                    ProcessEnd::NotStarted(m) => {
                        outcome.state = State::Failed;
                        outcome.message = Some(m);
                    }
                }
                if let Some(m) = &outcome.message {
                    logs.line("cairn", m.clone());
                }
                Ok(())
            }
            Action::Http {
                method,
                url,
                headers,
                body,
                expect_status,
            } => {
                logs.line(
                    "cairn",
                    format!("try {}: {method} {url}", claimed.step.attempt),
                );
                let client = reqwest::Client::builder()
                    .timeout(timeout.unwrap_or(Duration::from_secs(60)))
                    .build()
                    .map_err(|e| e.to_string())?;
                let method =
                    reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
                let mut req = client.request(method, &url);
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                if let Some(b) = body {
                    req = req.body(b);
                }
                let resp = tokio::select! {
                    r = req.send() => r.map_err(|e| format!("request failed: {e}"))?,
                    () = stop.cancelled() => {
                        outcome.state = State::Cancelled;
                        outcome.message = Some("stopped: the run was cancelled".into());
                        return Ok(());
                    }
                };
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let body: String = text.chars().take(65_536).collect();
                logs.line("cairn", format!("status {status}"));
                outcome.outputs.insert("status".into(), Value::from(status));
                outcome.outputs.insert("body".into(), Value::from(body));
                if expect_status.contains(&status) {
                    outcome.state = State::Completed;
                } else {
                    outcome.state = State::Failed;
                    outcome.message = Some(format!("status {status} is not one of those expected"));
                }
                Ok(())
            }
            Action::Promote {
                model,
                version,
                alias,
                require_tags,
            } => {
                logs.line(
                    "cairn",
                    format!("promote {model} version {version} to @{alias}"),
                );
                let outputs = self
                    .api
                    .promote(&model, &version, &alias, &require_tags)
                    .await?;
                let promoted = outputs
                    .get("promoted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                logs.line(
                    "cairn",
                    if promoted {
                        format!("{model}@{alias} now points at version {version}")
                    } else {
                        format!(
                            "not promoted: {}",
                            outputs
                                .get("reason")
                                .and_then(Value::as_str)
                                .unwrap_or("its gate did not pass")
                        )
                    },
                );
                outcome.outputs = outputs;
                outcome.state = State::Completed;
                Ok(())
            }
        }
    }
}

/// A try's templates rendered from its run.
struct Values<'a> {
    claimed: &'a ClaimedStep,
    attempt: i64,
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Render for Values<'_> {
    fn render(&self, t: &Tmpl) -> crate::Result<String> {
        let c = self.claimed;
        t.template.render(&t.text, |r| match r {
            Ref::Param(p) => c.run.params.get(p).map(plain),
            Ref::Output { step, key } => c
                .upstream
                .iter()
                .find(|(s, _)| s == step)
                .and_then(|(_, o)| o.get(key))
                .map(plain),
            Ref::Job(f) => match f.as_str() {
                "run_id" => Some(c.run.run_id.to_string()),
                "name" => Some(c.run.job_name.clone()),
                "attempt" => Some(self.attempt.to_string()),
                _ => None,
            },
            Ref::Event(f) => c.run.event.get(f).map(plain),
        })
    }
}

/// The `key=value` lines a process wrote to its outputs file (none: no outputs).
fn read_outputs(file: &Path) -> Result<Map<String, Value>, String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(format!("reading the outputs file: {e}")),
    };
    let mut out = Map::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!(
                "outputs file, line {}: `{line}` is not key=value",
                i + 1
            ));
        };
        out.insert(k.trim().to_string(), Value::from(v.to_string()));
    }
    Ok(out)
}

/// Prefect's `cache_policy=INPUTS`: the job, the step, its kind and its inputs with
/// every template rendered.
fn cache_key(job: &str, step: &str, kind: &str, action: &Action) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [job, step, kind] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(serde_json::to_vec(action).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_key_value_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("o");
        assert!(read_outputs(&f).unwrap().is_empty());
        std::fs::write(&f, "run_id=abc\n\nscore = 0.9=x\n").unwrap();
        let o = read_outputs(&f).unwrap();
        assert_eq!(o["run_id"], "abc");
        assert_eq!(o["score"], " 0.9=x");
        std::fs::write(&f, "oops\n").unwrap();
        assert!(read_outputs(&f).unwrap_err().contains("line 1"));
    }
}
