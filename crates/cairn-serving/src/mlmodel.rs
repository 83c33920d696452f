//! The `MLmodel` file at the root of every MLflow model directory: which flavors can
//! load the model, its signature, and where its input example is.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::ServingError;

/// The parts of `MLmodel` serving reads; MLflow writes more, which is ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct MlModel {
    /// Flavor name -> its configuration (`onnx: {data: model.onnx, ...}`).
    #[serde(default)]
    pub flavors: BTreeMap<String, serde_norway::Value>,
    #[serde(default)]
    pub signature: Option<RawSignature>,
    #[serde(default)]
    pub saved_input_example_info: Option<InputExampleInfo>,
    #[serde(default)]
    pub model_uuid: Option<String>,
}

/// MLflow stores each half of the signature as a JSON string inside the YAML.
#[derive(Debug, Clone, Deserialize)]
pub struct RawSignature {
    #[serde(default)]
    pub inputs: Option<String>,
    #[serde(default)]
    pub outputs: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InputExampleInfo {
    #[serde(default)]
    pub artifact_path: Option<String>,
    /// `serving_input_example.json`: the example as an `/invocations` payload.
    #[serde(default)]
    pub serving_input_path: Option<String>,
}

impl MlModel {
    pub fn read(dir: &Path) -> Result<MlModel, ServingError> {
        let path = dir.join("MLmodel");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ServingError::Load(format!(
                "the model directory has no readable MLmodel file ({}): {e}",
                path.display()
            ))
        })?;
        serde_norway::from_str(&text)
            .map_err(|e| ServingError::Load(format!("MLmodel is not valid: {e}")))
    }

    /// The declared input schema, when the model has a signature.
    pub fn input_schema(&self) -> Result<Option<Schema>, ServingError> {
        let Some(text) = self.signature.as_ref().and_then(|s| s.inputs.as_deref()) else {
            return Ok(None);
        };
        let specs: Vec<Spec> = serde_json::from_str(text)
            .map_err(|e| ServingError::Load(format!("MLmodel signature.inputs: {e}")))?;
        Ok(Some(Schema { specs }))
    }

    /// The `/invocations` payload of the model's input example, if it was saved.
    pub fn serving_example(&self, dir: &Path) -> Option<std::path::PathBuf> {
        let info = self.saved_input_example_info.as_ref()?;
        let path = dir.join(info.serving_input_path.as_deref()?);
        path.is_file().then_some(path)
    }
}

/// One entry of a signature: a named, typed column, or a tensor.
#[derive(Debug, Clone, Deserialize)]
pub struct Spec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "tensor-spec", default)]
    pub tensor: Option<TensorSpec>,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct TensorSpec {
    pub dtype: String,
    pub shape: Vec<i64>,
}

/// A model's input schema.
#[derive(Debug, Clone)]
pub struct Schema {
    pub specs: Vec<Spec>,
}

impl Schema {
    /// Column-based schemas name and type columns; tensor-based ones give shapes.
    pub fn is_tensor_based(&self) -> bool {
        self.specs.iter().any(|s| s.kind == "tensor")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_mlflow_onnx_log_model_writes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("MLmodel"),
            r#"artifact_path: model
flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: 1.17.0
    providers: [CUDAExecutionProvider, CPUExecutionProvider]
  python_function:
    data: model.onnx
    loader_module: mlflow.onnx
mlflow_version: 3.17.2
model_uuid: 5f1e
saved_input_example_info:
  artifact_path: input_example.json
  serving_input_path: serving_input_example.json
  type: ndarray
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}, "name": "label"}]'
  params: null
"#,
        )
        .unwrap();
        let m = MlModel::read(dir.path()).unwrap();
        assert_eq!(
            m.flavors.keys().collect::<Vec<_>>(),
            ["onnx", "python_function"]
        );
        let schema = m.input_schema().unwrap().unwrap();
        assert!(schema.is_tensor_based());
        assert_eq!(schema.specs[0].tensor.as_ref().unwrap().shape, [-1, 4]);
        // The example file is not there, so it is not offered.
        assert!(m.serving_example(dir.path()).is_none());
    }

    #[test]
    fn a_missing_mlmodel_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = MlModel::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("MLmodel"), "{err}");
    }
}
