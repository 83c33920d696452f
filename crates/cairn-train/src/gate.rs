//! Registration and gated promotion: the new version is registered, checked, and
//! tagged `passed_tests` and `beats_threshold`; the alias moves to it only when
//! both are true. The champion is scored with [`crate::evaluation`], as the new
//! model was, so this module never uses the pipeline that calls it.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_ml::model_dir::{self, CairnModel};
use serde_json::Value;

use crate::error::{Result, TrainError};
use crate::evaluation::{score, TestSet};
use crate::spec::{OodSpec, RegisterSpec};
use crate::tracker::{RunRef, Tracker};

#[derive(Debug, Clone)]
pub struct GateOutcome {
    pub name: String,
    pub version: String,
    pub passed_tests: bool,
    pub beats_threshold: bool,
    pub promoted: bool,
    /// Why each check went the way it did, for the terminal and the version's tags.
    pub reasons: Vec<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a separate result of the run it records; a struct would only rename them"
)]
pub fn gate(
    tracker: &Tracker,
    run: &RunRef,
    reg: &RegisterSpec,
    model: &CairnModel,
    saved_dir: &Path,
    test: &TestSet,
    metrics: &BTreeMap<String, f64>,
    ood: Option<&OodSpec>,
) -> Result<GateOutcome> {
    let client = &tracker.client;
    let registered = match tracker.block(client.get_registered_model(&reg.name)) {
        Ok(m) => Some(m),
        Err(e) if e.status() == Some(404) => {
            tracker.block(client.create_registered_model(&reg.name, None, &[]))?;
            None
        }
        Err(e) => return Err(e.into()),
    };
    // The champion before this version exists, so a race with another promotion
    // compares with what was there when this one started.
    let champion_version = registered
        .iter()
        .flat_map(|m| &m.aliases)
        .find(|a| a.alias == reg.alias)
        .map(|a| a.version.clone());
    let champion = match champion_version {
        Some(v) => Some(tracker.block(client.get_model_version(&reg.name, &v))?),
        None => None,
    };
    let source = format!("mlflow-artifacts:/{}/model", run.artifact_path);
    let version =
        tracker.block(client.create_model_version(&reg.name, &source, Some(&run.run_id)))?;
    let mut reasons = Vec::new();

    let passed_tests = match self_test(model, saved_dir) {
        Ok(()) => {
            reasons.push("tests: signature read, the saved model reloaded and predicted its input example as trained".to_string());
            true
        }
        Err(e) => {
            reasons.push(format!("tests failed: {e}"));
            false
        }
    };

    let mut beats = true;
    for (key, min) in &reg.thresholds {
        match metrics.get(key) {
            Some(v) if v >= min => reasons.push(format!("{key} {v:.4} >= {min}")),
            Some(v) => {
                beats = false;
                reasons.push(format!("{key} {v:.4} is below the threshold {min}"));
            }
            None => {
                beats = false;
                reasons.push(format!(
                    "{key}: no such metric (have {:?})",
                    metrics.keys().collect::<Vec<_>>()
                ));
            }
        }
    }
    let ours = metrics.get(&reg.compare_metric).copied();
    match (&champion, ours) {
        (_, None) => {
            beats = false;
            reasons.push(format!(
                "compare_metric {}: no such metric",
                reg.compare_metric
            ));
        }
        (None, Some(_)) => reasons.push(format!("no version holds @{} yet", reg.alias)),
        (Some(champ), Some(ours)) => {
            match champion_metric(tracker, champ, test, &reg.compare_metric, ood) {
                Ok(theirs) if ours > theirs => reasons.push(format!(
                    "{} {ours:.4} beats version {}'s {theirs:.4} on the same test set",
                    reg.compare_metric, champ.version
                )),
                Ok(theirs) => {
                    beats = false;
                    reasons.push(format!(
                        "{} {ours:.4} does not beat version {}'s {theirs:.4} on the same test set",
                        reg.compare_metric, champ.version
                    ));
                }
                Err(e) => {
                    beats = false;
                    reasons.push(format!(
                        "the champion, version {}, could not be scored: {e}",
                        champ.version
                    ));
                }
            }
        }
    }
    let tag = |k: &str, v: &str| {
        tracker.block(client.set_model_version_tag(&reg.name, &version.version, k, v))
    };
    tag("passed_tests", &passed_tests.to_string())?;
    tag("beats_threshold", &beats.to_string())?;
    tag("cairn.gate", &reasons.join("; "))?;
    let promoted = passed_tests && beats;
    if promoted {
        tracker.block(client.set_registered_model_alias(
            &reg.name,
            &reg.alias,
            &version.version,
        ))?;
    }
    Ok(GateOutcome {
        name: reg.name.clone(),
        version: version.version,
        passed_tests,
        beats_threshold: beats,
        promoted,
        reasons,
    })
}

/// The saved directory must read back (MLmodel with a signature, the classifier)
/// and predict its own input example as the in-memory model does.
fn self_test(model: &CairnModel, dir: &Path) -> Result<()> {
    let mlmodel: Value = serde_norway::from_str(&std::fs::read_to_string(dir.join("MLmodel"))?)
        .map_err(|e| TrainError::Spec(format!("MLmodel: {e}")))?;
    let inputs = mlmodel["signature"]["inputs"]
        .as_str()
        .ok_or_else(|| TrainError::Spec("MLmodel has no signature.inputs".into()))?;
    let columns: Vec<Value> = serde_json::from_str(inputs)
        .map_err(|e| TrainError::Spec(format!("signature.inputs: {e}")))?;
    let expected = model_dir::input_columns(model);
    if columns.len() != expected.len() {
        return Err(TrainError::Spec(format!(
            "signature has {} inputs, the model takes {}",
            columns.len(),
            expected.len()
        )));
    }
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("input_example.json"))?)
            .map_err(|e| TrainError::Spec(format!("input_example.json: {e}")))?;
    let rows = example["data"].as_array().cloned().unwrap_or_default();
    let input = match model {
        CairnModel::Text { .. } => model_dir::ModelRows::Texts(
            rows.iter()
                .map(|r| r[0].as_str().unwrap_or_default().to_string())
                .collect(),
        ),
        CairnModel::Tabular(_) => model_dir::ModelRows::Numbers(
            rows.iter()
                .map(|r| {
                    r.as_array()
                        .map(|c| c.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
                        .unwrap_or_default()
                })
                .collect(),
        ),
    };
    if rows.is_empty() {
        return Err(TrainError::Spec("the input example has no rows".into()));
    }
    let reloaded = model_dir::load(dir)?;
    let a = model.predict(&input)?;
    let b = reloaded.predict(&input)?;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if x.label != y.label || (x.confidence - y.confidence).abs() > 1e-6 {
            return Err(TrainError::Spec(format!(
                "example row {i}: the trained model says {} ({}), the saved one {} ({})",
                x.label, x.confidence, y.label, y.confidence
            )));
        }
    }
    Ok(())
}

/// The champion's `key` on the same test set: its model is fetched from the
/// registry and scored here.
fn champion_metric(
    tracker: &Tracker,
    champ: &cairn_core::registry::ModelVersion,
    test: &TestSet,
    key: &str,
    ood: Option<&OodSpec>,
) -> Result<f64> {
    let uri = tracker.block(
        tracker
            .client
            .get_model_version_download_uri(&champ.name, &champ.version),
    )?;
    let root = uri
        .strip_prefix("mlflow-artifacts:/")
        .ok_or_else(|| {
            TrainError::Spec(format!("its model is at {uri}, outside the artifact proxy"))
        })?
        .trim_start_matches('/')
        .to_string();
    let dir = tempfile::tempdir()?;
    tracker.block(tracker.client.download_artifact_tree(&root, dir.path()))?;
    let model = model_dir::load(dir.path())?;
    let predictions = model.predict(&test.input())?;
    let classes = match &model {
        CairnModel::Text { classifier, .. } => classifier.labels.clone(),
        CairnModel::Tabular(t) => t.labels.clone(),
    };
    let (metrics, _) = score(&classes, &predictions, test.labels(), ood);
    metrics
        .get(key)
        .copied()
        .ok_or_else(|| TrainError::Spec(format!("no {key} for the champion")))
}
