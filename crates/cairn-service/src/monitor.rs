//! Online evaluation: ground truth that arrives after the predictions, joined to the
//! prediction log per model version and time window, and measured as scikit-learn
//! measures (`cairn_core::metrics`).
//!
//! The join and the grouping run in the database (see `cairn_store::MonitorStore`):
//! a classifier's windows come back as confusion-matrix cells. Only what a count
//! cannot give (a regression's errors, probabilities for ROC AUC and log loss) is
//! read row by row.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use cairn_core::metrics::{self, Sum};
use cairn_core::monitor::{
    ClassMetrics, ClassificationMetrics, EvalQuery, GroundTruth, GroundTruthEntry, MonitorReport,
    OnlineEvaluation, RegressionMetrics, Task, VersionEvaluation, WindowMetrics,
    MAX_GROUND_TRUTH_BATCH,
};
use cairn_core::{ErrorCode, MlflowError, Result};
use cairn_store::{CoverageGroup, EvalScope, MonitorStore, NewMonitorReport};

use crate::now_ms;

pub struct MonitorService {
    store: Arc<dyn MonitorStore>,
}

/// Output keys that hold a classifier's label, most specific first: cairn's own
/// models answer `label`, scikit-learn's ONNX exports `output_label`.
const LABEL_KEYS: &[&str] = &[
    "label",
    "output_label",
    "predicted_label",
    "prediction",
    "predictions",
    "class",
];
/// Output keys that hold a regression's value.
const VALUE_KEYS: &[&str] = &[
    "prediction",
    "predictions",
    "variable",
    "value",
    "output",
    "score",
];
/// Output keys that hold class probabilities (a map from class to probability).
const PROBABILITY_KEYS: &[&str] = &["probabilities", "output_probability", "probability"];

fn invalid(message: impl Into<String>) -> MlflowError {
    MlflowError::new(ErrorCode::InvalidParameterValue, message)
}

impl MonitorService {
    pub fn new(store: Arc<dyn MonitorStore>) -> Self {
        MonitorService { store }
    }

    /// Writes a batch whole, or nothing when a record is invalid (the message names
    /// it by its position).
    #[tracing::instrument(level = "debug", skip_all, fields(records = records.len()))]
    pub async fn log_ground_truth(&self, records: Vec<GroundTruth>) -> Result<()> {
        if records.len() > MAX_GROUND_TRUTH_BATCH {
            return Err(invalid(format!(
                "ground_truth: a batch holds at most {MAX_GROUND_TRUTH_BATCH} records, got {}",
                records.len()
            )));
        }
        for (i, r) in records.iter().enumerate() {
            r.validate(i)?;
        }
        self.store.log_ground_truth(records, now_ms()).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn ground_truth(&self, model: &str, entity: &str) -> Result<GroundTruthEntry> {
        self.store
            .ground_truth(model, entity)
            .await?
            .ok_or_else(|| {
                MlflowError::new(
                    ErrorCode::ResourceDoesNotExist,
                    format!("no ground truth for entity '{entity}' of model '{model}'"),
                )
            })
    }

    /// Metrics per model version and window over the predictions made in the range
    /// that have ground truth, and how many have it.
    #[tracing::instrument(level = "debug", skip_all, fields(model = %q.model_name))]
    pub async fn evaluate(&self, q: EvalQuery) -> Result<OnlineEvaluation> {
        if q.model_name.is_empty() {
            return Err(invalid("model_name is required"));
        }
        if q.since_ms >= q.until_ms {
            return Err(invalid(format!(
                "since ({}) must be before until ({})",
                q.since_ms, q.until_ms
            )));
        }
        let (labels, values) = self.store.ground_truth_kinds(&q.model_name).await?;
        let task = match (labels > 0, values > 0) {
            (true, true) => {
                return Err(invalid(format!(
                    "model '{}' has ground truth as labels ({labels}) and as values ({values}): \
                     log one kind per model",
                    q.model_name
                )))
            }
            (false, true) => Task::Regression,
            _ => Task::Classification,
        };
        let latest = self.store.latest_outputs(&q.model_name).await?;
        let outputs: Vec<String> = latest
            .as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
            .unwrap_or_default();
        let prediction_key = match &q.prediction_key {
            Some(k) => checked_key("prediction_key", k)?,
            None => find_key(
                &outputs,
                if task == Task::Regression {
                    VALUE_KEYS
                } else {
                    LABEL_KEYS
                },
            )
            .ok_or_else(|| {
                invalid(format!(
                    "no prediction output to evaluate among {outputs:?}: name it with \
                     prediction_key"
                ))
            })?,
        };
        let probability_key = match (&q.probability_key, task) {
            (Some(k), _) => Some(checked_key("probability_key", k)?),
            (None, Task::Classification) => PROBABILITY_KEYS
                .iter()
                .find(|k| outputs.iter().any(|o| o == *k))
                .map(|k| k.to_string()),
            (None, Task::Regression) => None,
        };
        let (origin_ms, width_ms) = match q.window.millis() {
            Some(w) => (q.since_ms.div_euclid(w) * w, w),
            None => (q.since_ms, q.until_ms - q.since_ms),
        };
        let scope = EvalScope {
            model_name: q.model_name.clone(),
            version: q.version,
            since_ms: q.since_ms,
            until_ms: q.until_ms,
            alias: q.alias.clone(),
            origin_ms,
            width_ms,
        };
        let coverage = self.store.eval_coverage(&scope).await?;
        // Every figure is gathered per (version, window) and per version in total.
        let mut cells: BTreeMap<(i64, Option<i64>), Cell> = BTreeMap::new();
        for g in &coverage {
            for key in [(g.version, Some(g.bucket_ms)), (g.version, None)] {
                cells.entry(key).or_default().coverage(g);
            }
        }
        match task {
            Task::Classification => {
                for g in self
                    .store
                    .eval_label_groups(&scope, &prediction_key)
                    .await?
                {
                    for key in [(g.version, Some(g.bucket_ms)), (g.version, None)] {
                        let cell = cells.entry(key).or_default();
                        match &g.predicted {
                            Some(p) => {
                                *cell
                                    .confusion
                                    .entry((g.truth.clone(), p.clone()))
                                    .or_default() += g.count as u64;
                            }
                            None => cell.unreadable += g.count,
                        }
                    }
                }
                if let Some(pk) = &probability_key {
                    for (version, bucket, probs, truth, _) in
                        self.store.eval_labelled_rows(&scope, pk).await?
                    {
                        let (Some(probs), Some(truth)) = (probs, truth) else {
                            continue;
                        };
                        let Some(probs) = Probabilities::parse(&probs) else {
                            continue;
                        };
                        for key in [(version, Some(bucket)), (version, None)] {
                            cells
                                .entry(key)
                                .or_default()
                                .probabilities
                                .push((truth.clone(), probs.clone()));
                        }
                    }
                }
            }
            Task::Regression => {
                for (version, bucket, predicted, _, truth) in self
                    .store
                    .eval_labelled_rows(&scope, &prediction_key)
                    .await?
                {
                    let Some(truth) = truth else { continue };
                    for key in [(version, Some(bucket)), (version, None)] {
                        let cell = cells.entry(key).or_default();
                        match predicted.as_deref().and_then(|p| p.parse::<f64>().ok()) {
                            Some(p) if p.is_finite() => cell.pairs.push((p, truth)),
                            _ => cell.unreadable += 1,
                        }
                    }
                }
            }
        }
        let mut versions: BTreeMap<i64, VersionEvaluation> = BTreeMap::new();
        for ((version, bucket), cell) in cells {
            let (start_ms, end_ms) = match bucket {
                Some(b) => (b.max(q.since_ms), (b + width_ms).min(q.until_ms)),
                None => (q.since_ms, q.until_ms),
            };
            let metrics = cell.metrics(start_ms, end_ms, task);
            let entry = versions
                .entry(version)
                .or_insert_with(|| VersionEvaluation {
                    version,
                    total: metrics.clone(),
                    windows: Vec::new(),
                });
            match bucket {
                Some(_) => entry.windows.push(metrics),
                None => entry.total = metrics,
            }
        }
        Ok(OnlineEvaluation {
            model_name: q.model_name,
            since_ms: q.since_ms,
            until_ms: q.until_ms,
            window: q.window,
            task,
            prediction_key,
            probability_key,
            versions: versions.into_values().collect(),
        })
    }

    /// Keeps an evaluation or drift result for the model page, gauges and history.
    #[tracing::instrument(level = "debug", skip_all, fields(model = %new.model_name, kind = %new.kind))]
    pub async fn add_report(&self, new: NewMonitorReport) -> Result<()> {
        if new.model_name.is_empty() || new.model_name.len() > 256 {
            return Err(invalid("model_name must be 1 to 256 characters"));
        }
        if !matches!(new.kind.as_str(), "evaluation" | "drift") {
            return Err(invalid(format!(
                "kind must be evaluation or drift, got '{}'",
                new.kind
            )));
        }
        if new.model_version.is_some_and(|v| v < 1) {
            return Err(invalid(
                "model_version must be a version number (1 or more)",
            ));
        }
        self.store.add_monitor_report(new, now_ms()).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn reports(&self, model: &str, kind: &str, limit: i64) -> Result<Vec<MonitorReport>> {
        if !matches!(kind, "evaluation" | "drift") {
            return Err(invalid(format!(
                "kind must be evaluation or drift, got '{kind}'"
            )));
        }
        Ok(self
            .store
            .monitor_reports(model, kind, limit.clamp(1, 1000))
            .await?)
    }

    /// The newest report per (model, version, kind), for the gauges.
    pub async fn latest_reports(&self) -> Result<Vec<MonitorReport>> {
        Ok(self.store.latest_monitor_reports().await?)
    }

    /// Sets the Prometheus gauges from the newest reports, at scrape time:
    /// `cairn_drift_share` and `cairn_dataset_drift` per model version, and
    /// `cairn_online_metric` per model version and metric (accuracy, f1_macro, rmse,
    /// coverage, ...). A failure leaves the gauges as they were.
    pub async fn record_gauges(&self) {
        let Ok(reports) = self.latest_reports().await else {
            return;
        };
        for r in reports {
            let model = r.model_name.clone();
            let version = r.model_version.map(|v| v.to_string()).unwrap_or_default();
            let Some(summary) = r.summary.as_object() else {
                continue;
            };
            match r.kind.as_str() {
                "drift" => {
                    if let Some(share) = summary.get("share").and_then(|v| v.as_f64()) {
                        ::metrics::gauge!("cairn_drift_share", "model" => model.clone(), "version" => version.clone())
                            .set(share);
                    }
                    if let Some(d) = summary.get("dataset_drift").and_then(|v| v.as_bool()) {
                        ::metrics::gauge!("cairn_dataset_drift", "model" => model, "version" => version)
                            .set(if d { 1.0 } else { 0.0 });
                    }
                }
                _ => {
                    for (metric, value) in summary {
                        if let Some(x) = value.as_f64() {
                            ::metrics::gauge!(
                                "cairn_online_metric",
                                "model" => model.clone(),
                                "version" => version.clone(),
                                "metric" => metric.clone()
                            )
                            .set(x);
                        }
                    }
                }
            }
        }
    }
}

/// A key the SQL can read: the JSON path quoting of SQLite takes no quote or
/// backslash in it.
fn checked_key(field: &str, key: &str) -> Result<String> {
    if key.is_empty() || key.len() > 256 || key.contains(['"', '\\']) {
        return Err(invalid(format!(
            "{field} must be 1 to 256 characters without quotes or backslashes, got '{key}'"
        )));
    }
    Ok(key.to_string())
}

/// The first of `preferred` among the logged outputs, or the only output.
fn find_key(outputs: &[String], preferred: &[&str]) -> Option<String> {
    preferred
        .iter()
        .find(|k| outputs.iter().any(|o| o == *k))
        .map(|k| k.to_string())
        .or_else(|| match outputs {
            [only] if !PROBABILITY_KEYS.contains(&only.as_str()) => Some(only.clone()),
            _ => None,
        })
}

/// Class probabilities as an output logged them.
#[derive(Clone)]
enum Probabilities {
    /// A map from class to probability (scikit-learn's ONNX `output_probability`,
    /// cairn's `probabilities`), or a one-row list of such a map.
    ByClass(BTreeMap<String, f64>),
    /// A plain list (skl2onnx without ZipMap): in the order of the model's
    /// `classes_`, which scikit-learn sorts, so it is read against the sorted labels
    /// of the evaluation when it has as many entries as they are.
    Positional(Vec<f64>),
}

impl Probabilities {
    fn parse(text: &str) -> Option<Probabilities> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let map = match &v {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Array(a) if a.len() == 1 && a[0].is_object() => a[0].as_object()?,
            serde_json::Value::Array(a) => {
                return a
                    .iter()
                    .map(serde_json::Value::as_f64)
                    .collect::<Option<Vec<f64>>>()
                    .map(Probabilities::Positional)
            }
            _ => return None,
        };
        map.iter()
            .map(|(k, p)| Some((k.clone(), p.as_f64()?)))
            .collect::<Option<BTreeMap<_, _>>>()
            .map(Probabilities::ByClass)
    }

    /// Keyed by class; a positional list only when it covers `labels` one to one.
    fn by_class(&self, labels: &[String]) -> Option<BTreeMap<String, f64>> {
        match self {
            Probabilities::ByClass(m) => Some(m.clone()),
            Probabilities::Positional(p) if p.len() == labels.len() => {
                Some(labels.iter().cloned().zip(p.iter().copied()).collect())
            }
            Probabilities::Positional(_) => None,
        }
    }
}

/// The order scikit-learn gives labels (`np.unique`): by number when every label is
/// one, else as text.
fn sort_labels(labels: &mut [String]) {
    let numbers: Option<Vec<f64>> = labels.iter().map(|l| l.parse::<f64>().ok()).collect();
    if numbers.is_some() {
        labels.sort_by(|a, b| {
            let (x, y) = (
                a.parse::<f64>().unwrap_or(0.0),
                b.parse::<f64>().unwrap_or(0.0),
            );
            x.total_cmp(&y)
        });
    } else {
        labels.sort();
    }
}

/// What one (version, window) gathered before it is measured.
#[derive(Default)]
struct Cell {
    predictions: i64,
    labelled: i64,
    delay_sum_ms: f64,
    delay_max_ms: Option<i64>,
    /// (true, predicted) -> rows.
    confusion: HashMap<(String, String), u64>,
    /// (true label, class probabilities).
    probabilities: Vec<(String, Probabilities)>,
    /// (predicted, true) values of a regression.
    pairs: Vec<(f64, f64)>,
    /// Labelled rows whose outputs had no readable prediction.
    unreadable: i64,
}

impl Cell {
    fn coverage(&mut self, g: &CoverageGroup) {
        self.predictions += g.predictions;
        self.labelled += g.labelled;
        self.delay_sum_ms += g.delay_sum_ms.unwrap_or(0.0);
        self.delay_max_ms = self.delay_max_ms.max(g.delay_max_ms);
    }

    fn metrics(self, start_ms: i64, end_ms: i64, task: Task) -> WindowMetrics {
        let classification = match task {
            Task::Classification if !self.confusion.is_empty() => Some(self.classification()),
            _ => None,
        };
        let regression = match task {
            Task::Regression => {
                metrics::regression(&self.pairs).map(|(mae, rmse, r2, mape)| RegressionMetrics {
                    mae,
                    rmse,
                    r2,
                    mape,
                    rows: self.pairs.len() as i64,
                })
            }
            Task::Classification => None,
        };
        WindowMetrics {
            start_ms,
            end_ms,
            predictions: self.predictions,
            labelled: self.labelled,
            coverage: metrics::ratio(self.labelled as f64, self.predictions as f64),
            mean_label_delay_ms: (self.labelled > 0)
                .then(|| self.delay_sum_ms / self.labelled as f64),
            max_label_delay_ms: self.delay_max_ms,
            classification,
            regression,
        }
    }

    fn classification(&self) -> ClassificationMetrics {
        let mut labels: Vec<String> = self
            .confusion
            .keys()
            .flat_map(|(t, p)| [t.clone(), p.clone()])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        sort_labels(&mut labels);
        let index: HashMap<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let mut confusion = vec![vec![0u64; labels.len()]; labels.len()];
        for ((t, p), n) in &self.confusion {
            confusion[index[t.as_str()]][index[p.as_str()]] += n;
        }
        let s = metrics::summarise(&labels, &confusion);
        let (roc_auc, log_loss) = self.probability_metrics(&labels);
        ClassificationMetrics {
            accuracy: s.accuracy,
            precision_macro: s.macro_precision,
            recall_macro: s.macro_recall,
            f1_macro: s.macro_f1,
            precision_weighted: s.weighted_precision,
            recall_weighted: s.weighted_recall,
            f1_weighted: s.weighted_f1,
            per_class: s
                .per_class
                .into_iter()
                .map(|c| ClassMetrics {
                    label: c.label,
                    precision: c.precision,
                    recall: c.recall,
                    f1: c.f1,
                    support: c.support as i64,
                })
                .collect(),
            labels,
            confusion: confusion
                .into_iter()
                .map(|row| row.into_iter().map(|n| n as i64).collect())
                .collect(),
            roc_auc,
            log_loss,
            rows: self.confusion.values().sum::<u64>() as i64,
        }
    }

    /// ROC AUC and log loss as `roc_auc_score` (binary: the greater class's
    /// probability; more classes: one-vs-rest, macro) and `log_loss` (probabilities
    /// clipped to [eps, 1 - eps]) compute them over the rows with probabilities.
    fn probability_metrics(&self, labels: &[String]) -> (Option<f64>, Option<f64>) {
        let rows: Vec<(&String, BTreeMap<String, f64>)> = self
            .probabilities
            .iter()
            .filter_map(|(t, p)| Some((t, p.by_class(labels)?)))
            .collect();
        if rows.is_empty() {
            return (None, None);
        }
        let mut classes: Vec<String> = rows
            .iter()
            .flat_map(|(_, p)| p.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        sort_labels(&mut classes);
        let eps = f64::EPSILON;
        let mut loss = Sum::default();
        for (truth, p) in &rows {
            let pt = p.get(*truth).copied().unwrap_or(0.0);
            loss.add(-pt.clamp(eps, 1.0 - eps).ln());
        }
        let log_loss = Some(loss.value() / rows.len() as f64);
        let auc_of = |class: &str| {
            let scores: Vec<f64> = rows
                .iter()
                .map(|(_, p)| p.get(class).copied().unwrap_or(0.0))
                .collect();
            let positive: Vec<bool> = rows.iter().map(|(t, _)| *t == class).collect();
            metrics::roc_auc(&scores, &positive)
        };
        let roc_auc = match classes.as_slice() {
            [_, positive] => auc_of(positive),
            many if many.len() > 2 => {
                let aucs: Vec<f64> = many.iter().filter_map(|c| auc_of(c)).collect();
                (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
            }
            _ => None,
        };
        (roc_auc, log_loss)
    }
}

#[cfg(test)]
mod tests {
    use super::Probabilities;

    #[test]
    fn probabilities_read_by_class_or_by_position_against_the_sorted_labels() {
        let labels = ["0".to_string(), "1".to_string(), "2".to_string()];
        let by_class = |text: &str| Probabilities::parse(text).and_then(|p| p.by_class(&labels));
        let want: Vec<(String, f64)> =
            vec![("0".into(), 0.1), ("1".into(), 0.2), ("2".into(), 0.7)];
        for text in [
            r#"{"0": 0.1, "1": 0.2, "2": 0.7}"#,
            r#"[{"0": 0.1, "1": 0.2, "2": 0.7}]"#,
            "[0.1, 0.2, 0.7]",
        ] {
            let got: Vec<(String, f64)> = by_class(text).expect(text).into_iter().collect();
            assert_eq!(got, want, "{text}");
        }
        // A list that does not cover the labels one to one is not guessed at.
        assert!(by_class("[0.3, 0.7]").is_none());
        assert!(by_class(r#"["a", 0.7]"#).is_none());
        assert!(by_class("0.7").is_none());
    }
}
