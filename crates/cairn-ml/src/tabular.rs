//! Tabular classifiers from linfa: multinomial logistic regression (on
//! standardised columns) and a decision tree. Data comes from a CSV file with a
//! label column, or from the wine-quality demo set linfa-datasets carries inside
//! the crate (so the demo needs nothing outside the binary).

use std::path::Path;

use linfa::prelude::*;
use linfa_logistic::{MultiFittedLogisticRegression, MultiLogisticRegression};
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};

/// Rows of numeric features with string labels.
#[derive(Debug, Clone)]
pub struct Table {
    pub feature_names: Vec<String>,
    pub rows: Array2<f64>,
    pub labels: Vec<String>,
}

impl Table {
    /// The red-wine quality set (1,599 wines, 11 measurements), labelled `true`
    /// for quality above 6, as linfa's own examples and MLflow's wine demo do.
    pub fn wine_is_high_quality() -> Table {
        let ds = linfa_datasets::winequality();
        let feature_names = ds.feature_names().to_vec();
        let labels = ds.targets().iter().map(|&q| (q > 6).to_string()).collect();
        Table {
            feature_names,
            rows: ds.records().to_owned(),
            labels,
        }
    }

    /// A CSV file whose `label` column is the class and every other column a number.
    pub fn from_csv(path: &Path, label: &str) -> Result<Table> {
        let mut reader = csv::Reader::from_path(path)
            .map_err(|e| MlError::Data(format!("{}: {e}", path.display())))?;
        let headers = reader
            .headers()
            .map_err(|e| MlError::Data(format!("{}: {e}", path.display())))?
            .clone();
        let label_at = headers.iter().position(|h| h == label).ok_or_else(|| {
            MlError::Data(format!(
                "{}: no label column '{label}' in the header (it has {:?})",
                path.display(),
                headers.iter().collect::<Vec<_>>()
            ))
        })?;
        let feature_names: Vec<String> = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != label_at)
            .map(|(_, h)| h.to_string())
            .collect();
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let record = record.map_err(|e| MlError::Data(format!("{}: {e}", path.display())))?;
            for (i, cell) in record.iter().enumerate() {
                if i == label_at {
                    labels.push(cell.trim().to_string());
                    continue;
                }
                let v: f64 = cell.trim().parse().map_err(|_| {
                    MlError::Data(format!(
                        "{} row {}: column '{}' is not a number: {cell:?}",
                        path.display(),
                        row + 1,
                        headers.get(i).unwrap_or("?")
                    ))
                })?;
                values.push(v);
            }
        }
        if labels.is_empty() {
            return Err(MlError::Data(format!("{} has no rows", path.display())));
        }
        let rows = Array2::from_shape_vec((labels.len(), feature_names.len()), values)
            .map_err(|e| MlError::Data(format!("{}: ragged rows: {e}", path.display())))?;
        Ok(Table {
            feature_names,
            rows,
            labels,
        })
    }

    /// Reads a Parquet file: every column but `label` is a feature and must hold
    /// numbers (integers, floats, decimals or booleans) without nulls; the label may
    /// be a string or a number.
    pub fn from_parquet(path: &Path, label: &str) -> Result<Table> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::Field;
        let shown = path.display();
        let file = std::fs::File::open(path).map_err(|e| MlError::Data(format!("{shown}: {e}")))?;
        let reader = SerializedFileReader::new(file)
            .map_err(|e| MlError::Data(format!("{shown}: not a Parquet file: {e}")))?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let names: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
        let label_at = names.iter().position(|n| n == label).ok_or_else(|| {
            MlError::Data(format!(
                "{shown}: no label column '{label}' (it has {names:?})"
            ))
        })?;
        let feature_names: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != label_at)
            .map(|(_, n)| n.clone())
            .collect();
        let rows = reader
            .get_row_iter(None)
            .map_err(|e| MlError::Data(format!("{shown}: {e}")))?;
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (row, record) in rows.enumerate() {
            let record =
                record.map_err(|e| MlError::Data(format!("{shown} row {}: {e}", row + 1)))?;
            for (i, (name, field)) in record.get_column_iter().enumerate() {
                let number = match field {
                    Field::Bool(b) => Some(f64::from(u8::from(*b))),
                    Field::Byte(v) => Some(f64::from(*v)),
                    Field::Short(v) => Some(f64::from(*v)),
                    Field::Int(v) => Some(f64::from(*v)),
                    Field::Long(v) => Some(*v as f64),
                    Field::UByte(v) => Some(f64::from(*v)),
                    Field::UShort(v) => Some(f64::from(*v)),
                    Field::UInt(v) => Some(f64::from(*v)),
                    Field::ULong(v) => Some(*v as f64),
                    Field::Float16(v) => Some(f64::from(*v)),
                    Field::Float(v) => Some(f64::from(*v)),
                    Field::Double(v) => Some(*v),
                    Field::Decimal(d) => decimal_value(d),
                    _ => None,
                };
                if i == label_at {
                    let text = match field {
                        Field::Str(s) => s.trim().to_string(),
                        Field::Null => {
                            return Err(MlError::Data(format!(
                                "{shown} row {}: the label '{name}' is null",
                                row + 1
                            )))
                        }
                        other => other.to_string(),
                    };
                    labels.push(text);
                    continue;
                }
                let v = number.ok_or_else(|| {
                    MlError::Data(format!(
                        "{shown} row {}: column '{name}' is not a number: {field}",
                        row + 1
                    ))
                })?;
                values.push(v);
            }
        }
        if labels.is_empty() {
            return Err(MlError::Data(format!("{shown} has no rows")));
        }
        let rows = Array2::from_shape_vec((labels.len(), feature_names.len()), values)
            .map_err(|e| MlError::Data(format!("{shown}: ragged rows: {e}")))?;
        Ok(Table {
            feature_names,
            rows,
            labels,
        })
    }

    /// A seeded shuffle split into (train, test) with `test_fraction` of the rows held out.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Table, Table) {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let mut order: Vec<usize> = (0..self.labels.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let n_test = ((self.labels.len() as f64) * test_fraction).round() as usize;
        let pick = |idx: &[usize]| Table {
            feature_names: self.feature_names.clone(),
            rows: self.rows.select(Axis(0), idx),
            labels: idx.iter().map(|&i| self.labels[i].clone()).collect(),
        };
        (pick(&order[n_test..]), pick(&order[..n_test]))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TabularModelConfig {
    Logistic {
        /// L2 penalty.
        #[serde(default = "default_alpha")]
        alpha: f64,
        #[serde(default = "default_iterations")]
        max_iterations: u64,
    },
    DecisionTree {
        #[serde(default)]
        max_depth: Option<usize>,
        #[serde(default = "default_min_weight_split")]
        min_weight_split: f32,
    },
}

fn default_alpha() -> f64 {
    1.0
}
fn default_iterations() -> u64 {
    100
}
fn default_min_weight_split() -> f32 {
    2.0
}

impl Default for TabularModelConfig {
    fn default() -> Self {
        TabularModelConfig::Logistic {
            alpha: default_alpha(),
            max_iterations: default_iterations(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TabularModel {
    Logistic(MultiFittedLogisticRegression<f64, usize>),
    DecisionTree(DecisionTree<f64, usize>),
}

/// A fitted tabular classifier with its column scaling and class names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TabularClassifier {
    pub feature_names: Vec<String>,
    pub labels: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub model: TabularModel,
}

impl TabularClassifier {
    pub fn fit(train: &Table, config: &TabularModelConfig) -> Result<TabularClassifier> {
        let labels = crate::text_classifier::classes_of(&train.labels);
        let y: Array1<usize> = train
            .labels
            .iter()
            .map(|l| labels.binary_search(l).unwrap_or(0))
            .collect();
        let mean = train
            .rows
            .mean_axis(Axis(0))
            .map(|m| m.to_vec())
            .unwrap_or_default();
        let scale: Vec<f64> = train
            .rows
            .std_axis(Axis(0), 0.0)
            .iter()
            .map(|&s| if s > 0.0 { s } else { 1.0 })
            .collect();
        let x = standardise(&train.rows, &mean, &scale);
        let ds = Dataset::new(x, y);
        let model = match config {
            TabularModelConfig::Logistic {
                alpha,
                max_iterations,
            } => TabularModel::Logistic(
                MultiLogisticRegression::default()
                    .alpha(*alpha)
                    .max_iterations(*max_iterations)
                    .fit(&ds)
                    .map_err(|e| MlError::Config(format!("logistic regression: {e}")))?,
            ),
            TabularModelConfig::DecisionTree {
                max_depth,
                min_weight_split,
            } => TabularModel::DecisionTree(
                DecisionTree::params()
                    .max_depth(*max_depth)
                    .min_weight_split(*min_weight_split)
                    .fit(&ds)
                    .map_err(|e| MlError::Config(format!("decision tree: {e}")))?,
            ),
        };
        let clf = TabularClassifier {
            feature_names: train.feature_names.clone(),
            labels,
            mean,
            scale,
            model,
        };
        Ok(clf)
    }

    /// Class probabilities per row, in `labels` order. A decision tree gives its
    /// leaf's class probability 1.
    pub fn predict_proba(&self, rows: &Array2<f64>) -> Result<Vec<Vec<f32>>> {
        if rows.ncols() != self.feature_names.len() {
            return Err(MlError::Data(format!(
                "expected {} feature columns {:?}, got {}",
                self.feature_names.len(),
                self.feature_names,
                rows.ncols()
            )));
        }
        let x = standardise(rows, &self.mean, &self.scale);
        let k = self.labels.len();
        Ok(match &self.model {
            TabularModel::Logistic(m) => {
                let p = m.predict_probabilities(&x);
                // linfa orders the columns by its own class list; map them to ours.
                let classes = m.classes();
                p.rows()
                    .into_iter()
                    .map(|r| {
                        let mut out = vec![0.0f32; k];
                        for (c, v) in classes.iter().zip(r) {
                            if let Some(slot) = out.get_mut(*c) {
                                *slot = *v as f32;
                            }
                        }
                        out
                    })
                    .collect()
            }
            TabularModel::DecisionTree(m) => m
                .predict(&x)
                .iter()
                .map(|&c| {
                    let mut out = vec![0.0f32; k];
                    if let Some(slot) = out.get_mut(c) {
                        *slot = 1.0;
                    }
                    out
                })
                .collect(),
        })
    }
}

fn standardise(rows: &Array2<f64>, mean: &[f64], scale: &[f64]) -> Array2<f64> {
    let mut x = rows.clone();
    for mut row in x.rows_mut() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (*v - mean[j]) / scale[j];
        }
    }
    x
}

/// A Parquet decimal as a float (unscaled big-endian integer times 10^-scale).
fn decimal_value(d: &parquet::data_type::Decimal) -> Option<f64> {
    let bytes = d.data();
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    // Sign-extend to 16 bytes.
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(full) as f64 / 10f64.powi(d.scale()))
}
