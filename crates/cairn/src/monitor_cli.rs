//! `cairn drift check`, `cairn ground-truth import` and `cairn eval online`: data
//! drift between two files (Evidently's defaults, exit codes for CI), ground truth
//! from a file into the server, and each model version's online metrics.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cairn_api_types::monitor::{CreateReportRequest, OnlineEvaluationRequest};
use cairn_client::Client;
use cairn_core::monitor::{
    float_label, GroundTruth, LabelText, OnlineEvaluation, MAX_GROUND_TRUTH_BATCH,
};
use cairn_monitor::drift::{self, Options};

use crate::drift_source::{DataSource, PREDICTION_COLUMN, TARGET_COLUMN};
use cairn_monitor::table::{self, Table, Values};
use clap::{Subcommand, ValueEnum};

#[derive(clap::Args)]
pub struct Server {
    /// The tracking server.
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "http://127.0.0.1:5000"
    )]
    tracking_uri: String,
}

#[derive(Subcommand)]
pub enum DriftCommand {
    /// Compares a current data set with a reference one, column by column, with
    /// Evidently 0.7's defaults (its test per column type and size, thresholds and
    /// dataset rule). Exits 0 without dataset drift, 1 with it, 2 on bad input.
    Check(DriftCheckArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Text,
}

#[derive(clap::Args)]
pub struct DriftCheckArgs {
    /// The reference data: a CSV (with a header row) or Parquet file; the training
    /// set a run logged (`runs:/<run_id>`) or that of a model version's run
    /// (`models:/<name>@<alias>`, `models:/<name>/<version>`); or a window of a
    /// model's prediction log (`predictions:<name>[@<alias>|/<version>][?since=2d&until=1d]`,
    /// the last day by default), whose inputs and prediction are compared.
    #[arg(long)]
    reference: DataSource,
    /// The current data, in the reference's columns (any of the same kinds of source).
    #[arg(long)]
    current: DataSource,
    /// Which columns are numerical and which categorical, as
    /// `numerical=a,b;categorical=c,d` (either part alone); the others are typed
    /// from the data. `target=NAME` names the label column: a window of the
    /// prediction log gives its rows' ground truth that name (`target` otherwise),
    /// so it is compared with the reference's labels (label drift).
    #[arg(long)]
    column_mapping: Option<String>,
    /// One test for every column, by Evidently's id: ks, wasserstein, jensenshannon,
    /// psi, kl_div, chisquare, z.
    #[arg(long)]
    stattest: Option<String>,
    /// One threshold for every column (the test's default otherwise).
    #[arg(long)]
    threshold: Option<f64>,
    /// The share of drifting columns from which the dataset drifts.
    #[arg(long, default_value_t = 0.5)]
    drift_share: f64,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also writes an HTML report (a row and a histogram overlay per column).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Keeps the result on the tracking server as this model's drift report (its
    /// Evaluation page and gauges read it).
    #[arg(long)]
    model: Option<String>,
    /// The model version the check is about.
    #[arg(long, requires = "model")]
    version: Option<i64>,
    /// Sends the verdict here (a JSON POST) when the dataset drifts.
    #[arg(long)]
    alert_webhook: Option<String>,
    #[command(flatten)]
    server: Server,
}

/// Runs a drift check; its exit code is the verdict (0, 1) or 2 for bad input.
pub async fn drift(command: DriftCommand) -> ExitCode {
    let DriftCommand::Check(args) = command;
    match drift_check(&args).await {
        Ok(true) => ExitCode::from(1),
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Sets the options' numerical and categorical columns from `--column-mapping`;
/// returns the target column it names, if any.
fn mapping(text: Option<&str>, options: &mut Options) -> anyhow::Result<Option<String>> {
    let mut target = None;
    for part in text
        .unwrap_or("")
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (kind, cols) = part
            .split_once('=')
            .with_context(|| format!("--column-mapping: '{part}' is not kind=a,b"))?;
        let cols: Vec<String> = cols
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        match kind.trim() {
            "numerical" => options.numerical = Some(cols),
            "categorical" => options.categorical = Some(cols),
            "target" => match cols.as_slice() {
                [one] => target = Some(one.clone()),
                _ => anyhow::bail!("--column-mapping: target names one column"),
            },
            other => {
                anyhow::bail!("--column-mapping: '{other}' is not numerical, categorical or target")
            }
        }
    }
    Ok(target)
}

/// Whether the dataset drifts.
async fn drift_check(args: &DriftCheckArgs) -> anyhow::Result<bool> {
    let mut options = Options {
        stattest: args.stattest.clone(),
        threshold: args.threshold,
        numerical: None,
        categorical: None,
        drift_share: args.drift_share,
    };
    let target = mapping(args.column_mapping.as_deref(), &mut options)?
        .unwrap_or_else(|| TARGET_COLUMN.to_string());
    let server = &args.server.tracking_uri;
    let (reference, mut current) = tokio::try_join!(
        args.reference.load(server, &target),
        args.current.load(server, &target)
    )?;
    // The log's prediction and ground truth are compared where the reference has
    // them too: another window of the log, or a training set's label column for
    // the ground truth (label drift); a training set has no predictions.
    if args.current.is_log() {
        for column in [PREDICTION_COLUMN, target.as_str()] {
            if reference.column(column).is_none() {
                current.columns.retain(|(n, _)| n != column);
            }
        }
    }
    let report = tokio::task::spawn_blocking(move || drift::check(&reference, &current, &options))
        .await
        .context("the drift check stopped")??;
    match args.format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text => {
            println!(
                "{:<28} {:<12} {:<14} {:>14} {:>10}  drift",
                "column", "type", "test", "score", "threshold"
            );
            for c in &report.columns {
                println!(
                    "{:<28} {:<12} {:<14} {:>14.6e} {:>10}  {}",
                    c.column,
                    format!("{:?}", c.kind).to_lowercase(),
                    c.stattest,
                    c.score,
                    c.threshold,
                    if c.drift { "yes" } else { "no" }
                );
            }
            println!(
                "{} of {} columns drifted (share {:.4}): {}",
                report.drifted_columns,
                report.columns.len(),
                report.share,
                if report.dataset_drift {
                    "dataset drift"
                } else {
                    "no dataset drift"
                }
            );
        }
    }
    for (name, why) in &report.skipped {
        eprintln!("not checked: {name}: {why}");
    }
    if let Some(path) = &args.html {
        let html = cairn_monitor::html::render(
            &report,
            &args.reference.to_string(),
            &args.current.to_string(),
        );
        std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let summary = serde_json::json!({
        "share": report.share,
        "drifted_columns": report.drifted_columns,
        "columns": report.columns.len(),
        "dataset_drift": report.dataset_drift,
        "reference": args.reference.to_string(),
        "current": args.current.to_string(),
    });
    step_outputs(&[
        ("drifted_columns", report.drifted_columns.to_string()),
        ("share", report.share.to_string()),
        ("dataset_drift", report.dataset_drift.to_string()),
    ])?;
    if let Some(model) = &args.model {
        let mut full = report.to_json();
        if let Some(columns) = full["columns"].as_object_mut() {
            // The distributions, for the Evaluation page's drawings.
            for c in &report.columns {
                if let Some(entry) = columns.get_mut(&c.column) {
                    entry["kind"] = serde_json::to_value(c.kind)?;
                    entry["distribution"] = serde_json::to_value(&c.distribution)?;
                }
            }
        }
        Client::new(&args.server.tracking_uri)
            .create_monitor_report(&CreateReportRequest {
                model_name: model.clone(),
                model_version: args.version,
                kind: "drift".into(),
                window_start_ms: None,
                window_end_ms: None,
                job_run_id: std::env::var("CAIRN_JOB_RUN_ID").ok(),
                summary: summary.clone(),
                report: full,
            })
            .await?;
    }
    if report.dataset_drift {
        if let Some(url) = &args.alert_webhook {
            alert(url, "drift", args.model.as_deref(), args.version, &summary).await?;
        }
    }
    Ok(report.dataset_drift)
}

/// Appends `key=value` lines to a job step's outputs file, when run as a step.
pub(crate) fn step_outputs(outputs: &[(&str, String)]) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os("CAIRN_OUTPUTS") else {
        return Ok(());
    };
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .with_context(|| format!("cannot open the step's outputs file {}", path.display()))?;
    for (k, v) in outputs {
        writeln!(f, "{k}={v}")?;
    }
    Ok(())
}

/// Posts an alert: what was checked, about which model, and the figures.
async fn alert(
    url: &str,
    kind: &str,
    model: Option<&str>,
    version: Option<i64>,
    details: &serde_json::Value,
) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "alert": kind,
        "model": model,
        "version": version,
        "job_run_id": std::env::var("CAIRN_JOB_RUN_ID").ok(),
        "details": details,
    });
    let resp = reqwest::Client::new()
        .post(url)
        .json(&body)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .with_context(|| format!("the alert webhook {url} did not answer"))?;
    anyhow::ensure!(
        resp.status().is_success(),
        "the alert webhook {url} answered {}",
        resp.status()
    );
    Ok(())
}

#[derive(Subcommand)]
pub enum GroundTruthCommand {
    /// Sends the true outcomes in a CSV or Parquet file to the server, keyed by the
    /// entity id the predictions were logged with. Every row is checked first: a bad
    /// one is named by its row number and nothing is sent.
    Import(ImportArgs),
}

#[derive(clap::Args)]
pub struct ImportArgs {
    file: PathBuf,
    /// The registered model the outcomes belong to.
    #[arg(long)]
    model: String,
    #[arg(long)]
    entity_column: String,
    /// The true class (classification).
    #[arg(
        long,
        conflicts_with = "value_column",
        required_unless_present = "value_column"
    )]
    label_column: Option<String>,
    /// The true value (regression).
    #[arg(long)]
    value_column: Option<String>,
    /// When each outcome happened, in milliseconds since the epoch (the import's
    /// time if absent).
    #[arg(long)]
    time_column: Option<String>,
    #[command(flatten)]
    server: Server,
}

fn column<'t>(t: &'t Table, name: &str, file: &Path) -> anyhow::Result<&'t Values> {
    t.column(name).with_context(|| {
        format!(
            "{}: no column '{name}' (columns: {})",
            file.display(),
            t.columns
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// A cell as text: what an entity id or a label is.
fn text(v: &Values, i: usize) -> Option<String> {
    match v {
        Values::Float(x) => x[i].is_finite().then(|| float_label(x[i])),
        Values::Int(x) => Some(x[i].to_string()),
        Values::Bool(x) => Some(x[i].to_string()),
        Values::Text(x) => x[i].clone().filter(|s| !s.is_empty()),
        Values::Objects(_) => None,
    }
}

fn number(v: &Values, i: usize) -> Option<f64> {
    match v {
        Values::Float(x) => x[i].is_finite().then_some(x[i]),
        Values::Int(x) => Some(x[i] as f64),
        Values::Text(x) => x[i].as_deref().and_then(|s| s.trim().parse().ok()),
        _ => None,
    }
}

pub async fn ground_truth(command: GroundTruthCommand) -> anyhow::Result<()> {
    let GroundTruthCommand::Import(args) = command;
    let t = table::read(&args.file).await?;
    let entity = column(&t, &args.entity_column, &args.file)?;
    let label = args
        .label_column
        .as_deref()
        .map(|c| column(&t, c, &args.file))
        .transpose()?;
    let value = args
        .value_column
        .as_deref()
        .map(|c| column(&t, c, &args.file))
        .transpose()?;
    let time = args
        .time_column
        .as_deref()
        .map(|c| column(&t, c, &args.file))
        .transpose()?;
    let mut records = Vec::with_capacity(t.rows());
    for i in 0..t.rows() {
        // Row 1 is the first under the header.
        let row = i + 1;
        let entity_id = text(entity, i)
            .with_context(|| format!("row {row}: '{}' is empty", args.entity_column))?;
        let record = GroundTruth {
            model_name: args.model.clone(),
            entity_id,
            label: match label {
                Some(l) => Some(LabelText(text(l, i).with_context(|| {
                    format!(
                        "row {row}: '{}' is empty",
                        args.label_column.as_deref().unwrap_or("")
                    )
                })?)),
                None => None,
            },
            value: match value {
                Some(v) => Some(number(v, i).with_context(|| {
                    format!(
                        "row {row}: '{}' is not a number",
                        args.value_column.as_deref().unwrap_or("")
                    )
                })?),
                None => None,
            },
            event_time_ms: match time {
                Some(c) => Some(number(c, i).map(|t| t as i64).with_context(|| {
                    format!(
                        "row {row}: '{}' is not a time in milliseconds",
                        args.time_column.as_deref().unwrap_or("")
                    )
                })?),
                None => None,
            },
        };
        record
            .validate(i)
            .map_err(|e| anyhow::anyhow!("row {row}: {}", e.message))?;
        records.push(record);
    }
    let client = Client::new(&args.server.tracking_uri);
    for batch in records.chunks(MAX_GROUND_TRUTH_BATCH) {
        client.log_ground_truth(batch).await?;
    }
    println!(
        "{} ground truth records for model '{}' from {}",
        records.len(),
        args.model,
        args.file.display()
    );
    Ok(())
}

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Each model version's metrics over its logged predictions that have ground
    /// truth, with label coverage and delay.
    Online(OnlineArgs),
}

#[derive(clap::Args)]
pub struct OnlineArgs {
    #[arg(long)]
    model: String,
    #[arg(long)]
    version: Option<i64>,
    /// Predictions since: a duration before now (`7d`, `24h`), an RFC 3339 time, or
    /// milliseconds since the epoch.
    #[arg(long, default_value = "7d")]
    since: String,
    /// Predictions until (same forms); now if absent.
    #[arg(long)]
    until: Option<String>,
    /// hour, day, week or all.
    #[arg(long, default_value = "all")]
    window: String,
    #[arg(long)]
    alias: Option<String>,
    #[arg(long)]
    prediction_key: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Keeps each version's result on the server as its evaluation report.
    #[arg(long)]
    store: bool,
    /// A floor for a metric of each version's whole range, as `accuracy=0.9` (any
    /// figure of the result: f1_macro, roc_auc, coverage, r2, ...); repeatable. A
    /// version below one fails the command (and a job step running it).
    #[arg(long = "min", value_name = "METRIC=VALUE")]
    min: Vec<String>,
    /// A ceiling likewise, as `rmse=3.5` or `log_loss=0.4`.
    #[arg(long = "max", value_name = "METRIC=VALUE")]
    max: Vec<String>,
    /// Sends the failed limits here (a JSON POST).
    #[arg(long)]
    alert_webhook: Option<String>,
    #[command(flatten)]
    server: Server,
}

/// A metric of a window by name: the window's own figures, then the classification
/// or regression ones.
fn metric(w: &cairn_core::monitor::WindowMetrics, name: &str) -> Option<f64> {
    let v = serde_json::to_value(w).ok()?;
    v.get(name)
        .or_else(|| v.get("classification").and_then(|c| c.get(name)))
        .or_else(|| v.get("regression").and_then(|r| r.get(name)))
        .and_then(serde_json::Value::as_f64)
}

fn limits(specs: &[String], flag: &str) -> anyhow::Result<Vec<(String, f64)>> {
    specs
        .iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .with_context(|| format!("--{flag} {s}: expected METRIC=VALUE"))?;
            let v: f64 = v
                .parse()
                .with_context(|| format!("--{flag} {s}: '{v}' is not a number"))?;
            Ok((k.trim().to_string(), v))
        })
        .collect()
}

fn time_ms(text: &str, now: i64) -> anyhow::Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(d) = humantime::parse_duration(text) {
        return Ok(now - d.as_millis() as i64);
    }
    let t = humantime::parse_rfc3339_weak(text)
        .with_context(|| format!("'{text}' is not a duration, an RFC 3339 time or milliseconds"))?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64))
}

pub async fn eval(command: EvalCommand) -> anyhow::Result<()> {
    let EvalCommand::Online(args) = command;
    let now = crate::drift_source::now_ms();
    let until = args
        .until
        .as_deref()
        .map(|u| time_ms(u, now))
        .transpose()?
        .unwrap_or(now);
    let request = OnlineEvaluationRequest {
        model_name: Some(args.model.clone()),
        version: args.version.map(|v| v.to_string()),
        since_ms: Some(time_ms(&args.since, now)?.to_string()),
        until_ms: Some(until.to_string()),
        window: Some(args.window.clone()),
        prediction_key: args.prediction_key.clone(),
        probability_key: None,
        alias: args.alias.clone(),
    };
    let (mins, maxs) = (limits(&args.min, "min")?, limits(&args.max, "max")?);
    let client = Client::new(&args.server.tracking_uri);
    let eval = client.evaluate_online(&request).await?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&eval)?),
        Format::Text => print_table(&eval),
    }
    let mut failed = Vec::new();
    for v in &eval.versions {
        for (name, floor) in &mins {
            match metric(&v.total, name) {
                Some(x) if x >= *floor => {}
                got => failed.push(format!(
                    "version {}: {name} {} is below {floor}",
                    v.version,
                    got.map_or("(none)".to_string(), |x| format!("{x:.6}"))
                )),
            }
        }
        for (name, ceiling) in &maxs {
            match metric(&v.total, name) {
                Some(x) if x <= *ceiling => {}
                got => failed.push(format!(
                    "version {}: {name} {} is above {ceiling}",
                    v.version,
                    got.map_or("(none)".to_string(), |x| format!("{x:.6}"))
                )),
            }
        }
        if args.store {
            let total = serde_json::to_value(&v.total)?;
            let mut summary = serde_json::json!({
                "predictions": v.total.predictions,
                "labelled": v.total.labelled,
                "coverage": v.total.coverage,
            });
            for section in ["classification", "regression"] {
                if let Some(m) = total.get(section).and_then(|m| m.as_object()) {
                    for (k, x) in m {
                        if x.is_number() && k != "rows" {
                            summary[k] = x.clone();
                        }
                    }
                }
            }
            client
                .create_monitor_report(&CreateReportRequest {
                    model_name: eval.model_name.clone(),
                    model_version: Some(v.version),
                    kind: "evaluation".into(),
                    window_start_ms: Some(eval.since_ms),
                    window_end_ms: Some(eval.until_ms),
                    job_run_id: std::env::var("CAIRN_JOB_RUN_ID").ok(),
                    summary,
                    report: serde_json::to_value(v)?,
                })
                .await?;
        }
    }
    if let Some(v) = eval.versions.last() {
        let mut outputs = vec![
            ("version", v.version.to_string()),
            ("labelled", v.total.labelled.to_string()),
        ];
        for name in ["accuracy", "f1_macro", "rmse", "r2"] {
            if let Some(x) = metric(&v.total, name) {
                outputs.push((name, x.to_string()));
            }
        }
        step_outputs(&outputs)?;
    }
    if !failed.is_empty() {
        if let Some(url) = &args.alert_webhook {
            alert(
                url,
                "evaluation",
                Some(&args.model),
                args.version,
                &serde_json::json!({ "failed": failed }),
            )
            .await?;
        }
        anyhow::bail!("{}", failed.join("; "));
    }
    Ok(())
}

fn print_table(eval: &OnlineEvaluation) {
    println!(
        "{:>7} {:<24} {:>11} {:>9} {:>8}  metrics",
        "version", "window start (UTC ms)", "predictions", "labelled", "coverage"
    );
    for v in &eval.versions {
        for w in v.windows.iter().chain(std::iter::once(&v.total)) {
            let figures = match (&w.classification, &w.regression) {
                (Some(c), _) => format!(
                    "accuracy {:.4}  f1_macro {:.4}{}",
                    c.accuracy,
                    c.f1_macro,
                    c.roc_auc
                        .map(|a| format!("  roc_auc {a:.4}"))
                        .unwrap_or_default()
                ),
                (None, Some(r)) => format!(
                    "mae {:.4}  rmse {:.4}  r2 {:.4}  mape {:.4}",
                    r.mae, r.rmse, r.r2, r.mape
                ),
                _ => "no labelled predictions".into(),
            };
            let label = if std::ptr::eq(w, &v.total) {
                "total".to_string()
            } else {
                w.start_ms.to_string()
            };
            println!(
                "{:>7} {:<24} {:>11} {:>9} {:>8.4}  {figures}",
                v.version, label, w.predictions, w.labelled, w.coverage
            );
        }
    }
}
