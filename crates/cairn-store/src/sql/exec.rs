//! One executor over both drivers, so a transaction script is written once.
//!
//! SQLite runs through `rusqlite` (synchronous, on the writer thread or a reader's
//! blocking thread), PostgreSQL through `sqlx` (asynchronous). Scripts are `async fn`s
//! generic over [`Exec`]: on PostgreSQL they await the network; on SQLite every
//! statement is done when its future is first polled, so [`ready`] runs a whole
//! script to its end in one poll, in the thread that owns the connection.
//!
//! Rows come to a script as [`Cols`], one column reader for both drivers.

use std::collections::HashMap;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use cairn_core::entities::{KeyValue, Page};
use cairn_core::{page_token, MlflowError};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row, TypeInfo, ValueRef};

use super::{Dialect, Sql};
use crate::{Result, StoreError};

/// Column access by position. MLflow's schema mixes `integer` and `bigint` on
/// PostgreSQL (SQLite has one integer); the API speaks i64 for all.
pub(crate) trait Cols {
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn opt_real(&self, i: usize) -> Result<Option<f64>>;
    fn boolean(&self, i: usize) -> Result<bool>;
    /// The error for a NULL where the schema promises a value.
    fn null_at(&self, i: usize) -> StoreError;

    fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| self.null_at(i))
    }

    fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| self.null_at(i))
    }

    /// A nullable text column read as `""` when NULL, as MLflow's entities do.
    fn text_or_empty(&self, i: usize) -> Result<String> {
        Ok(self.opt_text(i)?.unwrap_or_default())
    }
}

/// A connection (or transaction) a script runs its statements on.
///
/// The futures are not `Send`-bounded here: SQLite's never leave their thread, and
/// PostgreSQL's are `Send` by their concrete type where the store awaits them.
pub(crate) trait Exec {
    fn dialect(&self) -> Dialect;

    /// A statement in the `?N` notation, in this connection's dialect.
    fn sql(&self, text: &str) -> Sql {
        Sql::new(self.dialect(), text)
    }

    /// Runs a statement; the number of rows it changed.
    async fn execute(&mut self, sql: &Sql) -> Result<u64>;

    /// Every row of a query, each read by `f`.
    async fn fetch<T>(
        &mut self,
        sql: &Sql,
        f: impl FnMut(&dyn Cols) -> Result<T>,
    ) -> Result<Vec<T>>;

    /// The first row, if any.
    async fn fetch_optional<T>(
        &mut self,
        sql: &Sql,
        f: impl FnMut(&dyn Cols) -> Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.fetch(sql, f).await?.into_iter().next())
    }
}

/// Runs a script over a synchronous connection to its end. Such a script never
/// waits (every statement of SQLite's [`Exec`] completes in place), so one poll
/// finishes it; a pending one would be a bug, reported rather than spun on.
pub(crate) fn ready<T>(script: impl Future<Output = Result<T>>) -> Result<T> {
    let mut script = std::pin::pin!(script);
    match script
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => Err(MlflowError::internal("a SQLite script waited on something").into()),
    }
}

/// `(owner, key, value)` rows grouped by owner, in row order: the tag and param
/// tables of every entity read this way.
pub(crate) async fn key_values<E: Exec>(
    ex: &mut E,
    sql: &Sql,
) -> Result<HashMap<String, Vec<KeyValue>>> {
    let mut grouped: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for (owner, kv) in ex
        .fetch(sql, |r| {
            Ok((r.text(0)?, KeyValue::new(r.text(1)?, r.text_or_empty(2)?)))
        })
        .await?
    {
        grouped.entry(owner).or_default().push(kv);
    }
    Ok(grouped)
}

/// A search's page query, run with one row more than the page (see
/// [`Sql::push_page`]); the page and whether another follows.
pub(crate) async fn fetch_page<E: Exec, T>(
    ex: &mut E,
    sql: &Sql,
    max_results: u64,
    f: impl FnMut(&dyn Cols) -> Result<T>,
) -> Result<(Vec<T>, bool)> {
    let mut items = ex.fetch(sql, f).await?;
    let has_more = items.len() as u64 > max_results;
    items.truncate(max_results as usize);
    Ok((items, has_more))
}

/// The page with its next-page token.
pub(crate) fn page<T>(items: Vec<T>, offset: u64, max_results: u64, has_more: bool) -> Page<T> {
    let next_page_token = page_token::next(offset, items.len(), max_results, has_more);
    Page {
        items,
        next_page_token,
    }
}

// The two drivers. SQLite's rows are read in place (no copy of a row); PostgreSQL's
// integer columns are read whatever width MLflow gave them.

/// A connection as the shared scripts' executor: each statement runs (and is done)
/// when its future is first polled; see [`crate::sql::exec::ready`].
pub(crate) struct Lite<'c>(pub &'c rusqlite::Connection);

impl Exec for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, sql: &Sql) -> Result<u64> {
        let mut stmt = self.0.prepare_cached(&sql.text)?;
        Ok(stmt.execute(rusqlite::params_from_iter(sql.params.iter()))? as u64)
    }

    async fn fetch<T>(
        &mut self,
        sql: &Sql,
        mut f: impl FnMut(&dyn Cols) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.0.prepare_cached(&sql.text)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(sql.params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(f(row)?);
        }
        Ok(out)
    }
}

impl Cols for rusqlite::Row<'_> {
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }

    fn opt_real(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.get(i)?)
    }

    fn boolean(&self, i: usize) -> Result<bool> {
        Ok(self.get(i)?)
    }

    fn null_at(&self, i: usize) -> StoreError {
        rusqlite::Error::InvalidColumnType(i, "NULL".into(), rusqlite::types::Type::Null).into()
    }
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
        Ok(crate::postgres::exec::query(sql)
            .execute(&mut *self)
            .await?
            .rows_affected())
    }

    async fn fetch<T>(
        &mut self,
        sql: &Sql,
        mut f: impl FnMut(&dyn Cols) -> Result<T>,
    ) -> Result<Vec<T>> {
        let rows = crate::postgres::exec::query(sql)
            .fetch_all(&mut *self)
            .await?;
        rows.iter().map(|r| f(r)).collect()
    }
}
