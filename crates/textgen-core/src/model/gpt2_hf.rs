//! GPT-2 from a Hugging Face folder: `config.json` hyper-parameters, and the checkpoint's tensors under the
//! GGUF names `Gpt2::from_tensors` reads, the Conv1D weights (`[in, out]`) transposed to the Linear layout.

use super::gpt2::Gpt2Config;
use super::hf_config::{bad, bool_or, f64_or, usize_or};
use super::ModelError;
use crate::weights::dequant::dequantize;
use crate::weights::{Blob, GgmlType, MissingTensor, TensorInfo, TensorMap, TensorSet};
use serde_json::Value;

/// The `architectures` value of GPT-2 checkpoints.
pub const HF_GPT2: &str = "GPT2LMHeadModel";

/// Activations transformers implements as the tanh-approximated GELU GPT-2 uses.
const GELU_TANH: &[&str] = &["gelu_new", "gelu_pytorch_tanh", "gelu_fast"];

/// Per-layer HF suffix -> GGUF name, and whether the weight is a Conv1D to transpose.
const LAYER_NAMES: &[(&str, &str, bool)] = &[
    ("ln_1.weight", "attn_norm.weight", false),
    ("ln_1.bias", "attn_norm.bias", false),
    ("attn.c_attn.weight", "attn_qkv.weight", true),
    ("attn.c_attn.bias", "attn_qkv.bias", false),
    ("attn.c_proj.weight", "attn_output.weight", true),
    ("attn.c_proj.bias", "attn_output.bias", false),
    ("ln_2.weight", "ffn_norm.weight", false),
    ("ln_2.bias", "ffn_norm.bias", false),
    ("mlp.c_fc.weight", "ffn_up.weight", true),
    ("mlp.c_fc.bias", "ffn_up.bias", false),
    ("mlp.c_proj.weight", "ffn_down.weight", true),
    ("mlp.c_proj.bias", "ffn_down.bias", false),
];

/// A GPT-2 `config.json`: the model shape and whether the head is tied to the embedding.
pub struct HfGpt2 {
    /// The model shape (vocabulary size included).
    pub cfg: Gpt2Config,
    /// `tie_word_embeddings` (default true for GPT-2).
    pub tie_embeddings: bool,
}

impl HfGpt2 {
    /// Parses a GPT-2 `config.json` with transformers' defaults, rejecting features this forward pass lacks.
    pub fn parse(j: &Value) -> Result<Self, ModelError> {
        let act = j
            .get("activation_function")
            .and_then(Value::as_str)
            .unwrap_or("gelu_new");
        if !GELU_TANH.contains(&act) {
            return Err(bad(format!(
                "activation_function \"{act}\" is not supported (supported: {})",
                GELU_TANH.join(", ")
            )));
        }
        for unsupported in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] {
            if bool_or(j, unsupported, false)? {
                return Err(bad(format!("{unsupported} is not supported")));
            }
        }
        if !bool_or(j, "scale_attn_weights", true)? {
            return Err(bad("scale_attn_weights false is not supported".into()));
        }
        let n_embd = usize_or(j, "n_embd", Some(768))?;
        let cfg = Gpt2Config {
            n_layer: usize_or(j, "n_layer", Some(12))?,
            n_embd,
            n_ff: usize_or(j, "n_inner", Some(4 * n_embd))?,
            n_head: usize_or(j, "n_head", Some(12))?,
            ln_eps: f64_or(j, "layer_norm_epsilon", 1e-5)? as f32,
            n_ctx_train: usize_or(j, "n_positions", Some(1024))?,
            vocab_size: usize_or(j, "vocab_size", Some(50257))?,
        };
        cfg.check()?;
        Ok(Self {
            cfg,
            tie_embeddings: bool_or(j, "tie_word_embeddings", true)?,
        })
    }

    /// The checkpoint's tensors under GGUF names (`transformer.` prefixed or not, as GPT-2 checkpoints
    /// come both ways); Conv1D weights are transposed into owned f32 memory, the rest is not copied.
    pub fn gguf_names(&self, st: &dyn TensorSet) -> Result<TensorMap, ModelError> {
        let prefix = if st.get("transformer.wte.weight").is_some() {
            "transformer."
        } else {
            ""
        };
        let mut out = TensorMap::default();
        let mut put = |from: &str, to: &str, conv1d: bool| -> Result<(), ModelError> {
            let t = st
                .get(from)
                .ok_or_else(|| MissingTensor(from.to_string()))?;
            out.insert(if conv1d {
                transposed(t, to)?
            } else {
                TensorInfo {
                    name: to.to_string(),
                    ..t.clone()
                }
            });
            Ok(())
        };
        put(&format!("{prefix}wte.weight"), "token_embd.weight", false)?;
        put(
            &format!("{prefix}wpe.weight"),
            "position_embd.weight",
            false,
        )?;
        put(&format!("{prefix}ln_f.weight"), "output_norm.weight", false)?;
        put(&format!("{prefix}ln_f.bias"), "output_norm.bias", false)?;
        if !self.tie_embeddings {
            put("lm_head.weight", "output.weight", false)?;
        }
        for i in 0..self.cfg.n_layer {
            for (hf, gguf, conv1d) in LAYER_NAMES {
                put(
                    &format!("{prefix}h.{i}.{hf}"),
                    &format!("blk.{i}.{gguf}"),
                    *conv1d,
                )?;
            }
        }
        Ok(out)
    }
}

/// A Conv1D weight (torch `[in, out]`, GGML dims `[out, in]`) as an f32 Linear weight (GGML dims
/// `[in, out]`: one row of `in` values per output feature), named `name`.
fn transposed(t: &TensorInfo, name: &str) -> Result<TensorInfo, ModelError> {
    let [n_out, n_in] = t.dims[..] else {
        return Err(ModelError::BadTensorShape {
            name: t.name.clone(),
            expected: vec![0, 0],
            got: t.dims.clone(),
        });
    };
    let mut src = vec![0.0f32; n_in * n_out];
    dequantize(t.ty, t.data.bytes(), &mut src);
    let mut bytes = Vec::with_capacity(src.len() * 4);
    for o in 0..n_out {
        for i in 0..n_in {
            bytes.extend_from_slice(&src[i * n_out + o].to_le_bytes());
        }
    }
    Ok(TensorInfo {
        name: name.to_string(),
        ty: GgmlType::F32,
        dims: vec![n_in, n_out],
        data: Blob::from_vec(bytes),
    })
}
