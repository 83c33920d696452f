//! cairn's own MLflow model flavor. A model directory holds `MLmodel` (flavor
//! `cairn`, signature, input example), the classifier's description as JSON, its
//! weights as safetensors, and for an encoder model a copy of the encoder, so a
//! version fetched from the registry predicts exactly what it predicted at
//! evaluation time.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::encoder::SentenceEncoder;
use crate::error::{MlError, Result};
use crate::linear::SoftmaxRegression;
use crate::tabular::TabularClassifier;
use crate::text_classifier::{Prediction, TextClassifier};

pub const FLAVOR: &str = "cairn";
const CLASSIFIER_FILE: &str = "classifier.json";
const WEIGHTS_FILE: &str = "head.safetensors";
const ENCODER_DIR: &str = "encoder";
const ENCODER_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// What `classifier.json` holds: the task and its fitted parts.
#[derive(Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
enum Saved {
    /// The head's weights are in `head.safetensors`, not here.
    TextClassification {
        labels: Vec<String>,
        tfidf: crate::text::Tfidf,
        encoder: Option<crate::text_classifier::EncoderConfig>,
        n_features: usize,
        ood: Option<crate::text_classifier::OodRule>,
    },
    TabularClassification(TabularClassifier),
}

/// A loaded cairn model, ready to predict.
pub enum CairnModel {
    Text {
        classifier: TextClassifier,
        encoder: Option<Box<SentenceEncoder>>,
    },
    Tabular(TabularClassifier),
}

/// The input columns of a model's signature: `(name, MLflow type)`.
pub fn input_columns(model: &CairnModel) -> Vec<(String, &'static str)> {
    match model {
        CairnModel::Text { .. } => vec![("text".into(), "string")],
        CairnModel::Tabular(t) => t
            .feature_names
            .iter()
            .map(|n| (n.clone(), "double"))
            .collect(),
    }
}

fn model_err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> MlError + '_ {
    move |e| MlError::Model(format!("{what}: {e}"))
}

/// Writes `model` to `dir` as an MLflow model directory. `example` is a few input
/// rows (texts as one-cell rows) for the input example; `encoder_src` is where the
/// encoder's files are copied from.
pub fn save(
    dir: &Path,
    model: &CairnModel,
    encoder_src: Option<&Path>,
    example: &[Vec<serde_json::Value>],
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let saved = match model {
        CairnModel::Text { classifier, .. } => {
            let head = &classifier.head;
            let mut entries = vec![
                (
                    "weights".to_string(),
                    Tensor::from_slice(
                        &head.weights,
                        (head.n_features, head.n_classes),
                        &Device::Cpu,
                    ),
                ),
                (
                    "bias".to_string(),
                    Tensor::from_slice(&head.bias, head.n_classes, &Device::Cpu),
                ),
            ];
            if let Some(rule) = classifier.ood.as_ref().filter(|r| !r.memory.is_empty()) {
                entries.push((
                    "ood_memory".to_string(),
                    Tensor::from_slice(
                        &rule.memory,
                        (rule.memory.len() / rule.dim.max(1), rule.dim),
                        &Device::Cpu,
                    ),
                ));
            }
            let tensors: HashMap<String, Tensor> = entries
                .into_iter()
                .map(|(k, t)| t.map(|t| (k, t)))
                .collect::<candle_core::Result<_>>()
                .map_err(model_err("head weights"))?;
            candle_core::safetensors::save(&tensors, dir.join(WEIGHTS_FILE))
                .map_err(model_err("writing head.safetensors"))?;
            if classifier.encoder.is_some() {
                let src = encoder_src.ok_or_else(|| {
                    MlError::Model("an encoder model is saved with its encoder's files".into())
                })?;
                std::fs::create_dir_all(dir.join(ENCODER_DIR))?;
                for f in ENCODER_FILES {
                    std::fs::copy(src.join(f), dir.join(ENCODER_DIR).join(f))?;
                }
            }
            Saved::TextClassification {
                labels: classifier.labels.clone(),
                tfidf: classifier.tfidf.clone(),
                encoder: classifier.encoder.clone().map(|mut e| {
                    e.path = ENCODER_DIR.into();
                    e
                }),
                n_features: head.n_features,
                ood: classifier.ood.clone(),
            }
        }
        CairnModel::Tabular(t) => Saved::TabularClassification(t.clone()),
    };
    let task = match &saved {
        Saved::TextClassification { .. } => "text_classification",
        Saved::TabularClassification(_) => "tabular_classification",
    };
    let file = std::fs::File::create(dir.join(CLASSIFIER_FILE))?;
    serde_json::to_writer(std::io::BufWriter::new(file), &saved)
        .map_err(model_err("writing classifier.json"))?;

    let columns = input_columns(model);
    let names: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
    let inputs: Vec<_> = columns
        .iter()
        .map(|(n, t)| json!({"type": t, "name": n, "required": true}))
        .collect();
    let outputs = json!([
        {"type": "string", "name": "label", "required": true},
        {"type": "float", "name": "confidence", "required": true}
    ]);
    std::fs::write(
        dir.join("input_example.json"),
        json!({"columns": names, "data": example}).to_string(),
    )?;
    std::fs::write(
        dir.join("serving_input_example.json"),
        serde_json::to_string_pretty(
            &json!({"dataframe_split": {"columns": names, "data": example}}),
        )
        .map_err(model_err("serving example"))?,
    )?;
    let mlmodel = json!({
        "artifact_path": "model",
        "flavors": {
            FLAVOR: {
                "cairn_version": env!("CARGO_PKG_VERSION"),
                "task": task,
                "data": CLASSIFIER_FILE,
            }
        },
        "model_uuid": uuid::Uuid::new_v4().simple().to_string(),
        "signature": {
            "inputs": serde_json::Value::Array(inputs).to_string(),
            "outputs": outputs.to_string(),
            "params": null,
        },
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
        },
    });
    let yaml = serde_norway::to_string(&mlmodel).map_err(model_err("writing MLmodel"))?;
    std::fs::write(dir.join("MLmodel"), yaml)?;
    Ok(())
}

/// Loads the model saved in `dir` by [`save`].
pub fn load(dir: &Path) -> Result<CairnModel> {
    let path = dir.join(CLASSIFIER_FILE);
    let file = std::fs::File::open(&path)
        .map_err(|e| MlError::Model(format!("{}: {e}", path.display())))?;
    let saved: Saved = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| MlError::Model(format!("{}: {e}", path.display())))?;
    match saved {
        Saved::TabularClassification(t) => Ok(CairnModel::Tabular(t)),
        Saved::TextClassification {
            labels,
            tfidf,
            encoder,
            n_features,
            ood,
        } => {
            let tensors = candle_core::safetensors::load(dir.join(WEIGHTS_FILE), &Device::Cpu)
                .map_err(model_err("head.safetensors"))?;
            let get = |name: &str| -> Result<Vec<f32>> {
                let t = tensors
                    .get(name)
                    .ok_or_else(|| MlError::Model(format!("head.safetensors has no '{name}'")))?;
                t.flatten_all()
                    .and_then(|t| t.to_vec1::<f32>())
                    .map_err(model_err(name))
            };
            let (weights, bias) = (get("weights")?, get("bias")?);
            let mut ood = ood;
            if let Some(rule) = ood.as_mut() {
                if matches!(
                    rule.score,
                    crate::text_classifier::OodScore::KnnBlend { .. }
                ) {
                    rule.memory = get("ood_memory")?;
                }
            }
            if bias.len() != labels.len() || weights.len() != n_features * labels.len() {
                return Err(MlError::Model(format!(
                    "head.safetensors holds {} weights and {} biases; classifier.json expects {} x {} and {}",
                    weights.len(),
                    bias.len(),
                    n_features,
                    labels.len(),
                    labels.len()
                )));
            }
            let classifier = TextClassifier {
                head: SoftmaxRegression {
                    n_features,
                    n_classes: labels.len(),
                    weights,
                    bias,
                },
                labels,
                tfidf,
                encoder,
                ood,
            };
            let encoder = classifier
                .load_encoder(&dir.join(ENCODER_DIR))?
                .map(Box::new);
            Ok(CairnModel::Text {
                classifier,
                encoder,
            })
        }
    }
}

impl CairnModel {
    /// Predicts texts (a text model) or rows in signature column order (a tabular one).
    pub fn predict(&self, input: &ModelRows) -> Result<Vec<Prediction>> {
        match (self, input) {
            (
                CairnModel::Text {
                    classifier,
                    encoder,
                },
                ModelRows::Texts(texts),
            ) => classifier.predict(encoder.as_deref(), texts),
            (CairnModel::Tabular(t), ModelRows::Numbers(rows)) => {
                let width = t.feature_names.len();
                let flat: Vec<f64> = rows.iter().flatten().copied().collect();
                if rows.iter().any(|r| r.len() != width) {
                    return Err(MlError::Data(format!(
                        "every row needs {width} values ({:?})",
                        t.feature_names
                    )));
                }
                let x = ndarray::Array2::from_shape_vec((rows.len(), width), flat)
                    .map_err(model_err("rows"))?;
                Ok(t.predict_proba(&x)?
                    .into_iter()
                    .map(|p| {
                        let class = crate::linear::argmax(&p);
                        Prediction {
                            label: t.labels[class].clone(),
                            class,
                            confidence: p[class],
                            in_scope_score: p[class],
                            probabilities: p,
                        }
                    })
                    .collect())
            }
            (CairnModel::Text { .. }, _) => Err(MlError::Data(
                "a text classifier takes a 'text' column of strings".into(),
            )),
            (CairnModel::Tabular(_), _) => Err(MlError::Data(
                "a tabular classifier takes numeric feature columns".into(),
            )),
        }
    }
}

/// A model's input, already taken out of the request.
pub enum ModelRows {
    Texts(Vec<String>),
    Numbers(Vec<Vec<f64>>),
}
