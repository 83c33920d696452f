//! cairn's rules, between the edges that parse (the REST API, the web UI, the CLI and
//! jobs) and the stores that persist.
//!
//! Every function here returns [`cairn_core::MlflowError`], never an HTTP type, so the
//! same rules run in process from any caller. A store or storage failure reaches the
//! caller as one opaque `INTERNAL_ERROR`; its cause is logged once, inside the
//! caller's span (which carries the request id), where it is converted.

pub mod artifacts;
pub mod data;
pub mod jobs;
pub mod logged_models;
pub mod monitor;
pub mod predictions;
pub mod registry;
pub mod tracking;

use std::sync::Arc;

use cairn_artifacts::ArtifactStore;
use cairn_store::Stores;

pub use artifacts::ArtifactService;
pub use data::DataService;
pub use jobs::JobService;
pub use monitor::MonitorService;
pub use predictions::PredictionService;
pub use registry::RegistryService;
pub use tracking::TrackingService;

/// Every capability's service over one backend's stores and one artifact destination:
/// what a handler, a UI page or a job step reaches.
#[derive(Clone)]
pub struct Services {
    pub tracking: Arc<TrackingService>,
    pub registry: Arc<RegistryService>,
    pub artifacts: Arc<ArtifactService>,
    pub predictions: Arc<PredictionService>,
    pub jobs: Arc<JobService>,
    pub monitor: Arc<MonitorService>,
    pub data: Arc<DataService>,
}

impl Services {
    pub fn new(stores: Stores, artifacts: ArtifactStore) -> Self {
        let tracking = Arc::new(TrackingService::new(stores.tracking, stores.logged_models));
        let registry = Arc::new(RegistryService::new(stores.registry, tracking.clone()));
        Services {
            jobs: Arc::new(JobService::new(stores.jobs, registry.clone())),
            registry,
            tracking,
            artifacts: Arc::new(ArtifactService::new(artifacts)),
            predictions: Arc::new(PredictionService::new(stores.predictions)),
            monitor: Arc::new(MonitorService::new(stores.monitor)),
            data: Arc::new(DataService::new(stores.data)),
        }
    }
}

/// Milliseconds since the Unix epoch, MLflow's timestamp unit.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
