//! The model registry's rules: names, versions, stages, aliases, and which sources a
//! model version may point at.

use std::sync::Arc;

use cairn_core::entities::{KeyValue, Page};
use cairn_core::ids::{ModelName, Version};
use cairn_core::logged_model::model_id_of_uri;
use cairn_core::registry::{AliasEvent, ModelVersion, RegisteredModel, RegistryEvent, Stage};
use cairn_core::search::{self, Clause, OrderBy, RegistryAttr};
use cairn_core::validation as v;
use cairn_core::Result;
use cairn_core::{page_token, MlflowError};
use cairn_store::{NewModelVersion, RegistrySearch, RegistryStore};

use crate::now_ms;
use crate::tracking::TrackingService;

/// The tag on a logged model listing the versions registered from it.
const MODEL_VERSIONS_TAG: &str = "mlflow.modelVersions";

pub struct RegistryService {
    store: Arc<dyn RegistryStore>,
    tracking: Arc<TrackingService>,
    /// Versions created and aliases set, for the jobs they trigger.
    events: tokio::sync::broadcast::Sender<RegistryEvent>,
}

/// What `model-versions/create` carries, after parsing.
pub struct CreateModelVersion {
    pub name: ModelName,
    pub source: String,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<KeyValue>,
}

/// A registry search request, after parsing.
pub struct RegistrySearchRequest {
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

type FilterParser = fn(&str) -> Result<Vec<Clause<RegistryAttr>>, MlflowError>;
type OrderParser = fn(&[String]) -> Result<Vec<OrderBy<RegistryAttr>>, MlflowError>;

impl RegistrySearchRequest {
    /// Parses the filter and order with the searched entity's grammar and checks the
    /// page size against `(default, limit)`.
    fn validate(
        self,
        filter: FilterParser,
        order_by: OrderParser,
        (default_max, limit): (i64, i64),
    ) -> Result<RegistrySearch, MlflowError> {
        Ok(RegistrySearch {
            filter: match self.filter.as_deref() {
                Some(f) if !f.trim().is_empty() => filter(f)?,
                _ => Vec::new(),
            },
            order_by: order_by(&self.order_by)?,
            max_results: v::validate_max_results(self.max_results.unwrap_or(default_max), limit)?,
            offset: page_token::decode(self.page_token.as_deref())?,
        })
    }
}

fn invalid_source(source: &str, id_name: &str) -> MlflowError {
    MlflowError::invalid_parameter(format!(
        "Invalid model version source: '{source}'. The {id_name} request parameter must \
         identify the resource that contains the source."
    ))
}

/// `(scheme, authority, path segments)` of a URI, percent-decoded until stable, as
/// MLflow compares sources with roots.
fn uri_parts(uri: &str) -> (String, String, Vec<String>) {
    let (scheme, rest) = match uri.split_once(':') {
        Some((s, r))
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (s.to_ascii_lowercase(), r)
        }
        _ => (String::new(), uri),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(r) => match r.split_once('/') {
            Some((a, p)) => (a.to_ascii_lowercase(), p),
            None => (r.to_ascii_lowercase(), ""),
        },
        None => (String::new(), rest),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut cur = s.to_string();
            loop {
                let next = url::form_urlencoded::parse(
                    format!("x={}", cur.replace('+', "%2B")).as_bytes(),
                )
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
                if next == cur {
                    break cur;
                }
                cur = next;
            }
        })
        .collect();
    (scheme, authority, segments)
}

fn is_within(source: &str, root: &str) -> bool {
    let (s_scheme, s_auth, s_parts) = uri_parts(source);
    let (r_scheme, r_auth, r_parts) = uri_parts(root);
    s_scheme == r_scheme
        && s_auth == r_auth
        && !r_parts.is_empty()
        && s_parts.len() >= r_parts.len()
        && s_parts[..r_parts.len()] == r_parts[..]
}

fn is_local(uri: &str) -> bool {
    let (scheme, _, _) = uri_parts(uri);
    scheme.is_empty() || scheme == "file" || scheme.len() == 1
}

fn is_proxied_artifact(uri: &str) -> bool {
    let (scheme, _, parts) = uri_parts(uri);
    scheme == "mlflow-artifacts"
        || (matches!(scheme.as_str(), "http" | "https")
            && parts
                .windows(4)
                .any(|w| w == ["api", "2.0", "mlflow-artifacts", "artifacts"]))
}

impl RegistryService {
    pub fn new(store: Arc<dyn RegistryStore>, tracking: Arc<TrackingService>) -> Self {
        RegistryService {
            store,
            tracking,
            events: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// Every version created and alias set from now on (in this process).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: RegistryEvent) {
        // No subscriber (no jobs folder) is not an error.
        let _ = self.events.send(event);
    }

    // ------------------------------------------------------------ registered models

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn create_registered_model(
        &self,
        name: &ModelName,
        description: Option<&str>,
        tags: Vec<KeyValue>,
    ) -> Result<RegisteredModel> {
        for t in &tags {
            v::validate_registry_tag(&t.key, &t.value)?;
        }
        Ok(self
            .store
            .create_registered_model(name.as_str(), description, &tags, now_ms())
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn get_registered_model(&self, name: &ModelName) -> Result<RegisteredModel> {
        self.store
            .get_registered_model(name.as_str())
            .await?
            .ok_or_else(|| {
                MlflowError::not_found(format!("Registered Model with name={name} not found"))
            })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn rename_registered_model(
        &self,
        name: &ModelName,
        new_name: Option<&str>,
    ) -> Result<RegisteredModel> {
        let new_name = match new_name {
            Some(n) if !n.trim().is_empty() => n,
            _ => return Err(MlflowError::missing("new_name")),
        };
        v::validate_model_name(new_name)?;
        Ok(self
            .store
            .rename_registered_model(name.as_str(), new_name, now_ms())
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn update_registered_model(
        &self,
        name: &ModelName,
        description: Option<&str>,
    ) -> Result<RegisteredModel> {
        // A request without `description` clears it, as MLflow does: the field is
        // proto3's, and unset reads as the empty string.
        Ok(self
            .store
            .update_registered_model(name.as_str(), description.unwrap_or(""), now_ms())
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn delete_registered_model(&self, name: &ModelName) -> Result<()> {
        Ok(self.store.delete_registered_model(name.as_str()).await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_registered_models(
        &self,
        req: RegistrySearchRequest,
    ) -> Result<Page<RegisteredModel>> {
        let search = req.validate(
            search::registered_model_filter,
            search::registered_model_order_by,
            (100, 1000),
        )?;
        Ok(self.store.search_registered_models(&search).await?)
    }

    /// The newest version in each of `stages` (every stage when empty).
    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn get_latest_versions(
        &self,
        name: &ModelName,
        stages: &[Stage],
    ) -> Result<Vec<ModelVersion>> {
        let model = self.get_registered_model(name).await?;
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|mv| stages.is_empty() || stages.iter().any(|s| s.as_str() == mv.current_stage))
            .collect())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, key = %key))]
    pub async fn set_registered_model_tag(
        &self,
        name: &ModelName,
        key: &str,
        value: &str,
    ) -> Result<()> {
        v::validate_registry_tag(key, value)?;
        Ok(self
            .store
            .set_registered_model_tag(name.as_str(), key, value)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, key = %key))]
    pub async fn delete_registered_model_tag(&self, name: &ModelName, key: &str) -> Result<()> {
        Ok(self
            .store
            .delete_registered_model_tag(name.as_str(), key)
            .await?)
    }

    // --------------------------------------------------------------- model versions

    /// Checks the source the way MLflow's server does (it must lie inside the run or
    /// logged model the request names), resolves where its files are, and records
    /// the new version on the logged model it came from.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        if req.source.is_empty() {
            return Err(MlflowError::missing("source"));
        }
        for t in &req.tags {
            v::validate_registry_tag(&t.key, &t.value)?;
        }
        let mut run_id = req.run_id.filter(|r| !r.is_empty());
        let model_id = req.model_id.filter(|m| !m.is_empty());
        let source = req.source;
        let mut storage_location = source.clone();

        if let Some(source_model) = model_id_of_uri(&source) {
            // models:/m-<id>: the files are the logged model's.
            if model_id.as_deref().is_some_and(|m| m != source_model) {
                return Err(invalid_source(&source, "model_id"));
            }
            let model = self
                .tracking
                .get_logged_model(source_model)
                .await
                .map_err(|_| invalid_source(&source, "model_id"))?;
            storage_location = model.info.artifact_uri.clone();
            run_id = run_id.or(model.info.source_run_id.clone());
        } else if let Some(rest) = source.strip_prefix("models:/") {
            // models:/<name>/<version>: a copy of another version's files.
            let (src_name, src_version) = rest
                .rsplit_once('/')
                .ok_or_else(|| invalid_source(&source, "model_id"))?;
            let version = v::parse_model_version(src_version)?;
            storage_location = self
                .store
                .model_version_download_uri(src_name, version)
                .await?;
            // The one branch that has not read the request's logged model yet.
            if let (None, Some(m)) = (&run_id, &model_id) {
                run_id = self.tracking.get_logged_model(m).await?.info.source_run_id;
            }
        } else if let Some(model_id) = &model_id {
            let model = self
                .tracking
                .get_logged_model(model_id)
                .await
                .map_err(|_| invalid_source(&source, "model_id"))?;
            if !is_within(&source, &model.info.artifact_uri) {
                return Err(invalid_source(&source, "model_id"));
            }
            run_id = run_id.or(model.info.source_run_id.clone());
        } else {
            self.check_run_source(&source, run_id.as_deref()).await?;
        }

        let mv = self
            .store
            .create_model_version(NewModelVersion {
                name: req.name.into_string(),
                source,
                storage_location,
                run_id,
                run_link: req.run_link.filter(|l| !l.is_empty()),
                description: req.description.filter(|d| !d.is_empty()),
                tags: req.tags,
                now_ms: now_ms(),
            })
            .await?;
        if let Some(model_id) = model_id.as_deref().or(mv.model_id.as_deref()) {
            self.record_version_on_model(model_id, &mv).await?;
        }
        if let Ok(version) = mv.version.parse::<i64>() {
            self.emit(RegistryEvent::VersionCreated {
                name: mv.name.clone(),
                version,
            });
        }
        Ok(mv)
    }

    async fn check_run_source(&self, source: &str, run_id: Option<&str>) -> Result<()> {
        if is_local(source) {
            if let Some(run_id) = run_id {
                let run = self
                    .tracking
                    .run_info(run_id)
                    .await
                    .map_err(|_| invalid_source(source, "run_id"))?;
                if is_local(&run.artifact_uri) && is_within(source, &run.artifact_uri) {
                    return Ok(());
                }
            }
            return Err(MlflowError::invalid_parameter(format!(
                "Invalid model version source: '{source}'. To use a local path as a model \
                 version source, the run_id request parameter has to be specified and the \
                 local path has to be contained within the artifact directory of the run \
                 specified by the run_id."
            )));
        }
        if uri_parts(source).2.iter().any(|s| s == "..") {
            return Err(MlflowError::invalid_parameter(format!(
                "Invalid model version source: '{source}'. If supplying a source as an http, \
                 https, local file path, ftp, objectstore, or mlflow-artifacts uri, an \
                 absolute path must be provided without relative path references present."
            )));
        }
        if let Some(rest) = source.strip_prefix("runs:/") {
            let source_run = rest.split('/').next().unwrap_or("");
            return match run_id {
                Some(r) if r == source_run && !rest.starts_with('/') => Ok(()),
                _ => Err(invalid_source(source, "run_id")),
            };
        }
        if is_proxied_artifact(source) {
            if let Some(run_id) = run_id {
                let run = self
                    .tracking
                    .run_info(run_id)
                    .await
                    .map_err(|_| invalid_source(source, "run_id"))?;
                if is_within(source, &run.artifact_uri) {
                    return Ok(());
                }
            }
            return Err(invalid_source(source, "run_id"));
        }
        Ok(())
    }

    /// Adds `{name, version}` to the logged model's `mlflow.modelVersions` tag.
    async fn record_version_on_model(&self, model_id: &str, mv: &ModelVersion) -> Result<()> {
        let model = self.tracking.get_logged_model(model_id).await?;
        let entry =
            serde_json::json!({"name": mv.name, "version": mv.version.parse::<i64>().unwrap_or(0)});
        let mut list: Vec<serde_json::Value> = model
            .info
            .tags
            .iter()
            .find(|t| t.key == MODEL_VERSIONS_TAG)
            .and_then(|t| serde_json::from_str(&t.value).ok())
            .unwrap_or_default();
        if !list.contains(&entry) {
            list.push(entry);
        }
        let value =
            serde_json::to_string(&list).map_err(|e| MlflowError::internal(e.to_string()))?;
        self.tracking
            .set_logged_model_tags(model_id, vec![KeyValue::new(MODEL_VERSIONS_TAG, value)])
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, version = %version))]
    pub async fn get_model_version(
        &self,
        name: &ModelName,
        version: Version,
    ) -> Result<ModelVersion> {
        let n = version.get();
        self.store
            .get_model_version(name.as_str(), n)
            .await?
            .ok_or_else(|| {
                MlflowError::not_found(format!(
                    "Model Version (name={name}, version={n}) not found"
                ))
            })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, version = %version))]
    pub async fn update_model_version(
        &self,
        name: &ModelName,
        version: Version,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        let n = version.get();
        match description {
            Some(d) => Ok(self
                .store
                .update_model_version(name.as_str(), n, d, now_ms())
                .await?),
            None => self.get_model_version(name, version).await,
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, version = %version))]
    pub async fn transition_stage(
        &self,
        name: &ModelName,
        version: Version,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        let n = version.get();
        let stage = Stage::parse(stage)?;
        Ok(self
            .store
            .transition_model_version_stage(name.as_str(), n, stage, archive_existing, now_ms())
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, version = %version))]
    pub async fn delete_model_version(&self, name: &ModelName, version: Version) -> Result<()> {
        let n = version.get();
        Ok(self
            .store
            .delete_model_version(name.as_str(), n, now_ms())
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_model_versions(
        &self,
        req: RegistrySearchRequest,
    ) -> Result<Page<ModelVersion>> {
        let search = req.validate(
            search::model_version_filter,
            search::model_version_order_by,
            (10_000, 200_000),
        )?;
        Ok(self.store.search_model_versions(&search).await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, version = %version, key = %key))]
    pub async fn set_model_version_tag(
        &self,
        name: &ModelName,
        version: Version,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let n = version.get();
        v::validate_registry_tag(key, value)?;
        Ok(self
            .store
            .set_model_version_tag(name.as_str(), n, key, value)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, version = %version, key = %key))]
    pub async fn delete_model_version_tag(
        &self,
        name: &ModelName,
        version: Version,
        key: &str,
    ) -> Result<()> {
        let n = version.get();
        Ok(self
            .store
            .delete_model_version_tag(name.as_str(), n, key)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, version = %version))]
    pub async fn download_uri(&self, name: &ModelName, version: Version) -> Result<String> {
        let n = version.get();
        Ok(self
            .store
            .model_version_download_uri(name.as_str(), n)
            .await?)
    }

    // ----------------------------------------------------------------------- aliases

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, alias = %alias, version = %version))]
    pub async fn set_alias(&self, name: &ModelName, alias: &str, version: Version) -> Result<()> {
        v::validate_alias(alias)?;
        v::validate_alias_not_reserved(alias)?;
        let n = version.get();
        self.store
            .set_registered_model_alias(name.as_str(), alias, n, now_ms())
            .await?;
        self.emit(RegistryEvent::AliasSet {
            name: name.as_str().to_string(),
            alias: alias.to_string(),
            version: n,
        });
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, alias = %alias))]
    pub async fn delete_alias(&self, name: &ModelName, alias: &str) -> Result<()> {
        v::validate_alias(alias)?;
        Ok(self
            .store
            .delete_registered_model_alias(name.as_str(), alias, now_ms())
            .await?)
    }

    /// Where the model's aliases pointed over time, newest first.
    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn alias_history(&self, name: &ModelName, limit: u32) -> Result<Vec<AliasEvent>> {
        Ok(self.store.alias_history(name.as_str(), limit).await?)
    }

    /// `latest` means the newest version; a missing alias is INVALID_PARAMETER_VALUE
    /// (400), as MLflow answers, not a 404.
    #[tracing::instrument(level = "debug", skip_all, fields(name = %name, alias = %alias))]
    pub async fn get_version_by_alias(
        &self,
        name: &ModelName,
        alias: &str,
    ) -> Result<ModelVersion> {
        v::validate_alias(alias)?;
        if alias.eq_ignore_ascii_case("latest") {
            let model = self.get_registered_model(name).await?;
            return model
                .latest_versions
                .into_iter()
                .max_by_key(|mv| mv.version.parse::<i64>().unwrap_or(0))
                .ok_or_else(|| {
                    MlflowError::not_found(format!("Latest version not found for model {name}."))
                });
        }
        self.store
            .get_model_version_by_alias(name.as_str(), alias)
            .await?
            .ok_or_else(|| {
                MlflowError::invalid_parameter(format!("Registered model alias {alias} not found."))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_compared_by_decoded_segments() {
        let root = "mlflow-artifacts:/1/abc/artifacts";
        assert!(is_within("mlflow-artifacts:/1/abc/artifacts/model", root));
        assert!(is_within("mlflow-artifacts:/1/abc/%61rtifacts/model", root));
        assert!(!is_within("mlflow-artifacts:/1/abd/artifacts/model", root));
        assert!(!is_within("s3://b/1/abc/artifacts/model", root));
        assert!(is_local("/tmp/x"));
        assert!(is_local("file:///tmp/x"));
        assert!(!is_local("s3://bucket/x"));
        assert!(is_proxied_artifact(
            "http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/x"
        ));
        assert_eq!(uri_parts("s3://b/a/%252e%252e/c").2, vec!["a", "..", "c"]);
    }
}
