//! A sentence encoder run in Rust with candle: a BERT-family model in the
//! sentence-transformers layout (`config.json`, `model.safetensors`,
//! `tokenizer.json`), mean-pooled over the attention mask and L2-normalised, as
//! sentence-transformers' `Pooling` + `Normalize` modules compute it.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{MlError, Result};

/// Sentences per forward pass: large enough to keep the matrix kernels busy,
/// small enough that padding to the batch's longest sentence stays cheap.
const BATCH: usize = 64;

pub struct SentenceEncoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    pub dim: usize,
    pub dir: PathBuf,
}

fn enc<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> MlError + '_ {
    move |e| MlError::Encoder(format!("{what}: {e}"))
}

/// The encoder's tokenizer, padding to the batch's longest text (the shipped one
/// pads every input to 128 tokens) and truncating at `max_tokens`. Fine-tuning
/// tokenizes the same way, so a tuned encoder sees what inference will feed it.
pub(crate) fn batch_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(enc("tokenizer.json"))?;
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..Default::default()
    }));
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..Default::default()
        }))
        .map_err(enc("tokenizer truncation"))?;
    Ok(tokenizer)
}

impl SentenceEncoder {
    /// Loads the model in `dir`; the weights are memory-mapped, not copied.
    pub fn load(dir: &Path, max_tokens: usize) -> Result<SentenceEncoder> {
        let file = |name: &str| {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(MlError::Encoder(format!(
                    "{} is missing: the encoder folder needs config.json, model.safetensors and tokenizer.json (see the README for getting all-MiniLM-L6-v2 offline)",
                    p.display()
                )))
            }
        };
        let config_text = std::fs::read_to_string(file("config.json")?)?;
        let config: Config = serde_json::from_str(&config_text).map_err(enc("config.json"))?;
        let dim = config.hidden_size;
        let tokenizer = batch_tokenizer(&file("tokenizer.json")?, max_tokens)?;
        let device = Device::Cpu;
        let weights = file("model.safetensors")?;
        // SAFETY: the file is only read; candle's mmap keeps it open while in use.
        #[expect(
            unsafe_code,
            reason = "candle maps safetensors files only through unsafe"
        )]
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device) }
            .map_err(enc("model.safetensors"))?;
        let model = BertModel::load(vb, &config).map_err(enc("loading the BERT weights"))?;
        Ok(SentenceEncoder {
            model,
            tokenizer,
            device,
            dim,
            dir: dir.to_path_buf(),
        })
    }

    /// One unit vector per text.
    pub fn embed(
        &self,
        texts: &[String],
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        // Sorting by length keeps the padding in each batch small; the results are
        // put back in the callers' order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self.embed_batch(&batch)?;
            for (&i, v) in chunk.iter().zip(vectors) {
                slots[i] = Some(v);
            }
            progress(chunk.len());
        }
        for s in slots {
            out.push(s.ok_or_else(|| MlError::Encoder("a text was not embedded".into()))?);
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(enc("tokenizing"))?;
        let ids: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_ids(), &self.device))
            .collect::<candle_core::Result<_>>()
            .map_err(enc("token ids"))?;
        let masks: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_attention_mask(), &self.device))
            .collect::<candle_core::Result<_>>()
            .map_err(enc("attention mask"))?;
        let forward = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::stack(&ids, 0)?;
            let mask = Tensor::stack(&masks, 0)?;
            let types = ids.zeros_like()?;
            let hidden = self.model.forward(&ids, &types, Some(&mask))?;
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?;
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
            mean.broadcast_div(&norm)?.to_vec2::<f32>()
        };
        forward().map_err(enc("forward pass"))
    }
}
