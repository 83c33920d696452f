//! The prediction log: serving endpoints append to it in batches, online evaluation
//! and people read it back per model version or entity.

use std::sync::Arc;

use cairn_core::entities::Page;
use cairn_core::predictions::{
    PredictionRecord, PredictionSearch, MAX_LOG_BATCH, MAX_SEARCH_RESULTS,
};
use cairn_core::Result;
use cairn_core::{ErrorCode, MlflowError};
use cairn_store::PredictionStore;

pub struct PredictionService {
    store: Arc<dyn PredictionStore>,
}

impl PredictionService {
    pub fn new(store: Arc<dyn PredictionStore>) -> Self {
        PredictionService { store }
    }

    /// Appends a batch whole, or nothing when any record is invalid.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn log(&self, records: &[PredictionRecord]) -> Result<()> {
        if records.len() > MAX_LOG_BATCH {
            return Err(MlflowError::new(
                ErrorCode::InvalidParameterValue,
                format!(
                    "predictions: a batch holds at most {MAX_LOG_BATCH} records, got {}",
                    records.len()
                ),
            ));
        }
        for (i, r) in records.iter().enumerate() {
            r.validate(i)?;
        }
        self.store.log_predictions(records).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search(&self, mut search: PredictionSearch) -> Result<Page<PredictionRecord>> {
        if search.model_name.is_empty() {
            return Err(MlflowError::new(
                ErrorCode::InvalidParameterValue,
                "model_name is required",
            ));
        }
        if !(1..=MAX_SEARCH_RESULTS).contains(&search.max_results) {
            return Err(MlflowError::new(
                ErrorCode::InvalidParameterValue,
                format!("max_results must be between 1 and {MAX_SEARCH_RESULTS}"),
            ));
        }
        let limit = search.max_results;
        // One more than asked tells whether another page follows.
        search.max_results = limit + 1;
        let mut rows = self.store.search_predictions(&search).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some((id, _))) => Some(id.to_string()),
            _ => None,
        };
        Ok(Page {
            items: rows.into_iter().map(|(_, r)| r).collect(),
            next_page_token,
        })
    }
}
