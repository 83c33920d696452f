//! MLflow 3's logged models (`LoggedModel` in `service.proto`): a model's artifacts,
//! params and metrics, created before its files are uploaded (PENDING) and finalized
//! once they are (READY).

use serde::Serialize;

use crate::entities::{KeyValue, Metric};
use crate::error::MlflowError;

fn is_empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

/// `LoggedModelStatus`; the SQL store keeps its proto number in `logged_models.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub enum LoggedModelStatus {
    // The schema's names are the wire's (see `NAMES`, which `Serialize` writes).
    #[schema(rename = "LOGGED_MODEL_STATUS_UNSPECIFIED")]
    Unspecified,
    #[schema(rename = "LOGGED_MODEL_PENDING")]
    Pending,
    #[schema(rename = "LOGGED_MODEL_READY")]
    Ready,
    #[schema(rename = "LOGGED_MODEL_UPLOAD_FAILED")]
    UploadFailed,
}

impl LoggedModelStatus {
    const NAMES: [(LoggedModelStatus, &'static str, i64); 4] = [
        (
            LoggedModelStatus::Unspecified,
            "LOGGED_MODEL_STATUS_UNSPECIFIED",
            0,
        ),
        (LoggedModelStatus::Pending, "LOGGED_MODEL_PENDING", 1),
        (LoggedModelStatus::Ready, "LOGGED_MODEL_READY", 2),
        (
            LoggedModelStatus::UploadFailed,
            "LOGGED_MODEL_UPLOAD_FAILED",
            3,
        ),
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("LOGGED_MODEL_STATUS_UNSPECIFIED", |(_, n, _)| n)
    }

    pub fn number(self) -> i64 {
        Self::NAMES
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or(0, |(_, _, n)| *n)
    }

    pub fn from_number(n: i64) -> Self {
        Self::NAMES
            .iter()
            .find(|(_, _, k)| *k == n)
            .map_or(LoggedModelStatus::Unspecified, |(s, _, _)| *s)
    }

    /// The enum's name or number, as protobuf JSON accepts it.
    pub fn parse(s: &str) -> Result<Self, MlflowError> {
        Self::NAMES
            .iter()
            .find(|(_, name, n)| *name == s || n.to_string() == s)
            .map(|(st, _, _)| *st)
            .ok_or_else(|| {
                MlflowError::invalid_parameter(format!(
                    "Invalid value '{s}' for parameter 'status': expected one of \
                     LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED"
                ))
            })
    }
}

impl Serialize for LoggedModelStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub artifact_uri: String,
    pub status: LoggedModelStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(skip_serializing_if = "is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct LoggedModelData {
    #[serde(skip_serializing_if = "is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(skip_serializing_if = "is_empty")]
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    pub data: LoggedModelData,
}

/// The prefix of a logged model's id (`m-<32 hex>`), which `models:/m-...` URIs use.
pub const MODEL_ID_PREFIX: &str = "m-";

/// The logged-model id in a `models:/m-<id>[/path]` URI, if it is one.
pub fn model_id_of_uri(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("models:/")?;
    let id = rest.split('/').next()?;
    (id.starts_with(MODEL_ID_PREFIX)
        && id.len() > MODEL_ID_PREFIX.len()
        && id[MODEL_ID_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    .then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_found_in_model_uris() {
        assert_eq!(model_id_of_uri("models:/m-0123abc"), Some("m-0123abc"));
        assert_eq!(model_id_of_uri("models:/m-0123abc/sub"), Some("m-0123abc"));
        assert_eq!(model_id_of_uri("models:/Name/1"), None);
        assert_eq!(model_id_of_uri("models:/m-"), None);
        assert_eq!(model_id_of_uri("runs:/m-abc/model"), None);
    }

    #[test]
    fn statuses_read_names_and_numbers() {
        assert_eq!(
            LoggedModelStatus::parse("LOGGED_MODEL_READY").unwrap(),
            LoggedModelStatus::Ready
        );
        assert_eq!(
            LoggedModelStatus::parse("3").unwrap(),
            LoggedModelStatus::UploadFailed
        );
        assert!(LoggedModelStatus::parse("READY").is_err());
        assert_eq!(
            LoggedModelStatus::from_number(1).as_str(),
            "LOGGED_MODEL_PENDING"
        );
    }
}
