//! GPT-2: learned position embeddings, LayerNorm with bias, biased multi-head attention, GELU (tanh) MLP,
//! output tied to the token embedding unless the file has its own.
//!
//! All activations, accumulators and the KV cache are f32; weights stay in their file format and are
//! unpacked inside the matmul kernels.

use super::batch::{
    advance, attention, gather_logit_rows, plan, store_kv, BatchItem, Heads, Scratch,
};
use super::kv_cache::KvShape;
use super::tensors::{matrix, output_head, vector, vocab_rows};
use super::ModelError;
use crate::kernels::ops::{add_assign, add_bias, gelu_tanh, layer_norm};
use crate::kernels::{matmul, Pool, QMatrix};
use crate::weights::{Gguf, TensorSet};

/// Shape and constants of a GPT-2 model.
#[derive(Clone, Debug, PartialEq)]
pub struct Gpt2Config {
    /// Transformer blocks.
    pub n_layer: usize,
    /// Hidden size.
    pub n_embd: usize,
    /// MLP inner size.
    pub n_ff: usize,
    /// Attention heads.
    pub n_head: usize,
    /// LayerNorm epsilon.
    pub ln_eps: f32,
    /// Context length (rows of the position embedding).
    pub n_ctx_train: usize,
    /// Vocabulary size (rows of the token embedding).
    pub vocab_size: usize,
}

impl Gpt2Config {
    /// Reads the `gpt2.*` hyper-parameters of a GGUF file (the vocabulary size comes from the embedding).
    pub fn from_gguf(g: &Gguf) -> Result<Self, ModelError> {
        let cfg = Self {
            n_layer: g.get_usize("gpt2.block_count")?,
            n_embd: g.get_usize("gpt2.embedding_length")?,
            n_ff: g.get_usize("gpt2.feed_forward_length")?,
            n_head: g.get_usize("gpt2.attention.head_count")?,
            ln_eps: g.get_f64("gpt2.attention.layer_norm_epsilon")? as f32,
            n_ctx_train: g.get_usize("gpt2.context_length")?,
            vocab_size: 0,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// Rejects hyper-parameters that cannot describe a working model.
    pub fn check(&self) -> Result<(), ModelError> {
        let bad = |what: String| Err(ModelError::BadConfig(what));
        if self.n_layer == 0 || self.n_embd == 0 || self.n_ff == 0 || self.n_head == 0 {
            return bad(format!("zero-sized dimension in {self:?}"));
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return bad(format!(
                "embedding {} not divisible into {} heads",
                self.n_embd, self.n_head
            ));
        }
        if !(self.ln_eps.is_finite() && self.ln_eps >= 0.0) {
            return bad(format!("layer norm eps {}", self.ln_eps));
        }
        if self.n_ctx_train == 0 {
            return bad("context length 0".into());
        }
        Ok(())
    }

    /// Size of one head.
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }
}

/// A matrix and its bias.
pub struct Linear {
    /// `out × in` weights (rows are output features).
    pub w: QMatrix,
    /// `out` biases.
    pub b: Vec<f32>,
}

impl Linear {
    fn apply(&self, pool: &Pool, x: &[f32], out: &mut [f32]) {
        matmul(pool, &self.w, x, out);
        add_bias(out, &self.b);
    }
}

/// LayerNorm weights.
pub struct Norm {
    /// Scale.
    pub w: Vec<f32>,
    /// Shift.
    pub b: Vec<f32>,
}

/// One transformer block's weights.
pub struct Block {
    /// LayerNorm before attention.
    pub ln_1: Norm,
    /// Query projection.
    pub q: Linear,
    /// Key projection.
    pub k: Linear,
    /// Value projection.
    pub v: Linear,
    /// Attention output projection.
    pub proj: Linear,
    /// LayerNorm before the MLP.
    pub ln_2: Norm,
    /// MLP up projection.
    pub up: Linear,
    /// MLP down projection.
    pub down: Linear,
}

/// A loaded GPT-2 model (no per-sequence state).
pub struct Gpt2 {
    /// Hyper-parameters.
    pub cfg: Gpt2Config,
    /// Token embedding (`vocab × n_embd`).
    pub wte: QMatrix,
    /// Position embedding (`n_ctx × n_embd`).
    pub wpe: QMatrix,
    /// Transformer blocks.
    pub blocks: Vec<Block>,
    /// Final LayerNorm.
    pub ln_f: Norm,
    /// Output projection (the token embedding when tied).
    pub lm_head: QMatrix,
}

/// Splits a fused `3d × d` QKV projection (and its bias) into its query, key and value parts.
pub fn split_qkv(w: &QMatrix, b: &[f32], d: usize) -> Option<[Linear; 3]> {
    let part = |i: usize| {
        Some(Linear {
            w: w.row_range(i * d, d)?,
            b: b.get(i * d..(i + 1) * d)?.to_vec(),
        })
    };
    Some([part(0)?, part(1)?, part(2)?])
}

impl Gpt2 {
    /// Weight bytes one decode step reads: every matrix once (the embeddings only for one row).
    pub fn decode_weight_bytes(&self) -> usize {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                [&b.q, &b.k, &b.v, &b.proj, &b.up, &b.down]
                    .iter()
                    .map(|l| l.w.bytes())
                    .sum::<usize>()
            })
            .sum();
        blocks + self.lm_head.bytes()
    }

    /// Builds the model from `cfg` and tensors named as llama.cpp's converter names GPT-2's
    /// (`token_embd`, `position_embd`, `blk.N.attn_qkv`, ...), checking every tensor's presence and shape;
    /// the vocabulary size is taken from the embedding.
    pub fn from_tensors(mut cfg: Gpt2Config, g: &dyn TensorSet) -> Result<Self, ModelError> {
        let vocab = vocab_rows(g, "token_embd.weight", cfg.n_embd)?;
        cfg.vocab_size = vocab;
        let (d, ff) = (cfg.n_embd, cfg.n_ff);
        let linear = |name: &str, cols: usize, rows: usize| -> Result<Linear, ModelError> {
            Ok(Linear {
                w: matrix(g, &format!("{name}.weight"), cols, rows)?,
                b: vector(g, &format!("{name}.bias"), rows)?,
            })
        };
        let norm = |name: &str| -> Result<Norm, ModelError> {
            Ok(Norm {
                w: vector(g, &format!("{name}.weight"), d)?,
                b: vector(g, &format!("{name}.bias"), d)?,
            })
        };
        let wte = matrix(g, "token_embd.weight", d, vocab)?;
        let lm_head = output_head(g, &wte, d, vocab)?;
        let blocks = (0..cfg.n_layer)
            .map(|i| {
                let n = |s: &str| format!("blk.{i}.{s}");
                let qkv = linear(&n("attn_qkv"), d, 3 * d)?;
                let [q, k, v] = split_qkv(&qkv.w, &qkv.b, d).ok_or_else(|| {
                    ModelError::BadConfig(format!("{} cannot be split in three", n("attn_qkv")))
                })?;
                Ok(Block {
                    ln_1: norm(&n("attn_norm"))?,
                    q,
                    k,
                    v,
                    proj: linear(&n("attn_output"), d, d)?,
                    ln_2: norm(&n("ffn_norm"))?,
                    up: linear(&n("ffn_up"), d, ff)?,
                    down: linear(&n("ffn_down"), ff, d)?,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(Self {
            wpe: matrix(g, "position_embd.weight", d, cfg.n_ctx_train)?,
            ln_f: norm("output_norm")?,
            cfg,
            wte,
            blocks,
            lm_head,
        })
    }

    /// Shape of one token's keys and values.
    pub fn kv_shape(&self) -> KvShape {
        KvShape {
            n_layer: self.cfg.n_layer,
            kv_dim: self.cfg.n_embd,
        }
    }

    /// Runs several sequences through the model in one pass (see `Model::forward_batch`); each row's
    /// result is bit-identical to running its sequence alone.
    pub fn forward_batch(
        &self,
        pool: &Pool,
        batch: &mut [BatchItem],
        scratch: &mut Scratch,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let c = &self.cfg;
        let d = c.n_embd;
        let s = scratch;
        let p = plan(batch, c.vocab_size, s)?;
        let t_n = p.rows;
        for (v, n) in [
            (&mut s.x, t_n * d),
            (&mut s.xn, t_n * d),
            (&mut s.q, t_n * d),
            (&mut s.k, t_n * d),
            (&mut s.v, t_n * d),
            (&mut s.att, t_n * d),
            (&mut s.up, t_n * c.n_ff),
            (&mut s.scores, pool.threads() * p.longest),
        ] {
            v.resize(n);
        }
        for (item, span) in batch.iter().zip(&s.spans) {
            for (t, &id) in item.tokens.iter().enumerate() {
                let rows = (span.row + t) * d..(span.row + t + 1) * d;
                self.wte.dequantize_row(id as usize, &mut s.x[rows.clone()]);
                self.wpe
                    .dequantize_row(span.start + t, &mut s.xn[rows.clone()]);
                add_assign(&mut s.x[rows.clone()], &s.xn[rows]);
            }
        }
        let heads = Heads {
            n_head: c.n_head,
            n_head_kv: c.n_head,
            head_dim: c.head_dim(),
            window: None,
        };

        for (l, b) in self.blocks.iter().enumerate() {
            layer_norm(&s.x, &b.ln_1.w, &b.ln_1.b, c.ln_eps, &mut s.xn);
            b.q.apply(pool, &s.xn, &mut s.q);
            b.k.apply(pool, &s.xn, &mut s.k);
            b.v.apply(pool, &s.xn, &mut s.v);
            store_kv(batch, s, l, d);
            attention(
                pool,
                &heads,
                batch,
                &s.spans,
                &s.row_span,
                l,
                &s.q,
                &mut s.scores,
                &mut s.att,
            );
            b.proj.apply(pool, &s.att, &mut s.xn);
            add_assign(&mut s.x, &s.xn);

            layer_norm(&s.x, &b.ln_2.w, &b.ln_2.b, c.ln_eps, &mut s.xn);
            b.up.apply(pool, &s.xn, &mut s.up);
            gelu_tanh(&mut s.up);
            b.down.apply(pool, &s.up, &mut s.xn);
            add_assign(&mut s.x, &s.xn);
        }
        advance(batch, &s.spans);

        let n_out = p.out_rows;
        gather_logit_rows(batch, &s.spans, d, &s.x, &mut s.q);
        let xn = &mut s.xn[..n_out * d];
        layer_norm(&s.q[..n_out * d], &self.ln_f.w, &self.ln_f.b, c.ln_eps, xn);
        logits.resize(n_out * c.vocab_size, 0.0);
        matmul(pool, &self.lm_head, xn, logits);
        Ok(())
    }
}
