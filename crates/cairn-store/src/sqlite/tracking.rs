//! [`TrackingStore`] on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use cairn_core::entities::{
    Dataset, DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput,
    Page, Run, RunData, RunInfo, RunInputs, RunOutputs, RunStatus, RUN_NAME_TAG,
};
use cairn_core::{page_token, MlflowError};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::search;
use super::{join_uri, text, SqliteStore};
use crate::types::{ExperimentSearch, HistoryRange, NewExperiment, NewRun, RunSearch};
use crate::{Result, StoreError, TrackingStore};

const RUN_COLUMNS: &str = "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, \
                           r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

/// MLflow's SQL store keeps NaN as 0 with `is_nan` set, and clamps the infinities to
/// the largest doubles; so does cairn, so both read each other's rows.
fn sanitize(value: f64) -> (f64, bool) {
    if value.is_nan() {
        (0.0, true)
    } else if value == f64::INFINITY {
        (f64::MAX, false)
    } else if value == f64::NEG_INFINITY {
        (f64::MIN, false)
    } else {
        (value, false)
    }
}

fn metric_from_row(row: &SqliteRow, run_id: Option<String>) -> Result<Metric> {
    let is_nan: bool = row.try_get("is_nan")?;
    let value: f64 = row.try_get("value")?;
    Ok(Metric {
        key: row.try_get("key")?,
        value: if is_nan { f64::NAN } else { value },
        timestamp: row.try_get::<Option<i64>, _>("timestamp")?.unwrap_or(0),
        step: row.try_get("step")?,
        run_id,
    })
}

fn run_info_from_row(row: &SqliteRow) -> Result<RunInfo> {
    let run_id: String = row.try_get("run_uuid")?;
    let status = text(row, "status")?;
    let stage = text(row, "lifecycle_stage")?;
    Ok(RunInfo {
        run_uuid: run_id.clone(),
        run_id,
        run_name: text(row, "name")?,
        experiment_id: row
            .try_get::<Option<i64>, _>("experiment_id")?
            .unwrap_or(0)
            .to_string(),
        user_id: text(row, "user_id")?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Running),
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        artifact_uri: text(row, "artifact_uri")?,
        lifecycle_stage: LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active),
    })
}

fn experiment_from_row(row: &SqliteRow) -> Result<Experiment> {
    let stage = text(row, "lifecycle_stage")?;
    Ok(Experiment {
        experiment_id: row.try_get::<i64, _>("experiment_id")?.to_string(),
        name: row.try_get("name")?,
        artifact_location: row.try_get("artifact_location")?,
        lifecycle_stage: LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active),
        last_update_time: row.try_get("last_update_time")?,
        creation_time: row.try_get("creation_time")?,
        tags: Vec::new(),
    })
}

fn push_in_list(qb: &mut QueryBuilder<Sqlite>, ids: &[String]) {
    qb.push("(");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(id.clone());
    }
    sep.push_unseparated(")");
}

impl SqliteStore {
    async fn experiment_tags(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<KeyValue>>> {
        let mut out: HashMap<i64, Vec<KeyValue>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT experiment_id, \"key\", value FROM experiment_tags WHERE experiment_id IN (",
        );
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(*id);
        }
        sep.push_unseparated(") ORDER BY \"key\"");
        for row in qb.build().fetch_all(&self.reader).await? {
            out.entry(row.try_get("experiment_id")?)
                .or_default()
                .push(KeyValue::new(
                    row.try_get::<String, _>("key")?,
                    text(&row, "value")?,
                ));
        }
        Ok(out)
    }

    async fn experiment_where(
        &self,
        sql_where: &str,
        bind: ExperimentKey<'_>,
    ) -> Result<Option<Experiment>> {
        let sql = format!(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time FROM experiments WHERE {sql_where}"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let q = match bind {
            ExperimentKey::Id(id) => q.bind(id),
            ExperimentKey::Name(name) => q.bind(name),
        };
        let Some(row) = q.fetch_optional(&self.reader).await? else {
            return Ok(None);
        };
        let mut exp = experiment_from_row(&row)?;
        let id: i64 = row.try_get("experiment_id")?;
        exp.tags = self
            .experiment_tags(&[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        Ok(Some(exp))
    }

    /// Fills data, inputs and outputs for runs whose infos were read already.
    async fn complete_runs(&self, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
        if infos.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
        let mut data: HashMap<String, RunData> = HashMap::new();
        let mut inputs: HashMap<String, RunInputs> = HashMap::new();
        let mut outputs: HashMap<String, RunOutputs> = HashMap::new();

        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM latest_metrics \
             WHERE run_uuid IN ",
        );
        push_in_list(&mut qb, &ids);
        qb.push(" ORDER BY \"key\"");
        for row in qb.build().fetch_all(&self.reader).await? {
            let id: String = row.try_get("run_uuid")?;
            data.entry(id)
                .or_default()
                .metrics
                .push(metric_from_row(&row, None)?);
        }
        for (table, is_param) in [("params", true), ("tags", false)] {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT run_uuid, \"key\", value FROM {table} WHERE run_uuid IN "
            ));
            push_in_list(&mut qb, &ids);
            qb.push(" ORDER BY \"key\"");
            for row in qb.build().fetch_all(&self.reader).await? {
                let id: String = row.try_get("run_uuid")?;
                let kv = KeyValue::new(row.try_get::<String, _>("key")?, text(&row, "value")?);
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
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT i.input_uuid, i.source_type, i.source_id, i.destination_type, \
             i.destination_id, i.step, d.name, d.digest, d.dataset_source_type, \
             d.dataset_source, d.dataset_schema, d.dataset_profile \
             FROM inputs i LEFT JOIN datasets d ON i.source_type = 'DATASET' \
             AND d.dataset_uuid = i.source_id WHERE (i.destination_type = 'RUN' \
             AND i.destination_id IN ",
        );
        push_in_list(&mut qb, &ids);
        qb.push(") OR (i.source_type IN ('RUN_INPUT', 'RUN_OUTPUT') AND i.source_id IN ");
        push_in_list(&mut qb, &ids);
        qb.push(") ORDER BY i.rowid");
        let rows = qb.build().fetch_all(&self.reader).await?;
        let mut dataset_inputs: Vec<(String, String, DatasetInput)> = Vec::new();
        for row in &rows {
            let source_type: String = row.try_get("source_type")?;
            match source_type.as_str() {
                "DATASET" => {
                    let Some(name) = row.try_get::<Option<String>, _>("name")? else {
                        continue;
                    };
                    dataset_inputs.push((
                        row.try_get("destination_id")?,
                        row.try_get("input_uuid")?,
                        DatasetInput {
                            tags: Vec::new(),
                            dataset: Dataset {
                                name,
                                digest: text(row, "digest")?,
                                source_type: text(row, "dataset_source_type")?,
                                source: text(row, "dataset_source")?,
                                schema: row.try_get("dataset_schema")?,
                                profile: row.try_get("dataset_profile")?,
                            },
                        },
                    ));
                }
                "RUN_INPUT" => inputs
                    .entry(row.try_get("source_id")?)
                    .or_default()
                    .model_inputs
                    .push(ModelInput {
                        model_id: row.try_get("destination_id")?,
                    }),
                "RUN_OUTPUT" => outputs
                    .entry(row.try_get("source_id")?)
                    .or_default()
                    .model_outputs
                    .push(ModelOutput {
                        model_id: row.try_get("destination_id")?,
                        step: row.try_get::<Option<i64>, _>("step")?.unwrap_or(0),
                    }),
                _ => {}
            }
        }
        if !dataset_inputs.is_empty() {
            let input_ids: Vec<String> = dataset_inputs.iter().map(|d| d.1.clone()).collect();
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN ",
            );
            push_in_list(&mut qb, &input_ids);
            let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
            for row in qb.build().fetch_all(&self.reader).await? {
                tags.entry(row.try_get("input_uuid")?)
                    .or_default()
                    .push(KeyValue::new(
                        row.try_get::<String, _>("name")?,
                        row.try_get::<String, _>("value")?,
                    ));
            }
            for (run_id, input_id, mut di) in dataset_inputs {
                di.tags = tags.remove(&input_id).unwrap_or_default();
                inputs.entry(run_id).or_default().dataset_inputs.push(di);
            }
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

    async fn run_info_in(&self, conn: &mut SqliteConnection, run_id: &str) -> Result<RunInfo> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?"
        )))
        .bind(run_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("Run with id={run_id} not found")))?;
        run_info_from_row(&row)
    }
}

enum ExperimentKey<'a> {
    Id(i64),
    Name(&'a str),
}

async fn upsert_run_tag(
    conn: &mut SqliteConnection,
    run_id: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?, ?, ?) \
         ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    if key == RUN_NAME_TAG {
        // The run's name column and its mlflow.runName tag are one fact, kept equal.
        sqlx::query("UPDATE runs SET name = ? WHERE run_uuid = ?")
            .bind(value)
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl TrackingStore for SqliteStore {
    async fn create_experiment(&self, new: NewExperiment) -> Result<String> {
        let mut tx = self.writer.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT experiment_id FROM experiments WHERE name = ? AND workspace = 'default'",
        )
        .bind(&new.name)
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_some() {
            return Err(MlflowError::already_exists(format!(
                "Experiment(name={}) already exists.",
                new.name
            ))
            .into());
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time, workspace) VALUES (?, ?, 'active', ?, ?, 'default') \
             RETURNING experiment_id",
        )
        .bind(&new.name)
        .bind(&new.artifact_location)
        .bind(new.now_ms)
        .bind(new.now_ms)
        .fetch_one(&mut *tx)
        .await?;
        if new.artifact_location.is_none() {
            sqlx::query("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?")
                .bind(join_uri(&self.default_artifact_root, &id.to_string()))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for tag in &new.tags {
            sqlx::query(
                "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?) \
                 ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value",
            )
            .bind(&tag.key)
            .bind(&tag.value)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id.to_string())
    }

    async fn get_experiment(&self, experiment_id: i64) -> Result<Option<Experiment>> {
        self.experiment_where("experiment_id = ?", ExperimentKey::Id(experiment_id))
            .await
    }

    async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.experiment_where(
            "name = ? AND workspace = 'default'",
            ExperimentKey::Name(name),
        )
        .await
    }

    async fn search_experiments(&self, s: &ExperimentSearch) -> Result<Page<Experiment>> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, \
             e.creation_time, e.last_update_time FROM experiments e WHERE e.lifecycle_stage IN (",
        );
        let mut sep = qb.separated(", ");
        for stage in s.view_type.stages() {
            sep.push_bind(*stage);
        }
        sep.push_unseparated(")");
        for c in &s.filter {
            qb.push(" AND ");
            search::push_experiment_clause(&mut qb, c);
        }
        search::push_experiment_order_by(&mut qb, &s.order_by);
        qb.push(" LIMIT ");
        qb.push_bind((s.max_results + 1) as i64);
        qb.push(" OFFSET ");
        qb.push_bind(s.offset as i64);
        let rows = qb.build().fetch_all(&self.reader).await?;
        let has_more = rows.len() as u64 > s.max_results;
        let mut items = rows
            .iter()
            .take(s.max_results as usize)
            .map(experiment_from_row)
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<i64> = items
            .iter()
            .filter_map(|e| e.experiment_id.parse().ok())
            .collect();
        let mut tags = self.experiment_tags(&ids).await?;
        for e in &mut items {
            if let Ok(id) = e.experiment_id.parse::<i64>() {
                e.tags = tags.remove(&id).unwrap_or_default();
            }
        }
        let next_page_token = page_token::next(s.offset, items.len(), s.max_results, has_more);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    async fn rename_experiment(&self, experiment_id: i64, new_name: &str) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let clash: Option<i64> = sqlx::query_scalar(
            "SELECT experiment_id FROM experiments WHERE name = ? AND workspace = 'default' \
             AND experiment_id != ?",
        )
        .bind(new_name)
        .bind(experiment_id)
        .fetch_optional(&mut *tx)
        .await?;
        if clash.is_some() {
            return Err(MlflowError::already_exists(format!(
                "Experiment(name={new_name}) already exists."
            ))
            .into());
        }
        sqlx::query(
            "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
        )
        .bind(new_name)
        .bind(super::now_ms())
        .bind(experiment_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_experiment_lifecycle(
        &self,
        experiment_id: i64,
        stage: LifecycleStage,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? \
             WHERE experiment_id = ?",
        )
        .bind(stage.as_str())
        .bind(now_ms)
        .bind(experiment_id)
        .execute(&mut *tx)
        .await?;
        let deleted_time = (stage == LifecycleStage::Deleted).then_some(now_ms);
        sqlx::query(
            "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?",
        )
        .bind(stage.as_str())
        .bind(deleted_time)
        .bind(experiment_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_experiment_tag(&self, experiment_id: i64, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?) \
             ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .bind(experiment_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn delete_experiment_tag(&self, experiment_id: i64, key: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM experiment_tags WHERE experiment_id = ? AND \"key\" = ?")
                .bind(experiment_id)
                .bind(key)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_run(&self, new: NewRun) -> Result<Run> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, \
             user_id, status, start_time, end_time, source_version, lifecycle_stage, \
             artifact_uri, experiment_id, deleted_time) \
             VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
        )
        .bind(&new.run_id)
        .bind(&new.run_name)
        .bind(&new.user_id)
        .bind(new.start_time)
        .bind(&new.artifact_uri)
        .bind(new.experiment_id)
        .execute(&mut *tx)
        .await?;
        for tag in &new.tags {
            upsert_run_tag(&mut tx, &new.run_id, &tag.key, &tag.value).await?;
        }
        let info = self.run_info_in(&mut tx, &new.run_id).await?;
        tx.commit().await?;
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
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<Run>> {
        let Some(info) = self.get_run_info(run_id).await? else {
            return Ok(None);
        };
        Ok(self.complete_runs(vec![info]).await?.pop())
    }

    async fn get_run_info(&self, run_id: &str) -> Result<Option<RunInfo>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?"
        )))
        .bind(run_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(run_info_from_row).transpose()
    }

    async fn update_run(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE runs SET status = COALESCE(?, status), end_time = COALESCE(?, end_time) \
             WHERE run_uuid = ?",
        )
        .bind(status.map(|s| s.as_str()))
        .bind(end_time)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        if let Some(name) = run_name {
            upsert_run_tag(&mut tx, run_id, RUN_NAME_TAG, name).await?;
        }
        let info = self.run_info_in(&mut tx, run_id).await?;
        tx.commit().await?;
        Ok(info)
    }

    async fn set_run_lifecycle(
        &self,
        run_id: &str,
        stage: LifecycleStage,
        deleted_time: Option<i64>,
    ) -> Result<()> {
        sqlx::query("UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?")
            .bind(stage.as_str())
            .bind(deleted_time)
            .bind(run_id)
            .execute(&self.writer)
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
        let mut tx = self.writer.begin().await?;
        if !params.is_empty() {
            // Params are immutable: the same value again is fine, another one is refused.
            let mut qb =
                QueryBuilder::<Sqlite>::new("SELECT \"key\", value FROM params WHERE run_uuid = ");
            qb.push_bind(run_id.to_string());
            qb.push(" AND \"key\" IN ");
            let keys: Vec<String> = params.iter().map(|p| p.key.clone()).collect();
            push_in_list(&mut qb, &keys);
            let existing: HashMap<String, String> = qb
                .build()
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("key")?, text(r, "value")?)))
                .collect::<Result<_>>()?;
            let mut new = Vec::new();
            for p in params {
                match existing.get(&p.key) {
                    Some(old) if *old == p.value => {}
                    Some(old) => {
                        return Err(MlflowError::invalid_parameter(format!(
                            "Changing param values is not allowed. Param with key='{}' was \
                             already logged with value='{}' for run ID='{}'. Attempted logging \
                             new value '{}'.",
                            p.key, old, run_id, p.value
                        ))
                        .into())
                    }
                    None => new.push(p),
                }
            }
            if !new.is_empty() {
                let mut qb = QueryBuilder::<Sqlite>::new(
                    "INSERT OR IGNORE INTO params (\"key\", value, run_uuid) ",
                );
                qb.push_values(new, |mut b, p| {
                    b.push_bind(p.key.clone())
                        .push_bind(p.value.clone())
                        .push_bind(run_id.to_string());
                });
                qb.build().execute(&mut *tx).await?;
            }
        }
        // The newest point per key, by MLflow's (step, timestamp, value) order, is the only
        // candidate for latest_metrics: one upsert row per key, not per point.
        let mut latest: HashMap<&str, (i64, i64, f64, bool)> = HashMap::new();
        for m in metrics {
            let (value, is_nan) = sanitize(m.value);
            let candidate = (m.step, m.timestamp, value, is_nan);
            latest
                .entry(m.key.as_str())
                .and_modify(|cur| {
                    if (candidate.0, candidate.1, candidate.2) > (cur.0, cur.1, cur.2) {
                        *cur = candidate;
                    }
                })
                .or_insert(candidate);
        }
        // Multi-row statements: one round through SQLite's parser per 500 rows.
        for chunk in metrics.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT OR IGNORE INTO metrics (\"key\", value, timestamp, run_uuid, step, is_nan) ",
            );
            qb.push_values(chunk, |mut b, m| {
                let (value, is_nan) = sanitize(m.value);
                b.push_bind(m.key.clone())
                    .push_bind(value)
                    .push_bind(m.timestamp)
                    .push_bind(run_id.to_string())
                    .push_bind(m.step)
                    .push_bind(is_nan);
            });
            qb.build().execute(&mut *tx).await?;
        }
        let latest: Vec<_> = latest.into_iter().collect();
        for chunk in latest.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) ",
            );
            qb.push_values(chunk, |mut b, (key, (step, timestamp, value, is_nan))| {
                b.push_bind(key.to_string())
                    .push_bind(*value)
                    .push_bind(*timestamp)
                    .push_bind(*step)
                    .push_bind(*is_nan)
                    .push_bind(run_id.to_string());
            });
            qb.push(
                " ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value, \
                 timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan \
                 WHERE (excluded.step, excluded.timestamp, excluded.value) \
                 > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
            );
            qb.build().execute(&mut *tx).await?;
        }
        for t in tags {
            upsert_run_tag(&mut tx, run_id, &t.key, &t.value).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM tags WHERE run_uuid = ? AND \"key\" = ?")
            .bind(run_id)
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn log_inputs(
        &self,
        run_id: &str,
        experiment_id: i64,
        datasets: &[DatasetInput],
        models: &[ModelInput],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for di in datasets {
            let d = &di.dataset;
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
            )
            .bind(experiment_id)
            .bind(&d.name)
            .bind(&d.digest)
            .fetch_optional(&mut *tx)
            .await?;
            let dataset_uuid = match existing {
                Some(id) => id,
                None => {
                    let id = uuid::Uuid::new_v4().simple().to_string();
                    sqlx::query(
                        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, \
                         dataset_source_type, dataset_source, dataset_schema, dataset_profile) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&id)
                    .bind(experiment_id)
                    .bind(&d.name)
                    .bind(&d.digest)
                    .bind(&d.source_type)
                    .bind(&d.source)
                    .bind(&d.schema)
                    .bind(&d.profile)
                    .execute(&mut *tx)
                    .await?;
                    id
                }
            };
            let input_exists: Option<String> = sqlx::query_scalar(
                "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND source_id = ? \
                 AND destination_type = 'RUN' AND destination_id = ?",
            )
            .bind(&dataset_uuid)
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?;
            if input_exists.is_some() {
                continue;
            }
            let input_uuid = uuid::Uuid::new_v4().simple().to_string();
            sqlx::query(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
                 destination_id, step) VALUES (?, 'DATASET', ?, 'RUN', ?, 0)",
            )
            .bind(&input_uuid)
            .bind(&dataset_uuid)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            for tag in &di.tags {
                sqlx::query(
                    "INSERT OR REPLACE INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)",
                )
                .bind(&input_uuid)
                .bind(&tag.key)
                .bind(&tag.value)
                .execute(&mut *tx)
                .await?;
            }
        }
        for m in models {
            sqlx::query(
                "INSERT OR IGNORE INTO inputs (input_uuid, source_type, source_id, \
                 destination_type, destination_id, step) VALUES (?, 'RUN_INPUT', ?, 'MODEL_INPUT', ?, 0)",
            )
            .bind(uuid::Uuid::new_v4().simple().to_string())
            .bind(run_id)
            .bind(&m.model_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for m in models {
            sqlx::query(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
                 destination_id, step) VALUES (?, 'RUN_OUTPUT', ?, 'MODEL_OUTPUT', ?, ?) \
                 ON CONFLICT (source_type, source_id, destination_type, destination_id) \
                 DO UPDATE SET step = excluded.step",
            )
            .bind(uuid::Uuid::new_v4().simple().to_string())
            .bind(run_id)
            .bind(&m.model_id)
            .bind(m.step)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn search_runs(&self, s: &RunSearch) -> Result<Page<Run>> {
        if s.experiment_ids.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_page_token: None,
            });
        }
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {RUN_COLUMNS} FROM runs r"));
        search::push_run_order_joins(&mut qb, &s.order_by);
        qb.push(" WHERE r.experiment_id IN (");
        let mut sep = qb.separated(", ");
        for id in &s.experiment_ids {
            sep.push_bind(*id);
        }
        sep.push_unseparated(") AND r.lifecycle_stage IN (");
        let mut sep = qb.separated(", ");
        for stage in s.view_type.stages() {
            sep.push_bind(*stage);
        }
        sep.push_unseparated(")");
        for c in &s.filter {
            qb.push(" AND ");
            search::push_run_clause(&mut qb, c);
        }
        search::push_run_order_by(&mut qb, &s.order_by);
        qb.push(" LIMIT ");
        qb.push_bind((s.max_results + 1) as i64);
        qb.push(" OFFSET ");
        qb.push_bind(s.offset as i64);
        let rows = qb.build().fetch_all(&self.reader).await?;
        let has_more = rows.len() as u64 > s.max_results;
        let infos = rows
            .iter()
            .take(s.max_results as usize)
            .map(run_info_from_row)
            .collect::<Result<Vec<_>>>()?;
        let items = self.complete_runs(infos).await?;
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
        let rows = sqlx::query(
            "SELECT \"key\", value, timestamp, step, is_nan FROM metrics \
             WHERE run_uuid = ? AND \"key\" = ? ORDER BY timestamp, step, value LIMIT ? OFFSET ?",
        )
        .bind(run_id)
        .bind(key)
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| metric_from_row(r, None)).collect()
    }

    async fn metric_history_range(&self, range: &HistoryRange) -> Result<Vec<Metric>> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM metrics WHERE \"key\" = ",
        );
        qb.push_bind(range.key.as_str());
        qb.push(" AND run_uuid IN ");
        push_in_list(&mut qb, &range.run_ids);
        if let Some(start) = range.start_step {
            qb.push(" AND step >= ");
            qb.push_bind(start);
        }
        if let Some(end) = range.end_step {
            qb.push(" AND step <= ");
            qb.push_bind(end);
        }
        qb.push(" ORDER BY run_uuid, step, timestamp, value");
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter()
            .map(|r| metric_from_row(r, Some(r.try_get("run_uuid")?)))
            .collect()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        // A final checkpoint folds the WAL back into the main file, so the database is
        // one self-contained file after a clean shutdown.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint on shutdown failed");
        }
        self.reader.close().await;
        self.writer.close().await;
    }
}
