//! Reading an MLflow request message from HTTP.
//!
//! MLflow's server reads GET requests from the query string (repeated keys for repeated
//! fields) and everything else from a JSON body, which may be empty (`{}`) or, from
//! old clients, a JSON string holding the JSON. Both are turned into one JSON object
//! and deserialized with the field path kept, so an error names the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use cairn_core::MlflowError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A request message of type `T`, from the query string or the JSON body.
pub struct MlflowRequest<T>(pub T);

impl<S, T> FromRequest<S> for MlflowRequest<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.method() == Method::GET {
            let value = query_to_json(req.uri().query().unwrap_or(""));
            return parse_message(value).map(MlflowRequest);
        }
        if req.method() == Method::POST {
            check_json_content_type(req.headers())?;
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            MlflowError::new(
                cairn_core::ErrorCode::BadRequest,
                format!("Could not read the request body: {e}"),
            )
        })?;
        parse_body(&bytes).map(MlflowRequest)
    }
}

/// MLflow's server takes a POST body only as `application/json` (any parameters,
/// such as a charset, allowed) and says which header is wrong; PATCH and DELETE take
/// any content type there, so only POST is checked.
fn check_json_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Err(ApiError(MlflowError::invalid_parameter(
            "Bad Request. Content-Type header is missing.",
        )));
    };
    let media_type = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError(MlflowError::invalid_parameter(
            "Bad Request. Content-Type must be one of ['application/json'].",
        )))
    }
}

/// Deserializes a message, naming the field that did not fit.
pub fn parse_message<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &e.into_inner())
    })
}

/// Deserializes a JSON body straight into the message (no JSON tree in between: log
/// batches of 1,000 metrics are the hot path), falling back to the slower route only
/// for the unusual shapes: empty, or double-encoded as a string.
fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {
            // Most requests are well formed: parse them without tracking the field path
            // (serde_path_to_error costs a few per cent of a 1,000-point log-batch), and
            // parse again with the path only to name the field in an error.
            if let Ok(message) = serde_json::from_slice(bytes) {
                return Ok(message);
            }
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let message = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    ApiError(MlflowError::invalid_parameter(format!(
                        "Malformed JSON in the request body: {inner}"
                    )))
                } else {
                    field_error(&path, &inner)
                }
            })?;
            de.end().map_err(|e| {
                ApiError(MlflowError::invalid_parameter(format!(
                    "Malformed JSON in the request body: {e}"
                )))
            })?;
            Ok(message)
        }
        _ => parse_message(body_to_json(bytes)?),
    }
}

fn field_error(path: &str, inner: &dyn std::fmt::Display) -> ApiError {
    let msg = if path == "." || path.is_empty() {
        format!("Invalid request: {inner}")
    } else {
        format!("Invalid value for parameter '{path}' supplied: {inner}")
    };
    ApiError(MlflowError::invalid_parameter(msg))
}

fn body_to_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        MlflowError::invalid_parameter(format!("Malformed JSON in the request body: {e}"))
    })?;
    match value {
        // Legacy clients send the JSON message encoded once more as a string.
        Value::String(s) => serde_json::from_str(&s).map_err(|e| {
            ApiError(MlflowError::invalid_parameter(format!(
                "Malformed JSON in the request body: {e}"
            )))
        }),
        Value::Object(_) => Ok(value),
        _ => Err(ApiError(MlflowError::invalid_parameter(
            "The request body must be a JSON object",
        ))),
    }
}

/// `a=1&b=x&b=y` becomes `{"a": "1", "b": ["x", "y"]}`; the request types accept a
/// single string where they expect a list.
pub fn query_to_json(query: &str) -> Value {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            None => {
                map.insert(k.into_owned(), v);
            }
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_become_messages() {
        let v = query_to_json("run_ids=a&run_ids=b&metric_key=loss+x&max_results=5");
        assert_eq!(
            v,
            serde_json::json!({"run_ids": ["a", "b"], "metric_key": "loss x", "max_results": "5"})
        );
    }

    #[test]
    fn bodies_may_be_empty_or_double_encoded() {
        assert_eq!(body_to_json(b"").unwrap(), serde_json::json!({}));
        assert_eq!(
            body_to_json(br#""{\"a\": 1}""#).unwrap(),
            serde_json::json!({"a": 1})
        );
        assert!(body_to_json(b"[1]").is_err());
        assert!(body_to_json(b"{").is_err());
    }
}
