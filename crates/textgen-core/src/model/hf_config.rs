//! Llama-family hyper-parameters from a Hugging Face `config.json` (Llama 2/3, TinyLlama, SmolLM, Mistral,
//! Qwen2), with transformers' defaults for absent keys.

use super::config::LlamaConfig;
use super::rope::{RopeScaling, RopeStyle, SUPPORTED_SCALING};
use super::ModelError;
use serde_json::Value;

/// `architectures` values of `config.json` this build runs.
pub const HF_ARCHITECTURES: &[&str] =
    &["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"];

/// A parsed `config.json`: the model shape plus what the weight loader needs to know.
#[derive(Clone, Debug)]
pub struct HfConfig {
    /// The `architectures` entry.
    pub architecture: String,
    /// The transformer's shape (vocabulary size included).
    pub llama: LlamaConfig,
    /// Whether the output projection is the embedding (`tie_word_embeddings`, default false as in
    /// transformers 5).
    pub tie_embeddings: bool,
    /// Whether a Llama's attention projections have biases (`attention_bias`).
    pub attention_bias: bool,
}

pub(super) fn bad(what: String) -> ModelError {
    ModelError::BadConfig(what)
}

/// Reads `key` as a positive integer, `default` when absent or null.
pub(super) fn usize_or(j: &Value, key: &str, default: Option<usize>) -> Result<usize, ModelError> {
    match j.get(key) {
        None | Some(Value::Null) => default.ok_or_else(|| bad(format!("\"{key}\" is missing"))),
        Some(v) => v
            .as_u64()
            .filter(|&n| n > 0 && n <= u32::MAX as u64)
            .map(|n| n as usize)
            .ok_or_else(|| bad(format!("\"{key}\" is {v}, expected a positive integer"))),
    }
}

/// Reads `key` as a number, `default` when absent or null.
pub(super) fn f64_or(j: &Value, key: &str, default: f64) -> Result<f64, ModelError> {
    match j.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| bad(format!("\"{key}\" is {v}, expected a number"))),
    }
}

/// Reads `key` as a bool, `default` when absent or null.
pub(super) fn bool_or(j: &Value, key: &str, default: bool) -> Result<bool, ModelError> {
    match j.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad(format!("\"{key}\" is {v}, expected true or false"))),
    }
}

/// The rope parameters: transformers 5 writes `rope_parameters` (theta inside), older versions
/// `rope_theta` + `rope_scaling`.
fn rope(j: &Value) -> Result<(f64, RopeScaling), ModelError> {
    let params = match j.get("rope_parameters") {
        Some(p @ Value::Object(_)) => p,
        _ => j.get("rope_scaling").unwrap_or(&Value::Null),
    };
    let theta = match params.get("rope_theta") {
        Some(_) => f64_or(params, "rope_theta", 10000.0)?,
        None => f64_or(j, "rope_theta", 10000.0)?,
    };
    if params.is_null() {
        return Ok((theta, RopeScaling::None));
    }
    let kind = params
        .get("rope_type")
        .or_else(|| params.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    let num = |k: &str| -> Result<f64, ModelError> {
        params
            .get(k)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite() && *v > 0.0)
            .ok_or_else(|| bad(format!("rope scaling \"{kind}\" needs a positive \"{k}\"")))
    };
    let scaling = match kind {
        "default" => RopeScaling::None,
        "linear" => RopeScaling::Linear {
            factor: num("factor")?,
        },
        "llama3" => {
            let (lo, hi) = (num("low_freq_factor")?, num("high_freq_factor")?);
            if hi <= lo {
                return Err(bad(format!(
                    "llama3 rope scaling needs high_freq_factor {hi} > low_freq_factor {lo}"
                )));
            }
            RopeScaling::Llama3 {
                factor: num("factor")?,
                low_freq_factor: lo,
                high_freq_factor: hi,
                original_context: num("original_max_position_embeddings")?,
            }
        }
        other => {
            return Err(bad(format!(
                "unsupported rope scaling type \"{other}\" (supported: {SUPPORTED_SCALING})"
            )))
        }
    };
    Ok((theta, scaling))
}

/// Per-layer sliding windows: Mistral's applies to every layer; Qwen2's (with `use_sliding_window`) to
/// the layers transformers marks `sliding_attention` (`layer_types`, else those from `max_window_layers` on).
fn windows(j: &Value, arch: &str, n_layer: usize) -> Result<Vec<Option<usize>>, ModelError> {
    let window = match j.get("sliding_window") {
        None | Some(Value::Null) => None,
        Some(_) => Some(usize_or(j, "sliding_window", None)?),
    };
    let Some(w) = window else {
        return Ok(vec![None; n_layer]);
    };
    match arch {
        "MistralForCausalLM" => Ok(vec![Some(w); n_layer]),
        "Qwen2ForCausalLM" if bool_or(j, "use_sliding_window", false)? => {
            match j.get("layer_types").and_then(Value::as_array) {
                Some(types) if types.len() == n_layer => Ok(types
                    .iter()
                    .map(|t| (t.as_str() == Some("sliding_attention")).then_some(w))
                    .collect()),
                Some(types) => Err(bad(format!(
                    "\"layer_types\" has {} entries for {n_layer} layers",
                    types.len()
                ))),
                None => {
                    let from = usize_or(j, "max_window_layers", Some(28))?;
                    Ok((0..n_layer).map(|i| (i >= from).then_some(w)).collect())
                }
            }
        }
        _ => Ok(vec![None; n_layer]),
    }
}

impl HfConfig {
    /// Parses a `config.json` value, rejecting unsupported architectures and features with clear errors.
    pub fn parse(j: &Value) -> Result<Self, ModelError> {
        let arch = j
            .get("architectures")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .ok_or_else(|| bad("\"architectures\" is missing".into()))?;
        if !HF_ARCHITECTURES.contains(&arch) {
            return Err(ModelError::UnsupportedArchitecture {
                arch: arch.to_string(),
                supported: HF_ARCHITECTURES.join(", "),
            });
        }
        let act = j
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("silu");
        if act != "silu" {
            return Err(bad(format!(
                "hidden_act \"{act}\" is not supported (supported: silu)"
            )));
        }
        if bool_or(j, "mlp_bias", false)? {
            return Err(bad("mlp_bias is not supported".into()));
        }
        let n_embd = usize_or(j, "hidden_size", None)?;
        let n_head = usize_or(j, "num_attention_heads", None)?;
        let n_layer = usize_or(j, "num_hidden_layers", None)?;
        let head_dim = usize_or(j, "head_dim", Some(n_embd / n_head).filter(|&h| h > 0))?;
        let (theta, rope_scaling) = rope(j)?;
        let default_ctx = match arch {
            "MistralForCausalLM" => 4096 * 32,
            "Qwen2ForCausalLM" => 32768,
            _ => 2048,
        };
        let llama = LlamaConfig {
            n_layer,
            n_embd,
            n_ff: usize_or(j, "intermediate_size", None)?,
            n_head,
            n_head_kv: usize_or(j, "num_key_value_heads", Some(n_head))?,
            head_dim,
            rope_dim: head_dim,
            rope_base: theta as f32,
            rope_style: RopeStyle::Halves,
            rope_scaling,
            layer_window: windows(j, arch, n_layer)?,
            rms_eps: f64_or(j, "rms_norm_eps", 1e-6)? as f32,
            n_ctx_train: usize_or(j, "max_position_embeddings", Some(default_ctx))?,
            vocab_size: usize_or(j, "vocab_size", None)?,
        };
        llama.check()?;
        Ok(Self {
            architecture: arch.to_string(),
            llama,
            tie_embeddings: bool_or(j, "tie_word_embeddings", false)?,
            attention_bias: bool_or(j, "attention_bias", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(arch: &str) -> Value {
        json!({"architectures": [arch], "hidden_size": 64, "intermediate_size": 128,
               "num_hidden_layers": 4, "num_attention_heads": 4, "vocab_size": 100})
    }

    #[test]
    fn transformers_4_rope_scaling_and_theta_are_read() {
        // Llama 3.1's config.json as transformers 4 writes it.
        let mut j = base("LlamaForCausalLM");
        j["rope_theta"] = json!(500000.0);
        j["rope_scaling"] = json!({"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192, "rope_type": "llama3"});
        let c = HfConfig::parse(&j).unwrap();
        assert_eq!(c.llama.rope_base, 500000.0);
        assert_eq!(
            c.llama.rope_scaling,
            RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_context: 8192.0
            }
        );
        // The oldest spelling: "type".
        j["rope_scaling"] = json!({"type": "linear", "factor": 4.0});
        let c = HfConfig::parse(&j).unwrap();
        assert_eq!(c.llama.rope_scaling, RopeScaling::Linear { factor: 4.0 });
        assert_eq!((c.llama.n_head_kv, c.llama.head_dim), (4, 16));
        assert_eq!(c.llama.n_ctx_train, 2048);
    }

    #[test]
    fn qwen2_windows_follow_use_sliding_window_and_max_window_layers() {
        let mut j = base("Qwen2ForCausalLM");
        j["sliding_window"] = json!(8);
        assert_eq!(
            HfConfig::parse(&j).unwrap().llama.layer_window,
            vec![None; 4]
        );
        j["use_sliding_window"] = json!(true);
        j["max_window_layers"] = json!(2);
        let w = HfConfig::parse(&j).unwrap().llama.layer_window;
        assert_eq!(w, vec![None, None, Some(8), Some(8)]);
        j["layer_types"] = json!([
            "sliding_attention",
            "full_attention",
            "full_attention",
            "full_attention"
        ]);
        let w = HfConfig::parse(&j).unwrap().llama.layer_window;
        assert_eq!(w, vec![Some(8), None, None, None]);
        j["layer_types"] = json!(["full_attention"]);
        assert!(HfConfig::parse(&j).is_err());
    }

    #[test]
    fn bad_values_are_named() {
        for (key, value, needle) in [
            ("hidden_size", json!("64"), "hidden_size"),
            ("mlp_bias", json!(true), "mlp_bias"),
            (
                "rope_scaling",
                json!({"rope_type": "dynamic", "factor": 2.0}),
                "dynamic",
            ),
            ("rope_scaling", json!({"rope_type": "linear"}), "factor"),
        ] {
            let mut j = base("MistralForCausalLM");
            j[key] = value;
            let e = HfConfig::parse(&j).unwrap_err().to_string();
            assert!(e.contains(needle), "{key}: {e}");
        }
        let mut j = base("MistralForCausalLM");
        j.as_object_mut().unwrap().remove("architectures");
        assert!(HfConfig::parse(&j).is_err());
    }
}
