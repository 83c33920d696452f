//! The prediction log on SQLite.

use async_trait::async_trait;
use cairn_core::predictions::{PredictionRecord, PredictionSearch};
use rusqlite::{params, Row};

use super::SqliteStore;
use crate::shared::{json_column, PREDICTION_COLUMNS};
use crate::{PredictionStore, Result};

#[async_trait]
impl PredictionStore for SqliteStore {
    async fn log_predictions(&self, records: &[PredictionRecord]) -> Result<()> {
        let rows: Vec<(PredictionRecord, String, String)> = records
            .iter()
            .map(|r| (r.clone(), r.inputs.to_string(), r.outputs.to_string()))
            .collect();
        self.writer
            .run(move |conn| {
                let mut insert = conn.prepare_cached(
                    "INSERT INTO cairn_predictions (request_id, row_index, model_name, \
                     model_version, alias, entity_id, timestamp_ms, inputs, outputs) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
                        outputs
                    ])?;
                }
                Ok(())
            })
            .await
    }

    async fn search_predictions(
        &self,
        search: &PredictionSearch,
    ) -> Result<Vec<(i64, PredictionRecord)>> {
        let s = search.clone();
        self.readers
            .run(move |conn| {
                let sql = format!(
                    "SELECT id, {PREDICTION_COLUMNS} FROM cairn_predictions \
                     WHERE model_name = ?1 AND (?2 IS NULL OR model_version = ?2) \
                     AND (?3 IS NULL OR entity_id = ?3) AND (?4 IS NULL OR request_id = ?4) \
                     AND id > ?5 ORDER BY id LIMIT ?6"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map(
                    params![
                        s.model_name,
                        s.model_version,
                        s.entity_id,
                        s.request_id,
                        s.after_id.unwrap_or(0),
                        s.max_results
                    ],
                    record,
                )?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }
}

fn record(row: &Row<'_>) -> rusqlite::Result<(i64, PredictionRecord)> {
    let json = |i: usize| row.get::<_, String>(i).map(json_column);
    Ok((
        row.get(0)?,
        PredictionRecord {
            request_id: row.get(1)?,
            row_index: row.get(2)?,
            model_name: row.get(3)?,
            model_version: row.get(4)?,
            alias: row.get(5)?,
            entity_id: row.get(6)?,
            timestamp_ms: row.get(7)?,
            inputs: json(8)?,
            outputs: json(9)?,
        },
    ))
}
