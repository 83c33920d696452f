//! Experiments and runs, written once for both stores, and the
//! [`TrackingStore`](crate::TrackingStore) implementation.
//!
//! The log-batch write is each backend's own (`write_batch`): SQLite inserts metrics
//! with cached multi-row statements on its writer thread, PostgreSQL sends a batch as
//! arrays (`UNNEST`), one statement per table. Both end with [`finish_batch`].

use std::collections::HashMap;

use cairn_core::entities::{
    Dataset, DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput,
    Page, Run, RunData, RunInfo, RunInputs, RunOutputs, RunStatus, RUN_NAME_TAG,
};
use cairn_core::MlflowError;

use super::exec::{fetch_page, key_values, page, Cols, Exec};
use super::search::{self, RunSet};
use super::{Bind, Dialect, Sql};
use crate::shared::{
    attach_dataset_inputs, edges_sql, experiment_exists, join_uri, now_ms, sort_edges, Edge,
    EXPERIMENT_COLUMNS, RUN_COLUMNS,
};
use crate::types::{ExperimentSearch, HistoryRange, NewExperiment, NewRun, RunSearch};
use crate::Result;

/// Reads a metric from columns `key, value, timestamp, step, is_nan` at `at..`.
fn metric_at(row: &dyn Cols, at: usize, run_id: Option<String>) -> Result<Metric> {
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
fn run_info(row: &dyn Cols) -> Result<RunInfo> {
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
fn experiment(row: &dyn Cols) -> Result<Experiment> {
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

/// Reads one row of [`edges_sql`].
fn edge(r: &dyn Cols) -> Result<Edge> {
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
    Ok(Edge {
        input_uuid: r.text(0)?,
        source_type: r.text(1)?,
        source_id: r.text(2)?,
        destination_id: r.text(3)?,
        step: r.opt_int(4)?.unwrap_or(0),
        dataset,
    })
}

pub(crate) async fn run_info_by_id<E: Exec>(ex: &mut E, run_id: &str) -> Result<Option<RunInfo>> {
    let sql = ex
        .sql(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?1"
        ))
        .arg(run_id);
    ex.fetch_optional(&sql, run_info).await
}

async fn attach_experiment_tags<E: Exec>(ex: &mut E, experiments: &mut [Experiment]) -> Result<()> {
    if experiments.is_empty() {
        return Ok(());
    }
    let mut sql =
        ex.sql("SELECT experiment_id, \"key\", value FROM experiment_tags WHERE experiment_id");
    sql.push_in_ints(
        experiments
            .iter()
            .map(|e| e.experiment_id.parse::<i64>().unwrap_or(-1)),
    );
    sql.push(" ORDER BY \"key\"");
    let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for (id, kv) in ex
        .fetch(&sql, |r| {
            Ok((
                r.int(0)?.to_string(),
                KeyValue::new(r.text(1)?, r.text_or_empty(2)?),
            ))
        })
        .await?
    {
        tags.entry(id).or_default().push(kv);
    }
    for e in experiments {
        e.tags = tags.remove(&e.experiment_id).unwrap_or_default();
    }
    Ok(())
}

/// The experiment `clause` (over `e`, with `?1`) picks, with its tags.
async fn experiment_where<E: Exec>(
    ex: &mut E,
    clause: &str,
    value: Bind,
) -> Result<Option<Experiment>> {
    let mut sql = ex.sql(&format!(
        "SELECT {EXPERIMENT_COLUMNS} FROM experiments e WHERE {clause}"
    ));
    sql.params.push(value);
    let mut found = ex.fetch(&sql, experiment).await?;
    attach_experiment_tags(ex, &mut found).await?;
    Ok(found.pop())
}

pub(crate) async fn get_experiment<E: Exec>(ex: &mut E, id: i64) -> Result<Option<Experiment>> {
    experiment_where(ex, "e.experiment_id = ?1", Bind::Int(id)).await
}

pub(crate) async fn experiment_by_name<E: Exec>(
    ex: &mut E,
    name: &str,
) -> Result<Option<Experiment>> {
    experiment_where(ex, "e.name = ?1 AND e.workspace = 'default'", name.into()).await
}

/// Runs per statement in SQLite's `IN` lists: SQLite binds at most 32,766 values,
/// and a page may hold 50,000 runs. PostgreSQL takes the page as one array.
const SQLITE_RUN_CHUNK: usize = 400;

/// Fills data, inputs and outputs for runs whose infos were read already: one query
/// per kind of child row for the whole page (per chunk, on SQLite), not per run.
async fn complete_runs<E: Exec>(ex: &mut E, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
    if infos.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
    let mut data: HashMap<String, RunData> = HashMap::new();
    let mut edges: Vec<Edge> = Vec::new();
    let dialect = ex.dialect();
    for chunk in ids.chunks(Sql::chunk_size(dialect, SQLITE_RUN_CHUNK)) {
        let mut sql = ex.sql(
            "SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM latest_metrics \
             WHERE run_uuid",
        );
        sql.push_in(chunk.iter().cloned()).push(" ORDER BY \"key\"");
        for (id, m) in ex
            .fetch(&sql, |r| Ok((r.text(0)?, metric_at(r, 1, None)?)))
            .await?
        {
            data.entry(id).or_default().metrics.push(m);
        }
        for table in ["params", "tags"] {
            let mut sql = ex.sql(&format!(
                "SELECT run_uuid, \"key\", value FROM {table} WHERE run_uuid"
            ));
            sql.push_in(chunk.iter().cloned()).push(" ORDER BY \"key\"");
            for (id, kvs) in key_values(ex, &sql).await? {
                let d = data.entry(id).or_default();
                match table {
                    "params" => d.params = kvs,
                    _ => d.tags = kvs,
                }
            }
        }
        // Dataset inputs (with their tags), model inputs and model outputs all live in
        // MLflow's `inputs` edge table; its physical order is the order they were
        // logged. The chunk's ids are bound once and their placeholders used twice.
        let (list, order, binds) = match dialect {
            Dialect::Sqlite => {
                let numbered: Vec<String> = (1..=chunk.len()).map(|n| format!("?{n}")).collect();
                let binds = chunk.iter().map(|id| Bind::Text(id.clone())).collect();
                (format!("IN ({})", numbered.join(", ")), "i.rowid", binds)
            }
            Dialect::Postgres => (
                "= ANY(?1)".to_string(),
                "i.ctid",
                vec![Bind::Texts(chunk.to_vec())],
            ),
        };
        let mut sql = ex.sql(&edges_sql(&list, &list, order));
        sql.params = binds;
        edges.extend(ex.fetch(&sql, edge).await?);
    }
    let mut inputs: HashMap<String, RunInputs> = HashMap::new();
    let mut outputs: HashMap<String, RunOutputs> = HashMap::new();
    let dataset_inputs = sort_edges(edges, &mut inputs, &mut outputs);
    if !dataset_inputs.is_empty() {
        let mut sql = ex.sql("SELECT input_uuid, name, value FROM input_tags WHERE input_uuid");
        sql.push_in(dataset_inputs.iter().map(|d| d.1.clone()));
        let tags = key_values(ex, &sql).await?;
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

pub(crate) async fn get_run<E: Exec>(ex: &mut E, run_id: &str) -> Result<Option<Run>> {
    match run_info_by_id(ex, run_id).await? {
        Some(info) => Ok(complete_runs(ex, vec![info]).await?.pop()),
        None => Ok(None),
    }
}

/// Sets a run tag; `mlflow.runName` also renames the run.
pub(crate) async fn upsert_run_tag<E: Exec>(
    ex: &mut E,
    run_id: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    let sql = ex
        .sql(
            "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?1, ?2, ?3) \
             ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value",
        )
        .arg(key)
        .arg(value)
        .arg(run_id);
    ex.execute(&sql).await?;
    if key == RUN_NAME_TAG {
        // The run's name column and its mlflow.runName tag are one fact, kept equal.
        let sql = ex
            .sql("UPDATE runs SET name = ?1 WHERE run_uuid = ?2")
            .arg(value)
            .arg(run_id);
        ex.execute(&sql).await?;
    }
    Ok(())
}

/// A log-batch as [`TrackingStore::log_batch`](crate::TrackingStore::log_batch)
/// takes it, handed to the backend's own write (`write_batch`).
pub(crate) struct Batch<'a> {
    pub run_id: &'a str,
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

/// The end of a log-batch on both stores, after its own params and metrics: the tags
/// (on PostgreSQL in key order, so concurrent batches lock rows in one order), then
/// the points that name a logged model, for that model too.
pub(crate) async fn finish_batch<E: Exec>(
    ex: &mut E,
    run_id: &str,
    metrics: &[Metric],
    tags: &[KeyValue],
) -> Result<()> {
    let mut tags: Vec<&KeyValue> = tags.iter().collect();
    if ex.dialect() == Dialect::Postgres {
        tags.sort_by(|a, b| a.key.cmp(&b.key));
    }
    for t in tags {
        upsert_run_tag(ex, run_id, &t.key, &t.value).await?;
    }
    if metrics.iter().any(|m| m.model_id.is_some()) {
        super::logged_models::log_model_metrics(ex, run_id, metrics).await?;
    }
    Ok(())
}

pub(crate) async fn upsert_experiment_tag<E: Exec>(
    ex: &mut E,
    id: i64,
    key: &str,
    value: &str,
) -> Result<()> {
    let sql = ex
        .sql(
            "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value",
        )
        .arg(key)
        .arg(value)
        .arg(id);
    ex.execute(&sql).await?;
    Ok(())
}

/// Whether the statement finds a row (`SELECT EXISTS (...)`).
async fn exists<E: Exec>(ex: &mut E, sql: &Sql) -> Result<bool> {
    Ok(ex.fetch_optional(sql, |r| r.boolean(0)).await? == Some(true))
}

pub(crate) async fn create_experiment<E: Exec>(
    ex: &mut E,
    new: &NewExperiment,
    root: &str,
) -> Result<String> {
    let sql = ex
        .sql(
            "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = ?1 \
             AND workspace = 'default')",
        )
        .arg(new.name.as_str());
    if exists(ex, &sql).await? {
        return Err(experiment_exists(&new.name));
    }
    let sql = ex
        .sql(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time, workspace) VALUES (?1, ?2, 'active', ?3, ?3, 'default') \
             RETURNING experiment_id",
        )
        .arg(new.name.as_str())
        .arg(&new.artifact_location)
        .arg(new.now_ms);
    let id = ex
        .fetch_optional(&sql, |r| r.int(0))
        .await?
        .ok_or_else(|| MlflowError::internal("INSERT ... RETURNING returned no row"))?;
    if new.artifact_location.is_none() {
        let sql = ex
            .sql("UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2")
            .arg(join_uri(root, &id.to_string()))
            .arg(id);
        ex.execute(&sql).await?;
    }
    let mut tags: Vec<&KeyValue> = new.tags.iter().collect();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    for tag in tags {
        upsert_experiment_tag(ex, id, &tag.key, &tag.value).await?;
    }
    Ok(id.to_string())
}

pub(crate) async fn search_experiments<E: Exec>(
    ex: &mut E,
    s: &ExperimentSearch,
) -> Result<Page<Experiment>> {
    let mut sql = ex.sql(&format!(
        "SELECT {EXPERIMENT_COLUMNS} FROM experiments e WHERE e.lifecycle_stage IN "
    ));
    sql.push_list(s.view_type.stages().iter().map(|s| s.to_string()));
    for c in &s.filter {
        sql.push(" AND ");
        search::push_experiment_clause(&mut sql, c);
    }
    search::push_experiment_order_by(&mut sql, &s.order_by);
    sql.push_page(s.max_results, s.offset);
    let (mut items, has_more) = fetch_page(ex, &sql, s.max_results, experiment).await?;
    attach_experiment_tags(ex, &mut items).await?;
    Ok(page(items, s.offset, s.max_results, has_more))
}

pub(crate) async fn rename_experiment<E: Exec>(ex: &mut E, id: i64, new_name: &str) -> Result<()> {
    let sql = ex
        .sql(
            "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = ?1 AND workspace = 'default' \
             AND experiment_id != ?2)",
        )
        .arg(new_name)
        .arg(id);
    if exists(ex, &sql).await? {
        return Err(experiment_exists(new_name));
    }
    let sql = ex
        .sql("UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3")
        .arg(new_name)
        .arg(now_ms())
        .arg(id);
    ex.execute(&sql).await?;
    Ok(())
}

pub(crate) async fn set_experiment_lifecycle<E: Exec>(
    ex: &mut E,
    id: i64,
    stage: LifecycleStage,
    now_ms: i64,
) -> Result<()> {
    let sql = ex
        .sql(
            "UPDATE experiments SET lifecycle_stage = ?1, last_update_time = ?2 \
             WHERE experiment_id = ?3",
        )
        .arg(stage.as_str())
        .arg(now_ms)
        .arg(id);
    ex.execute(&sql).await?;
    let deleted_time = (stage == LifecycleStage::Deleted).then_some(now_ms);
    let sql = ex
        .sql("UPDATE runs SET lifecycle_stage = ?1, deleted_time = ?2 WHERE experiment_id = ?3")
        .arg(stage.as_str())
        .arg(deleted_time)
        .arg(id);
    ex.execute(&sql).await?;
    Ok(())
}

/// Runs `text` over the values; the number of rows changed.
async fn run<E: Exec>(ex: &mut E, text: &str, values: Vec<Bind>) -> Result<u64> {
    let mut sql = ex.sql(text);
    sql.params = values;
    ex.execute(&sql).await
}

pub(crate) async fn delete_experiment_tag<E: Exec>(ex: &mut E, id: i64, key: &str) -> Result<bool> {
    let text = "DELETE FROM experiment_tags WHERE experiment_id = ?1 AND \"key\" = ?2";
    Ok(run(ex, text, vec![id.into(), key.into()]).await? > 0)
}

pub(crate) async fn create_run<E: Exec>(ex: &mut E, new: &NewRun) -> Result<Run> {
    let sql = ex
        .sql(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, \
             user_id, status, start_time, end_time, source_version, lifecycle_stage, \
             artifact_uri, experiment_id, deleted_time) VALUES (?1, ?2, 'UNKNOWN', '', '', \
             ?3, 'RUNNING', ?4, NULL, '', 'active', ?5, ?6, NULL)",
        )
        .arg(new.run_id.as_str())
        .arg(new.run_name.as_str())
        .arg(new.user_id.as_str())
        .arg(new.start_time)
        .arg(new.artifact_uri.as_str())
        .arg(new.experiment_id);
    ex.execute(&sql).await?;
    let mut tags = new.tags.clone();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    for tag in &tags {
        upsert_run_tag(ex, &new.run_id, &tag.key, &tag.value).await?;
    }
    let info = run_info_by_id(ex, &new.run_id).await?.ok_or_else(|| {
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

pub(crate) async fn update_run<E: Exec>(
    ex: &mut E,
    run_id: &str,
    status: Option<RunStatus>,
    end_time: Option<i64>,
    run_name: Option<&str>,
) -> Result<RunInfo> {
    let text = "UPDATE runs SET status = COALESCE(?1, status), \
                end_time = COALESCE(?2, end_time) WHERE run_uuid = ?3";
    let status = status.map(|s| s.as_str());
    run(
        ex,
        text,
        vec![status.into(), end_time.into(), run_id.into()],
    )
    .await?;
    if let Some(name) = run_name {
        upsert_run_tag(ex, run_id, RUN_NAME_TAG, name).await?;
    }
    run_info_by_id(ex, run_id)
        .await?
        .ok_or_else(|| MlflowError::not_found(format!("Run with id={run_id} not found")).into())
}

pub(crate) async fn set_run_lifecycle<E: Exec>(
    ex: &mut E,
    run_id: &str,
    stage: LifecycleStage,
    deleted_time: Option<i64>,
) -> Result<()> {
    let text = "UPDATE runs SET lifecycle_stage = ?1, deleted_time = ?2 WHERE run_uuid = ?3";
    run(
        ex,
        text,
        vec![stage.as_str().into(), deleted_time.into(), run_id.into()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_run_tag<E: Exec>(ex: &mut E, run_id: &str, key: &str) -> Result<bool> {
    let text = "DELETE FROM tags WHERE run_uuid = ?1 AND \"key\" = ?2";
    Ok(run(ex, text, vec![run_id.into(), key.into()]).await? > 0)
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) async fn log_inputs<E: Exec>(
    ex: &mut E,
    run_id: &str,
    experiment_id: i64,
    datasets: &[DatasetInput],
    models: &[ModelInput],
) -> Result<()> {
    for di in datasets {
        let d = &di.dataset;
        // Two runs logging one new dataset at once: the second insert does nothing,
        // and the select after it finds the first one's row.
        let text = "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, \
                    dataset_source_type, dataset_source, dataset_schema, dataset_profile) \
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";
        let values = vec![
            new_uuid().into(),
            experiment_id.into(),
            d.name.as_str().into(),
            d.digest.as_str().into(),
            d.source_type.as_str().into(),
            d.source.as_str().into(),
            (&d.schema).into(),
            (&d.profile).into(),
        ];
        run(ex, text, values).await?;
        let sql = ex
            .sql(
                "SELECT dataset_uuid FROM datasets WHERE experiment_id = ?1 AND name = ?2 \
                 AND digest = ?3",
            )
            .arg(experiment_id)
            .arg(d.name.as_str())
            .arg(d.digest.as_str());
        let dataset_uuid = ex
            .fetch_optional(&sql, |r| r.text(0))
            .await?
            .ok_or_else(|| MlflowError::internal("a dataset vanished after insert"))?;
        let input_uuid = new_uuid();
        let text = "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
                    destination_id, step) VALUES (?1, 'DATASET', ?2, 'RUN', ?3, 0) \
                    ON CONFLICT DO NOTHING";
        let values = vec![
            input_uuid.as_str().into(),
            dataset_uuid.into(),
            run_id.into(),
        ];
        if run(ex, text, values).await? == 0 {
            continue;
        }
        for tag in &di.tags {
            let text = "INSERT INTO input_tags (input_uuid, name, value) VALUES (?1, ?2, ?3) \
                        ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value";
            let values = vec![
                input_uuid.as_str().into(),
                tag.key.as_str().into(),
                tag.value.as_str().into(),
            ];
            run(ex, text, values).await?;
        }
    }
    for m in models {
        let text = "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
                    destination_id, step) VALUES (?1, 'RUN_INPUT', ?2, 'MODEL_INPUT', ?3, 0) \
                    ON CONFLICT DO NOTHING";
        let values = vec![new_uuid().into(), run_id.into(), m.model_id.as_str().into()];
        run(ex, text, values).await?;
    }
    Ok(())
}

pub(crate) async fn log_outputs<E: Exec>(
    ex: &mut E,
    run_id: &str,
    models: &[ModelOutput],
) -> Result<()> {
    for m in models {
        let text = "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
                    destination_id, step) VALUES (?1, 'RUN_OUTPUT', ?2, 'MODEL_OUTPUT', ?3, ?4) \
                    ON CONFLICT (source_type, source_id, destination_type, destination_id) \
                    DO UPDATE SET step = excluded.step";
        let values = vec![
            new_uuid().into(),
            run_id.into(),
            m.model_id.as_str().into(),
            m.step.into(),
        ];
        run(ex, text, values).await?;
    }
    Ok(())
}

/// Runs per statement when SQLite reads a page's run rows by id.
const SQLITE_ROW_CHUNK: usize = 500;

pub(crate) async fn search_runs<E: Exec>(ex: &mut E, s: &RunSearch) -> Result<Page<Run>> {
    if s.experiment_ids.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_page_token: None,
        });
    }
    // Phase 1 finds the page's run ids in order, touching only indexes where it can;
    // phase 2 reads those runs' rows and children.
    let (max_results, offset) = (s.max_results, s.offset);
    let dialect = ex.dialect();
    let ids_sql = |set, count, limit, offset| {
        search::run_ids_sql(Sql::new(dialect, ""), s, set, count, limit, offset)
    };
    let mut ids: Vec<String> = if search::lead_metric(&s.order_by).is_some() {
        let limit = max_results + 1;
        let sql = ids_sql(RunSet::Led, false, limit, offset);
        let mut ids = ex.fetch(&sql, |r| r.text(0)).await?;
        if (ids.len() as u64) < limit {
            // The page runs past the runs with a number: continue into the rest,
            // from where this page starts in it.
            let rest_offset = if ids.is_empty() && offset > 0 {
                let sql = ids_sql(RunSet::Led, true, 0, 0);
                let led = ex.fetch(&sql, |r| r.int(0)).await?.pop().unwrap_or(0);
                offset.saturating_sub(led as u64)
            } else {
                0
            };
            let sql = ids_sql(RunSet::Rest, false, limit - ids.len() as u64, rest_offset);
            ids.extend(ex.fetch(&sql, |r| r.text(0)).await?);
        }
        ids
    } else {
        let sql = ids_sql(RunSet::All, false, max_results + 1, offset);
        ex.fetch(&sql, |r| r.text(0)).await?
    };
    let has_more = ids.len() as u64 > max_results;
    ids.truncate(max_results as usize);
    let mut infos: HashMap<String, RunInfo> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(Sql::chunk_size(dialect, SQLITE_ROW_CHUNK)) {
        let mut sql = ex.sql(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid"
        ));
        sql.push_in(chunk.iter().cloned());
        for info in ex.fetch(&sql, run_info).await? {
            infos.insert(info.run_id.clone(), info);
        }
    }
    let ordered: Vec<RunInfo> = ids.iter().filter_map(|id| infos.remove(id)).collect();
    let items = complete_runs(ex, ordered).await?;
    Ok(page(items, offset, max_results, has_more))
}

/// The columns a history reads, and SQLite's index for them: without the hint SQLite
/// picks MLflow's (key, timestamp, ...) primary key, which walks that key's points of
/// every run in the database.
const HISTORY_INDEX: &str = "index_metrics_run_uuid_key_step";

pub(crate) async fn metric_history<E: Exec>(
    ex: &mut E,
    run_id: &str,
    key: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<Metric>> {
    let mut sql = ex.sql("SELECT \"key\", value, timestamp, step, is_nan FROM metrics");
    sql.hint(HISTORY_INDEX)
        .push(" WHERE run_uuid = ")
        .push_bind(run_id)
        .push(" AND \"key\" = ")
        .push_bind(key)
        .push(" ORDER BY timestamp, step, value LIMIT ")
        .push_bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .push(" OFFSET ")
        .push_bind(offset as i64);
    ex.fetch(&sql, |r| metric_at(r, 0, None)).await
}

pub(crate) async fn metric_history_range<E: Exec>(
    ex: &mut E,
    range: &HistoryRange,
) -> Result<Vec<Metric>> {
    let mut sql = ex.sql("SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM metrics");
    sql.hint(HISTORY_INDEX)
        .push(" WHERE \"key\" = ")
        .push_bind(range.key.as_str())
        .push(" AND run_uuid");
    sql.push_in(range.run_ids.iter().cloned());
    if let Some(start) = range.start_step {
        sql.push(" AND step >= ").push_bind(start);
    }
    if let Some(end) = range.end_step {
        sql.push(" AND step <= ").push_bind(end);
    }
    sql.push(" ORDER BY run_uuid, step, timestamp, value");
    ex.fetch(&sql, |r| metric_at(r, 1, Some(r.text(0)?))).await
}

pub(crate) async fn ping<E: Exec>(ex: &mut E) -> Result<()> {
    let sql = ex.sql("SELECT 1");
    ex.fetch(&sql, |_| Ok(())).await?;
    Ok(())
}

/// Implements [`TrackingStore`](crate::TrackingStore) for a store with `$read` and
/// `$write` macros (see `lite_read`, `pg_write`) and its own `write_batch`,
/// `gauges` and `shutdown`.
macro_rules! tracking_store {
    ($store:ty, $read:ident, $write:ident) => {
        const _: () = {
            use cairn_core::entities::{
                DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput,
                ModelOutput, Page, Run, RunInfo, RunStatus,
            };
            use $crate::sql::tracking as script;
            use $crate::types::{ExperimentSearch, HistoryRange, NewExperiment, NewRun, RunSearch};
            use $crate::Result;

            #[async_trait::async_trait]
            impl $crate::TrackingStore for $store {
                async fn create_experiment(&self, new: NewExperiment) -> Result<String> {
                    let root = self.default_artifact_root.clone();
                    $write!(self, |ex| script::create_experiment(ex, &new, &root).await)
                }

                async fn get_experiment(&self, experiment_id: i64) -> Result<Option<Experiment>> {
                    $read!(self, |ex| script::get_experiment(ex, experiment_id).await)
                }

                async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
                    let name = name.to_string();
                    $read!(self, |ex| script::experiment_by_name(ex, &name).await)
                }

                async fn search_experiments(
                    &self,
                    s: &ExperimentSearch,
                ) -> Result<Page<Experiment>> {
                    let s = s.clone();
                    $read!(self, |ex| script::search_experiments(ex, &s).await)
                }

                async fn rename_experiment(
                    &self,
                    experiment_id: i64,
                    new_name: &str,
                ) -> Result<()> {
                    let new_name = new_name.to_string();
                    $write!(self, |ex| {
                        script::rename_experiment(ex, experiment_id, &new_name).await
                    })
                }

                async fn set_experiment_lifecycle(
                    &self,
                    experiment_id: i64,
                    stage: LifecycleStage,
                    now_ms: i64,
                ) -> Result<()> {
                    $write!(self, |ex| {
                        script::set_experiment_lifecycle(ex, experiment_id, stage, now_ms).await
                    })
                }

                async fn set_experiment_tag(
                    &self,
                    experiment_id: i64,
                    key: &str,
                    value: &str,
                ) -> Result<()> {
                    let (key, value) = (key.to_string(), value.to_string());
                    $write!(self, |ex| {
                        script::upsert_experiment_tag(ex, experiment_id, &key, &value).await
                    })
                }

                async fn delete_experiment_tag(
                    &self,
                    experiment_id: i64,
                    key: &str,
                ) -> Result<bool> {
                    let key = key.to_string();
                    $write!(self, |ex| {
                        script::delete_experiment_tag(ex, experiment_id, &key).await
                    })
                }

                async fn create_run(&self, new: NewRun) -> Result<Run> {
                    $write!(self, |ex| script::create_run(ex, &new).await)
                }

                async fn get_run(&self, run_id: &str) -> Result<Option<Run>> {
                    let run_id = run_id.to_string();
                    $read!(self, |ex| script::get_run(ex, &run_id).await)
                }

                async fn get_run_info(&self, run_id: &str) -> Result<Option<RunInfo>> {
                    let run_id = run_id.to_string();
                    $read!(self, |ex| script::run_info_by_id(ex, &run_id).await)
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
                    $write!(self, |ex| {
                        let name = run_name.as_deref();
                        script::update_run(ex, &run_id, status, end_time, name).await
                    })
                }

                async fn set_run_lifecycle(
                    &self,
                    run_id: &str,
                    stage: LifecycleStage,
                    deleted_time: Option<i64>,
                ) -> Result<()> {
                    let run_id = run_id.to_string();
                    $write!(self, |ex| {
                        script::set_run_lifecycle(ex, &run_id, stage, deleted_time).await
                    })
                }

                async fn log_batch(
                    &self,
                    run_id: &str,
                    metrics: Vec<Metric>,
                    params: Vec<KeyValue>,
                    tags: Vec<KeyValue>,
                ) -> Result<()> {
                    let batch = script::Batch {
                        run_id,
                        metrics,
                        params,
                        tags,
                    };
                    self.write_batch(batch).await
                }

                async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<bool> {
                    let (run_id, key) = (run_id.to_string(), key.to_string());
                    $write!(self, |ex| script::delete_run_tag(ex, &run_id, &key).await)
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
                    $write!(self, |ex| {
                        script::log_inputs(ex, &run_id, experiment_id, &datasets, &models).await
                    })
                }

                async fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
                    let (run_id, models) = (run_id.to_string(), models.to_vec());
                    $write!(self, |ex| script::log_outputs(ex, &run_id, &models).await)
                }

                async fn search_runs(&self, s: &RunSearch) -> Result<Page<Run>> {
                    let s = s.clone();
                    $read!(self, |ex| script::search_runs(ex, &s).await)
                }

                async fn metric_history(
                    &self,
                    run_id: &str,
                    key: &str,
                    offset: u64,
                    limit: u64,
                ) -> Result<Vec<Metric>> {
                    let (run_id, key) = (run_id.to_string(), key.to_string());
                    $read!(self, |ex| {
                        script::metric_history(ex, &run_id, &key, offset, limit).await
                    })
                }

                async fn metric_history_range(&self, range: &HistoryRange) -> Result<Vec<Metric>> {
                    let range = range.clone();
                    $read!(self, |ex| script::metric_history_range(ex, &range).await)
                }

                async fn ping(&self) -> Result<()> {
                    $read!(self, |ex| script::ping(ex).await)
                }

                fn record_gauges(&self) {
                    self.gauges();
                }

                async fn close(&self) {
                    self.shutdown().await;
                }
            }
        };
    };
}
pub(crate) use tracking_store;
