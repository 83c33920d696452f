//! SQLite backend: MLflow's tables in one database file, in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so writers queue in cairn
//! instead of racing for SQLite's lock: a client never sees "database is locked".
//! Reads use their own pool and, thanks to WAL, never wait for the writer.

mod search;
mod tracking;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use crate::schema::{self, ALEMBIC_HEAD, MLFLOW_VERSION};
use crate::{Result, StoreError};

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    default_artifact_root: String,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, as written after `sqlite://`
    /// in a URI: `/rel.db` is relative, `//abs.db` absolute, as in SQLAlchemy URIs.
    pub async fn open(path: &str, default_artifact_root: &str) -> Result<Self> {
        let file = path.strip_prefix('/').unwrap_or(path);
        if file.is_empty() || file == ":memory:" {
            return Err(StoreError::UnsupportedUri(format!(
                "sqlite://{path}: cairn needs a database file, not an in-memory database"
            )));
        }
        if let Some(parent) = Path::new(file).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode loses nothing on a process crash (kill -9), only on power loss.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(false)
            .pragma("case_sensitive_like", "ON")
            .pragma("cache_size", "-16000");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.read_only(true))
            .await?;
        let store = SqliteStore {
            writer,
            reader,
            default_artifact_root: default_artifact_root.to_string(),
        };
        store.ensure_schema().await?;
        Ok(store)
    }

    /// Creates MLflow's schema on an empty database, or checks the revision of an
    /// existing one; then makes sure experiment 0 and cairn's indexes exist.
    async fn ensure_schema(&self) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(&mut *tx)
        .await?;
        if tables.is_empty() {
            for stmt in schema::statements(schema::SQLITE_MLFLOW_DDL) {
                sqlx::query(sqlx::AssertSqlSafe(stmt.to_string()))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT INTO alembic_version (version_num) VALUES (?)")
                .bind(ALEMBIC_HEAD)
                .execute(&mut *tx)
                .await?;
            tracing::info!(revision = ALEMBIC_HEAD, "created MLflow's schema");
        } else if !tables.iter().any(|t| t == "alembic_version") {
            return Err(StoreError::NotMlflowDatabase(format!(
                "found tables {}",
                tables
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        } else {
            let found: Option<String> =
                sqlx::query_scalar("SELECT version_num FROM alembic_version")
                    .fetch_optional(&mut *tx)
                    .await?;
            let found = found.unwrap_or_default();
            if found != ALEMBIC_HEAD {
                return Err(StoreError::SchemaRevision {
                    found,
                    supported: ALEMBIC_HEAD,
                    mlflow_version: MLFLOW_VERSION,
                });
            }
        }
        for stmt in schema::SQLITE_CAIRN_DDL {
            sqlx::query(sqlx::AssertSqlSafe(stmt.to_string()))
                .execute(&mut *tx)
                .await?;
        }
        let has_default: Option<i64> =
            sqlx::query_scalar("SELECT experiment_id FROM experiments WHERE experiment_id = 0")
                .fetch_optional(&mut *tx)
                .await?;
        if has_default.is_none() {
            let now = now_ms();
            sqlx::query(
                "INSERT INTO experiments (experiment_id, name, artifact_location, \
                 lifecycle_stage, creation_time, last_update_time, workspace) \
                 VALUES (0, 'Default', ?, 'active', ?, ?, 'default')",
            )
            .bind(join_uri(&self.default_artifact_root, "0"))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Appends a path segment to a URI the way MLflow's `append_to_uri_path` does.
pub(crate) fn join_uri(root: &str, segment: &str) -> String {
    if root.ends_with('/') {
        format!("{root}{segment}")
    } else {
        format!("{root}/{segment}")
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads an optional text column that older MLflow rows may hold as NULL.
pub(crate) fn text(row: &sqlx::sqlite::SqliteRow, col: &str) -> Result<String> {
    Ok(row.try_get::<Option<String>, _>(col)?.unwrap_or_default())
}
