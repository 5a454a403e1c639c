//! Scoring text: per-token prompt log-probabilities, and perplexity exactly as llama.cpp's
//! `llama-perplexity` computes it, so the two are comparable.
//!
//! The token stream is cut into non-overlapping chunks of `n_ctx` tokens (a trailing partial chunk is
//! dropped); the first token of each chunk is replaced by BOS when the model adds BOS; each chunk starts
//! from an empty cache; only the predictions of the second half are scored (positions `n_ctx/2 ..= n_ctx-2`
//! predicting the next token), i.e. `n_ctx/2 - 1` tokens per chunk for even `n_ctx`.

use super::{Engine, EngineError};
use crate::kernels::ops::log_softmax_at;
use crate::model::Scratch;

/// Running or final perplexity figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Perplexity {
    /// Chunks evaluated so far.
    pub chunks: usize,
    /// Tokens scored so far.
    pub scored: usize,
    /// Sum of negative log-likelihoods (nats).
    pub nll: f64,
}

impl Perplexity {
    /// `exp(mean NLL)`.
    pub fn value(&self) -> f64 {
        (self.nll / self.scored.max(1) as f64).exp()
    }
}

impl Engine {
    /// Log-probability of each prompt token given the ones before it (`None` for the first).
    pub fn prompt_logprobs(&self, prompt: &[u32]) -> Result<Vec<Option<f32>>, EngineError> {
        if prompt.len() > self.model.n_ctx_train() {
            return Err(EngineError::PromptTooLong {
                tokens: prompt.len(),
                context: self.model.n_ctx_train(),
            });
        }
        let mut cache = self.model.new_cache(prompt.len());
        let (mut scratch, mut logits) = (Scratch::default(), Vec::new());
        let vocab = self.model.vocab_size();
        let mut out = vec![None];
        for (c, chunk) in prompt.chunks(super::generate::PREFILL_CHUNK).enumerate() {
            self.model
                .forward(&self.pool, chunk, &mut cache, &mut scratch, 0, &mut logits)?;
            let base = c * super::generate::PREFILL_CHUNK;
            for (j, row) in logits.chunks_exact(vocab).enumerate() {
                if let Some(&next) = prompt.get(base + j + 1) {
                    out.push(Some(log_softmax_at(row, next as usize) as f32));
                }
            }
        }
        Ok(out)
    }

    /// Perplexity of `tokens` with context `n_ctx`; `on_chunk` sees the running figures after each chunk.
    pub fn perplexity(
        &self,
        tokens: &[u32],
        n_ctx: usize,
        mut on_chunk: impl FnMut(&Perplexity),
    ) -> Result<Perplexity, EngineError> {
        if n_ctx < 4 || n_ctx > self.model.n_ctx_train() {
            return Err(EngineError::BadContext {
                requested: n_ctx,
                max: self.model.n_ctx_train(),
            });
        }
        if tokens.len() < 2 * n_ctx {
            return Err(EngineError::TextTooShort {
                tokens: tokens.len(),
                needed: 2 * n_ctx,
            });
        }
        let first = n_ctx / 2;
        let bos = self
            .tokenizer
            .bos_id()
            .filter(|_| self.tokenizer.adds_bos());
        let mut cache = self.model.new_cache(n_ctx);
        let mut scratch = Scratch::default();
        let mut logits = Vec::new();
        let mut chunk = vec![0u32; n_ctx];
        let vocab = self.model.vocab_size();
        let mut acc = Perplexity {
            chunks: 0,
            scored: 0,
            nll: 0.0,
        };
        for c in 0..tokens.len() / n_ctx {
            chunk.copy_from_slice(&tokens[c * n_ctx..(c + 1) * n_ctx]);
            if let Some(b) = bos {
                chunk[0] = b;
            }
            cache.truncate(0);
            // Logits for positions first..n_ctx-1; the last one predicts past the chunk and is not scored.
            for part in (0..n_ctx).step_by(super::generate::PREFILL_CHUNK) {
                let end = (part + super::generate::PREFILL_CHUNK).min(n_ctx);
                let from = first.saturating_sub(part).min(end - part);
                self.model.forward(
                    &self.pool,
                    &chunk[part..end],
                    &mut cache,
                    &mut scratch,
                    from,
                    &mut logits,
                )?;
                let pos0 = part + from;
                for (j, row) in logits.chunks_exact(vocab).enumerate() {
                    let pos = pos0 + j;
                    if pos + 1 < n_ctx {
                        acc.nll -= log_softmax_at(row, chunk[pos + 1] as usize);
                        acc.scored += 1;
                    }
                }
            }
            acc.chunks += 1;
            on_chunk(&acc);
        }
        Ok(acc)
    }
}
