//! Hyper-parameters of a Llama-family model, read from GGUF metadata.

use super::rope::{RopeScaling, RopeStyle};
use super::ModelError;
use crate::weights::Gguf;

/// Architectures whose GGUF files this build can run.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["llama"];

/// Shape and constants of a Llama-family transformer.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Transformer blocks.
    pub n_layer: usize,
    /// Hidden size.
    pub n_embd: usize,
    /// MLP inner size.
    pub n_ff: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention when fewer than `n_head`).
    pub n_head_kv: usize,
    /// Size of one head (`n_embd / n_head` unless the config says otherwise).
    pub head_dim: usize,
    /// Dimensions of each head that get rotary embedding.
    pub rope_dim: usize,
    /// Rotary embedding base frequency.
    pub rope_base: f32,
    /// Which head dimensions rotate together.
    pub rope_style: RopeStyle,
    /// Frequency scaling for long contexts.
    pub rope_scaling: RopeScaling,
    /// Per layer: attend only to the last this-many positions (sliding window), or `None` for all.
    pub layer_window: Vec<Option<usize>>,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// Context length the model was trained for.
    pub n_ctx_train: usize,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
}

impl LlamaConfig {
    /// Reads the config of the GGUF file's architecture, rejecting unsupported or inconsistent values.
    pub fn from_gguf(g: &Gguf) -> Result<Self, ModelError> {
        let arch = g.get_str("general.architecture")?;
        if !SUPPORTED_ARCHITECTURES.contains(&arch) {
            return Err(ModelError::UnsupportedArchitecture {
                arch: arch.to_string(),
                supported: SUPPORTED_ARCHITECTURES.join(", "),
            });
        }
        let key = |k: &str| format!("{arch}.{k}");
        let n_embd = g.get_usize(&key("embedding_length"))?;
        let n_head = g.get_usize(&key("attention.head_count"))?;
        let n_head_kv = match g.get(&key("attention.head_count_kv")) {
            Some(_) => g.get_usize(&key("attention.head_count_kv"))?,
            None => n_head,
        };
        let head_dim = n_embd.checked_div(n_head).unwrap_or(0);
        let n_layer = g.get_usize(&key("block_count"))?;
        let rope_dim = match g.get(&key("rope.dimension_count")) {
            Some(_) => g.get_usize(&key("rope.dimension_count"))?,
            None => head_dim,
        };
        let rope_base = match g.get(&key("rope.freq_base")) {
            Some(_) => g.get_f64(&key("rope.freq_base"))? as f32,
            None => 10000.0,
        };
        let cfg = Self {
            n_layer,
            n_embd,
            n_ff: g.get_usize(&key("feed_forward_length"))?,
            n_head,
            n_head_kv,
            head_dim,
            rope_dim,
            rope_base,
            rope_style: RopeStyle::Interleaved,
            rope_scaling: RopeScaling::None,
            layer_window: vec![None; n_layer],
            rms_eps: g.get_f64(&key("attention.layer_norm_rms_epsilon"))? as f32,
            n_ctx_train: g.get_usize(&key("context_length"))?,
            vocab_size: 0,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// Rejects inconsistent values (every constructor ends with this).
    pub(crate) fn check(&self) -> Result<(), ModelError> {
        let bad = |what: String| Err(ModelError::BadConfig(what));
        if self.n_layer == 0 || self.n_embd == 0 || self.n_ff == 0 || self.n_head == 0 {
            return bad(format!("zero-sized dimension in {self:?}"));
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return bad(format!(
                "head size {} for embedding {} and {} heads is not a positive even number",
                self.head_dim, self.n_embd, self.n_head
            ));
        }
        if self.layer_window.len() != self.n_layer || self.layer_window.contains(&Some(0)) {
            return bad(format!(
                "sliding windows {:?} for {} layers",
                self.layer_window, self.n_layer
            ));
        }
        if self.n_head_kv == 0 || !self.n_head.is_multiple_of(self.n_head_kv) {
            return bad(format!(
                "{} query heads cannot share {} kv heads",
                self.n_head, self.n_head_kv
            ));
        }
        if self.rope_dim > self.head_dim || !self.rope_dim.is_multiple_of(2) {
            return bad(format!(
                "rope dimension {} for head size {}",
                self.rope_dim, self.head_dim
            ));
        }
        if !(self.rope_base.is_finite()
            && self.rope_base > 0.0
            && self.rms_eps.is_finite()
            && self.rms_eps >= 0.0)
        {
            return bad(format!(
                "rope base {} / rms eps {}",
                self.rope_base, self.rms_eps
            ));
        }
        if self.n_ctx_train == 0 {
            return bad("context length 0".into());
        }
        Ok(())
    }

    /// Size of the query vector of one token: `n_head * head_dim`.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }

    /// Size of the key (and value) vector of one token: `n_head_kv * head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }
}
