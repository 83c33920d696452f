//! The text classification task, step by step: read the splits, prepare the
//! shared sentence encoder, fit or search, calibrate the out-of-scope rule on dev,
//! score the test split and log its predictions, then hand over to `finish`. The
//! order of the steps lives here; each step's work lives in its own module.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use cairn_ml::metrics::threshold_keeping;
use cairn_ml::model_dir::CairnModel;
use cairn_ml::sparse::Csr;
use cairn_ml::text_classifier::{OodRule, OodScore};
use serde_json::Value;

use super::data::{read_text, TextData};
use super::encoder::{embed_splits, load_encoder, Embeddings};
use super::finish::{finish, Outcome};
use super::fit::{Fitted, TextTrainer};
use super::trials::fit_or_search;
use crate::error::{Result, TrainError};
use crate::evaluation::{predictions_table, score, TestSet};
use crate::progress::Progress;
use crate::spec::{Spec, TextSpec};
use crate::tracker::{kv, metric, RunRef, Tracker};

/// Runs a text classification spec under the job's run `parent`.
pub(super) fn run_text(
    spec: &Spec,
    s: &TextSpec,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<Outcome> {
    let started = Instant::now();
    let data = read_text(s, tracker, parent)?;

    // Every trial shares one encoder setting; it is tuned (if asked) and its
    // embeddings computed once. The tuned folder lives until the model is saved.
    let tuned = tempfile::tempdir()?;
    let encoder = load_encoder(s, tuned.path(), &data, tracker, parent, progress)?;
    let encoder_dir = encoder.as_ref().map(|e| e.dir.clone());
    let (embeddings, raw_embeddings) = match &encoder {
        None => (None, None),
        Some(e) => {
            let Embeddings { dense, raw } = embed_splits(e, &data, tracker, parent, progress)?;
            (Some(dense), Some(raw))
        }
    };
    let TextData {
        train,
        test,
        classes,
        y,
        dev_texts,
        dev_y,
    } = data;
    let trainer = TextTrainer {
        classes: classes.clone(),
        train_texts: train.texts.clone(),
        y,
        dev_texts,
        dev_y,
        embeddings,
        cache: Mutex::new(HashMap::new()),
    };
    let (fitted, _model, best_trial) = fit_or_search(spec, &trainer, tracker, parent, progress)?;
    let Fitted::Text(mut classifier) = fitted else {
        return Err(TrainError::Spec(
            "a text task fitted a tabular model".into(),
        ));
    };
    let featurize = |texts: &[String], emb: Option<&Vec<Vec<f32>>>| -> Csr {
        let sparse = classifier.tfidf.transform(texts);
        match (emb, &classifier.encoder, &encoder) {
            (Some(e), Some(cfg), Some(enc)) => {
                sparse.hstack(&Csr::from_dense(e, enc.dim), cfg.weight)
            }
            _ => sparse,
        }
    };
    let [train_emb, dev_emb, test_emb] = match raw_embeddings {
        Some([a, b, c]) => [Some(a), Some(b), Some(c)],
        None => [None, None, None],
    };
    if let Some(ood) = &s.ood {
        let score_kind =
            match (ood.score, &train_emb) {
                (Some(OodScore::KnnBlend { .. }), None) => return Err(TrainError::Spec(
                    "ood.score: knn_blend needs model.encoder (it compares sentence embeddings)"
                        .into(),
                )),
                (Some(k), _) => k,
                (None, Some(_)) => OodScore::KnnBlend {
                    probability_weight: 0.5,
                },
                (None, None) => OodScore::MaxProbability,
            };
        let (memory, dim) = match (&score_kind, &train_emb) {
            (OodScore::KnnBlend { .. }, Some(e)) => (
                e.iter().flatten().copied().collect(),
                e.first().map_or(0, Vec::len),
            ),
            _ => (Vec::new(), 0),
        };
        classifier.ood = Some(OodRule {
            label: ood.label.clone(),
            threshold: f32::NEG_INFINITY,
            score: score_kind,
            memory,
            dim,
        });
        let dev_x = featurize(&trainer.dev_texts, dev_emb.as_ref());
        let scores: Vec<f64> = classifier
            .predict_features(&dev_x, dev_emb.as_deref())?
            .iter()
            .map(|p| p.in_scope_score as f64)
            .collect();
        let threshold = threshold_keeping(&scores, ood.keep_in_scope) as f32;
        if let Some(rule) = classifier.ood.as_mut() {
            rule.threshold = threshold;
        }
        tracker.log(
            parent,
            &[metric("ood_threshold", threshold as f64, 0)],
            &[kv("ood.score", format!("{score_kind:?}"))],
            &[],
        )?;
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let test_x = featurize(&test.texts, test_emb.as_ref());
    let predictions = classifier.predict_features(&test_x, test_emb.as_deref())?;
    let (mut metrics, report) = score(&classes, &predictions, &test.labels, s.ood.as_ref());
    metrics.insert("train_seconds".into(), train_seconds);
    tracker.log_table(
        parent,
        "evaluation/predictions.json",
        predictions_table(&test.texts, &test.labels, &predictions)?,
    )?;
    let model = CairnModel::Text {
        classifier,
        encoder: encoder.map(Box::new),
    };
    let examples: Vec<Vec<Value>> = test
        .texts
        .iter()
        .take(3)
        .map(|t| vec![Value::String(t.clone())])
        .collect();
    let test_set = TestSet::Texts {
        texts: test.texts,
        labels: test.labels,
    };
    finish(
        s.register.as_ref(),
        tracker,
        parent,
        model,
        encoder_dir.as_deref(),
        &examples,
        &test_set,
        metrics,
        report,
        s.ood.as_ref(),
        best_trial,
    )
}
