//! Running a model: loading, the continuous-batching step loop and its scheduler thread, perplexity.

pub mod batcher;
pub mod beam;
pub mod generate;
mod hf_folder;
pub mod inspect;
pub mod load;
pub mod perplexity;
mod prefix_cache;
pub mod scheduler;
mod sequence;
pub mod sink;
pub mod stop;

pub use batcher::{BatchConfig, BatchStats, Batcher};
pub use generate::{Completion, Engine, FinishReason, Flow, Generation, Piece, Timings};
pub use inspect::{inspect, ModelInfo};
pub use load::{hf_folder, load_gguf, load_model, LoadError};
pub use perplexity::Perplexity;
pub use scheduler::Scheduler;
pub use sink::Sink;

use crate::model::ModelError;
use crate::tokenizer::TokenizerError;

/// Why a generation request failed after validation.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The forward pass refused the input.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The prompt could not be tokenized.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// An empty prompt for a model without BOS.
    #[error("empty prompt, and the model has no BOS token to start from")]
    EmptyPrompt,
    /// The prompt fills the whole context.
    #[error("prompt of {tokens} tokens does not fit the model's context of {context} tokens")]
    PromptTooLong {
        /// Prompt tokens.
        tokens: usize,
        /// Context length.
        context: usize,
    },
    /// A context size outside what the model supports.
    #[error("context size {requested} is outside [4, {max}]")]
    BadContext {
        /// Requested.
        requested: usize,
        /// The model's trained context.
        max: usize,
    },
    /// The request's KV reservation exceeds the whole KV cache budget.
    #[error(
        "the request needs {need} KV cache positions ({sequences} sequence(s) × (prompt + max new tokens)) \
         but the KV cache holds {budget}; lower max_tokens or n, or raise --kv-cache-mb"
    )]
    KvBudget {
        /// Positions the request would reserve.
        need: usize,
        /// Sequences it decodes at once (n or beams).
        sequences: usize,
        /// The whole budget.
        budget: usize,
    },
    /// The request was cancelled (its receiver went away).
    #[error("the request was cancelled")]
    Cancelled,
    /// A batched forward pass failed.
    #[error("the forward pass failed: {0}")]
    Step(String),
    /// The scheduler has stopped.
    #[error("the scheduler is not running")]
    Stopped,
    /// Not enough text for perplexity.
    #[error("the text has {tokens} tokens; perplexity needs at least {needed} (2 × context)")]
    TextTooShort {
        /// Tokens in the text.
        tokens: usize,
        /// Tokens needed.
        needed: usize,
    },
}
