//! MLflow's scoring protocol, request side: a JSON body with exactly one of
//! `dataframe_split`, `dataframe_records`, `instances` or `inputs` (plus optional
//! `params`), or a CSV body. Parsed into a [`ModelInput`] that flavors turn into their
//! own tensors; every error names the field, column or row it is about.

use serde_json::{Map, Value};

use crate::error::ServingError;
use crate::mlmodel::Schema;

/// What a request asks the model to predict on.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelInput {
    /// Rows of named columns: `dataframe_split`, `dataframe_records` and CSV.
    Frame(Frame),
    /// One unnamed tensor: `instances` or `inputs` given as a (nested) list.
    Tensor(Value),
    /// Named tensors: `inputs` as an object, `instances` as a list of objects.
    Tensors(Vec<(String, Value)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub columns: Vec<String>,
    /// Row-major; every row has one value per column.
    pub rows: Vec<Vec<Value>>,
}

const FORMATS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

fn bad(msg: impl Into<String>) -> ServingError {
    ServingError::BadRequest(msg.into())
}

/// Parses a request body by its content type (JSON when none is given).
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<ModelInput, ServingError> {
    let content_type = content_type.unwrap_or("application/json");
    let mut parts = content_type.split(';').map(str::trim);
    let mime = parts.next().unwrap_or_default().to_ascii_lowercase();
    for param in parts.filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        if !key.trim().eq_ignore_ascii_case("charset") {
            return Err(ServingError::UnsupportedMediaType(format!(
                "Unrecognized content type parameters: {}",
                key.trim()
            )));
        }
        let charset = value.trim().trim_matches('"').to_ascii_lowercase();
        if charset != "utf-8" && charset != "utf8" {
            return Err(ServingError::UnsupportedMediaType(
                "The scoring server only supports UTF-8".into(),
            ));
        }
    }
    match mime.as_str() {
        "application/json" => parse_json(body),
        "text/csv" => parse_csv(body),
        other => Err(ServingError::UnsupportedMediaType(format!(
            "This predictor only supports the following content types: \
             application/json, text/csv. Got '{other}'."
        ))),
    }
}

fn parse_json(body: &[u8]) -> Result<ModelInput, ServingError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "Ensure that input is a valid JSON formatted string: {e}"
        ))
    })?;
    let Value::Object(mut obj) = value else {
        return Err(bad(format!(
            "The input must be a JSON dictionary with exactly one of the input fields {FORMATS:?}; \
             received a {}",
            kind(&value)
        )));
    };
    let given: Vec<&str> = FORMATS
        .iter()
        .copied()
        .filter(|f| obj.contains_key(*f))
        .collect();
    let [format] = given[..] else {
        return Err(bad(format!(
            "The input must be a JSON dictionary with exactly one of the input fields \
             {FORMATS:?}. Received dictionary with input fields: {:?}",
            obj.keys().collect::<Vec<_>>()
        )));
    };
    let data = obj.remove(format).unwrap_or(Value::Null);
    match format {
        "dataframe_split" => dataframe_split(data),
        "dataframe_records" => dataframe_records(data),
        "instances" => instances(data),
        _ => Ok(match data {
            Value::Object(map) => ModelInput::Tensors(map.into_iter().collect()),
            other => ModelInput::Tensor(other),
        }),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "dictionary",
    }
}

fn dataframe_split(data: Value) -> Result<ModelInput, ServingError> {
    let Value::Object(mut obj) = data else {
        return Err(bad(format!(
            "dataframe_split must be a dictionary with 'columns' and 'data', got a {}",
            kind(&data)
        )));
    };
    let rows = match obj.remove("data") {
        Some(Value::Array(rows)) => rows,
        Some(other) => {
            return Err(bad(format!(
                "dataframe_split.data must be a list of rows, got a {}",
                kind(&other)
            )))
        }
        None => return Err(bad("dataframe_split.data is missing")),
    };
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| match row {
            Value::Array(values) => Ok(values),
            other => Err(bad(format!(
                "dataframe_split.data[{i}] must be a list of values, got a {}",
                kind(&other)
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let columns = match obj.remove("columns") {
        Some(Value::Array(cols)) => cols
            .into_iter()
            .enumerate()
            .map(|(i, c)| match c {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(bad(format!(
                    "dataframe_split.columns[{i}] must be a string, got a {}",
                    kind(&other)
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(bad(format!(
                "dataframe_split.columns must be a list of names, got a {}",
                kind(&other)
            )))
        }
        // pandas names unnamed columns by position.
        None => (0..rows.first().map_or(0, Vec::len))
            .map(|i| i.to_string())
            .collect(),
    };
    for (i, row) in rows.iter().enumerate() {
        if row.len() != columns.len() {
            return Err(bad(format!(
                "dataframe_split.data[{i}] has {} values for {} columns",
                row.len(),
                columns.len()
            )));
        }
    }
    Ok(ModelInput::Frame(Frame { columns, rows }))
}

fn dataframe_records(data: Value) -> Result<ModelInput, ServingError> {
    let Value::Array(records) = data else {
        return Err(bad(format!(
            "dataframe_records must be a list of records, got a {}",
            kind(&data)
        )));
    };
    let records = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            Value::Object(map) => Ok(map),
            other => Err(bad(format!(
                "dataframe_records[{i}] must be a dictionary of column values, got a {}",
                kind(&other)
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ModelInput::Frame(frame_from_records(records)))
}

/// Columns in first-seen order; a record without a column has null there, as pandas.
fn frame_from_records(records: Vec<Map<String, Value>>) -> Frame {
    let mut columns: Vec<String> = Vec::new();
    for r in &records {
        for k in r.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let rows = records
        .into_iter()
        .map(|mut r| {
            columns
                .iter()
                .map(|c| r.remove(c).unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    Frame { columns, rows }
}

/// TF-serving's row format: a list of tensors, or of records of named tensors.
fn instances(data: Value) -> Result<ModelInput, ServingError> {
    let Value::Array(items) = data else {
        return Err(bad(format!(
            "instances must be a list, got a {}",
            kind(&data)
        )));
    };
    if !items.first().is_some_and(Value::is_object) {
        return Ok(ModelInput::Tensor(Value::Array(items)));
    }
    let mut names: Vec<String> = Vec::new();
    let mut columns: Vec<Vec<Value>> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(bad(format!(
                "instances[{i}] must be a dictionary like instances[0]"
            )));
        };
        if i == 0 {
            names = map.keys().cloned().collect();
            columns = vec![Vec::new(); names.len()];
        } else if map.len() != names.len() || !names.iter().all(|n| map.contains_key(n)) {
            return Err(bad(format!(
                "instances[{i}] must have the same keys as instances[0]: {names:?}"
            )));
        }
        let mut map = map;
        for (n, col) in names.iter().zip(columns.iter_mut()) {
            col.push(map.remove(n).unwrap_or(Value::Null));
        }
    }
    Ok(ModelInput::Tensors(
        names
            .into_iter()
            .zip(columns.into_iter().map(Value::Array))
            .collect(),
    ))
}

fn parse_csv(body: &[u8]) -> Result<ModelInput, ServingError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        bad(format!(
            "Ensure that input is a valid UTF-8 encoded string: {e}"
        ))
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("Failed to parse input as CSV: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("CSV row {}: {e}", i + 1)))?;
        if record.len() != columns.len() {
            return Err(bad(format!(
                "CSV row {} has {} fields for {} columns",
                i + 1,
                record.len(),
                columns.len()
            )));
        }
        rows.push(record.iter().map(csv_value).collect());
    }
    Ok(ModelInput::Frame(Frame { columns, rows }))
}

/// A CSV field as pandas reads it: empty is missing, numbers are numbers.
fn csv_value(field: &str) -> Value {
    if field.is_empty() {
        return Value::Null;
    }
    if let Ok(i) = field.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = field.parse::<f64>() {
        if let Some(n) = serde_json::Number::from_f64(f) {
            return Value::Number(n);
        }
    }
    match field {
        "True" | "true" => Value::Bool(true),
        "False" | "false" => Value::Bool(false),
        _ => Value::String(field.to_string()),
    }
}

impl ModelInput {
    /// How many rows the request predicts on (a tensor's first dimension).
    pub fn rows(&self) -> usize {
        let len = |v: &Value| v.as_array().map_or(1, Vec::len);
        match self {
            ModelInput::Frame(f) => f.rows.len(),
            ModelInput::Tensor(v) => len(v),
            ModelInput::Tensors(ts) => ts.first().map_or(0, |(_, v)| len(v)),
        }
    }

    /// Row `i` as JSON, for the prediction log.
    pub fn row(&self, i: usize) -> Value {
        let at = |v: &Value| match v {
            Value::Array(items) => items.get(i).cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        match self {
            ModelInput::Frame(f) => Value::Object(
                f.columns
                    .iter()
                    .cloned()
                    .zip(f.rows.get(i).cloned().unwrap_or_default())
                    .collect(),
            ),
            ModelInput::Tensor(v) => at(v),
            ModelInput::Tensors(ts) => {
                Value::Object(ts.iter().map(|(n, v)| (n.clone(), at(v))).collect())
            }
        }
    }

    /// Removes the entity column and returns its values as ids, one per row; the
    /// model never sees it. Absent column: no ids (the log stores none).
    pub fn take_entity_ids(&mut self, column: &str) -> Option<Vec<Option<String>>> {
        let values: Vec<Value> = match self {
            ModelInput::Frame(f) => {
                let i = f.columns.iter().position(|c| c == column)?;
                f.columns.remove(i);
                f.rows.iter_mut().map(|r| r.remove(i)).collect()
            }
            ModelInput::Tensors(ts) => {
                let i = ts.iter().position(|(n, _)| n == column)?;
                match ts.remove(i).1 {
                    Value::Array(items) => items,
                    other => vec![other],
                }
            }
            ModelInput::Tensor(_) => return None,
        };
        Some(
            values
                .into_iter()
                .map(|v| match v {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                })
                .collect(),
        )
    }

    /// Enforces a column-based signature as MLflow does: required columns must be
    /// there, each value must fit its column's type; the frame is narrowed to the
    /// schema's columns, in its order. Tensor-based schemas are checked by the
    /// flavor against the model's own shapes.
    pub fn enforce(&mut self, schema: &Schema) -> Result<(), ServingError> {
        if schema.is_tensor_based() {
            return Ok(());
        }
        let specs: Vec<_> = schema
            .specs
            .iter()
            .filter_map(|s| s.name.as_deref().map(|n| (n, s)))
            .collect();
        if specs.is_empty() {
            return Ok(());
        }
        if let ModelInput::Tensors(ts) = self {
            // Named tensors against a column schema: the same data, column by column.
            let mut records = vec![
                Map::new();
                ts.first()
                    .map_or(0, |(_, v)| { v.as_array().map_or(1, Vec::len) })
            ];
            for (name, v) in std::mem::take(ts) {
                let items = match v {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                if items.len() != records.len() {
                    return Err(bad(format!(
                        "inputs.{name} has {} values, other inputs have {}",
                        items.len(),
                        records.len()
                    )));
                }
                for (r, item) in records.iter_mut().zip(items) {
                    r.insert(name.clone(), item);
                }
            }
            *self = ModelInput::Frame(frame_from_records(records));
        }
        let ModelInput::Frame(frame) = self else {
            return Err(bad(format!(
                "this model takes named columns {:?}: send dataframe_split, dataframe_records, \
                 or inputs as a dictionary",
                specs.iter().map(|(n, _)| *n).collect::<Vec<_>>()
            )));
        };
        let missing: Vec<&str> = specs
            .iter()
            .filter(|(n, s)| s.required && !frame.columns.iter().any(|c| c == n))
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            let extra: Vec<&String> = frame
                .columns
                .iter()
                .filter(|c| !specs.iter().any(|(n, _)| n == c))
                .collect();
            return Err(bad(format!(
                "Model is missing inputs {missing:?}. Note that there were extra inputs: {extra:?}"
            )));
        }
        let positions: Vec<Option<usize>> = specs
            .iter()
            .map(|(n, _)| frame.columns.iter().position(|c| c == n))
            .collect();
        let mut rows = Vec::with_capacity(frame.rows.len());
        for (r, row) in frame.rows.iter().enumerate() {
            let mut out = Vec::with_capacity(specs.len());
            for ((name, spec), pos) in specs.iter().zip(&positions) {
                let value = pos.map_or(Value::Null, |p| row[p].clone());
                out.push(check_type(value, &spec.kind, name, r)?);
            }
            rows.push(out);
        }
        frame.columns = specs.iter().map(|(n, _)| n.to_string()).collect();
        frame.rows = rows;
        Ok(())
    }
}

/// A value checked (and, where MLflow converts, converted) against a column type.
fn check_type(value: Value, ty: &str, column: &str, row: usize) -> Result<Value, ServingError> {
    let wrong = |v: &Value| {
        bad(format!(
            "column '{column}' row {row}: expected {ty}, got {} {v}",
            kind(v)
        ))
    };
    match (ty, &value) {
        (_, Value::Null) => Ok(value),
        ("double" | "float", Value::Number(_)) => Ok(value),
        ("long" | "integer", Value::Number(n)) => {
            if n.is_i64() || n.is_u64() {
                Ok(value)
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 => Ok(Value::from(f as i64)),
                    _ => Err(wrong(&value)),
                }
            }
        }
        ("boolean", Value::Bool(_)) => Ok(value),
        ("string", Value::String(_)) => Ok(value),
        ("double" | "float" | "long" | "integer" | "boolean" | "string", _) => Err(wrong(&value)),
        // binary, datetime, arrays and objects: passed through to the flavor.
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlmodel::Spec;
    use serde_json::json;

    fn json_body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn frame(columns: &[&str], rows: Vec<Vec<Value>>) -> ModelInput {
        ModelInput::Frame(Frame {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        })
    }

    #[test]
    fn the_four_json_formats_and_csv_parse() {
        let split = json!({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, 4]]}});
        assert_eq!(
            parse(None, &json_body(split)).unwrap(),
            frame(
                &["a", "b"],
                vec![vec![json!(1), json!(2.5)], vec![json!(3), json!(4)]]
            )
        );
        let records = json!({"dataframe_records": [{"a": 1, "b": 2}, {"b": 4, "c": "x"}]});
        assert_eq!(
            parse(Some("application/json; charset=utf-8"), &json_body(records)).unwrap(),
            frame(
                &["a", "b", "c"],
                vec![
                    vec![json!(1), json!(2), Value::Null],
                    vec![Value::Null, json!(4), json!("x")]
                ]
            )
        );
        let inst = json!({"instances": [[1, 2], [3, 4]]});
        assert_eq!(
            parse(None, &json_body(inst)).unwrap(),
            ModelInput::Tensor(json!([[1, 2], [3, 4]]))
        );
        let inst = json!({"instances": [{"x": [1, 2]}, {"x": [3, 4]}]});
        assert_eq!(
            parse(None, &json_body(inst)).unwrap(),
            ModelInput::Tensors(vec![("x".into(), json!([[1, 2], [3, 4]]))])
        );
        let inputs = json!({"inputs": {"x": [[1.0]]}, "params": {"k": 1}});
        assert_eq!(
            parse(None, &json_body(inputs)).unwrap(),
            ModelInput::Tensors(vec![("x".into(), json!([[1.0]]))])
        );
        let csv = b"a,b,name\n1,2.5,x\n3,,y\n";
        assert_eq!(
            parse(Some("text/csv"), csv).unwrap(),
            frame(
                &["a", "b", "name"],
                vec![
                    vec![json!(1), json!(2.5), json!("x")],
                    vec![json!(3), Value::Null, json!("y")]
                ]
            )
        );
    }

    #[test]
    fn bad_payloads_name_what_is_wrong() {
        let err = |ct: Option<&str>, body: &[u8]| parse(ct, body).unwrap_err().to_string();
        assert!(err(None, b"{not json").contains("valid JSON"));
        assert!(err(None, b"[1,2]").contains("received a list"));
        let both = json_body(json!({"inputs": [1], "instances": [1]}));
        assert!(err(None, &both).contains("exactly one"));
        let ragged =
            json_body(json!({"dataframe_split": {"columns": ["a"], "data": [[1], [1, 2]]}}));
        assert!(err(None, &ragged).contains("dataframe_split.data[1] has 2 values"));
        let not_rows = json_body(json!({"dataframe_split": {"data": 3}}));
        assert!(err(None, &not_rows).contains("dataframe_split.data must be a list"));
        assert!(err(Some("text/plain"), b"x").contains("text/plain"));
        assert!(err(Some("application/json; charset=latin-1"), b"{}").contains("UTF-8"));
        assert!(err(Some("text/csv"), b"a,b\n1\n").contains("CSV row 1"));
        assert!(matches!(
            parse(Some("text/xml"), b"").unwrap_err(),
            ServingError::UnsupportedMediaType(_)
        ));
    }

    fn col(name: &str, ty: &str) -> Spec {
        Spec {
            name: Some(name.into()),
            kind: ty.into(),
            tensor: None,
            required: true,
        }
    }

    #[test]
    fn column_signatures_reorder_narrow_and_type_check() {
        let schema = Schema {
            specs: vec![col("b", "double"), col("a", "long")],
        };
        let mut input = frame(
            &["a", "b", "extra"],
            vec![vec![json!(1.0), json!(2), json!("z")]],
        );
        input.enforce(&schema).unwrap();
        assert_eq!(input, frame(&["b", "a"], vec![vec![json!(2), json!(1)]]));

        let mut missing = frame(&["a"], vec![vec![json!(1)]]);
        let e = missing.enforce(&schema).unwrap_err().to_string();
        assert!(e.contains("missing inputs [\"b\"]"), "{e}");

        let mut wrong = frame(&["a", "b"], vec![vec![json!(1), json!("high")]]);
        let e = wrong.enforce(&schema).unwrap_err().to_string();
        assert!(e.contains("column 'b' row 0: expected double"), "{e}");

        let mut named = ModelInput::Tensors(vec![
            ("a".into(), json!([1, 2])),
            ("b".into(), json!([0.5, 1.5])),
        ]);
        named.enforce(&schema).unwrap();
        assert_eq!(
            named,
            frame(
                &["b", "a"],
                vec![vec![json!(0.5), json!(1)], vec![json!(1.5), json!(2)]]
            )
        );
    }

    #[test]
    fn the_entity_column_is_taken_out_and_rows_read_back() {
        let mut input = frame(
            &["id", "x"],
            vec![vec![json!("u1"), json!(1)], vec![json!(7), json!(2)]],
        );
        let ids = input.take_entity_ids("id").unwrap();
        assert_eq!(ids, [Some("u1".to_string()), Some("7".to_string())]);
        assert_eq!(input.rows(), 2);
        assert_eq!(input.row(1), json!({"x": 2}));
        assert!(input.take_entity_ids("id").is_none());
        assert_eq!(
            ModelInput::Tensor(json!([[1, 2], [3, 4]])).row(1),
            json!([3, 4])
        );
    }
}
