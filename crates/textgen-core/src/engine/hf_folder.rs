//! Opening a Hugging Face model folder: `config.json`, safetensors weights, tokenizer files and the
//! end-of-generation ids of `generation_config.json`.

use super::load::LoadError;
use crate::model::gpt2::Gpt2;
use crate::model::gpt2_hf::{HfGpt2, HF_GPT2};
use crate::model::hf_tensors::gguf_names;
use crate::model::{HfConfig, Llama, Model, ModelError, HF_ARCHITECTURES};
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

/// A parsed `config.json` of one of the supported architectures.
enum Config {
    Llama(HfConfig),
    Gpt2(HfGpt2),
}

impl Config {
    /// Parses `config.json`, dispatching on its first `architectures` entry.
    fn parse(json: &Value) -> Result<Self, ModelError> {
        let arch = json
            .get("architectures")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str);
        if arch == Some(HF_GPT2) {
            return Ok(Self::Gpt2(HfGpt2::parse(json)?));
        }
        HfConfig::parse(json).map(Self::Llama).map_err(|e| match e {
            ModelError::UnsupportedArchitecture { arch, .. } => {
                ModelError::UnsupportedArchitecture {
                    arch,
                    supported: [HF_ARCHITECTURES, &[HF_GPT2]].concat().join(", "),
                }
            }
            e => e,
        })
    }
}

/// The model of a folder: weights renamed to the GGUF layout (and quantized when asked).
fn model(dir: &Path, quantize: Option<Quantize>) -> Result<Model, ModelError> {
    let cfg = Config::parse(&read_json(&dir.join("config.json"))?)?;
    let st = SafeTensors::open_dir(dir)?;
    let (named, vocab_size) = match &cfg {
        Config::Llama(c) => (gguf_names(c, &st)?, c.llama.vocab_size),
        Config::Gpt2(c) => (c.gguf_names(&st)?, c.cfg.vocab_size),
    };
    let tensors: &dyn TensorSet = &named;
    let quantized = quantize.map(|q| quantize_set(tensors, q));
    let tensors = quantized.as_ref().map_or(tensors, |q| q);
    let model = match cfg {
        Config::Llama(c) => Model::Llama(Llama::from_tensors(c.llama, tensors)?),
        Config::Gpt2(c) => Model::Gpt2(Gpt2::from_tensors(c.cfg, tensors)?),
    };
    if model.vocab_size() != vocab_size {
        return Err(ModelError::BadConfig(format!(
            "config.json vocab_size {vocab_size} but the embedding has {} rows",
            model.vocab_size()
        )));
    }
    Ok(model)
}

/// Loads a Hugging Face model folder (weights memory-mapped; copied only when `quantize` asks for it).
pub fn load_hf_folder(
    dir: &Path,
    quantize: Option<Quantize>,
) -> Result<(Model, Tokenizer), LoadError> {
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
    if tokenizer.vocab_size() > model.vocab_size() {
        return Err(model_err(ModelError::BadConfig(format!(
            "tokenizer has {} tokens but the embedding only {} rows",
            tokenizer.vocab_size(),
            model.vocab_size()
        ))));
    }
    Ok((model, tokenizer))
}
