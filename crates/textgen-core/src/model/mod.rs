//! Model architectures: configs, weights and forward passes (stateless; sequence state lives in `KvCache`).

pub mod batch;
pub mod config;
pub mod dispatch;
pub mod gpt2;
pub mod gpt2_hf;
pub mod hf_config;
pub mod hf_tensors;
pub mod kv_cache;
pub mod llama;
pub mod rope;
mod tensors;

pub use batch::{BatchItem, Scratch};
pub use config::LlamaConfig;
pub use dispatch::{supported_architectures, Model};
pub use gpt2::{Gpt2, Gpt2Config};
pub use hf_config::{HfConfig, HF_ARCHITECTURES};
pub use kv_cache::{KvCache, KvShape};
pub use llama::Llama;
pub use rope::{RopeScaling, RopeStyle};

use crate::weights::{GgufError, MissingTensor, SafetensorsError};

/// Why a model cannot be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is unreadable or malformed.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A safetensors checkpoint is unreadable or malformed.
    #[error(transparent)]
    Safetensors(#[from] SafetensorsError),
    /// A tensor the architecture needs is absent.
    #[error(transparent)]
    MissingTensor(#[from] MissingTensor),
    /// The file's architecture is not implemented.
    #[error("unsupported architecture '{arch}' (supported: {supported})")]
    UnsupportedArchitecture {
        /// What the file says.
        arch: String,
        /// What this build supports.
        supported: String,
    },
    /// Hyper-parameters that cannot describe a working model.
    #[error("invalid model config: {0}")]
    BadConfig(String),
    /// A tensor with the wrong shape for the config.
    #[error("tensor '{name}' has shape {got:?}, expected {expected:?}")]
    BadTensorShape {
        /// Tensor name.
        name: String,
        /// Expected dims (GGML order).
        expected: Vec<usize>,
        /// Actual dims.
        got: Vec<usize>,
    },
    /// A token id not in the vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    TokenOutOfRange {
        /// The id.
        id: u32,
        /// Vocabulary size.
        vocab: usize,
    },
    /// The sequence would exceed its KV cache.
    #[error("context full: {need} tokens do not fit in a context of {capacity}")]
    ContextFull {
        /// Tokens the sequence would hold.
        need: usize,
        /// Cache capacity.
        capacity: usize,
    },
}
