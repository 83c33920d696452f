//! The one place where errors become HTTP responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_artifacts::ArtifactError;
use cairn_core::{ErrorCode, MlflowError};
use cairn_store::StoreError;

/// An error on its way to the client, always as MLflow's `{error_code, message}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub MlflowError);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Mlflow(e) => ApiError(e),
            other => {
                // Database failures are ours, not the client's: log the detail, answer 500
                // (which the MLflow client retries) with a message that names the cause.
                tracing::error!(error = %other, "store failure");
                ApiError(MlflowError::new(
                    ErrorCode::InternalError,
                    other.to_string(),
                ))
            }
        }
    }
}

impl From<ArtifactError> for ApiError {
    fn from(e: ArtifactError) -> Self {
        let code = match &e {
            ArtifactError::InvalidPath(_) => ErrorCode::InvalidParameterValue,
            ArtifactError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            ArtifactError::Interrupted(_) => ErrorCode::BadRequest,
            ArtifactError::Destination { .. }
            | ArtifactError::Storage(_)
            | ArtifactError::Io(_) => {
                tracing::error!(error = %e, "artifact storage failure");
                ErrorCode::InternalError
            }
        };
        ApiError(MlflowError::new(code, e.to_string()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "error_code": self.0.code.as_str(),
            "message": self.0.message,
        });
        (status, axum::Json(body)).into_response()
    }
}
