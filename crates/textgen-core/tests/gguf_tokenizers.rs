//! GGUF vocabularies of both kinds against transformers on tricky strings (scripts/reference/
//! make_gpt2_fixtures.py): `gpt2` (byte-level BPE, the tiny GPT-2's) and `llama` (SentencePiece BPE with
//! byte fallback, as llama.cpp writes it). Ids with and without special tokens, and decoded text, must equal
//! transformers'.

mod common;

use common::{write_gguf, Val};
use serde_json::Value;
use std::path::{Path, PathBuf};
use textgen_core::tokenizer::Tokenizer;
use textgen_core::weights::{Blob, Gguf};

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

/// A hand-made SentencePiece vocabulary (merges implied by the scores); `flags` are bool metadata keys.
fn spm_vocab(flags: &[(&str, bool)]) -> Tokenizer {
    let tokens = [
        "<unk>",
        "<s>",
        "</s>",
        "\u{2581}",
        "a",
        "b",
        "\u{2581}a",
        "ab",
        "\u{2581}ab",
    ];
    let mut meta = vec![
        ("general.architecture", Val::Str("llama".into())),
        ("tokenizer.ggml.model", Val::Str("llama".into())),
        (
            "tokenizer.ggml.tokens",
            Val::StrArr(tokens.iter().map(|t| t.to_string()).collect()),
        ),
        (
            "tokenizer.ggml.scores",
            Val::F32Arr(vec![0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0]),
        ),
        (
            "tokenizer.ggml.token_type",
            Val::I32Arr(vec![2, 3, 3, 1, 1, 1, 1, 1, 1]),
        ),
        ("tokenizer.ggml.bos_token_id", Val::U32(1)),
        ("tokenizer.ggml.eos_token_id", Val::U32(2)),
    ];
    meta.extend(flags.iter().map(|&(k, v)| (k, Val::Bool(v))));
    let g = Gguf::parse(Blob::from_vec(write_gguf(&meta, &[]))).unwrap();
    Tokenizer::from_gguf(&g).unwrap()
}

#[test]
fn sentencepiece_defaults_prefix_a_space_and_add_bos() {
    let tok = spm_vocab(&[]);
    assert_eq!(tok.encode("ab", true).unwrap(), [1, 8]);
    assert_eq!(tok.encode("ab ab", false).unwrap(), [8, 8]);
    assert_eq!(tok.decode(&[8, 8], false), "ab ab");
    assert_eq!(tok.decode(&[1, 8], false), "<s> ab");
    assert_eq!(tok.decode(&[1, 8], true), "ab");
}

#[test]
fn sentencepiece_flags_drop_the_prefix_and_add_eos() {
    let tok = spm_vocab(&[
        ("tokenizer.ggml.add_space_prefix", false),
        ("tokenizer.ggml.add_eos_token", true),
    ]);
    assert_eq!(tok.encode("ab ab", true).unwrap(), [1, 7, 8, 2]);
    assert_eq!(tok.encode("ab ab", false).unwrap(), [7, 8]);
    assert_eq!(tok.decode(&[7, 8], false), "ab ab");
    assert_eq!(tok.decode(&[8], false), " ab");
}
