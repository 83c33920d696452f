//! The training spec: one YAML file per training job. Its `task` picks the kind;
//! every section is a typed struct that refuses unknown keys, so a typo is an
//! error naming the key and its line rather than a silently ignored setting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_ml::data::Column;
use cairn_ml::tabular::TabularModelConfig;
use cairn_ml::text_classifier::TextModelConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// A training job, by task kind.
#[derive(Debug, Clone)]
pub enum Spec {
    TextClassification(Box<TextSpec>),
    TabularClassification(Box<TabularSpec>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSpec {
    /// `text_classification`.
    pub task: String,
    pub experiment: String,
    #[serde(default)]
    pub run_name: Option<String>,
    pub data: TextData,
    #[serde(default)]
    pub model: TextModelConfig,
    #[serde(default)]
    pub ood: Option<OodSpec>,
    #[serde(default)]
    pub search: Option<SearchSpec>,
    #[serde(default)]
    pub register: Option<RegisterSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextData {
    pub train: PathBuf,
    /// Early stopping, search and the out-of-scope threshold use it; without it,
    /// they use 10 % of train.
    #[serde(default)]
    pub dev: Option<PathBuf>,
    pub test: PathBuf,
    #[serde(default)]
    pub delimiter: Option<char>,
    #[serde(default = "yes")]
    pub has_header: bool,
    #[serde(default = "text_column")]
    pub text_column: Column,
    #[serde(default = "label_column")]
    pub label_column: Column,
    /// Word-level slot tags (one per whitespace-separated word, as ATIS's third
    /// column): fine-tuning the encoder then also learns to tag them (JointBERT's
    /// joint objective). Read and checked, but unused, without `encoder.fine_tune`.
    #[serde(default)]
    pub slot_column: Option<Column>,
}

fn yes() -> bool {
    true
}
fn text_column() -> Column {
    Column::Name("text".into())
}
fn label_column() -> Column {
    Column::Name("label".into())
}

/// Out-of-scope detection: the test split's rows labelled `label` never appear in
/// training; rows the model is less sure of than the threshold get `label`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OodSpec {
    #[serde(default = "oos")]
    pub label: String,
    /// Share of in-scope dev rows kept above the threshold.
    #[serde(default = "keep")]
    pub keep_in_scope: f64,
    /// For the "out-of-scope recall at this in-scope accuracy" metric.
    #[serde(default = "target")]
    pub target_in_scope_accuracy: f64,
    /// `{kind: max_probability}` or `{kind: knn_blend, probability_weight: 0.5}`;
    /// without it, knn_blend when the model has an encoder.
    #[serde(default)]
    pub score: Option<cairn_ml::text_classifier::OodScore>,
}

fn oos() -> String {
    "oos".into()
}
fn keep() -> f64 {
    0.97
}
fn target() -> f64 {
    0.95
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TabularSpec {
    /// `tabular_classification`.
    pub task: String,
    pub experiment: String,
    #[serde(default)]
    pub run_name: Option<String>,
    pub data: TabularData,
    #[serde(default)]
    pub model: TabularModelConfig,
    #[serde(default)]
    pub search: Option<SearchSpec>,
    #[serde(default)]
    pub register: Option<RegisterSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TabularData {
    /// `wine_is_high_quality` (inside the binary), or omit it and give `csv` or
    /// `parquet`.
    #[serde(default)]
    pub builtin: Option<String>,
    /// A CSV file with a header row.
    #[serde(default)]
    pub csv: Option<PathBuf>,
    /// A Parquet file (as pandas, polars or Spark write it).
    #[serde(default)]
    pub parquet: Option<PathBuf>,
    /// A model contract of the contracts folder: its input features joined to its
    /// label on the entity, point-in-time correct (see `cairn_data::training`).
    #[serde(default)]
    pub contract: Option<String>,
    /// The contracts folder (relative to the spec): `$CAIRN_CONTRACTS_DIR`, else
    /// `contracts` beside the spec.
    #[serde(default)]
    pub contracts_dir: Option<PathBuf>,
    /// Train only when the contract's quality checks pass.
    #[serde(default)]
    pub require_checks: bool,
    /// The contract and its version, once its training set is built.
    #[serde(skip)]
    pub from_contract: Option<(String, String)>,
    #[serde(default = "label")]
    pub label_column: String,
    /// Held out for the test metrics; the search holds out the same share of the
    /// rest for validation.
    #[serde(default = "test_fraction")]
    pub test_fraction: f64,
    #[serde(default)]
    pub seed: u64,
}

fn label() -> String {
    "label".into()
}
fn test_fraction() -> f64 {
    0.2
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    #[serde(default)]
    pub sampler: Sampler,
    pub trials: usize,
    /// Trials run at once.
    #[serde(default = "one")]
    pub parallel: usize,
    #[serde(default)]
    pub seed: u64,
    /// Stop a trial whose validation accuracy after an epoch is below the median
    /// of earlier trials at that epoch (epoch-trained models only).
    #[serde(default = "yes")]
    pub prune: bool,
    /// Dotted path into `model` -> its range or choices.
    pub space: BTreeMap<String, Param>,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampler {
    Random,
    /// Tree-structured Parzen estimator (Optuna's default).
    #[default]
    Tpe,
}

/// One searched hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Param {
    Range {
        low: f64,
        high: f64,
        #[serde(default)]
        log: bool,
        /// Round to whole numbers.
        #[serde(default)]
        int: bool,
    },
    Choice {
        choices: Vec<serde_json::Value>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterSpec {
    /// Registered model name.
    pub name: String,
    /// Moved to the new version only when it passes its tests and beats the
    /// thresholds and the current holder of the alias.
    #[serde(default = "champion")]
    pub alias: String,
    /// Test metric -> the least value it may have (e.g. `test_accuracy: 0.9`).
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// The metric compared with the alias's current version on the same test set.
    #[serde(default = "accuracy")]
    pub compare_metric: String,
}

fn champion() -> String {
    "champion".into()
}
fn accuracy() -> String {
    "test_accuracy".into()
}

#[derive(Deserialize)]
struct TaskOnly {
    task: Option<String>,
}

impl Spec {
    /// Reads a spec; relative data paths are taken from the spec file's folder.
    pub fn read(path: &Path) -> Result<Spec> {
        Self::read_from(path, path.parent().unwrap_or(Path::new(".")))
    }

    /// Reads a spec whose relative data paths start at `base` (a spec written out by
    /// a job step from its job file, where those paths were written).
    pub fn read_from(path: &Path, base: &Path) -> Result<Spec> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::Spec(format!("{}: {e}", path.display())))?;
        Self::parse(&text, base).map_err(|e| match e {
            TrainError::Spec(m) => TrainError::Spec(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    pub fn parse(text: &str, base: &Path) -> Result<Spec> {
        let yaml_err = |e: serde_norway::Error| TrainError::Spec(e.to_string());
        let task: TaskOnly = serde_norway::from_str(text).map_err(yaml_err)?;
        let mut spec = match task.task.as_deref() {
            Some("text_classification") => {
                Spec::TextClassification(serde_norway::from_str(text).map_err(yaml_err)?)
            }
            Some("tabular_classification") => {
                Spec::TabularClassification(serde_norway::from_str(text).map_err(yaml_err)?)
            }
            Some(other) => {
                return Err(TrainError::Spec(format!(
                    "task: unknown task `{other}`, expected `text_classification` or `tabular_classification`"
                )))
            }
            None => {
                return Err(TrainError::Spec(
                    "missing `task` (text_classification or tabular_classification)".into(),
                ))
            }
        };
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        match &mut spec {
            Spec::TextClassification(s) => {
                resolve(&mut s.data.train);
                resolve(&mut s.data.test);
                if let Some(d) = s.data.dev.as_mut() {
                    resolve(d);
                }
                if let Some(e) = s.model.encoder.as_mut() {
                    resolve(&mut e.path);
                }
            }
            Spec::TabularClassification(s) => {
                if s.data.contract.is_some() && s.data.contracts_dir.is_none() {
                    s.data.contracts_dir = Some(
                        std::env::var_os("CAIRN_CONTRACTS_DIR")
                            .map_or_else(|| PathBuf::from("contracts"), PathBuf::from),
                    );
                }
                for path in [
                    s.data.csv.as_mut(),
                    s.data.parquet.as_mut(),
                    s.data.contracts_dir.as_mut(),
                ]
                .into_iter()
                .flatten()
                {
                    resolve(path);
                }
                let d = &s.data;
                let given = [
                    d.builtin.is_some(),
                    d.csv.is_some(),
                    d.parquet.is_some(),
                    d.contract.is_some(),
                ];
                if given.iter().filter(|g| **g).count() != 1 {
                    return Err(TrainError::Spec(
                        "data: give exactly one of `builtin`, `csv`, `parquet` and `contract`"
                            .into(),
                    ));
                }
                if d.require_checks && d.contract.is_none() {
                    return Err(TrainError::Spec(
                        "data.require_checks: only a `contract` has checks to require".into(),
                    ));
                }
                if let Some(b) = d
                    .builtin
                    .as_deref()
                    .filter(|b| *b != "wine_is_high_quality")
                {
                    return Err(TrainError::Spec(format!(
                        "data.builtin: unknown data set `{b}`, expected `wine_is_high_quality`"
                    )));
                }
            }
        }
        spec.check_search()?;
        Ok(spec)
    }

    pub fn search(&self) -> Option<&SearchSpec> {
        match self {
            Spec::TextClassification(s) => s.search.as_ref(),
            Spec::TabularClassification(s) => s.search.as_ref(),
        }
    }

    /// The `model` section as JSON, the form search overrides apply to.
    pub fn model_json(&self) -> serde_json::Value {
        match self {
            Spec::TextClassification(s) => serde_json::to_value(&s.model),
            Spec::TabularClassification(s) => serde_json::to_value(&s.model),
        }
        .unwrap_or_default()
    }

    /// Every searched key must name a setting of `model`: checked by applying each
    /// range's low end and each first choice, and reading the model section back.
    fn check_search(&self) -> Result<()> {
        let Some(search) = self.search() else {
            return Ok(());
        };
        if search.trials == 0 {
            return Err(TrainError::Spec("search.trials: must be at least 1".into()));
        }
        let mut values = BTreeMap::new();
        for (key, param) in &search.space {
            // The encoder is loaded (and fine-tuned) once, its embeddings shared by
            // every trial; only how much they weigh can change per trial.
            if key.starts_with("encoder.") && key != "encoder.weight" {
                return Err(TrainError::Spec(format!(
                    "search.space.{key}: the encoder is loaded and fine-tuned once per job; \
                     of its settings only `encoder.weight` can be searched"
                )));
            }
            let v = match param {
                Param::Range {
                    low,
                    high,
                    log,
                    int,
                } => {
                    if low > high || low.is_nan() || high.is_nan() || (*log && *low <= 0.0) {
                        return Err(TrainError::Spec(format!(
                            "search.space.{key}: needs low <= high{}",
                            if *log { " and low > 0 for log" } else { "" }
                        )));
                    }
                    if *int {
                        serde_json::json!(low.floor() as i64)
                    } else {
                        serde_json::json!(low)
                    }
                }
                Param::Choice { choices } => choices.first().cloned().ok_or_else(|| {
                    TrainError::Spec(format!("search.space.{key}: choices is empty"))
                })?,
            };
            values.insert(key.clone(), v);
        }
        self.with_overrides(&values)
            .map(drop)
            .map_err(|e| TrainError::Spec(format!("search.space: {e}")))
    }

    /// The model section with `overrides` (dotted paths) applied, read back as the
    /// typed config. Integers stay integers where the config wants them.
    pub fn with_overrides(
        &self,
        overrides: &BTreeMap<String, serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let mut model = self.model_json();
        for (key, value) in overrides {
            set_path(&mut model, key, value.clone())?;
        }
        let check = match self {
            Spec::TextClassification(_) => {
                serde_json::from_value::<TextModelConfig>(model.clone()).map(drop)
            }
            Spec::TabularClassification(_) => {
                serde_json::from_value::<TabularModelConfig>(model.clone()).map(drop)
            }
        };
        check.map_err(|e| TrainError::Spec(format!("model with {overrides:?}: {e}")))?;
        Ok(model)
    }
}

fn set_path(root: &mut serde_json::Value, key: &str, value: serde_json::Value) -> Result<()> {
    let mut at = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = at.as_object_mut().ok_or_else(|| {
            TrainError::Spec(format!(
                "`{key}`: `{}` is not a section",
                parts[..i].join(".")
            ))
        })?;
        if i + 1 == parts.len() {
            if !obj.contains_key(*part) {
                return Err(TrainError::Spec(format!(
                    "`{key}` is not a model setting (`{}` has {:?})",
                    if i == 0 {
                        "model".to_string()
                    } else {
                        parts[..i].join(".")
                    },
                    obj.keys().collect::<Vec<_>>()
                )));
            }
            obj.insert(part.to_string(), value);
            return Ok(());
        }
        at = obj.get_mut(*part).ok_or_else(|| {
            TrainError::Spec(format!("`{key}`: no section `{part}` in the model"))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec> {
        Spec::parse(text, Path::new("/specs"))
    }

    /// The commented specs users start from must stay valid as the spec grows.
    #[test]
    fn every_example_spec_parses() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut read = 0;
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                Spec::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                read += 1;
            }
        }
        assert!(read >= 4, "examples in {}", folder.display());
    }

    #[test]
    fn a_text_spec_reads_with_paths_from_its_folder() {
        let spec = parse(
            "task: text_classification\nexperiment: e\ndata:\n  train: a/train.tsv\n  test: /abs/test.tsv\n  has_header: false\n  text_column: 1\n  label_column: 0\nmodel:\n  encoder: {path: enc}\n  linear: {epochs: 3}\nood: {}\n",
        )
        .unwrap();
        let Spec::TextClassification(s) = spec else {
            panic!("text")
        };
        assert_eq!(s.data.train, Path::new("/specs/a/train.tsv"));
        assert_eq!(s.data.test, Path::new("/abs/test.tsv"));
        assert_eq!(s.data.text_column, Column::Index(1));
        assert_eq!(s.model.linear.epochs, 3);
        assert_eq!(s.model.encoder.unwrap().path, Path::new("/specs/enc"));
        let ood = s.ood.unwrap();
        assert_eq!((ood.label.as_str(), ood.keep_in_scope), ("oos", 0.97));
    }

    #[test]
    fn unknown_keys_tasks_and_search_paths_are_named() {
        let err = parse("task: text_classification\nexperiment: e\ndata: {train: a, test: b}\nmodel:\n  linear:\n    epoch: 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `epoch`") && err.contains("line 6"),
            "{err}"
        );
        let err = parse("task: regression\nexperiment: e\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown task `regression`"), "{err}");
        let err = parse("experiment: e\n").unwrap_err().to_string();
        assert!(err.contains("missing `task`"), "{err}");
        let err = parse(
            "task: tabular_classification\nexperiment: e\ndata: {builtin: wine_is_high_quality}\nsearch:\n  trials: 3\n  space:\n    linear.l2: {low: 0.1, high: 1.0}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`linear.l2`"), "{err}");
        let err = parse(
            "task: tabular_classification\nexperiment: e\ndata: {builtin: wine_is_high_quality}\nsearch:\n  trials: 3\n  space:\n    alpha: {low: 0.0, high: 1.0, log: true}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("low > 0 for log"), "{err}");
        let err = parse("task: tabular_classification\nexperiment: e\ndata: {builtin: iris}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown data set `iris`"), "{err}");
    }

    #[test]
    fn overrides_land_in_the_typed_model() {
        let spec = parse(
            "task: text_classification\nexperiment: e\ndata: {train: a, test: b}\nsearch:\n  trials: 2\n  space:\n    linear.batch_size: {choices: [16, 64]}\n    tfidf.min_df: {low: 1, high: 3, int: true}\n",
        )
        .unwrap();
        let mut o = BTreeMap::new();
        o.insert("linear.batch_size".to_string(), serde_json::json!(64));
        o.insert("tfidf.min_df".to_string(), serde_json::json!(3));
        let m: TextModelConfig = serde_json::from_value(spec.with_overrides(&o).unwrap()).unwrap();
        assert_eq!((m.linear.batch_size, m.tfidf.min_df), (64, 3));
    }
}
