//! [`TrackingStore`] on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use cairn_core::entities::{
    Dataset, DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput,
    Page, Run, RunData, RunInfo, RunInputs, RunOutputs, RunStatus, RUN_NAME_TAG,
};
use cairn_core::{page_token, MlflowError};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::{join_uri, now_ms, SqliteStore};
use crate::shared::{
    attach_dataset_inputs, edges_sql, experiment_exists, latest_per_key, param_changed, sanitize,
    sort_edges, Edge, EXPERIMENT_COLUMNS, RUN_COLUMNS,
};
use crate::sql::search::{self, RunSet};
use crate::sql::{Bind, Sql};
use crate::types::{ExperimentSearch, HistoryRange, NewExperiment, NewRun, RunSearch};
use crate::{Result, TrackingStore};

/// Reads a metric from columns `key, value, timestamp, step, is_nan` at `at..`.
fn metric_at(row: &Row<'_>, at: usize, run_id: Option<String>) -> rusqlite::Result<Metric> {
    let is_nan: bool = row.get(at + 4)?;
    let value: f64 = row.get(at + 1)?;
    Ok(Metric {
        key: row.get(at)?,
        value: if is_nan { f64::NAN } else { value },
        timestamp: row.get::<_, Option<i64>>(at + 2)?.unwrap_or(0),
        step: row.get(at + 3)?,
        run_id,
        model_id: None,
    })
}

pub(super) fn opt_text(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    Ok(row.get::<_, Option<String>>(idx)?.unwrap_or_default())
}

/// Reads [`RUN_COLUMNS`].
fn run_info(row: &Row<'_>) -> rusqlite::Result<RunInfo> {
    let run_id: String = row.get(0)?;
    Ok(RunInfo {
        run_uuid: run_id.clone(),
        run_id,
        run_name: opt_text(row, 1)?,
        experiment_id: row.get::<_, Option<i64>>(2)?.unwrap_or(0).to_string(),
        user_id: opt_text(row, 3)?,
        status: RunStatus::parse(&opt_text(row, 4)?).unwrap_or(RunStatus::Running),
        start_time: row.get(5)?,
        end_time: row.get(6)?,
        artifact_uri: opt_text(row, 7)?,
        lifecycle_stage: LifecycleStage::parse(&opt_text(row, 8)?)
            .unwrap_or(LifecycleStage::Active),
    })
}

/// Reads [`EXPERIMENT_COLUMNS`].
fn experiment(row: &Row<'_>) -> rusqlite::Result<Experiment> {
    Ok(Experiment {
        experiment_id: row.get::<_, i64>(0)?.to_string(),
        name: row.get(1)?,
        artifact_location: row.get(2)?,
        lifecycle_stage: LifecycleStage::parse(&opt_text(row, 3)?)
            .unwrap_or(LifecycleStage::Active),
        creation_time: row.get(4)?,
        last_update_time: row.get(5)?,
        tags: Vec::new(),
    })
}

pub(super) fn query_all<T>(
    conn: &Connection,
    sql: &Sql,
    f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(&sql.text)?;
    let rows = stmt.query_map(params_from_iter(sql.params.iter()), f)?;
    Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
}

pub(super) fn run_info_by_id(conn: &Connection, run_id: &str) -> Result<Option<RunInfo>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?1"
        ))?
        .query_row([run_id], run_info)
        .optional()?)
}

fn attach_experiment_tags(conn: &Connection, experiments: &mut [Experiment]) -> Result<()> {
    if experiments.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::sqlite(
        "SELECT experiment_id, \"key\", value FROM experiment_tags WHERE experiment_id IN ",
    );
    sql.push_list(
        experiments
            .iter()
            .map(|e| e.experiment_id.parse::<i64>().unwrap_or(-1)),
    );
    sql.push(" ORDER BY \"key\"");
    let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for (id, kv) in query_all(conn, &sql, |r| {
        Ok((
            r.get::<_, i64>(0)?.to_string(),
            KeyValue::new(r.get::<_, String>(1)?, opt_text(r, 2)?),
        ))
    })? {
        tags.entry(id).or_default().push(kv);
    }
    for e in experiments {
        e.tags = tags.remove(&e.experiment_id).unwrap_or_default();
    }
    Ok(())
}

fn experiment_where(conn: &Connection, clause: &str, value: Bind) -> Result<Option<Experiment>> {
    let mut sql = Sql::sqlite(format!(
        "SELECT {EXPERIMENT_COLUMNS} FROM experiments e WHERE {clause}"
    ));
    sql.params.push(value);
    let mut found = query_all(conn, &sql, experiment)?;
    attach_experiment_tags(conn, &mut found)?;
    Ok(found.pop())
}

/// Fills data, inputs and outputs for runs whose infos were read already: one query
/// per kind of child row for the whole page, not per run.
fn complete_runs(conn: &Connection, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
    let mut data: HashMap<String, RunData> = HashMap::new();
    let mut inputs: HashMap<String, RunInputs> = HashMap::new();
    let mut outputs: HashMap<String, RunOutputs> = HashMap::new();

    let mut edges: Vec<Edge> = Vec::new();
    // SQLite binds at most 32,766 values per statement; a page may hold 50,000 runs.
    for chunk in ids.chunks(400) {
        let mut sql = Sql::sqlite(
            "SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid IN ",
        );
        sql.push_list(chunk.iter().cloned());
        sql.push(" ORDER BY \"key\"");
        for (id, m) in query_all(conn, &sql, |r| {
            Ok((r.get::<_, String>(0)?, metric_at(r, 1, None)?))
        })? {
            data.entry(id).or_default().metrics.push(m);
        }
        for (table, is_param) in [("params", true), ("tags", false)] {
            let mut sql = Sql::sqlite(format!(
                "SELECT run_uuid, \"key\", value FROM {table} WHERE run_uuid IN "
            ));
            sql.push_list(chunk.iter().cloned());
            sql.push(" ORDER BY \"key\"");
            for (id, kv) in query_all(conn, &sql, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    KeyValue::new(r.get::<_, String>(1)?, opt_text(r, 2)?),
                ))
            })? {
                let d = data.entry(id).or_default();
                if is_param {
                    d.params.push(kv);
                } else {
                    d.tags.push(kv);
                }
            }
        }
        // Dataset inputs (with their tags), model inputs and model outputs all live in
        // MLflow's `inputs` edge table.
        // The chunk's ids are bound once and their numbered placeholders used twice.
        let list = format!(
            "IN ({})",
            (1..=chunk.len())
                .map(|n| format!("?{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut sql = Sql::sqlite(edges_sql(&list, &list, "i.rowid"));
        sql.params
            .extend(chunk.iter().map(|id| Bind::Text(id.clone())));
        edges.extend(query_all(conn, &sql, |r| {
            let dataset = match r.get::<_, Option<String>>(5)? {
                Some(name) => Some(Dataset {
                    name,
                    digest: opt_text(r, 6)?,
                    source_type: opt_text(r, 7)?,
                    source: opt_text(r, 8)?,
                    schema: r.get(9)?,
                    profile: r.get(10)?,
                }),
                None => None,
            };
            Ok(Edge {
                input_uuid: r.get(0)?,
                source_type: r.get(1)?,
                source_id: r.get(2)?,
                destination_id: r.get(3)?,
                step: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                dataset,
            })
        })?);
    }
    let dataset_inputs = sort_edges(edges, &mut inputs, &mut outputs);
    if !dataset_inputs.is_empty() {
        let mut sql =
            Sql::sqlite("SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN ");
        sql.push_list(dataset_inputs.iter().map(|d| d.1.clone()));
        let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
        for (id, kv) in query_all(conn, &sql, |r| {
            Ok((
                r.get::<_, String>(0)?,
                KeyValue::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?),
            ))
        })? {
            tags.entry(id).or_default().push(kv);
        }
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

fn upsert_run_tag(conn: &Connection, run_id: &str, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?1, ?2, ?3) \
         ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value, run_id])?;
    if key == RUN_NAME_TAG {
        // The run's name column and its mlflow.runName tag are one fact, kept equal.
        conn.prepare_cached("UPDATE runs SET name = ?1 WHERE run_uuid = ?2")?
            .execute(params![value, run_id])?;
    }
    Ok(())
}

fn upsert_experiment_tag(conn: &Connection, id: i64, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?1, ?2, ?3) \
         ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value, id])?;
    Ok(())
}

/// Rows per multi-row metric INSERT (6 values each, far below SQLite's bind limit).
const METRIC_ROWS_PER_INSERT: usize = 100;

fn multi_row_metric_insert(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT OR IGNORE INTO metrics (\"key\", value, timestamp, run_uuid, step, is_nan) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?)");
    }
    sql
}

/// One metric row's bound values, borrowing the strings (no copy per point).
fn metric_params<'a>(
    metrics: &'a [Metric],
    run_id: &'a str,
) -> impl Iterator<Item = rusqlite::types::ToSqlOutput<'a>> + 'a {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    metrics.iter().flat_map(move |m| {
        let (value, is_nan) = sanitize(m.value);
        [
            ToSqlOutput::Borrowed(ValueRef::Text(m.key.as_bytes())),
            ToSqlOutput::Owned(Value::Real(value)),
            ToSqlOutput::Owned(Value::Integer(m.timestamp)),
            ToSqlOutput::Borrowed(ValueRef::Text(run_id.as_bytes())),
            ToSqlOutput::Owned(Value::Integer(m.step)),
            ToSqlOutput::Owned(Value::Integer(is_nan as i64)),
        ]
    })
}

fn log_batch_sync(
    conn: &Connection,
    run_id: &str,
    metrics: &[Metric],
    params: &[KeyValue],
    tags: &[KeyValue],
) -> Result<()> {
    if !params.is_empty() {
        let mut existing =
            conn.prepare_cached("SELECT value FROM params WHERE run_uuid = ?1 AND \"key\" = ?2")?;
        let mut insert = conn
            .prepare_cached("INSERT INTO params (\"key\", value, run_uuid) VALUES (?1, ?2, ?3)")?;
        for p in params {
            let old: Option<String> = existing
                .query_row(params![run_id, p.key], |r| r.get(0))
                .optional()?;
            match old {
                Some(old) if old == p.value => {}
                Some(old) => return Err(param_changed(&p.key, &old, run_id, &p.value)),
                None => {
                    insert.execute(params![p.key, p.value, run_id])?;
                }
            }
        }
    }
    if !metrics.is_empty() {
        let latest = latest_per_key(metrics);
        // Full chunks go through one cached multi-row statement: far fewer VDBE
        // programs per point than one INSERT each.
        let mut chunks = metrics.chunks_exact(METRIC_ROWS_PER_INSERT);
        if chunks.len() > 0 {
            let mut insert =
                conn.prepare_cached(&multi_row_metric_insert(METRIC_ROWS_PER_INSERT))?;
            for chunk in &mut chunks {
                insert.execute(params_from_iter(metric_params(chunk, run_id)))?;
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut one = conn.prepare_cached(&multi_row_metric_insert(1))?;
            for m in rest {
                one.execute(params_from_iter(metric_params(
                    std::slice::from_ref(m),
                    run_id,
                )))?;
            }
        }
        let mut upsert = conn.prepare_cached(
            "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (\"key\", run_uuid) DO UPDATE SET \
             value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, \
             is_nan = excluded.is_nan WHERE (excluded.step, excluded.timestamp, excluded.value) \
             > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
        )?;
        for (key, (step, timestamp, value, is_nan)) in latest {
            upsert.execute(params![key, value, timestamp, step, is_nan, run_id])?;
        }
    }
    for t in tags {
        upsert_run_tag(conn, run_id, &t.key, &t.value)?;
    }
    if metrics.iter().any(|m| m.model_id.is_some()) {
        super::logged_models::log_model_metrics(conn, run_id, metrics)?;
    }
    Ok(())
}

#[async_trait]
impl TrackingStore for SqliteStore {
    async fn create_experiment(&self, new: NewExperiment) -> Result<String> {
        let root = self.default_artifact_root.clone();
        self.writer
            .run(move |conn| {
                let exists: bool = conn
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = ?1 AND workspace = 'default')",
                    )?
                    .query_row([&new.name], |r| r.get(0))?;
                if exists {
                    return Err(experiment_exists(&new.name));
                }
                let id: i64 = conn
                    .prepare_cached(
                        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, \
                         creation_time, last_update_time, workspace) \
                         VALUES (?1, ?2, 'active', ?3, ?3, 'default') RETURNING experiment_id",
                    )?
                    .query_row(params![new.name, new.artifact_location, new.now_ms], |r| r.get(0))?;
                if new.artifact_location.is_none() {
                    conn.prepare_cached(
                        "UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2",
                    )?
                    .execute(params![join_uri(&root, &id.to_string()), id])?;
                }
                for tag in &new.tags {
                    upsert_experiment_tag(conn, id, &tag.key, &tag.value)?;
                }
                Ok(id.to_string())
            })
            .await
    }

    async fn get_experiment(&self, experiment_id: i64) -> Result<Option<Experiment>> {
        self.readers
            .run(move |conn| {
                experiment_where(conn, "e.experiment_id = ?", Bind::Int(experiment_id))
            })
            .await
    }

    async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        let name = name.to_string();
        self.readers
            .run(move |conn| {
                experiment_where(
                    conn,
                    "e.name = ? AND e.workspace = 'default'",
                    Bind::Text(name),
                )
            })
            .await
    }

    async fn search_experiments(&self, s: &ExperimentSearch) -> Result<Page<Experiment>> {
        let mut sql = Sql::sqlite(format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments e WHERE e.lifecycle_stage IN "
        ));
        sql.push_list(s.view_type.stages().iter().map(|s| s.to_string()));
        for c in &s.filter {
            sql.push(" AND ");
            search::push_experiment_clause(&mut sql, c);
        }
        search::push_experiment_order_by(&mut sql, &s.order_by);
        sql.push_page(s.max_results, s.offset);
        let (max_results, offset) = (s.max_results, s.offset);
        self.readers
            .run(move |conn| {
                let mut items = query_all(conn, &sql, experiment)?;
                let has_more = items.len() as u64 > max_results;
                items.truncate(max_results as usize);
                attach_experiment_tags(conn, &mut items)?;
                let next_page_token = page_token::next(offset, items.len(), max_results, has_more);
                Ok(Page {
                    items,
                    next_page_token,
                })
            })
            .await
    }

    async fn rename_experiment(&self, experiment_id: i64, new_name: &str) -> Result<()> {
        let new_name = new_name.to_string();
        self.writer
            .run(move |conn| {
                let clash: bool = conn
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = ?1 AND \
                         workspace = 'default' AND experiment_id != ?2)",
                    )?
                    .query_row(params![new_name, experiment_id], |r| r.get(0))?;
                if clash {
                    return Err(experiment_exists(&new_name));
                }
                conn.prepare_cached(
                    "UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
                )?
                .execute(params![new_name, now_ms(), experiment_id])?;
                Ok(())
            })
            .await
    }

    async fn set_experiment_lifecycle(
        &self,
        experiment_id: i64,
        stage: LifecycleStage,
        now_ms: i64,
    ) -> Result<()> {
        self.writer
            .run(move |conn| {
                conn.prepare_cached(
                    "UPDATE experiments SET lifecycle_stage = ?1, last_update_time = ?2 \
                     WHERE experiment_id = ?3",
                )?
                .execute(params![stage.as_str(), now_ms, experiment_id])?;
                let deleted_time = (stage == LifecycleStage::Deleted).then_some(now_ms);
                conn.prepare_cached(
                    "UPDATE runs SET lifecycle_stage = ?1, deleted_time = ?2 WHERE experiment_id = ?3",
                )?
                .execute(params![stage.as_str(), deleted_time, experiment_id])?;
                Ok(())
            })
            .await
    }

    async fn set_experiment_tag(&self, experiment_id: i64, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.writer
            .run(move |conn| upsert_experiment_tag(conn, experiment_id, &key, &value))
            .await
    }

    async fn delete_experiment_tag(&self, experiment_id: i64, key: &str) -> Result<bool> {
        let key = key.to_string();
        self.writer
            .run(move |conn| {
                let n = conn
                    .prepare_cached(
                        "DELETE FROM experiment_tags WHERE experiment_id = ?1 AND \"key\" = ?2",
                    )?
                    .execute(params![experiment_id, key])?;
                Ok(n > 0)
            })
            .await
    }

    async fn create_run(&self, new: NewRun) -> Result<Run> {
        self.writer
            .run(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, \
                     user_id, status, start_time, end_time, source_version, lifecycle_stage, \
                     artifact_uri, experiment_id, deleted_time) VALUES (?1, ?2, 'UNKNOWN', '', '', \
                     ?3, 'RUNNING', ?4, NULL, '', 'active', ?5, ?6, NULL)",
                )?
                .execute(params![
                    new.run_id,
                    new.run_name,
                    new.user_id,
                    new.start_time,
                    new.artifact_uri,
                    new.experiment_id
                ])?;
                for tag in &new.tags {
                    upsert_run_tag(conn, &new.run_id, &tag.key, &tag.value)?;
                }
                let info = run_info_by_id(conn, &new.run_id)?.ok_or_else(|| {
                    MlflowError::internal(format!("run {} vanished after insert", new.run_id))
                })?;
                let mut tags = new.tags;
                tags.sort_by(|a, b| a.key.cmp(&b.key));
                Ok(Run {
                    info,
                    data: RunData {
                        tags,
                        ..RunData::default()
                    },
                    inputs: RunInputs::default(),
                    outputs: RunOutputs::default(),
                })
            })
            .await
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<Run>> {
        let run_id = run_id.to_string();
        self.readers
            .run(move |conn| match run_info_by_id(conn, &run_id)? {
                Some(info) => Ok(complete_runs(conn, vec![info])?.pop()),
                None => Ok(None),
            })
            .await
    }

    async fn get_run_info(&self, run_id: &str) -> Result<Option<RunInfo>> {
        let run_id = run_id.to_string();
        self.readers
            .run(move |conn| run_info_by_id(conn, &run_id))
            .await
    }

    async fn update_run(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        let run_id = run_id.to_string();
        let run_name = run_name.map(str::to_string);
        self.writer
            .run(move |conn| {
                conn.prepare_cached(
                    "UPDATE runs SET status = COALESCE(?1, status), end_time = COALESCE(?2, end_time) \
                     WHERE run_uuid = ?3",
                )?
                .execute(params![status.map(|s| s.as_str()), end_time, run_id])?;
                if let Some(name) = &run_name {
                    upsert_run_tag(conn, &run_id, RUN_NAME_TAG, name)?;
                }
                run_info_by_id(conn, &run_id)?.ok_or_else(|| {
                    MlflowError::not_found(format!("Run with id={run_id} not found")).into()
                })
            })
            .await
    }

    async fn set_run_lifecycle(
        &self,
        run_id: &str,
        stage: LifecycleStage,
        deleted_time: Option<i64>,
    ) -> Result<()> {
        let run_id = run_id.to_string();
        self.writer
            .run(move |conn| {
                conn.prepare_cached(
                    "UPDATE runs SET lifecycle_stage = ?1, deleted_time = ?2 WHERE run_uuid = ?3",
                )?
                .execute(params![stage.as_str(), deleted_time, run_id])?;
                Ok(())
            })
            .await
    }

    async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()> {
        let run_id = run_id.to_string();
        let (metrics, params, tags) = (metrics.to_vec(), params.to_vec(), tags.to_vec());
        self.writer
            .run(move |conn| log_batch_sync(conn, &run_id, &metrics, &params, &tags))
            .await
    }

    async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<bool> {
        let (run_id, key) = (run_id.to_string(), key.to_string());
        self.writer
            .run(move |conn| {
                let n = conn
                    .prepare_cached("DELETE FROM tags WHERE run_uuid = ?1 AND \"key\" = ?2")?
                    .execute(params![run_id, key])?;
                Ok(n > 0)
            })
            .await
    }

    async fn log_inputs(
        &self,
        run_id: &str,
        experiment_id: i64,
        datasets: &[DatasetInput],
        models: &[ModelInput],
    ) -> Result<()> {
        let run_id = run_id.to_string();
        let (datasets, models) = (datasets.to_vec(), models.to_vec());
        self.writer
            .run(move |conn| {
                for di in &datasets {
                    let d = &di.dataset;
                    let existing: Option<String> = conn
                        .prepare_cached(
                            "SELECT dataset_uuid FROM datasets WHERE experiment_id = ?1 AND name = ?2 \
                             AND digest = ?3",
                        )?
                        .query_row(params![experiment_id, d.name, d.digest], |r| r.get(0))
                        .optional()?;
                    let dataset_uuid = match existing {
                        Some(id) => id,
                        None => {
                            let id = uuid::Uuid::new_v4().simple().to_string();
                            conn.prepare_cached(
                                "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, \
                                 dataset_source_type, dataset_source, dataset_schema, dataset_profile) \
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            )?
                            .execute(params![
                                id,
                                experiment_id,
                                d.name,
                                d.digest,
                                d.source_type,
                                d.source,
                                d.schema,
                                d.profile
                            ])?;
                            id
                        }
                    };
                    let linked: bool = conn
                        .prepare_cached(
                            "SELECT EXISTS (SELECT 1 FROM inputs WHERE source_type = 'DATASET' AND \
                             source_id = ?1 AND destination_type = 'RUN' AND destination_id = ?2)",
                        )?
                        .query_row(params![dataset_uuid, run_id], |r| r.get(0))?;
                    if linked {
                        continue;
                    }
                    let input_uuid = uuid::Uuid::new_v4().simple().to_string();
                    conn.prepare_cached(
                        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
                         destination_id, step) VALUES (?1, 'DATASET', ?2, 'RUN', ?3, 0)",
                    )?
                    .execute(params![input_uuid, dataset_uuid, run_id])?;
                    for tag in &di.tags {
                        conn.prepare_cached(
                            "INSERT OR REPLACE INTO input_tags (input_uuid, name, value) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![input_uuid, tag.key, tag.value])?;
                    }
                }
                for m in &models {
                    conn.prepare_cached(
                        "INSERT OR IGNORE INTO inputs (input_uuid, source_type, source_id, \
                         destination_type, destination_id, step) \
                         VALUES (?1, 'RUN_INPUT', ?2, 'MODEL_INPUT', ?3, 0)",
                    )?
                    .execute(params![uuid::Uuid::new_v4().simple().to_string(), run_id, m.model_id])?;
                }
                Ok(())
            })
            .await
    }

    async fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        let run_id = run_id.to_string();
        let models = models.to_vec();
        self.writer
            .run(move |conn| {
                for m in &models {
                    conn.prepare_cached(
                        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
                         destination_id, step) VALUES (?1, 'RUN_OUTPUT', ?2, 'MODEL_OUTPUT', ?3, ?4) \
                         ON CONFLICT (source_type, source_id, destination_type, destination_id) \
                         DO UPDATE SET step = excluded.step",
                    )?
                    .execute(params![
                        uuid::Uuid::new_v4().simple().to_string(),
                        run_id,
                        m.model_id,
                        m.step
                    ])?;
                }
                Ok(())
            })
            .await
    }

    async fn search_runs(&self, s: &RunSearch) -> Result<Page<Run>> {
        if s.experiment_ids.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_page_token: None,
            });
        }
        // Phase 1 finds the page's run ids in order, touching only indexes where it can;
        // phase 2 reads those runs' rows and children.
        let s = s.clone();
        let (max_results, offset) = (s.max_results, s.offset);
        self.readers
            .run(move |conn| {
                let ids_of = |set, limit, offset| {
                    let sql = search::run_ids_sql(Sql::sqlite(""), &s, set, false, limit, offset);
                    query_all(conn, &sql, |r| r.get::<_, String>(0))
                };
                let mut ids = if search::lead_metric(&s.order_by).is_some() {
                    let limit = max_results + 1;
                    let mut ids = ids_of(RunSet::Led, limit, offset)?;
                    if (ids.len() as u64) < limit {
                        // The page runs past the runs with a number: continue into the
                        // rest, from where this page starts in it.
                        let rest_offset = if ids.is_empty() && offset > 0 {
                            let sql =
                                search::run_ids_sql(Sql::sqlite(""), &s, RunSet::Led, true, 0, 0);
                            let led: i64 = query_all(conn, &sql, |r| r.get(0))?.pop().unwrap_or(0);
                            offset.saturating_sub(led as u64)
                        } else {
                            0
                        };
                        ids.extend(ids_of(RunSet::Rest, limit - ids.len() as u64, rest_offset)?);
                    }
                    ids
                } else {
                    ids_of(RunSet::All, max_results + 1, offset)?
                };
                let has_more = ids.len() as u64 > max_results;
                ids.truncate(max_results as usize);
                let mut infos: HashMap<String, RunInfo> = HashMap::with_capacity(ids.len());
                for chunk in ids.chunks(500) {
                    let mut rows = Sql::sqlite(format!(
                        "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid IN "
                    ));
                    rows.push_list(chunk.iter().cloned());
                    for info in query_all(conn, &rows, run_info)? {
                        infos.insert(info.run_id.clone(), info);
                    }
                }
                let ordered: Vec<RunInfo> = ids.iter().filter_map(|id| infos.remove(id)).collect();
                let items = complete_runs(conn, ordered)?;
                let next_page_token = page_token::next(offset, items.len(), max_results, has_more);
                Ok(Page {
                    items,
                    next_page_token,
                })
            })
            .await
    }

    async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Metric>> {
        let (run_id, key) = (run_id.to_string(), key.to_string());
        self.readers
            .run(move |conn| {
                // Without the hint SQLite picks MLflow's (key, timestamp, ...) primary key,
                // which walks that key's points of every run in the database.
                let mut stmt = conn.prepare_cached(
                    "SELECT \"key\", value, timestamp, step, is_nan FROM metrics \
                     INDEXED BY index_metrics_run_uuid_key_step WHERE run_uuid = ?1 \
                     AND \"key\" = ?2 ORDER BY timestamp, step, value LIMIT ?3 OFFSET ?4",
                )?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = stmt.query_map(params![run_id, key, limit, offset as i64], |r| {
                    metric_at(r, 0, None)
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn metric_history_range(&self, range: &HistoryRange) -> Result<Vec<Metric>> {
        let mut sql = Sql::sqlite(
            "SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM metrics \
             INDEXED BY index_metrics_run_uuid_key_step WHERE \"key\" = ",
        );
        sql.push_bind(range.key.clone());
        sql.push(" AND run_uuid IN ");
        sql.push_list(range.run_ids.iter().cloned());
        if let Some(start) = range.start_step {
            sql.push(" AND step >= ").push_bind(start);
        }
        if let Some(end) = range.end_step {
            sql.push(" AND step <= ").push_bind(end);
        }
        sql.push(" ORDER BY run_uuid, step, timestamp, value");
        self.readers
            .run(move |conn| {
                query_all(conn, &sql, |r| {
                    let run_id: String = r.get(0)?;
                    metric_at(r, 1, Some(run_id))
                })
            })
            .await
    }

    async fn ping(&self) -> Result<()> {
        self.readers
            .run(|conn| {
                conn.query_row("SELECT 1", [], |_| Ok(()))?;
                Ok(())
            })
            .await
    }

    async fn close(&self) {
        self.stop_checkpointer();
        self.readers.close();
        self.writer.close().await;
    }
}
