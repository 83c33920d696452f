//! MLflow 3's logged models: what `mlflow.<flavor>.log_model` creates before it
//! uploads the files (PENDING) and finalizes after (READY).

use cairn_core::entities::{KeyValue, LifecycleStage, Page};
use cairn_core::logged_model::{LoggedModel, LoggedModelStatus, MODEL_ID_PREFIX};
use cairn_core::search::{self, LoggedModelAttr, OrderBy};
use cairn_core::validation as v;
use cairn_core::Result;
use cairn_core::{names, page_token, MlflowError};
use cairn_store::{LoggedModelSearch, NewLoggedModel};

use crate::now_ms;
use crate::tracking::TrackingService;

/// What `POST /logged-models` carries, after parsing.
pub struct CreateLoggedModel {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

/// What `POST /logged-models/search` carries, after parsing.
pub struct SearchLoggedModels {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    /// `(field_name, ascending)` pairs.
    pub order_by: Vec<(String, bool)>,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

/// The default and largest page of a logged-model search.
const SEARCH_DEFAULT: i64 = 100;
const SEARCH_MAX: i64 = 50000;

fn not_found(model_id: &str) -> MlflowError {
    MlflowError::not_found(format!("Logged model with ID '{model_id}' not found."))
}

impl TrackingService {
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModel> {
        let experiment = self.get_experiment(&req.experiment_id).await?;
        if experiment.lifecycle_stage != LifecycleStage::Active {
            return Err(MlflowError::invalid_parameter(format!(
                "The experiment {} must be in the 'active' state. Current state is deleted.",
                experiment.experiment_id
            )));
        }
        let name = req
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(names::random_run_name);
        if name.contains(['/', ':', '.', '%', '"', '\'']) {
            return Err(MlflowError::invalid_parameter(format!(
                "Invalid model name ('{name}') provided. Model name must not contain any of the \
                 following characters: / : . % \" '"
            )));
        }
        // The source run is not looked up: MLflow records a model's `source_run_id` as
        // given (its schema has no key to runs), and so does cairn.
        for p in &req.params {
            v::validate_param(&p.key, &p.value)?;
        }
        for t in &req.tags {
            v::validate_tag(&t.key, &t.value)?;
        }
        let model_id = format!("{MODEL_ID_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let root = experiment.artifact_location.unwrap_or_default();
        let artifact_location =
            format!("{}/models/{model_id}/artifacts", root.trim_end_matches('/'));
        Ok(self
            .logged_models
            .create_logged_model(NewLoggedModel {
                model_id,
                experiment_id: experiment.experiment_id.parse().unwrap_or(0),
                name,
                artifact_location,
                model_type: req.model_type.filter(|t| !t.is_empty()),
                source_run_id: req.source_run_id.filter(|r| !r.is_empty()),
                params: req.params,
                tags: req.tags,
                now_ms: now_ms(),
            })
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(model_id = %model_id))]
    pub async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.logged_models
            .get_logged_model(model_id, false)
            .await?
            .ok_or_else(|| not_found(model_id))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(model_id = %model_id))]
    pub async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        if !matches!(
            status,
            LoggedModelStatus::Ready | LoggedModelStatus::UploadFailed
        ) {
            return Err(MlflowError::invalid_parameter(format!(
                "Invalid model status '{}': a model is finalized as LOGGED_MODEL_READY or \
                 LOGGED_MODEL_UPLOAD_FAILED",
                status.as_str()
            )));
        }
        Ok(self
            .logged_models
            .finalize_logged_model(model_id, status, now_ms())
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(model_id = %model_id))]
    pub async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<KeyValue>) -> Result<()> {
        for t in &tags {
            v::validate_tag(&t.key, &t.value)?;
        }
        Ok(self
            .logged_models
            .set_logged_model_tags(model_id, &tags)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(model_id = %model_id, key = %key))]
    pub async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        if !self
            .logged_models
            .delete_logged_model_tag(model_id, key)
            .await?
        {
            return Err(MlflowError::not_found(format!(
                "No tag with key '{key}' found for model with ID '{model_id}'."
            )));
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(model_id = %model_id))]
    pub async fn log_logged_model_params(
        &self,
        model_id: &str,
        params: Vec<KeyValue>,
    ) -> Result<()> {
        for p in &params {
            v::validate_param(&p.key, &p.value)?;
        }
        Ok(self
            .logged_models
            .log_logged_model_params(model_id, &params)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(model_id = %model_id))]
    pub async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        Ok(self
            .logged_models
            .delete_logged_model(model_id, now_ms())
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_logged_models(&self, req: SearchLoggedModels) -> Result<Page<LoggedModel>> {
        let experiment_ids = req
            .experiment_ids
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
        if experiment_ids.is_empty() {
            return Err(MlflowError::missing("experiment_ids"));
        }
        let filter = match req.filter.as_deref() {
            Some(f) if !f.trim().is_empty() => search::logged_model_filter(f)?,
            _ => Vec::new(),
        };
        let order_by = req
            .order_by
            .iter()
            .map(|(field, asc)| search::logged_model_order_by(field, *asc))
            .collect::<Result<Vec<OrderBy<LoggedModelAttr>>, _>>()?;
        let max_results =
            v::validate_max_results(req.max_results.unwrap_or(SEARCH_DEFAULT), SEARCH_MAX)?;
        let offset = page_token::decode(req.page_token.as_deref())?;
        Ok(self
            .logged_models
            .search_logged_models(&LoggedModelSearch {
                experiment_ids,
                filter,
                order_by,
                max_results,
                offset,
            })
            .await?)
    }
}
