//! PostgreSQL's own part of [`TrackingStore`](crate::TrackingStore): the log-batch
//! write, an override of its own, and the pool's gauges. The rest is written once in
//! [`crate::sql::tracking`].
//!
//! Every write is one transaction (see [`write_tx`]). A batch reaches the server as
//! arrays (`UNNEST`), one statement per table, so a log-batch of 1,000 points is a
//! handful of round trips however large it is.

use std::collections::HashMap;

use cairn_core::entities::{KeyValue, Metric};
use sqlx::PgConnection;

use super::exec::{pg_read, pg_write, write_tx};
use super::PgStore;
use crate::shared::{latest_per_key, param_changed, sanitize};
use crate::sql::exec::Cols;
use crate::sql::tracking;
use crate::Result;

tracking::tracking_store!(PgStore, pg_read, pg_write);

/// PostgreSQL's override of the log-batch write: each table's rows in one statement
/// over arrays, and params compared after the insert, so a value another replica
/// logged first is seen too.
async fn log_batch(
    conn: &mut PgConnection,
    run_id: &str,
    metrics: &[Metric],
    params: &[KeyValue],
    tags: &[KeyValue],
) -> Result<()> {
    if !params.is_empty() {
        // Insert what is new, then compare every requested key with what the table
        // holds: a value another writer logged first is seen here too.
        let keys: Vec<&str> = params.iter().map(|p| p.key.as_str()).collect();
        let values: Vec<&str> = params.iter().map(|p| p.value.as_str()).collect();
        sqlx::query(
            "INSERT INTO params (\"key\", value, run_uuid) \
             SELECT k, v, $3 FROM UNNEST($1::text[], $2::text[]) AS p(k, v) \
             ON CONFLICT (\"key\", run_uuid) DO NOTHING",
        )
        .bind(&keys)
        .bind(&values)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
        let rows = sqlx::query(
            "SELECT \"key\", value FROM params WHERE run_uuid = $1 AND \"key\" = ANY($2)",
        )
        .bind(run_id)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await?;
        let stored: HashMap<String, String> = rows
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect::<Result<_>>()?;
        for p in params {
            if let Some(old) = stored.get(&p.key) {
                if *old != p.value {
                    return Err(param_changed(&p.key, old, run_id, &p.value));
                }
            }
        }
    }
    if !metrics.is_empty() {
        let n = metrics.len();
        let (mut keys, mut values, mut stamps, mut steps, mut nans) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for m in metrics {
            let (value, is_nan) = sanitize(m.value);
            keys.push(m.key.as_str());
            values.push(value);
            stamps.push(m.timestamp);
            steps.push(m.step);
            nans.push(is_nan);
        }
        sqlx::query(
            "INSERT INTO metrics (\"key\", value, timestamp, run_uuid, step, is_nan) \
             SELECT k, v, t, $6, s, n \
             FROM UNNEST($1::text[], $2::float8[], $3::int8[], $4::int8[], $5::bool[]) \
             AS m(k, v, t, s, n) ON CONFLICT DO NOTHING",
        )
        .bind(&keys)
        .bind(&values)
        .bind(&stamps)
        .bind(&steps)
        .bind(&nans)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
        let latest = latest_per_key(metrics);
        let keys: Vec<&str> = latest.iter().map(|l| l.0).collect();
        let steps: Vec<i64> = latest.iter().map(|l| l.1 .0).collect();
        let stamps: Vec<i64> = latest.iter().map(|l| l.1 .1).collect();
        let values: Vec<f64> = latest.iter().map(|l| l.1 .2).collect();
        let nans: Vec<bool> = latest.iter().map(|l| l.1 .3).collect();
        sqlx::query(
            "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) \
             SELECT k, v, t, s, n, $6 \
             FROM UNNEST($1::text[], $2::float8[], $3::int8[], $4::int8[], $5::bool[]) \
             AS m(k, v, t, s, n) \
             ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value, \
             timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan \
             WHERE (excluded.step, excluded.timestamp, excluded.value) \
             > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
        )
        .bind(&keys)
        .bind(&values)
        .bind(&stamps)
        .bind(&steps)
        .bind(&nans)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    }
    tracking::finish_batch(conn, run_id, metrics, tags).await
}

impl PgStore {
    async fn write_batch(&self, b: tracking::Batch<'_>) -> Result<()> {
        write_tx!(self.pool, |c| log_batch(
            c, b.run_id, &b.metrics, &b.params, &b.tags
        )
        .await)
    }

    fn gauges(&self) {
        let name = crate::metric_names::POSTGRES_POOL;
        let size = self.pool.size() as f64;
        let idle = self.pool.num_idle() as f64;
        metrics::gauge!(name, "state" => "idle").set(idle);
        metrics::gauge!(name, "state" => "in_use").set(size - idle);
        metrics::gauge!(name, "state" => "max")
            .set(f64::from(self.pool.options().get_max_connections()));
    }

    async fn shutdown(&self) {
        self.pool.close().await;
    }
}
