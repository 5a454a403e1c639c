//! `textgen` on Hugging Face folders (the tiny fixtures of textgen-core): `inspect`, `--quantize`,
//! a folder or its config.json as `--model`, and clear errors for what is not supported.

mod common;

use common::run::{stderr, stdout, textgen};
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../textgen-core/tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn inspect_describes_a_hf_folder() {
    let o = textgen(&["inspect", &fixture("hf/qwen2")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "Qwen2ForCausalLM",
        "BF16 ×27",
        "context length  256",
        "420 tokens, BPE (byte-level)",
        "<|begin_of_text|>",
        "<|im_start|>assistant",
    ] {
        assert!(out.contains(needle), "{needle} not in {out}");
    }
}

#[test]
fn inspect_json_for_gguf_and_sharded_folder() {
    let o = textgen(&["inspect", "--json", &fixture("tiny-llama/model.gguf")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let g: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(g["architecture"], "llama");
    assert_eq!(g["format"], "GGUF v3");
    assert_eq!(g["vocab_size"], 260);
    let o = textgen(&["inspect", "--json", &fixture("hf/llama/config.json")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(h["format"], "safetensors (3 files)");
    assert_eq!(h["tensor_types"]["F32"], 21);
    // 420×64 embedding and lm_head, 2 layers of 4·64·64 + 2·64·32 + 3·64·128 + 2·64 weights, final norm.
    assert_eq!(
        h["parameters"],
        2 * 420 * 64 + 2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 128) + 64
    );
}

#[test]
fn generate_from_quantized_models() {
    for q in ["q8_0", "q4_k"] {
        let o = textgen(&[
            "generate",
            "Hello",
            "-m",
            &fixture("hf/llama"),
            "--quantize",
            q,
            "--greedy",
            "-n",
            "4",
        ]);
        assert!(o.status.success(), "{q}: {}", stderr(&o));
    }
    let o = textgen(&[
        "tokenize",
        "Hello world",
        "--ids",
        "-m",
        &fixture("hf/mistral/config.json"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with('['), "{}", stdout(&o));
}

#[test]
fn unsupported_architecture_is_named_with_the_supported_list() {
    let dir = std::env::temp_dir().join(format!("textgen-cli-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"architectures": ["FalconForCausalLM"], "hidden_size": 8}"#,
    )
    .unwrap();
    let o = textgen(&["generate", "hi", "-m", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("FalconForCausalLM")
            && e.contains(
                "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel"
            ),
        "{e}"
    );
}

#[test]
fn inspect_missing_model_exits_2() {
    let o = textgen(&["inspect", "/nonexistent/model"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/model"));
}
