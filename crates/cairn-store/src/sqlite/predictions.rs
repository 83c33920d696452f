//! The prediction log on SQLite: the insert, SQLite's own (one cached statement per
//! record, on the writer thread); the rest is [`crate::sql::predictions`].

use cairn_core::predictions::PredictionRecord;
use rusqlite::params;

use super::{lite_read, SqliteStore};
use crate::sql::predictions::prediction_store;
use crate::Result;

prediction_store!(SqliteStore, lite_read);

impl SqliteStore {
    /// SQLite's override of the append: a prepared statement run per record costs
    /// less here than one statement with many rows (no round trips to save).
    async fn insert_predictions(&self, records: &[PredictionRecord]) -> Result<()> {
        let rows: Vec<(PredictionRecord, String, String)> = records
            .iter()
            .map(|r| (r.clone(), r.inputs.to_string(), r.outputs.to_string()))
            .collect();
        self.writer
            .run(move |conn| {
                let mut insert = conn.prepare_cached(
                    "INSERT INTO cairn_predictions (request_id, row_index, model_name, \
                     model_version, alias, entity_id, timestamp_ms, inputs, outputs, shadow) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                for (r, inputs, outputs) in &rows {
                    insert.execute(params![
                        r.request_id,
                        r.row_index,
                        r.model_name,
                        r.model_version,
                        r.alias,
                        r.entity_id,
                        r.timestamp_ms,
                        inputs,
                        outputs,
                        r.shadow
                    ])?;
                }
                Ok(())
            })
            .await
    }
}
