//! MLflow's stock `onnx` flavor, run by tract: a model exported to ONNX in Python and
//! logged with `mlflow.onnx.log_model` is served as it is, with no onnxruntime.
//!
//! Inputs are fed as MLflow's pyfunc wrapper feeds them (`mlflow/onnx/__init__.py`):
//! a data frame becomes the single input's matrix, or one column per input when the
//! model has several; a bare tensor goes to the single input; named tensors go by name.
//! Values are cast to each input's declared element type (MLflow casts float64 to
//! float32 the same way).

use std::path::Path;

use serde_json::Value;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimFact;

use super::{OutTensor, Outputs, Predictor};
use crate::error::ServingError;
use crate::input::{Frame, ModelInput};

pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    inputs: Vec<InputSpec>,
    outputs: Vec<String>,
}

/// A model input: its name, element type and shape (`None` for a free dimension).
struct InputSpec {
    name: String,
    dtype: DatumType,
    shape: Vec<Option<usize>>,
}

impl InputSpec {
    fn describe(&self) -> String {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|d| d.map_or("N".to_string(), |d| d.to_string()))
            .collect();
        format!("{} {:?}[{}]", self.name, self.dtype, dims.join(", "))
    }
}

fn load_err(e: impl std::fmt::Display) -> ServingError {
    ServingError::Load(format!("cannot load the ONNX model: {e:#}"))
}

impl OnnxModel {
    pub fn load(dir: &Path, config: &serde_norway::Value) -> Result<OnnxModel, ServingError> {
        let file = config
            .get("data")
            .and_then(|d| d.as_str())
            .unwrap_or("model.onnx");
        let path = dir.join(file);
        if !path.is_file() {
            return Err(ServingError::Load(format!(
                "the onnx flavor names {file}, which the model directory does not have"
            )));
        }
        let mut model = tract_onnx::onnx().model_for_path(&path).map_err(load_err)?;
        // Free dimensions (dim_param, or none at all as skl2onnx writes `None`) become
        // symbols, so one optimized plan serves any batch size.
        let batch = model.symbols.sym("batch");
        for ix in 0..model.input_outlets().map_err(load_err)?.len() {
            let fact = model.input_fact(ix).map_err(load_err)?.clone();
            let dims: TVec<DimFact> = fact
                .shape
                .dims()
                .enumerate()
                .map(|(k, d)| match d.concretize() {
                    Some(dim) => DimFact::from(dim),
                    None if k == 0 => DimFact::from(TDim::from(batch.clone())),
                    None => DimFact::from(TDim::from(model.symbols.sym(&format!("d{ix}_{k}")))),
                })
                .collect();
            let fact = InferenceFact {
                shape: tract_onnx::tract_hir::infer::ShapeFactoid::closed(dims),
                ..fact
            };
            model.set_input_fact(ix, fact).map_err(load_err)?;
        }
        let typed = model.into_optimized().map_err(load_err)?;
        let mut inputs = Vec::new();
        for (ix, outlet) in typed.input_outlets().map_err(load_err)?.iter().enumerate() {
            let fact = typed.input_fact(ix).map_err(load_err)?;
            inputs.push(InputSpec {
                name: typed.node(outlet.node).name.clone(),
                dtype: fact.datum_type,
                shape: fact
                    .shape
                    .iter()
                    .map(|d| d.as_i64().and_then(|v| usize::try_from(v).ok()))
                    .collect(),
            });
        }
        let outputs = typed
            .output_outlets()
            .map_err(load_err)?
            .iter()
            .map(|o| {
                typed
                    .outlet_label(*o)
                    .map(str::to_string)
                    .unwrap_or_else(|| typed.node(o.node).name.clone())
            })
            .collect();
        let plan = typed.into_runnable().map_err(load_err)?;
        Ok(OnnxModel {
            plan,
            inputs,
            outputs,
        })
    }

    /// One tensor per model input, in the model's order.
    fn feed(&self, input: &ModelInput) -> Result<TVec<TValue>, ServingError> {
        let names = || {
            self.inputs
                .iter()
                .map(InputSpec::describe)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut feed = TVec::new();
        match input {
            ModelInput::Frame(frame) if self.inputs.len() == 1 => {
                let (shape, leaves) = frame_matrix(frame)?;
                feed.push(tensor(&self.inputs[0], shape, &leaves, "dataframe")?);
            }
            ModelInput::Frame(frame) => {
                for spec in &self.inputs {
                    let col = frame
                        .columns
                        .iter()
                        .position(|c| *c == spec.name)
                        .ok_or_else(|| {
                            ServingError::BadRequest(format!(
                                "the model's input '{}' has no column in the request; \
                                 the model takes {}",
                                spec.name,
                                names()
                            ))
                        })?;
                    let leaves: Vec<&Value> = frame.rows.iter().map(|r| &r[col]).collect();
                    let field = format!("column '{}'", spec.name);
                    feed.push(tensor(spec, vec![leaves.len()], &leaves, &field)?);
                }
            }
            ModelInput::Tensor(value) => {
                let [spec] = &self.inputs[..] else {
                    return Err(ServingError::BadRequest(format!(
                        "a single unnamed tensor cannot feed a model with {} inputs: send \
                         `inputs` as a dictionary of {}",
                        self.inputs.len(),
                        names()
                    )));
                };
                let (shape, leaves) = dense(value, "inputs")?;
                feed.push(tensor(spec, shape, &leaves, "inputs")?);
            }
            ModelInput::Tensors(named) => {
                if let Some((unknown, _)) = named
                    .iter()
                    .find(|(n, _)| !self.inputs.iter().any(|s| s.name == *n))
                {
                    return Err(ServingError::BadRequest(format!(
                        "inputs.{unknown}: the model has no such input; it takes {}",
                        names()
                    )));
                }
                for spec in &self.inputs {
                    let field = format!("inputs.{}", spec.name);
                    let value = named
                        .iter()
                        .find(|(n, _)| *n == spec.name)
                        .map(|(_, v)| v)
                        .ok_or_else(|| {
                            ServingError::BadRequest(format!(
                                "{field} is missing; the model takes {}",
                                names()
                            ))
                        })?;
                    let (shape, leaves) = dense(value, &field)?;
                    feed.push(tensor(spec, shape, &leaves, &field)?);
                }
            }
        }
        Ok(feed)
    }
}

impl Predictor for OnnxModel {
    fn predict(&self, input: &ModelInput) -> Result<Outputs, ServingError> {
        let feed = self.feed(input)?;
        let results = self
            .plan
            .run(feed)
            .map_err(|e| ServingError::Predict(format!("the ONNX model failed: {e:#}")))?;
        let tensors = self
            .outputs
            .iter()
            .zip(results.iter())
            .map(|(name, t)| Ok((name.clone(), out_tensor(t)?)))
            .collect::<Result<_, ServingError>>()?;
        Ok(Outputs { tensors })
    }

    fn flavor(&self) -> &'static str {
        "onnx"
    }
}

/// A data frame's cells as a `[rows, columns]` matrix.
fn frame_matrix(frame: &Frame) -> Result<(Vec<usize>, Vec<&Value>), ServingError> {
    let mut leaves = Vec::with_capacity(frame.rows.len() * frame.columns.len());
    for (r, row) in frame.rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if cell.is_array() || cell.is_object() {
                return Err(ServingError::BadRequest(format!(
                    "column '{}' row {r}: expected a scalar value for this model",
                    frame.columns[c]
                )));
            }
            leaves.push(cell);
        }
    }
    Ok((vec![frame.rows.len(), frame.columns.len()], leaves))
}

/// A nested JSON list as a shape and its leaves, refusing ragged lists.
fn dense<'a>(value: &'a Value, field: &str) -> Result<(Vec<usize>, Vec<&'a Value>), ServingError> {
    /// Where an error is: the field and the index path, written out only on error so
    /// a well-formed request formats nothing.
    fn at(field: &str, index: &[usize]) -> String {
        let mut path = field.to_string();
        for i in index {
            path.push_str(&format!("[{i}]"));
        }
        path
    }
    fn walk<'a>(
        v: &'a Value,
        field: &str,
        shape: &mut Vec<usize>,
        leaves: &mut Vec<&'a Value>,
        index: &mut Vec<usize>,
    ) -> Result<(), String> {
        let depth = index.len();
        match v {
            Value::Array(items) => {
                match shape.get(depth) {
                    None if depth == shape.len() && leaves.is_empty() => shape.push(items.len()),
                    Some(&n) if n == items.len() => {}
                    _ => {
                        return Err(format!(
                            "{} has {} values where its siblings have {}",
                            at(field, index),
                            items.len(),
                            shape.get(depth).map_or("none".into(), |n| n.to_string())
                        ))
                    }
                }
                for (i, item) in items.iter().enumerate() {
                    index.push(i);
                    walk(item, field, shape, leaves, index)?;
                    index.pop();
                }
                Ok(())
            }
            leaf => {
                if depth != shape.len() {
                    return Err(format!(
                        "{} is a value where a list was expected",
                        at(field, index)
                    ));
                }
                leaves.push(leaf);
                Ok(())
            }
        }
    }
    let mut shape = Vec::new();
    let mut leaves = Vec::new();
    walk(value, field, &mut shape, &mut leaves, &mut Vec::new())
        .map_err(ServingError::BadRequest)?;
    Ok((shape, leaves))
}

/// Fits a request's shape to the input's rank by adding or dropping size-1
/// dimensions (a `[N]` column for an `[N, 1]` input), then checks fixed dimensions.
fn fit_shape(
    spec: &InputSpec,
    mut shape: Vec<usize>,
    field: &str,
) -> Result<Vec<usize>, ServingError> {
    let want = spec.shape.len();
    while shape.len() < want {
        shape.push(1);
    }
    while shape.len() > want && shape.last() == Some(&1) {
        shape.pop();
    }
    let fits = shape.len() == want
        && shape
            .iter()
            .zip(&spec.shape)
            .all(|(got, want)| want.is_none_or(|w| w == *got));
    if !fits {
        return Err(ServingError::BadRequest(format!(
            "{field}: shape {shape:?} does not fit the model's input {}",
            spec.describe()
        )));
    }
    Ok(shape)
}

fn tensor(
    spec: &InputSpec,
    shape: Vec<usize>,
    leaves: &[&Value],
    field: &str,
) -> Result<TValue, ServingError> {
    let shape = fit_shape(spec, shape, field)?;
    let bad = |i: usize, v: &Value, what: &str| {
        ServingError::BadRequest(format!(
            "{field}: value {i} ({v}) is not {what}, as the model's input {} needs",
            spec.describe()
        ))
    };
    let float = |i: usize, v: &&Value| -> Result<f64, ServingError> {
        match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| bad(i, v, "a number")),
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            // pandas reads a missing cell as NaN; so does MLflow's cast.
            Value::Null => Ok(f64::NAN),
            _ => Err(bad(i, v, "a number")),
        }
    };
    let int = |i: usize, v: &&Value| -> Result<i64, ServingError> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(|| bad(i, v, "an integer")),
            Value::Bool(b) => Ok(i64::from(*b)),
            _ => Err(bad(i, v, "an integer")),
        }
    };
    fn build<T: Datum>(shape: &[usize], data: Vec<T>) -> Result<TValue, ServingError> {
        tract_ndarray::ArrayD::from_shape_vec(tract_ndarray::IxDyn(shape), data)
            .map(|a| a.into_tensor().into_tvalue())
            .map_err(|e| ServingError::BadRequest(format!("cannot shape the input: {e}")))
    }
    macro_rules! numbers {
        ($conv:ident, $t:ty) => {
            build::<$t>(
                &shape,
                leaves
                    .iter()
                    .enumerate()
                    .map(|(i, v)| $conv(i, v).map(|x| x as $t))
                    .collect::<Result<_, _>>()?,
            )
        };
    }
    match spec.dtype {
        DatumType::F32 => numbers!(float, f32),
        DatumType::F64 => numbers!(float, f64),
        DatumType::I64 => numbers!(int, i64),
        DatumType::I32 => numbers!(int, i32),
        DatumType::I16 => numbers!(int, i16),
        DatumType::I8 => numbers!(int, i8),
        DatumType::U8 => numbers!(int, u8),
        DatumType::U16 => numbers!(int, u16),
        DatumType::U32 => numbers!(int, u32),
        DatumType::U64 => numbers!(int, u64),
        DatumType::Bool => build::<bool>(
            &shape,
            leaves
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Bool(b) => Ok(*b),
                    Value::Number(n) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
                    _ => Err(bad(i, v, "a boolean")),
                })
                .collect::<Result<_, _>>()?,
        ),
        DatumType::String => build::<String>(
            &shape,
            leaves
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        ),
        other => Err(ServingError::BadRequest(format!(
            "{field}: the model's input {} has element type {other:?}, which cairn cannot \
             build from JSON",
            spec.name
        ))),
    }
}

fn out_tensor(t: &TValue) -> Result<OutTensor, ServingError> {
    fn leaves<T: Datum>(t: &Tensor, f: impl Fn(&T) -> Value) -> Result<Vec<Value>, ServingError> {
        Ok(t.to_plain_array_view::<T>()
            .map_err(|e| ServingError::Predict(format!("cannot read the model's output: {e}")))?
            .iter()
            .map(f)
            .collect())
    }
    let num = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    let values = match t.datum_type() {
        DatumType::F32 => leaves::<f32>(t, |x| num(f64::from(*x)))?,
        DatumType::F64 => leaves::<f64>(t, |x| num(*x))?,
        DatumType::I64 => leaves::<i64>(t, |x| Value::from(*x))?,
        DatumType::I32 => leaves::<i32>(t, |x| Value::from(*x))?,
        DatumType::I16 => leaves::<i16>(t, |x| Value::from(*x))?,
        DatumType::I8 => leaves::<i8>(t, |x| Value::from(*x))?,
        DatumType::U8 => leaves::<u8>(t, |x| Value::from(*x))?,
        DatumType::U16 => leaves::<u16>(t, |x| Value::from(*x))?,
        DatumType::U32 => leaves::<u32>(t, |x| Value::from(*x))?,
        DatumType::U64 => leaves::<u64>(t, |x| Value::from(*x))?,
        DatumType::Bool => leaves::<bool>(t, |x| Value::from(*x))?,
        DatumType::String => leaves::<String>(t, |x| Value::from(x.as_str()))?,
        other => {
            let cast = t
                .cast_to::<f64>()
                .map_err(|e| ServingError::Predict(format!("output type {other:?}: {e}")))?;
            leaves::<f64>(&cast, |x| num(*x))?
        }
    };
    Ok(OutTensor {
        shape: t.shape().to_vec(),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ragged_lists_are_refused_with_their_path() {
        let v = json!([[1, 2], [3]]);
        let e = dense(&v, "inputs").unwrap_err().to_string();
        assert!(e.contains("inputs[1] has 1 values"), "{e}");
        let v = json!([[1, 2], 3]);
        let e = dense(&v, "inputs").unwrap_err().to_string();
        assert!(e.contains("inputs[1] is a value"), "{e}");
        let v = json!([[1, 2], [3, 4], [5, 6]]);
        let (shape, leaves) = dense(&v, "x").unwrap();
        assert_eq!(shape, [3, 2]);
        assert_eq!(leaves.len(), 6);
    }

    #[test]
    fn shapes_fit_the_input_rank() {
        let spec = InputSpec {
            name: "X".into(),
            dtype: DatumType::F32,
            shape: vec![None, Some(4)],
        };
        assert_eq!(fit_shape(&spec, vec![3, 4], "x").unwrap(), [3, 4]);
        let e = fit_shape(&spec, vec![3, 5], "x").unwrap_err().to_string();
        assert!(e.contains("[3, 5]") && e.contains("X F32[N, 4]"), "{e}");
        let col = InputSpec {
            name: "a".into(),
            dtype: DatumType::F32,
            shape: vec![None, Some(1)],
        };
        assert_eq!(fit_shape(&col, vec![3], "a").unwrap(), [3, 1]);
    }
}
