//! Artifact storage behind MLflow's artifact proxy (`/api/2.0/mlflow-artifacts`).
//!
//! Every destination goes through the `object_store` crate: a local folder (the
//! default, under the data dir) or `s3://`, `gs://`, `az://` URLs, configured from the
//! same environment variables the cloud SDKs read (`AWS_ENDPOINT_URL`, ...).
//!
//! Three promises hold for every backend:
//! - bodies stream both ways, so a 1 GiB file never sits in memory (uploads go out in
//!   parts of [`PART_SIZE`]);
//! - an upload becomes visible only when complete: a local upload is written to a
//!   staging file that is renamed at the end, a cloud upload is a multipart upload
//!   completed at the end; a failed or interrupted one is aborted;
//! - a path that could leave the root (`..`, absolute, NUL, backslashes, or a symlink
//!   inside a local root) is refused before anything is touched.

mod path;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{GetResultPayload, ObjectStore};

pub use path::ArtifactPath;

/// The size of the parts an upload is sent in, and so the most one upload buffers.
/// S3 wants parts of at least 5 MiB.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// How many parts of one upload may be in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// The read size when streaming a local file out.
const READ_CHUNK: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The path is not a safe relative path; nothing was touched.
    #[error("Invalid path: {0}")]
    InvalidPath(String),
    #[error("No such artifact: '{0}'")]
    NotFound(String),
    /// The destination could not be configured (bad URL, missing credentials).
    #[error("artifact destination '{uri}': {reason}")]
    Destination { uri: String, reason: String },
    #[error("artifact storage failed: {0}")]
    Storage(#[from] object_store::Error),
    /// The request body broke off; the upload was aborted and left nothing behind.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error("artifact storage failed: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = ArtifactError> = std::result::Result<T, E>;

/// One entry of a directory listing, as MLflow's `FileInfo`: `path` is the entry's
/// name within the listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    pub file_size: Option<u64>,
}

/// A file on its way out.
pub struct Download {
    pub size: u64,
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

/// Where the proxy keeps artifacts.
#[derive(Clone)]
pub struct ArtifactStore {
    store: Arc<dyn ObjectStore>,
    /// Set for a local folder, whose symlinks need checking.
    local_root: Option<PathBuf>,
    uri: String,
}

impl std::fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStore")
            .field("uri", &self.uri)
            .finish()
    }
}

impl ArtifactStore {
    /// Opens a destination: a folder path (`/data/artifacts`, `file:///data/artifacts`,
    /// created if missing) or an object-store URL (`s3://bucket/prefix`, `gs://`,
    /// `az://`). Cloud settings come from the environment as the SDKs name them;
    /// `MLFLOW_S3_ENDPOINT_URL` is honoured too, since MLflow users already set it.
    pub fn open(destination: &str) -> Result<Self> {
        let err = |reason: String| ArtifactError::Destination {
            uri: cairn_core::secret::redact(destination),
            reason,
        };
        if let Some(folder) = local_folder(destination) {
            std::fs::create_dir_all(&folder)
                .map_err(|e| err(format!("cannot create the folder: {e}")))?;
            let root = folder
                .canonicalize()
                .map_err(|e| err(format!("cannot resolve the folder: {e}")))?;
            let store = LocalFileSystem::new_with_prefix(&root).map_err(|e| err(e.to_string()))?;
            return Ok(ArtifactStore {
                store: Arc::new(store),
                local_root: Some(root),
                uri: cairn_core::secret::redact(destination),
            });
        }
        let url = url::Url::parse(destination).map_err(|e| err(e.to_string()))?;
        let (store, prefix) =
            object_store::parse_url_opts(&url, cloud_options()).map_err(|e| err(e.to_string()))?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(PrefixStore::new(store, prefix))
        };
        Ok(ArtifactStore {
            store,
            local_root: None,
            uri: cairn_core::secret::redact(destination),
        })
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Streams `body` to `path`, replacing any file there. Returns the bytes written.
    /// On any error the upload is aborted and no file (nor part of one) appears.
    pub async fn put<S, E>(&self, path: &ArtifactPath, body: S) -> Result<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let location = self.checked(path).await?;
        if path.is_root() {
            return Err(ArtifactError::InvalidPath(
                "an upload needs a file path".into(),
            ));
        }
        let mut writer = BufWriter::with_capacity(self.store.clone(), location, PART_SIZE)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        let mut body = std::pin::pin!(body);
        let mut written = 0u64;
        let outcome: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| ArtifactError::Interrupted(e.to_string()))?;
                written += chunk.len() as u64;
                writer.put(chunk).await?;
            }
            tokio::io::AsyncWriteExt::shutdown(&mut writer).await?;
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(path = %path, error = %abort, "cannot abort a failed upload");
            }
            return Err(e);
        }
        Ok(written)
    }

    /// Opens `path` for streaming out.
    pub async fn get(&self, path: &ArtifactPath) -> Result<Download> {
        let location = self.checked(path).await?;
        let result = match self.store.get(&location).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(ArtifactError::NotFound(path.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let size = result.meta.size;
        let body = match result.payload {
            // object_store reads local files 8 KiB per blocking task; larger reads
            // through tokio's file keep a 100 MiB download at disk speed.
            GetResultPayload::File(file, _) => tokio_util::io::ReaderStream::with_capacity(
                tokio::fs::File::from_std(file),
                READ_CHUNK,
            )
            .boxed(),
            GetResultPayload::Stream(s) => s.map_err(std::io::Error::other).boxed(),
        };
        Ok(Download { size, body })
    }

    /// The entries directly under `dir`; empty when `dir` is missing or a file, as
    /// MLflow's proxy answers.
    pub async fn list(&self, dir: &ArtifactPath) -> Result<Vec<FileInfo>> {
        let location = self.checked(dir).await?;
        if let Some(root) = &self.local_root {
            // A local listing of a file (or of nothing) is an error in object_store.
            if !tokio::fs::metadata(root.join(dir.as_str()))
                .await
                .is_ok_and(|m| m.is_dir())
            {
                return Ok(Vec::new());
            }
        }
        let prefix = (!dir.is_root()).then_some(&location);
        let listing = match self.store.list_with_delimiter(prefix).await {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out: Vec<FileInfo> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .map(|name| FileInfo {
                path: name.to_string(),
                is_dir: true,
                file_size: None,
            })
            .chain(listing.objects.iter().filter_map(|o| {
                o.location.filename().map(|name| FileInfo {
                    path: name.to_string(),
                    is_dir: false,
                    file_size: Some(o.size),
                })
            }))
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Deletes `path`: the file, or everything under it. Missing is not an error.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let location = self.checked(path).await?;
        if path.is_root() {
            return Err(ArtifactError::InvalidPath(
                "refusing to delete the artifact root".into(),
            ));
        }
        if let Some(root) = &self.local_root {
            // Local folders are removed whole (object_store deletes files only).
            let at = root.join(path.as_str());
            return match tokio::fs::symlink_metadata(&at).await {
                Ok(m) if m.is_dir() => Ok(tokio::fs::remove_dir_all(&at).await?),
                Ok(_) => Ok(tokio::fs::remove_file(&at).await?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let under: Vec<object_store::path::Path> = self
            .store
            .list(Some(&location))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(Vec::new()),
                e => Err(e),
            })?;
        for location in under {
            match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The object-store location of a validated path, after refusing symlinks on
    /// the way to it in a local root (they could point anywhere).
    async fn checked(&self, path: &ArtifactPath) -> Result<object_store::path::Path> {
        if let Some(root) = &self.local_root {
            let mut at = root.clone();
            for segment in path.segments() {
                at.push(segment);
                match tokio::fs::symlink_metadata(&at).await {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        return Err(ArtifactError::InvalidPath(format!(
                            "'{path}' goes through a symbolic link"
                        )))
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        object_store::path::Path::parse(path.as_str())
            .map_err(|e| ArtifactError::InvalidPath(e.to_string()))
    }
}

/// The folder a destination names, if it names one rather than an object store.
fn local_folder(destination: &str) -> Option<PathBuf> {
    if let Some(rest) = destination.strip_prefix("file://") {
        return Some(PathBuf::from(rest));
    }
    match url::Url::parse(destination) {
        // A Windows drive letter parses as a one-letter scheme.
        Ok(u) if u.scheme().len() > 1 => None,
        _ => Some(PathBuf::from(destination)),
    }
}

/// Cloud settings from the environment, under the names object_store's builders read.
/// The cloud settings object stores are opened with: the SDKs' environment variables
/// (`AWS_*`, `GOOGLE_*`, `AZURE_*`) as `object_store` options, and
/// `MLFLOW_S3_ENDPOINT_URL`, which MLflow users already set. Data contracts read their
/// object-store sources with the same settings.
pub fn cloud_options() -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k.starts_with("aws_") || k.starts_with("google_") || k.starts_with("azure_")
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let has = |opts: &[(String, String)], key: &str| opts.iter().any(|(k, _)| k == key);
    if !has(&options, "aws_endpoint_url") && !has(&options, "aws_endpoint") {
        if let Ok(endpoint) = std::env::var("MLFLOW_S3_ENDPOINT_URL") {
            options.push(("aws_endpoint".into(), endpoint));
        }
    }
    // boto3 talks plain HTTP to an http:// endpoint (MinIO, moto); so does cairn.
    let plain_http = options
        .iter()
        .any(|(k, v)| (k == "aws_endpoint_url" || k == "aws_endpoint") && v.starts_with("http://"));
    if plain_http && !has(&options, "aws_allow_http") {
        options.push(("aws_allow_http".into(), "true".into()));
    }
    options
}

#[cfg(test)]
mod tests;
