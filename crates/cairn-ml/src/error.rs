//! cairn-ml's one error type. Every message names the file, field, column or row it
//! is about, so `cairn train` can print it as is.

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// A data file cannot be read as declared (missing column, bad row, no rows).
    #[error("{0}")]
    Data(String),
    /// A training spec or hyperparameter that cannot be used.
    #[error("{0}")]
    Config(String),
    /// A saved model directory that cannot be loaded.
    #[error("{0}")]
    Model(String),
    /// The sentence encoder (weights, tokenizer or a forward pass) failed.
    #[error("sentence encoder: {0}")]
    Encoder(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = MlError> = std::result::Result<T, E>;
