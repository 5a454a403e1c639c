//! Opening a model file: weights and tokenizer together.

use crate::model::{Model, ModelError};
use crate::tokenizer::{Tokenizer, TokenizerError};
use crate::weights::Gguf;
use std::path::{Path, PathBuf};

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No file at the path.
    #[error("model file not found: {0}")]
    NotFound(PathBuf),
    /// The weights are unusable.
    #[error("{path}: {source}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: ModelError,
    },
    /// The vocabulary is unusable.
    #[error("{path}: {source}")]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: TokenizerError,
    },
}

/// Loads a GGUF model and its embedded tokenizer (weights are memory-mapped, not copied).
pub fn load_gguf(path: &Path) -> Result<(Model, Tokenizer), LoadError> {
    if !path.is_file() {
        return Err(LoadError::NotFound(path.to_path_buf()));
    }
    let model_err = |source: ModelError| LoadError::Model {
        path: path.to_path_buf(),
        source,
    };
    let gguf = Gguf::open(path).map_err(|e| model_err(e.into()))?;
    let model = Model::from_gguf(&gguf).map_err(model_err)?;
    let tokenizer = Tokenizer::from_gguf(&gguf).map_err(|source| LoadError::Tokenizer {
        path: path.to_path_buf(),
        source,
    })?;
    if tokenizer.vocab_size() != model.vocab_size() {
        return Err(model_err(ModelError::BadConfig(format!(
            "tokenizer has {} tokens but the embedding has {} rows",
            tokenizer.vocab_size(),
            model.vocab_size()
        ))));
    }
    Ok((model, tokenizer))
}
