//! The artifact proxy's rules: paths are checked before storage sees them, and the
//! listing is shaped as MLflow's `FileInfo`s.

use bytes::Bytes;
use cairn_artifacts::{ArtifactError, ArtifactPath, ArtifactStore, Download, FileInfo};
use cairn_core::{ErrorCode, MlflowError, Result};
use futures::Stream;

pub struct ArtifactService {
    store: ArtifactStore,
}

impl ArtifactService {
    pub fn new(store: ArtifactStore) -> Self {
        ArtifactService { store }
    }

    pub fn destination(&self) -> &str {
        self.store.uri()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(path = %path))]
    pub async fn upload<S, E>(&self, path: &str, body: S) -> Result<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let path = ArtifactPath::parse(path).map_err(artifact_error)?;
        self.store.put(&path, body).await.map_err(artifact_error)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(path = %path))]
    pub async fn download(&self, path: &str) -> Result<Download> {
        let path = ArtifactPath::parse(path).map_err(artifact_error)?;
        self.store.get(&path).await.map_err(artifact_error)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list(&self, path: Option<&str>) -> Result<Vec<FileInfo>> {
        let path = ArtifactPath::parse(path.unwrap_or("")).map_err(artifact_error)?;
        self.store.list(&path).await.map_err(artifact_error)
    }

    /// A run's artifacts under `path` (relative to the run's root), as MLflow's
    /// `artifacts/list` answers: each entry's path relative to the root. Only runs
    /// whose artifacts go through this server's proxy (`mlflow-artifacts:/...`) can be
    /// listed here.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_run(
        &self,
        run_artifact_uri: &str,
        path: Option<&str>,
    ) -> Result<Vec<FileInfo>> {
        let relative = ArtifactPath::parse(path.unwrap_or("")).map_err(artifact_error)?;
        let root = proxied_root(run_artifact_uri)?;
        let under = join(&root, relative.as_str());
        let listed = ArtifactPath::parse(&under).map_err(artifact_error)?;
        let files = self.store.list(&listed).await.map_err(artifact_error)?;
        Ok(files
            .into_iter()
            .map(|f| FileInfo {
                path: join(relative.as_str(), &f.path),
                ..f
            })
            .collect())
    }

    /// One file of a run's artifacts, `path` relative to the run's root.
    #[tracing::instrument(level = "debug", skip_all, fields(path = %path))]
    pub async fn download_run(&self, run_artifact_uri: &str, path: &str) -> Result<Download> {
        let relative = ArtifactPath::parse(path).map_err(artifact_error)?;
        let root = proxied_root(run_artifact_uri)?;
        self.download(&join(&root, relative.as_str())).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(path = %path))]
    pub async fn delete(&self, path: &str) -> Result<()> {
        let path = ArtifactPath::parse(path).map_err(artifact_error)?;
        self.store.delete(&path).await.map_err(artifact_error)
    }
}

/// Where a run's (or a logged model's) artifacts are inside the proxy's storage:
/// `1/<run>/artifacts` for `mlflow-artifacts:/1/<run>/artifacts` (with or without a
/// host after the scheme).
pub fn proxied_root(artifact_uri: &str) -> Result<String> {
    let rest = artifact_uri
        .strip_prefix("mlflow-artifacts:")
        .ok_or_else(|| {
            MlflowError::invalid_parameter(format!(
                "The artifacts are at '{}', outside this server's artifact proxy: read them there",
                cairn_core::secret::redact(artifact_uri)
            ))
        })?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Ok(path.trim_matches('/').to_string())
}

/// `a/b`, or either alone when the other is empty.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// The caller's mistakes keep their message; storage failures become an opaque
/// `INTERNAL_ERROR`, their cause (which may name a bucket or a local path) logged once
/// here, inside the caller's span.
fn artifact_error(e: ArtifactError) -> MlflowError {
    let code = match &e {
        ArtifactError::InvalidPath(_) => ErrorCode::InvalidParameterValue,
        ArtifactError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
        ArtifactError::Interrupted(_) => ErrorCode::BadRequest,
        ArtifactError::Destination { .. } | ArtifactError::Storage(_) | ArtifactError::Io(_) => {
            tracing::error!(error = %e, "artifact storage failure");
            return MlflowError::internal_opaque();
        }
    };
    MlflowError::new(code, e.to_string())
}
