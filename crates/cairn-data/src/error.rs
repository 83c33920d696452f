//! cairn-data's one error type.

/// Why a contract cannot be read or checked.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A contract file that cannot be used, with where and why.
    #[error(transparent)]
    Spec(#[from] cairn_yaml::Located),
    /// A view or contract the folder does not define (or a reference to one).
    #[error("{0}")]
    NotFound(String),
    /// A source that cannot be read: a missing file, a file that is not CSV or
    /// Parquet, a column of the wrong kind for the engine.
    #[error("{0}")]
    Source(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;
