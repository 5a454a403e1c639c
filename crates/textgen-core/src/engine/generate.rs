//! Generation requests and results, and `Engine::generate`: one request run to completion through the same
//! step loop the server batches many requests with (`batcher`).

use super::batcher::{BatchConfig, Batcher};
use super::sink::CallbackSink;
use super::EngineError;
use crate::kernels::Pool;
use crate::model::{KvCache, Model, Scratch};
use crate::sampling::{Choice, GenerationParams};
use crate::tokenizer::Tokenizer;
use std::time::Duration;

/// Prompt tokens processed per forward pass (bounds scratch memory for long prompts).
pub const PREFILL_CHUNK: usize = 512;

/// Why a completion ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    Eos,
    /// A stop string was generated.
    Stop,
    /// `max_new_tokens` reached, or the context is full.
    Length,
    /// The caller asked to stop.
    Cancelled,
}

impl FinishReason {
    /// The name used in outputs (`eos`, `stop`, `length`, `cancelled`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eos => "eos",
            Self::Stop => "stop",
            Self::Length => "length",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Wall-clock timings of one generation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Prompt processing (prefill, done once for all completions).
    pub prompt: Duration,
    /// Token generation after the prompt, all completions.
    pub generation: Duration,
}

/// One generated sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// Generated token ids (including a final end-of-generation token, if any).
    pub tokens: Vec<u32>,
    /// Generated text (special tokens omitted, cut before a stop string).
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Per token: chosen id's log-probability and the top alternatives (when requested).
    pub logprobs: Vec<Choice>,
    /// Beam search: the sequence score (sum of log-probabilities / length^length_penalty).
    pub score: Option<f32>,
}

/// The result of one request.
#[derive(Clone, Debug)]
pub struct Generation {
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// The completions (n, or num_return_sequences for beam search), in order.
    pub completions: Vec<Completion>,
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

/// One step of completion `index`: a generated token and the text that became final with it.
#[derive(Clone, Copy, Debug)]
pub struct Piece<'a> {
    /// Which completion.
    pub index: usize,
    /// New text (complete UTF-8, never part of a stop string; may be empty).
    pub text: &'a str,
    /// The token just generated (`None` for text released at the end).
    pub token: Option<u32>,
    /// Its log-probability, when logprobs were requested.
    pub logprob: Option<f32>,
}

/// A model, its tokenizer and the worker threads that compute it.
pub struct Engine {
    /// The model.
    pub model: Model,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Worker threads.
    pub pool: Pool,
}

impl Engine {
    /// Wraps a loaded model with a pool of `threads` threads.
    pub fn new(model: Model, tokenizer: Tokenizer, threads: usize) -> Self {
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

    /// Tokenizes a rendered chat prompt as transformers does: no special tokens are added (a template
    /// writes BOS itself when its model wants one).
    pub fn encode_chat(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        Ok(self.tokenizer.encode(text, false)?)
    }

    /// Runs `tokens` through the model in chunks; leaves the logits of the last token in `logits`.
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

    /// How many new tokens fit after a prompt of `prompt_len` tokens: `max_new_tokens` capped by the
    /// context.
    pub fn budget_for(
        &self,
        prompt_len: usize,
        params: &GenerationParams,
    ) -> Result<usize, EngineError> {
        let n_ctx = self.model.n_ctx_train();
        if prompt_len == 0 {
            return Err(EngineError::EmptyPrompt);
        }
        if prompt_len >= n_ctx {
            return Err(EngineError::PromptTooLong {
                tokens: prompt_len,
                context: n_ctx,
            });
        }
        Ok(params.max_new_tokens.min(n_ctx - prompt_len))
    }

    /// Generates the completions of `prompt` (token ids) for validated `params`, calling `on_piece` with
    /// each new piece of text of each completion. The prompt is prefilled once for all completions.
    pub fn generate(
        &self,
        prompt: &[u32],
        params: &GenerationParams,
        on_piece: impl FnMut(Piece) -> Flow,
    ) -> Result<Generation, EngineError> {
        let mut sink = CallbackSink {
            on_piece,
            result: None,
        };
        let mut batcher = Batcher::new(self, BatchConfig::unbounded());
        batcher.submit(prompt.to_vec(), params.clone(), Box::new(&mut sink));
        while !batcher.is_idle() {
            batcher.step();
        }
        drop(batcher);
        sink.result.unwrap_or(Err(EngineError::Cancelled))
    }
}
