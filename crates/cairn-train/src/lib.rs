//! `cairn train`: runs a training spec end to end, tracked through the MLflow API:
//! runs, per-epoch metrics, search trials as child runs, evaluation reports and
//! plots, the model directory (cairn's flavor), registration and gated promotion.

mod contract;
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
    let mut spec = match base {
        Some(base) => Spec::read_from(path, base)?,
        None => Spec::read(path)?,
    };
    // A contract's training set is built first, into a file the run then reads as
    // it reads any CSV (and keeps as its training dataset).
    let scratch = tempfile::tempdir()
        .map_err(|e| TrainError::Spec(format!("cannot make a scratch folder: {e}")))?;
    if let Spec::TabularClassification(s) = &mut spec {
        if let Some(contract) = s.data.contract.clone() {
            let dir = s.data.contracts_dir.clone().unwrap_or_default();
            let out = scratch.path().join(format!("{contract}.csv"));
            let set = contract::training_set(&dir, &contract, s.data.require_checks, &out).await?;
            s.data.csv = Some(out);
            s.data.label_column = set.label;
            s.data.from_contract = Some((set.contract, set.version));
        }
    }
    let tracker = Tracker::new(
        cairn_client::Client::new(tracking_uri),
        tokio::runtime::Handle::current(),
    );
    tokio::task::spawn_blocking(move || pipeline::run(&spec, &tracker, &progress))
        .await
        .map_err(|e| TrainError::Spec(format!("training stopped: {e}")))?
}
