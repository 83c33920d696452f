//! The prediction log, written once for both stores: its search, and the
//! [`PredictionStore`](crate::PredictionStore) implementation. Appending is each
//! backend's own (`insert_predictions`): SQLite runs one cached statement per record
//! on its writer thread, PostgreSQL sends the batch as arrays in one `UNNEST`.

use cairn_core::predictions::{PredictionRecord, PredictionSearch, RecordTruth};

use super::exec::{Cols, Exec};
use crate::shared::{json_column, PREDICTION_COLUMNS};
use crate::Result;

/// One row: the id (the page cursor), then [`PREDICTION_COLUMNS`], then the entity's
/// ground truth (label, value), NULL where none was logged.
fn record(row: &dyn Cols) -> Result<(i64, PredictionRecord)> {
    let (label, value) = (row.opt_text(11)?, row.opt_real(12)?);
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
            shadow: row.boolean(10)?,
            ground_truth: (label.is_some() || value.is_some())
                .then_some(RecordTruth { label, value }),
        },
    ))
}

pub(crate) async fn search<E: Exec>(
    ex: &mut E,
    s: &PredictionSearch,
) -> Result<Vec<(i64, PredictionRecord)>> {
    let sql = ex
        .sql(&format!(
            "SELECT p.id, {columns}, g.label, g.value FROM cairn_predictions p \
             LEFT JOIN cairn_ground_truth g \
             ON g.model_name = p.model_name AND g.entity_id = p.entity_id \
             WHERE p.model_name = ?1 AND (?2 IS NULL OR p.model_version = ?2) \
             AND (?3 IS NULL OR p.entity_id = ?3) AND (?4 IS NULL OR p.request_id = ?4) \
             AND p.id > ?5 AND (?7 IS NULL OR p.shadow = (?7 = 1)) \
             AND (?8 IS NULL OR p.alias = ?8) \
             AND (?9 IS NULL OR p.timestamp_ms >= ?9) AND (?10 IS NULL OR p.timestamp_ms < ?10) \
             ORDER BY p.id LIMIT ?6",
            columns = PREDICTION_COLUMNS
                .split(',')
                .map(|c| format!("p.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .arg(s.model_name.as_str())
        .arg(s.model_version)
        .arg(&s.entity_id)
        .arg(&s.request_id)
        .arg(s.after_id.unwrap_or(0))
        .arg(s.max_results)
        .arg(s.shadow.map(i64::from))
        .arg(&s.alias)
        .arg(s.since_ms)
        .arg(s.until_ms);
    ex.fetch(&sql, record).await
}

/// Implements [`PredictionStore`](crate::PredictionStore) for a store with a
/// `$read` macro (see `lite_read`, `pg_read`) and an `insert_predictions` method.
macro_rules! prediction_store {
    ($store:ty, $read:ident) => {
        #[async_trait::async_trait]
        impl $crate::PredictionStore for $store {
            async fn log_predictions(
                &self,
                records: &[cairn_core::predictions::PredictionRecord],
            ) -> $crate::Result<()> {
                self.insert_predictions(records).await
            }

            async fn search_predictions(
                &self,
                search: &cairn_core::predictions::PredictionSearch,
            ) -> $crate::Result<Vec<(i64, cairn_core::predictions::PredictionRecord)>> {
                let s = search.clone();
                $read!(self, |ex| $crate::sql::predictions::search(ex, &s).await)
            }
        }
    };
}
pub(crate) use prediction_store;
