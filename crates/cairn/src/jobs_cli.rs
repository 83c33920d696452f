//! `cairn job ...` and `cairn worker`: jobs from the command line, and workers on
//! other machines, both over the REST API through the typed client.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use cairn_api_types::jobs::{HeldTry, PromoteRequest};
use cairn_client::Client;
use cairn_core::jobs::{Claim, ClaimedStep, NewLogLine, State, StepOutcome};
use cairn_jobs::worker::{JobsApi, Worker, WorkerConfig};
use serde_json::{Map, Value};

/// The server a command talks to.
#[derive(clap::Args)]
pub struct ServerUrl {
    /// The cairn server.
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "http://127.0.0.1:5000"
    )]
    tracking_uri: String,
}

#[derive(clap::Subcommand)]
pub enum JobCommand {
    /// The jobs of the server's jobs folder, and the files that do not read.
    List {
        #[command(flatten)]
        server: ServerUrl,
    },
    /// Start a run of a job; with `--wait`, follow it to its end (exit status 1 unless
    /// it COMPLETED).
    Run {
        name: String,
        /// A parameter, `key=value` (read as the parameter's type); repeat.
        #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Follow the run, printing each step's state and log lines.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        server: ServerUrl,
    },
    /// Runs newest first, of one job or of all.
    Runs {
        job: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        server: ServerUrl,
    },
    /// A run's steps, then its log lines; `--follow` until it ends.
    Logs {
        run_id: String,
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        server: ServerUrl,
    },
    /// Cancel a run: its steps' processes are stopped.
    Cancel {
        run_id: String,
        #[command(flatten)]
        server: ServerUrl,
    },
    /// Pause a job's schedules (all, or the one `--schedule` names): no run starts
    /// from them until they are resumed.
    Pause {
        name: String,
        /// The schedule's index in the job file's `schedules:` list, from 0.
        #[arg(long)]
        schedule: Option<u32>,
        #[command(flatten)]
        server: ServerUrl,
    },
    /// Resume a job's paused schedules (all, or the one `--schedule` names): they fire
    /// at their next time, not for the times they were paused through.
    Resume {
        name: String,
        #[arg(long)]
        schedule: Option<u32>,
        #[command(flatten)]
        server: ServerUrl,
    },
    /// Allow at most SLOTS running steps tagged TAG across every worker; without
    /// SLOTS, remove the limit.
    Limit {
        tag: String,
        slots: Option<i64>,
        #[command(flatten)]
        server: ServerUrl,
    },
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    server: ServerUrl,
    /// The pool whose steps this worker runs (a job's `pool`).
    #[arg(long, default_value = cairn_jobs::spec::DEFAULT_POOL)]
    pool: String,
    /// Steps run at once.
    #[arg(long, default_value_t = 4)]
    slots: usize,
    /// How long a claim holds without a heartbeat (heartbeats go every third of it).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// Where steps get scratch folders; default: a folder in the system's temp dir.
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// This worker's name in claims and logs; default: host and process id.
    #[arg(long)]
    name: Option<String>,
}

fn parse_params(params: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for p in params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("`-p {p}`: write key=value"))?;
        out.insert(k.trim().to_string(), Value::from(v.to_string()));
    }
    Ok(out)
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

pub async fn run(command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::List { server } => {
            let r = Client::new(&server.tracking_uri).list_jobs().await?;
            for j in &r.jobs {
                let steps: Vec<&str> = j.steps.iter().map(|s| s.name.as_str()).collect();
                println!("{}  ({})  steps: {}", j.name, j.file, steps.join(" -> "));
                if let Some(e) = &j.error {
                    println!("  latest edit refused: {e}");
                }
            }
            for e in &r.errors {
                println!("refused: {}", e.error);
            }
            Ok(())
        }
        JobCommand::Run {
            name,
            params,
            wait,
            server,
        } => {
            let client = Client::new(&server.tracking_uri);
            let run = client.run_job(&name, parse_params(&params)?).await?;
            println!("run {} of {} {}", run.run_id, run.job_name, run.state);
            if !wait {
                return Ok(());
            }
            let end = follow(&client, run.run_id.as_str()).await?;
            if end != State::Completed {
                anyhow::bail!("run {} ended {end}", run.run_id);
            }
            Ok(())
        }
        JobCommand::Runs { job, limit, server } => {
            let runs = Client::new(&server.tracking_uri)
                .list_job_runs(job.as_deref(), limit)
                .await?;
            for r in runs {
                println!(
                    "{}  {:<24} {:<10} {:<12} created {}  ended {}",
                    r.run_id,
                    r.job_name,
                    r.state,
                    r.trigger,
                    time(Some(r.created_ms)),
                    time(r.ended_ms)
                );
            }
            Ok(())
        }
        JobCommand::Logs {
            run_id,
            follow: keep,
            server,
        } => {
            let client = Client::new(&server.tracking_uri);
            if keep {
                follow(&client, &run_id).await?;
            } else {
                let d = client.get_job_run(&run_id).await?;
                for s in &d.steps {
                    println!("{:<24} {:<10} try {}", s.step_name, s.state, s.attempt);
                }
                for l in client.job_run_logs(&run_id, 0).await? {
                    println!("[{} #{} {}] {}", l.step_name, l.attempt, l.stream, l.line);
                }
            }
            Ok(())
        }
        JobCommand::Cancel { run_id, server } => {
            let run = Client::new(&server.tracking_uri)
                .cancel_job_run(&run_id)
                .await?;
            println!("run {} {}", run.run_id, run.state);
            Ok(())
        }
        JobCommand::Pause {
            name,
            schedule,
            server,
        } => set_paused(&server, &name, schedule, true).await,
        JobCommand::Resume {
            name,
            schedule,
            server,
        } => set_paused(&server, &name, schedule, false).await,
        JobCommand::Limit { tag, slots, server } => {
            Client::new(&server.tracking_uri)
                .set_job_tag_limit(&tag, slots)
                .await?;
            match slots {
                Some(n) => println!("at most {n} running steps tagged {tag}"),
                None => println!("no limit on steps tagged {tag}"),
            }
            Ok(())
        }
    }
}

/// Pauses or resumes one schedule of `name`, or all of them.
async fn set_paused(
    server: &ServerUrl,
    name: &str,
    schedule: Option<u32>,
    paused: bool,
) -> anyhow::Result<()> {
    let client = Client::new(&server.tracking_uri);
    let which: Vec<u32> = match schedule {
        Some(i) => vec![i],
        None => {
            let job = client.get_job(name).await?;
            if job.schedules.is_empty() {
                anyhow::bail!("job `{name}` has no schedules");
            }
            job.schedules.iter().map(|s| s.index).collect()
        }
    };
    for i in which {
        let sc = client.set_job_schedule_paused(name, i, paused).await?;
        let state = if sc.paused {
            "paused".to_string()
        } else {
            format!("next {}", time(sc.next_ms))
        };
        println!("{name} schedule {i} ({}): {state}", sc.description);
    }
    Ok(())
}

/// Prints a run's transitions and log lines as they come, until it ends; its end.
/// The run's state is read before each round of events and lines, so the round
/// after it is seen final prints everything that happened up to the end (a step's
/// last transition can land just before the run's).
async fn follow(client: &Client, run_id: &str) -> anyhow::Result<State> {
    let (mut after_event, mut after_line) = (0, 0);
    loop {
        let run = client.get_job_run(run_id).await?.run;
        for e in client.job_run_events(run_id, after_event).await? {
            after_event = e.id;
            let step = e.step_name.as_deref().unwrap_or("run");
            match &e.message {
                Some(m) => println!("{step}: {} ({m})", e.state),
                None => println!("{step}: {}", e.state),
            }
        }
        for l in client.job_run_logs(run_id, after_line).await? {
            after_line = l.id;
            println!("  [{}] {}", l.step_name, l.line);
        }
        if run.state.is_final() {
            return Ok(run.state);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The worker protocol over the REST API.
struct Remote(Client);

fn msg(e: cairn_client::ClientError) -> String {
    e.to_string()
}

#[async_trait]
impl JobsApi for Remote {
    async fn claim(&self, claim: Claim) -> Result<Vec<ClaimedStep>, String> {
        self.0.claim_job_steps(claim).await.map_err(msg)
    }

    async fn heartbeat(
        &self,
        worker: &str,
        steps: Vec<(String, String, i64)>,
        lease_ms: i64,
    ) -> Result<Vec<bool>, String> {
        let tries = steps
            .into_iter()
            .map(|(run_id, step_name, attempt)| HeldTry {
                run_id,
                step_name,
                attempt,
            })
            .collect();
        self.0
            .heartbeat_job_steps(worker, tries, lease_ms)
            .await
            .map_err(msg)
    }

    async fn finish(&self, outcome: StepOutcome) -> Result<bool, String> {
        self.0.finish_job_step(outcome).await.map_err(msg)
    }

    async fn append_logs(&self, run_id: &str, lines: Vec<NewLogLine>) -> Result<(), String> {
        self.0.append_job_logs(run_id, lines).await.map_err(msg)
    }

    async fn cached(
        &self,
        cache_key: &str,
        max_age_ms: Option<i64>,
    ) -> Result<Option<(String, Map<String, Value>)>, String> {
        let r = self
            .0
            .cached_job_step(cache_key, max_age_ms)
            .await
            .map_err(msg)?;
        Ok(r.run_id.zip(r.outputs))
    }

    async fn promote(
        &self,
        model: &str,
        version: &str,
        alias: &str,
        require_tags: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, String> {
        self.0
            .promote_job_step(&PromoteRequest {
                model: model.to_string(),
                version: version.to_string(),
                alias: alias.to_string(),
                require_tags: require_tags.clone(),
            })
            .await
            .map_err(msg)
    }
}

pub async fn run_worker(
    args: WorkerArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = Client::new(&args.server.tracking_uri);
    let name = args.name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let scratch = args
        .scratch
        .unwrap_or_else(|| std::env::temp_dir().join(format!("cairn-worker-{name}")));
    let worker = Worker::new(
        Arc::new(Remote(client)),
        Arc::new(cairn_jobs::Registry::default()),
        Arc::new(cairn_jobs::executor::LocalProcess::default()),
        WorkerConfig {
            id: name,
            pool: args.pool,
            slots: args.slots.max(1),
            lease: args.lease,
            poll: Duration::from_millis(500),
            long_poll: Duration::from_secs(10),
            cairn_bin: std::env::current_exe().context("the path of this cairn binary")?,
            tracking_uri: args.server.tracking_uri.clone(),
            scratch,
        },
    );
    println!(
        "cairn worker {} claiming steps from {}",
        worker.id(),
        args.server.tracking_uri
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(worker.run(stop.clone()));
    shutdown.await;
    stop.cancel();
    let _ = task.await;
    Ok(())
}
