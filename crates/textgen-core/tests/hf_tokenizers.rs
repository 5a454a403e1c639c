//! `tokenizer.json` + `tokenizer_config.json` folders made by scripts/reference/make_hf_fixtures.py: a
//! Llama-3/SmolLM-style byte-level BPE and a Llama-2/Mistral-style SentencePiece BPE with byte fallback.
//! Token ids must equal transformers' on tricky strings, with and without special tokens.

mod common;

use common::fixtures::u32s;
use serde_json::Value;
use std::path::PathBuf;
use textgen_core::tokenizer::Tokenizer;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf")
}

fn cases() -> Value {
    let text = std::fs::read_to_string(fixtures().join("tokenizer_cases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn check(name: &str) -> Tokenizer {
    let all = cases();
    let want = &all[name];
    let t = Tokenizer::from_hf_dir(&fixtures().join(name)).unwrap();
    assert_eq!(t.vocab_size() as u64, want["vocab_size"].as_u64().unwrap());
    assert_eq!(t.bos_id().map(u64::from), want["bos_id"].as_u64());
    assert_eq!(t.eos_id().map(u64::from), want["eos_id"].as_u64());
    let texts = all["cases"].as_array().unwrap();
    assert!(texts.len() >= 15);
    for (i, text) in texts.iter().enumerate() {
        let text = text.as_str().unwrap();
        for (add, key) in [(true, "with_special"), (false, "without_special")] {
            assert_eq!(
                t.encode(text, add).unwrap(),
                u32s(&want[key][i]),
                "{name}: {text:?} add_special={add}"
            );
        }
    }
    t
}

#[test]
fn byte_level_bpe_matches_transformers() {
    let t = check("tok-byte-level");
    assert!(t.adds_bos());
    assert!(t.is_eog(t.eos_id().unwrap()));
    assert!(t.chat_template().unwrap().contains("<|im_start|>"));
    for text in cases()["cases"].as_array().unwrap() {
        let text = text.as_str().unwrap();
        assert_eq!(t.decode(&t.encode(text, false).unwrap(), false), text);
    }
}

#[test]
fn sentencepiece_bpe_with_byte_fallback_matches_transformers() {
    let t = check("tok-sentencepiece");
    assert!(t.adds_bos());
    // Characters outside the trained alphabet are spelled with <0xNN> byte tokens.
    let crab = t.encode("🦀", false).unwrap();
    let bytes: Vec<u8> = crab
        .iter()
        .flat_map(|&id| t.token_bytes(id).to_vec())
        .collect();
    assert!(bytes.ends_with("🦀".as_bytes()), "{crab:?}");
}

#[test]
fn bad_tokenizer_config_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("textgen-tokcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fixtures().join("tok-byte-level/tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"bos_token": {"content": "<nope>"}}"#,
    )
    .unwrap();
    let e = Tokenizer::from_hf_dir(&dir).unwrap_err().to_string();
    assert!(e.contains("<nope>") && e.contains("bos_token"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn llama_tokenizer_class_uses_transformers_metaspace_pipeline() {
    // Same tokenizer.json as tok-sentencepiece; transformers 5's LlamaTokenizer class re-splits it, which
    // changes the ids of text with leading spaces or text after special tokens.
    let t = check("tok-llama-class");
    let plain = Tokenizer::from_hf_dir(&fixtures().join("tok-sentencepiece")).unwrap();
    let text = " leading space";
    assert_ne!(
        t.encode(text, false).unwrap(),
        plain.encode(text, false).unwrap()
    );
}
