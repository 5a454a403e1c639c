//! One completion being generated: its tokens, streaming detokenizer, stop-string matcher and result.

use super::generate::{Completion, FinishReason, Flow, Piece};
use super::sink::Sink;
use super::stop::StopMatcher;
use crate::sampling::GenerationParams;
use crate::tokenizer::{StreamDecoder, Tokenizer};

/// Decoding state of one completion.
pub(crate) struct Sequence {
    /// Which completion of its request.
    pub index: usize,
    /// Prompt length (the first `prompt_len` entries of `tokens`).
    pub prompt_len: usize,
    /// Prompt and generated ids.
    pub tokens: Vec<u32>,
    decoder: StreamDecoder,
    stop: StopMatcher,
    /// The completion so far.
    pub out: Completion,
}

impl Sequence {
    /// A completion of `prompt` with room for `budget` new tokens.
    pub fn new(index: usize, prompt: &[u32], params: &GenerationParams, budget: usize) -> Self {
        let mut tokens = Vec::with_capacity(prompt.len() + budget);
        tokens.extend_from_slice(prompt);
        Self {
            index,
            prompt_len: prompt.len(),
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

    /// Appends token `id`, streams its text; returns false when the completion is over (end-of-generation
    /// token, stop string, or the sink asked to stop).
    pub fn accept(&mut self, tok: &Tokenizer, eog: &[u32], id: u32, sink: &mut dyn Sink) -> bool {
        self.tokens.push(id);
        self.out.tokens.push(id);
        let logprob = self
            .out
            .logprobs
            .last()
            .filter(|c| c.id == id)
            .and_then(|c| c.logprob);
        let mut emit = String::new();
        let mut go_on = true;
        if eog.contains(&id) {
            self.out.finish_reason = FinishReason::Eos;
            go_on = false;
        } else if !tok.is_special(id) {
            let text = self.decoder.push(tok.token_bytes(id));
            let (e, hit) = self.stop.push(&text);
            if hit {
                self.out.finish_reason = FinishReason::Stop;
                go_on = false;
            }
            self.out.text.push_str(&e);
            emit = e;
        }
        let piece = Piece {
            index: self.index,
            text: &emit,
            token: Some(id),
            logprob,
        };
        if sink.piece(piece) == Flow::Stop && go_on {
            self.out.finish_reason = FinishReason::Cancelled;
            return false;
        }
        go_on
    }

    /// Releases held-back text at the end of the completion (unless a stop string cut it).
    pub fn flush(&mut self, sink: &mut dyn Sink) {
        if self.out.finish_reason == FinishReason::Stop {
            return;
        }
        let tail = self.decoder.flush();
        let (mut emit, hit) = self.stop.push(&tail);
        if hit {
            self.out.finish_reason = FinishReason::Stop;
        } else {
            emit.push_str(&self.stop.finish());
        }
        if !emit.is_empty() {
            self.out.text.push_str(&emit);
            sink.piece(Piece {
                index: self.index,
                text: &emit,
                token: None,
                logprob: None,
            });
        }
    }
}

/// Turns a finished beam hypothesis into completion `index` (text, stop strings, finish reason), streaming
/// its pieces.
pub(crate) fn beam_completion(
    tok: &Tokenizer,
    index: usize,
    tokens: &[u32],
    score: f32,
    params: &GenerationParams,
    eog: &[u32],
    sink: &mut dyn Sink,
) -> Completion {
    let mut seq = Sequence::new(index, &[], params, tokens.len());
    for &id in tokens {
        if !seq.accept(tok, eog, id, sink) {
            break;
        }
    }
    seq.flush(sink);
    seq.out.score = Some(score);
    seq.out
}
