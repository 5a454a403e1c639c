//! A tiny random-weight GPT-2 made with transformers (scripts/reference/make_gpt2_fixtures.py): its Hugging
//! Face folder (safetensors, Conv1D weights) and the GGUF written as llama.cpp writes GPT-2 must both give
//! transformers' logits and greedy continuations, and a row of a batched forward pass must equal the row run
//! alone.

mod common;

use common::fixtures::{f32s, logits, max_diff, read_json, u32s};
use serde_json::Value;
use std::path::PathBuf;
use textgen_core::engine::{load_gguf, load_model, Engine, Flow};
use textgen_core::model::{BatchItem, Model, Scratch};
use textgen_core::sampling::RawParams;
use textgen_core::weights::Quantize;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-gpt2")
}

fn expected() -> Value {
    read_json(&dir().join("expected.json"))
}

fn gguf_engine() -> Engine {
    let (m, t) = load_gguf(&dir().join("model.gguf")).unwrap();
    assert!(matches!(m, Model::Gpt2(_)));
    Engine::new(m, t, 2)
}

fn hf_engine() -> Engine {
    let (m, t) = load_model(&dir().join("hf"), None).unwrap();
    assert!(matches!(m, Model::Gpt2(_)));
    Engine::new(m, t, 2)
}

/// Our logits for the fixture's input are within 1e-4 of transformers'.
pub fn check_logits(e: &Engine) {
    let want = expected();
    let got = logits(e, &u32s(&want["logits_input_ids"]));
    let worst = max_diff(&got, &f32s(&want["logits"]));
    assert!(worst < 1e-4, "max |logit difference| {worst}");
}

/// Greedy continuations (end-of-text suppressed, as transformers' min_new_tokens does) equal transformers'.
pub fn check_greedy(e: &Engine) {
    let cases = expected()["generate"].as_array().unwrap().clone();
    assert!(cases.len() >= 3);
    for c in &cases {
        let want = u32s(&c["ids"]);
        let n = want.len() as i64;
        let params = RawParams {
            max_new_tokens: Some(n),
            min_new_tokens: Some(n),
            temperature: Some(0.0),
            ..Default::default()
        }
        .validate(e.model.vocab_size(), || 0)
        .unwrap();
        let g = e
            .generate(&u32s(&c["prompt"]), &params, |_| Flow::Continue)
            .unwrap();
        assert_eq!(g.completions[0].tokens, want, "prompt {}", c["prompt"]);
    }
}

#[test]
fn gguf_logits_match_transformers() {
    check_logits(&gguf_engine());
}

#[test]
fn gguf_greedy_matches_transformers() {
    check_greedy(&gguf_engine());
}

#[test]
fn hf_folder_logits_match_transformers() {
    check_logits(&hf_engine());
}

#[test]
fn hf_folder_greedy_matches_transformers() {
    check_greedy(&hf_engine());
}

#[test]
fn hf_folder_and_gguf_tokenize_alike() {
    let (hf, gguf) = (hf_engine(), gguf_engine());
    for text in [
        "Hello, world! The cat sat.",
        "special <|endoftext|> café 🦀",
    ] {
        assert_eq!(
            hf.tokenizer.encode(text, true).unwrap(),
            gguf.tokenizer.encode(text, true).unwrap()
        );
    }
}

#[test]
fn quantized_loads_of_hf_folder_and_gguf_agree_bit_for_bit() {
    // Both paths hold the same f32 Linear-layout weights, so Q8_0 at load time must give the same blocks.
    let ids = u32s(&expected()["logits_input_ids"]);
    let quantized = |path: PathBuf| {
        let (m, t) = load_model(&path, Some(Quantize::Q8_0)).unwrap();
        logits(&Engine::new(m, t, 2), &ids)
    };
    let from_hf = quantized(dir().join("hf"));
    let from_gguf = quantized(dir().join("model.gguf"));
    let exact = logits(&gguf_engine(), &ids);
    assert!(
        from_hf.iter().zip(&exact).any(|(a, b)| a != b),
        "Q8_0 changed nothing"
    );
    assert!(from_hf
        .iter()
        .zip(&from_gguf)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn gguf_loads_as_gpt2_with_its_context() {
    let e = gguf_engine();
    assert_eq!(e.model.vocab_size(), 384);
    assert_eq!(e.model.n_ctx_train(), 64);
    assert_eq!(e.model.new_cache(1000).capacity(), 64);
}

#[test]
fn batched_rows_equal_rows_alone() {
    let e = gguf_engine();
    let prompts: [&[u32]; 3] = [&[5, 17, 200, 3], &[42, 9], &[7, 7, 7, 7, 7, 100, 250]];
    // Each sequence alone: a prefix first, then the rest (so batched rows continue at different positions).
    let alone: Vec<Vec<f32>> = prompts
        .iter()
        .map(|p| {
            let mut cache = e.model.new_cache(16);
            let mut s = Scratch::default();
            let mut out = Vec::new();
            e.model
                .forward(&e.pool, &p[..1], &mut cache, &mut s, 1, &mut out)
                .unwrap();
            e.model
                .forward(&e.pool, &p[1..], &mut cache, &mut s, 0, &mut out)
                .unwrap();
            out
        })
        .collect();
    let mut caches: Vec<_> = prompts
        .iter()
        .map(|p| {
            let mut cache = e.model.new_cache(16);
            let mut out = Vec::new();
            e.model
                .forward(
                    &e.pool,
                    &p[..1],
                    &mut cache,
                    &mut Scratch::default(),
                    1,
                    &mut out,
                )
                .unwrap();
            cache
        })
        .collect();
    let mut batch: Vec<BatchItem> = prompts
        .iter()
        .zip(caches.iter_mut())
        .map(|(p, cache)| BatchItem {
            tokens: &p[1..],
            cache,
            logits_from: 0,
        })
        .collect();
    let mut out = Vec::new();
    e.model
        .forward_batch(&e.pool, &mut batch, &mut Scratch::default(), &mut out)
        .unwrap();
    let joined: Vec<f32> = alone.concat();
    assert_eq!(out.len(), joined.len());
    assert!(
        out.iter()
            .zip(&joined)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "batched logits differ from the sequences run alone"
    );
}
