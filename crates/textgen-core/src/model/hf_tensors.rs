//! Hugging Face tensor names (`model.layers.N.self_attn.q_proj.weight`, ...) to the GGUF names the model
//! constructors read (`blk.N.attn_q.weight`, ...), without copying data.

use super::hf_config::HfConfig;
use super::ModelError;
use crate::weights::{MissingTensor, TensorInfo, TensorMap, TensorSet};

/// Per-layer HF suffix -> GGUF name stem.
const LAYER_NAMES: &[(&str, &str)] = &[
    ("input_layernorm.weight", "attn_norm.weight"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.o_proj.weight", "attn_output.weight"),
    ("self_attn.q_proj.bias", "attn_q.bias"),
    ("self_attn.k_proj.bias", "attn_k.bias"),
    ("self_attn.v_proj.bias", "attn_v.bias"),
    ("self_attn.o_proj.bias", "attn_output.bias"),
    ("post_attention_layernorm.weight", "ffn_norm.weight"),
    ("mlp.gate_proj.weight", "ffn_gate.weight"),
    ("mlp.up_proj.weight", "ffn_up.weight"),
    ("mlp.down_proj.weight", "ffn_down.weight"),
];

/// The projections that have biases in this architecture (transformers creates them, so a checkpoint
/// must hold them).
fn biases(cfg: &HfConfig) -> &'static [&'static str] {
    match cfg.architecture.as_str() {
        "Qwen2ForCausalLM" => &["q_proj", "k_proj", "v_proj"],
        _ if cfg.attention_bias => &["q_proj", "k_proj", "v_proj", "o_proj"],
        _ => &[],
    }
}

/// The checkpoint's tensors under GGUF names. Tensors the architecture does not use are left out, as
/// transformers ignores them (a saved `lm_head` when embeddings are tied, biases it has no place for);
/// every one it uses must be present.
pub fn gguf_names(cfg: &HfConfig, st: &dyn TensorSet) -> Result<TensorMap, ModelError> {
    let mut out = TensorMap::default();
    let mut put = |from: &str, to: &str| -> Result<(), ModelError> {
        let t = st
            .get(from)
            .ok_or_else(|| MissingTensor(from.to_string()))?;
        out.insert(TensorInfo {
            name: to.to_string(),
            ..t.clone()
        });
        Ok(())
    };
    put("model.embed_tokens.weight", "token_embd.weight")?;
    put("model.norm.weight", "output_norm.weight")?;
    if !cfg.tie_embeddings {
        put("lm_head.weight", "output.weight")?;
    }
    let biases = biases(cfg);
    for i in 0..cfg.llama.n_layer {
        for (hf, gguf) in LAYER_NAMES {
            let used = match hf.strip_suffix(".bias") {
                Some(b) => biases.iter().any(|p| b.ends_with(p)),
                None => true,
            };
            if used {
                put(
                    &format!("model.layers.{i}.{hf}"),
                    &format!("blk.{i}.{gguf}"),
                )?;
            }
        }
    }
    Ok(out)
}
