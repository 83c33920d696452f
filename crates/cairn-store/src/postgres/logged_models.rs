//! MLflow 3's logged models on PostgreSQL: `logged_models` and its tags, params and
//! metrics tables, as MLflow's SQL store writes them.

use std::collections::HashMap;

use cairn_core::entities::{KeyValue, LifecycleStage, Metric, Page};
use cairn_core::logged_model::{LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelStatus};
use cairn_core::page_token;
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::exec::{write_tx, Cols};
use super::tracking::fetch;
use super::PgStore;
use crate::shared::{logged_model_not_found as not_found, sanitize, LOGGED_MODEL_COLUMNS};
use crate::sql::search::{push_logged_model_clause, push_logged_model_order};
use crate::sql::Sql;
use crate::types::{LoggedModelSearch, NewLoggedModel};
use crate::{LoggedModelStore, Result};
use async_trait::async_trait;

fn info(row: &PgRow) -> Result<LoggedModelInfo> {
    Ok(LoggedModelInfo {
        model_id: row.text(0)?,
        experiment_id: row.int(1)?.to_string(),
        name: row.text(2)?,
        artifact_uri: row.text(3)?,
        creation_timestamp_ms: row.int(4)?,
        last_updated_timestamp_ms: row.int(5)?,
        status: LoggedModelStatus::from_number(row.int(6)?),
        status_message: row.opt_text(7)?,
        model_type: row.opt_text(8)?,
        source_run_id: row.opt_text(9)?,
        tags: Vec::new(),
    })
}

/// Fills in tags, params and metrics of each model, three queries for the page.
async fn complete(
    conn: &mut PgConnection,
    infos: Vec<LoggedModelInfo>,
) -> Result<Vec<LoggedModel>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = infos.iter().map(|i| i.model_id.clone()).collect();
    let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for r in sqlx::query(
        "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id = ANY($1) \
         ORDER BY tag_key",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    {
        tags.entry(r.text(0)?)
            .or_default()
            .push(KeyValue::new(r.text(1)?, r.text_or_empty(2)?));
    }
    let mut params: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for r in sqlx::query(
        "SELECT model_id, param_key, param_value FROM logged_model_params \
         WHERE model_id = ANY($1) ORDER BY param_key",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    {
        params
            .entry(r.text(0)?)
            .or_default()
            .push(KeyValue::new(r.text(1)?, r.text_or_empty(2)?));
    }
    let mut metrics: HashMap<String, Vec<Metric>> = HashMap::new();
    for r in sqlx::query(
        "SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, run_id \
         FROM logged_model_metrics WHERE model_id = ANY($1) \
         ORDER BY metric_name, metric_step, metric_timestamp_ms",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    {
        let model_id = r.text(0)?;
        // MLflow names the model on each of its metrics.
        metrics.entry(model_id.clone()).or_default().push(Metric {
            key: r.text(1)?,
            value: r.opt_real(2)?.unwrap_or(f64::NAN),
            timestamp: r.int(3)?,
            step: r.int(4)?,
            run_id: r.opt_text(5)?,
            model_id: Some(model_id),
        });
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

async fn get(
    conn: &mut PgConnection,
    model_id: &str,
    allow_deleted: bool,
) -> Result<Option<LoggedModel>> {
    let mut sql = Sql::postgres(format!(
        "SELECT {LOGGED_MODEL_COLUMNS} FROM logged_models m WHERE m.model_id = "
    ));
    sql.push_bind(model_id);
    if !allow_deleted {
        sql.push(" AND (m.lifecycle_stage IS NULL OR m.lifecycle_stage != 'deleted')");
    }
    let infos = fetch(&mut *conn, &sql, info).await?;
    Ok(complete(conn, infos).await?.pop())
}

async fn require(conn: &mut PgConnection, model_id: &str) -> Result<LoggedModel> {
    get(conn, model_id, false)
        .await?
        .ok_or_else(|| not_found(model_id))
}

/// The experiment of a live logged model, or RESOURCE_DOES_NOT_EXIST.
async fn experiment_of(conn: &mut PgConnection, model_id: &str) -> Result<i64> {
    let id: Option<i32> = sqlx::query_scalar(
        "SELECT experiment_id FROM logged_models WHERE model_id = $1 \
         AND (lifecycle_stage IS NULL OR lifecycle_stage != 'deleted')",
    )
    .bind(model_id)
    .fetch_optional(conn)
    .await?;
    id.map(i64::from).ok_or_else(|| not_found(model_id))
}

async fn upsert_tags(
    conn: &mut PgConnection,
    model_id: &str,
    experiment_id: i64,
    tags: &[KeyValue],
) -> Result<()> {
    for t in tags {
        sqlx::query(
            "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (model_id, tag_key) DO UPDATE SET \
             tag_value = excluded.tag_value",
        )
        .bind(model_id)
        .bind(experiment_id)
        .bind(&t.key)
        .bind(&t.value)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn upsert_params(
    conn: &mut PgConnection,
    model_id: &str,
    experiment_id: i64,
    params: &[KeyValue],
) -> Result<()> {
    for p in params {
        sqlx::query(
            "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (model_id, param_key) DO UPDATE SET \
             param_value = excluded.param_value",
        )
        .bind(model_id)
        .bind(experiment_id)
        .bind(&p.key)
        .bind(&p.value)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Records the points of `metrics` that name a logged model for that model too, as
/// MLflow's `log_batch` does; called inside the batch's transaction.
pub(super) async fn log_model_metrics(
    conn: &mut PgConnection,
    run_id: &str,
    metrics: &[Metric],
) -> Result<()> {
    let experiment_id: Option<Option<i32>> =
        sqlx::query_scalar("SELECT experiment_id FROM runs WHERE run_uuid = $1")
            .bind(run_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(Some(experiment_id)) = experiment_id else {
        return Ok(());
    };
    for m in metrics {
        if let Some(model_id) = &m.model_id {
            let (value, is_nan) = sanitize(m.value);
            sqlx::query(
                "INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, \
                 metric_step, metric_value, experiment_id, run_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(model_id)
            .bind(&m.key)
            .bind(m.timestamp)
            .bind(m.step)
            .bind((!is_nan).then_some(value))
            .bind(experiment_id)
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

async fn create(conn: &mut PgConnection, new: &NewLoggedModel) -> Result<LoggedModel> {
    sqlx::query(
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, \
         creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, \
         model_type, source_run_id) VALUES ($1, $2, $3, $4, $5, $5, $6, 'active', $7, $8)",
    )
    .bind(&new.model_id)
    .bind(new.experiment_id)
    .bind(&new.name)
    .bind(&new.artifact_location)
    .bind(new.now_ms)
    .bind(LoggedModelStatus::Pending.number() as i32)
    .bind(&new.model_type)
    .bind(&new.source_run_id)
    .execute(&mut *conn)
    .await?;
    upsert_params(conn, &new.model_id, new.experiment_id, &new.params).await?;
    upsert_tags(conn, &new.model_id, new.experiment_id, &new.tags).await?;
    require(conn, &new.model_id).await
}

async fn finalize(
    conn: &mut PgConnection,
    model_id: &str,
    status: LoggedModelStatus,
    now_ms: i64,
) -> Result<LoggedModel> {
    experiment_of(conn, model_id).await?;
    sqlx::query(
        "UPDATE logged_models SET status = $2, last_updated_timestamp_ms = $3 WHERE model_id = $1",
    )
    .bind(model_id)
    .bind(status.number() as i32)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    require(conn, model_id).await
}

#[async_trait]
impl LoggedModelStore for PgStore {
    async fn create_logged_model(&self, new: NewLoggedModel) -> Result<LoggedModel> {
        write_tx!(self.pool, |c| create(c, &new).await)
    }

    async fn get_logged_model(
        &self,
        model_id: &str,
        allow_deleted: bool,
    ) -> Result<Option<LoggedModel>> {
        let mut conn = self.pool.acquire().await?;
        get(&mut conn, model_id, allow_deleted).await
    }

    async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
        now_ms: i64,
    ) -> Result<LoggedModel> {
        write_tx!(self.pool, |c| finalize(c, model_id, status, now_ms).await)
    }

    async fn set_logged_model_tags(&self, model_id: &str, tags: &[KeyValue]) -> Result<()> {
        write_tx!(self.pool, |c| {
            let experiment_id = experiment_of(c, model_id).await?;
            upsert_tags(c, model_id, experiment_id, tags).await
        })
    }

    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<bool> {
        write_tx!(self.pool, |c| {
            experiment_of(c, model_id).await?;
            let n =
                sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND tag_key = $2")
                    .bind(model_id)
                    .bind(key)
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
            Ok::<_, crate::StoreError>(n > 0)
        })
    }

    async fn log_logged_model_params(&self, model_id: &str, params: &[KeyValue]) -> Result<()> {
        write_tx!(self.pool, |c| {
            let experiment_id = experiment_of(c, model_id).await?;
            upsert_params(c, model_id, experiment_id, params).await
        })
    }

    async fn delete_logged_model(&self, model_id: &str, now_ms: i64) -> Result<()> {
        write_tx!(self.pool, |c| {
            experiment_of(c, model_id).await?;
            sqlx::query(
                "UPDATE logged_models SET lifecycle_stage = $2, last_updated_timestamp_ms = $3 \
                 WHERE model_id = $1",
            )
            .bind(model_id)
            .bind(LifecycleStage::Deleted.as_str())
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
            Ok::<_, crate::StoreError>(())
        })
    }

    async fn search_logged_models(&self, s: &LoggedModelSearch) -> Result<Page<LoggedModel>> {
        let mut sql = Sql::postgres(format!(
            "SELECT {LOGGED_MODEL_COLUMNS} FROM logged_models m WHERE \
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
        let mut conn = self.pool.acquire().await?;
        let mut infos = fetch(&mut *conn, &sql, info).await?;
        let has_more = infos.len() as u64 > s.max_results;
        infos.truncate(s.max_results as usize);
        let items = complete(&mut conn, infos).await?;
        let next_page_token = page_token::next(s.offset, items.len(), s.max_results, has_more);
        Ok(Page {
            items,
            next_page_token,
        })
    }
}
