//! Chat templates render exactly what transformers' `apply_chat_template` renders, for the templates of
//! SmolLM2, Llama 3, Mistral, Qwen2 and Gemma and one exercising Hugging Face's Jinja extras
//! (fixtures: scripts/reference/make_chat_template_fixtures.py).

use serde_json::Value;
use std::path::PathBuf;
use textgen_core::chat::{from_tokenizer_config, Message};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat_templates")
}

fn read_json(name: &str) -> Value {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn rendered_conversations_equal_transformers_byte_for_byte() {
    let expected = read_json("expected.json");
    let conversations: Vec<Vec<Message>> =
        serde_json::from_value(expected["conversations"].clone()).unwrap();
    let cases = expected["cases"].as_array().unwrap();
    let mut templates = std::collections::BTreeSet::new();
    let (mut outputs, mut errors) = (0, 0);
    for case in cases {
        let name = case["template"].as_str().unwrap();
        templates.insert(name);
        let template = from_tokenizer_config(&read_json(&format!("{name}.json"))).unwrap();
        let conversation = &conversations[case["conversation"].as_u64().unwrap() as usize];
        let generation_prompt = case["add_generation_prompt"].as_bool().unwrap();
        let got = template.render(conversation, generation_prompt);
        let what = format!(
            "{name}, conversation {}, generation prompt {generation_prompt}",
            case["conversation"]
        );
        match (&case["output"], &case["error"]) {
            (Value::String(want), _) => {
                outputs += 1;
                assert_eq!(
                    got.unwrap_or_else(|e| panic!("{what}: {e}")),
                    *want,
                    "{what}"
                );
            }
            (_, Value::String(want)) => {
                errors += 1;
                let e = got.expect_err(&what).to_string();
                assert_eq!(
                    e,
                    format!("chat template: the conversation was refused: {want}"),
                    "{what}"
                );
            }
            _ => panic!("{what}: a case needs an output or an error"),
        }
    }
    let want = [
        "gemma",
        "hf_features",
        "llama3",
        "mistral",
        "qwen2",
        "smollm2",
    ];
    assert_eq!(templates.into_iter().collect::<Vec<_>>(), want);
    assert!(
        outputs >= 60 && errors >= 4,
        "{outputs} outputs, {errors} errors"
    );
}

#[test]
fn gemma_refuses_a_system_turn_with_a_clear_error() {
    let template = from_tokenizer_config(&read_json("gemma.json")).unwrap();
    let e = template
        .render(
            &[
                Message::new("system", "Be brief."),
                Message::new("user", "Hi"),
            ],
            true,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "chat template: the conversation was refused: System role not supported"
    );
}
