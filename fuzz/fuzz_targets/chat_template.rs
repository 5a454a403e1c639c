//! Arbitrary conversations through the real model's chat template and the ChatML fallback: rendering
//! succeeds or fails with an error, never panics; every message's content appears in the output.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use textgen_core::chat::{ChatTemplate, Message, FALLBACK_TEMPLATE};

#[derive(Arbitrary, Debug)]
struct Input {
    messages: Vec<(String, String)>,
    add_generation_prompt: bool,
}

fn templates() -> &'static [ChatTemplate; 2] {
    static T: OnceLock<[ChatTemplate; 2]> = OnceLock::new();
    T.get_or_init(|| {
        let source = textgen_fuzz::tokenizer()
            .chat_template()
            .unwrap_or_else(|| panic!("the default model ships a chat template"));
        let compile = |s: &str| {
            ChatTemplate::new(s, "", "").unwrap_or_else(|e| panic!("template compiles: {e}"))
        };
        [compile(source), compile(FALLBACK_TEMPLATE)]
    })
}

fuzz_target!(|input: Input| {
    let messages: Vec<Message> = input
        .messages
        .into_iter()
        .map(|(role, content)| Message { role, content })
        .collect();
    for t in templates() {
        if let Ok(text) = t.render(&messages, input.add_generation_prompt) {
            for m in &messages {
                assert!(text.contains(&m.content), "message content is kept");
            }
        }
    }
});
