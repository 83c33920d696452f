//! The prediction log on PostgreSQL: the insert, PostgreSQL's own; the rest is
//! [`crate::sql::predictions`].

use cairn_core::predictions::PredictionRecord;

use super::exec::pg_read;
use super::PgStore;
use crate::sql::predictions::prediction_store;
use crate::Result;

prediction_store!(PgStore, pg_read);

/// The batch by column, one array per `cairn_predictions` column.
type Columns<'a> = (
    Vec<&'a str>,
    Vec<i32>,
    Vec<&'a str>,
    Vec<i32>,
    Vec<Option<&'a str>>,
    Vec<Option<&'a str>>,
    Vec<i64>,
    Vec<String>,
    Vec<String>,
    Vec<bool>,
);

impl PgStore {
    /// PostgreSQL's override of the append: one statement for the whole batch, the
    /// columns sent as arrays (`UNNEST`), so a batch costs one round trip.
    async fn insert_predictions(&self, records: &[PredictionRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut cols: Columns<'_> = Default::default();
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
            cols.9.push(r.shadow);
        }
        sqlx::query(
            "INSERT INTO cairn_predictions (request_id, row_index, model_name, model_version, \
             alias, entity_id, timestamp_ms, inputs, outputs, shadow) \
             SELECT * FROM UNNEST($1::TEXT[], $2::INT[], $3::TEXT[], $4::INT[], $5::TEXT[], \
             $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::BOOLEAN[])",
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
        .bind(&cols.9)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
