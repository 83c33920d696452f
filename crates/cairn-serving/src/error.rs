//! Serving's one error type and its HTTP mapping, as MLflow's scoring server answers
//! (`{"error_code": ..., "message": ...}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// The request cannot be scored as sent: the message names the field or column.
    #[error("{0}")]
    BadRequest(String),
    /// A content type the scoring protocol does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No such endpoint on this server.
    #[error("{0}")]
    NotFound(String),
    /// The endpoint has no model loaded (yet).
    #[error("{0}")]
    Unavailable(String),
    /// A model version cannot be fetched, loaded or checked.
    #[error("{0}")]
    Load(String),
    /// The model failed on input that passed validation.
    #[error("{0}")]
    Predict(String),
    #[error("tracking server: {0}")]
    Registry(#[from] cairn_client::ClientError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ServingError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ServingError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            ServingError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "BAD_REQUEST")
            }
            ServingError::NotFound(_) => (StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND"),
            ServingError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE")
            }
            // MLflow answers a model that fails on its input with 400 BAD_REQUEST too:
            // whatever breaks it came in with the request.
            ServingError::Predict(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            ServingError::Load(_) | ServingError::Registry(_) | ServingError::Io(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
            }
        }
    }
}

impl IntoResponse for ServingError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = serde_json::json!({ "error_code": code, "message": self.to_string() });
        (status, axum::Json(body)).into_response()
    }
}
