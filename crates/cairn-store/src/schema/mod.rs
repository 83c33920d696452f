//! MLflow's schema: which revision cairn speaks, and the DDL that creates it.

/// The alembic head of mlflow 3.17.2: the only revision cairn reads and writes.
pub const ALEMBIC_HEAD: &str = "dc11669786a5";
/// The MLflow release whose schema this is.
pub const MLFLOW_VERSION: &str = "3.17.2";

/// Refuses a database whose `alembic_version` holds another revision than
/// [`ALEMBIC_HEAD`] (or none): cairn reads and writes only that one.
pub(crate) fn require_head(found: Option<String>) -> crate::Result<()> {
    let found = found.unwrap_or_default();
    if found != ALEMBIC_HEAD {
        return Err(crate::StoreError::SchemaRevision {
            found,
            supported: ALEMBIC_HEAD,
            mlflow_version: MLFLOW_VERSION,
        });
    }
    Ok(())
}

/// MLflow's tables, indexes and trigger for SQLite, statements separated by `;;` lines.
pub const SQLITE_MLFLOW_DDL: &str = include_str!("sqlite_mlflow.sql");

/// MLflow's SQLite indexes that cairn leaves out of a database it creates itself.
///
/// `index_metrics_run_uuid (run_uuid)` is a prefix of MLflow's own
/// `index_metrics_run_uuid_key_step (run_uuid, key, step)`: every query it could
/// serve, the longer one serves as well, while it costs one more B-tree insert per
/// logged point on the one SQLite writer (a quarter of the index work of a
/// log-batch; see docs/benchmarks.md, issue 26). Databases that MLflow created keep
/// it (cairn never drops an index of theirs), and `mlflow server`, `mlflow db
/// upgrade` and MLflow's SQL store run on a database without it (tests/db_schema.rs,
/// tests/mlflow_schema.rs). PostgreSQL keeps every index: its log-batch is one
/// `UNNEST` insert and its writers run in parallel.
pub const SQLITE_OMITTED_INDEXES: &[&str] = &["index_metrics_run_uuid"];

/// The statements that create MLflow's schema on a new SQLite database: its DDL less
/// the [`SQLITE_OMITTED_INDEXES`].
pub fn sqlite_create_statements() -> impl Iterator<Item = &'static str> {
    statements(SQLITE_MLFLOW_DDL).filter(|s| {
        created_index(s).is_none_or(|(name, _, _)| !SQLITE_OMITTED_INDEXES.contains(&name))
    })
}

/// `(name, table, columns)` of a `CREATE INDEX name ON table (columns)` statement.
fn created_index(stmt: &str) -> Option<(&str, &str, Vec<&str>)> {
    let rest = stmt.trim().strip_prefix("CREATE INDEX ")?;
    let (name, rest) = rest.split_once(" ON ")?;
    let (table, cols) = rest.split_once(" (")?;
    let cols = cols.trim_end().strip_suffix(')')?;
    Some((
        name.trim(),
        table.trim(),
        cols.split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect(),
    ))
}

/// MLflow's schema for PostgreSQL, one script (see the file's header for its origin).
pub const POSTGRES_MLFLOW_DDL: &str = include_str!("postgres_mlflow.sql");

/// cairn's additions: indexes for its search paths, named `cairn_*` so they never clash
/// with MLflow's. Created with IF NOT EXISTS on every start, also on databases that
/// `mlflow db upgrade` made. Deliberately few: every index on the metric tables costs a
/// page write per logged key (MLflow's own key-first primary keys already do), and the
/// search plans filter through those primary keys.
pub const SQLITE_CAIRN_DDL: &[&str] = &[
    // Covers the filter phase of a run search (run_uuid included), so only the runs of
    // the page returned are read from the table.
    "CREATE INDEX IF NOT EXISTS cairn_idx_runs_search \
     ON runs (experiment_id, lifecycle_stage, start_time, run_uuid)",
    // Covering probes for search filters and metric ordering: a clause on params.x or
    // metrics.x is answered from the index alone (MLflow's primary keys hold no value).
    // One entry per param and per latest-metric change: cheap next to the metric
    // history's own indexes, which take every point.
    "CREATE INDEX IF NOT EXISTS cairn_idx_params_probe ON params (\"key\", run_uuid, value)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_latest_metrics_probe \
     ON latest_metrics (\"key\", run_uuid, is_nan, value)",
    // A search ordered by a metric walks that metric's runs in value order and stops
    // when its page is full (see `sql::search::RunSet::Led`).
    "CREATE INDEX IF NOT EXISTS cairn_idx_latest_metrics_order \
     ON latest_metrics (\"key\", is_nan, value)",
    // The serving endpoints' prediction log, read per model version over time and
    // joined with ground truth on the entity id.
    "CREATE TABLE IF NOT EXISTS cairn_predictions (\
     id INTEGER PRIMARY KEY AUTOINCREMENT, \
     request_id VARCHAR(64) NOT NULL, \
     row_index INTEGER NOT NULL, \
     model_name VARCHAR(256) NOT NULL, \
     model_version INTEGER NOT NULL, \
     alias VARCHAR(256), \
     entity_id VARCHAR(256), \
     timestamp_ms BIGINT NOT NULL, \
     inputs TEXT NOT NULL, \
     outputs TEXT NOT NULL, \
     shadow BOOLEAN NOT NULL DEFAULT FALSE)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_predictions_model \
     ON cairn_predictions (model_name, model_version, id)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_predictions_entity \
     ON cairn_predictions (model_name, entity_id)",
    // Every move of a registry alias (set, moved, removed), for the registry page's
    // history: MLflow keeps only where an alias points now.
    "CREATE TABLE IF NOT EXISTS cairn_alias_events (\
     id INTEGER PRIMARY KEY AUTOINCREMENT, \
     name VARCHAR(256) NOT NULL, \
     alias VARCHAR(256) NOT NULL, \
     from_version INTEGER, \
     to_version INTEGER, \
     time_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_alias_events_model ON cairn_alias_events (name, id)",
    // Indexes of earlier cairn builds, superseded or costlier on writes than useful.
    "DROP INDEX IF EXISTS cairn_idx_runs_experiment_start",
    "DROP INDEX IF EXISTS cairn_idx_latest_metrics_key_value",
    "DROP INDEX IF EXISTS cairn_idx_params_key_value",
    "DROP INDEX IF EXISTS cairn_idx_tags_key_value",
];

/// cairn's additions to MLflow's schema on PostgreSQL: indexes only, which MLflow
/// neither needs nor minds. MLflow's primary keys already serve the probes that need
/// extra indexes on SQLite (PostgreSQL reads the value from the heap page the key
/// points at, and a param value of up to 8,000 characters cannot be part of a B-tree
/// entry there).
pub const POSTGRES_CAIRN_DDL: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS cairn_idx_runs_search \
     ON runs (experiment_id, lifecycle_stage, start_time, run_uuid)",
    // A search ordered by a metric walks that metric's runs in value order and stops
    // when its page is full (see `sql::search::RunSet::Led`).
    "CREATE INDEX IF NOT EXISTS cairn_idx_latest_metrics_order \
     ON latest_metrics (\"key\", is_nan, value)",
    // The serving endpoints' prediction log (see the SQLite DDL).
    "CREATE TABLE IF NOT EXISTS cairn_predictions (\
     id BIGSERIAL PRIMARY KEY, \
     request_id VARCHAR(64) NOT NULL, \
     row_index INTEGER NOT NULL, \
     model_name VARCHAR(256) NOT NULL, \
     model_version INTEGER NOT NULL, \
     alias VARCHAR(256), \
     entity_id VARCHAR(256), \
     timestamp_ms BIGINT NOT NULL, \
     inputs TEXT NOT NULL, \
     outputs TEXT NOT NULL, \
     shadow BOOLEAN NOT NULL DEFAULT FALSE)",
    // Logs written before shadow serving existed hold answered predictions only.
    "ALTER TABLE cairn_predictions ADD COLUMN IF NOT EXISTS shadow BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE INDEX IF NOT EXISTS cairn_idx_predictions_model \
     ON cairn_predictions (model_name, model_version, id)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_predictions_entity \
     ON cairn_predictions (model_name, entity_id)",
    // Every move of a registry alias (see the SQLite DDL).
    "CREATE TABLE IF NOT EXISTS cairn_alias_events (\
     id BIGSERIAL PRIMARY KEY, \
     name VARCHAR(256) NOT NULL, \
     alias VARCHAR(256) NOT NULL, \
     from_version INTEGER, \
     to_version INTEGER, \
     time_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_alias_events_model ON cairn_alias_events (name, id)",
];

/// Columns cairn added to its own SQLite tables after they first shipped, as
/// `(table, column, definition)`: SQLite's `ADD COLUMN` has no `IF NOT EXISTS`, so
/// each is added when `pragma_table_info` lacks it.
pub const SQLITE_CAIRN_ADDED_COLUMNS: &[(&str, &str, &str)] = &[(
    "cairn_predictions",
    "shadow",
    "BOOLEAN NOT NULL DEFAULT FALSE",
)];

/// Splits the DDL into statements.
pub fn statements(ddl: &str) -> impl Iterator<Item = &str> {
    ddl.split("\n;;").map(str::trim).filter(|s| {
        s.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ddl_has_mlflows_65_tables() {
        let tables = super::statements(super::SQLITE_MLFLOW_DDL)
            .filter(|s| s.lines().any(|l| l.starts_with("CREATE TABLE")))
            .count();
        assert_eq!(tables, 65);
    }

    #[test]
    fn each_omitted_index_is_a_prefix_of_another_on_its_table() {
        let indexes: Vec<_> = super::statements(super::SQLITE_MLFLOW_DDL)
            .filter_map(super::created_index)
            .collect();
        for omitted in super::SQLITE_OMITTED_INDEXES {
            let (_, table, cols) = indexes
                .iter()
                .find(|(name, _, _)| name == omitted)
                .unwrap_or_else(|| panic!("{omitted} is in MLflow's DDL"));
            let covered = indexes.iter().any(|(name, t, c)| {
                name != omitted && t == table && c.len() > cols.len() && c.starts_with(cols)
            });
            assert!(covered, "{omitted} is a prefix of another index on {table}");
        }
        let created = super::sqlite_create_statements().count();
        let all = super::statements(super::SQLITE_MLFLOW_DDL).count();
        assert_eq!(created, all - super::SQLITE_OMITTED_INDEXES.len());
    }

    #[test]
    fn postgres_ddl_has_mlflows_65_tables_in_the_connections_schema() {
        let ddl = super::POSTGRES_MLFLOW_DDL;
        assert_eq!(ddl.matches("CREATE TABLE ").count(), 65);
        let code = || ddl.lines().filter(|l| !l.starts_with("--"));
        assert!(
            !code().any(|l| l.contains("public.")),
            "objects must not be pinned to a schema"
        );
        assert!(
            !code().any(|l| l.starts_with('\\')),
            "no psql meta-commands"
        );
    }
}
