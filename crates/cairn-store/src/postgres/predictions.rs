//! The prediction log on PostgreSQL.

use super::exec::Cols;
use super::PgStore;
use crate::error::StoreError;
use crate::shared::{json_column, PREDICTION_COLUMNS};
use crate::{PredictionStore, Result};
use async_trait::async_trait;
use cairn_core::predictions::{PredictionRecord, PredictionSearch};

#[async_trait]
impl PredictionStore for PgStore {
    async fn log_predictions(&self, records: &[PredictionRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch: the columns go as arrays.
        let mut cols: (
            Vec<&str>,
            Vec<i32>,
            Vec<&str>,
            Vec<i32>,
            Vec<Option<&str>>,
            Vec<Option<&str>>,
            Vec<i64>,
            Vec<String>,
            Vec<String>,
        ) = Default::default();
        for r in records {
            cols.0.push(&r.request_id);
            cols.1.push(i32::try_from(r.row_index).unwrap_or(i32::MAX));
            cols.2.push(&r.model_name);
            cols.3
                .push(i32::try_from(r.model_version).unwrap_or(i32::MAX));
            cols.4.push(r.alias.as_deref());
            cols.5.push(r.entity_id.as_deref());
            cols.6.push(r.timestamp_ms);
            cols.7.push(r.inputs.to_string());
            cols.8.push(r.outputs.to_string());
        }
        sqlx::query(
            "INSERT INTO cairn_predictions (request_id, row_index, model_name, model_version, \
             alias, entity_id, timestamp_ms, inputs, outputs) \
             SELECT * FROM UNNEST($1::TEXT[], $2::INT[], $3::TEXT[], $4::INT[], $5::TEXT[], \
             $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[])",
        )
        .bind(&cols.0)
        .bind(&cols.1)
        .bind(&cols.2)
        .bind(&cols.3)
        .bind(&cols.4)
        .bind(&cols.5)
        .bind(&cols.6)
        .bind(&cols.7)
        .bind(&cols.8)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn search_predictions(
        &self,
        search: &PredictionSearch,
    ) -> Result<Vec<(i64, PredictionRecord)>> {
        let sql = format!(
            "SELECT id, {PREDICTION_COLUMNS} FROM cairn_predictions \
             WHERE model_name = $1 AND ($2::INT IS NULL OR model_version = $2) \
             AND ($3::TEXT IS NULL OR entity_id = $3) AND ($4::TEXT IS NULL OR request_id = $4) \
             AND id > $5 ORDER BY id LIMIT $6"
        );
        let rows = sqlx::query(&sql)
            .bind(&search.model_name)
            .bind(
                search
                    .model_version
                    .map(|v| i32::try_from(v).unwrap_or(i32::MAX)),
            )
            .bind(&search.entity_id)
            .bind(&search.request_id)
            .bind(search.after_id.unwrap_or(0))
            .bind(search.max_results)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let json = |i: usize| row.text(i).map(json_column);
                Ok((
                    row.int(0)?,
                    PredictionRecord {
                        request_id: row.text(1)?,
                        row_index: row.int(2)?,
                        model_name: row.text(3)?,
                        model_version: row.int(4)?,
                        alias: row.opt_text(5)?,
                        entity_id: row.opt_text(6)?,
                        timestamp_ms: row.int(7)?,
                        inputs: json(8)?,
                        outputs: json(9)?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()
    }
}
