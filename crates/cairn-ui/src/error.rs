//! Failures shown as pages: the service's MLflow error, with its HTTP status and
//! message, inside the normal layout so the person can go back and fix the input.

use cairn_core::MlflowError;
use maud::html;

use crate::layout;
use crate::reply::Reply;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// What a service refused or failed at, with MLflow's code.
    #[error(transparent)]
    Service(#[from] MlflowError),
    /// A form or query value the UI itself cannot use, naming the field.
    #[error("{0}")]
    BadInput(String),
}

pub type UiResult<T> = Result<T, UiError>;

impl UiError {
    fn status(&self) -> u16 {
        match self {
            UiError::Service(e) => e.code.http_status(),
            UiError::BadInput(_) => 400,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            UiError::Service(e) => e.code.as_str(),
            UiError::BadInput(_) => "INVALID_PARAMETER_VALUE",
        }
    }

    fn message(&self) -> &str {
        match self {
            UiError::Service(e) => &e.message,
            UiError::BadInput(m) => m,
        }
    }
}

impl UiError {
    /// The error as a page in the normal layout, with its status.
    pub fn into_reply(self) -> Reply {
        let status = self.status();
        if status >= 500 {
            tracing::error!(error = %self, "UI page failed");
        }
        let reason = reason(status);
        let body = html! {
            h1 { (status) " " (reason) }
            p.error role="alert" { code { (self.code()) } ": " (self.message()) }
            p { a href="javascript:history.back()" { "Back" } " · " a href="/" { "Experiments" } }
        };
        layout::page(reason, body).with_status(status)
    }
}

/// The reason phrase of the statuses MLflow's error codes map to.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}
