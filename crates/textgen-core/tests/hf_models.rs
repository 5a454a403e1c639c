//! Tiny random-weight Hugging Face folders made with transformers (scripts/reference/make_hf_fixtures.py):
//! Llama with llama3 rope scaling (sharded safetensors), Llama with linear rope scaling, q/k/v/o biases and
//! head_dim × heads > hidden (F16 weights), Mistral with a sliding window shorter than the input (tied
//! embeddings), Qwen2 with q/k/v biases (BF16 weights). Logits and greedy ids must match
//! transformers; unsupported architectures and dtypes are named in clear errors.

mod common;

use common::fixtures::{f32s, logits, max_diff, read_json, u32s};
use serde_json::Value;
use std::path::{Path, PathBuf};
use textgen_core::engine::{load_model, Engine, Flow};
use textgen_core::model::Model;
use textgen_core::sampling::RawParams;
use textgen_core::weights::Quantize;

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(name)
}

fn engine(name: &str, quantize: Option<Quantize>) -> Engine {
    let (m, t) = load_model(&dir(name), quantize).unwrap();
    Engine::new(m, t, 2)
}

fn greedy(e: &Engine, prompt: &[u32], n: usize) -> Vec<u32> {
    let params = RawParams {
        greedy: true,
        max_new_tokens: Some(n as i64),
        ignore_eos: true,
        ..Default::default()
    }
    .validate(e.model.vocab_size(), || 0)
    .unwrap();
    let g = e.generate(prompt, &params, |_| Flow::Continue).unwrap();
    g.completions[0].tokens.clone()
}

fn check_against_transformers(name: &str) {
    let want = read_json(&dir(name).join("expected.json"));
    let e = engine(name, None);
    let got = logits(&e, &u32s(&want["input_ids"]));
    let worst = max_diff(&got, &f32s(&want["logits"]));
    assert!(worst < 1e-4, "{name}: max |logit difference| {worst}");
    let g = &want["greedy"];
    let ids = u32s(&g["ids"]);
    assert_eq!(greedy(&e, &u32s(&g["prompt"]), ids.len()), ids, "{name}");
}

#[test]
fn llama_with_llama3_rope_scaling_from_sharded_safetensors() {
    check_against_transformers("llama");
}

#[test]
fn mistral_with_sliding_window_and_tied_embeddings() {
    check_against_transformers("mistral");
    // The window matters on this input: without it the logits are far from transformers'.
    let d = edited_copy("mistral", "nowindow", |c| c["sliding_window"] = Value::Null);
    let want = read_json(&d.join("expected.json"));
    let (m, t) = load_model(&d, None).unwrap();
    let got = logits(&Engine::new(m, t, 2), &u32s(&want["input_ids"]));
    assert!(max_diff(&got, &f32s(&want["logits"])) > 1e-2);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn llama_with_linear_rope_attention_bias_wide_heads_from_f16_weights() {
    check_against_transformers("llama-linear-f16");
}

#[test]
fn qwen2_with_biases_from_bf16_weights() {
    check_against_transformers("qwen2");
}

#[test]
fn config_json_path_loads_the_folder() {
    let (m, t) = load_model(&dir("mistral").join("config.json"), None).unwrap();
    let Model::Llama(m) = m else {
        panic!("Mistral loads as the Llama family")
    };
    assert_eq!(m.cfg.layer_window, vec![Some(4), Some(4)]);
    assert_eq!(
        (t.bos_id(), t.eos_id(), t.adds_bos()),
        (Some(1), Some(2), true)
    );
    assert!(t.is_eog(2));
    assert!(t.chat_template().unwrap().contains("[INST]"));
}

#[test]
fn q8_0_quantized_load_matches_transformers_on_q8_0_rounded_weights() {
    let want = read_json(&dir("llama").join("expected.json"));
    let ids = u32s(&want["input_ids"]);
    let e = engine("llama", Some(Quantize::Q8_0));
    let got = logits(&e, &ids);
    // The random model amplifies rounding: Q8_0 moves its logits by ~0.8; the reference rounds the same way.
    assert!(max_diff(&got, &f32s(&want["logits"])) > 0.1);
    let worst = max_diff(&got, &f32s(&want["q8_0_logits"]));
    assert!(worst < 1e-3, "max |logit difference| {worst}");
    assert_eq!(greedy(&e, &[0, 40], 5).len(), 5);
}

#[test]
fn q4_k_quantized_load_generates() {
    // The fixture's rows (64, 128 values) are no multiple of 256: every matrix falls back to Q8_0 blocks,
    // so the result is the Q8_0 one (the Q4_K blocks themselves are unit-tested in weights::quantize).
    let want = read_json(&dir("llama").join("expected.json"));
    let e = engine("llama", Some(Quantize::Q4K));
    let got = logits(&e, &u32s(&want["input_ids"]));
    assert!(max_diff(&got, &f32s(&want["q8_0_logits"])) < 1e-3);
    assert_eq!(greedy(&e, &[0, 40], 5).len(), 5);
}

/// A copy of fixture folder `name` in a fresh temp folder, with `edit` applied to its config.json.
fn edited_copy(name: &str, tag: &str, edit: impl Fn(&mut Value)) -> PathBuf {
    let to = std::env::temp_dir().join(format!("textgen-hf-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(&to).unwrap();
    for f in std::fs::read_dir(dir(name)).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
    }
    let mut cfg = read_json(&to.join("config.json"));
    edit(&mut cfg);
    std::fs::write(to.join("config.json"), cfg.to_string()).unwrap();
    to
}

fn load_error(path: &Path) -> String {
    load_model(path, None).err().unwrap().to_string()
}

#[test]
fn unsupported_architecture_names_it_and_the_supported_list() {
    let d = edited_copy("mistral", "arch", |c| {
        c["architectures"] = serde_json::json!(["GPTNeoXForCausalLM"])
    });
    let e = load_error(&d);
    assert!(
        e.contains("GPTNeoXForCausalLM")
            && e.contains(
                "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel"
            ),
        "{e}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn unsupported_config_values_are_named() {
    for (tag, key, value, needle) in [
        (
            "yarn",
            "rope_parameters",
            serde_json::json!({"rope_type": "yarn", "factor": 4.0}),
            "yarn",
        ),
        ("act", "hidden_act", serde_json::json!("gelu"), "gelu"),
        (
            "heads",
            "num_attention_heads",
            serde_json::json!(0),
            "num_attention_heads",
        ),
        ("vocab", "vocab_size", serde_json::json!(999), "vocab_size"),
    ] {
        let d = edited_copy("mistral", tag, |c| c[key] = value.clone());
        let e = load_error(&d);
        assert!(e.contains(needle), "{tag}: {e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn unsupported_dtype_names_it_and_the_supported_list() {
    let d = edited_copy("mistral", "dtype", |_| {});
    let path = d.join("model.safetensors");
    let mut b = std::fs::read(&path).unwrap();
    // Turn the first F32 tensor into F64 with the same bytes: the header length stays the same.
    let at = b.windows(5).position(|w| w == b"\"F32\"").unwrap();
    b[at..at + 5].copy_from_slice(b"\"F64\"");
    std::fs::write(&path, b).unwrap();
    let e = load_error(&d);
    assert!(e.contains("F64") && e.contains("F32, F16, BF16"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn missing_tensor_and_missing_folder_are_clear() {
    let d = edited_copy("mistral", "untied", |c| {
        c["tie_word_embeddings"] = serde_json::json!(false)
    });
    let e = load_error(&d);
    assert!(e.contains("lm_head.weight") && e.contains("missing"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
    let e = load_error(Path::new("/nonexistent/folder"));
    assert!(e.contains("not found"), "{e}");
}
