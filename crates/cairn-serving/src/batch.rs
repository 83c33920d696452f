//! Scoring rows offline with the version an alias points at (`cairn predict`): the
//! version is downloaded, loaded and checked against its input example as an
//! endpoint loads it, and each batch of rows comes back as prediction-log records,
//! so predictions over a data set land in the same log as served ones.

use std::path::Path;

use cairn_client::Client;
use cairn_core::predictions::PredictionRecord;

use crate::endpoint::{load_version, now_ms, LoadedModel, ModelRef};
use crate::predlog::LogEntry;
use crate::ServingError;

pub struct BatchScorer {
    model: ModelRef,
    loaded: LoadedModel,
}

impl BatchScorer {
    /// Loads the version `model`'s alias points at now.
    pub async fn load(
        client: &Client,
        model: &ModelRef,
        cache_dir: &Path,
    ) -> Result<BatchScorer, ServingError> {
        let mv = client
            .get_model_version_by_alias(&model.name, &model.alias)
            .await?;
        let version = mv.version.parse::<i64>().map_err(|_| {
            ServingError::Load(format!(
                "{model} points at version '{}', not a number",
                mv.version
            ))
        })?;
        let (loaded, _) = load_version(model, version, client, cache_dir).await?;
        Ok(BatchScorer {
            model: model.clone(),
            loaded,
        })
    }

    pub fn version(&self) -> i64 {
        self.loaded.version
    }

    /// Scores a request body (MLflow's scoring JSON), the entity ids taken from
    /// `entity_column` and not given to the model; returns one record per row.
    pub fn score(
        &self,
        body: &[u8],
        entity_column: Option<&str>,
        request_id: &str,
    ) -> Result<Vec<PredictionRecord>, ServingError> {
        let scored = self
            .loaded
            .score(Some("application/json"), body, entity_column)?;
        let mut records = Vec::new();
        LogEntry {
            request_id: request_id.to_string(),
            model_name: self.model.name.as_str().into(),
            alias: self.model.alias.as_str().into(),
            model_version: self.loaded.version,
            timestamp_ms: now_ms(),
            entity_ids: scored.entity_ids,
            input: scored.input,
            outputs: scored.outputs,
            shadow: false,
        }
        .into_records(&mut records);
        Ok(records)
    }
}
