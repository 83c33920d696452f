//! Online evaluation's tables, written once for both stores: ground truth per (model,
//! entity) with every value it replaced, and the stored reports of evaluations and
//! drift checks.
//!
//! An evaluation is computed where the rows are: the prediction log is joined with
//! ground truth and grouped in the database, so a million logged predictions come
//! back as a confusion table per version and window (a few hundred rows), not as a
//! million rows to group in the process. The prediction is read from the logged
//! outputs' JSON with each database's own JSON functions, which is the one place the
//! two dialects differ.

use cairn_core::monitor::{
    float_label, GroundTruth, GroundTruthEntry, MonitorReport, ReplacedTruth,
};

use super::exec::{Cols, Exec};
use super::{Dialect, Sql};
use crate::types::{CoverageGroup, EvalScope, LabelGroup, NewMonitorReport};
use crate::Result;

/// cairn's monitoring tables, for both backends (`{ID}`: each dialect's
/// auto-increment key).
const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS cairn_ground_truth (\
     model_name VARCHAR(256) NOT NULL, \
     entity_id VARCHAR(256) NOT NULL, \
     label VARCHAR(256), \
     value DOUBLE PRECISION, \
     event_time_ms BIGINT NOT NULL, \
     logged_ms BIGINT NOT NULL, \
     PRIMARY KEY (model_name, entity_id))",
    // A value that a later one replaced, kept with when it was replaced.
    "CREATE TABLE IF NOT EXISTS cairn_ground_truth_changes (\
     id {ID}, \
     model_name VARCHAR(256) NOT NULL, \
     entity_id VARCHAR(256) NOT NULL, \
     label VARCHAR(256), \
     value DOUBLE PRECISION, \
     event_time_ms BIGINT NOT NULL, \
     logged_ms BIGINT NOT NULL, \
     replaced_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_ground_truth_changes \
     ON cairn_ground_truth_changes (model_name, entity_id, id)",
    // Evaluations and drift checks a job or a person stored, per model version and
    // window: the summary is what lists and gauges read, the report the whole result.
    "CREATE TABLE IF NOT EXISTS cairn_monitor_reports (\
     id {ID}, \
     model_name VARCHAR(256) NOT NULL, \
     model_version INTEGER, \
     kind VARCHAR(32) NOT NULL, \
     window_start_ms BIGINT, \
     window_end_ms BIGINT, \
     created_ms BIGINT NOT NULL, \
     job_run_id VARCHAR(32), \
     summary TEXT NOT NULL, \
     report TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_monitor_reports_model \
     ON cairn_monitor_reports (model_name, kind, id)",
];

/// The monitoring tables' DDL in `dialect`.
pub(crate) fn ddl(dialect: Dialect) -> Vec<String> {
    let id = match dialect {
        Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    DDL.iter().map(|s| s.replace("{ID}", id)).collect()
}

/// Writes a batch in one transaction (the caller's): each record replaces the
/// entity's earlier value, which is kept in the changes table when it differs. The
/// same value again changes nothing (a resent batch is harmless).
pub(crate) async fn log_ground_truth<E: Exec>(
    ex: &mut E,
    records: &[GroundTruth],
    now_ms: i64,
) -> Result<()> {
    for r in records {
        let label = r.label.as_ref().map(|l| l.0.as_str());
        let keep = ex
            .sql(
                "INSERT INTO cairn_ground_truth_changes \
                 (model_name, entity_id, label, value, event_time_ms, logged_ms, replaced_ms) \
                 SELECT model_name, entity_id, label, value, event_time_ms, logged_ms, ?5 \
                 FROM cairn_ground_truth WHERE model_name = ?1 AND entity_id = ?2 \
                 AND (label IS DISTINCT FROM ?3 OR value IS DISTINCT FROM ?4)",
            )
            .arg(r.model_name.as_str())
            .arg(r.entity_id.as_str())
            .arg(label)
            .arg(r.value)
            .arg(now_ms);
        ex.execute(&keep).await?;
        let upsert = ex
            .sql(
                "INSERT INTO cairn_ground_truth \
                 (model_name, entity_id, label, value, event_time_ms, logged_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (model_name, entity_id) DO UPDATE SET \
                 label = excluded.label, value = excluded.value, \
                 event_time_ms = excluded.event_time_ms, logged_ms = excluded.logged_ms \
                 WHERE cairn_ground_truth.label IS DISTINCT FROM excluded.label \
                 OR cairn_ground_truth.value IS DISTINCT FROM excluded.value",
            )
            .arg(r.model_name.as_str())
            .arg(r.entity_id.as_str())
            .arg(label)
            .arg(r.value)
            .arg(r.event_time_ms.unwrap_or(now_ms))
            .arg(now_ms);
        ex.execute(&upsert).await?;
    }
    Ok(())
}

/// An entity's ground truth with the values it replaced, newest first.
pub(crate) async fn ground_truth<E: Exec>(
    ex: &mut E,
    model: &str,
    entity: &str,
) -> Result<Option<GroundTruthEntry>> {
    let sql = ex
        .sql(
            "SELECT label, value, event_time_ms, logged_ms FROM cairn_ground_truth \
             WHERE model_name = ?1 AND entity_id = ?2",
        )
        .arg(model)
        .arg(entity);
    let Some(mut entry) = ex
        .fetch_optional(&sql, |r| {
            Ok(GroundTruthEntry {
                model_name: model.to_string(),
                entity_id: entity.to_string(),
                label: r.opt_text(0)?,
                value: r.opt_real(1)?,
                event_time_ms: r.int(2)?,
                logged_ms: r.int(3)?,
                replaced: Vec::new(),
            })
        })
        .await?
    else {
        return Ok(None);
    };
    let sql = ex
        .sql(
            "SELECT label, value, event_time_ms, logged_ms, replaced_ms \
             FROM cairn_ground_truth_changes WHERE model_name = ?1 AND entity_id = ?2 \
             ORDER BY id DESC",
        )
        .arg(model)
        .arg(entity);
    entry.replaced = ex
        .fetch(&sql, |r| {
            Ok(ReplacedTruth {
                label: r.opt_text(0)?,
                value: r.opt_real(1)?,
                event_time_ms: r.int(2)?,
                logged_ms: r.int(3)?,
                replaced_ms: r.int(4)?,
            })
        })
        .await?;
    Ok(Some(entry))
}

/// How many of a model's ground truths are labels and how many values.
pub(crate) async fn ground_truth_kinds<E: Exec>(ex: &mut E, model: &str) -> Result<(i64, i64)> {
    let sql = ex
        .sql("SELECT COUNT(label), COUNT(value) FROM cairn_ground_truth WHERE model_name = ?1")
        .arg(model);
    Ok(ex
        .fetch_optional(&sql, |r| Ok((r.int(0)?, r.int(1)?)))
        .await?
        .unwrap_or((0, 0)))
}

/// The outputs of the model's newest logged prediction (the newest version's last
/// row), from which the evaluation finds the prediction's key.
pub(crate) async fn latest_outputs<E: Exec>(ex: &mut E, model: &str) -> Result<Option<String>> {
    let sql = ex
        .sql(
            "SELECT outputs FROM cairn_predictions WHERE model_name = ?1 \
             ORDER BY model_version DESC, id DESC LIMIT 1",
        )
        .arg(model);
    ex.fetch_optional(&sql, |r| r.text(0)).await
}

/// The start of the window a prediction falls in, over `p.timestamp_ms`, with the
/// windows' origin and width bound as ?6 and ?7.
const BUCKET: &str = "?6 + ((p.timestamp_ms - ?6) / ?7) * ?7";

/// The conditions every evaluation query shares, on `p` (the prediction log): binds
/// ?1 to ?7; a key read from the outputs is ?8.
fn scoped(ex: &impl Exec, select: &str, join: &str, scope: &EvalScope) -> Sql {
    ex.sql(&format!(
        "SELECT {select} FROM cairn_predictions p {join} cairn_ground_truth g \
         ON g.model_name = p.model_name AND g.entity_id = p.entity_id \
         WHERE p.model_name = ?1 AND (?2 IS NULL OR p.model_version = ?2) \
         AND p.timestamp_ms >= ?3 AND p.timestamp_ms < ?4 AND (?5 IS NULL OR p.alias = ?5)"
    ))
    .arg(scope.model_name.as_str())
    .arg(scope.version)
    .arg(scope.since_ms)
    .arg(scope.until_ms)
    .arg(scope.alias.as_deref())
    .arg(scope.origin_ms)
    .arg(scope.width_ms.max(1))
}

/// An output's value as text and its JSON type, by key (bound as ?8).
fn output(dialect: Dialect) -> (&'static str, &'static str) {
    match dialect {
        // `json_extract` answers SQL values (a JSON string as TEXT, a number as
        // INTEGER or REAL); the key is bound as a path (`$."label"`).
        Dialect::Sqlite => (
            "CAST(json_extract(p.outputs, ?8) AS TEXT)",
            "json_type(p.outputs, ?8)",
        ),
        Dialect::Postgres => (
            "(p.outputs::jsonb ->> ?8)",
            "jsonb_typeof(p.outputs::jsonb -> ?8)",
        ),
    }
}

/// The key bound for [`output`]: a path on SQLite, the key itself on PostgreSQL.
fn key_arg(dialect: Dialect, key: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("$.\"{key}\""),
        Dialect::Postgres => key.to_string(),
    }
}

/// A prediction's text as the ground truth's labels are written: a JSON number
/// that is whole reads as an integer (`1.0` is class `1`).
fn normalise(text: Option<String>, json_type: Option<String>) -> Option<String> {
    let text = text?;
    match json_type.as_deref() {
        Some("real" | "number") => Some(text.parse::<f64>().map_or(text, float_label)),
        Some("true") => Some("true".into()),
        Some("false") => Some("false".into()),
        _ => Some(text),
    }
}

/// Predictions and labelled predictions per version and window, with the label
/// delay over the labelled ones.
pub(crate) async fn coverage<E: Exec>(ex: &mut E, scope: &EvalScope) -> Result<Vec<CoverageGroup>> {
    let b = BUCKET;
    let mut sql = scoped(
        ex,
        &format!(
            "p.model_version, {b}, COUNT(*), COUNT(g.entity_id), \
             CAST(SUM(g.event_time_ms - p.timestamp_ms) AS DOUBLE PRECISION), MAX(g.event_time_ms - p.timestamp_ms)"
        ),
        "LEFT JOIN",
        scope,
    );
    sql.push(" GROUP BY 1, 2 ORDER BY 1, 2");
    ex.fetch(&sql, |r| {
        Ok(CoverageGroup {
            version: r.int(0)?,
            bucket_ms: r.int(1)?,
            predictions: r.int(2)?,
            labelled: r.int(3)?,
            delay_sum_ms: r.opt_real(4)?,
            delay_max_ms: r.opt_int(5)?,
        })
    })
    .await
}

/// Labelled predictions counted per version, window, predicted label and true label.
pub(crate) async fn label_groups<E: Exec>(
    ex: &mut E,
    scope: &EvalScope,
    key: &str,
) -> Result<Vec<LabelGroup>> {
    let b = BUCKET;
    let (text, ty) = output(ex.dialect());
    let mut sql = scoped(
        ex,
        &format!("p.model_version, {b}, {text}, {ty}, g.label, COUNT(*)"),
        "JOIN",
        scope,
    )
    .arg(key_arg(ex.dialect(), key));
    sql.push(" AND g.label IS NOT NULL GROUP BY 1, 2, 3, 4, 5");
    ex.fetch(&sql, |r| {
        Ok(LabelGroup {
            version: r.int(0)?,
            bucket_ms: r.int(1)?,
            predicted: normalise(r.opt_text(2)?, r.opt_text(3)?),
            truth: r.text(4)?,
            count: r.int(5)?,
        })
    })
    .await
}

/// Labelled rows one by one, for what a count cannot give: (version, window,
/// output text, truth label, truth value). The output is the prediction for a
/// regression and the probabilities' JSON for a classifier.
pub(crate) async fn labelled_rows<E: Exec>(
    ex: &mut E,
    scope: &EvalScope,
    key: &str,
) -> Result<Vec<(i64, i64, Option<String>, Option<String>, Option<f64>)>> {
    let b = BUCKET;
    let text = match ex.dialect() {
        // `json_extract` gives an object or array as its JSON text.
        Dialect::Sqlite => "CAST(json_extract(p.outputs, ?8) AS TEXT)",
        Dialect::Postgres => "(p.outputs::jsonb ->> ?8)",
    };
    let sql = scoped(
        ex,
        &format!("p.model_version, {b}, {text}, g.label, g.value"),
        "JOIN",
        scope,
    )
    .arg(key_arg(ex.dialect(), key));
    ex.fetch(&sql, |r| {
        Ok((
            r.int(0)?,
            r.int(1)?,
            r.opt_text(2)?,
            r.opt_text(3)?,
            r.opt_real(4)?,
        ))
    })
    .await
}

pub(crate) async fn add_report<E: Exec>(
    ex: &mut E,
    new: &NewMonitorReport,
    now_ms: i64,
) -> Result<()> {
    let sql = ex
        .sql(
            "INSERT INTO cairn_monitor_reports (model_name, model_version, kind, \
             window_start_ms, window_end_ms, created_ms, job_run_id, summary, report) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .arg(new.model_name.as_str())
        .arg(new.model_version)
        .arg(new.kind.as_str())
        .arg(new.window_start_ms)
        .arg(new.window_end_ms)
        .arg(now_ms)
        .arg(new.job_run_id.as_deref())
        .arg(new.summary.to_string())
        .arg(new.report.to_string());
    ex.execute(&sql).await?;
    Ok(())
}

/// A model's stored reports of one kind, newest first.
pub(crate) async fn reports<E: Exec>(
    ex: &mut E,
    model: &str,
    kind: &str,
    limit: i64,
) -> Result<Vec<MonitorReport>> {
    let sql = ex
        .sql(
            "SELECT id, model_name, model_version, kind, window_start_ms, window_end_ms, \
             created_ms, job_run_id, summary, report FROM cairn_monitor_reports \
             WHERE model_name = ?1 AND kind = ?2 ORDER BY id DESC LIMIT ?3",
        )
        .arg(model)
        .arg(kind)
        .arg(limit);
    ex.fetch(&sql, report_row).await
}

/// The newest report of each (model, version, kind): what the gauges show.
pub(crate) async fn latest_reports<E: Exec>(ex: &mut E) -> Result<Vec<MonitorReport>> {
    let sql = ex.sql(
        "SELECT id, model_name, model_version, kind, window_start_ms, window_end_ms, \
         created_ms, job_run_id, summary, '{}' FROM cairn_monitor_reports r \
         WHERE id = (SELECT MAX(id) FROM cairn_monitor_reports x \
         WHERE x.model_name = r.model_name AND x.kind = r.kind \
         AND x.model_version IS NOT DISTINCT FROM r.model_version)",
    );
    ex.fetch(&sql, report_row).await
}

fn report_row(r: &dyn Cols) -> Result<MonitorReport> {
    let json = |i: usize| -> Result<serde_json::Value> {
        Ok(serde_json::from_str(&r.text(i)?).unwrap_or(serde_json::Value::Null))
    };
    Ok(MonitorReport {
        id: r.int(0)?,
        model_name: r.text(1)?,
        model_version: r.opt_int(2)?,
        kind: r.text(3)?,
        window_start_ms: r.opt_int(4)?,
        window_end_ms: r.opt_int(5)?,
        created_ms: r.int(6)?,
        job_run_id: r.opt_text(7)?,
        summary: json(8)?,
        report: json(9)?,
    })
}

/// Implements [`MonitorStore`](crate::MonitorStore) for a store with `$read` and
/// `$write` macros (see `lite_read`, `pg_read`).
macro_rules! monitor_store {
    ($store:ty, $read:ident, $write:ident) => {
        #[async_trait::async_trait]
        impl $crate::MonitorStore for $store {
            async fn log_ground_truth(
                &self,
                records: Vec<cairn_core::monitor::GroundTruth>,
                now_ms: i64,
            ) -> $crate::Result<()> {
                $write!(self, |ex| $crate::sql::monitor::log_ground_truth(
                    ex, &records, now_ms
                )
                .await)
            }

            async fn ground_truth(
                &self,
                model: &str,
                entity: &str,
            ) -> $crate::Result<Option<cairn_core::monitor::GroundTruthEntry>> {
                let (model, entity) = (model.to_string(), entity.to_string());
                $read!(self, |ex| $crate::sql::monitor::ground_truth(
                    ex, &model, &entity
                )
                .await)
            }

            async fn ground_truth_kinds(&self, model: &str) -> $crate::Result<(i64, i64)> {
                let model = model.to_string();
                $read!(self, |ex| $crate::sql::monitor::ground_truth_kinds(
                    ex, &model
                )
                .await)
            }

            async fn latest_outputs(&self, model: &str) -> $crate::Result<Option<String>> {
                let model = model.to_string();
                $read!(self, |ex| $crate::sql::monitor::latest_outputs(ex, &model)
                    .await)
            }

            async fn eval_coverage(
                &self,
                scope: &$crate::EvalScope,
            ) -> $crate::Result<Vec<$crate::CoverageGroup>> {
                let scope = scope.clone();
                $read!(self, |ex| $crate::sql::monitor::coverage(ex, &scope).await)
            }

            async fn eval_label_groups(
                &self,
                scope: &$crate::EvalScope,
                key: &str,
            ) -> $crate::Result<Vec<$crate::LabelGroup>> {
                let (scope, key) = (scope.clone(), key.to_string());
                $read!(self, |ex| $crate::sql::monitor::label_groups(
                    ex, &scope, &key
                )
                .await)
            }

            async fn eval_labelled_rows(
                &self,
                scope: &$crate::EvalScope,
                key: &str,
            ) -> $crate::Result<Vec<(i64, i64, Option<String>, Option<String>, Option<f64>)>> {
                let (scope, key) = (scope.clone(), key.to_string());
                $read!(self, |ex| $crate::sql::monitor::labelled_rows(
                    ex, &scope, &key
                )
                .await)
            }

            async fn add_monitor_report(
                &self,
                new: $crate::NewMonitorReport,
                now_ms: i64,
            ) -> $crate::Result<()> {
                $write!(self, |ex| $crate::sql::monitor::add_report(
                    ex, &new, now_ms
                )
                .await)
            }

            async fn monitor_reports(
                &self,
                model: &str,
                kind: &str,
                limit: i64,
            ) -> $crate::Result<Vec<cairn_core::monitor::MonitorReport>> {
                let (model, kind) = (model.to_string(), kind.to_string());
                $read!(self, |ex| $crate::sql::monitor::reports(
                    ex, &model, &kind, limit
                )
                .await)
            }

            async fn latest_monitor_reports(
                &self,
            ) -> $crate::Result<Vec<cairn_core::monitor::MonitorReport>> {
                $read!(self, |ex| $crate::sql::monitor::latest_reports(ex).await)
            }
        }
    };
}
pub(crate) use monitor_store;
