//! One typed wire contract: the request and response messages of the MLflow API
//! (tracking, registry, logged models, artifacts) and of cairn's prediction log.
//!
//! The server deserializes the request types and serializes the response types; the
//! client does the opposite with the same types, so the two cannot drift apart. Each
//! type also describes itself for the OpenAPI document (`utoipa::ToSchema`, and
//! `utoipa::IntoParams` for the messages a GET carries in its query string).
//!
//! The request types are lenient the way MLflow's server is: every field optional
//! (so a missing one gets MLflow's "Missing value for required parameter" message
//! from [`required`] rather than serde's), integers and doubles as numbers or strings,
//! enums as names or numbers, camelCase aliases. This crate knows nothing of HTTP.

pub mod artifacts;
pub mod data;
pub mod jobs;
pub mod logged_models;
pub mod monitor;
pub mod predictions;
pub mod registry;
pub mod tracking;

use cairn_core::ids::RunId;
use cairn_core::MlflowError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use cairn_core::wire::{deserialize_opt_f64, deserialize_opt_i64, deserialize_string_list};

/// The empty message `{}`: what most writes answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Empty {}

/// MLflow's error message: `{error_code, message}`, with MLflow 3's `sqlstate` and
/// `error_class` beside the code where it knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// MLflow's error code, e.g. `RESOURCE_DOES_NOT_EXIST`.
    pub error_code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlstate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
}

/// Accepts an enum given as its name or its number, as protobuf JSON allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EnumValue {
    Name(String),
    Number(i64),
}

impl EnumValue {
    /// The name, or the number written out; the entity's own parser reads both.
    pub fn as_string(&self) -> String {
        match self {
            EnumValue::Name(s) => s.clone(),
            EnumValue::Number(n) => n.to_string(),
        }
    }
}

impl From<&str> for EnumValue {
    fn from(name: &str) -> Self {
        EnumValue::Name(name.to_string())
    }
}

/// A required field, with MLflow's message when it is missing.
pub fn required<T>(v: Option<T>, field: &str) -> Result<T, MlflowError> {
    v.ok_or_else(|| MlflowError::missing(field))
}

/// A required string field: MLflow reads an empty string (proto3's default) as
/// missing too.
pub fn required_str(v: Option<String>, field: &str) -> Result<String, MlflowError> {
    match v {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(MlflowError::missing(field)),
    }
}

/// The run a request names: `run_id`, else the older `run_uuid`. (Each request type
/// spells both fields out rather than flattening a shared struct, because serde's
/// `flatten` would lose the field path that error messages name.) Parsed here, once:
/// what the services get is a [`RunId`].
pub fn resolve_run_id(
    run_id: Option<String>,
    run_uuid: Option<String>,
) -> Result<RunId, MlflowError> {
    RunId::parse(
        run_id
            .filter(|s| !s.is_empty())
            .or(run_uuid)
            .unwrap_or_default(),
    )
}

/// A string field a client may also send as a number (`version: 1`).
pub fn deserialize_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        S(String),
        I(i64),
    }
    Ok(Option::<Loose>::deserialize(d)?.map(|v| match v {
        Loose::S(s) => s,
        Loose::I(i) => i.to_string(),
    }))
}

/// A bool, or `true`/`false` in any case as a query string carries it.
pub fn deserialize_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        B(bool),
        S(String),
    }
    match Option::<Loose>::deserialize(d)? {
        None => Ok(None),
        Some(Loose::B(b)) => Ok(Some(b)),
        Some(Loose::S(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Loose::S(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(Loose::S(s)) => Err(serde::de::Error::custom(format!(
            "expected true or false, got '{s}'"
        ))),
    }
}

/// Writes an optional double the way MLflow does (non-finite values as strings), so
/// that a client's NaN survives the trip.
pub fn serialize_opt_f64<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => cairn_core::wire::serialize_f64(v, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_falls_back_to_run_uuid() {
        assert_eq!(
            resolve_run_id(Some(String::new()), Some("u".into())).unwrap(),
            "u"
        );
        assert_eq!(
            resolve_run_id(Some("r".into()), Some("u".into())).unwrap(),
            "r"
        );
        assert!(resolve_run_id(None, None).is_err());
    }

    #[test]
    fn enums_read_names_and_numbers() {
        let v: EnumValue = serde_json::from_str("\"ALL\"").unwrap();
        assert_eq!(v.as_string(), "ALL");
        let v: EnumValue = serde_json::from_str("3").unwrap();
        assert_eq!(v.as_string(), "3");
    }
}
