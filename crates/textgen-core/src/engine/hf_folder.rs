//! Opening a Hugging Face model folder: `config.json`, safetensors weights, tokenizer files and the
//! end-of-generation ids of `generation_config.json`.

use super::load::LoadError;
use crate::model::hf_tensors::gguf_names;
use crate::model::{HfConfig, Llama, ModelError};
use crate::tokenizer::Tokenizer;
use crate::weights::{quantize_set, Quantize, SafeTensors, TensorSet};
use serde_json::Value;
use std::path::Path;

/// A JSON file of the folder, parsed (unreadable or invalid files are config errors naming the file).
pub(super) fn read_json(path: &Path) -> Result<Value, ModelError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ModelError::BadConfig(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| ModelError::BadConfig(format!("{} is not valid JSON: {e}", path.display())))
}

/// The `eos_token_id` (one id or a list) of the folder's `generation_config.json`, if any.
fn generation_eos(dir: &Path) -> Result<Vec<u32>, ModelError> {
    let path = dir.join("generation_config.json");
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let ids = match read_json(&path)?.get("eos_token_id") {
        Some(Value::Array(a)) => a.clone(),
        Some(v @ Value::Number(_)) => vec![v.clone()],
        _ => Vec::new(),
    };
    Ok(ids
        .iter()
        .filter_map(Value::as_u64)
        .filter_map(|i| u32::try_from(i).ok())
        .collect())
}

/// The model of a folder: weights renamed to the GGUF layout (and quantized when asked).
fn model(dir: &Path, quantize: Option<Quantize>) -> Result<Llama, ModelError> {
    let cfg = HfConfig::parse(&read_json(&dir.join("config.json"))?)?;
    let st = SafeTensors::open_dir(dir)?;
    let named = gguf_names(&cfg, &st)?;
    let tensors: &dyn TensorSet = &named;
    let quantized = quantize.map(|q| quantize_set(tensors, q));
    let model = Llama::from_tensors(cfg.llama.clone(), quantized.as_ref().map_or(tensors, |q| q))?;
    if model.cfg.vocab_size != cfg.llama.vocab_size {
        return Err(ModelError::BadConfig(format!(
            "config.json vocab_size {} but the embedding has {} rows",
            cfg.llama.vocab_size, model.cfg.vocab_size
        )));
    }
    Ok(model)
}

/// Loads a Hugging Face model folder (weights memory-mapped; copied only when `quantize` asks for it).
pub fn load_hf_folder(
    dir: &Path,
    quantize: Option<Quantize>,
) -> Result<(Llama, Tokenizer), LoadError> {
    let model_err = |source: ModelError| LoadError::Model {
        path: dir.to_path_buf(),
        source,
    };
    let model = model(dir, quantize).map_err(model_err)?;
    let mut tokenizer = Tokenizer::from_hf_dir(dir).map_err(|source| LoadError::Tokenizer {
        path: dir.to_path_buf(),
        source,
    })?;
    tokenizer.add_eog(generation_eos(dir).map_err(model_err)?);
    if tokenizer.vocab_size() > model.cfg.vocab_size {
        return Err(model_err(ModelError::BadConfig(format!(
            "tokenizer has {} tokens but the embedding only {} rows",
            tokenizer.vocab_size(),
            model.cfg.vocab_size
        ))));
    }
    Ok((model, tokenizer))
}
