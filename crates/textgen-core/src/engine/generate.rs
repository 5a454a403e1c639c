//! The generation loop: prefill the prompt once, then produce each completion token by token until a stop
//! condition (end-of-generation token, stop string, length, or the caller).

use super::beam::beam_search;
use super::stop::StopMatcher;
use super::EngineError;
use crate::kernels::Pool;
use crate::model::{KvCache, Llama, Scratch};
use crate::sampling::{Choice, Decoding, GenerationParams, Sampler};
use crate::tokenizer::{StreamDecoder, Tokenizer};
use std::time::{Duration, Instant};

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
    pub model: Llama,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Worker threads.
    pub pool: Pool,
}

/// Per-sequence decoding state shared by every token of one completion.
struct Sequence<'e> {
    eog: &'e [u32],
    prompt_len: usize,
    budget: usize,
    tokens: Vec<u32>,
    decoder: StreamDecoder,
    stop: StopMatcher,
    out: Completion,
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

    /// How many new tokens fit: `max_new_tokens` capped by the context.
    pub(crate) fn budget(
        &self,
        prompt: &[u32],
        params: &GenerationParams,
    ) -> Result<usize, EngineError> {
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
        Ok(params.max_new_tokens.min(n_ctx - prompt.len()))
    }

    /// Generates the completions of `prompt` (token ids) for validated `params`, calling `on_piece` with
    /// each new piece of text of each completion. The prompt is prefilled once for all completions.
    pub fn generate(
        &self,
        prompt: &[u32],
        params: &GenerationParams,
        mut on_piece: impl FnMut(Piece) -> Flow,
    ) -> Result<Generation, EngineError> {
        let budget = self.budget(prompt, params)?;
        let mut cache = self.model.new_cache(prompt.len() + budget);
        let mut scratch = Scratch::default();
        let mut logits = Vec::new();
        let t0 = Instant::now();
        if budget > 0 {
            self.prefill(prompt, &mut cache, &mut scratch, &mut logits)?;
        }
        let prompt_time = t0.elapsed();
        let t1 = Instant::now();
        let eog = params.eog_ids(self.tokenizer.eog_ids());
        let completions = if let Decoding::Beam(b) = &params.decoding {
            beam_search(
                self,
                prompt,
                params,
                b,
                &eog,
                budget,
                cache,
                logits,
                &mut scratch,
            )?
            .into_iter()
            .enumerate()
            .map(|(index, (tokens, score))| {
                self.finish_beam(index, tokens, score, params, &eog, budget, &mut on_piece)
            })
            .collect()
        } else {
            let mut out = Vec::with_capacity(params.n);
            for index in 0..params.n {
                let (mut c, mut l) = if index + 1 == params.n {
                    (
                        std::mem::replace(&mut cache, KvCache::empty()),
                        std::mem::take(&mut logits),
                    )
                } else {
                    (cache.clone(), logits.clone())
                };
                let seed = params.seed.wrapping_add(index as u64);
                let mut seq = self.new_sequence(prompt, params, &eog, budget);
                self.complete(
                    index,
                    &mut seq,
                    params,
                    seed,
                    &mut c,
                    &mut l,
                    &mut scratch,
                    &mut on_piece,
                )?;
                out.push(seq.out);
            }
            out
        };
        Ok(Generation {
            prompt_tokens: prompt.len(),
            completions,
            timings: Timings {
                prompt: prompt_time,
                generation: t1.elapsed(),
            },
        })
    }

    fn new_sequence<'e>(
        &self,
        prompt: &[u32],
        params: &GenerationParams,
        eog: &'e [u32],
        budget: usize,
    ) -> Sequence<'e> {
        let mut tokens = Vec::with_capacity(prompt.len() + budget);
        tokens.extend_from_slice(prompt);
        Sequence {
            eog,
            prompt_len: prompt.len(),
            budget,
            tokens,
            decoder: StreamDecoder::new(),
            stop: StopMatcher::new(&params.stop),
            out: Completion {
                tokens: Vec::with_capacity(budget),
                text: String::new(),
                finish_reason: FinishReason::Length,
                logprobs: Vec::new(),
                score: None,
            },
        }
    }

    /// Appends token `id` to `seq`, streams its text; returns false when the completion is over.
    fn accept(
        &self,
        index: usize,
        seq: &mut Sequence,
        id: u32,
        on_piece: &mut impl FnMut(Piece) -> Flow,
    ) -> bool {
        seq.tokens.push(id);
        seq.out.tokens.push(id);
        let logprob = seq
            .out
            .logprobs
            .last()
            .filter(|c| c.id == id)
            .and_then(|c| c.logprob);
        let mut emit = String::new();
        let mut go_on = true;
        if seq.eog.contains(&id) {
            seq.out.finish_reason = FinishReason::Eos;
            go_on = false;
        } else if !self.tokenizer.is_special(id) {
            let text = seq.decoder.push(self.tokenizer.token_bytes(id));
            let (e, hit) = seq.stop.push(&text);
            if hit {
                seq.out.finish_reason = FinishReason::Stop;
                go_on = false;
            }
            seq.out.text.push_str(&e);
            emit = e;
        }
        let piece = Piece {
            index,
            text: &emit,
            token: Some(id),
            logprob,
        };
        if on_piece(piece) == Flow::Stop && go_on {
            seq.out.finish_reason = FinishReason::Cancelled;
            return false;
        }
        go_on
    }

    /// Releases held-back text at the end of a completion (unless a stop string cut it).
    fn flush(&self, index: usize, seq: &mut Sequence, on_piece: &mut impl FnMut(Piece) -> Flow) {
        if seq.out.finish_reason == FinishReason::Stop {
            return;
        }
        let tail = seq.decoder.flush();
        let (mut emit, hit) = seq.stop.push(&tail);
        if hit {
            seq.out.finish_reason = FinishReason::Stop;
        } else {
            emit.push_str(&seq.stop.finish());
        }
        if !emit.is_empty() {
            seq.out.text.push_str(&emit);
            on_piece(Piece {
                index,
                text: &emit,
                token: None,
                logprob: None,
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn complete(
        &self,
        index: usize,
        seq: &mut Sequence,
        params: &GenerationParams,
        seed: u64,
        cache: &mut KvCache,
        logits: &mut Vec<f32>,
        scratch: &mut Scratch,
        on_piece: &mut impl FnMut(Piece) -> Flow,
    ) -> Result<(), EngineError> {
        let mut sampler = Sampler::new(params, seed);
        let budget = seq.budget;
        for step in 0..budget {
            let choice = sampler.choose(logits, &seq.tokens, seq.prompt_len, seq.eog);
            let id = choice.id;
            if params.logprobs.is_some() {
                seq.out.logprobs.push(choice);
            }
            if !self.accept(index, seq, id, on_piece) {
                break;
            }
            if step + 1 < budget {
                self.model
                    .forward(&self.pool, &[id], cache, scratch, 0, logits)?;
            }
        }
        self.flush(index, seq, on_piece);
        Ok(())
    }

    /// Turns a finished beam hypothesis into a completion (text, stop strings, finish reason).
    #[allow(clippy::too_many_arguments)]
    fn finish_beam(
        &self,
        index: usize,
        tokens: Vec<u32>,
        score: f32,
        params: &GenerationParams,
        eog: &[u32],
        budget: usize,
        on_piece: &mut impl FnMut(Piece) -> Flow,
    ) -> Completion {
        let mut seq = self.new_sequence(&[], params, eog, budget);
        for &id in &tokens {
            if !self.accept(index, &mut seq, id, on_piece) {
                break;
            }
        }
        self.flush(index, &mut seq, on_piece);
        seq.out.score = Some(score);
        seq.out
    }
}
