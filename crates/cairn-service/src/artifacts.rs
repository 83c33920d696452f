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

    #[tracing::instrument(level = "debug", skip_all, fields(path = %path))]
    pub async fn delete(&self, path: &str) -> Result<()> {
        let path = ArtifactPath::parse(path).map_err(artifact_error)?;
        self.store.delete(&path).await.map_err(artifact_error)
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
