//! The one place where errors become HTTP responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_api_types::ErrorBody;
use cairn_core::MlflowError;

/// An error on its way to the client, always as MLflow's `{error_code, message,
/// sqlstate, error_class}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub MlflowError);

pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = self.0.code;
        let body = ErrorBody {
            error_code: code.as_str().to_string(),
            message: self.0.message,
            // MLflow 3 adds these two beside the code when it knows them.
            sqlstate: code.sqlstate().map(str::to_string),
            error_class: code.error_class().map(str::to_string),
        };
        (status, axum::Json(body)).into_response()
    }
}
