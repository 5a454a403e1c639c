//! The Llama-family transformer: RMSNorm, rotary embedding, grouped-query attention, SwiGLU MLP.
//!
//! All activations, accumulators and the KV cache are f32; weights stay in their file format and are
//! unpacked inside the matmul kernels.

use super::batch::{
    advance, attention, gather_logit_rows, plan, store_kv, BatchItem, Heads, Scratch,
};
use super::config::LlamaConfig;
use super::kv_cache::KvShape;
use super::rope::{inv_freq, RopeStyle};
use super::tensors::{matrix, opt_vector, output_head, vector, vocab_rows};
use super::ModelError;
use crate::kernels::ops::{
    add_assign, add_bias, rms_norm, rope_angles, rope_halves, rope_interleaved, swiglu,
};
use crate::kernels::{matmul, matmul_group, Pool, QMatrix};
use crate::weights::{Gguf, TensorSet};

struct Layer {
    attn_norm: Vec<f32>,
    wq: QMatrix,
    wk: QMatrix,
    wv: QMatrix,
    wo: QMatrix,
    /// Projection biases (Qwen2: q, k, v; Llama with `attention_bias`: all four).
    bq: Option<Vec<f32>>,
    bk: Option<Vec<f32>>,
    bv: Option<Vec<f32>>,
    bo: Option<Vec<f32>>,
    /// Sliding attention window, if this layer has one.
    window: Option<usize>,
    ffn_norm: Vec<f32>,
    w_gate: QMatrix,
    w_up: QMatrix,
    w_down: QMatrix,
}

/// A loaded Llama-family model (weights memory-mapped, no per-sequence state).
pub struct Llama {
    /// Hyper-parameters.
    pub cfg: LlamaConfig,
    tok_embd: QMatrix,
    layers: Vec<Layer>,
    output_norm: Vec<f32>,
    output: QMatrix,
    inv_freq: Vec<f32>,
}

/// Adds the bias, if any, to every row of `x`.
fn add_opt_bias(x: &mut [f32], b: &Option<Vec<f32>>) {
    if let Some(b) = b {
        add_bias(x, b);
    }
}

impl Llama {
    /// Weight bytes one decode step reads: every matrix once (the embedding only for one row).
    pub fn decode_weight_bytes(&self) -> usize {
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]
                    .iter()
                    .map(|m| m.bytes())
                    .sum::<usize>()
            })
            .sum();
        layers + self.output.bytes()
    }

    /// Builds the model from a parsed GGUF file, checking every tensor's presence and shape.
    pub fn from_gguf(g: &Gguf) -> Result<Self, ModelError> {
        Self::from_tensors(LlamaConfig::from_gguf(g)?, g)
    }

    /// Builds the model from `cfg` and tensors with GGUF names (`token_embd.weight`, `blk.N.attn_q.weight`, ...),
    /// checking every tensor's presence and shape; the vocabulary size is taken from the embedding.
    pub fn from_tensors(mut cfg: LlamaConfig, g: &dyn TensorSet) -> Result<Self, ModelError> {
        let vocab = vocab_rows(g, "token_embd.weight", cfg.n_embd)?;
        cfg.vocab_size = vocab;
        let (d, qd, kv, ff) = (cfg.n_embd, cfg.q_dim(), cfg.kv_dim(), cfg.n_ff);
        let tok_embd = matrix(g, "token_embd.weight", d, vocab)?;
        let output = output_head(g, &tok_embd, d, vocab)?;
        let layers = (0..cfg.n_layer)
            .map(|i| {
                let n = |s: &str| format!("blk.{i}.{s}.weight");
                let b = |s: &str| format!("blk.{i}.{s}.bias");
                Ok(Layer {
                    attn_norm: vector(g, &n("attn_norm"), d)?,
                    wq: matrix(g, &n("attn_q"), d, qd)?,
                    wk: matrix(g, &n("attn_k"), d, kv)?,
                    wv: matrix(g, &n("attn_v"), d, kv)?,
                    wo: matrix(g, &n("attn_output"), qd, d)?,
                    bq: opt_vector(g, &b("attn_q"), qd)?,
                    bk: opt_vector(g, &b("attn_k"), kv)?,
                    bv: opt_vector(g, &b("attn_v"), kv)?,
                    bo: opt_vector(g, &b("attn_output"), d)?,
                    window: cfg.layer_window[i],
                    ffn_norm: vector(g, &n("ffn_norm"), d)?,
                    w_gate: matrix(g, &n("ffn_gate"), d, ff)?,
                    w_up: matrix(g, &n("ffn_up"), d, ff)?,
                    w_down: matrix(g, &n("ffn_down"), ff, d)?,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(Self {
            output_norm: vector(g, "output_norm.weight", d)?,
            inv_freq: inv_freq(cfg.rope_base, cfg.rope_dim, cfg.rope_scaling),
            cfg,
            tok_embd,
            layers,
            output,
        })
    }

    /// Shape of one token's keys and values.
    pub fn kv_shape(&self) -> KvShape {
        KvShape {
            n_layer: self.cfg.n_layer,
            kv_dim: self.cfg.kv_dim(),
        }
    }

    /// Runs several sequences through the model in one pass: their token rows share every matmul, and each
    /// attends only over its own cache. Each row's result is bit-identical to running its sequence alone.
    ///
    /// Writes the logits of each item's rows `tokens[logits_from..]`, item after item, into `logits`.
    pub fn forward_batch(
        &self,
        pool: &Pool,
        batch: &mut [BatchItem],
        scratch: &mut Scratch,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let c = &self.cfg;
        let (d, q_dim, kv_dim, hd) = (c.n_embd, c.q_dim(), c.kv_dim(), c.head_dim);
        let s = scratch;
        let p = plan(batch, c.vocab_size, s)?;
        let t_n = p.rows;
        for (v, n) in [
            (&mut s.x, t_n * d),
            (&mut s.xn, t_n * d),
            (&mut s.q, t_n * q_dim.max(d)), // also gathers the rows that want logits
            (&mut s.k, t_n * kv_dim),
            (&mut s.v, t_n * kv_dim),
            (&mut s.att, t_n * q_dim),
            (&mut s.gate, t_n * c.n_ff),
            (&mut s.up, t_n * c.n_ff),
            (&mut s.scores, pool.threads() * p.longest),
            (&mut s.cos, t_n * c.rope_dim / 2),
            (&mut s.sin, t_n * c.rope_dim / 2),
        ] {
            v.resize(n);
        }
        for (item, span) in batch.iter().zip(&s.spans) {
            for (t, &id) in item.tokens.iter().enumerate() {
                let row = span.row + t;
                self.tok_embd
                    .dequantize_row(id as usize, &mut s.x[row * d..(row + 1) * d]);
            }
        }
        let half = c.rope_dim / 2;
        for span in &s.spans {
            for t in 0..span.len {
                let r = (span.row + t) * half..(span.row + t + 1) * half;
                rope_angles(
                    span.start + t,
                    &self.inv_freq,
                    &mut s.cos[r.clone()],
                    &mut s.sin[r],
                );
            }
        }

        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&s.x, &layer.attn_norm, c.rms_eps, &mut s.xn);
            let q = &mut s.q[..t_n * q_dim];
            let qkv = [&layer.wq, &layer.wk, &layer.wv];
            matmul_group(pool, qkv, &s.xn, [&mut *q, &mut s.k, &mut s.v]);
            add_opt_bias(q, &layer.bq);
            add_opt_bias(&mut s.k, &layer.bk);
            add_opt_bias(&mut s.v, &layer.bv);
            let rope = match c.rope_style {
                RopeStyle::Interleaved => rope_interleaved,
                RopeStyle::Halves => rope_halves,
            };
            for t in 0..t_n {
                let (cs, sn) = (
                    &s.cos[t * half..(t + 1) * half],
                    &s.sin[t * half..(t + 1) * half],
                );
                rope(&mut q[t * q_dim..(t + 1) * q_dim], hd, cs, sn);
                rope(&mut s.k[t * kv_dim..(t + 1) * kv_dim], hd, cs, sn);
            }
            store_kv(batch, s, l, kv_dim);
            let heads = Heads {
                n_head: c.n_head,
                n_head_kv: c.n_head_kv,
                head_dim: hd,
                window: layer.window,
            };
            attention(
                pool,
                &heads,
                batch,
                &s.spans,
                &s.row_span,
                l,
                &s.q[..t_n * q_dim],
                &mut s.scores,
                &mut s.att,
            );
            matmul(pool, &layer.wo, &s.att, &mut s.xn);
            add_opt_bias(&mut s.xn, &layer.bo);
            add_assign(&mut s.x, &s.xn);

            rms_norm(&s.x, &layer.ffn_norm, c.rms_eps, &mut s.xn);
            let gate_up = [&layer.w_gate, &layer.w_up];
            matmul_group(pool, gate_up, &s.xn, [&mut s.gate, &mut s.up]);
            swiglu(&mut s.gate, &s.up);
            matmul(pool, &layer.w_down, &s.gate, &mut s.xn);
            add_assign(&mut s.x, &s.xn);
        }
        advance(batch, &s.spans);

        // Gather the rows that want logits in front of `q`, normalise into `xn`.
        let n_out = p.out_rows;
        gather_logit_rows(batch, &s.spans, d, &s.x, &mut s.q);
        let xn = &mut s.xn[..n_out * d];
        rms_norm(&s.q[..n_out * d], &self.output_norm, c.rms_eps, xn);
        logits.resize(n_out * c.vocab_size, 0.0);
        matmul(pool, &self.output, xn, logits);
        Ok(())
    }
}
