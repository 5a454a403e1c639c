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

/// Applies a parsed `tokenizer_config.json` (`Value::Null` when the file is absent) to `t`.
///
/// A named BOS/EOS token that is not in the vocabulary is an error. Whether BOS is expected at the start of
/// a prompt is what the post-processor does (as `tokenizers` and transformers encode), unless the config's
/// `add_bos_token` says otherwise.
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
    t.add_bos = t.bos.is_some()
        && cfg
            .get("add_bos_token")
            .and_then(Value::as_bool)
            .unwrap_or(post_adds_bos);
    t.chat_template = cfg.get("chat_template").and_then(chat_template);
    Ok(())
}
