//! cairn-jobs' one error type.

pub use cairn_yaml::Location;

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

impl From<cairn_yaml::Located> for JobError {
    fn from(e: cairn_yaml::Located) -> Self {
        JobError::Spec {
            at: e.at,
            message: e.message,
        }
    }
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
