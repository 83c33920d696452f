//! The tabular classification task, step by step: read and split the table, fit
//! or search, score the test split, then hand over to `finish`.

use std::time::Instant;

use cairn_ml::model_dir::{CairnModel, ModelRows};
use serde_json::Value;

use super::data::{read_tabular, TabularData};
use super::finish::{finish, Outcome};
use super::fit::{Fitted, TabularTrainer};
use super::trials::fit_or_search;
use crate::error::{Result, TrainError};
use crate::evaluation::{score, TestSet};
use crate::progress::Progress;
use crate::spec::{Spec, TabularSpec};
use crate::tracker::{RunRef, Tracker};

/// Runs a tabular classification spec under the job's run `parent`.
pub(super) fn run_tabular(
    spec: &Spec,
    s: &TabularSpec,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<Outcome> {
    let started = Instant::now();
    let TabularData {
        fit_part,
        validation,
        test,
    } = read_tabular(s, tracker, parent)?;
    let trainer = TabularTrainer {
        fit_part,
        validation,
    };
    let (fitted, _model, best_trial) = fit_or_search(spec, &trainer, tracker, parent, progress)?;
    let Fitted::Tabular(clf) = fitted else {
        return Err(TrainError::Spec(
            "a tabular task fitted a text model".into(),
        ));
    };
    let rows: Vec<Vec<f64>> = test.rows.rows().into_iter().map(|r| r.to_vec()).collect();
    let model = CairnModel::Tabular(clf);
    let predictions = model.predict(&ModelRows::Numbers(rows.clone()))?;
    let classes = match &model {
        CairnModel::Tabular(t) => t.labels.clone(),
        CairnModel::Text { .. } => Vec::new(),
    };
    let (mut metrics, report) = score(&classes, &predictions, &test.labels, None);
    metrics.insert("train_seconds".into(), started.elapsed().as_secs_f64());
    let examples: Vec<Vec<Value>> = rows
        .iter()
        .take(3)
        .map(|r| r.iter().map(|&v| Value::from(v)).collect())
        .collect();
    let test_set = TestSet::Rows {
        rows,
        labels: test.labels,
    };
    finish(
        s.register.as_ref(),
        tracker,
        parent,
        model,
        None,
        &examples,
        &test_set,
        metrics,
        report,
        None,
        best_trial,
    )
}
