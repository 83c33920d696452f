//! The sentence encoder every trial shares: fine-tuned first when the spec asks
//! (`model.encoder.fine_tune`, into a folder the caller keeps until the model is
//! saved), loaded, and used to embed the train, dev and test texts once. The
//! fine-tuning curve, its timing and the embedding time are logged to the run.

use std::path::Path;
use std::time::Instant;

use cairn_ml::encoder::SentenceEncoder;
use cairn_ml::finetune::{FineTuneRequest, SlotTargets};
use cairn_ml::linear::Continue;
use cairn_ml::sparse::Csr;
use cairn_ml::text_classifier::{classes_of, encode_labels};

use super::data::TextData;
use crate::error::Result;
use crate::progress::Progress;
use crate::spec::TextSpec;
use crate::tracker::{metric, RunRef, Tracker};

/// Loads the spec's sentence encoder (`None` without `model.encoder`), tuning it
/// first into `tuned/encoder` when the spec asks.
pub(super) fn load_encoder(
    s: &TextSpec,
    tuned: &Path,
    data: &TextData,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<Option<SentenceEncoder>> {
    Ok(match &s.model.encoder {
        Some(cfg) => {
            let dir = match &cfg.fine_tune {
                Some(ft) => {
                    let dst = tuned.join("encoder");
                    let dev = (data.dev_texts.as_slice(), data.dev_y.as_slice());
                    let slot_tags = classes_of(&data.train.slots.concat());
                    let slot_rows: Vec<Vec<usize>> = data
                        .train
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
                        FineTuneRequest {
                            src: &cfg.path,
                            dst: &dst,
                            max_tokens: cfg.max_tokens,
                            texts: &data.train.texts,
                            y: &data.y,
                            n_classes: data.classes.len(),
                            dev: Some(dev),
                            slots,
                            config: ft,
                        },
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
    })
}

/// The splits' sentence embeddings, computed once for every trial.
pub(super) struct Embeddings {
    /// Train and dev as sparse rows, for the trainer to append to the TF-IDF
    /// features.
    pub(super) dense: (Csr, Csr),
    /// Train, dev and test as the encoder returned them, for the out-of-scope rule
    /// and the test predictions.
    pub(super) raw: [Vec<Vec<f32>>; 3],
}

/// Embeds the train, dev and test texts with a progress bar over the rows, and
/// logs `embedding_seconds`.
pub(super) fn embed_splits(
    e: &SentenceEncoder,
    data: &TextData,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<Embeddings> {
    let t0 = Instant::now();
    let total = data.train.len() + data.dev_texts.len() + data.test.len();
    let bar = progress.rows("embedding", total as u64);
    let et = e.embed(&data.train.texts, |n| bar.inc(n as u64))?;
    let ed = e.embed(&data.dev_texts, |n| bar.inc(n as u64))?;
    let ex = e.embed(&data.test.texts, |n| bar.inc(n as u64))?;
    bar.finish_and_clear();
    tracker.log(
        parent,
        &[metric("embedding_seconds", t0.elapsed().as_secs_f64(), 0)],
        &[],
        &[],
    )?;
    Ok(Embeddings {
        dense: (Csr::from_dense(&et, e.dim), Csr::from_dense(&ed, e.dim)),
        raw: [et, ed, ex],
    })
}

/// Fine-tunes the spec's encoder as `request` says, logging per-epoch loss and dev
/// accuracy (`finetune_*`, step = epoch) and a progress bar over the steps.
fn fine_tune_encoder(
    request: FineTuneRequest<'_>,
    tracker: &Tracker,
    parent: &RunRef,
    progress: &Progress,
) -> Result<()> {
    let started = Instant::now();
    let steps = request.config.total_steps(request.texts.len());
    let bar = progress.rows("fine-tuning the encoder (steps)", steps as u64);
    let mut logging = Ok(());
    let kept = cairn_ml::finetune::fine_tune(
        request,
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
