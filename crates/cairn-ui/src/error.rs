//! Failures shown as pages: the service's MLflow error, with its HTTP status and
//! message, inside the normal layout so the person can go back and fix the input.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_core::MlflowError;
use cairn_server::ApiError;
use maud::html;

use crate::layout;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// What a service refused or failed at, with MLflow's code.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A form or query value the UI itself cannot use, naming the field.
    #[error("{0}")]
    BadInput(String),
}

impl From<MlflowError> for UiError {
    fn from(e: MlflowError) -> Self {
        UiError::Api(ApiError(e))
    }
}

pub type UiResult<T> = Result<T, UiError>;

impl UiError {
    fn status(&self) -> StatusCode {
        match self {
            UiError::Api(ApiError(e)) => StatusCode::from_u16(e.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            UiError::BadInput(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            UiError::Api(ApiError(e)) => e.code.as_str(),
            UiError::BadInput(_) => "INVALID_PARAMETER_VALUE",
        }
    }

    fn message(&self) -> &str {
        match self {
            UiError::Api(ApiError(e)) => &e.message,
            UiError::BadInput(m) => m,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "UI page failed");
        }
        let body = layout::page(
            status.canonical_reason().unwrap_or("Error"),
            html! {
                h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("Error")) }
                p.error role="alert" { code { (self.code()) } ": " (self.message()) }
                p { a href="javascript:history.back()" { "Back" } " · " a href="/" { "Experiments" } }
            },
        );
        (status, body).into_response()
    }
}
