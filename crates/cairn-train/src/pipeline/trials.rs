//! Choosing the model: one fit of the spec's model config, or a search whose
//! trials run as child runs of the job's run (in parallel, pruned by the median
//! rule), keeping the best. This module owns what is logged around fits: the model
//! params, per-epoch metrics, each trial's params, state and best validation
//! accuracy, and the search's summary on the parent run. The sampler and the
//! pruner themselves are in [`crate::search`]; fitting one candidate is `fit`'s.

use std::sync::Mutex;

use cairn_core::entities::{KeyValue, Metric, RunStatus};
use cairn_ml::linear::{Continue, EpochReport};
use serde_json::Value;

use super::fit::{poisoned, Fitted, Trainer};
use crate::error::{Result, TrainError};
use crate::progress::Progress;
use crate::search::{MedianPruner, Search};
use crate::spec::{SearchSpec, Spec};
use crate::tracker::{kv, metric, RunRef, Tracker};

/// Flattened `model` settings as run params (`model.linear.learning_rate`, ...).
fn flatten(prefix: &str, v: &Value, out: &mut Vec<KeyValue>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        Value::String(s) => out.push(kv(prefix, s.clone())),
        Value::Null => out.push(kv(prefix, "None")),
        other => out.push(kv(prefix, other.to_string())),
    }
}

fn epoch_metrics(r: &EpochReport) -> Vec<Metric> {
    let step = r.epoch as i64;
    let mut m = vec![metric("train_loss", r.train_loss, step)];
    if let Some(l) = r.dev_loss {
        m.push(metric("val_loss", l, step));
    }
    if let Some(a) = r.dev_accuracy {
        m.push(metric("val_accuracy", a, step));
    }
    m
}

/// A single fit, or a search whose trials are child runs of `parent`; returns the
/// best model, its config, and the best trial's run id.
pub(super) fn fit_or_search(
    spec: &Spec,
    trainer: &dyn Trainer,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<(Fitted, Value, Option<String>)> {
    let Some(search) = spec.search() else {
        let model = spec.model_json();
        let mut params = Vec::new();
        flatten("model", &model, &mut params);
        tracker.log(parent, &[], &params, &[])?;
        let bar = progress.epochs("training");
        let mut failed = None;
        let (fitted, _) = trainer.fit(&model, &mut |r| {
            bar.set_message(format!(
                "epoch {} val_accuracy {:.4}",
                r.epoch,
                r.dev_accuracy.unwrap_or(f64::NAN)
            ));
            bar.inc(1);
            if let Err(e) = tracker.log(parent, &epoch_metrics(r), &[], &[]) {
                failed = Some(e);
                return Continue::Stop;
            }
            Continue::Yes
        })?;
        bar.finish_and_clear();
        if let Some(e) = failed {
            return Err(e);
        }
        return Ok((fitted, model, None));
    };
    run_search(spec, search, trainer, tracker, parent, progress)
}

struct Best {
    accuracy: f64,
    fitted: Fitted,
    model: Value,
    run_id: String,
    trial: usize,
}

fn run_search(
    spec: &Spec,
    search: &SearchSpec,
    trainer: &dyn Trainer,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<(Fitted, Value, Option<String>)> {
    let sampler = Mutex::new(Search::new(search));
    let pruner = Mutex::new(MedianPruner::default());
    let next = Mutex::new(0usize);
    let best: Mutex<Option<Best>> = Mutex::new(None);
    let first_error: Mutex<Option<TrainError>> = Mutex::new(None);
    let pruned = Mutex::new(0usize);
    let bar = progress.trials(search.trials as u64);
    let mut params = vec![
        kv(
            "search.sampler",
            format!("{:?}", search.sampler).to_lowercase(),
        ),
        kv("search.trials", search.trials.to_string()),
        kv("search.parallel", search.parallel.to_string()),
    ];
    flatten("model", &spec.model_json(), &mut params);
    tracker.log(parent, &[], &params, &[])?;

    let trial = |i: usize| -> Result<()> {
        let point = sampler.lock().map_err(poisoned)?.ask();
        let model = spec.with_overrides(&point.values)?;
        let run = tracker.start_run(
            &parent.experiment_id,
            Some(&format!("trial-{i}")),
            &[
                kv("mlflow.parentRunId", parent.run_id.clone()),
                kv("cairn.trial", i.to_string()),
            ],
        )?;
        let trial_params: Vec<KeyValue> = point
            .values
            .iter()
            .map(|(k, v)| {
                kv(
                    k.clone(),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect();
        tracker.log(&run, &[], &trial_params, &[])?;
        let mut curve: Vec<f64> = Vec::new();
        let mut was_pruned = false;
        let mut log_error = None;
        let fitted = trainer.fit(&model, &mut |r| {
            if let Err(e) = tracker.log(&run, &epoch_metrics(r), &[], &[]) {
                log_error = Some(e);
                return Continue::Stop;
            }
            let acc = r.dev_accuracy.unwrap_or(0.0);
            let best_so_far = curve.last().copied().unwrap_or(0.0).max(acc);
            curve.push(best_so_far);
            if search.prune
                && pruner
                    .lock()
                    .map(|p| p.should_prune(r.epoch, best_so_far))
                    .unwrap_or(false)
            {
                was_pruned = true;
                return Continue::Stop;
            }
            Continue::Yes
        });
        if let Some(e) = log_error {
            return Err(e);
        }
        let (fitted, accuracy) = match fitted {
            Ok(f) => f,
            Err(e) => {
                let _ = tracker.log(
                    &run,
                    &[],
                    &[],
                    &[
                        kv("cairn.trial_state", "FAIL"),
                        kv("cairn.error", e.to_string()),
                    ],
                );
                tracker.end_run(&run, RunStatus::Failed)?;
                return Ok(());
            }
        };
        let state = if was_pruned { "PRUNED" } else { "COMPLETE" };
        tracker.log(
            &run,
            &[metric("val_accuracy_best", accuracy, 0)],
            &[],
            &[kv("cairn.trial_state", state)],
        )?;
        tracker.end_run(
            &run,
            if was_pruned {
                RunStatus::Killed
            } else {
                RunStatus::Finished
            },
        )?;
        if was_pruned {
            *pruned.lock().map_err(poisoned)? += 1;
        } else {
            pruner.lock().map_err(poisoned)?.record(&curve);
        }
        sampler.lock().map_err(poisoned)?.tell(&point, accuracy);
        let mut b = best.lock().map_err(poisoned)?;
        if b.as_ref().is_none_or(|b| accuracy > b.accuracy) {
            *b = Some(Best {
                accuracy,
                fitted,
                model,
                run_id: run.run_id.clone(),
                trial: i,
            });
        }
        drop(b);
        bar.inc(1);
        Ok(())
    };

    std::thread::scope(|scope| {
        for _ in 0..search.parallel.clamp(1, search.trials) {
            scope.spawn(|| loop {
                let i = {
                    let Ok(mut n) = next.lock() else { return };
                    if *n >= search.trials
                        || first_error.lock().map(|e| e.is_some()).unwrap_or(true)
                    {
                        return;
                    }
                    *n += 1;
                    *n
                };
                if let Err(e) = trial(i) {
                    if let Ok(mut slot) = first_error.lock() {
                        slot.get_or_insert(e);
                    }
                    return;
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = first_error.into_inner().map_err(poisoned)? {
        return Err(e);
    }
    let best = best.into_inner().map_err(poisoned)?.ok_or_else(|| {
        TrainError::Spec("search: every trial failed (see the trial runs' cairn.error tags)".into())
    })?;
    let mut tags = vec![
        kv("cairn.best_trial_run_id", best.run_id.clone()),
        kv("cairn.best_trial", best.trial.to_string()),
    ];
    let mut best_params = Vec::new();
    flatten("best", &best.model, &mut best_params);
    tags.extend(best_params);
    tracker.log(
        parent,
        &[
            metric("best_val_accuracy", best.accuracy, 0),
            metric("trials_pruned", *pruned.lock().map_err(poisoned)? as f64, 0),
        ],
        &[],
        &tags,
    )?;
    Ok((best.fitted, best.model, Some(best.run_id)))
}
