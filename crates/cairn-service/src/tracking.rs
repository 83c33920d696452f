//! Experiments, runs, metrics, params and tags: MLflow's tracking rules.

use std::collections::BTreeSet;
use std::sync::Arc;

use cairn_core::entities::{
    DatasetInput, Experiment, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput, Page, Run,
    RunInfo, RunStatus, ViewType, RUN_NAME_TAG,
};
use cairn_core::ids::{ExperimentId, RunId};
use cairn_core::search;
use cairn_core::validation::{self as v, KeyKind};
use cairn_core::Result;
use cairn_core::{names, page_token, ErrorCode, MlflowError};
use cairn_store::{
    ExperimentSearch, HistoryRange, LoggedModelStore, NewExperiment, NewRun, RunSearch,
    TrackingStore,
};

use crate::now_ms;

/// The id of the experiment MLflow creates on every database and uses by default.
pub const DEFAULT_EXPERIMENT_ID: &str = "0";

pub struct TrackingService {
    store: Arc<dyn TrackingStore>,
    /// MLflow 3's logged models, which runs produce and the registry points at.
    pub(crate) logged_models: Arc<dyn LoggedModelStore>,
}

/// A run-creation request, after parsing.
pub struct CreateRun {
    pub experiment_id: Option<String>,
    pub user_id: Option<String>,
    pub run_name: Option<String>,
    pub start_time: Option<i64>,
    pub tags: Vec<KeyValue>,
}

/// What `get-history-bulk-interval` asks for.
pub struct BulkInterval {
    pub run_ids: Vec<String>,
    pub metric_key: String,
    pub start_step: Option<i64>,
    pub end_step: Option<i64>,
    pub max_results: Option<i64>,
}

fn parse_experiment_id(id: &str) -> Result<i64, MlflowError> {
    ExperimentId::parse(id).map(ExperimentId::get)
}

impl TrackingService {
    pub fn new(store: Arc<dyn TrackingStore>, logged_models: Arc<dyn LoggedModelStore>) -> Self {
        TrackingService {
            store,
            logged_models,
        }
    }

    pub fn store(&self) -> &Arc<dyn TrackingStore> {
        &self.store
    }

    // ------------------------------------------------------------------ experiments

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<String>,
        tags: Vec<KeyValue>,
    ) -> Result<String> {
        v::validate_experiment_name(name)?;
        for t in &tags {
            v::validate_experiment_tag(&t.key, &t.value)?;
        }
        let artifact_location = artifact_location.filter(|s| !s.is_empty());
        Ok(self
            .store
            .create_experiment(NewExperiment {
                name: name.to_string(),
                artifact_location,
                tags,
                now_ms: now_ms(),
            })
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    pub async fn get_experiment(&self, id: &str) -> Result<Experiment> {
        let n = parse_experiment_id(id)?;
        self.store
            .get_experiment(n)
            .await?
            .ok_or_else(|| MlflowError::not_found(format!("No Experiment with id={id} exists")))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        self.store
            .get_experiment_by_name(name)
            .await?
            .ok_or_else(|| {
                MlflowError::not_found(format!("Could not find experiment with name '{name}'"))
            })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_experiments(
        &self,
        filter: Option<&str>,
        order_by: &[String],
        view_type: ViewType,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<Experiment>> {
        let max_results =
            v::validate_max_results(max_results.unwrap_or(1000), v::SEARCH_MAX_RESULTS_THRESHOLD)?;
        Ok(self
            .store
            .search_experiments(&ExperimentSearch {
                filter: search::experiment_filter(filter.unwrap_or(""))?,
                order_by: search::experiment_order_by(order_by)?,
                view_type,
                max_results,
                offset: page_token::decode(page_token)?,
            })
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    pub async fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        v::validate_experiment_name(new_name)?;
        let exp = self.get_experiment(id).await?;
        if exp.lifecycle_stage != LifecycleStage::Active {
            return Err(MlflowError::invalid_parameter(format!(
                "Cannot rename a non-active experiment. Experiment {id} is in the 'deleted' state."
            )));
        }
        self.store
            .rename_experiment(parse_experiment_id(id)?, new_name)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    pub async fn set_experiment_lifecycle(&self, id: &str, stage: LifecycleStage) -> Result<()> {
        if stage == LifecycleStage::Deleted && id.trim() == DEFAULT_EXPERIMENT_ID {
            return Err(MlflowError::invalid_parameter(
                "Cannot delete the default experiment '0'. This is an internally reserved \
                 experiment.",
            ));
        }
        let exp = self.get_experiment(id).await?;
        // MLflow looks the experiment up among those in the other state: deleting a
        // deleted experiment or restoring an active one finds none.
        if exp.lifecycle_stage == stage {
            return Err(MlflowError::not_found(format!(
                "No Experiment with id={id} exists"
            )));
        }
        self.store
            .set_experiment_lifecycle(parse_experiment_id(id)?, stage, now_ms())
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %id, key = %key))]
    pub async fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()> {
        v::validate_experiment_tag(key, value)?;
        let exp = self.get_experiment(id).await?;
        if exp.lifecycle_stage != LifecycleStage::Active {
            return Err(MlflowError::invalid_parameter(format!(
                "The experiment {id} must be in the 'active' state. Current state is deleted."
            )));
        }
        self.store
            .set_experiment_tag(parse_experiment_id(id)?, key, value)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %id, key = %key))]
    pub async fn delete_experiment_tag(&self, id: &str, key: &str) -> Result<()> {
        self.get_experiment(id).await?;
        if !self
            .store
            .delete_experiment_tag(parse_experiment_id(id)?, key)
            .await?
        {
            return Err(MlflowError::not_found(format!(
                "No tag with name: {key} in experiment with id {id}"
            )));
        }
        Ok(())
    }

    // ------------------------------------------------------------------------- runs

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_run(&self, req: CreateRun) -> Result<Run> {
        let experiment_id = req
            .experiment_id
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_EXPERIMENT_ID.to_string());
        let exp = self.get_experiment(&experiment_id).await?;
        if exp.lifecycle_stage != LifecycleStage::Active {
            return Err(MlflowError::invalid_parameter(format!(
                "The experiment {experiment_id} must be in the 'active' state. Current state is \
                 deleted."
            )));
        }
        for t in &req.tags {
            v::validate_tag(&t.key, &t.value)?;
        }
        let name_tag = req
            .tags
            .iter()
            .rev()
            .find(|t| t.key == RUN_NAME_TAG)
            .map(|t| t.value.clone());
        let run_name = req.run_name.filter(|s| !s.is_empty());
        if let (Some(name), Some(tag)) = (&run_name, &name_tag) {
            if name != tag {
                return Err(MlflowError::invalid_parameter(format!(
                    "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with \
                     different values (run_name='{name}', mlflow.runName='{tag}')."
                )));
            }
        }
        let run_name = run_name
            .or(name_tag.clone())
            .unwrap_or_else(names::random_run_name);
        let mut tags = req.tags;
        if name_tag.is_none() {
            tags.push(KeyValue::new(RUN_NAME_TAG, run_name.clone()));
        }
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let location = exp.artifact_location.unwrap_or_default();
        let artifact_uri = if location.ends_with('/') {
            format!("{location}{run_id}/artifacts")
        } else {
            format!("{location}/{run_id}/artifacts")
        };
        Ok(self
            .store
            .create_run(NewRun {
                run_id,
                experiment_id: parse_experiment_id(&experiment_id)?,
                user_id: req.user_id.unwrap_or_default(),
                run_name,
                start_time: Some(req.start_time.unwrap_or_else(now_ms)),
                artifact_uri,
                tags,
            })
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn get_run(&self, run_id: &RunId) -> Result<Run> {
        self.store
            .get_run(run_id.as_str())
            .await?
            .ok_or_else(|| MlflowError::not_found(format!("Run with id={run_id} not found")))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub(crate) async fn run_info(&self, run_id: &str) -> Result<RunInfo> {
        self.store
            .get_run_info(run_id)
            .await?
            .ok_or_else(|| MlflowError::not_found(format!("Run with id={run_id} not found")))
    }

    /// The run, which must be active: MLflow refuses writes to deleted runs.
    async fn active_run(&self, run_id: &RunId) -> Result<RunInfo> {
        let info = self.run_info(run_id.as_str()).await?;
        if info.lifecycle_stage != LifecycleStage::Active {
            return Err(MlflowError::invalid_parameter(format!(
                "The run {run_id} must be in the 'active' state. Current state is deleted."
            )));
        }
        Ok(info)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn update_run(
        &self,
        run_id: &RunId,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        self.active_run(run_id).await?;
        let run_name = run_name.filter(|s| !s.is_empty());
        if let Some(name) = run_name {
            v::validate_tag(RUN_NAME_TAG, name)?;
        }
        Ok(self
            .store
            .update_run(run_id.as_str(), status, end_time, run_name)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn delete_run(&self, run_id: &RunId) -> Result<()> {
        self.run_info(run_id.as_str()).await?;
        self.store
            .set_run_lifecycle(run_id.as_str(), LifecycleStage::Deleted, Some(now_ms()))
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn restore_run(&self, run_id: &RunId) -> Result<()> {
        self.run_info(run_id.as_str()).await?;
        self.store
            .set_run_lifecycle(run_id.as_str(), LifecycleStage::Active, None)
            .await?;
        Ok(())
    }

    /// Checks and writes metrics, params and tags atomically: one bad entry and nothing
    /// of the batch is written.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn log_batch(
        &self,
        run_id: &RunId,
        metrics: Vec<Metric>,
        params: Vec<KeyValue>,
        tags: Vec<KeyValue>,
    ) -> Result<()> {
        v::validate_batch_sizes(metrics.len(), params.len(), tags.len())?;
        for m in &metrics {
            v::validate_key(KeyKind::Metric, &m.key)?;
        }
        for p in &params {
            v::validate_param(&p.key, &p.value)?;
        }
        // One value per param key in a batch, as MLflow checks it (even when the
        // values agree).
        let mut seen = std::collections::HashSet::new();
        let mut duplicates: Vec<&str> = Vec::new();
        for p in &params {
            if !seen.insert(p.key.as_str()) && !duplicates.contains(&p.key.as_str()) {
                duplicates.push(&p.key);
            }
        }
        if !duplicates.is_empty() {
            let listed: Vec<String> = duplicates.iter().map(|k| format!("'{k}'")).collect();
            return Err(MlflowError::invalid_parameter(format!(
                "Duplicate parameter keys have been submitted: [{}]. Please ensure the request \
                 contains only one param value per param key.",
                listed.join(", ")
            )));
        }
        for t in &tags {
            v::validate_tag(&t.key, &t.value)?;
        }
        self.active_run(run_id).await?;
        // A point recorded for a logged model needs that model: the store's foreign
        // key would refuse it as a database error (a 500 the client retries).
        let mut model_ids: Vec<&str> = metrics
            .iter()
            .filter_map(|m| m.model_id.as_deref())
            .collect();
        model_ids.sort_unstable();
        model_ids.dedup();
        for model_id in model_ids {
            if self
                .logged_models
                .get_logged_model(model_id, true)
                .await?
                .is_none()
            {
                return Err(MlflowError::new(
                    ErrorCode::BadRequest,
                    format!("Logged model with ID '{model_id}' not found: its metrics cannot be logged."),
                ));
            }
        }
        self.store
            .log_batch(run_id.as_str(), metrics, params, tags)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id, key = %key))]
    pub async fn delete_tag(&self, run_id: &RunId, key: &str) -> Result<()> {
        self.active_run(run_id).await?;
        if !self.store.delete_run_tag(run_id.as_str(), key).await? {
            return Err(MlflowError::not_found(format!(
                "No tag with name: {key} in run with id {run_id}"
            )));
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn log_inputs(
        &self,
        run_id: &RunId,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> Result<()> {
        for d in &datasets {
            let ds = &d.dataset;
            v::check_length("Dataset name", &ds.name, v::MAX_DATASET_NAME_LENGTH)?;
            v::check_length("Dataset digest", &ds.digest, v::MAX_DATASET_DIGEST_LENGTH)?;
            v::check_length("Dataset source", &ds.source, v::MAX_DATASET_SOURCE_LENGTH)?;
            if let Some(schema) = &ds.schema {
                v::check_length("Dataset schema", schema, v::MAX_DATASET_SCHEMA_LENGTH)?;
            }
            if let Some(profile) = &ds.profile {
                v::check_length("Dataset profile", profile, v::MAX_DATASET_PROFILE_LENGTH)?;
            }
            for t in &d.tags {
                v::check_length("Input tag key", &t.key, v::MAX_INPUT_TAG_KEY_LENGTH)?;
                v::check_length("Input tag value", &t.value, v::MAX_INPUT_TAG_VAL_LENGTH)?;
            }
        }
        let info = self.active_run(run_id).await?;
        let experiment_id = parse_experiment_id(&info.experiment_id)?;
        self.store
            .log_inputs(run_id.as_str(), experiment_id, &datasets, &models)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn log_outputs(&self, run_id: &RunId, models: Vec<ModelOutput>) -> Result<()> {
        self.active_run(run_id).await?;
        self.store.log_outputs(run_id.as_str(), &models).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: Option<&str>,
        order_by: &[String],
        view_type: ViewType,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<Run>> {
        let max_results =
            v::validate_max_results(max_results.unwrap_or(1000), v::SEARCH_MAX_RESULTS_THRESHOLD)?;
        let experiment_ids = experiment_ids
            .iter()
            .map(|id| {
                id.trim().parse::<i64>().map_err(|_| {
                    MlflowError::invalid_parameter(format!(
                        "Invalid value '{id}' for parameter 'experiment_ids': experiment ids \
                         are integers"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .store
            .search_runs(&RunSearch {
                experiment_ids,
                filter: search::run_filter(filter.unwrap_or(""))?,
                order_by: search::run_order_by(order_by)?,
                view_type,
                max_results,
                offset: page_token::decode(page_token)?,
            })
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id, key = %key))]
    pub async fn metric_history(
        &self,
        run_id: &RunId,
        key: &str,
        max_results: Option<i64>,
        token: Option<&str>,
    ) -> Result<Page<Metric>> {
        // A run that does not exist has an empty history, as in MLflow: no lookup.
        let offset = page_token::decode(token)?;
        let Some(max_results) = max_results else {
            // No page size: the whole history, as MLflow's server does.
            let items = self
                .store
                .metric_history(run_id.as_str(), key, offset, i64::MAX as u64)
                .await?;
            return Ok(Page {
                items,
                next_page_token: None,
            });
        };
        let limit = v::validate_max_results(max_results, v::GET_METRIC_HISTORY_MAX_RESULTS)?;
        let mut items = self
            .store
            .metric_history(run_id.as_str(), key, offset, limit + 1)
            .await?;
        let has_more = items.len() as u64 > limit;
        items.truncate(limit as usize);
        let next_page_token = page_token::next(offset, items.len(), limit, has_more);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Each run's history of one metric, down-sampled to at most `max_results` steps
    /// shared by all runs (always keeping the first and last step), as the UI charts it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn metric_history_bulk_interval(&self, req: BulkInterval) -> Result<Vec<Metric>> {
        if req.run_ids.is_empty() {
            return Err(MlflowError::missing("run_ids"));
        }
        if req.run_ids.len() > v::BULK_INTERVAL_MAX_RUNS {
            return Err(MlflowError::invalid_parameter(format!(
                "GetMetricHistoryBulkInterval request must specify at most {} run_ids. Received \
                 {} run_ids.",
                v::BULK_INTERVAL_MAX_RUNS,
                req.run_ids.len()
            )));
        }
        if let (Some(s), Some(e)) = (req.start_step, req.end_step) {
            if s > e {
                return Err(MlflowError::invalid_parameter(format!(
                    "end_step must be greater than start_step. Found start_step={s} and \
                     end_step={e}."
                )));
            }
        }
        let max_results =
            v::validate_max_results(req.max_results.unwrap_or(320), v::BULK_INTERVAL_MAX_RESULTS)?;
        let points = self
            .store
            .metric_history_range(&HistoryRange {
                run_ids: req.run_ids.clone(),
                key: req.metric_key.clone(),
                start_step: req.start_step,
                end_step: req.end_step,
            })
            .await?;
        let steps: Vec<i64> = points
            .iter()
            .map(|m| m.step)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let chosen = sample_steps(&steps, max_results as usize);
        let mut out: Vec<Metric> = Vec::new();
        for run_id in &req.run_ids {
            out.extend(
                points
                    .iter()
                    .filter(|m| m.run_id.as_deref() == Some(run_id.as_str()))
                    .filter(|m| chosen.contains(&m.step))
                    .cloned(),
            );
        }
        Ok(out)
    }
}

/// Picks at most `n` steps spread evenly over `steps` (sorted), keeping both ends.
fn sample_steps(steps: &[i64], n: usize) -> BTreeSet<i64> {
    if steps.len() <= n {
        return steps.iter().copied().collect();
    }
    if n < 2 {
        return steps.iter().copied().take(n).collect();
    }
    // Index i of n maps to round(i * last / (n - 1)): 0 and `last` are always chosen.
    let last = steps.len() - 1;
    (0..n)
        .map(|i| steps[(i * last + (n - 1) / 2) / (n - 1)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sample_steps;

    #[test]
    fn sampling_keeps_ends_and_bounds_the_count() {
        let steps: Vec<i64> = (0..1000).collect();
        let s = sample_steps(&steps, 10);
        assert_eq!(s.len(), 10, "{s:?}");
        assert!(s.contains(&0) && s.contains(&999));
        let few: Vec<i64> = vec![1, 5, 9];
        assert_eq!(sample_steps(&few, 10).into_iter().collect::<Vec<_>>(), few);
    }
}
