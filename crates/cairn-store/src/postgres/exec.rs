//! Running statements: binding [`Sql`] values, reading columns whatever integer width
//! MLflow gave them (`integer` and `bigint` both), and write transactions that are
//! retried when PostgreSQL asks.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row, TypeInfo, ValueRef};

use crate::sql::exec::{Cols, Exec};
use crate::sql::{Bind, Dialect, Sql};
use crate::{Result, StoreError};

/// The statement with its values bound.
pub(super) fn query(sql: &Sql) -> Query<'_, Postgres, PgArguments> {
    let mut q = sqlx::query(&sql.text);
    for b in &sql.params {
        q = match b {
            Bind::Int(v) => q.bind(*v),
            Bind::Real(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
            Bind::Bool(v) => q.bind(*v),
            Bind::NullInt => q.bind(None::<i64>),
            Bind::NullReal => q.bind(None::<f64>),
            Bind::NullText => q.bind(None::<String>),
            Bind::Texts(v) => q.bind(v.as_slice()),
            Bind::Ints(v) => q.bind(v.as_slice()),
        };
    }
    q
}

impl Cols for PgRow {
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        let raw = self.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(None);
        }
        let width = raw.type_info().name().to_string();
        Ok(Some(match width.as_str() {
            "INT2" => self.try_get::<i16, _>(i)? as i64,
            "INT4" => self.try_get::<i32, _>(i)? as i64,
            _ => self.try_get::<i64, _>(i)?,
        }))
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get::<Option<String>, _>(i)?)
    }

    fn opt_real(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.try_get::<Option<f64>, _>(i)?)
    }

    fn boolean(&self, i: usize) -> Result<bool> {
        Ok(self.try_get::<bool, _>(i)?)
    }

    fn null_at(&self, i: usize) -> StoreError {
        StoreError::Postgres(sqlx::Error::ColumnDecode {
            index: i.to_string(),
            source: "unexpected NULL".into(),
        })
    }
}

/// A connection or transaction as the shared scripts' executor.
impl Exec for PgConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&mut self, sql: &Sql) -> Result<u64> {
        Ok(query(sql).execute(&mut *self).await?.rows_affected())
    }

    async fn fetch<T>(
        &mut self,
        sql: &Sql,
        mut f: impl FnMut(&dyn Cols) -> Result<T>,
    ) -> Result<Vec<T>> {
        let rows = query(sql).fetch_all(&mut *self).await?;
        rows.iter().map(|r| f(r)).collect()
    }
}

/// SQLSTATEs after which the whole transaction is worth running again: a
/// serialization failure or a deadlock PostgreSQL broke by aborting us.
fn is_retryable(e: &StoreError) -> bool {
    match e {
        StoreError::Postgres(sqlx::Error::Database(d)) => {
            matches!(d.code().as_deref(), Some("40001" | "40P01"))
        }
        StoreError::Postgres(e) => super::is_transient(e),
        _ => false,
    }
}

/// How often a write transaction is attempted before its error is returned.
pub(super) const WRITE_ATTEMPTS: u32 = 5;

/// Whether attempt `attempt` (0-based) failing with `e` should be followed by another,
/// after a short pause that grows with each attempt.
pub(super) async fn retry_after(e: &StoreError, attempt: u32) -> bool {
    if attempt + 1 >= WRITE_ATTEMPTS || !is_retryable(e) {
        return false;
    }
    tracing::warn!(error = %e, attempt, "PostgreSQL asked for a retry; running the write again");
    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
    true
}

/// Runs `$body` (an expression using the connection bound to `$conn`) in a write
/// transaction on `$pool`, committing on success and running it again from the start
/// on a deadlock, a serialization failure or a lost connection. A macro rather than a
/// function taking a closure: the body borrows the transaction across awaits.
macro_rules! write_tx {
    ($pool:expr, |$conn:ident| $body:expr) => {{
        let mut attempt = 0u32;
        loop {
            let outcome: $crate::Result<_> = async {
                let mut tx = $pool.begin().await?;
                let value = {
                    let $conn: &mut sqlx::PgConnection = &mut *tx;
                    $body
                }?;
                tx.commit().await?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(e) if $crate::postgres::exec::retry_after(&e, attempt).await => attempt += 1,
                other => break other,
            }
        }
    }};
}
pub(super) use write_tx;

/// Runs `$body` (an expression over the executor `$ex`, awaiting a shared script) on
/// a pooled connection.
macro_rules! pg_read {
    ($store:expr, |$ex:ident| $body:expr) => {{
        let mut conn = $store.pool.acquire().await?;
        let $ex: &mut sqlx::PgConnection = &mut conn;
        $body
    }};
}
pub(crate) use pg_read;

/// As [`pg_read`], in a write transaction run again on a deadlock ([`write_tx`]).
macro_rules! pg_write {
    ($store:expr, |$ex:ident| $body:expr) => {
        $crate::postgres::exec::write_tx!($store.pool, |$ex| $body)
    };
}
pub(crate) use pg_write;
