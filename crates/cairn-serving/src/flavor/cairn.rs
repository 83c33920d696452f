//! cairn's own flavor: the classifiers `cairn train` saves (cairn-ml's model
//! directory), predicting a label and its confidence per row.

use std::path::Path;

use cairn_ml::model_dir::{self, CairnModel, ModelRows};
use serde_json::Value;

use super::{OutTensor, Outputs, Predictor};
use crate::error::ServingError;
use crate::input::ModelInput;

pub struct CairnFlavor {
    model: CairnModel,
}

impl CairnFlavor {
    pub fn load(dir: &Path) -> Result<CairnFlavor, ServingError> {
        let model = model_dir::load(dir).map_err(|e| ServingError::Load(e.to_string()))?;
        Ok(CairnFlavor { model })
    }

    /// The request's rows in the form the model takes: a `text` column (or a bare
    /// list of strings) for text, the feature columns in signature order (or a
    /// list of rows) for tabular.
    fn rows(&self, input: &ModelInput) -> Result<ModelRows, ServingError> {
        let columns = model_dir::input_columns(&self.model);
        match (&self.model, input) {
            (CairnModel::Text { .. }, ModelInput::Frame(f)) => {
                let at = column(f, "text")?;
                f.rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| text_cell(&r[at], &format!("column 'text' row {i}")))
                    .collect::<Result<_, _>>()
                    .map(ModelRows::Texts)
            }
            (CairnModel::Text { .. }, ModelInput::Tensor(Value::Array(items))) => items
                .iter()
                .enumerate()
                .map(|(i, v)| text_cell(v, &format!("inputs[{i}]")))
                .collect::<Result<_, _>>()
                .map(ModelRows::Texts),
            (CairnModel::Tabular(_), ModelInput::Frame(f)) => {
                let at: Vec<usize> = columns
                    .iter()
                    .map(|(n, _)| column(f, n))
                    .collect::<Result<_, _>>()?;
                f.rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        at.iter()
                            .zip(&columns)
                            .map(|(&j, (n, _))| number(&r[j], &format!("column '{n}' row {i}")))
                            .collect::<Result<Vec<f64>, _>>()
                    })
                    .collect::<Result<_, _>>()
                    .map(ModelRows::Numbers)
            }
            (CairnModel::Tabular(_), ModelInput::Tensor(Value::Array(rows))) => rows
                .iter()
                .enumerate()
                .map(|(i, r)| match r {
                    Value::Array(cells) if cells.len() == columns.len() => cells
                        .iter()
                        .enumerate()
                        .map(|(j, v)| number(v, &format!("inputs[{i}][{j}]")))
                        .collect::<Result<Vec<f64>, _>>(),
                    _ => Err(ServingError::BadRequest(format!(
                        "inputs[{i}]: expected a list of {} numbers ({:?})",
                        columns.len(),
                        columns.iter().map(|c| &c.0).collect::<Vec<_>>()
                    ))),
                })
                .collect::<Result<_, _>>()
                .map(ModelRows::Numbers),
            _ => Err(ServingError::BadRequest(format!(
                "this model takes the columns {:?} (dataframe_split, dataframe_records, CSV) or a list in `inputs`/`instances`",
                columns.iter().map(|c| &c.0).collect::<Vec<_>>()
            ))),
        }
    }
}

fn column(f: &crate::input::Frame, name: &str) -> Result<usize, ServingError> {
    f.columns.iter().position(|c| c == name).ok_or_else(|| {
        ServingError::BadRequest(format!("missing column '{name}' (got {:?})", f.columns))
    })
}

fn text_cell(v: &Value, at: &str) -> Result<String, ServingError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| ServingError::BadRequest(format!("{at}: expected a string, got {v}")))
}

fn number(v: &Value, at: &str) -> Result<f64, ServingError> {
    v.as_f64()
        .ok_or_else(|| ServingError::BadRequest(format!("{at}: expected a number, got {v}")))
}

impl Predictor for CairnFlavor {
    fn predict(&self, input: &ModelInput) -> Result<Outputs, ServingError> {
        let rows = self.rows(input)?;
        let predictions = self
            .model
            .predict(&rows)
            .map_err(|e| ServingError::Predict(e.to_string()))?;
        let n = predictions.len();
        Ok(Outputs {
            tensors: vec![
                (
                    "label".into(),
                    OutTensor {
                        shape: vec![n],
                        values: predictions
                            .iter()
                            .map(|p| Value::from(p.label.clone()))
                            .collect(),
                    },
                ),
                (
                    "confidence".into(),
                    OutTensor {
                        shape: vec![n],
                        values: predictions
                            .iter()
                            .map(|p| Value::from(p.confidence as f64))
                            .collect(),
                    },
                ),
            ],
        })
    }

    fn flavor(&self) -> &'static str {
        "cairn"
    }
}
