//! Request-field helpers every API module shares: required fields with MLflow's
//! message, and the loose encodings protobuf JSON allows (enums as names or numbers,
//! strings as numbers, booleans as strings).

use cairn_core::MlflowError;
use serde::{Deserialize, Deserializer};

pub(super) fn required<T>(v: Option<T>, field: &str) -> Result<T, MlflowError> {
    v.ok_or_else(|| MlflowError::missing(field))
}

pub(super) fn required_str(v: Option<String>, field: &str) -> Result<String, MlflowError> {
    match v {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(MlflowError::missing(field)),
    }
}

/// Accepts an enum given as its name or its number.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum EnumValue {
    Name(String),
    Number(i64),
}

impl EnumValue {
    pub(super) fn as_string(&self) -> String {
        match self {
            EnumValue::Name(s) => s.clone(),
            EnumValue::Number(n) => n.to_string(),
        }
    }
}

/// A string field a client may also send as a number (`version: 1`).
pub(super) fn deserialize_opt_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
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
pub(super) fn deserialize_opt_bool<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<bool>, D::Error> {
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
