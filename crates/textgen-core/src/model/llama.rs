//! The Llama-family transformer: RMSNorm, rotary embedding, grouped-query attention, SwiGLU MLP.
//!
//! All activations, accumulators and the KV cache are f32; weights stay in their file format and are
//! unpacked inside the matmul kernels.

use super::config::LlamaConfig;
use super::kv_cache::KvCache;
use super::rope::{inv_freq, RopeStyle};
use super::ModelError;
use crate::kernels::dot::{axpy, detect, dot_f32};
use crate::kernels::ops::{
    add_assign, add_bias, rms_norm, rope_angles, rope_halves, rope_interleaved, softmax, swiglu,
};
use crate::kernels::pool::SyncPtr;
use crate::kernels::{matmul, Pool, QMatrix};
use crate::weights::dequant::dequantize;
use crate::weights::{Gguf, TensorInfo, TensorSet};

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

/// Reusable work buffers for forward passes (grown on demand, never shrunk: no allocation in steady state).
#[derive(Default)]
pub struct Scratch {
    x: Vec<f32>,
    xn: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    scores: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    spans: Vec<Span>,
    row_span: Vec<usize>,
}

/// Where one batch item's rows sit: first row in the batch, first position in its cache, row count.
#[derive(Clone, Copy, Default)]
struct Span {
    row: usize,
    start: usize,
    len: usize,
}

/// One sequence's part of a batched forward pass.
pub struct BatchItem<'a> {
    /// New tokens, appended at the cache's current position.
    pub tokens: &'a [u32],
    /// The sequence's cache.
    pub cache: &'a mut KvCache,
    /// Rows `tokens[logits_from..]` produce logits (`tokens.len()` for none).
    pub logits_from: usize,
}

fn resize(v: &mut Vec<f32>, n: usize) {
    v.resize(n, 0.0);
}

fn matrix(g: &dyn TensorSet, name: &str, cols: usize, rows: usize) -> Result<QMatrix, ModelError> {
    let t = g.require(name)?;
    shaped(t, &[cols, rows])?;
    QMatrix::from_tensor(t).map_err(|got| ModelError::BadTensorShape {
        name: name.into(),
        expected: vec![cols, rows],
        got,
    })
}

fn vector(g: &dyn TensorSet, name: &str, n: usize) -> Result<Vec<f32>, ModelError> {
    let t = g.require(name)?;
    shaped(t, &[n])?;
    let mut v = vec![0.0; n];
    dequantize(t.ty, t.data.bytes(), &mut v);
    Ok(v)
}

fn bias(g: &dyn TensorSet, name: &str, n: usize) -> Result<Option<Vec<f32>>, ModelError> {
    match g.get(name) {
        Some(_) => vector(g, name, n).map(Some),
        None => Ok(None),
    }
}

/// Adds the bias, if any, to every row of `x`.
fn add_opt_bias(x: &mut [f32], b: &Option<Vec<f32>>) {
    if let Some(b) = b {
        add_bias(x, b);
    }
}

fn shaped(t: &TensorInfo, expected: &[usize]) -> Result<(), ModelError> {
    if t.dims != expected {
        return Err(ModelError::BadTensorShape {
            name: t.name.clone(),
            expected: expected.to_vec(),
            got: t.dims.clone(),
        });
    }
    Ok(())
}

impl Llama {
    /// Builds the model from a parsed GGUF file, checking every tensor's presence and shape.
    pub fn from_gguf(g: &Gguf) -> Result<Self, ModelError> {
        Self::from_tensors(LlamaConfig::from_gguf(g)?, g)
    }

    /// Builds the model from `cfg` and tensors with GGUF names (`token_embd.weight`, `blk.N.attn_q.weight`, ...),
    /// checking every tensor's presence and shape; the vocabulary size is taken from the embedding.
    pub fn from_tensors(mut cfg: LlamaConfig, g: &dyn TensorSet) -> Result<Self, ModelError> {
        let emb = g.require("token_embd.weight")?;
        let vocab = match emb.dims[..] {
            [c, v] if c == cfg.n_embd && v > 0 => v,
            _ => {
                return Err(ModelError::BadTensorShape {
                    name: emb.name.clone(),
                    expected: vec![cfg.n_embd, 0],
                    got: emb.dims.clone(),
                })
            }
        };
        cfg.vocab_size = vocab;
        let (d, qd, kv, ff) = (cfg.n_embd, cfg.q_dim(), cfg.kv_dim(), cfg.n_ff);
        let tok_embd = matrix(g, "token_embd.weight", d, vocab)?;
        let output = match g.get("output.weight") {
            Some(_) => matrix(g, "output.weight", d, vocab)?,
            None => tok_embd.clone(),
        };
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
                    bq: bias(g, &b("attn_q"), qd)?,
                    bk: bias(g, &b("attn_k"), kv)?,
                    bv: bias(g, &b("attn_v"), kv)?,
                    bo: bias(g, &b("attn_output"), d)?,
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

    /// A KV cache for a sequence of up to `capacity` tokens (capped at the trained context length).
    pub fn new_cache(&self, capacity: usize) -> KvCache {
        KvCache::new(&self.cfg, capacity.min(self.cfg.n_ctx_train))
    }

    /// Runs `tokens` (appended at the cache's current position) through the model.
    ///
    /// Writes logits for `tokens[logits_from..]` into `logits` (`(tokens.len() - logits_from) × vocab`).
    pub fn forward(
        &self,
        pool: &Pool,
        tokens: &[u32],
        cache: &mut KvCache,
        scratch: &mut Scratch,
        logits_from: usize,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let mut batch = [BatchItem {
            tokens,
            cache,
            logits_from,
        }];
        self.forward_batch(pool, &mut batch, scratch, logits)
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
        for item in batch.iter() {
            let need = item.cache.len() + item.tokens.len();
            if need > item.cache.capacity() {
                return Err(ModelError::ContextFull {
                    need,
                    capacity: item.cache.capacity(),
                });
            }
            if let Some(&id) = item.tokens.iter().find(|&&id| id as usize >= c.vocab_size) {
                return Err(ModelError::TokenOutOfRange {
                    id,
                    vocab: c.vocab_size,
                });
            }
        }
        let s = scratch;
        s.spans.clear();
        let mut t_n = 0;
        let mut n_out = 0;
        let mut longest = 0;
        for item in batch.iter() {
            let (start, len) = (item.cache.len(), item.tokens.len());
            s.spans.push(Span {
                row: t_n,
                start,
                len,
            });
            t_n += len;
            n_out += len.saturating_sub(item.logits_from);
            longest = longest.max(start + len);
        }
        for (v, n) in [
            (&mut s.x, t_n * d),
            (&mut s.xn, t_n * d),
            (&mut s.q, t_n * q_dim.max(d)), // also gathers the rows that want logits
            (&mut s.k, t_n * kv_dim),
            (&mut s.v, t_n * kv_dim),
            (&mut s.att, t_n * q_dim),
            (&mut s.gate, t_n * c.n_ff),
            (&mut s.up, t_n * c.n_ff),
            (&mut s.scores, pool.threads() * longest),
            (&mut s.cos, t_n * c.rope_dim / 2),
            (&mut s.sin, t_n * c.rope_dim / 2),
        ] {
            resize(v, n);
        }
        s.row_span.clear();
        for (i, (item, span)) in batch.iter().zip(&s.spans).enumerate() {
            for (t, &id) in item.tokens.iter().enumerate() {
                let row = span.row + t;
                self.tok_embd
                    .dequantize_row(id as usize, &mut s.x[row * d..(row + 1) * d]);
                s.row_span.push(i);
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
            matmul(pool, &layer.wq, &s.xn, q);
            matmul(pool, &layer.wk, &s.xn, &mut s.k);
            matmul(pool, &layer.wv, &s.xn, &mut s.v);
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
            for (item, span) in batch.iter_mut().zip(&s.spans) {
                let rows = span.row * kv_dim..(span.row + span.len) * kv_dim;
                let (kc, vc) = item.cache.layer_mut(l, span.start, span.len);
                kc.copy_from_slice(&s.k[rows.clone()]);
                vc.copy_from_slice(&s.v[rows]);
            }
            self.attention(
                pool,
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
            matmul(pool, &layer.w_gate, &s.xn, &mut s.gate);
            matmul(pool, &layer.w_up, &s.xn, &mut s.up);
            swiglu(&mut s.gate, &s.up);
            matmul(pool, &layer.w_down, &s.gate, &mut s.xn);
            add_assign(&mut s.x, &s.xn);
        }
        for (item, span) in batch.iter_mut().zip(&s.spans) {
            item.cache.advance(span.len);
        }

        // Gather the rows that want logits (contiguous per item) in front of `q`, normalise into `xn`.
        let mut out_row = 0;
        for (item, span) in batch.iter().zip(&s.spans) {
            for t in item.logits_from.min(span.len)..span.len {
                let from = (span.row + t) * d;
                s.q[out_row * d..(out_row + 1) * d].copy_from_slice(&s.x[from..from + d]);
                out_row += 1;
            }
        }
        let xn = &mut s.xn[..n_out * d];
        rms_norm(&s.q[..n_out * d], &self.output_norm, c.rms_eps, xn);
        logits.resize(n_out * c.vocab_size, 0.0);
        matmul(pool, &self.output, xn, logits);
        Ok(())
    }

    /// Causal grouped-query attention of every new row over its own sequence's cache (over its last
    /// `window` positions only in a sliding-window layer, as transformers masks them).
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        pool: &Pool,
        batch: &[BatchItem],
        spans: &[Span],
        row_span: &[usize],
        layer: usize,
        q: &[f32],
        scores: &mut [f32],
        out: &mut [f32],
    ) {
        let c = &self.cfg;
        let (q_dim, hd, kv_dim) = (c.q_dim(), c.head_dim, c.kv_dim());
        let window = self.layers[layer].window;
        let group = c.n_head / c.n_head_kv;
        let scale = 1.0 / (hd as f32).sqrt();
        let t_n = row_span.len();
        let longest = scores.len() / pool.threads();
        let (sp, op) = (SyncPtr::new(scores), SyncPtr::new(out));
        let isa = detect();
        pool.for_each_chunk(t_n * c.n_head, 1, &|i, items| {
            // SAFETY: participant i alone uses scores[i*longest..(i+1)*longest]; each item's output head is its own.
            let sc_all = unsafe { sp.slice(i * longest, longest) };
            for item in items {
                let (row, h) = (item / c.n_head, item % c.n_head);
                let span = &spans[row_span[row]];
                let (kc, vc) = batch[row_span[row]]
                    .cache
                    .layer(layer, span.start + span.len);
                let g = h / group;
                let n_ctx = span.start + (row - span.row) + 1;
                let first = window.map_or(0, |w| n_ctx.saturating_sub(w));
                let qh = &q[row * q_dim + h * hd..][..hd];
                let sc = &mut sc_all[..n_ctx - first];
                for (i, s) in sc.iter_mut().enumerate() {
                    let p = first + i;
                    *s = dot_f32(isa, qh, &kc[p * kv_dim + g * hd..][..hd]) * scale;
                }
                softmax(sc);
                let o = unsafe { op.slice(row * q_dim + h * hd, hd) };
                o.fill(0.0);
                for (i, &w) in sc.iter().enumerate() {
                    let p = first + i;
                    axpy(isa, w, &vc[p * kv_dim + g * hd..][..hd], o);
                }
            }
        });
    }
}
