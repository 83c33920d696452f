//! Hand-built entities for the pages' render tests: what a store would return, with
//! only the fields a test cares about set.

use cairn_core::entities::{
    Experiment, KeyValue, LifecycleStage, Metric, Run, RunData, RunInfo, RunStatus,
};
use cairn_core::registry::{ModelVersion, RegisteredModel};

use crate::query::Params;

/// A query string as the server would parse it.
pub fn query(raw: &str) -> Params {
    Params::parse(raw.as_bytes())
}

/// An active experiment created at the epoch.
pub fn experiment(id: &str, name: &str) -> Experiment {
    Experiment {
        experiment_id: id.into(),
        name: name.into(),
        artifact_location: Some(format!("mlflow-artifacts:/{id}")),
        lifecycle_stage: LifecycleStage::Active,
        last_update_time: Some(0),
        creation_time: Some(0),
        tags: Vec::new(),
    }
}

/// A finished run of experiment 1, its artifacts in the server's store.
pub fn run(id: &str, name: &str) -> Run {
    Run {
        info: RunInfo {
            run_id: id.into(),
            run_uuid: id.into(),
            run_name: name.into(),
            experiment_id: "1".into(),
            user_id: "ada".into(),
            status: RunStatus::Finished,
            start_time: Some(0),
            end_time: Some(65_000),
            artifact_uri: format!("mlflow-artifacts:/1/{id}/artifacts"),
            lifecycle_stage: LifecycleStage::Active,
        },
        data: RunData::default(),
        inputs: Default::default(),
        outputs: Default::default(),
    }
}

/// `run` with these params, latest metrics (`(key, value, step)`) and tags.
pub fn with_data(
    mut run: Run,
    params: &[(&str, &str)],
    metrics: &[(&str, f64, i64)],
    tags: &[(&str, &str)],
) -> Run {
    run.data.params = params.iter().map(|(k, v)| KeyValue::new(*k, *v)).collect();
    run.data.metrics = metrics.iter().map(|(k, v, s)| metric(k, *v, *s)).collect();
    run.data.tags = tags.iter().map(|(k, v)| KeyValue::new(*k, *v)).collect();
    run
}

/// One point of a metric, a second per step after 2023-11-14.
pub fn metric(key: &str, value: f64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp: 1_700_000_000_000 + step * 1000,
        step,
        run_id: None,
        model_id: None,
    }
}

/// A registered model with no versions, tags or aliases.
pub fn model(name: &str) -> RegisteredModel {
    RegisteredModel {
        name: name.into(),
        creation_timestamp: Some(0),
        last_updated_timestamp: Some(0),
        description: None,
        latest_versions: Vec::new(),
        tags: Vec::new(),
        aliases: Vec::new(),
    }
}

/// A ready version of `name`, from `run_id` when given.
pub fn version(name: &str, version: &str, run_id: Option<&str>) -> ModelVersion {
    let mut v: ModelVersion = serde_json::from_value(serde_json::json!({
        "name": name,
        "version": version,
        "current_stage": "None",
        "status": "READY",
        "creation_timestamp": 0,
    }))
    .expect("a model version from its required fields");
    v.run_id = run_id.map(str::to_string);
    v.source = Some(format!("models:/{name}/{version}"));
    v
}
