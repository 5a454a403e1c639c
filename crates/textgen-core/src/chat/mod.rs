//! Chat templates: a model's Jinja template (GGUF `tokenizer.chat_template` or a Hugging Face
//! `tokenizer_config.json`) rendered with minijinja the way transformers' `apply_chat_template` renders it.

mod config;
mod strftime;
mod template;
mod tojson;

pub use config::{from_tokenizer_config, model_template, with_model_tokens};
pub use template::{ChatError, ChatTemplate, Message, FALLBACK_TEMPLATE};
