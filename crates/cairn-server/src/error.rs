//! The one place where errors become HTTP responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
        let mut body = serde_json::json!({
            "error_code": code.as_str(),
            "message": self.0.message,
        });
        // MLflow 3 adds these two beside the code when it knows them.
        if let Some(sqlstate) = code.sqlstate() {
            body["sqlstate"] = sqlstate.into();
        }
        if let Some(class) = code.error_class() {
            body["error_class"] = class.into();
        }
        (status, axum::Json(body)).into_response()
    }
}
