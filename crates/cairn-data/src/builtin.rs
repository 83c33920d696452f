//! Data sets inside the binary, readable as a view's `source: builtin:NAME`, so the
//! examples run with nothing to download.
//!
//! `winequality`: the 1,599 red wines of the UCI Wine Quality set that
//! linfa-datasets carries (and `cairn train`'s built-in `wine_is_high_quality`
//! reads): `wine_id` (the row's position), the 11 measurements (names with
//! underscores for spaces), `quality` (0 to 10) and `is_high_quality` (above 6).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, SessionContext};

use crate::{DataError, Result};

/// The names `builtin:` accepts.
pub const NAMES: &[&str] = &["winequality"];

/// The built-in set `name` as a DataFrame.
pub(crate) fn open(ctx: &SessionContext, name: &str) -> Result<DataFrame> {
    let batch = match name {
        "winequality" => winequality()?,
        other => {
            return Err(DataError::Source(format!(
                "builtin:{other}: no such data set (cairn has {})",
                NAMES.join(", ")
            )))
        }
    };
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])
        .map_err(|e| DataError::Source(e.to_string()))?;
    ctx.read_table(Arc::new(table))
        .map_err(|e| DataError::Source(e.to_string()))
}

fn winequality() -> Result<RecordBatch> {
    let ds = linfa_datasets::winequality();
    let records = ds.records();
    let n = records.nrows();
    let mut fields = vec![Field::new("wine_id", DataType::Int64, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(0..n as i64))];
    for (j, name) in ds.feature_names().iter().enumerate() {
        fields.push(Field::new(name.replace(' ', "_"), DataType::Float64, false));
        columns.push(Arc::new(Float64Array::from_iter_values(
            records.column(j).iter().copied(),
        )));
    }
    let quality: Vec<i64> = ds.targets().iter().map(|&q| q as i64).collect();
    let high: BooleanArray = quality.iter().map(|&q| Some(q > 6)).collect();
    fields.push(Field::new("quality", DataType::Int64, false));
    columns.push(Arc::new(Int64Array::from(quality)));
    fields.push(Field::new("is_high_quality", DataType::Boolean, false));
    columns.push(Arc::new(high));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| DataError::Source(e.to_string()))
}
