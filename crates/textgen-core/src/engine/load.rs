//! Opening a model: a GGUF file or a Hugging Face folder, weights and tokenizer together.

use super::hf_folder::load_hf_folder;
use crate::model::{Model, ModelError};
use crate::tokenizer::{Tokenizer, TokenizerError};
use crate::weights::{quantize_set, Gguf, Quantize};
use std::path::{Path, PathBuf};

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No file or folder at the path.
    #[error("model not found: {0}")]
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

/// Loads a model: a Hugging Face folder (or its `config.json`), else a GGUF file. With `quantize`, float
/// weight matrices are quantized at load time.
pub fn load_model(
    path: &Path,
    quantize: Option<Quantize>,
) -> Result<(Model, Tokenizer), LoadError> {
    match hf_folder(path) {
        Some(dir) => load_hf_folder(&dir, quantize),
        None => load_gguf_with(path, quantize),
    }
}

/// The Hugging Face model folder `path` names: the folder itself, or the one holding a `config.json` file.
pub fn hf_folder(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        Some(path.to_path_buf())
    } else if path.ends_with("config.json") && path.is_file() {
        Some(path.parent().unwrap_or(Path::new(".")).to_path_buf())
    } else {
        None
    }
}

/// Loads a GGUF model and its embedded tokenizer (weights are memory-mapped, not copied).
pub fn load_gguf(path: &Path) -> Result<(Model, Tokenizer), LoadError> {
    load_gguf_with(path, None)
}

fn load_gguf_with(
    path: &Path,
    quantize: Option<Quantize>,
) -> Result<(Model, Tokenizer), LoadError> {
    if !path.is_file() {
        return Err(LoadError::NotFound(path.to_path_buf()));
    }
    let model_err = |source: ModelError| LoadError::Model {
        path: path.to_path_buf(),
        source,
    };
    let gguf = Gguf::open(path).map_err(|e| model_err(e.into()))?;
    let model = match quantize {
        None => Model::from_gguf(&gguf),
        Some(q) => Model::from_gguf_tensors(&gguf, &quantize_set(&gguf, q)),
    }
    .map_err(model_err)?;
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
