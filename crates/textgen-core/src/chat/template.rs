//! A compiled chat template and its rendering, configured as transformers configures Jinja2.

use minijinja::{Environment, ErrorKind, Value};
use serde::{Deserialize, Serialize};

/// ChatML, used (with a warning) when a model ships no template.
pub const FALLBACK_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + \
    message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// One chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant`, ...
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message from `role` with `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// Why a template could not be compiled or a conversation could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("chat template: {0}")]
pub struct ChatError(pub String);

/// A compiled chat template with the special-token strings it may reference.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatTemplate")
    }
}

/// `raise_exception(msg)`, which Hugging Face templates call to refuse a conversation.
fn raise_exception(msg: String) -> Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
}

/// The message of a render error: the template's own words for `raise_exception`, else minijinja's.
fn render_error(e: minijinja::Error) -> ChatError {
    match (e.kind(), e.detail()) {
        (ErrorKind::InvalidOperation, Some(detail)) => {
            ChatError(format!("the conversation was refused: {detail}"))
        }
        _ => ChatError(e.to_string()),
    }
}

impl ChatTemplate {
    /// Compiles `source`; `bos`/`eos` are exposed to it as `bos_token`/`eos_token`.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<Self, ChatError> {
        let mut env = Environment::new();
        // transformers: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with
        // loop controls, `raise_exception`, `strftime_now`, and a `tojson` that does not escape HTML.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", super::strftime::strftime_now);
        env.add_filter("tojson", super::tojson::tojson);
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| ChatError(e.to_string()))?;
        Ok(Self {
            env,
            bos: bos.to_string(),
            eos: eos.to_string(),
        })
    }

    /// Renders `messages`; with `add_generation_prompt` the text ends where the assistant's reply begins.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, ChatError> {
        let t = self
            .env
            .get_template("chat")
            .map_err(|e| ChatError(e.to_string()))?;
        // transformers passes `tools` and `documents` as None when the caller gives none.
        t.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos,
            eos_token => self.eos,
            tools => (),
            documents => (),
        })
        .map_err(render_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, messages: &[Message]) -> Result<String, ChatError> {
        ChatTemplate::new(source, "<s>", "</s>")?.render(messages, true)
    }

    #[test]
    fn fallback_is_chatml() {
        let s = render(FALLBACK_TEMPLATE, &[Message::new("user", "Hi")]).unwrap();
        assert_eq!(s, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn raise_exception_is_a_clear_error() {
        let e = render("{{ raise_exception('no system role') }}", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "chat template: the conversation was refused: no system role"
        );
    }

    #[test]
    fn bad_template_is_an_error() {
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }

    #[test]
    fn blocks_are_trimmed_as_transformers_does() {
        let src = "{% for m in messages %}\n  {% if m.role == 'user' %}\n{{ m.content }}\n  {% endif %}\n{% endfor %}\n";
        let s = render(src, &[Message::new("user", "a"), Message::new("user", "b")]).unwrap();
        assert_eq!(s, "a\nb\n");
    }

    #[test]
    fn python_methods_loop_controls_and_none_tools_work() {
        let src = "{% for m in messages %}{% if loop.index0 == 2 %}{% break %}{% endif %}\
            {% if m.content.startswith('#') %}{% continue %}{% endif %}\
            {{ m.content.strip().upper() }}|{% endfor %}{% if tools is none %}N{% endif %}{{ bos_token }}{{ eos_token }}";
        let msgs = [
            Message::new("user", " a "),
            Message::new("user", "#skip"),
            Message::new("user", "never"),
        ];
        assert_eq!(render(src, &msgs).unwrap(), "A|N<s></s>");
    }
}
