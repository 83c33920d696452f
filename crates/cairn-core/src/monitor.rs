//! Online evaluation's domain: ground truth that arrives after a prediction, the
//! windows a model version is evaluated over, and the metrics that come out.
//!
//! Ground truth is keyed by (model, entity): the entity id is the caller's key for the
//! predicted thing, the same one the serving endpoint logged with the prediction, so a
//! label that arrives days later is joined to every prediction made for it.

use serde::{Deserialize, Serialize};

use crate::{ErrorCode, MlflowError, Result};

/// One true outcome: a class label (classification) or a value (regression).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroundTruth {
    pub model_name: String,
    /// The key the prediction was logged with.
    pub entity_id: String,
    /// The true class. A number is taken as its text (`1` and `"1"` are one label),
    /// as served models answer labels in either form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub label: Option<LabelText>,
    /// The true value of a regression target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// When the outcome happened, in milliseconds since the epoch; the time it was
    /// logged when absent. The label delay is measured from the prediction to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time_ms: Option<i64>,
}

/// A label as text, read from a JSON string, number or boolean.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "String")]
pub struct LabelText(pub String);

impl TryFrom<serde_json::Value> for LabelText {
    type Error = String;

    fn try_from(v: serde_json::Value) -> std::result::Result<Self, String> {
        label_text(&v)
            .map(LabelText)
            .ok_or_else(|| format!("a label is a string, a number or a boolean, got {v}"))
    }
}

impl From<LabelText> for String {
    fn from(l: LabelText) -> String {
        l.0
    }
}

impl From<&str> for LabelText {
    fn from(s: &str) -> Self {
        LabelText(s.to_string())
    }
}

/// The text form of a label as a model or a caller gives it: a string as it is, a
/// whole number without a fraction (`1.0` is `1`, the class an integer-labelled
/// model answers), other numbers in Rust's shortest round-trip form, booleans as
/// `true` and `false`. Anything else is no label.
pub fn label_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.to_string())
            } else if let Some(u) = n.as_u64() {
                Some(u.to_string())
            } else {
                n.as_f64().map(float_label)
            }
        }
        _ => None,
    }
}

/// A float label's text: whole numbers as integers.
pub fn float_label(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// Most records one ground-truth batch may carry.
pub const MAX_GROUND_TRUTH_BATCH: usize = 10_000;

impl GroundTruth {
    /// Checks one record of a batch; the message names it as `ground_truth[i].field`.
    pub fn validate(&self, index: usize) -> Result<()> {
        let field = |name: &str| format!("ground_truth[{index}].{name}");
        let bad = |msg: String| Err(MlflowError::new(ErrorCode::InvalidParameterValue, msg));
        for (name, value) in [
            ("model_name", &self.model_name),
            ("entity_id", &self.entity_id),
        ] {
            if value.is_empty() || value.len() > 256 {
                return bad(format!("{} must be 1 to 256 characters", field(name)));
            }
        }
        match (&self.label, self.value) {
            (None, None) => {
                return bad(format!(
                    "{}: give a label (classification) or a value (regression)",
                    field("label")
                ))
            }
            (Some(_), Some(_)) => {
                return bad(format!(
                    "{}: give a label or a value, not both",
                    field("label")
                ))
            }
            (Some(l), None) if l.0.is_empty() || l.0.len() > 256 => {
                return bad(format!("{} must be 1 to 256 characters", field("label")))
            }
            (None, Some(v)) if !v.is_finite() => {
                return bad(format!(
                    "{} must be a finite number, got {v}",
                    field("value")
                ))
            }
            _ => {}
        }
        if self.event_time_ms.is_some_and(|t| t < 0) {
            return bad(format!("{} must not be negative", field("event_time_ms")));
        }
        Ok(())
    }
}

/// A stored ground truth with when it was logged, and the values it replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroundTruthEntry {
    pub model_name: String,
    pub entity_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub event_time_ms: i64,
    pub logged_ms: i64,
    /// Earlier values for this entity, newest first, each with when it was replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<ReplacedTruth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplacedTruth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub event_time_ms: i64,
    pub logged_ms: i64,
    pub replaced_ms: i64,
}

/// The width of the windows an evaluation is cut into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    Hour,
    Day,
    Week,
    /// One window over the whole range asked for.
    All,
}

impl Window {
    /// The window's length in milliseconds; `None` for the whole range.
    pub fn millis(self) -> Option<i64> {
        match self {
            Window::Hour => Some(3_600_000),
            Window::Day => Some(86_400_000),
            Window::Week => Some(7 * 86_400_000),
            Window::All => None,
        }
    }
}

impl std::str::FromStr for Window {
    type Err = MlflowError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hour" => Ok(Window::Hour),
            "day" => Ok(Window::Day),
            "week" => Ok(Window::Week),
            "all" => Ok(Window::All),
            other => Err(MlflowError::new(
                ErrorCode::InvalidParameterValue,
                format!("window must be one of hour, day, week, all; got '{other}'"),
            )),
        }
    }
}

/// What an online evaluation covers.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalQuery {
    pub model_name: String,
    /// One version, or every version that predicted in the range.
    pub version: Option<i64>,
    /// Predictions made at or after this time (ms).
    pub since_ms: i64,
    /// Predictions made before this time (ms).
    pub until_ms: i64,
    pub window: Window,
    /// The output that holds the prediction (`label`, `output_label`, ...); found
    /// from the log when absent.
    pub prediction_key: Option<String>,
    /// The output that holds class probabilities, a map from class to probability.
    pub probability_key: Option<String>,
    /// Only predictions logged under this alias (`shadow` rows of a challenger carry
    /// the challenger's alias).
    pub alias: Option<String>,
}

/// An evaluation's answer: per model version, its windows in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OnlineEvaluation {
    pub model_name: String,
    pub since_ms: i64,
    pub until_ms: i64,
    pub window: Window,
    /// `classification` (labels) or `regression` (values), from the ground truth.
    pub task: Task,
    /// The output the predictions were read from.
    pub prediction_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability_key: Option<String>,
    pub versions: Vec<VersionEvaluation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Classification,
    Regression,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionEvaluation {
    pub version: i64,
    /// The whole range at once.
    pub total: WindowMetrics,
    /// Each window with a prediction in it, oldest first (one with `window: all`).
    pub windows: Vec<WindowMetrics>,
}

/// One version's predictions in one window, and how they fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WindowMetrics {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Predictions logged in the window.
    pub predictions: i64,
    /// Of those, the ones whose entity has ground truth.
    pub labelled: i64,
    /// `labelled / predictions`.
    pub coverage: f64,
    /// From the prediction to the ground truth's event time, over labelled rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_label_delay_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_label_delay_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<ClassificationMetrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<RegressionMetrics>,
}

/// scikit-learn's classification metrics over the labelled rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClassificationMetrics {
    pub accuracy: f64,
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    pub precision_weighted: f64,
    pub recall_weighted: f64,
    pub f1_weighted: f64,
    pub per_class: Vec<ClassMetrics>,
    /// The confusion matrix's labels, in its row and column order.
    pub labels: Vec<String>,
    /// `confusion[i][j]`: rows whose truth is `labels[i]`, predicted `labels[j]`.
    pub confusion: Vec<Vec<i64>>,
    /// Binary: of the greater label's probability; more classes: one-vs-rest, macro.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_loss: Option<f64>,
    /// Labelled rows a prediction was read from (a row without one is left out).
    pub rows: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClassMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: i64,
}

/// scikit-learn's regression metrics over the labelled rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegressionMetrics {
    pub mae: f64,
    pub rmse: f64,
    pub r2: f64,
    pub mape: f64,
    pub rows: i64,
}

/// A stored evaluation or drift result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonitorReport {
    pub id: i64,
    pub model_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<i64>,
    /// `evaluation` or `drift`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end_ms: Option<i64>,
    pub created_ms: i64,
    /// The job run that made it, if a job did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<String>,
    /// What lists and gauges read (a drift share, an accuracy).
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// The whole result.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_read_as_text_from_any_scalar() {
        assert_eq!(label_text(&json!("cat")).as_deref(), Some("cat"));
        assert_eq!(label_text(&json!(1)).as_deref(), Some("1"));
        assert_eq!(label_text(&json!(1.0)).as_deref(), Some("1"));
        assert_eq!(label_text(&json!(0.5)).as_deref(), Some("0.5"));
        assert_eq!(label_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(label_text(&json!([1])), None);
    }

    #[test]
    fn a_record_needs_a_label_or_a_value_and_names_its_row() {
        let gt = |label: Option<&str>, value: Option<f64>| GroundTruth {
            model_name: "m".into(),
            entity_id: "e".into(),
            label: label.map(LabelText::from),
            value,
            event_time_ms: None,
        };
        assert!(gt(Some("a"), None).validate(0).is_ok());
        assert!(gt(None, Some(1.5)).validate(0).is_ok());
        let e = gt(None, None).validate(3).unwrap_err();
        assert!(e.message.contains("ground_truth[3].label"), "{}", e.message);
        assert!(gt(Some("a"), Some(1.0)).validate(0).is_err());
        let e = gt(None, Some(f64::NAN)).validate(7).unwrap_err();
        assert!(e.message.contains("ground_truth[7].value"), "{}", e.message);
        let parsed: GroundTruth =
            serde_json::from_value(json!({"model_name": "m", "entity_id": "e", "label": 2}))
                .unwrap();
        assert_eq!(parsed.label, Some(LabelText("2".into())));
    }
}
