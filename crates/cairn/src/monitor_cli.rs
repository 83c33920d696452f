//! `cairn drift check`, `cairn ground-truth import` and `cairn eval online`: data
//! drift between two files (Evidently's defaults, exit codes for CI), ground truth
//! from a file into the server, and each model version's online metrics.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cairn_api_types::monitor::OnlineEvaluationRequest;
use cairn_client::Client;
use cairn_core::monitor::{
    float_label, GroundTruth, LabelText, OnlineEvaluation, MAX_GROUND_TRUTH_BATCH,
};
use cairn_monitor::drift::{self, Options};
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
    /// The reference data (CSV with a header row, or Parquet), e.g. the training set.
    #[arg(long)]
    reference: PathBuf,
    /// The current data, in the same columns.
    #[arg(long)]
    current: PathBuf,
    /// Which columns are numerical and which categorical, as
    /// `numerical=a,b;categorical=c,d` (either part alone); the others are typed
    /// from the data.
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

/// Sets the options' numerical and categorical columns from `--column-mapping`.
fn mapping(text: Option<&str>, options: &mut Options) -> anyhow::Result<()> {
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
            other => anyhow::bail!("--column-mapping: '{other}' is not numerical or categorical"),
        }
    }
    Ok(())
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
    mapping(args.column_mapping.as_deref(), &mut options)?;
    let (reference, current) =
        tokio::try_join!(table::read(&args.reference), table::read(&args.current))?;
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
            &args.reference.display().to_string(),
            &args.current.display().to_string(),
        );
        std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(report.dataset_drift)
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
    #[command(flatten)]
    server: Server,
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
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
    let eval = Client::new(&args.server.tracking_uri)
        .evaluate_online(&request)
        .await?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&eval)?),
        Format::Text => print_table(&eval),
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
