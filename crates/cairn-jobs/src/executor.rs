//! Where a step's process runs. Today on the worker's machine ([`LocalProcess`]); the
//! trait is the seam for others: a Kubernetes executor would create a Job from the
//! same [`ProcessSpec`] (image from the job's pool settings, argv, env, the outputs
//! file mounted), stream its pod's logs into the [`LogSink`], and delete it on stop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio_util::sync::CancellationToken;

use crate::worker::LogSink;

/// A process to run for a step.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEnd {
    /// It exited by itself with this code (`None`: killed by a signal it was not
    /// sent by cairn).
    Exited(Option<i32>),
    /// Its timeout passed; it was stopped.
    TimedOut,
    /// It was stopped on request (the run was cancelled, or the claim lost).
    Stopped,
    /// It could not be started.
    NotStarted(String),
}

#[async_trait]
pub trait Executor: Send + Sync {
    /// Runs `spec` to its end, its output lines to `logs`; stops it (and everything it
    /// started) when `stop` fires or `timeout` passes.
    async fn run(
        &self,
        spec: ProcessSpec,
        logs: LogSink,
        stop: CancellationToken,
        timeout: Option<Duration>,
    ) -> ProcessEnd;
}

/// Processes on this machine, each in its own process group so that stopping a step
/// stops the whole tree it started (a shell's children, a trainer's workers).
pub struct LocalProcess {
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

impl Default for LocalProcess {
    fn default() -> Self {
        LocalProcess {
            grace: Duration::from_secs(5),
        }
    }
}

fn pump(
    reader: impl AsyncRead + Unpin + Send + 'static,
    logs: LogSink,
    stream: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => logs.line(stream, line),
                Ok(None) => break,
                Err(e) => {
                    logs.line("cairn", format!("reading {stream}: {e}"));
                    break;
                }
            }
        }
    })
}

/// Sends `signal` to the process group `pgid`.
fn signal_group(pgid: u32, signal: nix::sys::signal::Signal) {
    let Ok(pid) = i32::try_from(pgid) else {
        return;
    };
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
}

#[async_trait]
impl Executor for LocalProcess {
    async fn run(
        &self,
        spec: ProcessSpec,
        logs: LogSink,
        stop: CancellationToken,
        timeout: Option<Duration>,
    ) -> ProcessEnd {
        let Some((program, args)) = spec.argv.split_first() else {
            return ProcessEnd::NotStarted("an empty argv".into());
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .envs(&spec.env)
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return ProcessEnd::NotStarted(format!(
                    "`{program}` did not start in {}: {e}",
                    spec.cwd.display()
                ))
            }
        };
        let pgid = child.id().unwrap_or(0);
        let out = child.stdout.take().map(|o| pump(o, logs.clone(), "stdout"));
        let err = child.stderr.take().map(|e| pump(e, logs.clone(), "stderr"));
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let end = tokio::select! {
            status = child.wait() => ProcessEnd::Exited(status.ok().and_then(|s| s.code())),
            () = deadline => ProcessEnd::TimedOut,
            () = stop.cancelled() => ProcessEnd::Stopped,
        };
        if !matches!(end, ProcessEnd::Exited(_)) && pgid != 0 {
            signal_group(pgid, nix::sys::signal::Signal::SIGTERM);
            if tokio::time::timeout(self.grace, child.wait())
                .await
                .is_err()
            {
                signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait().await;
            }
        }
        // Whatever the leader left behind in its group goes too: a step is its tree.
        if pgid != 0 {
            signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
        }
        for task in [out, err].into_iter().flatten() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        end
    }
}
