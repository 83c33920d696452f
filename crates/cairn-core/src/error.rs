//! MLflow's error codes and the one error type that carries them.
//!
//! Every failure a client can see is an [`MlflowError`]: a code from MLflow's
//! `databricks.proto` `ErrorCode` enum plus a message. The HTTP status belongs to the
//! code (MLflow's `mlflow/exceptions.py` map), so it is fixed here and nowhere else.

use std::fmt;

/// The subset of MLflow's `ErrorCode` enum that cairn produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InternalError,
    TemporarilyUnavailable,
    BadRequest,
    InvalidParameterValue,
    EndpointNotFound,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    InvalidState,
    NotImplemented,
    /// No or wrong credentials (MLflow's auth answers this with 401).
    Unauthenticated,
}

impl ErrorCode {
    /// The enum name, as MLflow writes it in `error_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::NotImplemented => "NOT_IMPLEMENTED",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The HTTP status MLflow's server answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::InvalidParameterValue
            | ErrorCode::ResourceAlreadyExists => 400,
            ErrorCode::EndpointNotFound | ErrorCode::ResourceDoesNotExist => 404,
            ErrorCode::InternalError | ErrorCode::InvalidState => 500,
            ErrorCode::NotImplemented => 501,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::TemporarilyUnavailable => 503,
        }
    }

    /// MLflow 3's finer `error_class` for this code, as its server derives it when a
    /// raise site gives none (`mlflow/error_classification.py`, the client mapping).
    pub fn error_class(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::BadRequest | ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::EndpointNotFound | ErrorCode::ResourceDoesNotExist => "RESOURCE_NOT_FOUND",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::InternalError
            | ErrorCode::InvalidState
            | ErrorCode::TemporarilyUnavailable => "CLIENT_INTERNAL_ERROR",
            ErrorCode::NotImplemented | ErrorCode::Unauthenticated => return None,
        })
    }

    /// The `sqlstate` MLflow 3 sends beside the code for dashboards: `KAM00` for the
    /// caller's mistakes, `XXM00` for the server's.
    pub fn sqlstate(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::BadRequest
            | ErrorCode::InvalidParameterValue
            | ErrorCode::EndpointNotFound
            | ErrorCode::ResourceAlreadyExists
            | ErrorCode::ResourceDoesNotExist => "KAM00",
            ErrorCode::InternalError
            | ErrorCode::InvalidState
            | ErrorCode::TemporarilyUnavailable => "XXM00",
            ErrorCode::NotImplemented | ErrorCode::Unauthenticated => return None,
        })
    }

    /// Parses an `error_code` string back into a code (used by the client).
    pub fn parse(s: &str) -> Option<ErrorCode> {
        Some(match s {
            "INTERNAL_ERROR" => ErrorCode::InternalError,
            "TEMPORARILY_UNAVAILABLE" => ErrorCode::TemporarilyUnavailable,
            "BAD_REQUEST" => ErrorCode::BadRequest,
            "INVALID_PARAMETER_VALUE" => ErrorCode::InvalidParameterValue,
            "ENDPOINT_NOT_FOUND" => ErrorCode::EndpointNotFound,
            "RESOURCE_ALREADY_EXISTS" => ErrorCode::ResourceAlreadyExists,
            "RESOURCE_DOES_NOT_EXIST" => ErrorCode::ResourceDoesNotExist,
            "INVALID_STATE" => ErrorCode::InvalidState,
            "NOT_IMPLEMENTED" => ErrorCode::NotImplemented,
            "UNAUTHENTICATED" => ErrorCode::Unauthenticated,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure with an MLflow error code and a message for the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct MlflowError {
    pub code: ErrorCode,
    pub message: String,
    /// Where in the searched expression the error is (a character index), for a search
    /// box that points at the token. Not part of MLflow's wire format.
    pub position: Option<usize>,
}

/// The message of [`MlflowError::internal_opaque`].
pub const INTERNAL_MESSAGE: &str =
    "An internal error occurred; the server's log has its cause under this request's id.";

pub type Result<T, E = MlflowError> = std::result::Result<T, E>;

impl MlflowError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        MlflowError {
            code,
            message: message.into(),
            position: None,
        }
    }

    /// The same error, pointing at character `position` of the searched expression.
    pub fn at(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceDoesNotExist, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceAlreadyExists, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    /// What a caller sees of a failure that is the server's, not theirs (a database
    /// or storage error): nothing of its cause, which may name hosts, paths or SQL.
    /// Whoever converts the failure logs the cause once, in the request's span.
    pub fn internal_opaque() -> Self {
        Self::internal(INTERNAL_MESSAGE)
    }

    /// MLflow's wording for a required field that is absent.
    pub fn missing(field: &str) -> Self {
        Self::invalid_parameter(format!(
            "Missing value for required parameter '{field}'. See the API docs for more \
             information about request parameters."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_map_to_mlflow_statuses() {
        for code in [
            ErrorCode::InternalError,
            ErrorCode::TemporarilyUnavailable,
            ErrorCode::BadRequest,
            ErrorCode::InvalidParameterValue,
            ErrorCode::EndpointNotFound,
            ErrorCode::ResourceAlreadyExists,
            ErrorCode::ResourceDoesNotExist,
            ErrorCode::InvalidState,
            ErrorCode::NotImplemented,
        ] {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        // RESOURCE_ALREADY_EXISTS is a 400 in MLflow, not a 409: the client relies on it.
        assert_eq!(ErrorCode::ResourceAlreadyExists.http_status(), 400);
        assert_eq!(ErrorCode::ResourceDoesNotExist.http_status(), 404);
    }
}
