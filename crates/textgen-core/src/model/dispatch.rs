//! `Model`: the architecture a file declares, behind one interface for the engine.

use super::batch::{BatchItem, Scratch};
use super::config::{LlamaConfig, SUPPORTED_ARCHITECTURES};
use super::gpt2::{Gpt2, Gpt2Config};
use super::kv_cache::{KvCache, KvShape};
use super::llama::Llama;
use super::ModelError;
use crate::kernels::Pool;
use crate::weights::{Gguf, TensorSet};

/// A loaded model of any supported architecture.
pub enum Model {
    /// Llama family (`general.architecture` = `llama`).
    Llama(Llama),
    /// GPT-2 (`general.architecture` = `gpt2`).
    Gpt2(Gpt2),
}

/// The GGUF architecture name of GPT-2.
const GPT2: &str = "gpt2";

/// The GGUF `general.architecture` values this build runs, comma-separated.
pub fn supported_architectures() -> String {
    let mut all = SUPPORTED_ARCHITECTURES.to_vec();
    all.push(GPT2);
    all.join(", ")
}

impl Model {
    /// Builds the model the GGUF file's `general.architecture` names.
    pub fn from_gguf(g: &Gguf) -> Result<Self, ModelError> {
        Self::from_gguf_tensors(g, g)
    }

    /// Builds the model the GGUF file's metadata describes from `tensors` (the file's own, or a quantized
    /// copy of them).
    pub fn from_gguf_tensors(g: &Gguf, tensors: &dyn TensorSet) -> Result<Self, ModelError> {
        match g.get_str("general.architecture")? {
            GPT2 => Ok(Self::Gpt2(Gpt2::from_tensors(
                Gpt2Config::from_gguf(g)?,
                tensors,
            )?)),
            arch if SUPPORTED_ARCHITECTURES.contains(&arch) => Ok(Self::Llama(
                Llama::from_tensors(LlamaConfig::from_gguf(g)?, tensors)?,
            )),
            arch => Err(ModelError::UnsupportedArchitecture {
                arch: arch.to_string(),
                supported: supported_architectures(),
            }),
        }
    }

    /// Weight bytes one decode step reads from memory (what bounds single-stream decode speed).
    pub fn decode_weight_bytes(&self) -> usize {
        match self {
            Self::Llama(m) => m.decode_weight_bytes(),
            Self::Gpt2(m) => m.decode_weight_bytes(),
        }
    }

    /// Vocabulary size (rows of the logits).
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Llama(m) => m.cfg.vocab_size,
            Self::Gpt2(m) => m.cfg.vocab_size,
        }
    }

    /// Context length the model was trained for.
    pub fn n_ctx_train(&self) -> usize {
        match self {
            Self::Llama(m) => m.cfg.n_ctx_train,
            Self::Gpt2(m) => m.cfg.n_ctx_train,
        }
    }

    /// Shape of one token's keys and values.
    pub fn kv_shape(&self) -> KvShape {
        match self {
            Self::Llama(m) => m.kv_shape(),
            Self::Gpt2(m) => m.kv_shape(),
        }
    }

    /// A KV cache for a sequence of up to `capacity` tokens (capped at the trained context length).
    pub fn new_cache(&self, capacity: usize) -> KvCache {
        KvCache::new(self.kv_shape(), capacity.min(self.n_ctx_train()))
    }

    /// Runs `tokens` (appended at the cache's current position) through the model.
    ///
    /// Writes logits for `tokens[logits_from..]` into `logits` (`(tokens.len() - logits_from) × vocab`).
    pub fn forward(
        &self,
        pool: &Pool,
        tokens: &[u32],
        cache: &mut KvCache,
        scratch: &mut Scratch,
        logits_from: usize,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let mut batch = [BatchItem {
            tokens,
            cache,
            logits_from,
        }];
        self.forward_batch(pool, &mut batch, scratch, logits)
    }

    /// Runs several sequences through the model in one pass: their token rows share every matmul, and each
    /// attends only over its own cache. Each row's result is bit-identical to running its sequence alone.
    ///
    /// Writes the logits of each item's rows `tokens[logits_from..]`, item after item, into `logits`.
    pub fn forward_batch(
        &self,
        pool: &Pool,
        batch: &mut [BatchItem],
        scratch: &mut Scratch,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        match self {
            Self::Llama(m) => m.forward_batch(pool, batch, scratch, logits),
            Self::Gpt2(m) => m.forward_batch(pool, batch, scratch, logits),
        }
    }
}
