//! Builds a Hugging Face `tokenizer.json` document from a GGUF file's `tokenizer.ggml.*` metadata.

use super::TokenizerError;
use crate::weights::{Gguf, MetaValue};
use serde_json::{json, Value};

/// GGUF token types (llama.cpp's `llama_token_type`).
const TYPE_CONTROL: i128 = 3;
const TYPE_USER_DEFINED: i128 = 4;

const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// `tokenizer.ggml.pre` values this build knows how to pre-tokenize.
pub const SUPPORTED_PRE: &[&str] = &[
    "default",
    "gpt-2",
    "smollm",
    "starcoder",
    "refact",
    "codeshell",
    "llama3",
    "llama-bpe",
    "qwen2",
];

/// What the tokenizer needs besides the `tokenizer.json` document.
pub struct GgufVocab {
    /// The tokenizer document.
    pub json: Value,
    /// Token spellings, by id.
    pub tokens: Vec<String>,
    /// Control/user-defined flags, by id: (is_special, is_added).
    pub kinds: Vec<(bool, bool)>,
    /// Beginning-of-sequence id.
    pub bos: Option<u32>,
    /// Whether prompts start with BOS.
    pub add_bos: bool,
    /// End-of-sequence id.
    pub eos: Option<u32>,
    /// Ids that end generation.
    pub eog: Vec<u32>,
}

fn byte_level(use_regex: bool) -> Value {
    json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex})
}

fn split(regex: &str) -> Value {
    json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false})
}

fn pre_tokenizer(pre: &str) -> Result<Value, TokenizerError> {
    Ok(match pre {
        "default" | "gpt-2" => byte_level(true),
        "smollm" | "starcoder" | "refact" | "codeshell" => {
            json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level(true)]})
        }
        "llama3" | "llama-bpe" => {
            json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level(false)]})
        }
        "qwen2" => {
            json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level(false)]})
        }
        other => {
            return Err(TokenizerError::Unsupported(format!(
                "pre-tokenizer '{other}' (supported: {})",
                SUPPORTED_PRE.join(", ")
            )))
        }
    })
}

fn strings(g: &Gguf, key: &str) -> Result<Vec<String>, TokenizerError> {
    g.get_array(key)?
        .iter()
        .map(|v| match v {
            MetaValue::Str(s) => Ok(s.clone()),
            _ => Err(TokenizerError::Invalid(format!("{key} holds a non-string"))),
        })
        .collect()
}

fn opt_id(g: &Gguf, key: &str, n: usize) -> Result<Option<u32>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(MetaValue::Int(i)) if *i >= 0 && (*i as usize) < n => Ok(Some(*i as u32)),
        // llama.cpp writes -1 / out-of-range for "none"; treat it so.
        Some(MetaValue::Int(_)) => Ok(None),
        Some(v) => Err(TokenizerError::Invalid(format!(
            "{key} is {v:?}, expected a token id"
        ))),
    }
}

/// Token texts that end a turn in common chat formats (llama.cpp treats them as end-of-generation too).
const EOG_TEXTS: &[&str] = &[
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<end_of_turn>",
    "<|end|>",
    "</s>",
];

/// Whether a special token's text marks the end of a turn or document.
pub fn is_eog_text(text: &str) -> bool {
    EOG_TEXTS.contains(&text)
}

/// Reads the GGUF vocabulary (tokenizer model `gpt2`, byte-level BPE).
pub fn from_gguf(g: &Gguf) -> Result<GgufVocab, TokenizerError> {
    let model = g.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(TokenizerError::Unsupported(format!(
            "GGUF tokenizer model '{model}' (supported: gpt2)"
        )));
    }
    let pre = match g.get("tokenizer.ggml.pre") {
        Some(_) => g.get_str("tokenizer.ggml.pre")?.to_string(),
        None => "default".to_string(),
    };
    let tokens = strings(g, "tokenizer.ggml.tokens")?;
    let n = tokens.len();
    let types: Vec<i128> = match g.get("tokenizer.ggml.token_type") {
        Some(_) => g
            .get_array("tokenizer.ggml.token_type")?
            .iter()
            .map(|v| match v {
                MetaValue::Int(i) => Ok(*i),
                _ => Err(TokenizerError::Invalid(
                    "token_type holds a non-integer".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        None => vec![1; n],
    };
    if types.len() != n {
        return Err(TokenizerError::Invalid(format!(
            "{} token types for {n} tokens",
            types.len()
        )));
    }
    let merges = strings(g, "tokenizer.ggml.merges")?;
    let bos = opt_id(g, "tokenizer.ggml.bos_token_id", n)?;
    let add_bos = match g.get("tokenizer.ggml.add_bos_token") {
        Some(_) => g.get_bool("tokenizer.ggml.add_bos_token")?,
        None => false,
    };
    let eos = opt_id(g, "tokenizer.ggml.eos_token_id", n)?;
    let mut eog = Vec::new();
    for key in ["eos_token_id", "eot_token_id", "eom_token_id"] {
        if let Some(id) = opt_id(g, &format!("tokenizer.ggml.{key}"), n)? {
            eog.push(id);
        }
    }

    let mut vocab = serde_json::Map::with_capacity(n);
    let mut added = Vec::new();
    let mut kinds = Vec::with_capacity(n);
    for (id, (tok, &ty)) in tokens.iter().zip(&types).enumerate() {
        vocab.insert(tok.clone(), json!(id));
        let special = ty == TYPE_CONTROL;
        let is_added = special || ty == TYPE_USER_DEFINED;
        kinds.push((special, is_added));
        if is_added {
            added.push(
                json!({"id": id, "content": tok, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": special}),
            );
        }
        if special && is_eog_text(tok) && !eog.contains(&(id as u32)) {
            eog.push(id as u32);
        }
    }
    let post = match (add_bos, bos) {
        (true, Some(b)) => {
            let t = &tokens[b as usize];
            json!({"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": t, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": t, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {t: {"id": t, "ids": [b], "tokens": [t]}}})
        }
        _ => Value::Null,
    };
    let json = json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer(&pre)?,
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": matches!(pre.as_str(), "llama3" | "llama-bpe"),
            "vocab": vocab, "merges": merges},
    });
    Ok(GgufVocab {
        json,
        tokens,
        kinds,
        bos,
        add_bos,
        eos,
        eog,
    })
}
