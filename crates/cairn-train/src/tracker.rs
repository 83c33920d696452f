//! Tracking calls from training threads. Training is CPU work on plain threads;
//! each call to the tracking server blocks that thread on the runtime's handle.

use cairn_client::Client;
use cairn_core::entities::{KeyValue, Metric, RunStatus};

use crate::error::{Result, TrainError};

#[derive(Clone)]
pub struct Tracker {
    pub client: Client,
    rt: tokio::runtime::Handle,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn kv(key: impl Into<String>, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

pub fn metric(key: &str, value: f64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp: now_ms(),
        step,
        run_id: None,
        model_id: None,
    }
}

/// The variable a job step's process finds its job run's id in.
pub const JOB_RUN_ENV: &str = "CAIRN_JOB_RUN_ID";
/// The tag of an MLflow run that a job's step made: the job run's id.
pub const JOB_RUN_TAG: &str = "cairn.job_run_id";

/// A run being logged to.
#[derive(Debug, Clone)]
pub struct RunRef {
    pub run_id: String,
    pub experiment_id: String,
    /// The artifact proxy path of the run's artifact root.
    pub artifact_path: String,
}

impl Tracker {
    pub fn new(client: Client, rt: tokio::runtime::Handle) -> Self {
        Tracker { client, rt }
    }

    pub fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The experiment named `name`, created when missing.
    pub fn experiment(&self, name: &str) -> Result<String> {
        match self.block(self.client.get_experiment_by_name(name)) {
            Ok(e) => Ok(e.experiment_id),
            Err(e) if e.status() == Some(404) => {
                Ok(self.block(self.client.create_experiment(name, &[]))?)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn start_run(
        &self,
        experiment_id: &str,
        name: Option<&str>,
        tags: &[KeyValue],
    ) -> Result<RunRef> {
        // A run made by a job's step names the job run, which links back to it.
        let mut tags = tags.to_vec();
        if let Ok(job_run) = std::env::var(JOB_RUN_ENV) {
            if !job_run.is_empty() {
                tags.push(kv(JOB_RUN_TAG, job_run));
            }
        }
        let run = self.block(
            self.client
                .create_run(experiment_id, name, Some(now_ms()), &tags),
        )?;
        let artifact_path = run
            .info
            .artifact_uri
            .strip_prefix("mlflow-artifacts:/")
            .map(|p| p.trim_start_matches('/').to_string())
            .ok_or_else(|| {
                TrainError::Spec(format!(
                    "the run's artifacts live at {}, which cairn train cannot write to; start the tracking server with its artifact proxy (cairn server does by default)",
                    run.info.artifact_uri
                ))
            })?;
        Ok(RunRef {
            run_id: run.info.run_id,
            experiment_id: experiment_id.to_string(),
            artifact_path,
        })
    }

    pub fn log(
        &self,
        run: &RunRef,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()> {
        // The API takes at most 1000 metrics, 100 params and 100 tags per call.
        for chunk in metrics.chunks(1000) {
            self.block(self.client.log_batch(&run.run_id, chunk, &[], &[]))?;
        }
        for chunk in params.chunks(100) {
            self.block(self.client.log_batch(&run.run_id, &[], chunk, &[]))?;
        }
        for chunk in tags.chunks(100) {
            self.block(self.client.log_batch(&run.run_id, &[], &[], chunk))?;
        }
        Ok(())
    }

    pub fn end_run(&self, run: &RunRef, status: RunStatus) -> Result<()> {
        self.block(
            self.client
                .update_run(&run.run_id, Some(status), Some(now_ms()), None),
        )?;
        Ok(())
    }

    /// Uploads every file under `dir` to `artifact_dir` of the run.
    pub fn upload_dir(
        &self,
        run: &RunRef,
        dir: &std::path::Path,
        artifact_dir: &str,
    ) -> Result<()> {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d)? {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(dir)
                    .map_err(|e| TrainError::Spec(e.to_string()))?
                    .to_string_lossy()
                    .replace('\\', "/");
                let bytes = std::fs::read(&path)?;
                self.upload(run, &format!("{artifact_dir}/{rel}"), bytes)?;
            }
        }
        Ok(())
    }

    /// Uploads a table (`{"columns": [...], "data": [...]}`) and names it in the run's
    /// `mlflow.loggedArtifacts` tag, as `MlflowClient.log_table` does: `load_table`
    /// finds tables by that tag, not by listing artifacts. The run must not have
    /// logged another table (the tag is written whole, not merged).
    pub fn log_table(&self, run: &RunRef, rel: &str, table: Vec<u8>) -> Result<()> {
        self.upload(run, rel, table)?;
        // Python's `json.dumps` spelling, byte for byte, for clients that match it.
        let entry = format!(
            "[{{\"path\": {}, \"type\": \"table\"}}]",
            serde_json::Value::from(rel)
        );
        self.log(run, &[], &[], &[kv("mlflow.loggedArtifacts", entry)])
    }

    pub fn upload(&self, run: &RunRef, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let path = format!("{}/{rel}", run.artifact_path);
        self.block(self.client.upload_artifact(&path, bytes))?;
        Ok(())
    }
}
