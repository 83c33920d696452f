//! Training one candidate: the [`Trainer`] that the single fit and every search
//! trial call with one model config, and the text and tabular trainers behind it.
//! A trainer holds the prepared splits and fits; it logs nothing (its caller in
//! `trials` turns the epoch reports into metrics), so trials can share it across
//! threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_ml::linear::{Continue, EpochReport};
use cairn_ml::sparse::Csr;
use cairn_ml::tabular::{Table, TabularClassifier, TabularModelConfig};
use cairn_ml::text::Tfidf;
use cairn_ml::text_classifier::{TextClassifier, TextModelConfig};
use serde_json::Value;

use crate::error::{Result, TrainError};

/// Fits one model from a model config, reporting epochs; returns the fitted model
/// and its validation accuracy. Shared by the single fit and every search trial.
pub(super) trait Trainer: Sync {
    fn fit(
        &self,
        model: &Value,
        on_epoch: &mut dyn FnMut(&EpochReport) -> Continue,
    ) -> Result<(Fitted, f64)>;
}

/// A fitted candidate, as `Trainer::fit` returns it.
pub enum Fitted {
    Text(TextClassifier),
    Tabular(TabularClassifier),
}

/// The error for a lock that a panicking trial left poisoned (the search's shared
/// state, the text trainer's feature cache).
pub(super) fn poisoned<T>(_: std::sync::PoisonError<T>) -> TrainError {
    TrainError::Spec("a search trial panicked".into())
}

// ------------------------------------------------------------------ text

/// Featurized splits for one TF-IDF setting and encoder weight.
pub(super) struct Features {
    tfidf: Tfidf,
    train: Csr,
    dev: Csr,
}

/// The text task's trainer: TF-IDF (plus the sentence embeddings, when the spec
/// has an encoder) and a softmax head, early-stopped on dev.
pub(super) struct TextTrainer {
    pub(super) classes: Vec<String>,
    pub(super) train_texts: Vec<String>,
    pub(super) y: Vec<usize>,
    pub(super) dev_texts: Vec<String>,
    pub(super) dev_y: Vec<usize>,
    /// Sentence embeddings of (train, dev), computed once for every trial.
    pub(super) embeddings: Option<(Csr, Csr)>,
    pub(super) cache: Mutex<HashMap<String, Arc<Features>>>,
}

impl TextTrainer {
    fn features(&self, cfg: &TextModelConfig) -> Result<Arc<Features>> {
        let weight = cfg.encoder.as_ref().map(|e| e.weight);
        let key = format!("{:?}/{weight:?}", cfg.tfidf);
        if let Some(f) = self.cache.lock().map_err(poisoned)?.get(&key) {
            return Ok(f.clone());
        }
        let tfidf = cfg.tfidf.fit(&self.train_texts);
        let mut train = tfidf.transform(&self.train_texts);
        let mut dev = tfidf.transform(&self.dev_texts);
        if let (Some(w), Some((et, ed))) = (weight, &self.embeddings) {
            train = train.hstack(et, w);
            dev = dev.hstack(ed, w);
        }
        let f = Arc::new(Features { tfidf, train, dev });
        self.cache.lock().map_err(poisoned)?.insert(key, f.clone());
        Ok(f)
    }
}

impl Trainer for TextTrainer {
    fn fit(
        &self,
        model: &Value,
        on_epoch: &mut dyn FnMut(&EpochReport) -> Continue,
    ) -> Result<(Fitted, f64)> {
        let cfg: TextModelConfig = serde_json::from_value(model.clone())
            .map_err(|e| TrainError::Spec(format!("model: {e}")))?;
        let f = self.features(&cfg)?;
        let head = cairn_ml::linear::SoftmaxRegression::fit(
            &f.train,
            &self.y,
            self.classes.len(),
            Some((&f.dev, &self.dev_y)),
            &cfg.linear,
            on_epoch,
        );
        let (_, accuracy) = head.loss_and_accuracy(&f.dev, &self.dev_y);
        Ok((
            Fitted::Text(TextClassifier {
                labels: self.classes.clone(),
                tfidf: f.tfidf.clone(),
                encoder: cfg.encoder.clone(),
                head,
                ood: None,
            }),
            accuracy,
        ))
    }
}

// ------------------------------------------------------------------ tabular

/// The tabular task's trainer: fits on `fit_part`, scores on `validation`.
pub(super) struct TabularTrainer {
    pub(super) fit_part: Table,
    pub(super) validation: Table,
}

impl Trainer for TabularTrainer {
    fn fit(
        &self,
        model: &Value,
        on_epoch: &mut dyn FnMut(&EpochReport) -> Continue,
    ) -> Result<(Fitted, f64)> {
        let cfg: TabularModelConfig = serde_json::from_value(model.clone())
            .map_err(|e| TrainError::Spec(format!("model: {e}")))?;
        let clf = TabularClassifier::fit(&self.fit_part, &cfg)?;
        let proba = clf.predict_proba(&self.validation.rows)?;
        let right = proba
            .iter()
            .zip(&self.validation.labels)
            .filter(|(p, l)| clf.labels[cairn_ml::linear::argmax(p)] == **l)
            .count();
        let accuracy = right as f64 / self.validation.labels.len().max(1) as f64;
        // linfa fits in one call: one "epoch" carries the validation accuracy.
        on_epoch(&EpochReport {
            epoch: 1,
            train_loss: f64::NAN,
            dev_loss: None,
            dev_accuracy: Some(accuracy),
        });
        Ok((Fitted::Tabular(clf), accuracy))
    }
}
