//! Input limits and key rules, as MLflow's `mlflow/utils/validation.py` enforces them.
//!
//! They live here, not in the server, so every entry point (REST, UI, jobs) refuses
//! the same inputs with the same messages.

use crate::error::MlflowError;

pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VAL_LENGTH: usize = 6000;
pub const MAX_TAG_VAL_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_EXPERIMENT_TAG_KEY_LENGTH: usize = 250;
pub const MAX_EXPERIMENT_TAG_VAL_LENGTH: usize = 20000;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_PER_BATCH: usize = 100;
pub const MAX_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
pub const MAX_DATASET_DIGEST_LENGTH: usize = 36;
pub const MAX_DATASET_SOURCE_LENGTH: usize = 65535;
pub const MAX_DATASET_SCHEMA_LENGTH: usize = 1 << 20;
pub const MAX_DATASET_PROFILE_LENGTH: usize = 16 << 20;
pub const MAX_INPUT_TAG_KEY_LENGTH: usize = 255;
pub const MAX_INPUT_TAG_VAL_LENGTH: usize = 500;
/// The largest `max_results` a run or experiment search accepts.
pub const SEARCH_MAX_RESULTS_THRESHOLD: i64 = 50000;
/// The largest page of metric history MLflow serves.
pub const GET_METRIC_HISTORY_MAX_RESULTS: i64 = 25000;
pub const BULK_INTERVAL_MAX_RUNS: usize = 100;
pub const BULK_INTERVAL_MAX_RESULTS: i64 = 2500;

/// What kind of key is checked, for the error message.
#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    Metric,
    Param,
    Tag,
}

impl KeyKind {
    fn noun(self) -> &'static str {
        match self {
            KeyKind::Metric => "metric",
            KeyKind::Param => "param",
            KeyKind::Tag => "tag",
        }
    }
}

/// Checks a metric, param or tag key: MLflow's character set, a normalized relative
/// path (keys become file names in MLflow's file store), and the length limit.
pub fn validate_key(kind: KeyKind, key: &str) -> Result<(), MlflowError> {
    let allowed = key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' ' | ':'));
    let path_ok = !key.starts_with('/')
        && key != "."
        && !key.split('/').any(|part| part == "..")
        && !key.contains("//");
    if !allowed || !path_ok {
        return Err(MlflowError::invalid_parameter(format!(
            "Invalid {} name: '{}'. Names may only contain alphanumerics, underscores (_), \
             dashes (-), periods (.), spaces ( ), colon(:) and slashes (/), and must be a \
             normalized relative path.",
            kind.noun(),
            key
        )));
    }
    // A key is never longer in characters than in bytes, so most keys pass without
    // counting, and the noun is formatted only for an error: this runs once per point
    // of a log-batch.
    if key.len() <= MAX_ENTITY_KEY_LENGTH {
        return Ok(());
    }
    check_length(&format!("{} name", kind.noun()), key, MAX_ENTITY_KEY_LENGTH)
}

/// Refuses `value` when it is longer than `limit` characters, naming `what`.
pub fn check_length(what: &str, value: &str, limit: usize) -> Result<(), MlflowError> {
    let len = value.chars().count();
    if len > limit {
        let shown: String = value.chars().take(50).collect();
        return Err(MlflowError::invalid_parameter(format!(
            "{what} '{shown}{}' had length {len}, which exceeded length limit of {limit}",
            if len > 50 { "..." } else { "" }
        )));
    }
    Ok(())
}

pub fn validate_param(key: &str, value: &str) -> Result<(), MlflowError> {
    validate_key(KeyKind::Param, key)?;
    check_length("Param value", value, MAX_PARAM_VAL_LENGTH)
}

pub fn validate_tag(key: &str, value: &str) -> Result<(), MlflowError> {
    validate_key(KeyKind::Tag, key)?;
    check_length("Tag value", value, MAX_TAG_VAL_LENGTH)
}

pub fn validate_metric(key: &str) -> Result<(), MlflowError> {
    validate_key(KeyKind::Metric, key)
}

pub fn validate_experiment_name(name: &str) -> Result<(), MlflowError> {
    if name.trim().is_empty() {
        return Err(MlflowError::invalid_parameter(
            "Invalid experiment name: '' . Experiment name must be a non-empty string.",
        ));
    }
    check_length("Experiment name", name, MAX_EXPERIMENT_NAME_LENGTH)
}

pub fn validate_experiment_tag(key: &str, value: &str) -> Result<(), MlflowError> {
    validate_key(KeyKind::Tag, key)?;
    check_length("Tag key", key, MAX_EXPERIMENT_TAG_KEY_LENGTH)?;
    check_length("Tag value", value, MAX_EXPERIMENT_TAG_VAL_LENGTH)
}

/// Checks the size of a log-batch request before anything is written.
pub fn validate_batch_sizes(metrics: usize, params: usize, tags: usize) -> Result<(), MlflowError> {
    let too_many = |what: &str, n: usize, limit: usize| {
        MlflowError::invalid_parameter(format!(
            "A batch logging request can contain at most {limit} {what}. Got {n} {what}. \
             Please split up {what} across multiple requests and try again."
        ))
    };
    if metrics > MAX_METRICS_PER_BATCH {
        return Err(too_many("metrics", metrics, MAX_METRICS_PER_BATCH));
    }
    if params > MAX_PARAMS_PER_BATCH {
        return Err(too_many("params", params, MAX_PARAMS_PER_BATCH));
    }
    if tags > MAX_TAGS_PER_BATCH {
        return Err(too_many("tags", tags, MAX_TAGS_PER_BATCH));
    }
    let total = metrics + params + tags;
    if total > MAX_ENTITIES_PER_BATCH {
        return Err(too_many(
            "total metrics, params, and tags",
            total,
            MAX_ENTITIES_PER_BATCH,
        ));
    }
    Ok(())
}

/// Checks `max_results` against `[1, limit]`, naming the parameter.
pub fn validate_max_results(value: i64, limit: i64) -> Result<u64, MlflowError> {
    if value <= 0 || value > limit {
        return Err(MlflowError::invalid_parameter(format!(
            "Invalid value {value} for parameter 'max_results' supplied. It must be at most \
             {limit} and at least 1"
        )));
    }
    Ok(value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflows_rules() {
        for ok in ["loss", "a/b", "val acc", "m:1", "x-y.z", "héllo"] {
            assert!(validate_metric(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/abs", "a/../b", "..", ".", "a*b", "a\"b", "a//b"] {
            if bad.is_empty() {
                continue; // MLflow accepts the empty key in its regex; the store refuses it
            }
            let err = validate_metric(bad).unwrap_err();
            assert!(err.message.contains("Invalid metric name"), "{bad}: {err}");
        }
        assert!(validate_param(&"k".repeat(251), "v").is_err());
        assert!(validate_param("k", &"v".repeat(6001)).is_err());
        assert!(validate_param("k", &"v".repeat(6000)).is_ok());
    }

    #[test]
    fn batch_limits() {
        assert!(validate_batch_sizes(1000, 0, 0).is_ok());
        assert!(validate_batch_sizes(1001, 0, 0).is_err());
        assert!(validate_batch_sizes(900, 100, 1).is_err());
    }
}

/// A registered model's name: not blank, no `/` or `:` (they would break
/// `models:/name/version` URIs).
pub fn validate_model_name(name: &str) -> Result<(), MlflowError> {
    if name.trim().is_empty() {
        return Err(MlflowError::missing("name"));
    }
    if name.contains('/') || name.contains(':') {
        return Err(MlflowError::invalid_parameter(format!(
            "Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )));
    }
    check_length("Registered model name", name, 256)
}

/// A version number as the client sends it: a string holding an integer.
pub fn parse_model_version(raw: &str) -> Result<i64, MlflowError> {
    raw.trim().parse::<i64>().map_err(|_| {
        MlflowError::invalid_parameter(format!(
            "Parameter 'version' must be an integer, got '{raw}'."
        ))
    })
}

/// An alias: letters, digits, `_` and `-`, at most 255 characters.
pub fn validate_alias(alias: &str) -> Result<(), MlflowError> {
    if alias.is_empty() {
        return Err(MlflowError::invalid_parameter(
            "Registered model alias name cannot be empty.",
        ));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(MlflowError::invalid_parameter(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores \
             (_), and dashes (-)."
        )));
    }
    check_length("Registered model alias name", alias, 255)
}

/// Aliases that `models:/name@...` already gives a meaning: `latest` and `v<N>`.
pub fn validate_alias_not_reserved(alias: &str) -> Result<(), MlflowError> {
    if alias.eq_ignore_ascii_case("latest") {
        return Err(MlflowError::invalid_parameter(
            "'latest' alias name (case insensitive) is reserved.",
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(MlflowError::invalid_parameter(format!(
            "Version alias name '{alias}' is reserved."
        )));
    }
    Ok(())
}

/// A registry tag (registered model or model version): key rules as for run tags,
/// values up to 100,000 characters.
pub fn validate_registry_tag(key: &str, value: &str) -> Result<(), MlflowError> {
    validate_key(KeyKind::Tag, key)?;
    check_length("Tag value", value, 100_000)
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    #[test]
    fn aliases_and_names() {
        assert!(validate_alias("champion").is_ok());
        assert!(validate_alias("a b").is_err());
        assert!(validate_alias("").is_err());
        assert!(validate_alias_not_reserved("Latest").is_err());
        assert!(validate_alias_not_reserved("v3").is_err());
        assert!(validate_alias_not_reserved("v").is_ok());
        assert!(validate_alias_not_reserved("vip").is_ok());
        assert!(validate_model_name("a/b").is_err());
        assert!(validate_model_name("  ").is_err());
        assert_eq!(parse_model_version("3").unwrap(), 3);
        assert!(parse_model_version("x").is_err());
    }
}
