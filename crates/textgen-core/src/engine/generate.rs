//! The generation loop: prefill the prompt, then sample token after token until a stop condition.

use super::EngineError;
use crate::kernels::Pool;
use crate::model::{KvCache, Llama, Scratch};
use crate::sampling::{GenerationParams, Sampler};
use crate::tokenizer::{StreamDecoder, Tokenizer};
use std::time::{Duration, Instant};

/// Prompt tokens processed per forward pass (bounds scratch memory for long prompts).
pub const PREFILL_CHUNK: usize = 512;

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    Eos,
    /// `max_new_tokens` reached, or the context is full.
    Length,
    /// The caller asked to stop.
    Cancelled,
}

impl FinishReason {
    /// The name used in outputs (`eos`, `length`, `cancelled`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eos => "eos",
            Self::Length => "length",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Wall-clock timings of one generation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Prompt processing (prefill).
    pub prompt: Duration,
    /// Token generation after the prompt.
    pub generation: Duration,
}

/// The result of one generation.
#[derive(Clone, Debug)]
pub struct Generation {
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// Generated token ids (including a final end-of-generation token, if any).
    pub tokens: Vec<u32>,
    /// Generated text (special tokens omitted).
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Timings.
    pub timings: Timings,
}

/// Whether the caller wants more tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep generating.
    Continue,
    /// Stop now.
    Stop,
}

/// A model, its tokenizer and the worker threads that compute it.
pub struct Engine {
    /// The model.
    pub model: Llama,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Worker threads.
    pub pool: Pool,
}

impl Engine {
    /// Wraps a loaded model with a pool of `threads` threads.
    pub fn new(model: Llama, tokenizer: Tokenizer, threads: usize) -> Self {
        Self {
            model,
            tokenizer,
            pool: Pool::new(threads),
        }
    }

    /// Tokenizes a prompt the way the model expects (BOS if it wants one); an empty prompt becomes BOS.
    pub fn encode_prompt(&self, prompt: &str) -> Result<Vec<u32>, EngineError> {
        let mut ids = self.tokenizer.encode(prompt, true)?;
        if ids.is_empty() {
            ids.push(self.tokenizer.bos_id().ok_or(EngineError::EmptyPrompt)?);
        }
        Ok(ids)
    }

    /// Runs `tokens` through the model in chunks; returns the logits of the last token.
    pub fn prefill(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        scratch: &mut Scratch,
        logits: &mut Vec<f32>,
    ) -> Result<(), EngineError> {
        for chunk in tokens.chunks(PREFILL_CHUNK) {
            self.model
                .forward(&self.pool, chunk, cache, scratch, chunk.len() - 1, logits)?;
        }
        Ok(())
    }

    /// Generates a continuation of `prompt` (token ids), calling `on_text` with each new piece of text.
    pub fn generate(
        &self,
        prompt: &[u32],
        params: &GenerationParams,
        mut on_text: impl FnMut(&str) -> Flow,
    ) -> Result<Generation, EngineError> {
        let n_ctx = self.model.cfg.n_ctx_train;
        if prompt.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        if prompt.len() >= n_ctx {
            return Err(EngineError::PromptTooLong {
                tokens: prompt.len(),
                context: n_ctx,
            });
        }
        let budget = params.max_new_tokens.min(n_ctx - prompt.len());
        let mut cache = self.model.new_cache(prompt.len() + budget);
        let mut scratch = Scratch::default();
        let mut logits = Vec::new();
        let mut sampler = Sampler::new(params);
        let mut decoder = StreamDecoder::new();
        let mut out = Generation {
            prompt_tokens: prompt.len(),
            tokens: Vec::with_capacity(budget),
            text: String::new(),
            finish_reason: FinishReason::Length,
            timings: Timings::default(),
        };
        let t0 = Instant::now();
        if budget > 0 {
            self.prefill(prompt, &mut cache, &mut scratch, &mut logits)?;
        }
        out.timings.prompt = t0.elapsed();
        let t1 = Instant::now();
        for step in 0..budget {
            let id = sampler.sample(&logits);
            out.tokens.push(id);
            if self.tokenizer.is_eog(id) {
                out.finish_reason = FinishReason::Eos;
                break;
            }
            if !self.tokenizer.is_special(id) {
                let piece = decoder.push(self.tokenizer.token_bytes(id));
                if !piece.is_empty() {
                    out.text.push_str(&piece);
                    if on_text(&piece) == Flow::Stop {
                        out.finish_reason = FinishReason::Cancelled;
                        break;
                    }
                }
            }
            if step + 1 < budget {
                self.model
                    .forward(&self.pool, &[id], &mut cache, &mut scratch, 0, &mut logits)?;
            }
        }
        let tail = decoder.flush();
        if !tail.is_empty() {
            out.text.push_str(&tail);
            on_text(&tail);
        }
        out.timings.generation = t1.elapsed();
        Ok(out)
    }
}
