//! The common end of every task, and what a job reports: the test metrics, the
//! evaluation report and its plots are logged to the run, the model directory is
//! saved and uploaded, and, when the spec registers the model, the version is
//! registered and gated through [`crate::gate`].

use std::collections::BTreeMap;

use cairn_core::entities::Metric;
use cairn_ml::metrics::Report;
use cairn_ml::model_dir::CairnModel;
use serde_json::Value;

use crate::error::{Result, TrainError};
use crate::evaluation::TestSet;
use crate::gate::{gate, GateOutcome};
use crate::spec::{OodSpec, RegisterSpec};
use crate::tracker::{metric, RunRef, Tracker};

/// What a finished job reports.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub run_id: String,
    pub experiment_id: String,
    pub metrics: BTreeMap<String, f64>,
    pub best_trial: Option<String>,
    pub gate: Option<GateOutcome>,
}

/// Logs `metrics`, the report and the plots to `parent`, saves and uploads the
/// model directory (with the encoder folder and the input examples), and gates the
/// version when `register` is given.
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a separate result of the run it records; a struct would only rename them"
)]
pub(super) fn finish(
    register: Option<&RegisterSpec>,
    tracker: &Tracker,
    parent: &RunRef,
    model: CairnModel,
    encoder_src: Option<&std::path::Path>,
    examples: &[Vec<Value>],
    test: &TestSet,
    metrics: BTreeMap<String, f64>,
    report: Report,
    ood: Option<&OodSpec>,
    best_trial: Option<String>,
) -> Result<Outcome> {
    let logged: Vec<Metric> = metrics.iter().map(|(k, v)| metric(k, *v, 0)).collect();
    tracker.log(parent, &logged, &[], &[])?;
    let report_json =
        serde_json::to_vec_pretty(&report).map_err(|e| TrainError::Spec(e.to_string()))?;
    tracker.upload(parent, "evaluation/classification_report.json", report_json)?;
    for (name, svg) in cairn_ml::plots::evaluation_plots(&report) {
        let png = cairn_ml::plots::to_png(&svg)?;
        tracker.upload(parent, &format!("evaluation/{name}.png"), png)?;
        tracker.upload(parent, &format!("evaluation/{name}.svg"), svg.into_bytes())?;
    }
    let dir = tempfile::tempdir()?;
    let model_dir = dir.path().join("model");
    cairn_ml::model_dir::save(&model_dir, &model, encoder_src, examples)?;
    tracker.upload_dir(parent, &model_dir, "model")?;
    let gate = match register {
        None => None,
        Some(reg) => Some(gate(
            tracker, parent, reg, &model, &model_dir, test, &metrics, ood,
        )?),
    };
    Ok(Outcome {
        run_id: parent.run_id.clone(),
        experiment_id: parent.experiment_id.clone(),
        metrics,
        best_trial,
        gate,
    })
}
