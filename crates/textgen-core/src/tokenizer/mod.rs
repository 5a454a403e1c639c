//! Text <-> token ids: vocabularies from GGUF metadata or `tokenizer.json`, and streaming detokenization.

pub mod byte_level;
pub mod gguf_vocab;
mod hf_config;
pub mod stream;

pub use stream::StreamDecoder;

use crate::weights::{Gguf, GgufError};
use serde_json::Value;
use std::path::Path;

/// Why a tokenizer cannot be built or used.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// Metadata missing or of the wrong type.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A vocabulary kind this build does not implement.
    #[error("unsupported tokenizer: {0}")]
    Unsupported(String),
    /// A malformed vocabulary.
    #[error("invalid tokenizer: {0}")]
    Invalid(String),
    /// The tokenizer file could not be read.
    #[error("cannot read tokenizer {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Encoding failed.
    #[error("cannot tokenize the text: {0}")]
    Encode(String),
}

/// A tokenizer: encodes with Hugging Face `tokenizers`, decodes from a per-token byte table.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    token_bytes: Vec<Vec<u8>>,
    special: Vec<bool>,
    bos: Option<u32>,
    add_bos: bool,
    eos: Option<u32>,
    eog: Vec<u32>,
    chat_template: Option<String>,
    /// Decoding drops one leading space (SentencePiece's prefix space), as transformers' `Strip` decoder.
    strip_space: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokenizer({} tokens)", self.token_bytes.len())
    }
}

fn read_json(path: &Path) -> Result<Value, TokenizerError> {
    let io = |message: String| TokenizerError::Io {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| io(e.to_string()))
}

/// A BPE model's vocabulary and merges, handed to `tokenizers` directly: its serde path buffers the whole
/// model document first, which made building the default model's tokenizer most of a cold start.
pub struct BpeTables {
    /// Token spelling -> id.
    pub vocab: tokenizers::models::bpe::Vocab,
    /// Merge rules, highest priority first.
    pub merges: Vec<(String, String)>,
}

impl BpeTables {
    /// Takes the vocabulary and merges out of a `tokenizer.json` BPE model (merges as `"a b"` or `["a", "b"]`).
    fn take_from(model: &mut Value) -> Result<Self, TokenizerError> {
        let invalid = |what: String| TokenizerError::Invalid(format!("BPE model: {what}"));
        let Value::Object(vocab) = model["vocab"].take() else {
            return Err(invalid("\"vocab\" is not an object".into()));
        };
        let vocab = vocab
            .into_iter()
            .map(
                |(tok, id)| match id.as_u64().and_then(|i| u32::try_from(i).ok()) {
                    Some(id) => Ok((tok, id)),
                    None => Err(invalid(format!("token {tok:?} has id {id}"))),
                },
            )
            .collect::<Result<_, _>>()?;
        let Value::Array(merges) = model["merges"].take() else {
            return Err(invalid("\"merges\" is not an array".into()));
        };
        let merges = merges
            .into_iter()
            .enumerate()
            .map(|(rank, m)| {
                let pair = match &m {
                    Value::String(line) => line
                        .split_once(' ')
                        .filter(|(_, b)| !b.contains(' '))
                        .map(|(a, b)| (a.to_string(), b.to_string())),
                    Value::Array(ab) => match &ab[..] {
                        [Value::String(a), Value::String(b)] => Some((a.clone(), b.clone())),
                        _ => None,
                    },
                    _ => None,
                };
                pair.ok_or_else(|| invalid(format!("merge {} is not a pair: {m}", rank + 1)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { vocab, merges })
    }
}

/// The `tokenizers` pipeline of a `tokenizer.json` document. A BPE model is built from `tables` (or the
/// document's own vocab and merges) with `tokenizers`' builder and the rest of the document parsed around
/// it; the added tokens are then added as its deserializer adds them.
fn build_inner(
    mut doc: Value,
    tables: Option<BpeTables>,
) -> Result<tokenizers::Tokenizer, TokenizerError> {
    let invalid = |e: String| TokenizerError::Invalid(e);
    let parse = |doc: &Value| {
        let text = serde_json::to_string(doc).map_err(|e| invalid(e.to_string()))?;
        text.parse::<tokenizers::Tokenizer>()
            .map_err(|e| invalid(e.to_string()))
    };
    let model = &mut doc["model"];
    let is_bpe = model["type"] == "BPE" || (model["type"].is_null() && model["merges"].is_array());
    if !is_bpe {
        return parse(&doc);
    }
    let tables = match tables {
        Some(t) => t,
        None => BpeTables::take_from(model)?,
    };
    let opts = model.take();
    let added: Vec<tokenizers::AddedToken> = match doc["added_tokens"].take() {
        Value::Null => Vec::new(),
        v => serde_json::from_value(v).map_err(|e| invalid(format!("added_tokens: {e}")))?,
    };
    doc["added_tokens"] = Value::Array(Vec::new());
    doc["model"] = serde_json::json!({"type": "BPE", "vocab": {}, "merges": []});
    let mut inner = parse(&doc)?;
    let text = |key: &str| opts[key].as_str().map(str::to_string);
    let flag = |key: &str| opts[key].as_bool().unwrap_or(false);
    if let Some(p) = text("continuing_subword_prefix") {
        // The builder cuts the prefix's length off every merge's right part (and panics on a short one).
        if let Some((l, r)) = tables
            .merges
            .iter()
            .find(|(_, r)| !r.is_char_boundary(p.len()))
        {
            return Err(invalid(format!(
                "merge {l:?} {r:?} is shorter than the continuing subword prefix {p:?}"
            )));
        }
    }
    let mut b = tokenizers::models::bpe::BPE::builder()
        .vocab_and_merges(tables.vocab, tables.merges)
        .fuse_unk(flag("fuse_unk"))
        .byte_fallback(flag("byte_fallback"))
        .ignore_merges(flag("ignore_merges"));
    if let Some(p) = opts["dropout"].as_f64() {
        b = b.dropout(p as f32);
    }
    if let Some(t) = text("unk_token") {
        b = b.unk_token(t);
    }
    if let Some(t) = text("continuing_subword_prefix") {
        b = b.continuing_subword_prefix(t);
    }
    if let Some(t) = text("end_of_word_suffix") {
        b = b.end_of_word_suffix(t);
    }
    inner.with_model(b.build().map_err(|e| invalid(e.to_string()))?);
    inner.add_tokens(&added);
    Ok(inner)
}

/// The raw bytes each token spells: byte-level vocabularies map characters back to bytes; others replace
/// SentencePiece's `▁` with a space and `<0xNN>` tokens with byte NN. Added tokens are their literal text.
fn token_bytes(tokens: &[String], added: &[bool], byte_level: bool) -> Vec<Vec<u8>> {
    let table = byte_level::byte_to_char();
    tokens
        .iter()
        .zip(added)
        .map(|(t, &is_added)| {
            if is_added {
                t.as_bytes().to_vec()
            } else if byte_level {
                byte_level::decode_token(t, &table)
            } else if let Some(b) = t
                .strip_prefix("<0x")
                .and_then(|h| h.strip_suffix('>'))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                vec![b]
            } else {
                t.replace('\u{2581}', " ").into_bytes()
            }
        })
        .collect()
}

impl Tokenizer {
    /// Builds the tokenizer stored in a GGUF file's metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Self, TokenizerError> {
        let v = gguf_vocab::from_gguf(g)?;
        let added: Vec<bool> = v.kinds.iter().map(|k| k.1).collect();
        Ok(Self {
            inner: build_inner(v.json, Some(v.tables))?,
            token_bytes: token_bytes(&v.tokens, &added, v.byte_level),
            strip_space: v.strip_space,
            special: v.kinds.iter().map(|k| k.0).collect(),
            bos: v.bos,
            add_bos: v.add_bos,
            eos: v.eos,
            eog: v.eog,
            chat_template: match g.get("tokenizer.chat_template") {
                Some(_) => Some(g.get_str("tokenizer.chat_template")?.to_string()),
                None => None,
            },
        })
    }

    /// Loads a Hugging Face `tokenizer.json` (no BOS/EOS or chat template: those live in
    /// `tokenizer_config.json`, see [`Tokenizer::from_hf_dir`]).
    pub fn from_json_file(path: &Path) -> Result<Self, TokenizerError> {
        Self::from_json(read_json(path)?)
    }

    /// Loads the tokenizer of a Hugging Face model folder as transformers 5 does: `tokenizer.json`, plus
    /// `tokenizer_config.json` (BOS/EOS tokens, chat template, the Llama tokenizer class's own
    /// pre-tokenizer) and `chat_template.jinja` when present.
    pub fn from_hf_dir(dir: &Path) -> Result<Self, TokenizerError> {
        let mut json = read_json(&dir.join("tokenizer.json"))?;
        let cfg_path = dir.join("tokenizer_config.json");
        let cfg = if cfg_path.is_file() {
            read_json(&cfg_path)?
        } else {
            Value::Null
        };
        hf_config::class_pipeline(&mut json, &cfg);
        let mut t = Self::from_json(json)?;
        hf_config::apply(&mut t, &cfg)?;
        let jinja = dir.join("chat_template.jinja");
        if t.chat_template.is_none() && jinja.is_file() {
            let text = std::fs::read_to_string(&jinja).map_err(|e| TokenizerError::Io {
                path: jinja.display().to_string(),
                message: e.to_string(),
            })?;
            t.chat_template = Some(text);
        }
        Ok(t)
    }

    fn from_json(json: Value) -> Result<Self, TokenizerError> {
        let added_tokens = json["added_tokens"].clone();
        let byte_level = json["decoder"].to_string().contains("ByteLevel");
        let inner = build_inner(json, None)?;
        let n = inner.get_vocab_size(true);
        let mut tokens = vec![String::new(); n];
        for (tok, id) in inner.get_vocab(true) {
            if let Some(slot) = tokens.get_mut(id as usize) {
                *slot = tok;
            }
        }
        let mut special = vec![false; n];
        let mut added = vec![false; n];
        let mut eog = Vec::new();
        for t in added_tokens.as_array().into_iter().flatten() {
            let (Some(id), Some(content)) = (t["id"].as_u64(), t["content"].as_str()) else {
                continue;
            };
            let Some(slot) = added.get_mut(id as usize) else {
                continue;
            };
            *slot = true;
            let is_special = t["special"].as_bool().unwrap_or(false);
            special[id as usize] = is_special;
            if is_special && gguf_vocab::is_eog_text(content) {
                eog.push(id as u32);
            }
        }
        Ok(Self {
            token_bytes: token_bytes(&tokens, &added, byte_level),
            inner,
            special,
            bos: None,
            add_bos: false,
            eos: None,
            eog,
            chat_template: None,
            strip_space: false,
        })
    }

    /// Also ends generation at `ids` (e.g. `eos_token_id` of `generation_config.json`).
    pub fn add_eog(&mut self, ids: impl IntoIterator<Item = u32>) {
        for id in ids {
            if !self.eog.contains(&id) {
                self.eog.push(id);
            }
        }
    }

    /// The id of token text `text`, if it is in the vocabulary.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.inner.token_to_id(text)
    }

    /// Token ids of `text`; with `add_special`, the model's BOS (and whatever its post-processor adds).
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>, TokenizerError> {
        self.inner
            .encode(text, add_special)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| TokenizerError::Encode(e.to_string()))
    }

    /// Text of `ids`; special tokens are dropped when `skip_special`. Invalid UTF-8 becomes U+FFFD.
    /// SentencePiece vocabularies drop the leading space their encoder prepends (as transformers does).
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            if !(skip_special && self.is_special(id)) {
                bytes.extend_from_slice(self.token_bytes(id));
            }
        }
        let text = match bytes.split_first() {
            Some((b' ', rest)) if self.strip_space => rest,
            _ => &bytes[..],
        };
        String::from_utf8_lossy(text).into_owned()
    }

    /// The raw bytes token `id` spells (empty for ids outside the vocabulary).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.token_bytes
            .get(id as usize)
            .map_or(&[], |b| b.as_slice())
    }

    /// Whether `id` is a control token (not shown in generated text).
    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(false)
    }

    /// Number of token ids.
    pub fn vocab_size(&self) -> usize {
        self.token_bytes.len()
    }

    /// The beginning-of-sequence id, if the vocabulary has one.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// The end-of-sequence id, if the vocabulary names one (`eos_token` in chat templates).
    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    /// Whether the model expects BOS at the start of a prompt.
    pub fn adds_bos(&self) -> bool {
        self.add_bos
    }

    /// The model's chat template (Jinja source), if it ships one.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// The text of token `id` (lossy for partial UTF-8; empty outside the vocabulary).
    pub fn token_text(&self, id: u32) -> String {
        String::from_utf8_lossy(self.token_bytes(id)).into_owned()
    }

    /// Ids that end generation (EOS, end-of-turn and the like).
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }

    /// Whether `id` ends generation.
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small byte-level BPE document: "ab" and "abc" merge, "<s>" is a special added token.
    fn doc(merges: Value) -> Value {
        json!({
            "version": "1.0", "truncation": null, "padding": null, "normalizer": null,
            "added_tokens": [{"id": 5, "content": "<s>", "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true}],
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                "use_regex": true},
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "<s>": 5}, "merges": merges},
        })
    }

    #[test]
    fn builder_path_encodes_as_the_serde_path() {
        for merges in [json!(["a b", "ab c"]), json!([["a", "b"], ["ab", "c"]])] {
            let text = serde_json::to_string(&doc(merges.clone())).unwrap();
            let serde: tokenizers::Tokenizer = text.parse().unwrap();
            let built = build_inner(doc(merges), None).unwrap();
            for s in ["abc", "ab<s>cab", "cba", "<s>"] {
                let want = serde.encode(s, false).unwrap().get_ids().to_vec();
                assert_eq!(built.encode(s, false).unwrap().get_ids(), &want[..], "{s}");
            }
            assert_eq!(built.encode("ab<s>c", false).unwrap().get_ids(), [3, 5, 2]);
        }
    }

    #[test]
    fn malformed_vocab_and_merges_are_errors() {
        let bad = |f: &dyn Fn(&mut Value)| {
            let mut d = doc(json!(["a b"]));
            f(&mut d);
            match build_inner(d, None) {
                Err(TokenizerError::Invalid(m)) => m,
                Err(e) => panic!("{e}"),
                Ok(_) => panic!("accepted"),
            }
        };
        assert!(bad(&|d| d["model"]["merges"] = json!(["a b c"])).contains("merge 1"));
        assert!(bad(&|d| d["model"]["merges"] = json!([["a"]])).contains("merge 1"));
        assert!(bad(&|d| d["model"]["merges"] = json!(["a x"])).contains('x'));
        assert!(bad(&|d| d["model"]["merges"] = json!(7)).contains("merges"));
        assert!(bad(&|d| d["model"]["vocab"] = json!([1])).contains("vocab"));
        assert!(bad(&|d| d["model"]["vocab"]["a"] = json!(-1)).contains("\"a\""));
        assert!(bad(&|d| d["model"]["vocab"]["a"] = json!(1u64 << 40)).contains("\"a\""));
        assert!(!bad(&|d| d["added_tokens"] = json!([{"id": 1}])).is_empty());
        assert!(bad(&|d| d["model"]["continuing_subword_prefix"] = json!("##")).contains("prefix"));
    }
}
