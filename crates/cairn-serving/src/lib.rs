//! Model serving that follows the registry.
//!
//! Each endpoint is bound to `models:/<name>@<alias>`. A watcher polls the alias; when
//! it moves, the new version is downloaded through the tracking server's artifact
//! proxy, loaded by its flavor, checked against its own input example and swapped in
//! atomically, while requests in flight finish on the version they started with.
//! Every answered request is queued for the prediction log, written in batches
//! through the tracking server. A model can have a shadow (`--shadow challenger`):
//! another alias that scores the same requests off the response path (see
//! [`shadow`]).

pub mod api;
pub mod batch;
pub mod endpoint;
pub mod error;
pub mod flavor;
pub mod input;
pub mod metrics;
pub mod mlmodel;
pub mod predlog;
pub mod shadow;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use cairn_client::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use api::{openapi, MODEL_VERSION_HEADER, REQUEST_ID_HEADER};
pub use batch::BatchScorer;
pub use endpoint::{Endpoint, EndpointStatus, ModelRef};
pub use error::ServingError;
use predlog::{LogWriter, PredictionLog, PredictionSink};
use shadow::{Shadow, ShadowWorker};

/// What a serving process serves and where it reads the registry.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The tracking server that holds the registry and the artifacts.
    pub tracking_uri: String,
    pub models: Vec<ModelRef>,
    /// How often each alias is checked.
    pub poll_interval: Duration,
    /// Scratch folder for downloading versions.
    pub cache_dir: PathBuf,
    /// A request column (or named input) that identifies the predicted entity: it is
    /// logged with each row and never given to the model.
    pub entity_column: Option<String>,
    /// Write the prediction log (on by default).
    pub log_predictions: bool,
    /// Requests the prediction-log queue holds before it sheds.
    pub log_queue: usize,
    /// Challenger aliases, each of a served model, scoring its requests in shadow.
    pub shadows: Vec<ModelRef>,
    /// Requests each shadow's queue holds before it sheds.
    pub shadow_queue: usize,
}

impl ServeConfig {
    pub fn new(tracking_uri: impl Into<String>, models: Vec<ModelRef>) -> ServeConfig {
        ServeConfig {
            tracking_uri: tracking_uri.into(),
            models,
            poll_interval: Duration::from_millis(500),
            cache_dir: std::env::temp_dir().join("cairn-serving"),
            entity_column: None,
            log_predictions: true,
            log_queue: 10_000,
            shadows: Vec::new(),
            shadow_queue: 1_000,
        }
    }
}

/// Running endpoints: their watchers, the log writer, and the router over them.
pub struct Serving {
    state: api::ServingState,
    shutdown: watch::Sender<bool>,
    watchers: Vec<JoinHandle<()>>,
    writer: Option<LogWriter>,
    shadow_workers: Vec<ShadowWorker>,
}

impl Serving {
    /// Starts a watcher per model (each loads its first version at once) and the
    /// prediction-log writer. Must run inside a tokio runtime.
    pub fn start(config: ServeConfig) -> Result<Serving, ServingError> {
        if config.models.is_empty() {
            return Err(ServingError::BadRequest("no model to serve".into()));
        }
        for (i, m) in config.models.iter().enumerate() {
            if config.models[..i].iter().any(|o| o.name == m.name) {
                return Err(ServingError::BadRequest(format!(
                    "model '{}' is named twice: each endpoint serves a distinct model",
                    m.name
                )));
            }
        }
        for (i, shadow) in config.shadows.iter().enumerate() {
            let Some(served) = config.models.iter().find(|m| m.name == shadow.name) else {
                return Err(ServingError::BadRequest(format!(
                    "the shadow {shadow} is of a model this server does not serve"
                )));
            };
            if served.alias == shadow.alias {
                return Err(ServingError::BadRequest(format!(
                    "the shadow {shadow} is the alias its endpoint serves: name the challenger"
                )));
            }
            if config.shadows[..i].iter().any(|o| o.name == shadow.name) {
                return Err(ServingError::BadRequest(format!(
                    "model '{}' has two shadows: one challenger per model",
                    shadow.name
                )));
            }
            if !config.log_predictions {
                return Err(ServingError::BadRequest(
                    "a shadow's predictions go only to the prediction log: \
                     --shadow needs it on (drop --no-prediction-log)"
                        .into(),
                ));
            }
        }
        metrics::handle();
        let client = Client::new(&config.tracking_uri);
        let (log, writer) = if config.log_predictions {
            let sink: Arc<dyn PredictionSink> = Arc::new(client.clone());
            let (log, writer) = PredictionLog::start(sink, config.log_queue);
            (Some(log), Some(writer))
        } else {
            (None, None)
        };
        let endpoints: Vec<Arc<Endpoint>> = config
            .models
            .iter()
            .cloned()
            .map(|m| Arc::new(Endpoint::new(m)))
            .collect();
        let (shutdown, rx) = watch::channel(false);
        let watch_config = endpoint::WatchConfig {
            client,
            poll_interval: config.poll_interval,
            cache_dir: config.cache_dir.clone(),
            retry_after: Duration::from_secs(30),
        };
        let entity_column: Option<Arc<str>> = config.entity_column.map(|c| c.as_str().into());
        let mut shadows = Vec::new();
        let mut shadow_workers = Vec::new();
        for m in &config.shadows {
            // A client of its own: the shadow writes from its own thread and runtime.
            let shadow_sink: Arc<dyn PredictionSink> = Arc::new(Client::new(&config.tracking_uri));
            let (shadow, worker) = Shadow::start(
                Arc::new(Endpoint::new(m.clone())),
                shadow_sink,
                entity_column.clone(),
                config.shadow_queue,
            )?;
            shadows.push(shadow);
            shadow_workers.push(worker);
        }
        let watchers = endpoints
            .iter()
            .chain(shadows.iter().map(|s| &s.endpoint))
            .map(|e| tokio::spawn(endpoint::watch(e.clone(), watch_config.clone(), rx.clone())))
            .collect();
        Ok(Serving {
            state: api::ServingState {
                endpoints: Arc::new(endpoints),
                log,
                entity_column,
                shadows: Arc::new(shadows),
            },
            shutdown,
            watchers,
            writer,
            shadow_workers,
        })
    }

    /// The HTTP routes (see [`api::router`]).
    pub fn router(&self, standalone: bool) -> Router {
        api::router(self.state.clone(), standalone)
    }

    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.state.endpoints
    }

    /// The shadow challengers' endpoints.
    pub fn shadows(&self) -> impl Iterator<Item = &Arc<Endpoint>> {
        self.state.shadows.iter().map(|s| &s.endpoint)
    }

    /// Stops the watchers and flushes the prediction log. Call after the HTTP server
    /// has stopped (and dropped its router), so no request can still queue a row.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for w in self.watchers {
            let _ = w.await;
        }
        drop(self.state);
        // The shadows drain their queues and write what they scored.
        for worker in self.shadow_workers {
            worker.finish().await;
        }
        if let Some(writer) = self.writer {
            writer.finish().await;
        }
    }
}
