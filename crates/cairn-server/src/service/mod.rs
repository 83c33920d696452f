//! Services: the rules of each capability, between handlers (which parse) and stores
//! (which persist). The REST API and, later, the UI and jobs call these same functions.

pub mod artifacts;
pub mod logged_models;
pub mod predictions;
pub mod registry;
pub mod tracking;

pub use artifacts::ArtifactService;
pub use predictions::PredictionService;
pub use registry::RegistryService;
pub use tracking::TrackingService;

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
