//! cairn's HTTP server: MLflow's REST API over cairn's services.
//!
//! [`Server::start`] opens the store, binds the listener and serves until the shutdown
//! future resolves; in-flight requests finish, then the store closes cleanly. Tests
//! start it on port 0 and talk to it over real HTTP. The API describes itself:
//! [`openapi`] is the document served at `/openapi.json`, with Swagger UI at `/docs`.

mod api;
mod document;
mod error;
mod extract;
mod metrics;
pub mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use axum::Router;
use cairn_artifacts::ArtifactStore;
use cairn_core::SecretUri;
use cairn_store::TrackingStore;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use api::openapi;
pub use cairn_service::Services;
pub use document::ApiDocument;
pub use error::{ApiError, ApiResult};

/// Everything `cairn server` needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// The metadata database; may carry a password, so it prints redacted.
    pub backend_store_uri: SecretUri,
    pub default_artifact_root: String,
    /// Where the artifact proxy keeps files: a folder or an object-store URL.
    pub artifacts_destination: SecretUri,
    /// Most connections a PostgreSQL backend opens (per replica).
    pub db_pool_size: u32,
    /// Jobs: the folder of job files, the scheduler, and the embedded worker.
    pub jobs: Option<JobsConfig>,
    /// The folder of data contracts (feature views, model contracts), watched.
    pub contracts: Option<std::path::PathBuf>,
}

/// What `cairn server` runs of the jobs machinery.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// The jobs folder, watched for changes.
    pub dir: std::path::PathBuf,
    /// Steps the embedded worker runs at once (0: no embedded worker; `cairn worker`
    /// processes run them).
    pub worker_slots: usize,
    /// How long a worker's claim holds without a heartbeat.
    pub lease: std::time::Duration,
    /// The binary `cairn` in a step's argv stands for (this one).
    pub cairn_bin: std::path::PathBuf,
    /// Where steps get their scratch folders.
    pub scratch: std::path::PathBuf,
}

/// The largest request body: MLflow allows dataset profiles of 16 MiB in log-inputs.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The application with its middleware: request logs and the body limit.
pub fn app(state: Services) -> Router {
    app_with(state, Router::new(), ApiDocument::new(openapi))
}

/// The application with more routes beside MLflow's (the serving endpoints of
/// `cairn server --serve`), under the same middleware, and `doc` (the API's
/// document, with the extra routes' merged in) at `/openapi.json` with Swagger UI at
/// `/docs`, built when first asked for.
///
/// Every request gets an `x-request-id` (the client's, or a new UUID), answered back
/// in the response and carried by the request's span, so that whatever a service
/// logs for it (a store failure's cause, say) names the request the client saw fail.
pub fn app_with(state: Services, extra: Router, doc: ApiDocument) -> Router {
    // The recorder exists before the first request, so no request goes unrecorded.
    cairn_telemetry::prometheus();
    api::router(state.clone())
        .merge(extra)
        .merge(doc.router())
        .route(
            "/metrics",
            axum::routing::get(metrics::page).with_state(state),
        )
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The span of one request: method, path (never the query, which may carry values a
/// log should not keep) and request id.
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id,
    )
}

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    store: Arc<dyn TrackingStore>,
    state: Services,
    jobs: Option<JobsConfig>,
    /// What `/openapi.json` serves: the API's document and any merged in.
    doc: ApiDocument,
}

impl Server {
    /// Opens the store (creating MLflow's schema if the database is new) and binds.
    pub async fn start(config: &ServerConfig) -> Result<Self, StartError> {
        let artifacts = ArtifactStore::open(config.artifacts_destination.expose())?;
        let stores = cairn_store::open_with_pool(
            config.backend_store_uri.expose(),
            &config.default_artifact_root,
            config.db_pool_size,
        )
        .await?;
        let store = stores.tracking.clone();
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .map_err(|source| StartError::Bind {
                addr: format!("{}:{}", config.host, config.port),
                source,
            })?;
        let state = Services::new(stores, artifacts);
        if let Some(jobs) = &config.jobs {
            let library =
                cairn_jobs::JobLibrary::open(&jobs.dir, Arc::new(cairn_jobs::Registry::default()))
                    .map_err(|source| StartError::Jobs {
                        dir: jobs.dir.display().to_string(),
                        source,
                    })?;
            if let Err(e) = library.watch() {
                tracing::warn!(dir = %jobs.dir.display(), error = %e,
                    "cannot watch the jobs folder: edits apply after a restart");
            }
            let read = library.state();
            tracing::info!(dir = %jobs.dir.display(), jobs = read.items.len(),
                broken = read.errors.len(), "jobs folder read");
            state.jobs.attach_library(library);
        }
        if let Some(dir) = &config.contracts {
            let folder = cairn_data::ContractFolder::open(dir, Arc::new(())).map_err(|source| {
                StartError::Contracts {
                    dir: dir.display().to_string(),
                    source,
                }
            })?;
            if let Err(e) = folder.watch() {
                tracing::warn!(dir = %dir.display(), error = %e,
                    "cannot watch the contracts folder: edits apply after a restart");
            }
            let read = folder.state();
            tracing::info!(dir = %dir.display(), contracts = read.items.len(),
                broken = read.errors.len(), "contracts folder read");
            state.data.attach_folder(folder);
        }
        Ok(Server {
            listener,
            store,
            state,
            jobs: config.jobs.clone(),
            doc: ApiDocument::new(openapi),
        })
    }

    /// Merges `other` (the document of routes served beside the API, such as the
    /// serving endpoints') into the one `/openapi.json` serves.
    pub fn document(mut self, other: fn() -> utoipa::openapi::OpenApi) -> Self {
        self.doc = self.doc.merge(other);
        self
    }

    /// The services, for routes built beside the API's (the web UI's pages).
    pub fn state(&self) -> Services {
        self.state.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, lets in-flight requests finish, then closes
    /// the store.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(Router::new(), shutdown).await
    }

    /// As [`Server::serve`], with `extra` routes beside MLflow's.
    pub async fn serve_with(
        self,
        extra: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let jobs = self.start_jobs();
        // Workers' long polls end when shutdown starts, not after it: graceful shutdown
        // waits for every request in flight.
        let service = self.state.jobs.clone();
        let shutdown = async move {
            shutdown.await;
            service.close();
        };
        // Small JSON answers must not wait for Nagle's algorithm and the client's
        // delayed ACK (40 ms per request on Linux).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let result = axum::serve(listener, app_with(self.state, extra, self.doc))
            .with_graceful_shutdown(shutdown)
            .await;
        jobs.stop().await;
        self.store.close().await;
        result
    }

    /// Starts the scheduler, the registry triggers and the embedded worker, when the
    /// server has a jobs folder.
    fn start_jobs(&self) -> JobsRuntime {
        let token = tokio_util::sync::CancellationToken::new();
        let mut tasks = Vec::new();
        if let Some(config) = &self.jobs {
            let jobs = self.state.jobs.clone();
            tasks.push(tokio::spawn(cairn_service::jobs::run_scheduler(
                jobs.clone(),
                token.clone(),
            )));
            tasks.push(tokio::spawn(cairn_service::jobs::follow_registry(
                jobs.clone(),
                self.state.registry.subscribe(),
                token.clone(),
            )));
            if config.worker_slots > 0 {
                let addr = self.listener.local_addr().ok();
                let tracking_uri = match addr {
                    Some(a) if a.ip().is_unspecified() => format!("http://127.0.0.1:{}", a.port()),
                    Some(a) => format!("http://{a}"),
                    None => String::new(),
                };
                let worker = cairn_jobs::worker::Worker::new(
                    Arc::new(cairn_service::jobs::InProcess(jobs.clone())),
                    Arc::new(cairn_jobs::Registry::default()),
                    Arc::new(cairn_jobs::executor::LocalProcess::default()),
                    cairn_jobs::worker::WorkerConfig {
                        id: format!("embedded-{}", std::process::id()),
                        pool: cairn_jobs::spec::DEFAULT_POOL.to_string(),
                        slots: config.worker_slots,
                        lease: config.lease,
                        poll: std::time::Duration::from_secs(1),
                        // Woken in process when a run is created here.
                        long_poll: std::time::Duration::ZERO,
                        cairn_bin: config.cairn_bin.clone(),
                        tracking_uri,
                        scratch: config.scratch.clone(),
                    },
                );
                jobs.add_waker(worker.waker());
                tasks.push(tokio::spawn(worker.run(token.clone())));
            }
        }
        JobsRuntime { token, tasks }
    }
}

/// The jobs machinery's tasks, stopped with the server.
struct JobsRuntime {
    token: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl JobsRuntime {
    async fn stop(self) {
        self.token.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(15), t).await;
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the backend store: {0}")]
    Store(#[from] cairn_store::StoreError),
    #[error("cannot open the artifact destination: {0}")]
    Artifacts(#[from] cairn_artifacts::ArtifactError),
    #[error("cannot open the jobs folder {dir}: {source}")]
    Jobs { dir: String, source: std::io::Error },
    #[error("cannot open the contracts folder {dir}: {source}")]
    Contracts { dir: String, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}
