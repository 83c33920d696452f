//! Scoring on the test split: the labelled test rows ([`TestSet`]), the metrics
//! computed from predictions and named as they are logged ([`score`]), and the
//! table of every test row with its prediction.
//!
//! The pipeline scores the new model with it and the gate scores the current
//! champion with it on the same rows, so it sits below both and depends on
//! neither: this is what keeps [`crate::gate`] and [`crate::pipeline`] from using
//! each other's items.

use std::collections::{BTreeMap, HashMap};

use cairn_ml::metrics::{evaluate, ood_report, Report};
use cairn_ml::model_dir::ModelRows;
use cairn_ml::text_classifier::Prediction;
use serde_json::Value;

use crate::error::Result;
use crate::spec::OodSpec;

/// The labelled test rows, kept so the current champion is scored on the same set.
pub enum TestSet {
    Texts {
        texts: Vec<String>,
        labels: Vec<String>,
    },
    Rows {
        rows: Vec<Vec<f64>>,
        labels: Vec<String>,
    },
}

impl TestSet {
    pub fn input(&self) -> ModelRows {
        match self {
            TestSet::Texts { texts, .. } => ModelRows::Texts(texts.clone()),
            TestSet::Rows { rows, .. } => ModelRows::Numbers(rows.clone()),
        }
    }
    pub fn labels(&self) -> &[String] {
        match self {
            TestSet::Texts { labels, .. } | TestSet::Rows { labels, .. } => labels,
        }
    }
}

/// Test metrics from predictions, named as they are logged (`test_accuracy`, ...).
pub fn score(
    classes: &[String],
    predictions: &[Prediction],
    truth: &[String],
    ood: Option<&OodSpec>,
) -> (BTreeMap<String, f64>, Report) {
    // The label set: the model's classes, then labels only the test set or the
    // out-of-scope rule uses.
    let mut labels = classes.to_vec();
    let mut extra: Vec<String> = truth
        .iter()
        .chain(predictions.iter().map(|p| &p.label))
        .filter(|l| !classes.contains(l))
        .cloned()
        .collect();
    extra.sort();
    extra.dedup();
    labels.extend(extra);
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let y_true: Vec<usize> = truth.iter().map(|l| index[l.as_str()]).collect();
    let y_pred: Vec<usize> = predictions
        .iter()
        .map(|p| index[p.label.as_str()])
        .collect();
    let proba: Vec<Vec<f32>> = predictions
        .iter()
        .map(|p| p.probabilities.clone())
        .collect();
    let report = evaluate(&labels, &y_true, &y_pred, Some(&proba));
    let mut m = BTreeMap::new();
    m.insert("test_accuracy".to_string(), report.accuracy);
    m.insert("test_macro_precision".into(), report.macro_precision);
    m.insert("test_macro_recall".into(), report.macro_recall);
    m.insert("test_macro_f1".into(), report.macro_f1);
    m.insert("test_weighted_precision".into(), report.weighted_precision);
    m.insert("test_weighted_recall".into(), report.weighted_recall);
    m.insert("test_weighted_f1".into(), report.weighted_f1);
    if let Some(v) = report.roc_auc_ovr {
        m.insert("test_roc_auc_ovr".into(), v);
    }
    if let Some(v) = report.pr_auc_ovr {
        m.insert("test_pr_auc_ovr".into(), v);
    }
    if let Some(v) = report.ece {
        m.insert("test_ece".into(), v);
    }
    if let Some(ood) = ood {
        let score: Vec<f64> = predictions
            .iter()
            .map(|p| p.in_scope_score as f64)
            .collect();
        let is_oos: Vec<bool> = truth.iter().map(|l| *l == ood.label).collect();
        let correct: Vec<bool> = predictions
            .iter()
            .zip(truth)
            .map(|(p, t)| classes.get(p.class) == Some(t))
            .collect();
        let r = ood_report(
            &score,
            &correct,
            &is_oos,
            ood_threshold(predictions, &ood.label),
            ood.target_in_scope_accuracy,
        );
        m.insert("test_in_scope_accuracy".into(), r.in_scope_accuracy);
        m.insert("test_oos_recall".into(), r.oos_recall);
        m.insert("test_oos_precision".into(), r.oos_precision);
        if let Some(a) = r.auroc {
            m.insert("test_ood_auroc".into(), a);
        }
        if let Some(v) = r.oos_recall_at_target {
            m.insert(
                format!(
                    "test_oos_recall_at_in_scope_accuracy_{:.0}",
                    ood.target_in_scope_accuracy * 100.0
                ),
                v,
            );
        }
    }
    (m, report)
}

/// The threshold the predictions were made with: the rule's, read back as the
/// smallest confidence that was not rejected (rows below it got the label).
fn ood_threshold(predictions: &[Prediction], label: &str) -> f64 {
    let rejected_max = predictions
        .iter()
        .filter(|p| p.label == label)
        .map(|p| p.in_scope_score as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    // Anything above every rejected score and at most every kept one reproduces
    // the decisions exactly.
    let kept_min = predictions
        .iter()
        .filter(|p| p.label != label)
        .map(|p| p.in_scope_score as f64)
        .fold(f64::INFINITY, f64::min);
    if rejected_max == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if kept_min.is_finite() {
        kept_min.min(rejected_max + 1e-12)
    } else {
        f64::INFINITY
    }
}

/// Every test row with its label and the model's prediction, in the
/// `{"columns": [...], "data": [[...]]}` layout of MLflow's tables, so
/// `MlflowClient.load_table` reads it and the errors behind the metrics can be looked at.
pub(crate) fn predictions_table(
    texts: &[String],
    labels: &[String],
    predictions: &[Prediction],
) -> Result<Vec<u8>> {
    let data: Vec<Value> = texts
        .iter()
        .zip(labels)
        .zip(predictions)
        .map(|((text, label), p)| {
            serde_json::json!([text, label, p.label, p.confidence, *label == p.label])
        })
        .collect();
    let table = serde_json::json!({
        "columns": ["text", "label", "prediction", "confidence", "correct"],
        "data": data,
    });
    // A `Value` always serializes; the conversion only keeps the signature honest.
    Ok(serde_json::to_vec(&table).map_err(std::io::Error::from)?)
}
