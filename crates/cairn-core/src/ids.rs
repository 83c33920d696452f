//! Ids parsed once, where a request enters, so the rules below never re-check them.

use std::fmt;

use crate::validation;
use crate::MlflowError;

/// An experiment's id: MLflow's SQL stores number experiments, and the API carries
/// the number as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExperimentId(i64);

impl ExperimentId {
    /// The id in a request, with MLflow's error for one that is not a number.
    pub fn parse(id: &str) -> Result<Self, MlflowError> {
        id.trim().parse().map(ExperimentId).map_err(|_| {
            MlflowError::invalid_parameter(format!(
                "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
            ))
        })
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for ExperimentId {
    fn from(id: i64) -> Self {
        ExperimentId(id)
    }
}

impl fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A run's id. MLflow's server looks any non-empty string up (its own ids are 32 hex
/// digits, but imported runs and other stores' keep theirs), so presence is the one
/// rule; an empty id is the field missing, as proto3 reads the default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    /// The id in a request, with MLflow's "missing `run_id`" error for an empty one.
    pub fn parse(id: impl Into<String>) -> Result<Self, MlflowError> {
        let id = id.into();
        if id.is_empty() {
            return Err(MlflowError::missing("run_id"));
        }
        Ok(RunId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets a test (or a caller holding a literal) compare without unwrapping the id.
impl PartialEq<&str> for RunId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A registered model's name, checked as MLflow's registry checks it (present, no `/`
/// or `:`, at most 256 characters): every registry rule may then take it as valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelName(String);

impl ModelName {
    /// The name in a request, with MLflow's error for a missing or malformed one.
    pub fn parse(name: impl Into<String>) -> Result<Self, MlflowError> {
        let name = name.into();
        validation::validate_model_name(&name)?;
        Ok(ModelName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ModelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A model version's number. The API carries it as a string (or a number, which the
/// request types turn into one); the store keys versions by the integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(i64);

impl Version {
    /// The version in a request, with MLflow's error for one that is not an integer.
    pub fn parse(raw: &str) -> Result<Self, MlflowError> {
        validation::parse_model_version(raw).map(Version)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for Version {
    fn from(n: i64) -> Self {
        Version(n)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn experiment_ids_are_numbers() {
        assert_eq!(ExperimentId::parse(" 12 ").map(ExperimentId::get), Ok(12));
        let err = ExperimentId::parse("abc").expect_err("not a number");
        assert_eq!(err.code, ErrorCode::InvalidParameterValue);
        assert!(err.message.contains("'abc'"), "{}", err.message);
    }

    #[test]
    fn run_ids_must_be_present() {
        let id = RunId::parse("0123abc").expect("an id");
        assert_eq!(id.as_str(), "0123abc");
        assert_eq!(id.to_string(), "0123abc");
        assert_eq!(id, "0123abc");
        // Any non-empty string: MLflow looks it up rather than checking its shape.
        assert!(RunId::parse(" x/y ").is_ok());
        let err = RunId::parse("").expect_err("empty is missing");
        assert_eq!(err, MlflowError::missing("run_id"));
    }

    #[test]
    fn model_names_follow_the_registry_rules() {
        let name = ModelName::parse("my model").expect("a name");
        assert_eq!(name.as_str(), "my model");
        assert_eq!(name.to_string(), "my model");
        assert_eq!(
            ModelName::parse("  ").expect_err("blank"),
            MlflowError::missing("name")
        );
        let err = ModelName::parse("a/b").expect_err("a slash");
        assert_eq!(err.code, ErrorCode::InvalidParameterValue);
        assert_eq!(
            err.message,
            "Invalid model name 'a/b'. Names cannot contain '/' or ':'."
        );
        assert!(ModelName::parse("x".repeat(257)).is_err());
        assert!(ModelName::parse("x".repeat(256)).is_ok());
    }

    #[test]
    fn versions_are_integers() {
        assert_eq!(Version::parse(" 3 ").map(Version::get), Ok(3));
        assert_eq!(
            Version::parse("3").map(|v| v.to_string()),
            Ok("3".to_string())
        );
        let err = Version::parse("v1").expect_err("not a number");
        assert_eq!(err.code, ErrorCode::InvalidParameterValue);
        assert_eq!(
            err.message,
            "Parameter 'version' must be an integer, got 'v1'."
        );
    }
}
