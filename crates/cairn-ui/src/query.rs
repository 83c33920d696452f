//! Query strings and form bodies with repeated keys (`run=a&run=b`), which serde's
//! URL-encoded format cannot express, and the links built back from them.

use url::form_urlencoded;

use crate::error::UiError;

/// Decoded `key=value` pairs in their order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        Params(form_urlencoded::parse(raw).into_owned().collect())
    }

    /// The first non-empty value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` as sent, empty included ("" when absent): for text
    /// fields where empty means "clear".
    pub fn text(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every non-empty value of `key`, without repeats, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, v) in &self.0 {
            if k == key && !v.is_empty() && !out.contains(v) {
                out.push(v.clone());
            }
        }
        out
    }

    /// A required form field, or an error naming it.
    pub fn require(&self, key: &str) -> Result<&str, UiError> {
        self.get(key)
            .ok_or_else(|| UiError::BadInput(format!("the field '{key}' is required")))
    }

    /// A number in `[lo, hi]`, `default` when absent; an error naming the field otherwise.
    pub fn number(&self, key: &str, default: f64, lo: f64, hi: f64) -> Result<f64, UiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && (lo..=hi).contains(&x) => Ok(x),
                _ => Err(UiError::BadInput(format!(
                    "'{key}' must be a number from {lo} to {hi}, not '{v}'"
                ))),
            },
        }
    }

    /// This query with `key` replaced by `values` (removed when empty), as `?...`.
    pub fn with(&self, key: &str, values: &[&str]) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .0
            .iter()
            .filter(|(k, _)| k != key)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend(values.iter().map(|v| (key, *v)));
        to_query(&pairs)
    }

    /// This query without `keys`.
    pub fn without(&self, keys: &[&str]) -> Params {
        Params(
            self.0
                .iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .cloned()
                .collect(),
        )
    }
}

/// `?a=1&b=2` (empty values left out), or "" when there is nothing.
pub fn to_query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

/// A path segment, percent-encoded (model names may hold `/` or spaces).
pub fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_round_trip_with_repeats() {
        let q = Params::parse(b"run=a&run=b&run=a&filter=x+%3D+1&page=");
        assert_eq!(q.all("run"), vec!["a", "b"]);
        assert_eq!(q.get("filter"), Some("x = 1"));
        assert_eq!(q.get("page"), None);
        assert_eq!(
            q.with("page", &["t"]),
            "?run=a&run=b&run=a&filter=x+%3D+1&page=t"
        );
        assert_eq!(to_query(&[("path", ""), ("file", "a b")]), "?file=a+b");
        assert_eq!(to_query(&[]), "");
        assert_eq!(segment("my model"), "my%20model");
    }
}
