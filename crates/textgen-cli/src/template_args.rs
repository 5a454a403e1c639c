//! Chat flags shared by `chat` and `generate --chat`: a system message and the template to render with.

use crate::{term, Failure};
use std::path::{Path, PathBuf};
use textgen_core::chat::{self, ChatTemplate, Message};
use textgen_core::engine::Engine;

/// The system message and the chat template.
#[derive(clap::Args, Debug)]
pub struct TemplateArgs {
    /// System message that opens the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// Chat template instead of the model's: a Hugging Face tokenizer_config.json or a Jinja file.
    #[arg(long, value_name = "FILE")]
    pub chat_template: Option<PathBuf>,
}

/// The chat template in `path` (a Hugging Face tokenizer_config.json or a Jinja file), else the model's own
/// (ChatML, with a warning, when it has none).
pub fn load_template(path: Option<&Path>, engine: &Engine) -> Result<ChatTemplate, Failure> {
    let Some(path) = path else {
        let (template, warning) = chat::model_template(&engine.tokenizer).map_err(Failure::new)?;
        if let Some(w) = warning {
            term::warn(&w);
        }
        return Ok(template);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
    let template = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(cfg) if cfg.is_object() => chat::from_tokenizer_config(&cfg),
        _ => chat::with_model_tokens(&text, &engine.tokenizer),
    };
    template.map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

impl TemplateArgs {
    /// The template: `--chat-template`, else the model's own.
    pub fn template(&self, engine: &Engine) -> Result<ChatTemplate, Failure> {
        load_template(self.chat_template.as_deref(), engine)
    }

    /// The messages a conversation starts with (the system message, if any).
    pub fn opening(&self) -> Vec<Message> {
        self.system
            .iter()
            .map(|s| Message::new("system", s.as_str()))
            .collect()
    }
}
