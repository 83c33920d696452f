//! One training job end to end: read the data, fit (one model, or a search of
//! trials as child runs), evaluate on the test split, save the model directory,
//! then register and gate the version. Everything is logged to the run.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cairn_core::entities::{KeyValue, Metric, RunStatus};
use cairn_ml::encoder::SentenceEncoder;
use cairn_ml::finetune::SlotTargets;
use cairn_ml::linear::{Continue, EpochReport};
use cairn_ml::metrics::{evaluate, ood_report, threshold_keeping, Report};
use cairn_ml::model_dir::{CairnModel, ModelRows};
use cairn_ml::sparse::Csr;
use cairn_ml::tabular::{Table, TabularClassifier, TabularModelConfig};
use cairn_ml::text::Tfidf;
use cairn_ml::text_classifier::{
    classes_of, encode_labels, OodRule, OodScore, Prediction, TextClassifier, TextModelConfig,
};
use serde_json::Value;

use crate::error::{Result, TrainError};
use crate::gate::{gate, GateOutcome};
use crate::progress::Progress;
use crate::search::{MedianPruner, Search};
use crate::spec::{OodSpec, SearchSpec, Spec, TabularSpec, TextSpec};
use crate::tracker::{kv, metric, RunRef, Tracker};

/// What a finished job reports.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub run_id: String,
    pub experiment_id: String,
    pub metrics: BTreeMap<String, f64>,
    pub best_trial: Option<String>,
    pub gate: Option<GateOutcome>,
}

/// The labelled test rows, kept so the current champion is scored on the same set.
pub enum TestSet {
    Texts {
        texts: Vec<String>,
        labels: Vec<String>,
    },
    Rows {
        rows: Vec<Vec<f64>>,
        labels: Vec<String>,
    },
}

impl TestSet {
    pub fn input(&self) -> ModelRows {
        match self {
            TestSet::Texts { texts, .. } => ModelRows::Texts(texts.clone()),
            TestSet::Rows { rows, .. } => ModelRows::Numbers(rows.clone()),
        }
    }
    pub fn labels(&self) -> &[String] {
        match self {
            TestSet::Texts { labels, .. } | TestSet::Rows { labels, .. } => labels,
        }
    }
}

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
        Spec::TextClassification(s) => run_text(spec, s, tracker, &parent, progress),
        Spec::TabularClassification(s) => run_tabular(spec, s, tracker, &parent, progress),
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

/// Fits one model from a model config, reporting epochs; returns the fitted model
/// and its validation accuracy. Shared by the single fit and every search trial.
trait Trainer: Sync {
    fn fit(
        &self,
        model: &Value,
        on_epoch: &mut dyn FnMut(&EpochReport) -> Continue,
    ) -> Result<(Fitted, f64)>;
}

pub enum Fitted {
    Text(TextClassifier),
    Tabular(TabularClassifier),
}

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
fn fit_or_search(
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

fn poisoned<T>(_: std::sync::PoisonError<T>) -> TrainError {
    TrainError::Spec("a search trial panicked".into())
}

// ------------------------------------------------------------------ text

/// Featurized splits for one TF-IDF setting and encoder weight.
struct Features {
    tfidf: Tfidf,
    train: Csr,
    dev: Csr,
}

struct TextTrainer {
    classes: Vec<String>,
    train_texts: Vec<String>,
    y: Vec<usize>,
    dev_texts: Vec<String>,
    dev_y: Vec<usize>,
    /// Sentence embeddings of (train, dev), computed once for every trial.
    embeddings: Option<(Csr, Csr)>,
    cache: Mutex<HashMap<String, Arc<Features>>>,
}

impl TextTrainer {
    fn features(&self, cfg: &TextModelConfig) -> Result<Arc<Features>> {
        let weight = cfg.encoder.as_ref().map(|e| e.weight);
        let key = format!("{:?}/{weight:?}", cfg.tfidf);
        if let Some(f) = self.cache.lock().map_err(poisoned)?.get(&key) {
            return Ok(f.clone());
        }
        let tfidf = cfg.tfidf.fit(&self.train_texts);
        let mut train = tfidf.transform(&self.train_texts);
        let mut dev = tfidf.transform(&self.dev_texts);
        if let (Some(w), Some((et, ed))) = (weight, &self.embeddings) {
            train = train.hstack(et, w);
            dev = dev.hstack(ed, w);
        }
        let f = Arc::new(Features { tfidf, train, dev });
        self.cache.lock().map_err(poisoned)?.insert(key, f.clone());
        Ok(f)
    }
}

impl Trainer for TextTrainer {
    fn fit(
        &self,
        model: &Value,
        on_epoch: &mut dyn FnMut(&EpochReport) -> Continue,
    ) -> Result<(Fitted, f64)> {
        let cfg: TextModelConfig = serde_json::from_value(model.clone())
            .map_err(|e| TrainError::Spec(format!("model: {e}")))?;
        let f = self.features(&cfg)?;
        let head = cairn_ml::linear::SoftmaxRegression::fit(
            &f.train,
            &self.y,
            self.classes.len(),
            Some((&f.dev, &self.dev_y)),
            &cfg.linear,
            on_epoch,
        );
        let (_, accuracy) = head.loss_and_accuracy(&f.dev, &self.dev_y);
        Ok((
            Fitted::Text(TextClassifier {
                labels: self.classes.clone(),
                tfidf: f.tfidf.clone(),
                encoder: cfg.encoder.clone(),
                head,
                ood: None,
            }),
            accuracy,
        ))
    }
}

fn run_text(
    spec: &Spec,
    s: &TextSpec,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<Outcome> {
    let started = Instant::now();
    let layout = cairn_ml::data::TextFile {
        path: s.data.train.clone(),
        delimiter: s.data.delimiter,
        has_header: s.data.has_header,
        text_column: s.data.text_column.clone(),
        label_column: s.data.label_column.clone(),
        slot_column: s.data.slot_column.clone(),
    };
    let train_all = layout.read()?;
    let test = layout.with_path(s.data.test.clone()).read()?;
    let (train, dev) = match &s.data.dev {
        Some(p) => (train_all, layout.with_path(p.clone()).read()?),
        None => holdout(train_all, 0.1),
    };
    let classes = classes_of(&train.labels);
    let y: Vec<usize> = encode_labels(&classes, &train.labels)
        .into_iter()
        .flatten()
        .collect();
    // Dev rows with labels training never saw cannot steer early stopping.
    let (dev_texts, dev_y): (Vec<String>, Vec<usize>) = dev
        .texts
        .iter()
        .zip(encode_labels(&classes, &dev.labels))
        .filter_map(|(t, y)| y.map(|y| (t.clone(), y)))
        .unzip();
    tracker.log(
        parent,
        &[
            metric("train_rows", train.len() as f64, 0),
            metric("dev_rows", dev_texts.len() as f64, 0),
            metric("test_rows", test.len() as f64, 0),
            metric("classes", classes.len() as f64, 0),
        ],
        &[
            kv("data.train", s.data.train.display().to_string()),
            kv("data.test", s.data.test.display().to_string()),
            kv(
                "data.dev",
                s.data
                    .dev
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "10% of train".into()),
            ),
        ],
        &[],
    )?;

    // Every trial shares one encoder setting; it is tuned (if asked) and its
    // embeddings computed once. The tuned folder lives until the model is saved.
    let tuned = tempfile::tempdir()?;
    let encoder = match &s.model.encoder {
        Some(cfg) => {
            let dir = match &cfg.fine_tune {
                Some(ft) => {
                    let dst = tuned.path().join("encoder");
                    let dev = (dev_texts.as_slice(), dev_y.as_slice());
                    let slot_tags = classes_of(&train.slots.concat());
                    let slot_rows: Vec<Vec<usize>> = train
                        .slots
                        .iter()
                        .map(|tags| {
                            encode_labels(&slot_tags, tags)
                                .into_iter()
                                .flatten()
                                .collect()
                        })
                        .collect();
                    let slots = (!slot_rows.is_empty()).then_some(SlotTargets {
                        tags: &slot_rows,
                        n_tags: slot_tags.len(),
                    });
                    fine_tune_encoder(
                        cfg,
                        ft,
                        &dst,
                        &train.texts,
                        &y,
                        &classes,
                        dev,
                        slots,
                        tracker,
                        parent,
                        progress,
                    )?;
                    dst
                }
                None => cfg.path.clone(),
            };
            Some(SentenceEncoder::load(&dir, cfg.max_tokens)?)
        }
        None => None,
    };
    let encoder_dir = encoder.as_ref().map(|e| e.dir.clone());
    let mut raw_embeddings: Option<[Vec<Vec<f32>>; 3]> = None;
    let embeddings = match &encoder {
        None => None,
        Some(e) => {
            let t0 = Instant::now();
            let total = train.len() + dev_texts.len() + test.len();
            let bar = progress.rows("embedding", total as u64);
            let et = e.embed(&train.texts, |n| bar.inc(n as u64))?;
            let ed = e.embed(&dev_texts, |n| bar.inc(n as u64))?;
            let ex = e.embed(&test.texts, |n| bar.inc(n as u64))?;
            bar.finish_and_clear();
            tracker.log(
                parent,
                &[metric("embedding_seconds", t0.elapsed().as_secs_f64(), 0)],
                &[],
                &[],
            )?;
            let dense = Some((Csr::from_dense(&et, e.dim), Csr::from_dense(&ed, e.dim)));
            raw_embeddings = Some([et, ed, ex]);
            dense
        }
    };
    let trainer = TextTrainer {
        classes: classes.clone(),
        train_texts: train.texts.clone(),
        y,
        dev_texts,
        dev_y,
        embeddings,
        cache: Mutex::new(HashMap::new()),
    };
    let (fitted, _model, best_trial) = fit_or_search(spec, &trainer, tracker, parent, progress)?;
    let Fitted::Text(mut classifier) = fitted else {
        return Err(TrainError::Spec(
            "a text task fitted a tabular model".into(),
        ));
    };
    let featurize = |texts: &[String], emb: Option<&Vec<Vec<f32>>>| -> Csr {
        let sparse = classifier.tfidf.transform(texts);
        match (emb, &classifier.encoder, &encoder) {
            (Some(e), Some(cfg), Some(enc)) => {
                sparse.hstack(&Csr::from_dense(e, enc.dim), cfg.weight)
            }
            _ => sparse,
        }
    };
    let [train_emb, dev_emb, test_emb] = match raw_embeddings {
        Some([a, b, c]) => [Some(a), Some(b), Some(c)],
        None => [None, None, None],
    };
    if let Some(ood) = &s.ood {
        let score_kind =
            match (ood.score, &train_emb) {
                (Some(OodScore::KnnBlend { .. }), None) => return Err(TrainError::Spec(
                    "ood.score: knn_blend needs model.encoder (it compares sentence embeddings)"
                        .into(),
                )),
                (Some(k), _) => k,
                (None, Some(_)) => OodScore::KnnBlend {
                    probability_weight: 0.5,
                },
                (None, None) => OodScore::MaxProbability,
            };
        let (memory, dim) = match (&score_kind, &train_emb) {
            (OodScore::KnnBlend { .. }, Some(e)) => (
                e.iter().flatten().copied().collect(),
                e.first().map_or(0, Vec::len),
            ),
            _ => (Vec::new(), 0),
        };
        classifier.ood = Some(OodRule {
            label: ood.label.clone(),
            threshold: f32::NEG_INFINITY,
            score: score_kind,
            memory,
            dim,
        });
        let dev_x = featurize(&trainer.dev_texts, dev_emb.as_ref());
        let scores: Vec<f64> = classifier
            .predict_features(&dev_x, dev_emb.as_deref())?
            .iter()
            .map(|p| p.in_scope_score as f64)
            .collect();
        let threshold = threshold_keeping(&scores, ood.keep_in_scope) as f32;
        if let Some(rule) = classifier.ood.as_mut() {
            rule.threshold = threshold;
        }
        tracker.log(
            parent,
            &[metric("ood_threshold", threshold as f64, 0)],
            &[kv("ood.score", format!("{score_kind:?}"))],
            &[],
        )?;
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let test_x = featurize(&test.texts, test_emb.as_ref());
    let predictions = classifier.predict_features(&test_x, test_emb.as_deref())?;
    let (mut metrics, report) = score(&classes, &predictions, &test.labels, s.ood.as_ref());
    metrics.insert("train_seconds".into(), train_seconds);
    tracker.log_table(
        parent,
        "evaluation/predictions.json",
        predictions_table(&test.texts, &test.labels, &predictions)?,
    )?;
    let model = CairnModel::Text {
        classifier,
        encoder: encoder.map(Box::new),
    };
    let examples: Vec<Vec<Value>> = test
        .texts
        .iter()
        .take(3)
        .map(|t| vec![Value::String(t.clone())])
        .collect();
    let test_set = TestSet::Texts {
        texts: test.texts,
        labels: test.labels,
    };
    finish(
        s.register.as_ref(),
        tracker,
        parent,
        model,
        encoder_dir.as_deref(),
        &examples,
        &test_set,
        metrics,
        report,
        s.ood.as_ref(),
        best_trial,
    )
}

/// Every test row with its label and the model's prediction, in the
/// `{"columns": [...], "data": [[...]]}` layout of MLflow's tables, so
/// `MlflowClient.load_table` reads it and the errors behind the metrics can be looked at.
fn predictions_table(
    texts: &[String],
    labels: &[String],
    predictions: &[Prediction],
) -> Result<Vec<u8>> {
    let data: Vec<Value> = texts
        .iter()
        .zip(labels)
        .zip(predictions)
        .map(|((text, label), p)| {
            serde_json::json!([text, label, p.label, p.confidence, *label == p.label])
        })
        .collect();
    let table = serde_json::json!({
        "columns": ["text", "label", "prediction", "confidence", "correct"],
        "data": data,
    });
    // A `Value` always serializes; the conversion only keeps the signature honest.
    Ok(serde_json::to_vec(&table).map_err(std::io::Error::from)?)
}

/// Fine-tunes the spec's encoder into `dst`, logging per-epoch loss and dev
/// accuracy (`finetune_*`, step = epoch) and a progress bar over the steps.
#[allow(clippy::too_many_arguments)]
fn fine_tune_encoder(
    cfg: &cairn_ml::text_classifier::EncoderConfig,
    ft: &cairn_ml::finetune::FineTuneConfig,
    dst: &std::path::Path,
    texts: &[String],
    y: &[usize],
    classes: &[String],
    dev: (&[String], &[usize]),
    slots: Option<SlotTargets>,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<()> {
    let started = Instant::now();
    let steps = ft.total_steps(texts.len());
    let bar = progress.rows("fine-tuning the encoder (steps)", steps as u64);
    let mut logging = Ok(());
    let kept = cairn_ml::finetune::fine_tune(
        &cfg.path,
        dst,
        cfg.max_tokens,
        texts,
        y,
        classes.len(),
        Some(dev),
        slots,
        ft,
        |_, _| bar.inc(1),
        |e| {
            let mut points = vec![
                metric("finetune_train_loss", e.train_loss, e.epoch as i64),
                metric("finetune_epoch_seconds", e.seconds, e.epoch as i64),
            ];
            if let Some(a) = e.val_accuracy {
                points.push(metric("finetune_val_accuracy", a, e.epoch as i64));
            }
            if let Some(l) = e.val_loss {
                points.push(metric("finetune_val_loss", l, e.epoch as i64));
            }
            if let Some(l) = e.slot_loss {
                points.push(metric("finetune_slot_loss", l, e.epoch as i64));
            }
            logging = tracker.log(parent, &points, &[], &[]);
            if logging.is_ok() {
                Continue::Yes
            } else {
                Continue::Stop
            }
        },
    )?;
    bar.finish_and_clear();
    logging?;
    tracker.log(
        parent,
        &[
            metric("finetune_seconds", started.elapsed().as_secs_f64(), 0),
            metric("finetune_best_epoch", kept as f64, 0),
        ],
        &[],
        &[],
    )
}

fn holdout(
    all: cairn_ml::data::TextExamples,
    fraction: f64,
) -> (cairn_ml::data::TextExamples, cairn_ml::data::TextExamples) {
    let mut train = cairn_ml::data::TextExamples::default();
    let mut dev = cairn_ml::data::TextExamples::default();
    let every = (1.0 / fraction).round().max(2.0) as usize;
    let mut slots = all.slots.into_iter();
    for (i, (t, l)) in all.texts.into_iter().zip(all.labels).enumerate() {
        let side = if i % every == every - 1 {
            &mut dev
        } else {
            &mut train
        };
        side.texts.push(t);
        side.labels.push(l);
        if let Some(tags) = slots.next() {
            side.slots.push(tags);
        }
    }
    (train, dev)
}

/// Test metrics from predictions, named as they are logged (`test_accuracy`, ...).
pub fn score(
    classes: &[String],
    predictions: &[Prediction],
    truth: &[String],
    ood: Option<&OodSpec>,
) -> (BTreeMap<String, f64>, Report) {
    // The label set: the model's classes, then labels only the test set or the
    // out-of-scope rule uses.
    let mut labels = classes.to_vec();
    let mut extra: Vec<String> = truth
        .iter()
        .chain(predictions.iter().map(|p| &p.label))
        .filter(|l| !classes.contains(l))
        .cloned()
        .collect();
    extra.sort();
    extra.dedup();
    labels.extend(extra);
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let y_true: Vec<usize> = truth.iter().map(|l| index[l.as_str()]).collect();
    let y_pred: Vec<usize> = predictions
        .iter()
        .map(|p| index[p.label.as_str()])
        .collect();
    let proba: Vec<Vec<f32>> = predictions
        .iter()
        .map(|p| p.probabilities.clone())
        .collect();
    let report = evaluate(&labels, &y_true, &y_pred, Some(&proba));
    let mut m = BTreeMap::new();
    m.insert("test_accuracy".to_string(), report.accuracy);
    m.insert("test_macro_precision".into(), report.macro_precision);
    m.insert("test_macro_recall".into(), report.macro_recall);
    m.insert("test_macro_f1".into(), report.macro_f1);
    m.insert("test_weighted_precision".into(), report.weighted_precision);
    m.insert("test_weighted_recall".into(), report.weighted_recall);
    m.insert("test_weighted_f1".into(), report.weighted_f1);
    if let Some(v) = report.roc_auc_ovr {
        m.insert("test_roc_auc_ovr".into(), v);
    }
    if let Some(v) = report.pr_auc_ovr {
        m.insert("test_pr_auc_ovr".into(), v);
    }
    if let Some(v) = report.ece {
        m.insert("test_ece".into(), v);
    }
    if let Some(ood) = ood {
        let score: Vec<f64> = predictions
            .iter()
            .map(|p| p.in_scope_score as f64)
            .collect();
        let is_oos: Vec<bool> = truth.iter().map(|l| *l == ood.label).collect();
        let correct: Vec<bool> = predictions
            .iter()
            .zip(truth)
            .map(|(p, t)| classes.get(p.class) == Some(t))
            .collect();
        let r = ood_report(
            &score,
            &correct,
            &is_oos,
            ood_threshold(predictions, &ood.label),
            ood.target_in_scope_accuracy,
        );
        m.insert("test_in_scope_accuracy".into(), r.in_scope_accuracy);
        m.insert("test_oos_recall".into(), r.oos_recall);
        m.insert("test_oos_precision".into(), r.oos_precision);
        if let Some(a) = r.auroc {
            m.insert("test_ood_auroc".into(), a);
        }
        if let Some(v) = r.oos_recall_at_target {
            m.insert(
                format!(
                    "test_oos_recall_at_in_scope_accuracy_{:.0}",
                    ood.target_in_scope_accuracy * 100.0
                ),
                v,
            );
        }
    }
    (m, report)
}

/// The threshold the predictions were made with: the rule's, read back as the
/// smallest confidence that was not rejected (rows below it got the label).
fn ood_threshold(predictions: &[Prediction], label: &str) -> f64 {
    let rejected_max = predictions
        .iter()
        .filter(|p| p.label == label)
        .map(|p| p.in_scope_score as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    // Anything above every rejected score and at most every kept one reproduces
    // the decisions exactly.
    let kept_min = predictions
        .iter()
        .filter(|p| p.label != label)
        .map(|p| p.in_scope_score as f64)
        .fold(f64::INFINITY, f64::min);
    if rejected_max == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if kept_min.is_finite() {
        kept_min.min(rejected_max + 1e-12)
    } else {
        f64::INFINITY
    }
}

// ------------------------------------------------------------------ tabular

struct TabularTrainer {
    fit_part: Table,
    validation: Table,
}

impl Trainer for TabularTrainer {
    fn fit(
        &self,
        model: &Value,
        on_epoch: &mut dyn FnMut(&EpochReport) -> Continue,
    ) -> Result<(Fitted, f64)> {
        let cfg: TabularModelConfig = serde_json::from_value(model.clone())
            .map_err(|e| TrainError::Spec(format!("model: {e}")))?;
        let clf = TabularClassifier::fit(&self.fit_part, &cfg)?;
        let proba = clf.predict_proba(&self.validation.rows)?;
        let right = proba
            .iter()
            .zip(&self.validation.labels)
            .filter(|(p, l)| clf.labels[cairn_ml::linear::argmax(p)] == **l)
            .count();
        let accuracy = right as f64 / self.validation.labels.len().max(1) as f64;
        // linfa fits in one call: one "epoch" carries the validation accuracy.
        on_epoch(&EpochReport {
            epoch: 1,
            train_loss: f64::NAN,
            dev_loss: None,
            dev_accuracy: Some(accuracy),
        });
        Ok((Fitted::Tabular(clf), accuracy))
    }
}

fn run_tabular(
    spec: &Spec,
    s: &TabularSpec,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<Outcome> {
    let started = Instant::now();
    let table = match (&s.data.csv, &s.data.parquet) {
        (Some(path), _) => Table::from_csv(path, &s.data.label_column)?,
        (_, Some(path)) => Table::from_parquet(path, &s.data.label_column)?,
        _ => Table::wine_is_high_quality(),
    };
    let (train, test) = table.split(s.data.test_fraction, s.data.seed);
    let (fit_part, validation) = train.split(s.data.test_fraction, s.data.seed.wrapping_add(1));
    tracker.log(
        parent,
        &[
            metric("train_rows", fit_part.labels.len() as f64, 0),
            metric("validation_rows", validation.labels.len() as f64, 0),
            metric("test_rows", test.labels.len() as f64, 0),
        ],
        &[kv(
            "data.source",
            s.data.builtin.clone().unwrap_or_else(|| {
                s.data
                    .csv
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            }),
        )],
        &[],
    )?;
    let trainer = TabularTrainer {
        fit_part,
        validation,
    };
    let (fitted, _model, best_trial) = fit_or_search(spec, &trainer, tracker, parent, progress)?;
    let Fitted::Tabular(clf) = fitted else {
        return Err(TrainError::Spec(
            "a tabular task fitted a text model".into(),
        ));
    };
    let rows: Vec<Vec<f64>> = test.rows.rows().into_iter().map(|r| r.to_vec()).collect();
    let model = CairnModel::Tabular(clf);
    let predictions = model.predict(&ModelRows::Numbers(rows.clone()))?;
    let classes = match &model {
        CairnModel::Tabular(t) => t.labels.clone(),
        CairnModel::Text { .. } => Vec::new(),
    };
    let (mut metrics, report) = score(&classes, &predictions, &test.labels, None);
    metrics.insert("train_seconds".into(), started.elapsed().as_secs_f64());
    let examples: Vec<Vec<Value>> = rows
        .iter()
        .take(3)
        .map(|r| r.iter().map(|&v| Value::from(v)).collect())
        .collect();
    let test_set = TestSet::Rows {
        rows,
        labels: test.labels,
    };
    finish(
        s.register.as_ref(),
        tracker,
        parent,
        model,
        None,
        &examples,
        &test_set,
        metrics,
        report,
        None,
        best_trial,
    )
}

// ------------------------------------------------------------------ common end

#[allow(clippy::too_many_arguments)]
fn finish(
    register: Option<&crate::spec::RegisterSpec>,
    tracker: &Tracker,
    parent: &RunRef,
    model: CairnModel,
    encoder_src: Option<&std::path::Path>,
    examples: &[Vec<Value>],
    test: &TestSet,
    metrics: BTreeMap<String, f64>,
    report: Report,
    ood: Option<&OodSpec>,
    best_trial: Option<String>,
) -> Result<Outcome> {
    let logged: Vec<Metric> = metrics.iter().map(|(k, v)| metric(k, *v, 0)).collect();
    tracker.log(parent, &logged, &[], &[])?;
    let report_json =
        serde_json::to_vec_pretty(&report).map_err(|e| TrainError::Spec(e.to_string()))?;
    tracker.upload(parent, "evaluation/classification_report.json", report_json)?;
    for (name, svg) in cairn_ml::plots::evaluation_plots(&report) {
        let png = cairn_ml::plots::to_png(&svg)?;
        tracker.upload(parent, &format!("evaluation/{name}.png"), png)?;
        tracker.upload(parent, &format!("evaluation/{name}.svg"), svg.into_bytes())?;
    }
    let dir = tempfile::tempdir()?;
    let model_dir = dir.path().join("model");
    cairn_ml::model_dir::save(&model_dir, &model, encoder_src, examples)?;
    tracker.upload_dir(parent, &model_dir, "model")?;
    let gate = match register {
        None => None,
        Some(reg) => Some(gate(
            tracker, parent, reg, &model, &model_dir, test, &metrics, ood,
        )?),
    };
    Ok(Outcome {
        run_id: parent.run_id.clone(),
        experiment_id: parent.experiment_id.clone(),
        metrics,
        best_trial,
        gate,
    })
}
