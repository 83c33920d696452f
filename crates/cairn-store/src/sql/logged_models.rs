//! MLflow 3's logged models, written once for both stores: `logged_models` and its
//! tags, params and metrics tables, as MLflow's SQL store writes them, and the
//! [`LoggedModelStore`](crate::LoggedModelStore) implementation.

use std::collections::HashMap;

use cairn_core::entities::{KeyValue, LifecycleStage, Metric, Page};
use cairn_core::logged_model::{LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelStatus};
use cairn_core::{ErrorCode, MlflowError};

use super::exec::{fetch_page, key_values, page, Cols, Exec};
use super::search::{push_logged_model_clause, push_logged_model_order};
use crate::shared::{logged_model_not_found as not_found, sanitize, LOGGED_MODEL_COLUMNS};
use crate::types::{LoggedModelSearch, NewLoggedModel};
use crate::Result;

/// Reads [`LOGGED_MODEL_COLUMNS`].
fn info(row: &dyn Cols) -> Result<LoggedModelInfo> {
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
async fn complete<E: Exec>(ex: &mut E, infos: Vec<LoggedModelInfo>) -> Result<Vec<LoggedModel>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let ids = || infos.iter().map(|i| i.model_id.clone());
    let mut sql =
        ex.sql("SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id");
    sql.push_in(ids()).push(" ORDER BY tag_key");
    let mut tags = key_values(ex, &sql).await?;
    let mut sql =
        ex.sql("SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id");
    sql.push_in(ids()).push(" ORDER BY param_key");
    let mut params = key_values(ex, &sql).await?;
    let mut sql = ex.sql(
        "SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, run_id \
         FROM logged_model_metrics WHERE model_id",
    );
    sql.push_in(ids())
        .push(" ORDER BY metric_name, metric_step, metric_timestamp_ms");
    let mut metrics: HashMap<String, Vec<Metric>> = HashMap::new();
    for m in ex
        .fetch(&sql, |r| {
            Ok(Metric {
                key: r.text(1)?,
                value: r.opt_real(2)?.unwrap_or(f64::NAN),
                timestamp: r.int(3)?,
                step: r.int(4)?,
                run_id: r.opt_text(5)?,
                // MLflow names the model on each of its metrics.
                model_id: Some(r.text(0)?),
            })
        })
        .await?
    {
        let id = m.model_id.clone().unwrap_or_default();
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

pub(crate) async fn get<E: Exec>(
    ex: &mut E,
    model_id: &str,
    allow_deleted: bool,
) -> Result<Option<LoggedModel>> {
    let mut sql = ex.sql(&format!(
        "SELECT {LOGGED_MODEL_COLUMNS} FROM logged_models m WHERE m.model_id = "
    ));
    sql.push_bind(model_id);
    if !allow_deleted {
        sql.push(" AND (m.lifecycle_stage IS NULL OR m.lifecycle_stage != 'deleted')");
    }
    let infos = ex.fetch(&sql, info).await?;
    Ok(complete(ex, infos).await?.pop())
}

async fn require<E: Exec>(ex: &mut E, model_id: &str) -> Result<LoggedModel> {
    get(ex, model_id, false)
        .await?
        .ok_or_else(|| not_found(model_id))
}

/// The experiment of a live logged model, or RESOURCE_DOES_NOT_EXIST.
async fn experiment_of<E: Exec>(ex: &mut E, model_id: &str) -> Result<i64> {
    let sql = ex
        .sql(
            "SELECT experiment_id FROM logged_models WHERE model_id = ?1 \
             AND (lifecycle_stage IS NULL OR lifecycle_stage != 'deleted')",
        )
        .arg(model_id);
    ex.fetch_optional(&sql, |r| r.int(0))
        .await?
        .ok_or_else(|| not_found(model_id))
}

/// Inserts or overwrites the model's tags (`table` logged_model_tags, columns tag_*)
/// or params (logged_model_params, param_*).
async fn upsert<E: Exec>(
    ex: &mut E,
    (table, kind): (&str, &str),
    model_id: &str,
    experiment_id: i64,
    entries: &[KeyValue],
) -> Result<()> {
    let text = format!(
        "INSERT INTO {table} (model_id, experiment_id, {kind}_key, {kind}_value) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (model_id, {kind}_key) DO UPDATE SET \
         {kind}_value = excluded.{kind}_value"
    );
    for e in entries {
        let sql = ex
            .sql(&text)
            .arg(model_id)
            .arg(experiment_id)
            .arg(e.key.as_str())
            .arg(e.value.as_str());
        ex.execute(&sql).await?;
    }
    Ok(())
}

const TAGS: (&str, &str) = ("logged_model_tags", "tag");
const PARAMS: (&str, &str) = ("logged_model_params", "param");

/// Records the points of `metrics` that name a logged model for that model too, as
/// MLflow's `log_batch` does; called inside the batch's write.
pub(crate) async fn log_model_metrics<E: Exec>(
    ex: &mut E,
    run_id: &str,
    metrics: &[Metric],
) -> Result<()> {
    let sql = ex
        .sql("SELECT experiment_id FROM runs WHERE run_uuid = ?1")
        .arg(run_id);
    let Some(Some(experiment_id)) = ex.fetch_optional(&sql, |r| r.opt_int(0)).await? else {
        return Ok(());
    };
    for m in metrics {
        if let Some(model_id) = &m.model_id {
            let (value, is_nan) = sanitize(m.value);
            let sql = ex
                .sql(
                    "INSERT INTO logged_model_metrics (model_id, metric_name, \
                     metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                )
                .arg(model_id.as_str())
                .arg(m.key.as_str())
                .arg(m.timestamp)
                .arg(m.step)
                .arg((!is_nan).then_some(value))
                .arg(experiment_id)
                .arg(run_id);
            ex.execute(&sql).await?;
        }
    }
    Ok(())
}

pub(crate) async fn create<E: Exec>(ex: &mut E, new: &NewLoggedModel) -> Result<LoggedModel> {
    let sql = ex
        .sql(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, \
             creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, \
             model_type, source_run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 'active', ?7, ?8)",
        )
        .arg(new.model_id.as_str())
        .arg(new.experiment_id)
        .arg(new.name.as_str())
        .arg(new.artifact_location.as_str())
        .arg(new.now_ms)
        .arg(LoggedModelStatus::Pending.number())
        .arg(&new.model_type)
        .arg(&new.source_run_id);
    ex.execute(&sql).await?;
    upsert(ex, PARAMS, &new.model_id, new.experiment_id, &new.params).await?;
    upsert(ex, TAGS, &new.model_id, new.experiment_id, &new.tags).await?;
    require(ex, &new.model_id).await
}

pub(crate) async fn finalize<E: Exec>(
    ex: &mut E,
    model_id: &str,
    status: LoggedModelStatus,
    now_ms: i64,
) -> Result<LoggedModel> {
    experiment_of(ex, model_id).await?;
    let sql = ex
        .sql(
            "UPDATE logged_models SET status = ?2, last_updated_timestamp_ms = ?3 \
             WHERE model_id = ?1",
        )
        .arg(model_id)
        .arg(status.number())
        .arg(now_ms);
    ex.execute(&sql).await?;
    require(ex, model_id).await
}

pub(crate) async fn set_tags<E: Exec>(ex: &mut E, model_id: &str, tags: &[KeyValue]) -> Result<()> {
    let experiment_id = experiment_of(ex, model_id).await?;
    upsert(ex, TAGS, model_id, experiment_id, tags).await
}

pub(crate) async fn log_params<E: Exec>(
    ex: &mut E,
    model_id: &str,
    params: &[KeyValue],
) -> Result<()> {
    let experiment_id = experiment_of(ex, model_id).await?;
    // A model's params are immutable, as a run's are: MLflow refuses a new value (its
    // primary key does, with a 400 BAD_REQUEST); the same value again changes nothing.
    for p in params {
        let sql = ex
            .sql("SELECT param_value FROM logged_model_params WHERE model_id = ?1 AND param_key = ?2")
            .arg(model_id)
            .arg(p.key.as_str());
        if let Some(old) = ex.fetch_optional(&sql, |r| r.opt_text(0)).await? {
            let old = old.unwrap_or_default();
            if old != p.value {
                return Err(MlflowError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "Changing param values is not allowed. Param with key='{}' was already \
                         logged with value='{old}' for logged model ID='{model_id}'. \
                         Attempted logging new value '{}'.",
                        p.key, p.value
                    ),
                )
                .into());
            }
        }
    }
    upsert(ex, PARAMS, model_id, experiment_id, params).await
}

pub(crate) async fn delete_tag<E: Exec>(ex: &mut E, model_id: &str, key: &str) -> Result<bool> {
    experiment_of(ex, model_id).await?;
    let sql = ex
        .sql("DELETE FROM logged_model_tags WHERE model_id = ?1 AND tag_key = ?2")
        .arg(model_id)
        .arg(key);
    Ok(ex.execute(&sql).await? > 0)
}

/// Deletes a model; deleting one already deleted succeeds and changes nothing, as in
/// MLflow (only a model that never existed is not found).
pub(crate) async fn delete<E: Exec>(ex: &mut E, model_id: &str, now_ms: i64) -> Result<()> {
    let exists = ex
        .sql("SELECT 1 FROM logged_models WHERE model_id = ?1")
        .arg(model_id);
    if ex.fetch_optional(&exists, |r| r.int(0)).await?.is_none() {
        return Err(not_found(model_id));
    }
    let sql = ex
        .sql(
            "UPDATE logged_models SET lifecycle_stage = ?2, last_updated_timestamp_ms = ?3 \
             WHERE model_id = ?1 AND (lifecycle_stage IS NULL OR lifecycle_stage != ?2)",
        )
        .arg(model_id)
        .arg(LifecycleStage::Deleted.as_str())
        .arg(now_ms);
    ex.execute(&sql).await?;
    Ok(())
}

pub(crate) async fn search<E: Exec>(
    ex: &mut E,
    s: &LoggedModelSearch,
) -> Result<Page<LoggedModel>> {
    let mut sql = ex.sql(&format!(
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
    let (infos, has_more) = fetch_page(ex, &sql, s.max_results, info).await?;
    let items = complete(ex, infos).await?;
    Ok(page(items, s.offset, s.max_results, has_more))
}

/// Implements [`LoggedModelStore`](crate::LoggedModelStore) for a store with `$read`
/// and `$write` macros (see `lite_read`, `pg_write`).
macro_rules! logged_model_store {
    ($store:ty, $read:ident, $write:ident) => {
        const _: () = {
            use cairn_core::entities::{KeyValue, Page};
            use cairn_core::logged_model::{LoggedModel, LoggedModelStatus};
            use $crate::sql::logged_models as script;
            use $crate::types::{LoggedModelSearch, NewLoggedModel};
            use $crate::Result;

            #[async_trait::async_trait]
            impl $crate::LoggedModelStore for $store {
                async fn create_logged_model(&self, new: NewLoggedModel) -> Result<LoggedModel> {
                    $write!(self, |ex| script::create(ex, &new).await)
                }

                async fn get_logged_model(
                    &self,
                    model_id: &str,
                    allow_deleted: bool,
                ) -> Result<Option<LoggedModel>> {
                    let model_id = model_id.to_string();
                    $read!(self, |ex| script::get(ex, &model_id, allow_deleted).await)
                }

                async fn finalize_logged_model(
                    &self,
                    model_id: &str,
                    status: LoggedModelStatus,
                    now_ms: i64,
                ) -> Result<LoggedModel> {
                    let model_id = model_id.to_string();
                    $write!(self, |ex| script::finalize(ex, &model_id, status, now_ms)
                        .await)
                }

                async fn set_logged_model_tags(
                    &self,
                    model_id: &str,
                    tags: &[KeyValue],
                ) -> Result<()> {
                    let (model_id, tags) = (model_id.to_string(), tags.to_vec());
                    $write!(self, |ex| script::set_tags(ex, &model_id, &tags).await)
                }

                async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<bool> {
                    let (model_id, key) = (model_id.to_string(), key.to_string());
                    $write!(self, |ex| script::delete_tag(ex, &model_id, &key).await)
                }

                async fn log_logged_model_params(
                    &self,
                    model_id: &str,
                    params: &[KeyValue],
                ) -> Result<()> {
                    let (model_id, params) = (model_id.to_string(), params.to_vec());
                    $write!(self, |ex| script::log_params(ex, &model_id, &params).await)
                }

                async fn delete_logged_model(&self, model_id: &str, now_ms: i64) -> Result<()> {
                    let model_id = model_id.to_string();
                    $write!(self, |ex| script::delete(ex, &model_id, now_ms).await)
                }

                async fn search_logged_models(
                    &self,
                    s: &LoggedModelSearch,
                ) -> Result<Page<LoggedModel>> {
                    let s = s.clone();
                    $read!(self, |ex| script::search(ex, &s).await)
                }
            }
        };
    };
}
pub(crate) use logged_model_store;
