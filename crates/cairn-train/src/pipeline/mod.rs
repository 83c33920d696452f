//! One training job end to end: read the data, fit (one model, or a search of
//! trials as child runs), evaluate on the test split, save the model directory,
//! then register and gate the version. Everything is logged to the run.
//!
//! This module owns the job's run (started here, ended `FINISHED` or `FAILED`
//! whatever the task returns); the steps live in submodules, each using only
//! those listed after it:
//!
//! - `text`, `tabular`: each task's steps in order, the only modules that know
//!   the whole sequence;
//! - `encoder`: the shared sentence encoder, fine-tuned and embedding the splits
//!   once;
//! - `data`: reading the splits and logging their sizes;
//! - `trials`: one fit or a search whose trials are child runs, and what is
//!   logged around fits;
//! - `fit`: training one candidate from a model config;
//! - `finish`: the common end (metrics, evaluation report and plots, the model
//!   directory, registration through [`crate::gate`]) and the job's [`Outcome`].
//!
//! Test scoring is in [`crate::evaluation`], outside this module, because the
//! gate scores the champion with it too: `gate` depends on `evaluation`, never on
//! `pipeline`.

mod data;
mod encoder;
mod finish;
mod fit;
mod tabular;
mod text;
mod trials;

use cairn_core::entities::RunStatus;

use crate::error::Result;
use crate::progress::Progress;
use crate::spec::Spec;
use crate::tracker::{kv, Tracker};

// The paths these items had before the split, kept for callers of the library.
pub use crate::evaluation::{score, TestSet};
pub use finish::Outcome;
pub use fit::Fitted;

/// Runs `spec`, logging to the tracking server behind `tracker`.
pub fn run(spec: &Spec, tracker: &Tracker, progress: &Progress) -> Result<Outcome> {
    let (experiment, run_name) = match spec {
        Spec::TextClassification(s) => (&s.experiment, s.run_name.as_deref()),
        Spec::TabularClassification(s) => (&s.experiment, s.run_name.as_deref()),
    };
    let experiment_id = tracker.experiment(experiment)?;
    let parent = tracker.start_run(
        &experiment_id,
        run_name,
        &[kv("cairn.task", task_name(spec))],
    )?;
    let result = match spec {
        Spec::TextClassification(s) => text::run_text(spec, s, tracker, &parent, progress),
        Spec::TabularClassification(s) => tabular::run_tabular(spec, s, tracker, &parent, progress),
    };
    let status = if result.is_ok() {
        RunStatus::Finished
    } else {
        RunStatus::Failed
    };
    let ended = tracker.end_run(&parent, status);
    let outcome = result?;
    ended?;
    Ok(outcome)
}

fn task_name(spec: &Spec) -> &'static str {
    match spec {
        Spec::TextClassification(_) => "text_classification",
        Spec::TabularClassification(_) => "tabular_classification",
    }
}
