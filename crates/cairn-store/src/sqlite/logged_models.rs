//! MLflow 3's logged models on SQLite: `logged_models` and its tags, params and
//! metrics tables, as MLflow's SQL store writes them.

use std::collections::HashMap;

use cairn_core::entities::{KeyValue, LifecycleStage, Metric, Page};
use cairn_core::logged_model::{LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelStatus};
use cairn_core::page_token;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::tracking::{opt_text, query_all};
use super::SqliteStore;
use crate::shared::{
    logged_model_not_found as not_found, sanitize, LOGGED_MODEL_COLUMNS as COLUMNS,
};
use crate::sql::search::{push_logged_model_clause, push_logged_model_order};
use crate::sql::Sql;
use crate::types::{LoggedModelSearch, NewLoggedModel};
use crate::{LoggedModelStore, Result};
use async_trait::async_trait;

fn info(row: &Row<'_>) -> rusqlite::Result<LoggedModelInfo> {
    Ok(LoggedModelInfo {
        model_id: row.get(0)?,
        experiment_id: row.get::<_, i64>(1)?.to_string(),
        name: row.get(2)?,
        artifact_uri: row.get(3)?,
        creation_timestamp_ms: row.get(4)?,
        last_updated_timestamp_ms: row.get(5)?,
        status: LoggedModelStatus::from_number(row.get(6)?),
        status_message: row.get(7)?,
        model_type: row.get(8)?,
        source_run_id: row.get(9)?,
        tags: Vec::new(),
    })
}

/// Fills in tags, params and metrics of each model, three queries for the page.
fn complete(conn: &Connection, infos: Vec<LoggedModelInfo>) -> Result<Vec<LoggedModel>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let ids = || infos.iter().map(|i| i.model_id.clone());
    let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
    let mut sql = Sql::sqlite(
        "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN ",
    );
    sql.push_list(ids()).push(" ORDER BY tag_key");
    for (id, kv) in query_all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            KeyValue::new(r.get::<_, String>(1)?, opt_text(r, 2)?),
        ))
    })? {
        tags.entry(id).or_default().push(kv);
    }
    let mut params: HashMap<String, Vec<KeyValue>> = HashMap::new();
    let mut sql = Sql::sqlite(
        "SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN ",
    );
    sql.push_list(ids()).push(" ORDER BY param_key");
    for (id, kv) in query_all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            KeyValue::new(r.get::<_, String>(1)?, opt_text(r, 2)?),
        ))
    })? {
        params.entry(id).or_default().push(kv);
    }
    let mut metrics: HashMap<String, Vec<Metric>> = HashMap::new();
    let mut sql = Sql::sqlite(
        "SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, run_id \
         FROM logged_model_metrics WHERE model_id IN ",
    );
    sql.push_list(ids())
        .push(" ORDER BY metric_name, metric_step, metric_timestamp_ms");
    for (id, m) in query_all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            Metric {
                key: r.get(1)?,
                value: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
                timestamp: r.get(3)?,
                step: r.get(4)?,
                run_id: r.get(5)?,
                model_id: None,
            },
        ))
    })? {
        // MLflow names the model on each of its metrics.
        let m = Metric {
            model_id: Some(id.clone()),
            ..m
        };
        metrics.entry(id).or_default().push(m);
    }
    Ok(infos
        .into_iter()
        .map(|mut info| {
            info.tags = tags.remove(&info.model_id).unwrap_or_default();
            let data = LoggedModelData {
                params: params.remove(&info.model_id).unwrap_or_default(),
                metrics: metrics.remove(&info.model_id).unwrap_or_default(),
            };
            LoggedModel { info, data }
        })
        .collect())
}

fn get(conn: &Connection, model_id: &str, allow_deleted: bool) -> Result<Option<LoggedModel>> {
    let mut sql = Sql::sqlite(format!(
        "SELECT {COLUMNS} FROM logged_models m WHERE m.model_id = "
    ));
    sql.push_bind(model_id.to_string());
    if !allow_deleted {
        sql.push(" AND (m.lifecycle_stage IS NULL OR m.lifecycle_stage != 'deleted')");
    }
    let infos = query_all(conn, &sql, info)?;
    Ok(complete(conn, infos)?.pop())
}

/// The experiment of a live logged model, or RESOURCE_DOES_NOT_EXIST.
fn experiment_of(conn: &Connection, model_id: &str) -> Result<i64> {
    conn.prepare_cached(
        "SELECT experiment_id FROM logged_models WHERE model_id = ?1 \
         AND (lifecycle_stage IS NULL OR lifecycle_stage != 'deleted')",
    )?
    .query_row([model_id], |r| r.get(0))
    .optional()?
    .ok_or_else(|| not_found(model_id))
}

fn upsert_tags(
    conn: &Connection,
    model_id: &str,
    experiment_id: i64,
    tags: &[KeyValue],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (model_id, tag_key) DO UPDATE SET \
         tag_value = excluded.tag_value",
    )?;
    for t in tags {
        stmt.execute(params![model_id, experiment_id, t.key, t.value])?;
    }
    Ok(())
}

fn upsert_params(
    conn: &Connection,
    model_id: &str,
    experiment_id: i64,
    params: &[KeyValue],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (model_id, param_key) DO UPDATE SET \
         param_value = excluded.param_value",
    )?;
    for p in params {
        stmt.execute(params![model_id, experiment_id, p.key, p.value])?;
    }
    Ok(())
}

/// Records the points of `metrics` that name a logged model for that model too, as
/// MLflow's `log_batch` does; called inside the batch's write.
pub(super) fn log_model_metrics(conn: &Connection, run_id: &str, metrics: &[Metric]) -> Result<()> {
    let experiment_id: Option<i64> = conn
        .prepare_cached("SELECT experiment_id FROM runs WHERE run_uuid = ?1")?
        .query_row([run_id], |r| r.get(0))
        .optional()?;
    let Some(experiment_id) = experiment_id else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO logged_model_metrics (model_id, metric_name, \
         metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for m in metrics {
        if let Some(model_id) = &m.model_id {
            let (value, is_nan) = sanitize(m.value);
            let value = (!is_nan).then_some(value);
            stmt.execute(params![
                model_id,
                m.key,
                m.timestamp,
                m.step,
                value,
                experiment_id,
                run_id
            ])?;
        }
    }
    Ok(())
}

#[async_trait]
impl LoggedModelStore for SqliteStore {
    async fn create_logged_model(&self, new: NewLoggedModel) -> Result<LoggedModel> {
        let model_id = new.model_id.clone();
        self.writer
            .run(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO logged_models (model_id, experiment_id, name, \
                     artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, \
                     status, lifecycle_stage, model_type, source_run_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 'active', ?7, ?8)",
                )?
                .execute(params![
                    new.model_id,
                    new.experiment_id,
                    new.name,
                    new.artifact_location,
                    new.now_ms,
                    LoggedModelStatus::Pending.number(),
                    new.model_type,
                    new.source_run_id
                ])?;
                upsert_params(conn, &new.model_id, new.experiment_id, &new.params)?;
                upsert_tags(conn, &new.model_id, new.experiment_id, &new.tags)?;
                get(conn, &new.model_id, false)?.ok_or_else(|| not_found(&model_id))
            })
            .await
    }

    async fn get_logged_model(
        &self,
        model_id: &str,
        allow_deleted: bool,
    ) -> Result<Option<LoggedModel>> {
        let model_id = model_id.to_string();
        self.readers
            .run(move |conn| get(conn, &model_id, allow_deleted))
            .await
    }

    async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
        now_ms: i64,
    ) -> Result<LoggedModel> {
        let model_id = model_id.to_string();
        self.writer
            .run(move |conn| {
                experiment_of(conn, &model_id)?;
                conn.prepare_cached(
                    "UPDATE logged_models SET status = ?2, last_updated_timestamp_ms = ?3 \
                     WHERE model_id = ?1",
                )?
                .execute(params![model_id, status.number(), now_ms])?;
                get(conn, &model_id, false)?.ok_or_else(|| not_found(&model_id))
            })
            .await
    }

    async fn set_logged_model_tags(&self, model_id: &str, tags: &[KeyValue]) -> Result<()> {
        let (model_id, tags) = (model_id.to_string(), tags.to_vec());
        self.writer
            .run(move |conn| {
                let experiment_id = experiment_of(conn, &model_id)?;
                upsert_tags(conn, &model_id, experiment_id, &tags)
            })
            .await
    }

    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<bool> {
        let (model_id, key) = (model_id.to_string(), key.to_string());
        self.writer
            .run(move |conn| {
                experiment_of(conn, &model_id)?;
                let n = conn
                    .prepare_cached(
                        "DELETE FROM logged_model_tags WHERE model_id = ?1 AND tag_key = ?2",
                    )?
                    .execute(params![model_id, key])?;
                Ok(n > 0)
            })
            .await
    }

    async fn log_logged_model_params(&self, model_id: &str, params: &[KeyValue]) -> Result<()> {
        let (model_id, params) = (model_id.to_string(), params.to_vec());
        self.writer
            .run(move |conn| {
                let experiment_id = experiment_of(conn, &model_id)?;
                upsert_params(conn, &model_id, experiment_id, &params)
            })
            .await
    }

    async fn delete_logged_model(&self, model_id: &str, now_ms: i64) -> Result<()> {
        let model_id = model_id.to_string();
        self.writer
            .run(move |conn| {
                experiment_of(conn, &model_id)?;
                conn.prepare_cached(
                    "UPDATE logged_models SET lifecycle_stage = ?2, \
                     last_updated_timestamp_ms = ?3 WHERE model_id = ?1",
                )?
                .execute(params![
                    model_id,
                    LifecycleStage::Deleted.as_str(),
                    now_ms
                ])?;
                Ok(())
            })
            .await
    }

    async fn search_logged_models(&self, s: &LoggedModelSearch) -> Result<Page<LoggedModel>> {
        let mut sql = Sql::sqlite(format!(
            "SELECT {COLUMNS} FROM logged_models m WHERE \
             (m.lifecycle_stage IS NULL OR m.lifecycle_stage != 'deleted')"
        ));
        if !s.experiment_ids.is_empty() {
            sql.push(" AND m.experiment_id IN ");
            sql.push_list(s.experiment_ids.iter().copied());
        }
        for c in &s.filter {
            sql.push(" AND ");
            push_logged_model_clause(&mut sql, c);
        }
        push_logged_model_order(&mut sql, &s.order_by);
        sql.push_page(s.max_results, s.offset);
        let (max_results, offset) = (s.max_results, s.offset);
        self.readers
            .run(move |conn| {
                let mut infos = query_all(conn, &sql, info)?;
                let has_more = infos.len() as u64 > max_results;
                infos.truncate(max_results as usize);
                let items = complete(conn, infos)?;
                let next_page_token = page_token::next(offset, items.len(), max_results, has_more);
                Ok(Page {
                    items,
                    next_page_token,
                })
            })
            .await
    }
}
