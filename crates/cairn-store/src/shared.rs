//! What both backends agree on beyond SQL text: the column lists they read entities
//! from, how values are stored, and the messages MLflow answers with.

use std::collections::HashMap;

use cairn_core::entities::{
    DatasetInput, KeyValue, Metric, ModelInput, ModelOutput, RunInputs, RunOutputs,
};
use cairn_core::MlflowError;

use crate::StoreError;

pub(crate) const RUN_COLUMNS: &str = "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, \
                                      r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";
pub(crate) const EXPERIMENT_COLUMNS: &str = "e.experiment_id, e.name, e.artifact_location, \
                                             e.lifecycle_stage, e.creation_time, e.last_update_time";
pub(crate) const MODEL_COLUMNS: &str =
    "rm.name, rm.creation_time, rm.last_updated_time, rm.description";
pub(crate) const VERSION_COLUMNS: &str = "mv.name, mv.version, mv.creation_time, \
     mv.last_updated_time, mv.description, mv.user_id, mv.current_stage, mv.source, \
     mv.run_id, mv.status, mv.status_message, mv.run_link";
/// The prediction log's columns after its id, in `PredictionRecord`'s field order.
pub(crate) const PREDICTION_COLUMNS: &str = "request_id, row_index, model_name, model_version, \
     alias, entity_id, timestamp_ms, inputs, outputs, shadow";
/// A prediction-log JSON column read back. cairn writes it from JSON values, so it
/// parses; a row edited by hand into something else reads as a string rather than
/// failing the whole page.
pub(crate) fn json_column(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

pub(crate) const LOGGED_MODEL_COLUMNS: &str = "m.model_id, m.experiment_id, m.name, \
     m.artifact_location, m.creation_timestamp_ms, m.last_updated_timestamp_ms, m.status, \
     m.status_message, m.model_type, m.source_run_id";

/// Appends a path segment to a URI the way MLflow's `append_to_uri_path` does.
pub(crate) fn join_uri(root: &str, segment: &str) -> String {
    if root.ends_with('/') {
        format!("{root}{segment}")
    } else {
        format!("{root}/{segment}")
    }
}

/// Milliseconds since the epoch, MLflow's unit for every time it stores.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// MLflow's SQL store keeps NaN as 0 with `is_nan` set, and clamps the infinities to
/// the largest doubles; so does cairn, so both read each other's rows.
pub(crate) fn sanitize(value: f64) -> (f64, bool) {
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

/// A `latest_metrics` candidate: step, timestamp, stored value, is_nan.
pub(crate) type Latest = (i64, i64, f64, bool);

/// The newest point per key of a batch, by MLflow's (step, timestamp, value) order:
/// the only candidates for `latest_metrics`, so one upsert per key, not per point.
/// Sorted by key, so concurrent batches lock rows in one order.
pub(crate) fn latest_per_key(metrics: &[Metric]) -> Vec<(&str, Latest)> {
    let mut latest: HashMap<&str, Latest> = HashMap::new();
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
    let mut latest: Vec<_> = latest.into_iter().collect();
    latest.sort_by(|a, b| a.0.cmp(b.0));
    latest
}

pub(crate) fn param_changed(key: &str, old: &str, run_id: &str, new: &str) -> StoreError {
    MlflowError::invalid_parameter(format!(
        "Changing param values is not allowed. Param with key='{key}' was already logged \
         with value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'."
    ))
    .into()
}

pub(crate) fn experiment_exists(name: &str) -> StoreError {
    MlflowError::already_exists(format!("Experiment(name={name}) already exists.")).into()
}

pub(crate) fn model_not_found(name: &str) -> StoreError {
    StoreError::not_found(format!("Registered Model with name={name} not found"))
}

pub(crate) fn model_exists(name: &str) -> StoreError {
    MlflowError::already_exists(format!("Registered Model (name={name}) already exists.")).into()
}

pub(crate) fn version_not_found(name: &str, version: i64) -> StoreError {
    StoreError::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

pub(crate) fn logged_model_not_found(model_id: &str) -> StoreError {
    StoreError::not_found(format!("Logged model with ID '{model_id}' not found."))
}

/// One row of MLflow's `inputs` edge table, with its dataset when it is one.
pub(crate) struct Edge {
    pub input_uuid: String,
    pub source_type: String,
    pub source_id: String,
    pub destination_id: String,
    pub step: i64,
    pub dataset: Option<cairn_core::entities::Dataset>,
}

/// Dataset inputs waiting for their tags: (run id, input uuid, input).
pub(crate) type PendingDatasetInput = (String, String, DatasetInput);

/// Sorts edges into each run's model inputs and outputs, and returns the dataset
/// inputs, whose tags the caller reads next.
pub(crate) fn sort_edges(
    edges: Vec<Edge>,
    inputs: &mut HashMap<String, RunInputs>,
    outputs: &mut HashMap<String, RunOutputs>,
) -> Vec<PendingDatasetInput> {
    let mut dataset_inputs = Vec::new();
    for e in edges {
        match e.source_type.as_str() {
            "DATASET" => {
                if let Some(dataset) = e.dataset {
                    dataset_inputs.push((
                        e.destination_id,
                        e.input_uuid,
                        DatasetInput {
                            tags: Vec::new(),
                            dataset,
                        },
                    ));
                }
            }
            "RUN_INPUT" => inputs
                .entry(e.source_id)
                .or_default()
                .model_inputs
                .push(ModelInput {
                    model_id: e.destination_id,
                }),
            "RUN_OUTPUT" => {
                outputs
                    .entry(e.source_id)
                    .or_default()
                    .model_outputs
                    .push(ModelOutput {
                        model_id: e.destination_id,
                        step: e.step,
                    });
            }
            _ => {}
        }
    }
    dataset_inputs
}

/// Gives dataset inputs their tags and files them under their runs.
pub(crate) fn attach_dataset_inputs(
    pending: Vec<PendingDatasetInput>,
    mut tags: HashMap<String, Vec<KeyValue>>,
    inputs: &mut HashMap<String, RunInputs>,
) {
    for (run_id, input_id, mut di) in pending {
        di.tags = tags.remove(&input_id).unwrap_or_default();
        inputs.entry(run_id).or_default().dataset_inputs.push(di);
    }
}

/// SQL that picks the edges of a page of runs: dataset inputs go to runs, model inputs
/// and outputs come from runs. `{ids}` is the run-id list placeholder.
pub(crate) fn edges_sql(ids_a: &str, ids_b: &str, order: &str) -> String {
    format!(
        "SELECT i.input_uuid, i.source_type, i.source_id, i.destination_id, i.step, d.name, \
         d.digest, d.dataset_source_type, d.dataset_source, d.dataset_schema, d.dataset_profile \
         FROM inputs i LEFT JOIN datasets d ON i.source_type = 'DATASET' \
         AND d.dataset_uuid = i.source_id WHERE (i.destination_type = 'RUN' AND i.destination_id \
         {ids_a}) OR (i.source_type IN ('RUN_INPUT', 'RUN_OUTPUT') AND i.source_id {ids_b}) \
         ORDER BY {order}"
    )
}
