//! Flavors: how a model directory becomes something that predicts. A model is loaded
//! by the first flavor in its `MLmodel` that cairn can run.

mod cairn;
mod onnx;

use std::path::Path;

use serde_json::Value;

use crate::error::ServingError;
use crate::input::ModelInput;
use crate::mlmodel::MlModel;

/// The flavors cairn runs, in the order it prefers them.
pub const SUPPORTED_FLAVORS: &[&str] = &["cairn", "onnx"];

/// A loaded model. Predicting is CPU work: callers run it off the async threads.
pub trait Predictor: Send + Sync {
    fn predict(&self, input: &ModelInput) -> Result<Outputs, ServingError>;
    /// The flavor that loaded it, for `/health` and logs.
    fn flavor(&self) -> &'static str;
}

/// Loads the model in `dir` with the first supported flavor its `MLmodel` lists, or
/// refuses it naming what it found and what cairn supports.
pub fn load(dir: &Path, mlmodel: &MlModel) -> Result<Box<dyn Predictor>, ServingError> {
    for flavor in SUPPORTED_FLAVORS {
        if let Some(config) = mlmodel.flavors.get(*flavor) {
            return match *flavor {
                "cairn" => Ok(Box::new(cairn::CairnFlavor::load(dir)?)),
                "onnx" => Ok(Box::new(onnx::OnnxModel::load(dir, config)?)),
                other => Err(ServingError::Load(format!("flavor {other} has no loader"))),
            };
        }
    }
    Err(ServingError::Load(format!(
        "cairn cannot serve this model: its flavors are {:?}; cairn serves {:?}",
        mlmodel.flavors.keys().collect::<Vec<_>>(),
        SUPPORTED_FLAVORS
    )))
}

/// A model's named outputs, each a dense tensor of JSON-ready values.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    pub tensors: Vec<(String, OutTensor)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutTensor {
    pub shape: Vec<usize>,
    /// Row-major leaves.
    pub values: Vec<Value>,
}

impl OutTensor {
    /// The whole tensor as nested lists.
    pub fn to_json(&self) -> Value {
        nest(&self.shape, &self.values)
    }

    /// Slice `i` along the first dimension: a scalar when it holds one value (as
    /// MLflow flattens an `[N, 1]` output), else nested lists.
    pub fn row(&self, i: usize) -> Value {
        let Some((_, inner)) = self.shape.split_first() else {
            return self.values.first().cloned().unwrap_or(Value::Null);
        };
        let size: usize = inner.iter().product();
        let Some(slice) = self.values.get(i * size..(i + 1) * size) else {
            return Value::Null;
        };
        if size == 1 {
            slice[0].clone()
        } else {
            nest(inner, slice)
        }
    }
}

fn nest(shape: &[usize], values: &[Value]) -> Value {
    match shape.split_first() {
        None => values.first().cloned().unwrap_or(Value::Null),
        Some((&n, inner)) => {
            let size: usize = inner.iter().product();
            Value::Array(
                (0..n)
                    .map(|i| nest(inner, values.get(i * size..(i + 1) * size).unwrap_or(&[])))
                    .collect(),
            )
        }
    }
}

impl Outputs {
    /// Whether every output has one slice per input row, so the answer can be
    /// given row by row.
    fn per_row(&self, rows: usize) -> bool {
        self.tensors
            .iter()
            .all(|(_, t)| t.shape.first() == Some(&rows))
    }

    /// The `predictions` value of the response: records (one object per row) for a
    /// data-frame request, as MLflow's pyfunc returns a DataFrame there; otherwise,
    /// or when the outputs are not row-aligned, a dictionary of named tensors.
    pub fn to_json(&self, input: &ModelInput) -> Value {
        let rows = input.rows();
        if matches!(input, ModelInput::Frame(_)) && self.per_row(rows) {
            return Value::Array((0..rows).map(|i| self.row(i)).collect());
        }
        Value::Object(
            self.tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.to_json()))
                .collect(),
        )
    }

    /// Row `i` of every output, for the prediction log.
    pub fn row(&self, i: usize) -> Value {
        Value::Object(
            self.tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.row(i)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_answer_by_row_or_as_tensors() {
        let out = Outputs {
            tensors: vec![
                (
                    "label".into(),
                    OutTensor {
                        shape: vec![2],
                        values: vec![json!(1), json!(0)],
                    },
                ),
                (
                    "probabilities".into(),
                    OutTensor {
                        shape: vec![2, 2],
                        values: vec![json!(0.2), json!(0.8), json!(0.9), json!(0.1)],
                    },
                ),
            ],
        };
        let frame = ModelInput::Frame(crate::input::Frame {
            columns: vec!["x".into()],
            rows: vec![vec![json!(1)], vec![json!(2)]],
        });
        assert_eq!(
            out.to_json(&frame),
            json!([
                {"label": 1, "probabilities": [0.2, 0.8]},
                {"label": 0, "probabilities": [0.9, 0.1]}
            ])
        );
        let tensor = ModelInput::Tensor(json!([[1], [2]]));
        assert_eq!(
            out.to_json(&tensor),
            json!({"label": [1, 0], "probabilities": [[0.2, 0.8], [0.9, 0.1]]})
        );
    }

    #[test]
    fn a_model_without_a_supported_flavor_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("MLmodel"),
            "flavors:\n  sklearn: {pickled_model: model.pkl}\n  python_function: {loader_module: mlflow.sklearn}\n",
        )
        .unwrap();
        let m = MlModel::read(dir.path()).unwrap();
        let err = load(dir.path(), &m).err().unwrap().to_string();
        assert!(err.contains("[\"python_function\", \"sklearn\"]"), "{err}");
        assert!(err.contains("[\"cairn\", \"onnx\"]"), "{err}");
    }
}
