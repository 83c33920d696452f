//! The intent classifier: TF-IDF n-grams, optionally joined by a frozen sentence
//! encoder's embedding, into one softmax layer; with out-of-scope detection by a
//! confidence threshold chosen on the dev split.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::encoder::SentenceEncoder;
use crate::error::{MlError, Result};
use crate::linear::{argmax, LinearConfig, SoftmaxRegression};
use crate::sparse::Csr;
use crate::text::{Tfidf, TfidfConfig};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextModelConfig {
    #[serde(default)]
    pub tfidf: TfidfConfig,
    /// A sentence encoder whose embedding joins the TF-IDF features.
    #[serde(default)]
    pub encoder: Option<EncoderConfig>,
    #[serde(default)]
    pub linear: LinearConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Folder with `config.json`, `model.safetensors` and `tokenizer.json`.
    pub path: std::path::PathBuf,
    /// Scale of the (unit-length) embedding next to the (unit-length) TF-IDF row.
    #[serde(default = "one")]
    pub weight: f32,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Tune the encoder's own weights on the training set before the head is
    /// trained (the saved model then carries the tuned encoder); absent, the
    /// encoder is used as shipped. Boxed: it is the largest part of a classifier
    /// that serving keeps beside others in an enum, and only training reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<Box<crate::finetune::FineTuneConfig>>,
}

fn one() -> f32 {
    1.0
}
fn default_max_tokens() -> usize {
    128
}

/// Out-of-scope detection: rows whose in-scope score is below `threshold` get
/// `label`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodRule {
    pub label: String,
    pub threshold: f32,
    #[serde(default)]
    pub score: OodScore,
    /// The training set's sentence embeddings (row-major, `dim` wide) for the
    /// nearest-neighbour part of [`OodScore::KnnBlend`]; saved beside the head.
    #[serde(skip)]
    pub memory: Vec<f32>,
    #[serde(default)]
    pub dim: usize,
}

/// How sure the model is that a text is in scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OodScore {
    /// The top class's probability (the usual baseline).
    #[default]
    MaxProbability,
    /// `probability_weight * top probability + cosine similarity of the text's
    /// embedding to its nearest training text`. Out-of-scope queries are far from
    /// every training example even when the softmax is confident, so the two
    /// together separate them better than either (on CLINC150's dev/test splits).
    KnnBlend {
        #[serde(default = "half")]
        probability_weight: f32,
    },
}

fn half() -> f32 {
    0.5
}

/// A fitted classifier; everything needed to predict except the encoder weights,
/// which live in their own folder of the model directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextClassifier {
    pub labels: Vec<String>,
    pub tfidf: Tfidf,
    pub encoder: Option<EncoderConfig>,
    pub head: SoftmaxRegression,
    pub ood: Option<OodRule>,
}

/// One prediction: the label (possibly the out-of-scope label), the top class's
/// probability, and every class's probability in `labels` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub label: String,
    pub class: usize,
    pub confidence: f32,
    /// The out-of-scope rule's score (the confidence without a rule).
    pub in_scope_score: f32,
    pub probabilities: Vec<f32>,
}

/// Featurizes texts the same way at training, evaluation and serving time.
pub struct Featurizer<'a> {
    pub tfidf: &'a Tfidf,
    pub encoder: Option<(&'a SentenceEncoder, f32)>,
}

impl Featurizer<'_> {
    /// The model's input rows, and the sentence embeddings when there is an encoder.
    pub fn features(
        &self,
        texts: &[String],
        progress: impl FnMut(usize),
    ) -> Result<(Csr, Option<Vec<Vec<f32>>>)> {
        let sparse = self.tfidf.transform(texts);
        match self.encoder {
            None => Ok((sparse, None)),
            Some((encoder, weight)) => {
                let dense = encoder.embed(texts, progress)?;
                let x = sparse.hstack(&Csr::from_dense(&dense, encoder.dim), weight);
                Ok((x, Some(dense)))
            }
        }
    }
}

/// For each query, its cosine similarity to the nearest row of `memory` (all unit
/// vectors), as one matrix product per block of queries.
pub fn nearest_similarity(memory: &[f32], dim: usize, queries: &[Vec<f32>]) -> Result<Vec<f32>> {
    use candle_core::{Device, Tensor};
    let n = memory.len() / dim.max(1);
    if n == 0 || queries.is_empty() {
        return Ok(vec![0.0; queries.len()]);
    }
    let run = || -> candle_core::Result<Vec<f32>> {
        let m = Tensor::from_slice(memory, (n, dim), &Device::Cpu)?.t()?;
        let mut out = Vec::with_capacity(queries.len());
        for block in queries.chunks(256) {
            let flat: Vec<f32> = block.iter().flatten().copied().collect();
            let q = Tensor::from_vec(flat, (block.len(), dim), &Device::Cpu)?;
            out.extend(q.matmul(&m)?.max(1)?.to_vec1::<f32>()?);
        }
        Ok(out)
    };
    run().map_err(|e| MlError::Model(format!("nearest-neighbour score: {e}")))
}

/// Class indices of `labels` in `classes`; labels the model never saw map to
/// `None` (they are errors at evaluation, and skipped for early stopping).
pub fn encode_labels(classes: &[String], labels: &[String]) -> Vec<Option<usize>> {
    let index: HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    labels
        .iter()
        .map(|l| index.get(l.as_str()).copied())
        .collect()
}

/// The sorted distinct labels of the training set.
pub fn classes_of(labels: &[String]) -> Vec<String> {
    let mut c = labels.to_vec();
    c.sort();
    c.dedup();
    c
}

impl TextClassifier {
    /// Predicts featurized rows; `embeddings` are the rows' sentence embeddings,
    /// which a nearest-neighbour out-of-scope score needs.
    pub fn predict_features(
        &self,
        x: &Csr,
        embeddings: Option<&[Vec<f32>]>,
    ) -> Result<Vec<Prediction>> {
        let probs = self.head.predict_proba(x);
        let nearest = match (&self.ood, embeddings) {
            (
                Some(
                    rule @ OodRule {
                        score: OodScore::KnnBlend { .. },
                        ..
                    },
                ),
                Some(e),
            ) => Some(nearest_similarity(&rule.memory, rule.dim, e)?),
            (
                Some(OodRule {
                    score: OodScore::KnnBlend { .. },
                    ..
                }),
                None,
            ) => {
                return Err(MlError::Model(
                    "the nearest-neighbour out-of-scope score needs the texts' embeddings".into(),
                ))
            }
            _ => None,
        };
        Ok(probs
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let class = argmax(&p);
                let confidence = p[class];
                let in_scope_score = match (&self.ood, &nearest) {
                    (
                        Some(OodRule {
                            score: OodScore::KnnBlend { probability_weight },
                            ..
                        }),
                        Some(n),
                    ) => probability_weight * confidence + n[i],
                    _ => confidence,
                };
                let label = match &self.ood {
                    Some(rule) if in_scope_score < rule.threshold => rule.label.clone(),
                    _ => self.labels[class].clone(),
                };
                Prediction {
                    label,
                    class,
                    confidence,
                    in_scope_score,
                    probabilities: p,
                }
            })
            .collect())
    }

    /// Loads the encoder this classifier was trained with from `dir` (the model
    /// directory's copy), if it has one.
    pub fn load_encoder(&self, dir: &Path) -> Result<Option<SentenceEncoder>> {
        match &self.encoder {
            None => Ok(None),
            Some(cfg) => SentenceEncoder::load(dir, cfg.max_tokens).map(Some),
        }
    }

    pub fn predict(
        &self,
        encoder: Option<&SentenceEncoder>,
        texts: &[String],
    ) -> Result<Vec<Prediction>> {
        let featurizer = Featurizer {
            tfidf: &self.tfidf,
            encoder: match (&self.encoder, encoder) {
                (None, _) => None,
                (Some(cfg), Some(e)) => Some((e, cfg.weight)),
                (Some(_), None) => {
                    return Err(MlError::Model(
                        "this classifier needs its sentence encoder loaded".into(),
                    ))
                }
            },
        };
        let (x, embeddings) = featurizer.features(texts, |_| {})?;
        self.predict_features(&x, embeddings.as_deref())
    }
}
