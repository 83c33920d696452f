//! [`TrackingStore`] on PostgreSQL.
//!
//! Every write is one transaction (see [`write_tx`]); reads run on the pool. Batches
//! reach the server as arrays (`UNNEST`), one statement per table, so a log-batch of
//! 1,000 points is a handful of round trips however large it is.

use std::collections::HashMap;

use async_trait::async_trait;
use cairn_core::entities::{
    Dataset, DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput,
    Page, Run, RunData, RunInfo, RunInputs, RunOutputs, RunStatus, RUN_NAME_TAG,
};
use cairn_core::{page_token, MlflowError};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor};

use super::exec::{query, write_tx, Cols};
use super::PgStore;
use crate::shared::{
    attach_dataset_inputs, edges_sql, experiment_exists, latest_per_key, param_changed, sanitize,
    sort_edges, Edge, EXPERIMENT_COLUMNS, RUN_COLUMNS,
};
use crate::sql::search::{self, RunSet};
use crate::sql::Sql;
use crate::sqlite::{join_uri, now_ms};
use crate::types::{ExperimentSearch, HistoryRange, NewExperiment, NewRun, RunSearch};
use crate::{Result, TrackingStore};

/// Reads a metric from columns `key, value, timestamp, step, is_nan` at `at..`.
fn metric_at(row: &PgRow, at: usize, run_id: Option<String>) -> Result<Metric> {
    let is_nan = row.boolean(at + 4)?;
    let value = row.opt_real(at + 1)?.unwrap_or(0.0);
    Ok(Metric {
        key: row.text(at)?,
        value: if is_nan { f64::NAN } else { value },
        timestamp: row.opt_int(at + 2)?.unwrap_or(0),
        step: row.int(at + 3)?,
        run_id,
        model_id: None,
    })
}

/// Reads [`RUN_COLUMNS`].
fn run_info(row: &PgRow) -> Result<RunInfo> {
    let run_id = row.text(0)?;
    Ok(RunInfo {
        run_uuid: run_id.clone(),
        run_id,
        run_name: row.text_or_empty(1)?,
        experiment_id: row.opt_int(2)?.unwrap_or(0).to_string(),
        user_id: row.text_or_empty(3)?,
        status: RunStatus::parse(&row.text_or_empty(4)?).unwrap_or(RunStatus::Running),
        start_time: row.opt_int(5)?,
        end_time: row.opt_int(6)?,
        artifact_uri: row.text_or_empty(7)?,
        lifecycle_stage: LifecycleStage::parse(&row.text_or_empty(8)?)
            .unwrap_or(LifecycleStage::Active),
    })
}

/// Reads [`EXPERIMENT_COLUMNS`].
fn experiment(row: &PgRow) -> Result<Experiment> {
    Ok(Experiment {
        experiment_id: row.int(0)?.to_string(),
        name: row.text(1)?,
        artifact_location: row.opt_text(2)?,
        lifecycle_stage: LifecycleStage::parse(&row.text_or_empty(3)?)
            .unwrap_or(LifecycleStage::Active),
        creation_time: row.opt_int(4)?,
        last_update_time: row.opt_int(5)?,
        tags: Vec::new(),
    })
}

pub(super) async fn fetch<'e, T>(
    ex: impl PgExecutor<'e>,
    sql: &Sql,
    f: impl Fn(&PgRow) -> Result<T>,
) -> Result<Vec<T>> {
    query(sql).fetch_all(ex).await?.iter().map(f).collect()
}

/// `(key, value)` rows of a key/value table for a set of owners, grouped by owner.
async fn key_values(
    conn: &mut PgConnection,
    sql: &str,
    owners: &[String],
) -> Result<HashMap<String, Vec<KeyValue>>> {
    let rows = sqlx::query(sql).bind(owners).fetch_all(conn).await?;
    let mut grouped: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for r in &rows {
        grouped
            .entry(r.text(0)?)
            .or_default()
            .push(KeyValue::new(r.text(1)?, r.text_or_empty(2)?));
    }
    Ok(grouped)
}

async fn run_info_by_id(conn: &mut PgConnection, run_id: &str) -> Result<Option<RunInfo>> {
    let row = sqlx::query(&format!(
        "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = $1"
    ))
    .bind(run_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(run_info).transpose()
}

async fn attach_experiment_tags(
    conn: &mut PgConnection,
    experiments: &mut [Experiment],
) -> Result<()> {
    if experiments.is_empty() {
        return Ok(());
    }
    let ids: Vec<i32> = experiments
        .iter()
        .map(|e| e.experiment_id.parse().unwrap_or(-1))
        .collect();
    let rows = sqlx::query(
        "SELECT experiment_id, \"key\", value FROM experiment_tags \
         WHERE experiment_id = ANY($1) ORDER BY \"key\"",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for r in &rows {
        tags.entry(r.int(0)?.to_string())
            .or_default()
            .push(KeyValue::new(r.text(1)?, r.text_or_empty(2)?));
    }
    for e in experiments {
        e.tags = tags.remove(&e.experiment_id).unwrap_or_default();
    }
    Ok(())
}

async fn experiment_where(conn: &mut PgConnection, sql: Sql) -> Result<Option<Experiment>> {
    let mut found = fetch(&mut *conn, &sql, experiment).await?;
    attach_experiment_tags(conn, &mut found).await?;
    Ok(found.pop())
}

/// Fills data, inputs and outputs for runs whose infos were read already: one query
/// per kind of child row for the whole page, not per run.
async fn complete_runs(conn: &mut PgConnection, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
    let mut data: HashMap<String, RunData> = HashMap::new();
    let rows = sqlx::query(
        "SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM latest_metrics \
         WHERE run_uuid = ANY($1) ORDER BY \"key\"",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        data.entry(r.text(0)?)
            .or_default()
            .metrics
            .push(metric_at(r, 1, None)?);
    }
    for (id, kvs) in key_values(
        conn,
        "SELECT run_uuid, \"key\", value FROM params WHERE run_uuid = ANY($1) ORDER BY \"key\"",
        &ids,
    )
    .await?
    {
        data.entry(id).or_default().params = kvs;
    }
    for (id, kvs) in key_values(
        conn,
        "SELECT run_uuid, \"key\", value FROM tags WHERE run_uuid = ANY($1) ORDER BY \"key\"",
        &ids,
    )
    .await?
    {
        data.entry(id).or_default().tags = kvs;
    }
    // Dataset inputs (with their tags), model inputs and model outputs all live in
    // MLflow's `inputs` edge table; its physical order is the order they were logged.
    let rows = sqlx::query(&edges_sql("= ANY($1)", "= ANY($1)", "i.ctid"))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    let mut edges = Vec::with_capacity(rows.len());
    for r in &rows {
        let dataset = match r.opt_text(5)? {
            Some(name) => Some(Dataset {
                name,
                digest: r.text_or_empty(6)?,
                source_type: r.text_or_empty(7)?,
                source: r.text_or_empty(8)?,
                schema: r.opt_text(9)?,
                profile: r.opt_text(10)?,
            }),
            None => None,
        };
        edges.push(Edge {
            input_uuid: r.text(0)?,
            source_type: r.text(1)?,
            source_id: r.text(2)?,
            destination_id: r.text(3)?,
            step: r.opt_int(4)?.unwrap_or(0),
            dataset,
        });
    }
    let mut inputs: HashMap<String, RunInputs> = HashMap::new();
    let mut outputs: HashMap<String, RunOutputs> = HashMap::new();
    let dataset_inputs = sort_edges(edges, &mut inputs, &mut outputs);
    if !dataset_inputs.is_empty() {
        let input_ids: Vec<String> = dataset_inputs.iter().map(|d| d.1.clone()).collect();
        let tags = key_values(
            conn,
            "SELECT input_uuid, name, value FROM input_tags WHERE input_uuid = ANY($1)",
            &input_ids,
        )
        .await?;
        attach_dataset_inputs(dataset_inputs, tags, &mut inputs);
    }
    Ok(infos
        .into_iter()
        .map(|info| Run {
            data: data.remove(&info.run_id).unwrap_or_default(),
            inputs: inputs.remove(&info.run_id).unwrap_or_default(),
            outputs: outputs.remove(&info.run_id).unwrap_or_default(),
            info,
        })
        .collect())
}

async fn upsert_run_tag(
    conn: &mut PgConnection,
    run_id: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tags (\"key\", value, run_uuid) VALUES ($1, $2, $3) \
         ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    if key == RUN_NAME_TAG {
        // The run's name column and its mlflow.runName tag are one fact, kept equal.
        sqlx::query("UPDATE runs SET name = $1 WHERE run_uuid = $2")
            .bind(value)
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn upsert_experiment_tag(
    conn: &mut PgConnection,
    id: i64,
    key: &str,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES ($1, $2, $3) \
         ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn create_experiment(
    conn: &mut PgConnection,
    new: &NewExperiment,
    root: &str,
) -> Result<String> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = $1 AND workspace = 'default')",
    )
    .bind(&new.name)
    .fetch_one(&mut *conn)
    .await?;
    if exists {
        return Err(experiment_exists(&new.name));
    }
    let id: i32 = sqlx::query_scalar(
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, \
         last_update_time, workspace) VALUES ($1, $2, 'active', $3, $3, 'default') \
         RETURNING experiment_id",
    )
    .bind(&new.name)
    .bind(&new.artifact_location)
    .bind(new.now_ms)
    .fetch_one(&mut *conn)
    .await?;
    let id = i64::from(id);
    if new.artifact_location.is_none() {
        sqlx::query("UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2")
            .bind(join_uri(root, &id.to_string()))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let mut tags: Vec<&KeyValue> = new.tags.iter().collect();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    for tag in tags {
        upsert_experiment_tag(conn, id, &tag.key, &tag.value).await?;
    }
    Ok(id.to_string())
}

async fn rename_experiment(conn: &mut PgConnection, id: i64, new_name: &str) -> Result<()> {
    let clash: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = $1 AND workspace = 'default' \
         AND experiment_id != $2)",
    )
    .bind(new_name)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    if clash {
        return Err(experiment_exists(new_name));
    }
    sqlx::query("UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3")
        .bind(new_name)
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn set_experiment_lifecycle(
    conn: &mut PgConnection,
    id: i64,
    stage: LifecycleStage,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 \
         WHERE experiment_id = $3",
    )
    .bind(stage.as_str())
    .bind(now_ms)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let deleted_time = (stage == LifecycleStage::Deleted).then_some(now_ms);
    sqlx::query("UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3")
        .bind(stage.as_str())
        .bind(deleted_time)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn create_run(conn: &mut PgConnection, new: &NewRun) -> Result<Run> {
    sqlx::query(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, \
         user_id, status, start_time, end_time, source_version, lifecycle_stage, \
         artifact_uri, experiment_id, deleted_time) VALUES ($1, $2, 'UNKNOWN', '', '', \
         $3, 'RUNNING', $4, NULL, '', 'active', $5, $6, NULL)",
    )
    .bind(&new.run_id)
    .bind(&new.run_name)
    .bind(&new.user_id)
    .bind(new.start_time)
    .bind(&new.artifact_uri)
    .bind(new.experiment_id)
    .execute(&mut *conn)
    .await?;
    let mut tags = new.tags.clone();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    for tag in &tags {
        upsert_run_tag(conn, &new.run_id, &tag.key, &tag.value).await?;
    }
    let info = run_info_by_id(conn, &new.run_id).await?.ok_or_else(|| {
        MlflowError::internal(format!("run {} vanished after insert", new.run_id))
    })?;
    Ok(Run {
        info,
        data: RunData {
            tags,
            ..RunData::default()
        },
        inputs: RunInputs::default(),
        outputs: RunOutputs::default(),
    })
}

async fn update_run(
    conn: &mut PgConnection,
    run_id: &str,
    status: Option<RunStatus>,
    end_time: Option<i64>,
    run_name: Option<&str>,
) -> Result<RunInfo> {
    sqlx::query(
        "UPDATE runs SET status = COALESCE($1, status), end_time = COALESCE($2, end_time) \
         WHERE run_uuid = $3",
    )
    .bind(status.map(|s| s.as_str()))
    .bind(end_time)
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    if let Some(name) = run_name {
        upsert_run_tag(conn, run_id, RUN_NAME_TAG, name).await?;
    }
    run_info_by_id(conn, run_id)
        .await?
        .ok_or_else(|| MlflowError::not_found(format!("Run with id={run_id} not found")).into())
}

async fn log_batch(
    conn: &mut PgConnection,
    run_id: &str,
    metrics: &[Metric],
    params: &[KeyValue],
    tags: &[KeyValue],
) -> Result<()> {
    if !params.is_empty() {
        // Insert what is new, then compare every requested key with what the table
        // holds: a value another writer logged first is seen here too.
        let keys: Vec<&str> = params.iter().map(|p| p.key.as_str()).collect();
        let values: Vec<&str> = params.iter().map(|p| p.value.as_str()).collect();
        sqlx::query(
            "INSERT INTO params (\"key\", value, run_uuid) \
             SELECT k, v, $3 FROM UNNEST($1::text[], $2::text[]) AS p(k, v) \
             ON CONFLICT (\"key\", run_uuid) DO NOTHING",
        )
        .bind(&keys)
        .bind(&values)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
        let rows = sqlx::query(
            "SELECT \"key\", value FROM params WHERE run_uuid = $1 AND \"key\" = ANY($2)",
        )
        .bind(run_id)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await?;
        let stored: HashMap<String, String> = rows
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect::<Result<_>>()?;
        for p in params {
            if let Some(old) = stored.get(&p.key) {
                if *old != p.value {
                    return Err(param_changed(&p.key, old, run_id, &p.value));
                }
            }
        }
    }
    if !metrics.is_empty() {
        let n = metrics.len();
        let (mut keys, mut values, mut stamps, mut steps, mut nans) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for m in metrics {
            let (value, is_nan) = sanitize(m.value);
            keys.push(m.key.as_str());
            values.push(value);
            stamps.push(m.timestamp);
            steps.push(m.step);
            nans.push(is_nan);
        }
        sqlx::query(
            "INSERT INTO metrics (\"key\", value, timestamp, run_uuid, step, is_nan) \
             SELECT k, v, t, $6, s, n \
             FROM UNNEST($1::text[], $2::float8[], $3::int8[], $4::int8[], $5::bool[]) \
             AS m(k, v, t, s, n) ON CONFLICT DO NOTHING",
        )
        .bind(&keys)
        .bind(&values)
        .bind(&stamps)
        .bind(&steps)
        .bind(&nans)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
        let latest = latest_per_key(metrics);
        let keys: Vec<&str> = latest.iter().map(|l| l.0).collect();
        let steps: Vec<i64> = latest.iter().map(|l| l.1 .0).collect();
        let stamps: Vec<i64> = latest.iter().map(|l| l.1 .1).collect();
        let values: Vec<f64> = latest.iter().map(|l| l.1 .2).collect();
        let nans: Vec<bool> = latest.iter().map(|l| l.1 .3).collect();
        sqlx::query(
            "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) \
             SELECT k, v, t, s, n, $6 \
             FROM UNNEST($1::text[], $2::float8[], $3::int8[], $4::int8[], $5::bool[]) \
             AS m(k, v, t, s, n) \
             ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value, \
             timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan \
             WHERE (excluded.step, excluded.timestamp, excluded.value) \
             > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
        )
        .bind(&keys)
        .bind(&values)
        .bind(&stamps)
        .bind(&steps)
        .bind(&nans)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    }
    let mut tags: Vec<&KeyValue> = tags.iter().collect();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    for t in tags {
        upsert_run_tag(conn, run_id, &t.key, &t.value).await?;
    }
    if metrics.iter().any(|m| m.model_id.is_some()) {
        super::logged_models::log_model_metrics(conn, run_id, metrics).await?;
    }
    Ok(())
}

async fn log_inputs(
    conn: &mut PgConnection,
    run_id: &str,
    experiment_id: i64,
    datasets: &[DatasetInput],
    models: &[ModelInput],
) -> Result<()> {
    for di in datasets {
        let d = &di.dataset;
        // Two runs logging one new dataset at once: the second insert does nothing,
        // and the select after it finds the first one's row.
        sqlx::query(
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, \
             dataset_source_type, dataset_source, dataset_schema, dataset_profile) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(experiment_id)
        .bind(&d.name)
        .bind(&d.digest)
        .bind(&d.source_type)
        .bind(&d.source)
        .bind(&d.schema)
        .bind(&d.profile)
        .execute(&mut *conn)
        .await?;
        let dataset_uuid: String = sqlx::query_scalar(
            "SELECT dataset_uuid FROM datasets WHERE experiment_id = $1 AND name = $2 \
             AND digest = $3",
        )
        .bind(experiment_id)
        .bind(&d.name)
        .bind(&d.digest)
        .fetch_one(&mut *conn)
        .await?;
        let input_uuid = uuid::Uuid::new_v4().simple().to_string();
        let linked = sqlx::query(
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
             destination_id, step) VALUES ($1, 'DATASET', $2, 'RUN', $3, 0) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&input_uuid)
        .bind(&dataset_uuid)
        .bind(run_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if linked == 0 {
            continue;
        }
        for tag in &di.tags {
            sqlx::query(
                "INSERT INTO input_tags (input_uuid, name, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value",
            )
            .bind(&input_uuid)
            .bind(&tag.key)
            .bind(&tag.value)
            .execute(&mut *conn)
            .await?;
        }
    }
    for m in models {
        sqlx::query(
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
             destination_id, step) VALUES ($1, 'RUN_INPUT', $2, 'MODEL_INPUT', $3, 0) \
             ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(run_id)
        .bind(&m.model_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn log_outputs(conn: &mut PgConnection, run_id: &str, models: &[ModelOutput]) -> Result<()> {
    for m in models {
        sqlx::query(
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
             destination_id, step) VALUES ($1, 'RUN_OUTPUT', $2, 'MODEL_OUTPUT', $3, $4) \
             ON CONFLICT (source_type, source_id, destination_type, destination_id) \
             DO UPDATE SET step = excluded.step",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(run_id)
        .bind(&m.model_id)
        .bind(m.step)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl TrackingStore for PgStore {
    async fn create_experiment(&self, new: NewExperiment) -> Result<String> {
        let root = self.default_artifact_root.as_str();
        write_tx!(self.pool, |c| create_experiment(c, &new, root).await)
    }

    async fn get_experiment(&self, experiment_id: i64) -> Result<Option<Experiment>> {
        let mut conn = self.pool.acquire().await?;
        let sql = Sql::postgres(format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments e WHERE e.experiment_id = $1"
        ))
        .arg(experiment_id);
        experiment_where(&mut conn, sql).await
    }

    async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        let mut conn = self.pool.acquire().await?;
        let sql = Sql::postgres(format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments e \
             WHERE e.name = $1 AND e.workspace = 'default'"
        ))
        .arg(name);
        experiment_where(&mut conn, sql).await
    }

    async fn search_experiments(&self, s: &ExperimentSearch) -> Result<Page<Experiment>> {
        let mut sql = Sql::postgres(format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments e WHERE e.lifecycle_stage IN "
        ));
        sql.push_list(s.view_type.stages().iter().map(|s| s.to_string()));
        for c in &s.filter {
            sql.push(" AND ");
            search::push_experiment_clause(&mut sql, c);
        }
        search::push_experiment_order_by(&mut sql, &s.order_by);
        sql.push_page(s.max_results, s.offset);
        let mut conn = self.pool.acquire().await?;
        let mut items = fetch(&mut *conn, &sql, experiment).await?;
        let has_more = items.len() as u64 > s.max_results;
        items.truncate(s.max_results as usize);
        attach_experiment_tags(&mut conn, &mut items).await?;
        let next_page_token = page_token::next(s.offset, items.len(), s.max_results, has_more);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    async fn rename_experiment(&self, experiment_id: i64, new_name: &str) -> Result<()> {
        write_tx!(self.pool, |c| rename_experiment(c, experiment_id, new_name)
            .await)
    }

    async fn set_experiment_lifecycle(
        &self,
        experiment_id: i64,
        stage: LifecycleStage,
        now_ms: i64,
    ) -> Result<()> {
        write_tx!(self.pool, |c| set_experiment_lifecycle(
            c,
            experiment_id,
            stage,
            now_ms
        )
        .await)
    }

    async fn set_experiment_tag(&self, experiment_id: i64, key: &str, value: &str) -> Result<()> {
        write_tx!(self.pool, |c| {
            upsert_experiment_tag(c, experiment_id, key, value).await
        })
    }

    async fn delete_experiment_tag(&self, experiment_id: i64, key: &str) -> Result<bool> {
        let n =
            sqlx::query("DELETE FROM experiment_tags WHERE experiment_id = $1 AND \"key\" = $2")
                .bind(experiment_id)
                .bind(key)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n > 0)
    }

    async fn create_run(&self, new: NewRun) -> Result<Run> {
        write_tx!(self.pool, |c| create_run(c, &new).await)
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<Run>> {
        let mut conn = self.pool.acquire().await?;
        match run_info_by_id(&mut conn, run_id).await? {
            Some(info) => Ok(complete_runs(&mut conn, vec![info]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn get_run_info(&self, run_id: &str) -> Result<Option<RunInfo>> {
        let mut conn = self.pool.acquire().await?;
        run_info_by_id(&mut conn, run_id).await
    }

    async fn update_run(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        write_tx!(self.pool, |c| update_run(
            c, run_id, status, end_time, run_name
        )
        .await)
    }

    async fn set_run_lifecycle(
        &self,
        run_id: &str,
        stage: LifecycleStage,
        deleted_time: Option<i64>,
    ) -> Result<()> {
        sqlx::query("UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_uuid = $3")
            .bind(stage.as_str())
            .bind(deleted_time)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()> {
        write_tx!(self.pool, |c| log_batch(c, run_id, metrics, params, tags)
            .await)
    }

    async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<bool> {
        let n = sqlx::query("DELETE FROM tags WHERE run_uuid = $1 AND \"key\" = $2")
            .bind(run_id)
            .bind(key)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    async fn log_inputs(
        &self,
        run_id: &str,
        experiment_id: i64,
        datasets: &[DatasetInput],
        models: &[ModelInput],
    ) -> Result<()> {
        write_tx!(self.pool, |c| log_inputs(
            c,
            run_id,
            experiment_id,
            datasets,
            models
        )
        .await)
    }

    async fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        write_tx!(self.pool, |c| log_outputs(c, run_id, models).await)
    }

    async fn search_runs(&self, s: &RunSearch) -> Result<Page<Run>> {
        if s.experiment_ids.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_page_token: None,
            });
        }
        // Phase 1 finds the page's run ids in order; phase 2 reads those runs' rows
        // and children.
        let mut conn = self.pool.acquire().await?;
        let (max_results, offset) = (s.max_results, s.offset);
        let mut ids: Vec<String> = if search::lead_metric(&s.order_by).is_some() {
            let limit = max_results + 1;
            let sql = search::run_ids_sql(Sql::postgres(""), s, RunSet::Led, false, limit, offset);
            let mut ids = fetch(&mut *conn, &sql, |r| r.text(0)).await?;
            if (ids.len() as u64) < limit {
                // The page runs past the runs with a number: continue into the rest,
                // from where this page starts in it.
                let rest_offset = if ids.is_empty() && offset > 0 {
                    let sql = search::run_ids_sql(Sql::postgres(""), s, RunSet::Led, true, 0, 0);
                    let led = fetch(&mut *conn, &sql, |r| r.int(0))
                        .await?
                        .pop()
                        .unwrap_or(0);
                    offset.saturating_sub(led as u64)
                } else {
                    0
                };
                let sql = search::run_ids_sql(
                    Sql::postgres(""),
                    s,
                    RunSet::Rest,
                    false,
                    limit - ids.len() as u64,
                    rest_offset,
                );
                ids.extend(fetch(&mut *conn, &sql, |r| r.text(0)).await?);
            }
            ids
        } else {
            let sql = search::run_ids_sql(
                Sql::postgres(""),
                s,
                RunSet::All,
                false,
                max_results + 1,
                offset,
            );
            fetch(&mut *conn, &sql, |r| r.text(0)).await?
        };
        let has_more = ids.len() as u64 > s.max_results;
        ids.truncate(s.max_results as usize);
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ANY($1)"
        ))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        let mut infos: HashMap<String, RunInfo> = HashMap::with_capacity(ids.len());
        for r in &rows {
            let info = run_info(r)?;
            infos.insert(info.run_id.clone(), info);
        }
        let ordered: Vec<RunInfo> = ids.iter().filter_map(|id| infos.remove(id)).collect();
        let items = complete_runs(&mut conn, ordered).await?;
        let next_page_token = page_token::next(s.offset, items.len(), s.max_results, has_more);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Metric>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT \"key\", value, timestamp, step, is_nan FROM metrics WHERE run_uuid = $1 \
             AND \"key\" = $2 ORDER BY timestamp, step, value LIMIT $3 OFFSET $4",
        )
        .bind(run_id)
        .bind(key)
        .bind(limit)
        .bind(offset as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| metric_at(r, 0, None)).collect()
    }

    async fn metric_history_range(&self, range: &HistoryRange) -> Result<Vec<Metric>> {
        let rows = sqlx::query(
            "SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM metrics \
             WHERE \"key\" = $1 AND run_uuid = ANY($2) AND step >= COALESCE($3, step) \
             AND step <= COALESCE($4, step) ORDER BY run_uuid, step, timestamp, value",
        )
        .bind(&range.key)
        .bind(&range.run_ids)
        .bind(range.start_step)
        .bind(range.end_step)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| metric_at(r, 1, Some(r.text(0)?)))
            .collect()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn record_gauges(&self) {
        let name = crate::metric_names::POSTGRES_POOL;
        let size = self.pool.size() as f64;
        let idle = self.pool.num_idle() as f64;
        metrics::gauge!(name, "state" => "idle").set(idle);
        metrics::gauge!(name, "state" => "in_use").set(size - idle);
        metrics::gauge!(name, "state" => "max")
            .set(f64::from(self.pool.options().get_max_connections()));
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
