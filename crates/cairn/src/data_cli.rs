//! `cairn data`: data contracts' quality checks from the command line (and from a
//! job's `data_check` step).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cairn_data::{CheckOptions, ContractFolder, Item};
use clap::Subcommand;

use crate::monitor_cli::Format;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Check a view's constraints, or those of every view a model contract reads, and
    /// print the report with each field's profile; exits 0 when every constraint
    /// holds, 1 on violations, 2 on bad input (an unknown name, a broken contract
    /// file, a source that cannot be read).
    Check(CheckArgs),
    /// List the folder's views and contracts, and the files it refuses.
    List(FolderArgs),
}

#[derive(clap::Args)]
pub struct FolderArgs {
    /// The contracts folder (`*.yaml`, one view or contract per file).
    #[arg(long, default_value = "./contracts", env = "CAIRN_CONTRACTS_DIR")]
    contracts_dir: PathBuf,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The view or contract to check.
    name: String,
    #[command(flatten)]
    folder: FolderArgs,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Memory the check may hold, in MiB, before it spills to disk.
    #[arg(long, default_value_t = 512)]
    memory_limit_mib: usize,
    /// Only the constraints: no distinct counts, quantiles, histograms or top values.
    #[arg(long)]
    no_profile: bool,
    /// A cairn server to keep the result on (its data-quality history); without it
    /// the report is only printed, except in a job's step, whose server keeps it.
    #[arg(long, env = "CAIRN_DATA_TRACKING_URI")]
    tracking_uri: Option<String>,
}

fn open(args: &FolderArgs) -> anyhow::Result<Arc<ContractFolder>> {
    anyhow::ensure!(
        args.contracts_dir.is_dir(),
        "the contracts folder {} does not exist",
        args.contracts_dir.display()
    );
    ContractFolder::open(&args.contracts_dir, Arc::new(()))
        .with_context(|| format!("cannot read {}", args.contracts_dir.display()))
}

pub async fn run(command: DataCommand) -> ExitCode {
    let result = match command {
        DataCommand::Check(args) => check(&args).await,
        DataCommand::List(args) => list(&args).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the check; true when it passed.
async fn check(args: &CheckArgs) -> anyhow::Result<bool> {
    let folder = open(&args.folder)?;
    let state = folder.state();
    if let Some(file) = state.get(&args.name) {
        // A broken edit of the file itself is bad input: its last good version
        // would be checked silently otherwise.
        if let Some(e) = state.errors.get(&file.file) {
            anyhow::bail!("{e}");
        }
    } else if let Some(e) = state.errors.values().next() {
        anyhow::bail!(
            "no view or contract is named `{}`; a contract file is refused: {e}",
            args.name
        );
    }
    let options = CheckOptions {
        memory_limit: args.memory_limit_mib.max(16) * 1024 * 1024,
        profile: !args.no_profile,
        ..CheckOptions::default()
    };
    let report = cairn_data::check(&state, &args.name, &options).await?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print!("{}", report.to_text()),
    }
    let keep_on = args.tracking_uri.clone().or_else(|| {
        std::env::var("CAIRN_JOB_RUN_ID")
            .ok()
            .and(std::env::var("MLFLOW_TRACKING_URI").ok())
    });
    if let Some(uri) = &keep_on {
        let kept = cairn_client::Client::new(uri)
            .create_data_check(
                serde_json::to_value(&report)?,
                std::env::var("CAIRN_JOB_RUN_ID").ok(),
            )
            .await
            .with_context(|| format!("cannot keep the result on {uri}"))?;
        eprintln!("kept as data check {} on {uri}", kept.id);
    }
    crate::monitor_cli::step_outputs(&[
        ("passed", report.passed.to_string()),
        ("violations", report.violations.to_string()),
    ])?;
    Ok(report.passed)
}

fn list(args: &FolderArgs) -> anyhow::Result<()> {
    let folder = open(args)?;
    let state = folder.state();
    for (name, file) in &state.items {
        match &file.item {
            Item::View(v) => println!(
                "view      {name}  ({} fields, source {})  {}",
                v.fields.len(),
                v.source,
                file.file.display()
            ),
            Item::Contract(c) => println!(
                "contract  {name}  (model {}, {} feature refs)  {}",
                c.model.as_deref().unwrap_or("-"),
                c.features.len(),
                file.file.display()
            ),
        }
    }
    for (file, e) in &state.errors {
        println!("refused   {}: {e}", file.display());
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct PredictArgs {
    /// The model contract: its features are read and sent to its model.
    contract: String,
    #[command(flatten)]
    folder: FolderArgs,
    /// A file laid out as the contract's first feature view, predicted instead of
    /// that view's own source (the other views still give their latest values).
    #[arg(long)]
    source: Option<PathBuf>,
    /// The model to ask, `models:/name@alias`; the contract's `exposed_at` by default.
    #[arg(long)]
    model: Option<cairn_serving::ModelRef>,
    /// The tracking server holding the model and the prediction log the predictions
    /// are written to.
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "http://127.0.0.1:5000"
    )]
    tracking_uri: String,
    /// Rows per batch sent to the model and written to the log.
    #[arg(long, default_value_t = 1000)]
    batch_rows: usize,
}

/// `cairn predict`: every row of the contract's data through the model its alias
/// points at, each prediction written to the prediction log with the model version
/// and the row's entity id (so ground truth joins it later).
pub async fn predict(args: PredictArgs) -> anyhow::Result<()> {
    use datafusion::arrow::json::{writer::JsonArray, WriterBuilder};
    use futures::StreamExt;

    let folder = open(&args.folder)?;
    let state = folder.state();
    let Some(Item::Contract(c)) = state.get(&args.contract).map(|f| &f.item) else {
        anyhow::bail!(
            "no model contract is named `{}` in {}",
            args.contract,
            args.folder.contracts_dir.display()
        );
    };
    let model = match (&args.model, &c.exposed_at) {
        (Some(m), _) => m.clone(),
        (None, Some(uri)) => uri
            .parse()
            .map_err(|e: String| anyhow::anyhow!("contract `{}`: exposed_at: {e}", c.name))?,
        (None, None) => anyhow::bail!(
            "contract `{}` names no `exposed_at`; give --model models:/NAME@ALIAS",
            c.name
        ),
    };
    let client = cairn_client::Client::new(&args.tracking_uri);
    let cache = tempfile::tempdir().context("cannot make a scratch folder")?;
    let scorer = cairn_serving::BatchScorer::load(&client, &model, cache.path())
        .await
        .with_context(|| format!("cannot load {model}"))?;
    let (df, _) = cairn_data::training::inference_frame(&state, c, args.source.as_deref()).await?;
    // A contract whose predictions go to a file gets them there, as JSON Lines.
    let mut out = match &c.predictions_file {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => None,
    };
    let mut stream = df
        .execute_stream()
        .await
        .context("cannot read the contract's data")?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let (mut rows, mut batches) = (0usize, 0usize);
    let mut pending: Vec<datafusion::arrow::array::RecordBatch> = Vec::new();
    let mut pending_rows = 0usize;
    let batch_rows = args
        .batch_rows
        .clamp(1, cairn_core::predictions::MAX_LOG_BATCH);
    loop {
        let next = stream
            .next()
            .await
            .transpose()
            .context("cannot read the contract's data")?;
        if let Some(b) = &next {
            pending_rows += b.num_rows();
            pending.push(b.clone());
        }
        if pending_rows < batch_rows && next.is_some() {
            continue;
        }
        if pending_rows > 0 {
            // MLflow's dataframe_records, nulls written out: the entity column is
            // taken out by the scorer and never reaches the model.
            let mut w = WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(Vec::new());
            w.write_batches(&pending.iter().collect::<Vec<_>>())?;
            w.finish()?;
            let records: serde_json::Value = serde_json::from_slice(&w.into_inner())?;
            let body = serde_json::to_vec(&serde_json::json!({ "dataframe_records": records }))?;
            let logged = scorer
                .score(&body, Some("__entity"), &format!("{run_id}-{batches}"))
                .with_context(|| format!("{model} refused batch {batches}"))?;
            rows += logged.len();
            match out.as_mut() {
                Some(out) => write_predictions(out, c, &logged)?,
                None => client
                    .log_predictions(&logged)
                    .await
                    .context("cannot write the prediction log")?,
            }
            batches += 1;
            pending.clear();
            pending_rows = 0;
        }
        if next.is_none() {
            break;
        }
    }
    if let Some(mut out) = out {
        use std::io::Write;
        out.flush().context("cannot write the predictions file")?;
    }
    let to = match &c.predictions_file {
        Some(path) => path.display().to_string(),
        None => "the prediction log".to_string(),
    };
    println!(
        "{rows} rows predicted by {model} (version {}), written to {to}",
        scorer.version()
    );
    crate::monitor_cli::step_outputs(&[
        ("rows", rows.to_string()),
        ("version", scorer.version().to_string()),
    ])?;
    Ok(())
}

/// One JSON object per prediction: the entity, the model version (as the contract's
/// `model_version_field` names it), the timestamp and the contract's prediction
/// fields (all of the model's outputs when it names none).
fn write_predictions(
    out: &mut impl std::io::Write,
    c: &cairn_data::ModelContract,
    records: &[cairn_core::predictions::PredictionRecord],
) -> anyhow::Result<()> {
    let version_field = c.model_version_field.as_deref().unwrap_or("model_version");
    for r in records {
        let mut row = serde_json::Map::new();
        row.insert("entity_id".into(), r.entity_id.clone().into());
        row.insert(version_field.into(), r.model_version.into());
        row.insert("timestamp_ms".into(), r.timestamp_ms.into());
        match &r.outputs {
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    if c.predictions.is_empty() || c.predictions.contains(k) {
                        row.insert(k.clone(), v.clone());
                    }
                }
            }
            other => {
                let name = c.predictions.first().map_or("prediction", String::as_str);
                row.insert(name.into(), other.clone());
            }
        }
        serde_json::to_writer(&mut *out, &row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
