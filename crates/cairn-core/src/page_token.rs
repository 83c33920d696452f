//! Page tokens: opaque to clients, an offset inside.
//!
//! MLflow's Python server encodes `{"offset": N}` in base64; cairn writes the same,
//! so a token from either server is understood by the other.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::MlflowError;

pub fn encode(offset: u64) -> String {
    STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Decodes a token; an empty or absent token is offset 0.
pub fn decode(token: Option<&str>) -> Result<u64, MlflowError> {
    let token = match token {
        None | Some("") => return Ok(0),
        Some(t) => t,
    };
    let bad = || MlflowError::invalid_parameter(format!("Invalid page token '{token}'"));
    let bytes = STANDARD.decode(token).map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    v.get("offset").and_then(|o| o.as_u64()).ok_or_else(bad)
}

/// The token for the page after `offset + page_len` when more rows may follow.
pub fn next(offset: u64, page_len: usize, max_results: u64, has_more: bool) -> Option<String> {
    (has_more && page_len as u64 == max_results).then(|| encode(offset + page_len as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_mlflows_encoding() {
        assert_eq!(encode(1), "eyJvZmZzZXQiOiAxfQ==");
        assert_eq!(decode(Some("eyJvZmZzZXQiOiAxfQ==")).unwrap(), 1);
        assert_eq!(decode(None).unwrap(), 0);
        assert_eq!(decode(Some("")).unwrap(), 0);
        assert!(decode(Some("not-a-token")).is_err());
        assert!(decode(Some(&STANDARD.encode("{\"offset\": -3}"))).is_err());
    }
}
