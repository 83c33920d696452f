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
