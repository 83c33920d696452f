//! cairn-jobs' one error type.

use std::fmt;

/// Where in a job file something is wrong: the file, the line and column (1-based,
/// when known) and the key (a dotted path such as `steps[2].needs[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub key: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
            if let Some(column) = self.column {
                write!(f, ", column {column}")?;
            }
        }
        if let Some(key) = &self.key {
            write!(f, ", key `{key}`")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A job file that cannot be used, with where and why.
    #[error("{at}: {message}")]
    Spec { at: Location, message: String },
    /// Parameters given for a run that the job does not accept.
    #[error("parameter `{name}`: {message}")]
    Param { name: String, message: String },
    /// A template that names something the run does not have.
    #[error("template `{template}`: {message}")]
    Template { template: String, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl JobError {
    pub(crate) fn param(name: &str, message: impl Into<String>) -> Self {
        JobError::Param {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = JobError> = std::result::Result<T, E>;
