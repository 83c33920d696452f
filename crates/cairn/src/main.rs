//! `cairn`: the command line of the whole platform.

mod data_cli;
mod drift_source;
mod jobs_cli;
mod monitor_cli;

use std::path::PathBuf;

use anyhow::Context;
use cairn_core::secret::redact;
use cairn_server::{Server, ServerConfig};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "A machine-learning platform in one binary, speaking MLflow's REST API"
)]
struct Cli {
    /// Log format: human-readable text, or one JSON object per line for machines.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "CAIRN_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the tracking server (a drop-in for `mlflow server`).
    Server(ServerArgs),
    /// Serve registered models by alias (`models:/<name>@<alias>`) with MLflow's
    /// scoring protocol; when an alias moves, the new version is loaded, checked and
    /// swapped in with no restart and no failed request.
    Serve(ServeArgs),
    /// Create or check MLflow's schema in a database (like `mlflow db`).
    #[command(subcommand)]
    Db(DbCommand),
    /// Copy everything from an MLflow tracking server, or from its database, into
    /// cairn: experiments, runs with full metric histories, logged models, registered
    /// models, versions, aliases and artifacts. Safe to run again: what is already
    /// there is not copied twice, and an interrupted import continues where it stopped.
    Import(ImportArgs),
    /// Train, evaluate and register a model from a YAML spec (see examples/*.yaml):
    /// the run, per-epoch metrics, search trials (child runs), test metrics, plots
    /// and the model directory go to the tracking server; the new version is
    /// registered, tagged `passed_tests` and `beats_threshold`, and the alias moves
    /// to it only when both are true.
    Train(TrainArgs),
    /// Jobs of a server's jobs folder: run one (`-p key=value`), follow its steps and
    /// logs, list jobs and runs, cancel, limit tags.
    #[command(subcommand)]
    Job(jobs_cli::JobCommand),
    /// A job worker: claims the steps of its pool from a cairn server and runs them
    /// on this machine (leases renewed by heartbeat; a killed worker's steps are
    /// retried elsewhere).
    Worker(jobs_cli::WorkerArgs),
    /// Data drift between a reference and a current data set (Evidently's tests and
    /// defaults); exits 1 when the dataset drifts, for CI.
    #[command(subcommand)]
    Drift(monitor_cli::DriftCommand),
    /// Ground truth for logged predictions, from a CSV or Parquet file.
    #[command(subcommand, name = "ground-truth")]
    GroundTruth(monitor_cli::GroundTruthCommand),
    /// Model evaluation: each version's online metrics over its labelled predictions.
    #[command(subcommand)]
    Eval(monitor_cli::EvalCommand),
    /// Data contracts: check a feature view's or a model contract's constraints over
    /// its source, list the contracts folder.
    #[command(subcommand)]
    Data(data_cli::DataCommand),
    /// Predict over a model contract's data: each row of its first feature view (or
    /// of `--source`) through the model at its `exposed_at` alias, every prediction
    /// written to the prediction log with the model version and the entity id.
    Predict(data_cli::PredictArgs),
}

#[derive(clap::Args)]
struct TrainArgs {
    /// The training spec (YAML); its relative paths are read from its folder.
    spec: std::path::PathBuf,
    /// The tracking server to log to.
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "http://127.0.0.1:5000"
    )]
    tracking_uri: String,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Read the spec's relative data paths from this folder instead of the spec's
    /// own (a job's inline spec is written elsewhere than its job file).
    #[arg(long)]
    base: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The source: a tracking server (`http://mlflow:5000`), or the database one
    /// serves (`sqlite:///mlflow.db`, `postgresql://user@host/db`).
    #[arg(long)]
    from: String,
    /// For a database source: where its server keeps artifacts (its
    /// `--artifacts-destination`: a folder or an object-store URL); without it only
    /// metadata is copied.
    #[arg(long)]
    from_artifacts: Option<String>,
    /// cairn's storage, as `cairn server` uses it; the import journal is kept in the
    /// data folder.
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Create MLflow 3.17.2's schema on an empty database (SQLite or PostgreSQL), or
    /// confirm that an existing one is at that revision.
    Upgrade {
        /// The database, e.g. `sqlite:///cairn-data/mlflow.db` or
        /// `postgresql://user@host:5432/db`.
        url: String,
        /// Artifact location of the Default experiment (0) when it is created.
        #[arg(long, default_value = "mlflow-artifacts:/")]
        default_artifact_root: String,
    },
    /// Report the schema revision of a database without changing it; exits 1 unless
    /// cairn can serve it as it is.
    Check {
        /// The database, as for `upgrade`.
        url: String,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "CAIRN_HOST")]
    host: String,
    /// Port to listen on (0 picks a free one; the URL printed at start names it).
    #[arg(long, default_value_t = 5000, env = "CAIRN_PORT")]
    port: u16,
    #[command(flatten)]
    storage: StorageArgs,
    /// Most connections to a PostgreSQL backend store this server opens; size it so
    /// that replicas times pool size stays under the server's `max_connections`.
    #[arg(long, default_value_t = cairn_store::DEFAULT_POOL_SIZE, env = "CAIRN_DB_POOL_SIZE")]
    db_pool_size: u32,
    /// Also serve a model by alias in this process (`name@alias` or
    /// `models:/name@alias`); repeat for several, each at `/models/<name>/invocations`
    /// (and `/invocations` when there is one).
    #[arg(long = "serve", value_name = "MODEL")]
    serve: Vec<cairn_serving::ModelRef>,
    #[command(flatten)]
    serving: ServingArgs,
    /// Folder of job files (`*.yaml`), watched for edits; created when missing. The
    /// default sits beside the default data folder, in the directory cairn starts in.
    #[arg(long, default_value = "./jobs", env = "CAIRN_JOBS_DIR")]
    jobs_dir: PathBuf,
    /// Folder of data contracts (`*.yaml`: feature views and model contracts),
    /// watched for edits; created when missing. Its catalog, checks and quality
    /// history are in the API and the UI.
    #[arg(long, default_value = "./contracts", env = "CAIRN_CONTRACTS_DIR")]
    contracts_dir: PathBuf,
    /// Steps the worker embedded in this server runs at once; 0 leaves them to
    /// `cairn worker` processes.
    #[arg(long, default_value_t = 4, env = "CAIRN_WORKER_SLOTS")]
    worker_slots: usize,
    /// How long a worker's claim on a step holds without a heartbeat: a worker that
    /// dies is noticed within this, its step CRASHED and retried by its policy.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    job_lease: std::time::Duration,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The models to serve, `models:/<name>@<alias>` (or `name@alias`); several are
    /// served at `/models/<name>/invocations`, a single one also at `/invocations`.
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<cairn_serving::ModelRef>,
    /// The tracking server holding the registry and the model files.
    #[arg(
        long,
        default_value = "http://127.0.0.1:5000",
        env = "MLFLOW_TRACKING_URI"
    )]
    tracking_uri: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "CAIRN_SERVE_HOST")]
    host: String,
    /// Port to listen on (0 picks a free one; the URL printed at start names it).
    #[arg(long, default_value_t = 5001, env = "CAIRN_SERVE_PORT")]
    port: u16,
    /// Scratch folder for downloading model versions.
    #[arg(long, env = "CAIRN_SERVE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    #[command(flatten)]
    serving: ServingArgs,
}

/// How serving endpoints watch aliases and log predictions.
#[derive(clap::Args)]
struct ServingArgs {
    /// How often each alias is checked, in milliseconds.
    #[arg(long, default_value_t = 500, env = "CAIRN_SERVE_POLL_MS")]
    poll_interval_ms: u64,
    /// A request column (or named input) identifying the predicted entity: logged
    /// with each prediction to join ground truth later, never given to the model.
    #[arg(long, env = "CAIRN_SERVE_ENTITY_COLUMN")]
    entity_column: Option<String>,
    /// Do not write the prediction log.
    #[arg(long)]
    no_prediction_log: bool,
    /// Requests the prediction-log queue holds; beyond it log rows are shed (and
    /// counted), predictions never wait.
    #[arg(long, default_value_t = 10_000, env = "CAIRN_PREDICTION_LOG_QUEUE")]
    prediction_log_queue: usize,
    /// A challenger alias that also scores every request its model answers, off the
    /// response path: its predictions go to the prediction log flagged `shadow` and
    /// are never returned. `ALIAS` when one model is served, `NAME@ALIAS` to pick one.
    #[arg(long = "shadow", value_name = "ALIAS")]
    shadow: Vec<String>,
    /// Requests a shadow's queue holds; beyond it the shadow skips requests (counted
    /// in `cairn_shadow_requests_shed_total`), the champion never waits.
    #[arg(long, default_value_t = 1_000, env = "CAIRN_SHADOW_QUEUE")]
    shadow_queue: usize,
}

impl ServingArgs {
    fn config(
        &self,
        tracking_uri: String,
        models: Vec<cairn_serving::ModelRef>,
        cache_dir: PathBuf,
    ) -> anyhow::Result<cairn_serving::ServeConfig> {
        let shadows = self
            .shadow
            .iter()
            .map(|s| shadow_ref(s, &models))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut config = cairn_serving::ServeConfig::new(tracking_uri, models);
        config.poll_interval = std::time::Duration::from_millis(self.poll_interval_ms.max(10));
        config.cache_dir = cache_dir;
        config.entity_column = self.entity_column.clone();
        config.log_predictions = !self.no_prediction_log;
        config.log_queue = self.prediction_log_queue;
        config.shadows = shadows;
        config.shadow_queue = self.shadow_queue;
        Ok(config)
    }
}

/// `--shadow`'s value as a model alias: `NAME@ALIAS` as it is, a bare alias for the
/// only model served.
fn shadow_ref(
    value: &str,
    models: &[cairn_serving::ModelRef],
) -> anyhow::Result<cairn_serving::ModelRef> {
    if value.contains('@') {
        return value
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--shadow: {e}"));
    }
    match models {
        [only] if !value.is_empty() => Ok(cairn_serving::ModelRef {
            name: only.name.clone(),
            alias: value.to_string(),
        }),
        [_] => anyhow::bail!("--shadow needs an alias"),
        _ => anyhow::bail!(
            "--shadow {value}: several models are served; name the model as <name>@{value}"
        ),
    }
}

/// Where cairn keeps its data: what `cairn server` serves and `cairn import` fills.
#[derive(clap::Args)]
struct StorageArgs {
    /// Folder for the embedded database and local artifacts.
    #[arg(long, default_value = "./cairn-data", env = "CAIRN_DATA_DIR")]
    data_dir: PathBuf,
    /// Metadata database; default `sqlite:///<data-dir>/mlflow.db`.
    #[arg(long, env = "CAIRN_BACKEND_STORE_URI")]
    backend_store_uri: Option<String>,
    /// Artifact root for new experiments; default `mlflow-artifacts:/`, served by
    /// cairn's artifact proxy as `mlflow server` does.
    #[arg(
        long,
        default_value = "mlflow-artifacts:/",
        env = "CAIRN_DEFAULT_ARTIFACT_ROOT"
    )]
    default_artifact_root: String,
    /// Where the artifact proxy keeps files: a folder (default `<data-dir>/artifacts`)
    /// or `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`, with
    /// credentials and endpoint from the usual environment (`AWS_ENDPOINT_URL`, ...).
    #[arg(long, env = "CAIRN_ARTIFACTS_DESTINATION")]
    artifacts_destination: Option<String>,
}

impl StorageArgs {
    /// Creates the data folder; returns the database URI and artifact destination,
    /// defaults filled in.
    fn resolve(&self) -> anyhow::Result<(String, String)> {
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!("cannot create the data folder {}", self.data_dir.display())
        })?;
        let db = self.data_dir.join("mlflow.db");
        // sqlite:///relative/path or sqlite:////absolute/path, as SQLAlchemy spells them.
        let uri = self
            .backend_store_uri
            .clone()
            .unwrap_or_else(|| format!("sqlite:///{}", db.to_string_lossy()));
        let artifacts = self.artifacts_destination.clone().unwrap_or_else(|| {
            self.data_dir
                .join("artifacts")
                .to_string_lossy()
                .into_owned()
        });
        Ok((uri, artifacts))
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    // Logs go to stderr: stdout carries what a command answers (the URL a server
    // bound, `cairn train`'s result), which scripts and tests read.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let (backend_store_uri, artifacts_destination) = args.storage.resolve()?;
    let config = ServerConfig {
        host: args.host,
        port: args.port,
        backend_store_uri: backend_store_uri.into(),
        default_artifact_root: args.storage.default_artifact_root,
        artifacts_destination: artifacts_destination.into(),
        db_pool_size: args.db_pool_size,
        jobs: Some(cairn_server::JobsConfig {
            dir: args.jobs_dir.clone(),
            worker_slots: args.worker_slots,
            lease: args.job_lease,
            cairn_bin: std::env::current_exe().context("the path of this cairn binary")?,
            scratch: args.storage.data_dir.join("job-scratch"),
        }),
        contracts: Some(args.contracts_dir.clone()),
    };
    let server = Server::start(&config)
        .await
        .with_context(|| format!("cairn server on {}", config.backend_store_uri))?;
    let addr = server.local_addr()?;
    tracing::info!(
        backend = %config.backend_store_uri,
        artifacts = %config.artifacts_destination,
        "cairn server started"
    );
    println!("cairn serving MLflow's API and its web UI at http://{addr}");
    let ui = cairn_server::ui::router(server.state());
    if args.serve.is_empty() {
        server.serve_with(ui, shutdown_signal()).await?;
    } else {
        // The endpoints read the registry and write the prediction log through this
        // same server, over loopback: one code path for embedded and standalone.
        let loopback = if addr.ip().is_unspecified() {
            format!("http://127.0.0.1:{}", addr.port())
        } else {
            format!("http://{addr}")
        };
        let config = args.serving.config(
            loopback,
            args.serve.clone(),
            args.storage.data_dir.join("serving-cache"),
        )?;
        let serving = cairn_serving::Serving::start(config)?;
        for m in &args.serve {
            println!("serving {m} at http://{addr}/models/{}/invocations", m.name);
        }
        for shadow in serving.shadows() {
            println!("shadowing with {} (logged, never returned)", shadow.model);
        }
        server
            .document(cairn_serving::openapi)
            .serve_with(ui.merge(serving.router(false)), shutdown_signal())
            .await?;
        serving.stop().await;
    }
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn run_train(args: TrainArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let progress = cairn_train::Progress {
        visible: !args.quiet && std::io::stderr().is_terminal(),
    };
    let outcome = cairn_train::train(
        &args.spec,
        args.base.as_deref(),
        &args.tracking_uri,
        progress,
    )
    .await?;
    println!(
        "run {} (experiment {})",
        outcome.run_id, outcome.experiment_id
    );
    write_step_outputs(&outcome)?;
    if let Some(best) = &outcome.best_trial {
        println!("best trial: run {best}");
    }
    for (k, v) in &outcome.metrics {
        println!("  {k}: {v:.4}");
    }
    if let Some(g) = &outcome.gate {
        println!(
            "registered {} version {}: passed_tests={} beats_threshold={} -> {}",
            g.name,
            g.version,
            g.passed_tests,
            g.beats_threshold,
            if g.promoted {
                "promoted"
            } else {
                "not promoted"
            }
        );
        for r in &g.reasons {
            println!("  {r}");
        }
    }
    Ok(())
}

/// In a job's step (`$CAIRN_OUTPUTS` set), the training's results as the step's
/// outputs: `run_id`, `experiment_id`, and `model`, `version`, `promoted` when a
/// version was registered.
fn write_step_outputs(outcome: &cairn_train::Outcome) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os("CAIRN_OUTPUTS") else {
        return Ok(());
    };
    let mut lines = format!(
        "run_id={}\nexperiment_id={}\n",
        outcome.run_id, outcome.experiment_id
    );
    if let Some(g) = &outcome.gate {
        lines.push_str(&format!(
            "model={}\nversion={}\npromoted={}\n",
            g.name, g.version, g.promoted
        ));
    }
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(lines.as_bytes()))
        .with_context(|| {
            format!(
                "writing the step outputs to {}",
                PathBuf::from(&path).display()
            )
        })
}

async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    use axum::serve::ListenerExt;
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("cairn-serving"));
    let config = args
        .serving
        .config(args.tracking_uri.clone(), args.models.clone(), cache_dir)?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    let serving = cairn_serving::Serving::start(config)?;
    tracing::info!(tracking_uri = %args.tracking_uri, "cairn serve started");
    for m in &args.models {
        println!("serving {m} at http://{addr}/models/{}/invocations", m.name);
    }
    if let [only] = &args.models[..] {
        println!("serving {only} at http://{addr}/invocations");
    }
    for shadow in serving.shadows() {
        println!("shadowing with {} (logged, never returned)", shadow.model);
    }
    let app = serving
        .router(true)
        .layer(tower_http::trace::TraceLayer::new_for_http());
    // Small JSON answers must not wait for Nagle's algorithm and delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    serving.stop().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn run_import(args: ImportArgs) -> anyhow::Result<()> {
    let (dest_uri, dest_artifacts) = args.storage.resolve()?;
    let data_dir = &args.storage.data_dir;
    // A database source is served by cairn itself, in this process, on a free port:
    // the import then reads it over MLflow's API like any server.
    let mut embedded = None;
    let source_url = if args.from.starts_with("http://") || args.from.starts_with("https://") {
        args.from.clone()
    } else {
        let scratch = data_dir.join("import-source-artifacts");
        let server = Server::start(&ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            backend_store_uri: args.from.clone().into(),
            default_artifact_root: "mlflow-artifacts:/".into(),
            artifacts_destination: args
                .from_artifacts
                .clone()
                .unwrap_or_else(|| scratch.to_string_lossy().into_owned())
                .into(),
            db_pool_size: 4,
            jobs: None,
            contracts: None,
        })
        .await
        .with_context(|| format!("opening the source database {}", redact(&args.from)))?;
        let addr = server.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        embedded = Some((stop, task));
        format!("http://{addr}")
    };
    let stores = cairn_store::open(&dest_uri, &args.storage.default_artifact_root)
        .await
        .with_context(|| format!("opening cairn's database {}", redact(&dest_uri)))?;
    let artifacts = cairn_artifacts::ArtifactStore::open(&dest_artifacts).with_context(|| {
        format!(
            "opening cairn's artifact storage {}",
            redact(&dest_artifacts)
        )
    })?;
    let journal = data_dir.join(format!(
        "import-journal-{}.txt",
        args.from
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    ));
    let source = cairn_client::Client::new(&source_url);
    let import = cairn_import::Import {
        source: &source,
        dest: &stores,
        artifacts: &artifacts,
        journal,
        show_progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let result = import.run().await;
    stores.tracking.close().await;
    if let Some((stop, task)) = embedded {
        let _ = stop.send(());
        let _ = task.await;
    }
    let summary = result.with_context(|| format!("cairn import --from {}", redact(&args.from)))?;
    println!("{summary}");
    Ok(())
}

async fn run_db(command: DbCommand) -> anyhow::Result<()> {
    use cairn_store::schema::{ALEMBIC_HEAD, MLFLOW_VERSION};
    use cairn_store::SchemaState;
    match command {
        DbCommand::Upgrade {
            url,
            default_artifact_root,
        } => {
            let shown = redact(&url);
            cairn_store::upgrade_schema(&url, &default_artifact_root)
                .await
                .with_context(|| format!("cairn db upgrade {shown}"))?;
            println!("{shown}: MLflow schema at revision {ALEMBIC_HEAD} (mlflow {MLFLOW_VERSION})");
            Ok(())
        }
        DbCommand::Check { url } => {
            let shown = redact(&url);
            let state = cairn_store::check_schema(&url)
                .await
                .with_context(|| format!("cairn db check {shown}"))?;
            match state {
                SchemaState::Current => {
                    println!(
                        "{shown}: MLflow schema at revision {ALEMBIC_HEAD} (mlflow {MLFLOW_VERSION}); \
                         cairn serves it as it is"
                    );
                    Ok(())
                }
                SchemaState::Empty => anyhow::bail!(
                    "{shown}: no MLflow schema yet; `cairn db upgrade {shown}` creates it"
                ),
                SchemaState::Revision(found) => anyhow::bail!(
                    "{shown}: MLflow schema at revision '{found}', but cairn speaks \
                     {ALEMBIC_HEAD} (mlflow {MLFLOW_VERSION}); migrate it with `mlflow db \
                     upgrade` from mlflow {MLFLOW_VERSION}"
                ),
                SchemaState::NotMlflow(tables) => anyhow::bail!(
                    "{shown}: not an MLflow database (no alembic_version table; found {tables})"
                ),
            }
        }
    }
}

/// The error and its causes on one line, leaving out causes whose text the line
/// already holds (our error types quote their source in their own message).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run_command(cli.command)));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a command; most answer success or an error, a drift check its verdict.
async fn run_command(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let done = match command {
        Command::Drift(command) => return Ok(monitor_cli::drift(command).await),
        Command::Data(command) => return Ok(data_cli::run(command).await),
        Command::Server(args) => run_server(args).await,
        Command::Serve(args) => run_serve(args).await,
        Command::Db(command) => run_db(command).await,
        Command::Import(args) => run_import(args).await,
        Command::Train(args) => run_train(args).await,
        Command::Job(command) => jobs_cli::run(command).await,
        Command::Worker(args) => jobs_cli::run_worker(args, shutdown_signal()).await,
        Command::GroundTruth(command) => monitor_cli::ground_truth(command).await,
        Command::Eval(command) => monitor_cli::eval(command).await,
        Command::Predict(args) => data_cli::predict(args).await,
    };
    done.map(|()| std::process::ExitCode::SUCCESS)
}
