//! The artifact proxy's rules: paths are checked before storage sees them, and the
//! listing is shaped as MLflow's `FileInfo`s.

use bytes::Bytes;
use cairn_artifacts::{ArtifactPath, ArtifactStore, Download, FileInfo};
use futures::Stream;

use crate::error::ApiResult;

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

    pub async fn upload<S, E>(&self, path: &str, body: S) -> ApiResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let path = ArtifactPath::parse(path)?;
        Ok(self.store.put(&path, body).await?)
    }

    pub async fn download(&self, path: &str) -> ApiResult<Download> {
        let path = ArtifactPath::parse(path)?;
        Ok(self.store.get(&path).await?)
    }

    pub async fn list(&self, path: Option<&str>) -> ApiResult<Vec<FileInfo>> {
        let path = ArtifactPath::parse(path.unwrap_or(""))?;
        Ok(self.store.list(&path).await?)
    }

    pub async fn delete(&self, path: &str) -> ApiResult<()> {
        let path = ArtifactPath::parse(path)?;
        Ok(self.store.delete(&path).await?)
    }
}
