//! Data-quality check results, written once for both stores.

use cairn_core::data::DataCheck;
use cairn_core::MlflowError;

use super::exec::{Cols, Exec};
use super::Dialect;
use crate::Result;

const DDL: &[&str] = &[
    // One row per check of a view or contract: the verdict and figures lists read,
    // and the whole report.
    "CREATE TABLE IF NOT EXISTS cairn_data_checks (\
     id {ID}, \
     target VARCHAR(256) NOT NULL, \
     kind VARCHAR(16) NOT NULL, \
     version VARCHAR(64) NOT NULL, \
     fingerprint VARCHAR(1024) NOT NULL, \
     passed BOOLEAN NOT NULL, \
     violations BIGINT NOT NULL, \
     row_count BIGINT NOT NULL, \
     checked_ms BIGINT NOT NULL, \
     duration_ms BIGINT NOT NULL, \
     job_run_id VARCHAR(32), \
     report TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_data_checks_target ON cairn_data_checks (target, id)",
];

/// The data-check table's DDL in `dialect`.
pub(crate) fn ddl(dialect: Dialect) -> Vec<String> {
    let id = match dialect {
        Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    DDL.iter().map(|s| s.replace("{ID}", id)).collect()
}

/// Stores a check; returns its id.
pub(crate) async fn add_check<E: Exec>(ex: &mut E, c: &DataCheck) -> Result<i64> {
    let sql = ex
        .sql(
            "INSERT INTO cairn_data_checks (target, kind, version, fingerprint, passed, \
             violations, row_count, checked_ms, duration_ms, job_run_id, report) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
        )
        .arg(c.target.as_str())
        .arg(c.kind.as_str())
        .arg(c.version.as_str())
        .arg(c.fingerprint.as_str())
        .arg(c.passed)
        .arg(c.violations)
        .arg(c.rows)
        .arg(c.checked_ms)
        .arg(c.duration_ms)
        .arg(c.job_run_id.as_deref())
        .arg(c.report.to_string());
    ex.fetch_optional(&sql, |r| r.int(0))
        .await?
        .ok_or_else(|| MlflowError::internal("INSERT ... RETURNING returned no row").into())
}

const COLUMNS: &str = "id, target, kind, version, fingerprint, passed, violations, row_count, \
     checked_ms, duration_ms, job_run_id";

/// Checks of `target` (or of everything), newest first, without their reports.
pub(crate) async fn checks<E: Exec>(
    ex: &mut E,
    target: Option<&str>,
    limit: i64,
) -> Result<Vec<DataCheck>> {
    let sql = ex
        .sql(&format!(
            "SELECT {COLUMNS}, '{{}}' FROM cairn_data_checks \
             WHERE (?1 IS NULL OR target = ?1) ORDER BY id DESC LIMIT ?2"
        ))
        .arg(target)
        .arg(limit);
    ex.fetch(&sql, row).await
}

/// One check with its report.
pub(crate) async fn check<E: Exec>(ex: &mut E, id: i64) -> Result<Option<DataCheck>> {
    let sql = ex
        .sql(&format!(
            "SELECT {COLUMNS}, report FROM cairn_data_checks WHERE id = ?1"
        ))
        .arg(id);
    ex.fetch_optional(&sql, row).await
}

/// The newest check of each target, without reports.
pub(crate) async fn latest<E: Exec>(ex: &mut E) -> Result<Vec<DataCheck>> {
    let sql = ex.sql(&format!(
        "SELECT {COLUMNS}, '{{}}' FROM cairn_data_checks c \
         WHERE id = (SELECT MAX(id) FROM cairn_data_checks x WHERE x.target = c.target) \
         ORDER BY target"
    ));
    ex.fetch(&sql, row).await
}

fn row(r: &dyn Cols) -> Result<DataCheck> {
    Ok(DataCheck {
        id: r.int(0)?,
        target: r.text(1)?,
        kind: r.text(2)?,
        version: r.text(3)?,
        fingerprint: r.text(4)?,
        passed: r.boolean(5)?,
        violations: r.int(6)?,
        rows: r.int(7)?,
        checked_ms: r.int(8)?,
        duration_ms: r.int(9)?,
        job_run_id: r.opt_text(10)?,
        report: serde_json::from_str(&r.text(11)?).unwrap_or(serde_json::Value::Null),
    })
}

/// Implements [`DataCheckStore`](crate::DataCheckStore) for a store with `$read` and
/// `$write` macros (see `lite_read`, `pg_read`).
macro_rules! data_check_store {
    ($store:ty, $read:ident, $write:ident) => {
        #[async_trait::async_trait]
        impl $crate::DataCheckStore for $store {
            async fn add_data_check(
                &self,
                check: cairn_core::data::DataCheck,
            ) -> $crate::Result<i64> {
                $write!(self, |ex| $crate::sql::data::add_check(ex, &check).await)
            }

            async fn data_checks(
                &self,
                target: Option<&str>,
                limit: i64,
            ) -> $crate::Result<Vec<cairn_core::data::DataCheck>> {
                let target = target.map(str::to_string);
                $read!(self, |ex| $crate::sql::data::checks(
                    ex,
                    target.as_deref(),
                    limit
                )
                .await)
            }

            async fn data_check(
                &self,
                id: i64,
            ) -> $crate::Result<Option<cairn_core::data::DataCheck>> {
                $read!(self, |ex| $crate::sql::data::check(ex, id).await)
            }

            async fn latest_data_checks(&self) -> $crate::Result<Vec<cairn_core::data::DataCheck>> {
                $read!(self, |ex| $crate::sql::data::latest(ex).await)
            }
        }
    };
}
pub(crate) use data_check_store;
