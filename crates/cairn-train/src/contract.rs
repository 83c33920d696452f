//! Training data from a model contract (`data: {contract: NAME}`).

use std::path::Path;
use std::sync::Arc;

use cairn_data::training::TrainingSet;
use cairn_data::{CheckOptions, ContractFolder};

use crate::{Result, TrainError};

/// Reads the contracts folder, checks the contract's data when asked (refusing to
/// train on violations), and writes its training set to `out`.
pub(crate) async fn training_set(
    dir: &Path,
    contract: &str,
    require_checks: bool,
    out: &Path,
) -> Result<TrainingSet> {
    if !dir.is_dir() {
        return Err(TrainError::Spec(format!(
            "data.contracts_dir: {} is not a folder",
            dir.display()
        )));
    }
    let folder = ContractFolder::open(dir, Arc::new(()))
        .map_err(|e| TrainError::Spec(format!("cannot read {}: {e}", dir.display())))?;
    let state = folder.state();
    if let Some(file) = state.get(contract) {
        if let Some(e) = state.errors.get(&file.file) {
            return Err(TrainError::Spec(format!("data.contract: {e}")));
        }
    }
    if require_checks {
        let report = cairn_data::check(&state, contract, &CheckOptions::default())
            .await
            .map_err(|e| TrainError::Spec(format!("data.contract: {e}")))?;
        if !report.passed {
            let failed: Vec<String> = report
                .views
                .iter()
                .flat_map(|v| {
                    v.fields.iter().flat_map(move |f| {
                        f.constraints
                            .iter()
                            .filter(|c| c.violations > 0)
                            .map(move |c| {
                                format!(
                                    "{}.{} {}: {} rows",
                                    v.view, f.field, c.constraint, c.violations
                                )
                            })
                    })
                })
                .collect();
            return Err(TrainError::Spec(format!(
                "data.require_checks: contract `{contract}` has {} violations: {}",
                report.violations,
                failed.join("; ")
            )));
        }
    }
    cairn_data::training::write_training_set(&state, contract, out)
        .await
        .map_err(|e| TrainError::Spec(format!("data.contract: {e}")))
}
