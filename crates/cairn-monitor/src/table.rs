//! Tables read from CSV or Parquet with DataFusion, as the columns drift needs them.
//!
//! DataFusion parses the file in parallel into Arrow batches; each batch's columns
//! are appended to one typed vector per column, so a file is never held twice (not
//! as text and as values). The types follow what pandas would give the same file,
//! because Evidently's choice of test depends on them: a whole-number column with a
//! missing value is a float column there, and a boolean one becomes Python objects.

use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;

use crate::{Error, Result};

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// A floating-point column (missing values are NaN, as in pandas).
    Float(Vec<f64>),
    /// A whole-number column without a missing value (pandas' int64).
    Int(Vec<i64>),
    /// A true/false column without a missing value (pandas' bool).
    Bool(Vec<bool>),
    /// Text (`None` is missing); also a true/false column with a missing value,
    /// which pandas holds as objects and Evidently does not type.
    Text(Vec<Option<String>>),
    /// A boolean column with a missing value: pandas' `object` of bools, which
    /// Evidently leaves out.
    Objects(usize),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Text(v) => v.len(),
            Values::Objects(n) => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A table: its columns in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, Values)>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, v)| v.len())
    }

    pub fn column(&self, name: &str) -> Option<&Values> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// What a column is gathered as while the batches stream in.
enum Builder {
    Float(Vec<f64>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
}

/// Reads a CSV (with a header row) or Parquet file, by its extension.
pub async fn read(path: &Path) -> Result<Table> {
    let name = path.display().to_string();
    if !path.is_file() {
        return Err(Error::Input(format!("{name}: no such file")));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_batch_size(65_536));
    let df = match ext.as_str() {
        "parquet" | "pq" => ctx
            .read_parquet(&name, ParquetReadOptions::default().file_extension(""))
            .await
            .map_err(|e| Error::Input(format!("{name}: {e}")))?,
        "csv" | "tsv" | "txt" => {
            let options = CsvReadOptions::new()
                .has_header(true)
                .delimiter(if ext == "tsv" { b'\t' } else { b',' })
                .file_extension("")
                // Every row decides a column's type, as pandas reads the whole file.
                .schema_infer_max_records(usize::MAX);
            ctx.read_csv(&name, options)
                .await
                .map_err(|e| Error::Input(format!("{name}: {e}")))?
        }
        other => {
            return Err(Error::Input(format!(
                "{name}: a .csv, .tsv or .parquet file is read, not '.{other}'"
            )))
        }
    };
    let schema = df.schema().clone();
    let mut builders: Vec<(String, Builder)> = Vec::new();
    for field in schema.fields() {
        let b = match field.data_type() {
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(..) => Builder::Float(Vec::new()),
            t if t.is_integer() => Builder::Int(Vec::new()),
            DataType::Boolean => Builder::Bool(Vec::new()),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                Builder::Text(Vec::new())
            }
            other => {
                return Err(Error::Input(format!(
                    "{name}: column '{}' is {other}, which drift does not read",
                    field.name()
                )))
            }
        };
        builders.push((field.name().clone(), b));
    }
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| Error::Input(format!("{name}: {e}")))?;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| Error::Input(format!("{name}: {e}")))?;
        for ((_, b), array) in builders.iter_mut().zip(batch.columns()) {
            append(b, array).map_err(|e| Error::Input(format!("{name}: {e}")))?;
        }
    }
    let columns = builders.into_iter().map(|(n, b)| (n, finish(b))).collect();
    Ok(Table { columns })
}

fn append(b: &mut Builder, array: &dyn Array) -> std::result::Result<(), String> {
    let err = |e: datafusion::arrow::error::ArrowError| e.to_string();
    match b {
        Builder::Float(out) => {
            let a = cast(array, &DataType::Float64).map_err(err)?;
            let a = a.as_primitive::<Float64Type>();
            out.extend((0..a.len()).map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) }));
        }
        Builder::Int(out) => {
            let a = cast(array, &DataType::Int64).map_err(err)?;
            let a = a.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))));
        }
        Builder::Bool(out) => {
            let a = array.as_boolean();
            out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))));
        }
        Builder::Text(out) => {
            let a = cast(array, &DataType::Utf8).map_err(err)?;
            let a = a.as_string::<i32>();
            out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).to_string())));
        }
    }
    Ok(())
}

/// A gathered column in pandas' terms: integers with a gap become floats, booleans
/// with a gap become objects.
fn finish(b: Builder) -> Values {
    match b {
        Builder::Float(v) => Values::Float(v),
        Builder::Int(v) => {
            if v.iter().all(Option::is_some) {
                Values::Int(v.into_iter().flatten().collect())
            } else {
                Values::Float(
                    v.into_iter()
                        .map(|x| x.map_or(f64::NAN, |x| x as f64))
                        .collect(),
                )
            }
        }
        Builder::Bool(v) => {
            if v.iter().all(Option::is_some) {
                Values::Bool(v.into_iter().flatten().collect())
            } else {
                Values::Objects(v.len())
            }
        }
        Builder::Text(v) => Values::Text(v),
    }
}

/// What a JSON column holds, widened as values are seen (pandas' inference for
/// `pd.DataFrame(records)`).
#[derive(Clone, Copy, PartialEq)]
enum JsonKind {
    /// Only missing values so far.
    Unknown,
    Int,
    Float,
    Bool,
    Text,
}

impl JsonKind {
    fn widen(self, v: &serde_json::Value) -> JsonKind {
        use serde_json::Value as J;
        let seen = match v {
            J::Null => return self,
            J::Number(n) if n.is_i64() => JsonKind::Int,
            J::Number(_) => JsonKind::Float,
            J::Bool(_) => JsonKind::Bool,
            _ => JsonKind::Text,
        };
        match (self, seen) {
            (JsonKind::Unknown, s) => s,
            (a, b) if a == b => a,
            (JsonKind::Int, JsonKind::Float) | (JsonKind::Float, JsonKind::Int) => JsonKind::Float,
            _ => JsonKind::Text,
        }
    }
}

/// A table from JSON records (the prediction log's inputs), typed as pandas types
/// `pd.DataFrame(records)`: columns in the order keys first appear, a key a record
/// lacks or holds `null` is missing, whole numbers form an integer column unless one
/// is missing, numbers mixed with text or booleans become text.
pub fn from_records<'a>(
    records: impl IntoIterator<Item = &'a serde_json::Map<String, serde_json::Value>> + Clone,
) -> Table {
    let mut kinds: Vec<(String, JsonKind)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for record in records.clone() {
        for (key, value) in record {
            let i = *index.entry(key.clone()).or_insert_with(|| {
                kinds.push((key.clone(), JsonKind::Unknown));
                kinds.len() - 1
            });
            kinds[i].1 = kinds[i].1.widen(value);
        }
    }
    let mut builders: Vec<(String, Builder)> = kinds
        .into_iter()
        .map(|(name, kind)| {
            let b = match kind {
                JsonKind::Int => Builder::Int(Vec::new()),
                JsonKind::Float => Builder::Float(Vec::new()),
                JsonKind::Bool => Builder::Bool(Vec::new()),
                JsonKind::Text | JsonKind::Unknown => Builder::Text(Vec::new()),
            };
            (name, b)
        })
        .collect();
    for record in records {
        for (name, b) in &mut builders {
            let v = record.get(name.as_str()).filter(|v| !v.is_null());
            match b {
                Builder::Int(out) => out.push(v.and_then(serde_json::Value::as_i64)),
                Builder::Float(out) => {
                    out.push(v.and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN));
                }
                Builder::Bool(out) => out.push(v.and_then(serde_json::Value::as_bool)),
                Builder::Text(out) => out.push(v.map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })),
            }
        }
    }
    let columns = builders.into_iter().map(|(n, b)| (n, finish(b))).collect();
    Table { columns }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_typed_as_pandas_types_a_frame_of_them() {
        let rows = [
            json!({"n": 1, "f": 1, "b": true, "s": "x", "gap": 1, "mixed": 1}),
            json!({"n": 2, "f": 2.5, "b": false, "s": null, "mixed": "a"}),
            json!({"n": 3, "f": 3, "b": true, "s": "y", "gap": 3, "mixed": true, "late": 1.5}),
        ];
        let maps: Vec<_> = rows.iter().map(|r| r.as_object().unwrap()).collect();
        let t = from_records(maps.iter().copied());
        let names: Vec<&str> = t.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["n", "f", "b", "s", "gap", "mixed", "late"]);
        assert_eq!(t.column("n"), Some(&Values::Int(vec![1, 2, 3])));
        assert_eq!(t.column("f"), Some(&Values::Float(vec![1.0, 2.5, 3.0])));
        assert_eq!(t.column("b"), Some(&Values::Bool(vec![true, false, true])));
        assert_eq!(
            t.column("s"),
            Some(&Values::Text(vec![
                Some("x".into()),
                None,
                Some("y".into())
            ]))
        );
        let Some(Values::Float(gap)) = t.column("gap") else {
            panic!("integers with a gap are floats")
        };
        assert!(gap[1].is_nan() && gap[0] == 1.0);
        assert_eq!(
            t.column("mixed"),
            Some(&Values::Text(vec![
                Some("1".into()),
                Some("a".into()),
                Some("true".into())
            ]))
        );
        assert_eq!(t.rows(), 3);
    }
}
