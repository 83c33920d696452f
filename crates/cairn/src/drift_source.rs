//! Where each side of `cairn drift check` comes from: a file, the training set a run
//! logged (that of a model version's run, for a model URI), or a window of a
//! model's prediction log.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use cairn_client::Client;
use cairn_monitor::table::{self, Table};

/// The column a prediction-log table gives the logged prediction, so two windows
/// of the log compare predictions as well as inputs (prediction drift).
pub const PREDICTION_COLUMN: &str = "prediction";

/// The column a prediction-log table gives each row's ground truth, where its
/// entity has one (label drift), unless `--column-mapping target=NAME` names it.
pub const TARGET_COLUMN: &str = "target";

/// Output keys that hold the prediction, in order of preference.
const PREDICTION_KEYS: &[&str] = &["label", "prediction", "predictions", "output_label", "y"];

/// One side of a drift check.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// A CSV (with a header row) or Parquet file.
    File(PathBuf),
    /// `runs:/<run_id>`: the dataset the run logged as its training input.
    Run(String),
    /// `models:/<name>/<version>` or `models:/<name>@<alias>`: the training set of
    /// the run that made the version.
    Model { name: String, version: VersionRef },
    /// `predictions:<name>[@<alias>|/<version>][?since=<ago>&until=<ago>]`: what a
    /// served model was asked, and what it answered, in a window (the last day if
    /// no window is given). A shadow's rows are left out: they repeat the inputs.
    Log {
        model: String,
        alias: Option<String>,
        version: Option<i64>,
        since: Duration,
        until: Duration,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum VersionRef {
    Number(String),
    Alias(String),
}

impl FromStr for DataSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(id) = s.strip_prefix("runs:/") {
            let id = id.trim_end_matches('/');
            if id.is_empty() || id.contains('/') {
                return Err(format!("'{s}': expected runs:/<run_id>"));
            }
            return Ok(DataSource::Run(id.to_string()));
        }
        if let Some(rest) = s.strip_prefix("models:/") {
            let (name, version) = match (rest.rsplit_once('@'), rest.rsplit_once('/')) {
                (Some((name, alias)), _) => (name, VersionRef::Alias(alias.to_string())),
                (None, Some((name, v))) if v.parse::<i64>().is_ok() => {
                    (name, VersionRef::Number(v.to_string()))
                }
                _ => ("", VersionRef::Number(String::new())),
            };
            if name.is_empty() || matches!(&version, VersionRef::Alias(a) if a.is_empty()) {
                return Err(format!(
                    "'{s}': expected models:/<name>/<version> or models:/<name>@<alias>"
                ));
            }
            return Ok(DataSource::Model {
                name: name.to_string(),
                version,
            });
        }
        if let Some(rest) = s.strip_prefix("predictions:") {
            let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (mut model, mut alias, mut version) = (target.to_string(), None, None);
            if let Some((m, a)) = target.rsplit_once('@') {
                (model, alias) = (m.to_string(), Some(a.to_string()));
            } else if let Some((m, v)) = target.rsplit_once('/') {
                let v = v
                    .parse::<i64>()
                    .map_err(|_| format!("'{s}': '{v}' is not a version number"))?;
                (model, version) = (m.to_string(), Some(v));
            }
            if model.is_empty() || alias.as_deref() == Some("") {
                return Err(format!(
                    "'{s}': expected predictions:<name>[@<alias>|/<version>][?since=1d&until=0s]"
                ));
            }
            let (mut since, mut until) = (Duration::from_secs(86_400), Duration::ZERO);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("'{s}': '{pair}' is not key=value"))?;
                let d = humantime::parse_duration(v)
                    .map_err(|e| format!("'{s}': {k}={v} is not a duration ({e})"))?;
                match k {
                    "since" => since = d,
                    "until" => until = d,
                    _ => return Err(format!("'{s}': '{k}' is not since or until")),
                }
            }
            if until >= since {
                return Err(format!(
                    "'{s}': the window ends ({until:?} ago) before it starts ({since:?} ago)"
                ));
            }
            return Ok(DataSource::Log {
                model,
                alias,
                version,
                since,
                until,
            });
        }
        if s.is_empty() {
            return Err("a file, runs:/, models:/ or predictions: source is needed".into());
        }
        Ok(DataSource::File(PathBuf::from(s)))
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::File(p) => write!(f, "{}", p.display()),
            DataSource::Run(id) => write!(f, "runs:/{id}"),
            DataSource::Model {
                name,
                version: VersionRef::Number(v),
            } => write!(f, "models:/{name}/{v}"),
            DataSource::Model {
                name,
                version: VersionRef::Alias(a),
            } => write!(f, "models:/{name}@{a}"),
            DataSource::Log {
                model,
                alias,
                version,
                since,
                until,
            } => {
                write!(f, "predictions:{model}")?;
                if let Some(a) = alias {
                    write!(f, "@{a}")?;
                }
                if let Some(v) = version {
                    write!(f, "/{v}")?;
                }
                write!(
                    f,
                    "?since={}&until={}",
                    humantime::format_duration(*since),
                    humantime::format_duration(*until)
                )
            }
        }
    }
}

impl DataSource {
    /// Whether the table carries the log's [`PREDICTION_COLUMN`].
    pub fn is_log(&self) -> bool {
        matches!(self, DataSource::Log { .. })
    }

    /// Reads the source into a table (through the tracking server where it is not a
    /// file); a window of the log names its ground truth column `target`.
    pub async fn load(&self, server: &str, target: &str) -> anyhow::Result<Table> {
        match self {
            DataSource::File(path) => Ok(table::read(path).await?),
            DataSource::Run(run_id) => training_set(&Client::new(server), run_id).await,
            DataSource::Model { name, version } => {
                let client = Client::new(server);
                let mv = match version {
                    VersionRef::Number(v) => client.get_model_version(name, v).await,
                    VersionRef::Alias(a) => client.get_model_version_by_alias(name, a).await,
                }
                .with_context(|| format!("{self}"))?;
                let run_id = mv.run_id.filter(|r| !r.is_empty()).with_context(|| {
                    format!(
                        "{self}: version {} was registered without a run",
                        mv.version
                    )
                })?;
                training_set(&client, &run_id)
                    .await
                    .with_context(|| format!("{self}"))
            }
            DataSource::Log {
                model,
                alias,
                version,
                since,
                until,
            } => {
                let now = now_ms();
                let window = (
                    now - since.as_millis() as i64,
                    now - until.as_millis() as i64,
                );
                let client = Client::new(server);
                let t = log_window(&client, model, alias, *version, window, target).await?;
                if t.rows() == 0 {
                    anyhow::bail!("{self}: no prediction was logged in that window");
                }
                Ok(t)
            }
        }
    }
}

/// The training set a run logged: its dataset input of context `training` (or its
/// only one), read from the artifact proxy or the local file it names.
async fn training_set(client: &Client, run_id: &str) -> anyhow::Result<Table> {
    let run = client
        .get_run(run_id)
        .await
        .with_context(|| format!("run {run_id}"))?;
    let inputs = run.inputs.dataset_inputs;
    let training = inputs
        .iter()
        .find(|i| {
            i.tags
                .iter()
                .any(|t| t.key == "mlflow.data.context" && t.value == "training")
        })
        .or(match inputs.as_slice() {
            [only] => Some(only),
            _ => None,
        })
        .with_context(|| {
            format!(
                "run {run_id} logged no training dataset (it has {} dataset inputs, none \
                 tagged mlflow.data.context=training)",
                inputs.len()
            )
        })?;
    let d = &training.dataset;
    let uri = serde_json::from_str::<serde_json::Value>(&d.source)
        .ok()
        .and_then(|s| s["uri"].as_str().map(str::to_string))
        .with_context(|| format!("run {run_id}: dataset '{}' names no source URI", d.name))?;
    match d.source_type.as_str() {
        "mlflow-artifacts" => {
            let path = uri
                .strip_prefix("mlflow-artifacts:")
                .map(|p| p.trim_start_matches('/'))
                .with_context(|| format!("run {run_id}: '{uri}' is not an mlflow-artifacts URI"))?;
            let bytes = client
                .download_artifact(path)
                .await
                .with_context(|| format!("run {run_id}: downloading {uri}"))?;
            let name = path.rsplit('/').next().unwrap_or("train.csv");
            let dir = tempfile::tempdir()?;
            let file = dir.path().join(name);
            std::fs::write(&file, bytes)?;
            Ok(table::read(&file).await?)
        }
        "local" => {
            let path = uri.strip_prefix("file://").unwrap_or(&uri);
            Ok(table::read(std::path::Path::new(path)).await?)
        }
        other => anyhow::bail!(
            "run {run_id}: dataset '{}' is of source type '{other}': drift reads \
             mlflow-artifacts and local datasets",
            d.name
        ),
    }
}

/// Every answered prediction in `[since_ms, until_ms)` as a table: the inputs'
/// columns (a tensor row's positions as `0`, `1`, ...), the prediction, and the
/// entity's ground truth as column `target` where it has one.
async fn log_window(
    client: &Client,
    model: &str,
    alias: &Option<String>,
    version: Option<i64>,
    (since_ms, until_ms): (i64, i64),
    target: &str,
) -> anyhow::Result<Table> {
    let mut query = vec![
        ("shadow", "false".to_string()),
        ("since_ms", since_ms.to_string()),
        ("until_ms", until_ms.to_string()),
        ("max_results", "10000".to_string()),
    ];
    if let Some(a) = alias {
        query.push(("alias", a.clone()));
    }
    if let Some(v) = version {
        query.push(("model_version", v.to_string()));
    }
    let mut rows: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = query.clone();
        if let Some(t) = &token {
            q.push(("page_token", t.clone()));
        }
        let page = client
            .search_predictions(model, &q)
            .await
            .with_context(|| format!("the prediction log of '{model}'"))?;
        for r in page.items {
            let mut row = match r.inputs {
                serde_json::Value::Object(m) => m,
                serde_json::Value::Array(a) => a
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v))
                    .collect(),
                other => [("input".to_string(), other)].into_iter().collect(),
            };
            if let Some(p) = prediction(&r.outputs) {
                row.insert(PREDICTION_COLUMN.into(), p);
            }
            if let Some(t) = r.ground_truth {
                let truth = match (t.label, t.value) {
                    (Some(label), _) => label_value(label),
                    (None, Some(v)) => serde_json::json!(v),
                    (None, None) => serde_json::Value::Null,
                };
                row.insert(target.to_string(), truth);
            }
            rows.push(row);
        }
        match page.next_page_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(table::from_records(rows.iter()))
}

/// Milliseconds since the epoch, as the log's timestamps are written.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A label as a CSV reader would type it, so a training set's label column and the
/// log's ground truth get the same type: a number, `true`/`false`, or text.
fn label_value(label: String) -> serde_json::Value {
    if let Ok(i) = label.parse::<i64>() {
        return i.into();
    }
    if let Some(f) = label
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        return serde_json::Value::Number(f);
    }
    match label.as_str() {
        "true" | "True" => true.into(),
        "false" | "False" => false.into(),
        _ => label.into(),
    }
}

/// The prediction among a row's outputs: the first of [`PREDICTION_KEYS`], or the
/// only output when it is a single value.
fn prediction(outputs: &serde_json::Value) -> Option<serde_json::Value> {
    let m = outputs.as_object()?;
    PREDICTION_KEYS
        .iter()
        .find_map(|k| m.get(*k))
        .or_else(|| match m.values().collect::<Vec<_>>().as_slice() {
            [only] if !only.is_object() && !only.is_array() => Some(*only),
            _ => None,
        })
        .filter(|v| !v.is_object() && !v.is_array())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_print_back() {
        let day = Duration::from_secs(86_400);
        for (text, want) in [
            ("data/ref.csv", DataSource::File("data/ref.csv".into())),
            ("runs:/abc123", DataSource::Run("abc123".into())),
            (
                "models:/wine@champion",
                DataSource::Model {
                    name: "wine".into(),
                    version: VersionRef::Alias("champion".into()),
                },
            ),
            (
                "models:/wine/3",
                DataSource::Model {
                    name: "wine".into(),
                    version: VersionRef::Number("3".into()),
                },
            ),
            (
                "predictions:wine@champion?since=2d&until=1d",
                DataSource::Log {
                    model: "wine".into(),
                    alias: Some("champion".into()),
                    version: None,
                    since: 2 * day,
                    until: day,
                },
            ),
            (
                "predictions:wine/2",
                DataSource::Log {
                    model: "wine".into(),
                    alias: None,
                    version: Some(2),
                    since: day,
                    until: Duration::ZERO,
                },
            ),
        ] {
            let got: DataSource = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string().parse::<DataSource>().unwrap(), want);
        }
        for bad in [
            "runs:/",
            "models:/wine",
            "models:/wine@",
            "predictions:wine/x",
            "predictions:wine?since=1d&until=2d",
            "predictions:wine?from=1d",
            "predictions:wine?since=soon",
            "",
        ] {
            assert!(bad.parse::<DataSource>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_prediction_is_the_preferred_or_only_scalar_output() {
        use serde_json::json;
        assert_eq!(
            prediction(&json!({"label": 1, "probabilities": [0.1, 0.9]})),
            Some(json!(1))
        );
        assert_eq!(prediction(&json!({"y": [3.5]})), None);
        assert_eq!(prediction(&json!({"score": 0.3})), Some(json!(0.3)));
        assert_eq!(prediction(&json!({"a": 1, "b": 2})), None);
    }
}
