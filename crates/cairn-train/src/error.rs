//! cairn-train's one error type.

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The spec cannot be used: the message names the key (and line, from YAML).
    #[error("training spec: {0}")]
    Spec(String),
    #[error(transparent)]
    Ml(#[from] cairn_ml::MlError),
    #[error("tracking server: {0}")]
    Tracking(#[from] cairn_client::ClientError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
