//! Ids parsed once, where a request enters, so the rules below never re-check them.

use std::fmt;

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
}
