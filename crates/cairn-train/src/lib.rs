//! `cairn train`: runs a training spec end to end, tracked through the MLflow API:
//! runs, per-epoch metrics, search trials as child runs, evaluation reports and
//! plots, the model directory (cairn's flavor), registration and gated promotion.

pub mod error;
pub mod evaluation;
pub mod gate;
pub mod pipeline;
pub mod progress;
pub mod search;
pub mod spec;
pub mod tracker;

pub use error::{Result, TrainError};
pub use gate::GateOutcome;
pub use pipeline::Outcome;
pub use progress::Progress;
pub use spec::Spec;
pub use tracker::Tracker;

/// Runs the spec at `path` against the tracking server at `tracking_uri`. Relative
/// data paths in the spec are read from `base`, or from the spec's own folder.
pub async fn train(
    path: &std::path::Path,
    base: Option<&std::path::Path>,
    tracking_uri: &str,
    progress: Progress,
) -> Result<Outcome> {
    let spec = match base {
        Some(base) => Spec::read_from(path, base)?,
        None => Spec::read(path)?,
    };
    let tracker = Tracker::new(
        cairn_client::Client::new(tracking_uri),
        tokio::runtime::Handle::current(),
    );
    tokio::task::spawn_blocking(move || pipeline::run(&spec, &tracker, &progress))
        .await
        .map_err(|e| TrainError::Spec(format!("training stopped: {e}")))?
}
