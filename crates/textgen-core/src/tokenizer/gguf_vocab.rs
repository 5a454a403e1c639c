//! Builds a Hugging Face `tokenizer.json` document from a GGUF file's `tokenizer.ggml.*` metadata: byte-level
//! BPE (`gpt2`) or SentencePiece BPE (`llama`, built as transformers' `LlamaTokenizer` builds it).

use super::{BpeTables, TokenizerError};
use crate::weights::{Gguf, MetaValue};
use serde_json::{json, Value};

/// GGUF token types (llama.cpp's `llama_token_type`).
const TYPE_UNKNOWN: i128 = 2;
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
    /// The tokenizer document, its BPE model without the vocabulary and merges (see `tables`).
    pub json: Value,
    /// The BPE model's vocabulary and merges.
    pub tables: BpeTables,
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
    /// Whether token spellings are byte-level characters (`gpt2`) rather than SentencePiece pieces.
    pub byte_level: bool,
    /// Whether decoding drops one leading space (SentencePiece's prefix space).
    pub strip_space: bool,
}

impl GgufVocab {
    /// The whole `tokenizer.json` document, vocabulary and merges included (as a Hugging Face folder has it).
    pub fn document(&self) -> Value {
        let mut doc = self.json.clone();
        let mut ids: Vec<(&String, &u32)> = self.tables.vocab.iter().collect();
        ids.sort_by_key(|(_, &id)| id);
        doc["model"]["vocab"] = Value::Object(
            ids.into_iter()
                .map(|(t, &id)| (t.clone(), json!(id)))
                .collect(),
        );
        doc["model"]["merges"] = self
            .tables
            .merges
            .iter()
            .map(|(a, b)| json!([a, b]))
            .collect();
        doc
    }
}

/// The tokenizer models (`tokenizer.ggml.model`) this build reads.
pub const SUPPORTED_MODELS: &[&str] = &["gpt2", "llama"];

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

fn opt_bool(g: &Gguf, key: &str, default: bool) -> Result<bool, TokenizerError> {
    match g.get(key) {
        Some(_) => Ok(g.get_bool(key)?),
        None => Ok(default),
    }
}

fn token_types(g: &Gguf, n: usize) -> Result<Vec<i128>, TokenizerError> {
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
    Ok(types)
}

fn scores(g: &Gguf, n: usize) -> Result<Vec<f64>, TokenizerError> {
    let scores: Vec<f64> = g
        .get_array("tokenizer.ggml.scores")?
        .iter()
        .map(|v| match v {
            MetaValue::Float(f) => Ok(*f),
            MetaValue::Int(i) => Ok(*i as f64),
            _ => Err(TokenizerError::Invalid("scores holds a non-number".into())),
        })
        .collect::<Result<_, _>>()?;
    if scores.len() != n {
        return Err(TokenizerError::Invalid(format!(
            "{} token scores for {n} tokens",
            scores.len()
        )));
    }
    Ok(scores)
}

/// The `post_processor` that adds BOS and/or EOS around a sequence (`null` when it adds nothing).
fn post_processor(tokens: &[String], bos: Option<u32>, eos: Option<u32>) -> Value {
    if bos.is_none() && eos.is_none() {
        return Value::Null;
    }
    let special = |id: u32| json!({"SpecialToken": {"id": tokens[id as usize], "type_id": 0}});
    let seq = |s: &str, t: u32| json!({"Sequence": {"id": s, "type_id": t}});
    let (head, tail): (Vec<Value>, Vec<Value>) = (
        bos.into_iter().map(special).collect(),
        eos.into_iter().map(special).collect(),
    );
    let single = [&head[..], &[seq("A", 0)], &tail[..]].concat();
    let pair = [&head[..], &[seq("A", 0), seq("B", 1)], &tail[..]].concat();
    let mut specials = serde_json::Map::new();
    for id in bos.into_iter().chain(eos) {
        let t = &tokens[id as usize];
        specials.insert(t.clone(), json!({"id": t, "ids": [id], "tokens": [t]}));
    }
    json!({"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials})
}

/// Merges implied by a SentencePiece BPE vocabulary, as transformers derives them (`generate_merges`):
/// every split of a piece into two pieces, best piece score first, then longer left and right parts, then
/// vocabulary order.
fn spm_merges(tokens: &[String], scores: &[f64]) -> Vec<(String, String)> {
    let mut index = std::collections::HashMap::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        index.insert(t.as_str(), i);
    }
    // Only splits into lengths some token has are looked up (keeps hostile long tokens cheap).
    let lens: std::collections::HashSet<usize> = tokens.iter().map(String::len).collect();
    let mut merges: Vec<(&str, &str, f64)> = Vec::new();
    for (i, piece) in tokens.iter().enumerate() {
        if index.get(piece.as_str()) != Some(&i) {
            continue; // a duplicate spelling: the last one stands for it
        }
        let mut local: Vec<(&str, &str, f64)> = piece
            .char_indices()
            .skip(1)
            .filter(|&(at, _)| lens.contains(&at) && lens.contains(&(piece.len() - at)))
            .map(|(at, _)| piece.split_at(at))
            .filter(|(l, r)| index.contains_key(l) && index.contains_key(r))
            .map(|(l, r)| (l, r, scores[i]))
            .collect();
        local.sort_by_key(|(l, r, _)| (index[l], index[r]));
        merges.extend(local);
    }
    let len = |s: &str| s.chars().count();
    merges.sort_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then(len(b.0).cmp(&len(a.0)))
            .then(len(b.1).cmp(&len(a.1)))
    });
    merges
        .into_iter()
        .map(|(l, r, _)| (l.to_string(), r.to_string()))
        .collect()
}

/// Reads the GGUF vocabulary (tokenizer model `gpt2`, byte-level BPE, or `llama`, SentencePiece BPE).
pub fn from_gguf(g: &Gguf) -> Result<GgufVocab, TokenizerError> {
    let model = g.get_str("tokenizer.ggml.model")?;
    if !SUPPORTED_MODELS.contains(&model) {
        return Err(TokenizerError::Unsupported(format!(
            "GGUF tokenizer model '{model}' (supported: {})",
            SUPPORTED_MODELS.join(", ")
        )));
    }
    let spm = model == "llama";
    let tokens = strings(g, "tokenizer.ggml.tokens")?;
    let n = tokens.len();
    let types = token_types(g, n)?;
    let bos = opt_id(g, "tokenizer.ggml.bos_token_id", n)?;
    let add_bos = opt_bool(g, "tokenizer.ggml.add_bos_token", spm)?;
    let eos = opt_id(g, "tokenizer.ggml.eos_token_id", n)?;
    let add_eos = opt_bool(g, "tokenizer.ggml.add_eos_token", false)?;
    let mut eog = Vec::new();
    for key in ["eos_token_id", "eot_token_id", "eom_token_id"] {
        if let Some(id) = opt_id(g, &format!("tokenizer.ggml.{key}"), n)? {
            eog.push(id);
        }
    }

    let vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, tok)| (tok.clone(), id as u32))
        .collect();
    let mut added = Vec::new();
    let mut kinds = Vec::with_capacity(n);
    for (id, (tok, &ty)) in tokens.iter().zip(&types).enumerate() {
        let special = ty == TYPE_CONTROL || ty == TYPE_UNKNOWN;
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
    let post = post_processor(&tokens, bos.filter(|_| add_bos), eos.filter(|_| add_eos));
    let prefix = spm && opt_bool(g, "tokenizer.ggml.add_space_prefix", true)?;
    let (json, merges) = if spm {
        let unk = opt_id(g, "tokenizer.ggml.unknown_token_id", n)?.or_else(|| {
            types
                .iter()
                .position(|&t| t == TYPE_UNKNOWN)
                .map(|i| i as u32)
        });
        let merges = spm_merges(&tokens, &scores(g, n)?);
        let mut decoders = vec![
            json!({"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "}),
            json!({"type": "ByteFallback"}),
            json!({"type": "Fuse"}),
        ];
        if prefix {
            decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
        }
        let doc = json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u{2581}",
                "prepend_scheme": if prefix { "first" } else { "never" }, "split": false},
            "post_processor": post,
            "decoder": {"type": "Sequence", "decoders": decoders},
            "model": {"type": "BPE", "dropout": null,
                "unk_token": unk.map(|u| tokens[u as usize].clone()),
                "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": true,
                "byte_fallback": true, "ignore_merges": false},
        });
        (doc, merges)
    } else {
        let pre = match g.get("tokenizer.ggml.pre") {
            Some(_) => g.get_str("tokenizer.ggml.pre")?.to_string(),
            None => "default".to_string(),
        };
        let merges = strings(g, "tokenizer.ggml.merges")?
            .into_iter()
            .enumerate()
            .map(|(i, m)| match m.split_once(' ') {
                Some((a, b)) if !b.contains(' ') => Ok((a.to_string(), b.to_string())),
                _ => Err(TokenizerError::Invalid(format!(
                    "tokenizer.ggml.merges[{i}] is not two tokens: {m:?}"
                ))),
            })
            .collect::<Result<_, _>>()?;
        let doc = json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer(&pre)?,
            "post_processor": post,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                "ignore_merges": matches!(pre.as_str(), "llama3" | "llama-bpe")},
        });
        (doc, merges)
    };
    Ok(GgufVocab {
        json,
        tables: BpeTables { vocab, merges },
        tokens,
        kinds,
        bos,
        add_bos,
        eos,
        eog,
        byte_level: !spm,
        strip_space: prefix,
    })
}
