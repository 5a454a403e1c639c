//! Running a model: loading, the generation loop, perplexity.

pub mod beam;
pub mod generate;
pub mod load;
pub mod perplexity;
pub mod stop;

pub use generate::{Completion, Engine, FinishReason, Flow, Generation, Piece, Timings};
pub use load::{load_gguf, LoadError};
pub use perplexity::Perplexity;

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
    /// Not enough text for perplexity.
    #[error("the text has {tokens} tokens; perplexity needs at least {needed} (2 × context)")]
    TextTooShort {
        /// Tokens in the text.
        tokens: usize,
        /// Tokens needed.
        needed: usize,
    },
}
