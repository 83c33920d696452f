//! SQLite's own part of [`TrackingStore`](crate::TrackingStore): the log-batch write,
//! an override of its own (the hot path of tracking), and closing. The rest is
//! written once in [`crate::sql::tracking`].

use cairn_core::entities::{KeyValue, Metric};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::{lite_read, lite_write, SqliteStore};
use crate::shared::{latest_per_key, param_changed, sanitize};
use crate::sql::exec::{ready, Lite};
use crate::sql::tracking;
use crate::Result;

tracking::tracking_store!(SqliteStore, lite_read, lite_write);

/// Rows per multi-row metric INSERT (6 values each, far below SQLite's bind limit).
const METRIC_ROWS_PER_INSERT: usize = 100;

fn multi_row_metric_insert(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT OR IGNORE INTO metrics (\"key\", value, timestamp, run_uuid, step, is_nan) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?)");
    }
    sql
}

/// One metric row's bound values, borrowing the strings (no copy per point).
fn metric_params<'a>(
    metrics: &'a [Metric],
    run_id: &'a str,
) -> impl Iterator<Item = rusqlite::types::ToSqlOutput<'a>> + 'a {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    metrics.iter().flat_map(move |m| {
        let (value, is_nan) = sanitize(m.value);
        [
            ToSqlOutput::Borrowed(ValueRef::Text(m.key.as_bytes())),
            ToSqlOutput::Owned(Value::Real(value)),
            ToSqlOutput::Owned(Value::Integer(m.timestamp)),
            ToSqlOutput::Borrowed(ValueRef::Text(run_id.as_bytes())),
            ToSqlOutput::Owned(Value::Integer(m.step)),
            ToSqlOutput::Owned(Value::Integer(is_nan as i64)),
        ]
    })
}

fn log_batch_sync(
    conn: &Connection,
    run_id: &str,
    metrics: &[Metric],
    params: &[KeyValue],
    tags: &[KeyValue],
) -> Result<()> {
    if !params.is_empty() {
        let mut existing =
            conn.prepare_cached("SELECT value FROM params WHERE run_uuid = ?1 AND \"key\" = ?2")?;
        let mut insert = conn
            .prepare_cached("INSERT INTO params (\"key\", value, run_uuid) VALUES (?1, ?2, ?3)")?;
        for p in params {
            let old: Option<String> = existing
                .query_row(params![run_id, p.key], |r| r.get(0))
                .optional()?;
            match old {
                Some(old) if old == p.value => {}
                Some(old) => return Err(param_changed(&p.key, &old, run_id, &p.value)),
                None => {
                    insert.execute(params![p.key, p.value, run_id])?;
                }
            }
        }
    }
    if !metrics.is_empty() {
        let latest = latest_per_key(metrics);
        // Full chunks go through one cached multi-row statement: far fewer VDBE
        // programs per point than one INSERT each.
        let mut chunks = metrics.chunks_exact(METRIC_ROWS_PER_INSERT);
        if chunks.len() > 0 {
            let mut insert =
                conn.prepare_cached(&multi_row_metric_insert(METRIC_ROWS_PER_INSERT))?;
            for chunk in &mut chunks {
                insert.execute(params_from_iter(metric_params(chunk, run_id)))?;
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut one = conn.prepare_cached(&multi_row_metric_insert(1))?;
            for m in rest {
                one.execute(params_from_iter(metric_params(
                    std::slice::from_ref(m),
                    run_id,
                )))?;
            }
        }
        let mut upsert = conn.prepare_cached(
            "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (\"key\", run_uuid) DO UPDATE SET \
             value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, \
             is_nan = excluded.is_nan WHERE (excluded.step, excluded.timestamp, excluded.value) \
             > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
        )?;
        for (key, (step, timestamp, value, is_nan)) in latest {
            upsert.execute(params![key, value, timestamp, step, is_nan, run_id])?;
        }
    }
    ready(tracking::finish_batch(
        &mut Lite(conn),
        run_id,
        metrics,
        tags,
    ))
}

impl SqliteStore {
    /// SQLite's override of the log-batch write: params checked one by one through
    /// cached statements, metrics through cached multi-row INSERTs (far fewer VDBE
    /// programs per point than one INSERT each), all on the writer thread.
    async fn write_batch(&self, b: tracking::Batch<'_>) -> Result<()> {
        let run_id = b.run_id.to_string();
        let (metrics, params, tags) = (b.metrics, b.params, b.tags);
        self.writer
            .run(move |conn| log_batch_sync(conn, &run_id, &metrics, &params, &tags))
            .await
    }

    /// SQLite keeps no pool whose state is worth a gauge; its writer queue is
    /// recorded as writes happen.
    fn gauges(&self) {}

    async fn shutdown(&self) {
        self.stop_checkpointer();
        self.readers.close();
        self.writer.close().await;
    }
}
