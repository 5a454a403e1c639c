//! A tiny random-weight Llama made with transformers (scripts/reference/make_tiny_fixtures.py): our forward
//! pass, logits processors, greedy decoding and beam search must agree with transformers on it.

mod common;

use common::fixtures::{read_json, u32s};
use serde_json::Value;
use std::path::PathBuf;
use textgen_core::engine::{load_gguf, Engine, Flow};
use textgen_core::model::Scratch;
use textgen_core::sampling::params::{Penalties, Warpers};
use textgen_core::sampling::processors::{apply_penalties, warp, WarpScratch};
use textgen_core::sampling::RawParams;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-llama")
}

fn expected() -> Value {
    read_json(&dir().join("expected.json"))
}

fn engine() -> Engine {
    let (m, t) = load_gguf(&dir().join("model.gguf")).unwrap();
    Engine::new(m, t, 2)
}

/// Scores with `null` meaning minus infinity (filtered).
fn scores(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().map_or(f32::NEG_INFINITY, |f| f as f32))
        .collect()
}

#[test]
fn logits_match_transformers() {
    let e = engine();
    let want = expected();
    let ids = u32s(&want["logits_input_ids"]);
    let mut cache = e.model.new_cache(ids.len());
    let mut logits = Vec::new();
    e.model
        .forward(
            &e.pool,
            &ids,
            &mut cache,
            &mut Scratch::default(),
            0,
            &mut logits,
        )
        .unwrap();
    let want: Vec<f32> = want["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(scores)
        .collect();
    assert_eq!(logits.len(), want.len());
    let worst = logits
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-4, "max |logit difference| {worst}");
}

fn neutral() -> (Penalties, Warpers) {
    (Penalties::default(), Warpers::default())
}

/// Applies one transformers processor (by class name) to `(pen, warp)` settings.
fn configure(name: &str, p: &Value, pen: &mut Penalties, w: &mut Warpers) {
    let f = |k: &str| p[k].as_f64().unwrap() as f32;
    match name {
        "RepetitionPenaltyLogitsProcessor" => pen.repetition = f("penalty"),
        "NoRepeatNGramLogitsProcessor" => {
            pen.no_repeat_ngram = p["ngram_size"].as_u64().unwrap() as usize
        }
        "TemperatureLogitsWarper" => w.temperature = f("temperature"),
        "TopKLogitsWarper" => w.top_k = Some(p["top_k"].as_u64().unwrap() as usize),
        "TopPLogitsWarper" => w.top_p = f("top_p"),
        "MinPLogitsWarper" => w.min_p = f("min_p"),
        "TypicalLogitsWarper" => w.typical_p = f("mass"),
        "frequency_presence_penalty" => {
            pen.frequency = f("frequency_penalty");
            pen.presence = f("presence_penalty");
        }
        other => panic!("unknown processor {other}"),
    }
}

#[test]
fn processors_match_transformers() {
    let cases = expected()["processors"].as_array().unwrap().clone();
    assert!(cases.len() >= 40);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let (mut pen, mut w) = neutral();
        if name == "chain" {
            for step in c["params"]["steps"].as_array().unwrap() {
                configure(step[0].as_str().unwrap(), &step[1], &mut pen, &mut w);
            }
        } else {
            configure(name, &c["params"], &mut pen, &mut w);
        }
        let history = u32s(&c["input_ids"]);
        let mut logits = scores(&c["scores_in"]);
        // prompt_len 0: transformers and the OpenAI reference count every token of the history.
        apply_penalties(&pen, &mut logits, &history, 0, &[], &mut Default::default());
        let mut got = logits.clone();
        let warps = w.temperature != 1.0
            || w.top_k.is_some()
            || w.top_p < 1.0
            || w.min_p > 0.0
            || w.typical_p < 1.0;
        if warps {
            let mut cands = Vec::new();
            warp(&w, &logits, &mut cands, &mut WarpScratch::default());
            got.iter_mut().for_each(|v| *v = f32::NEG_INFINITY);
            for (s, id) in cands {
                got[id as usize] = s;
            }
        }
        let want = scores(&c["scores_out"]);
        for (i, (g, x)) in got.iter().zip(&want).enumerate() {
            let same =
                (g.is_infinite() && x.is_infinite()) || (g - x).abs() <= 1e-5 * (1.0 + x.abs());
            assert!(same, "{name} {:?} token {i}: {g} vs {x}", c["params"]);
        }
    }
}

/// transformers' `generate` arguments -> our raw parameters.
fn raw(p: &Value) -> RawParams {
    let mut r = RawParams {
        temperature: Some(0.0),
        max_new_tokens: p["max_new_tokens"].as_i64(),
        repetition_penalty: p["repetition_penalty"].as_f64().map(|v| v as f32),
        no_repeat_ngram_size: p["no_repeat_ngram_size"].as_i64(),
        min_new_tokens: p["min_new_tokens"].as_i64(),
        num_beams: p["num_beams"].as_i64(),
        length_penalty: p["length_penalty"].as_f64().map(|v| v as f32),
        early_stopping: p["early_stopping"].as_bool(),
        num_return_sequences: p["num_return_sequences"].as_i64(),
        ignore_eos: true,
        stop_token_ids: p["eos_token_id"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect(),
        ..Default::default()
    };
    for seq in p["bad_words_ids"].as_array().into_iter().flatten() {
        r.banned_sequences.push(
            seq.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect(),
        );
    }
    for entry in p["sequence_bias"].as_array().into_iter().flatten() {
        let ids = entry[0].as_array().unwrap();
        assert_eq!(ids.len(), 1, "single-token biases only");
        r.logit_bias
            .insert(ids[0].as_i64().unwrap(), entry[1].as_f64().unwrap() as f32);
    }
    r
}

#[test]
fn greedy_and_beam_search_match_transformers() {
    let e = engine();
    let cases = expected()["generate"].as_array().unwrap().clone();
    assert!(cases.len() >= 10);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let params = raw(&c["params"])
            .validate(e.model.vocab_size(), || 0)
            .unwrap();
        let prompt = u32s(&c["prompt"]);
        let g = e.generate(&prompt, &params, |_| Flow::Continue).unwrap();
        if c["scores"].is_null() {
            assert_eq!(g.completions.len(), 1);
            assert_eq!(g.completions[0].tokens, u32s(&c["ids"]), "{name}");
        } else {
            let want_ids: Vec<Vec<u32>> = c["ids"].as_array().unwrap().iter().map(u32s).collect();
            let want_scores = scores(&c["scores"]);
            let got_ids: Vec<Vec<u32>> = g.completions.iter().map(|x| x.tokens.clone()).collect();
            assert_eq!(got_ids, want_ids, "{name}");
            for (x, w) in g.completions.iter().zip(&want_scores) {
                let s = x.score.unwrap();
                assert!((s - w).abs() < 1e-4, "{name}: score {s} vs {w}");
            }
        }
    }
}
