//! PostgreSQL: MLflow's schema on a server database, through sqlx.
//!
//! This module owns connecting (a pool, with retries while the server comes up) and
//! the schema: creating MLflow 3.17.2's tables on an empty database, or checking the
//! revision of one `mlflow db upgrade` made. Several cairn replicas may start at once
//! against one database, so schema creation runs under a transaction-scoped advisory
//! lock: one replica creates, the others wait and then find it made.
//!
//! Unlike SQLite there is no single writer here: any number of replicas write at
//! once, so each write is a transaction that locks what it depends on (see
//! `sql/registry.rs`) and is run again when PostgreSQL aborts it for a deadlock.
//!
//! The statements both stores share are written once in [`crate::sql`]; this module
//! runs them on the pool ([`exec::pg_read`], [`exec::pg_write`]) and keeps
//! PostgreSQL's own log-batch and prediction insert (`UNNEST` over arrays).

pub(crate) mod exec;
mod predictions;
mod tracking;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool, Row};

use exec::{pg_read, pg_write};

use crate::schema::{self, ALEMBIC_HEAD};
use crate::{Result, SchemaState, StoreError};

/// The advisory-lock key cairn holds while it creates or checks the schema
/// (an arbitrary constant: "cairn" in ASCII).
const SCHEMA_LOCK_KEY: i64 = 0x63_61_69_72_6e;

/// How long a start waits for the database to answer before giving up.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);

crate::sql::logged_models::logged_model_store!(PgStore, pg_read, pg_write);
crate::sql::registry::registry_store!(PgStore, pg_read, pg_write);
crate::sql::jobs::job_store!(PgStore, pg_read, pg_write);
crate::sql::monitor::monitor_store!(PgStore, pg_read, pg_write);
crate::sql::data::data_check_store!(PgStore, pg_read, pg_write);

/// The tracking and registry store on one connection pool.
pub struct PgStore {
    pool: PgPool,
    default_artifact_root: String,
}

impl PgStore {
    /// Connects with a pool of at most `max_connections`, then creates MLflow's schema
    /// on an empty database or checks the revision of an existing one.
    pub async fn open(
        uri: &str,
        default_artifact_root: &str,
        max_connections: u32,
    ) -> Result<Self> {
        let pool = connect(uri, max_connections).await?;
        ensure_schema(&pool, default_artifact_root).await?;
        Ok(PgStore {
            pool,
            default_artifact_root: default_artifact_root.to_string(),
        })
    }
}

/// `postgresql://`, `postgres://` and SQLAlchemy's `postgresql+<driver>://` spellings.
pub(crate) fn is_postgres_uri(uri: &str) -> bool {
    normalize_uri(uri).is_some()
}

fn normalize_uri(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let base = scheme.split('+').next().unwrap_or(scheme);
    matches!(base, "postgresql" | "postgres").then(|| format!("postgresql://{rest}"))
}

fn options(uri: &str) -> Result<PgConnectOptions> {
    let normalized = normalize_uri(uri)
        .ok_or_else(|| StoreError::UnsupportedUri(cairn_core::secret::redact(uri)))?;
    normalized.parse::<PgConnectOptions>().map_err(|e| {
        StoreError::UnsupportedUri(format!("{}: {e}", cairn_core::secret::redact(uri)))
    })
}

/// A pool of at most `max_connections`, after the server has answered once. A server
/// that is still starting is retried for [`CONNECT_PATIENCE`]; a wrong password or
/// database name fails at once.
pub(crate) async fn connect(uri: &str, max_connections: u32) -> Result<PgPool> {
    let opts = options(uri)?;
    let deadline = tokio::time::Instant::now() + CONNECT_PATIENCE;
    let mut wait = Duration::from_millis(100);
    loop {
        match sqlx::PgConnection::connect_with(&opts).await {
            Ok(conn) => {
                let _ = conn.close().await;
                break;
            }
            Err(e) if is_transient(&e) && tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "PostgreSQL is not answering yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(30))
        // A connection the server dropped is noticed and replaced, not handed out.
        .test_before_acquire(true)
        .connect_lazy_with(opts))
}

/// Errors worth retrying: the server is not (yet, or no longer) reachable.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
    ) || matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
}

/// What the database holds, read without changing anything.
pub(crate) async fn schema_state(pool: &PgPool) -> Result<SchemaState> {
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    if let Some(state) = SchemaState::from_tables(&tables) {
        return Ok(state);
    }
    let found: Option<String> = sqlx::query_scalar("SELECT version_num FROM alembic_version")
        .fetch_optional(pool)
        .await?;
    Ok(SchemaState::at_revision(found))
}

/// Creates MLflow's schema on an empty database, or checks the revision of an
/// existing one; then makes sure experiment 0 exists. One transaction, under the
/// schema lock.
pub(crate) async fn ensure_schema(pool: &PgPool, default_artifact_root: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SCHEMA_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(&mut *tx)
    .await?;
    if tables == 0 {
        sqlx::raw_sql(schema::POSTGRES_MLFLOW_DDL)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO alembic_version (version_num) VALUES ($1)")
            .bind(ALEMBIC_HEAD)
            .execute(&mut *tx)
            .await?;
        tracing::info!(
            revision = ALEMBIC_HEAD,
            "created MLflow's schema on PostgreSQL"
        );
    } else {
        let has_alembic: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'alembic_version')",
        )
        .fetch_one(&mut *tx)
        .await?;
        if !has_alembic {
            return Err(StoreError::NotMlflowDatabase(format!(
                "{tables} tables in the current schema, none of them alembic_version"
            )));
        }
        let found: Option<String> = sqlx::query_scalar("SELECT version_num FROM alembic_version")
            .fetch_optional(&mut *tx)
            .await?;
        schema::require_head(found)?;
    }
    for stmt in schema::POSTGRES_CAIRN_DDL {
        sqlx::query(stmt).execute(&mut *tx).await?;
    }
    for stmt in crate::sql::jobs::ddl(crate::sql::Dialect::Postgres)
        .into_iter()
        .chain(crate::sql::monitor::ddl(crate::sql::Dialect::Postgres))
        .chain(crate::sql::data::ddl(crate::sql::Dialect::Postgres))
    {
        sqlx::query(&stmt).execute(&mut *tx).await?;
    }
    // MLflow's own store inserts experiment 0 with an explicit id; the sequence is
    // left alone, as MLflow leaves it (its first id is 1).
    let now = crate::shared::now_ms();
    sqlx::query(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
         creation_time, last_update_time, workspace) \
         VALUES (0, 'Default', $1, 'active', $2, $2, 'default') ON CONFLICT DO NOTHING",
    )
    .bind(crate::shared::join_uri(default_artifact_root, "0"))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_in_every_spelling_mlflow_users_write() {
        assert!(is_postgres_uri("postgresql://u@h:5432/db"));
        assert!(is_postgres_uri("postgres://u:p@h/db"));
        assert!(is_postgres_uri("postgresql+psycopg2://u@h/db"));
        assert!(!is_postgres_uri("sqlite:///x.db"));
        assert!(!is_postgres_uri("mysql://u@h/db"));
        assert!(options("postgresql+psycopg://root@127.0.0.1:5432/test").is_ok());
    }
}
