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
    reaper: Reaper,
}

impl Default for LocalProcess {
    fn default() -> Self {
        LocalProcess {
            grace: Duration::from_secs(5),
            reaper: Reaper::default(),
        }
    }
}

/// Ends the process groups of running steps when the worker itself dies without a
/// chance to (SIGKILL, OOM killer, a crash): otherwise they run on as orphans while
/// the step is retried elsewhere, and a training step would run twice at once.
///
/// A small `sh` started once per worker, in its own process group (a Ctrl-C to the
/// worker's terminal does not reach it) and deaf to INT, TERM and HUP. The worker
/// writes `+PGID` when a step starts and `-PGID` when its group is gone; when the
/// pipe closes, which the kernel does however the worker ends, the reaper SIGKILLs
/// the groups still listed. Linux's `PR_SET_PDEATHSIG` would only reach a step's
/// first process, not the tree under it, and is not on macOS; no crate does this.
#[derive(Default)]
struct Reaper(std::sync::Mutex<ReaperPipe>);

#[derive(Default)]
enum ReaperPipe {
    #[default]
    NotStarted,
    Open(std::process::ChildStdin),
    /// It did not start, or went away: steps run without it.
    Off,
}

const REAPER_SCRIPT: &str = r#"trap '' INT TERM HUP
groups=' '
while IFS= read -r l; do
  case "$l" in
    +*) groups="$groups${l#+} " ;;
    -*) g=${l#-}; kept=' '
        for x in $groups; do [ "$x" = "$g" ] || kept="$kept$x "; done
        groups=$kept ;;
  esac
done
# `kill -9 -PGID`: dash refuses `--` before a negative id.
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
"#;

impl Reaper {
    fn tell(&self, line: String) {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let mut pipe = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*pipe, ReaperPipe::NotStarted) {
            let child = std::process::Command::new("sh")
                .args(["-c", REAPER_SCRIPT])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn();
            *pipe = match child {
                // Dropping the handle neither kills nor waits: it lives as long as this
                // process, and ends when the pipe closes.
                Ok(mut c) => c.stdin.take().map_or(ReaperPipe::Off, ReaperPipe::Open),
                Err(e) => {
                    tracing::warn!(error = %e, "`sh` did not start: a step outlives its worker if the worker is killed");
                    ReaperPipe::Off
                }
            };
        }
        if let ReaperPipe::Open(stdin) = &mut *pipe {
            if writeln!(stdin, "{line}")
                .and_then(|()| stdin.flush())
                .is_err()
            {
                tracing::warn!(
                    "the step reaper is gone: a step outlives its worker if the worker is killed"
                );
                *pipe = ReaperPipe::Off;
            }
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
        if pgid != 0 {
            self.reaper.tell(format!("+{pgid}"));
        }
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
            self.reaper.tell(format!("-{pgid}"));
        }
        for task in [out, err].into_iter().flatten() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        end
    }
}
