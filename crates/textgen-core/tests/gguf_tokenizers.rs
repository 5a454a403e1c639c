//! GGUF vocabularies of both kinds against transformers on tricky strings (scripts/reference/
//! make_gpt2_fixtures.py): `gpt2` (byte-level BPE, the tiny GPT-2's) and `llama` (SentencePiece BPE with
//! byte fallback, as llama.cpp writes it). Ids with and without special tokens, and decoded text, must equal
//! transformers'.

use serde_json::Value;
use std::path::{Path, PathBuf};
use textgen_core::tokenizer::Tokenizer;
use textgen_core::weights::Gguf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn check(gguf: &Path, expected: &Path) {
    let tok = Tokenizer::from_gguf(&Gguf::open(gguf).unwrap()).unwrap();
    let want: Value = serde_json::from_str(&std::fs::read_to_string(expected).unwrap()).unwrap();
    let cases = want["tokenizer"].as_array().unwrap();
    assert!(cases.len() >= 40);
    let mut bad = Vec::new();
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let add = c["add_special_tokens"].as_bool().unwrap();
        let ids: Vec<u32> = c["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = tok.encode(text, add).unwrap();
        if got != ids {
            bad.push(format!("{text:?} (add_special {add}): {got:?} != {ids:?}"));
        }
        let decoded = tok.decode(&ids, false);
        if decoded != c["decoded"].as_str().unwrap() {
            bad.push(format!("decode {ids:?}: {decoded:?} != {}", c["decoded"]));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn gpt2_vocab_matches_transformers() {
    let d = fixtures().join("tiny-gpt2");
    check(&d.join("model.gguf"), &d.join("expected.json"));
}

#[test]
fn sentencepiece_vocab_matches_transformers() {
    let d = fixtures().join("tiny-spm");
    check(&d.join("vocab.gguf"), &d.join("expected.json"));
}

#[test]
fn sentencepiece_vocab_adds_bos_and_falls_back_to_bytes() {
    let d = fixtures().join("tiny-spm");
    let tok = Tokenizer::from_gguf(&Gguf::open(&d.join("vocab.gguf")).unwrap()).unwrap();
    assert!(tok.adds_bos());
    assert_eq!(tok.bos_id(), Some(1));
    assert!(tok.is_special(0) && tok.is_special(1) && tok.is_special(2));
    // A snowman is not in the training text: it is spelled by its three UTF-8 bytes.
    let ids = tok.encode("☃", false).unwrap();
    let bytes: Vec<u8> = ids
        .iter()
        .flat_map(|&i| tok.token_bytes(i).to_vec())
        .collect();
    assert!(bytes.ends_with("☃".as_bytes()), "{ids:?}");
    assert_eq!(tok.decode(&ids, false), "☃");
}
