//! SQLite backend: MLflow's tables in one database file, in WAL mode, through
//! `rusqlite`.
//!
//! Writes go to one thread that owns the only writing connection ([`writer`]): writers
//! queue in cairn instead of racing for SQLite's lock, so a client never sees
//! "database is locked", and the thread commits whatever has queued up in one
//! transaction (each write in its own savepoint, so one failure touches nothing
//! else). Reads run on a small pool of read-only connections in tokio's blocking
//! threads and, thanks to WAL, never wait for the writer.
//!
//! Why not sqlx here: its SQLite driver runs every statement as a round trip to a
//! worker thread and ships rows one by one over a channel; with MLflow's many small
//! statements per request that cost 1.5-3.5x in throughput and latency (see
//! docs/benchmarks.md). PostgreSQL (issue 4), a network
//! database where a round trip costs anyway, is planned on sqlx.
//!
//! What the two stores share (every statement but SQLite's own log-batch and
//! prediction insert) is written once in [`crate::sql`]; this module owns the
//! connections and runs those scripts where they belong ([`lite_read`],
//! [`lite_write`]).

mod checkpointer;
mod predictions;
mod readers;
mod tracking;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::schema::{self, ALEMBIC_HEAD};
use crate::{Result, StoreError};

use crate::shared::{join_uri, now_ms};
use crate::sql::Bind;
use checkpointer::Checkpointer;
use readers::Readers;
use writer::Writer;

crate::sql::logged_models::logged_model_store!(SqliteStore, lite_read, lite_write);
crate::sql::registry::registry_store!(SqliteStore, lite_read, lite_write);
crate::sql::jobs::job_store!(SqliteStore, lite_read, lite_write);
crate::sql::monitor::monitor_store!(SqliteStore, lite_read, lite_write);
crate::sql::data::data_check_store!(SqliteStore, lite_read, lite_write);

pub struct SqliteStore {
    writer: Writer,
    checkpointer: std::sync::Mutex<Checkpointer>,
    readers: Readers,
    default_artifact_root: String,
}

/// Per-connection settings every connection gets.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(30))?;
    // LIKE is case-sensitive in MLflow's grammar; ILIKE is LOWER() LIKE LOWER().
    conn.pragma_update(None, "case_sensitive_like", true)?;
    conn.pragma_update(None, "cache_size", -16000)?;
    // Sort B-trees and savepoint sub-journals stay in memory, not in temp files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
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
        let file = PathBuf::from(file);
        if let Some(parent) = file.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
        let root = default_artifact_root.to_string();
        let (conn, file) = tokio::task::spawn_blocking(move || -> Result<(Connection, PathBuf)> {
            let mut conn = Connection::open(&file)?;
            configure(&conn)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // NORMAL in WAL mode loses nothing on a process crash (kill -9), only on
            // power loss; the same trade MLflow's own SQLite users get by default.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(
                None,
                "wal_autocheckpoint",
                checkpointer::WRITER_AUTOCHECKPOINT_PAGES,
            )?;
            // After a busy spell the WAL file shrinks back to at most 64 MiB.
            conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
            ensure_schema(&mut conn, &root)?;
            Ok((conn, file))
        })
        .await??;
        Ok(SqliteStore {
            checkpointer: std::sync::Mutex::new(Checkpointer::start(file.clone())?),
            writer: Writer::start(conn)?,
            readers: Readers::new(file, 4),
            default_artifact_root: default_artifact_root.to_string(),
        })
    }
}

/// The schema state of the database file at `path` (as after `sqlite://`), opened
/// read-only; a missing file is an empty database.
pub(crate) async fn schema_state(path: &str) -> Result<crate::SchemaState> {
    use crate::SchemaState;
    let file = PathBuf::from(path.strip_prefix('/').unwrap_or(path));
    if !file.exists() {
        return Ok(SchemaState::Empty);
    }
    tokio::task::spawn_blocking(move || -> Result<SchemaState> {
        let conn = Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let tables: Vec<String> = {
            let mut stmt = conn.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 ORDER BY name",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if let Some(state) = SchemaState::from_tables(&tables) {
            return Ok(state);
        }
        let found: Option<String> = conn
            .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
            .optional()?;
        Ok(SchemaState::at_revision(found))
    })
    .await?
}

fn open_reader(file: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    configure(&conn)?;
    // Readers map the file: pages come straight from the OS cache that all readers
    // share, instead of being copied into each connection's own page cache.
    conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
    Ok(conn)
}

/// Creates MLflow's schema on an empty database, or checks the revision of an existing
/// one; then makes sure experiment 0 and cairn's indexes exist. One transaction.
fn ensure_schema(conn: &mut Connection, default_artifact_root: &str) -> Result<()> {
    let tx = conn.transaction()?;
    let tables: Vec<String> = {
        let mut stmt = tx.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if tables.is_empty() {
        for stmt in schema::sqlite_create_statements() {
            tx.execute_batch(stmt)?;
        }
        tx.execute(
            "INSERT INTO alembic_version (version_num) VALUES (?1)",
            [ALEMBIC_HEAD],
        )?;
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
        let found: Option<String> = tx
            .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        schema::require_head(found)?;
    }
    for stmt in schema::SQLITE_CAIRN_DDL {
        tx.execute_batch(stmt)?;
    }
    for (table, column, definition) in schema::SQLITE_CAIRN_ADDED_COLUMNS {
        let present: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            [table, column],
            |r| r.get(0),
        )?;
        if !present {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))?;
        }
    }
    for stmt in crate::sql::jobs::ddl(crate::sql::Dialect::Sqlite)
        .into_iter()
        .chain(crate::sql::monitor::ddl(crate::sql::Dialect::Sqlite))
        .chain(crate::sql::data::ddl(crate::sql::Dialect::Sqlite))
    {
        tx.execute_batch(&stmt)?;
    }
    let has_default: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM experiments WHERE experiment_id = 0)",
        [],
        |r| r.get(0),
    )?;
    if !has_default {
        let now = now_ms();
        tx.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
             creation_time, last_update_time, workspace) \
             VALUES (0, 'Default', ?1, 'active', ?2, ?2, 'default')",
            rusqlite::params![join_uri(default_artifact_root, "0"), now],
        )?;
    }
    tx.commit()?;
    Ok(())
}

impl SqliteStore {
    /// Stops background checkpoints before the writer's final one.
    pub(crate) fn stop_checkpointer(&self) {
        if let Ok(mut c) = self.checkpointer.lock() {
            c.stop();
        }
    }
}

impl rusqlite::ToSql for Bind {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Bind::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Bind::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Bind::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Bind::Bool(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v as i64)),
            Bind::NullInt | Bind::NullReal | Bind::NullText => {
                ToSqlOutput::Borrowed(ValueRef::Null)
            }
            // `Sql::push_in` writes lists of placeholders for SQLite, never arrays.
            Bind::Texts(_) | Bind::Ints(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite takes no array values".into(),
                ))
            }
        })
    }
}

/// Runs `$body` (an expression over the executor `$ex`, awaiting a shared script)
/// through `$runner` ([`Readers`] or [`Writer`]), in the thread that owns the
/// connection. What the body uses is moved there.
macro_rules! lite_run {
    ($runner:expr, |$ex:ident| $body:expr) => {
        $runner
            .run(move |conn| {
                $crate::sql::exec::ready(async move {
                    let $ex = &mut $crate::sql::exec::Lite(conn);
                    $body
                })
            })
            .await
    };
}
pub(crate) use lite_run;

/// A script on a read connection, in a blocking thread.
macro_rules! lite_read {
    ($store:expr, |$ex:ident| $body:expr) => {
        $crate::sqlite::lite_run!($store.readers, |$ex| $body)
    };
}
pub(crate) use lite_read;

/// A script on the writer thread: the body runs in its own savepoint of the
/// group-committed transaction (see [`writer`]).
macro_rules! lite_write {
    ($store:expr, |$ex:ident| $body:expr) => {
        $crate::sqlite::lite_run!($store.writer, |$ex| $body)
    };
}
pub(crate) use lite_write;
