//! Running statements: binding [`Sql`] values, reading columns whatever integer width
//! MLflow gave them (`integer` and `bigint` both), and write transactions that are
//! retried when PostgreSQL asks.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::Postgres;

use crate::sql::{Bind, Sql};
use crate::StoreError;

/// The statement with its values bound.
pub(crate) fn query(sql: &Sql) -> Query<'_, Postgres, PgArguments> {
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
