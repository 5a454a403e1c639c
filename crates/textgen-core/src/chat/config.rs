//! Where a template comes from: the model file (with a ChatML fallback) or a `tokenizer_config.json`.

use super::{ChatError, ChatTemplate, FALLBACK_TEMPLATE};
use crate::tokenizer::Tokenizer;
use serde_json::Value;

/// The text of the model's BOS and EOS tokens (empty when it has none).
fn special_texts(tok: &Tokenizer) -> (String, String) {
    let text = |id: Option<u32>| id.map(|i| tok.token_text(i)).unwrap_or_default();
    (text(tok.bos_id()), text(tok.eos_id()))
}

/// A Jinja template `source` with the model's BOS and EOS as `bos_token` and `eos_token`.
pub fn with_model_tokens(source: &str, tok: &Tokenizer) -> Result<ChatTemplate, ChatError> {
    let (bos, eos) = special_texts(tok);
    ChatTemplate::new(source, &bos, &eos)
}

/// The model's own template; ChatML plus a warning (the second value) when it has none or it does
/// not compile.
pub fn model_template(tok: &Tokenizer) -> Result<(ChatTemplate, Option<String>), ChatError> {
    let warning = match tok.chat_template().map(|src| with_model_tokens(src, tok)) {
        Some(Ok(t)) => return Ok((t, None)),
        Some(Err(e)) => format!("the model's chat template does not compile ({e}); using ChatML"),
        None => "the model has no chat template; using ChatML".to_string(),
    };
    Ok((with_model_tokens(FALLBACK_TEMPLATE, tok)?, Some(warning)))
}

/// A special token in `tokenizer_config.json`: a string, or an added-token object with `content`.
fn special_token(cfg: &Value, key: &str) -> String {
    let v = &cfg[key];
    v.as_str()
        .or_else(|| v["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The template of a Hugging Face `tokenizer_config.json` (`chat_template` as a string, or the one named
/// `default` in a list of named templates) with its `bos_token` and `eos_token`.
pub fn from_tokenizer_config(cfg: &Value) -> Result<ChatTemplate, ChatError> {
    let source = match &cfg["chat_template"] {
        Value::String(s) => s.as_str(),
        Value::Array(named) => named
            .iter()
            .find(|t| t["name"] == "default")
            .and_then(|t| t["template"].as_str())
            .ok_or_else(|| ChatError("no template named 'default' in chat_template".into()))?,
        _ => {
            return Err(ChatError(
                "tokenizer_config.json has no chat_template".into(),
            ))
        }
    };
    ChatTemplate::new(
        source,
        &special_token(cfg, "bos_token"),
        &special_token(cfg, "eos_token"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Message;
    use serde_json::json;

    #[test]
    fn tokenizer_config_forms_are_read() {
        let src = "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}";
        let msgs = [Message::new("user", "x")];
        let plain =
            json!({"chat_template": src, "bos_token": "<s>", "eos_token": {"content": "</s>"}});
        let named = json!({"chat_template": [{"name": "tool_use", "template": "no"},
            {"name": "default", "template": src}], "bos_token": null, "eos_token": "E"});
        let r = |cfg| {
            from_tokenizer_config(&cfg)
                .unwrap()
                .render(&msgs, false)
                .unwrap()
        };
        assert_eq!(r(plain), "<s>x</s>");
        assert_eq!(r(named), "xE");
        assert!(from_tokenizer_config(&json!({})).is_err());
    }
}
