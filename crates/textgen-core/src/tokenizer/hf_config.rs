//! `tokenizer_config.json`: the special tokens, BOS policy and chat template transformers reads next to
//! `tokenizer.json`.

use super::{Tokenizer, TokenizerError};
use serde_json::Value;

/// A special-token entry: a plain string or an `AddedToken` object with `content`.
fn token_text(v: &Value) -> Option<&str> {
    v.as_str()
        .or_else(|| v.get("content").and_then(Value::as_str))
}

/// The chat template: a string, or a list of `{name, template}` of which `default` is used.
fn chat_template(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(list) => list
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// Rewrites `tokenizer.json` the way transformers 5 does for `tokenizer_class` `LlamaTokenizer(Fast)`: that
/// class keeps the BPE vocabulary, merges, added tokens and post-processor but replaces the normalizer and
/// pre-tokenizer with a `Metaspace` (prefix `▁` on the first piece only unless `legacy`, none without
/// `add_prefix_space`), and the decoder to match.
pub(super) fn class_pipeline(json: &mut Value, cfg: &Value) {
    let class = cfg.get("tokenizer_class").and_then(Value::as_str);
    if !matches!(class, Some("LlamaTokenizer" | "LlamaTokenizerFast")) {
        return;
    }
    let flag = |k: &str, default: bool| cfg.get(k).and_then(Value::as_bool).unwrap_or(default);
    let prefix = flag("add_prefix_space", true);
    let scheme = match (prefix, flag("legacy", false)) {
        (false, _) => "never",
        (true, true) => "always",
        (true, false) => "first",
    };
    json["normalizer"] = Value::Null;
    json["pre_tokenizer"] = serde_json::json!({
        "type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": scheme, "split": false
    });
    let mut decoders = vec![
        serde_json::json!({"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "}),
        serde_json::json!({"type": "ByteFallback"}),
        serde_json::json!({"type": "Fuse"}),
    ];
    if prefix {
        decoders.push(serde_json::json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    json["decoder"] = serde_json::json!({"type": "Sequence", "decoders": decoders});
}

/// Applies a parsed `tokenizer_config.json` (`Value::Null` when the file is absent) to `t`.
///
/// A named BOS/EOS token that is not in the vocabulary is an error. Whether BOS starts a prompt is what the
/// post-processor does: transformers 5 encodes with it whatever `add_bos_token` says.
pub(super) fn apply(t: &mut Tokenizer, cfg: &Value) -> Result<(), TokenizerError> {
    let id_of = |key: &str| -> Result<Option<u32>, TokenizerError> {
        match cfg.get(key).and_then(token_text) {
            None => Ok(None),
            Some(text) => t.token_id(text).map(Some).ok_or_else(|| {
                TokenizerError::Invalid(format!(
                    "tokenizer_config.json {key} \"{text}\" is not in the vocabulary"
                ))
            }),
        }
    };
    let (bos, eos) = (id_of("bos_token")?, id_of("eos_token")?);
    (t.bos, t.eos) = (bos, eos);
    if let Some(eos) = t.eos {
        t.add_eog([eos]);
    }
    let post_adds_bos = match t.bos {
        Some(bos) => t.encode("", true)?.first() == Some(&bos),
        None => false,
    };
    t.add_bos = post_adds_bos;
    t.chat_template = cfg.get("chat_template").and_then(chat_template);
    Ok(())
}
