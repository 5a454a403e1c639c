//! What a model is, without building it: format, architecture, parameter count, tensor types, context,
//! vocabulary and chat template (for `textgen inspect`).

use super::hf_folder::read_json;
use super::load::{hf_folder, LoadError};
use crate::model::ModelError;
use crate::tokenizer::{Tokenizer, TokenizerError};
use crate::weights::{Gguf, SafeTensors, TensorInfo};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A model's description.
#[derive(Debug, Serialize)]
pub struct ModelInfo {
    /// `GGUF vN` or `safetensors (N files)`.
    pub format: String,
    /// GGUF `general.architecture` or the first of `config.json`'s `architectures`.
    pub architecture: String,
    /// Number of weights (elements of every tensor).
    pub parameters: u64,
    /// Tensor count per element type.
    pub tensor_types: BTreeMap<String, usize>,
    /// Trained context length, when the file states one.
    pub context_length: Option<u64>,
    /// Token ids of the tokenizer.
    pub vocab_size: usize,
    /// Tokenizer algorithm, e.g. `BPE (byte-level)`.
    pub tokenizer: String,
    /// BOS token text, if any.
    pub bos_token: Option<String>,
    /// EOS token text, if any.
    pub eos_token: Option<String>,
    /// Texts of the tokens that end generation.
    pub end_of_generation: Vec<String>,
    /// Whether prompts start with BOS.
    pub adds_bos: bool,
    /// The chat template (Jinja), if the model ships one.
    pub chat_template: Option<String>,
}

fn model_err(path: &Path, source: ModelError) -> LoadError {
    LoadError::Model {
        path: path.to_path_buf(),
        source,
    }
}

fn tok_err(path: &Path, source: TokenizerError) -> LoadError {
    LoadError::Tokenizer {
        path: path.to_path_buf(),
        source,
    }
}

/// Describes the GGUF file or Hugging Face folder (or its `config.json`) at `path`.
pub fn inspect(path: &Path) -> Result<ModelInfo, LoadError> {
    match hf_folder(path) {
        Some(d) => inspect_hf(&d),
        None if path.is_file() => inspect_gguf(path),
        None => Err(LoadError::NotFound(path.to_path_buf())),
    }
}

fn inspect_gguf(path: &Path) -> Result<ModelInfo, LoadError> {
    let g = Gguf::open(path).map_err(|e| model_err(path, e.into()))?;
    let arch = g
        .get_str("general.architecture")
        .map_err(|e| model_err(path, e.into()))?
        .to_string();
    let tok = Tokenizer::from_gguf(&g).map_err(|e| tok_err(path, e))?;
    let kind = match g.get_str("tokenizer.ggml.model") {
        Ok("gpt2") => "BPE (byte-level, GGUF vocabulary)".to_string(),
        Ok("llama") => "SentencePiece BPE (byte fallback, GGUF vocabulary)".to_string(),
        Ok(other) => format!("{other} (GGUF vocabulary)"),
        Err(_) => "unknown".to_string(),
    };
    let context = g
        .get_usize(&format!("{arch}.context_length"))
        .ok()
        .map(|c| c as u64);
    Ok(describe(
        format!("GGUF v{}", g.version),
        arch,
        &g.tensors,
        context,
        &tok,
        kind,
    ))
}

fn inspect_hf(dir: &Path) -> Result<ModelInfo, LoadError> {
    let cfg = read_json(&dir.join("config.json")).map_err(|e| model_err(dir, e))?;
    let arch = cfg
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let st = SafeTensors::open_dir(dir).map_err(|e| model_err(dir, e.into()))?;
    let files = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .filter(|f| f.path().extension().is_some_and(|x| x == "safetensors"))
                .count()
        })
        .unwrap_or(0);
    let tok = Tokenizer::from_hf_dir(dir).map_err(|e| tok_err(dir, e))?;
    let tj = read_json(&dir.join("tokenizer.json")).map_err(|e| model_err(dir, e))?;
    let model_type = tj["model"]["type"].as_str().unwrap_or("unknown");
    let kind = if tj["decoder"].to_string().contains("ByteLevel") {
        format!("{model_type} (byte-level)")
    } else if tj["model"]["byte_fallback"].as_bool() == Some(true) {
        format!("{model_type} (SentencePiece-style, byte fallback)")
    } else {
        model_type.to_string()
    };
    Ok(describe(
        format!(
            "safetensors ({files} file{})",
            if files == 1 { "" } else { "s" }
        ),
        arch,
        st.tensors(),
        cfg.get("max_position_embeddings")
            .or_else(|| cfg.get("n_positions")) // GPT-2
            .and_then(Value::as_u64),
        &tok,
        kind,
    ))
}

fn describe(
    format: String,
    architecture: String,
    tensors: &[TensorInfo],
    context_length: Option<u64>,
    tok: &Tokenizer,
    tokenizer: String,
) -> ModelInfo {
    let mut tensor_types = BTreeMap::new();
    for t in tensors {
        *tensor_types.entry(t.ty.name().to_string()).or_insert(0) += 1;
    }
    ModelInfo {
        format,
        architecture,
        parameters: tensors.iter().map(|t| t.elems() as u64).sum(),
        tensor_types,
        context_length,
        vocab_size: tok.vocab_size(),
        tokenizer,
        bos_token: tok.bos_id().map(|id| tok.token_text(id)),
        eos_token: tok.eos_id().map(|id| tok.token_text(id)),
        end_of_generation: tok.eog_ids().iter().map(|&id| tok.token_text(id)).collect(),
        adds_bos: tok.adds_bos(),
        chat_template: tok.chat_template().map(str::to_string),
    }
}
