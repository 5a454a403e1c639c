//! What every architecture's ragged batched forward pass shares: the batch items, their row layout, the
//! reusable work buffers, and causal attention of each row over its own sequence's cache.

use super::kv_cache::KvCache;
use super::ModelError;
use crate::kernels::dot::{detect, head_scores, head_sum};
use crate::kernels::ops::softmax;
use crate::kernels::pool::SyncPtr;
use crate::kernels::{AlignedBuf, Pool};

/// One sequence's part of a batched forward pass.
pub struct BatchItem<'a> {
    /// New tokens, appended at the cache's current position.
    pub tokens: &'a [u32],
    /// The sequence's cache.
    pub cache: &'a mut KvCache,
    /// Rows `tokens[logits_from..]` produce logits (`tokens.len()` for none).
    pub logits_from: usize,
}

/// Reusable work buffers for forward passes (grown on demand, never shrunk: no allocation in steady state).
#[derive(Default)]
pub struct Scratch {
    pub(super) x: AlignedBuf,
    pub(super) xn: AlignedBuf,
    pub(super) q: AlignedBuf,
    pub(super) k: AlignedBuf,
    pub(super) v: AlignedBuf,
    pub(super) att: AlignedBuf,
    pub(super) gate: AlignedBuf,
    pub(super) up: AlignedBuf,
    pub(super) scores: AlignedBuf,
    pub(super) cos: AlignedBuf,
    pub(super) sin: AlignedBuf,
    pub(super) spans: Vec<Span>,
    pub(super) row_span: Vec<usize>,
}

/// Where one batch item's rows sit: first row in the batch, first position in its cache, row count.
#[derive(Clone, Copy, Default)]
pub(super) struct Span {
    pub(super) row: usize,
    pub(super) start: usize,
    pub(super) len: usize,
}

/// Sizes of a batch: token rows, rows that want logits, and the largest cache capacity (score buffers are
/// sized for whole caches, so they never grow as a sequence does).
pub(super) struct Plan {
    pub(super) rows: usize,
    pub(super) out_rows: usize,
    pub(super) longest: usize,
}

/// Heads of an attention layer, and its sliding window (the last `window` positions), if any.
pub(super) struct Heads {
    pub(super) n_head: usize,
    pub(super) n_head_kv: usize,
    pub(super) head_dim: usize,
    pub(super) window: Option<usize>,
}

/// Checks that every item fits its cache and the vocabulary, then lays its rows out in `s.spans` /
/// `s.row_span`.
pub(super) fn plan(batch: &[BatchItem], vocab: usize, s: &mut Scratch) -> Result<Plan, ModelError> {
    for item in batch {
        let need = item.cache.len() + item.tokens.len();
        if need > item.cache.capacity() {
            return Err(ModelError::ContextFull {
                need,
                capacity: item.cache.capacity(),
            });
        }
        if let Some(&id) = item.tokens.iter().find(|&&id| id as usize >= vocab) {
            return Err(ModelError::TokenOutOfRange { id, vocab });
        }
    }
    s.spans.clear();
    s.row_span.clear();
    let mut p = Plan {
        rows: 0,
        out_rows: 0,
        longest: 0,
    };
    for (i, item) in batch.iter().enumerate() {
        let (start, len) = (item.cache.len(), item.tokens.len());
        s.spans.push(Span {
            row: p.rows,
            start,
            len,
        });
        s.row_span.extend(std::iter::repeat_n(i, len));
        p.rows += len;
        p.out_rows += len.saturating_sub(item.logits_from);
        p.longest = p.longest.max(item.cache.capacity());
    }
    Ok(p)
}

/// Stores layer `layer`'s new keys and values (`s.k`, `s.v`, rows of `kv_dim`) in each item's cache.
pub(super) fn store_kv(batch: &mut [BatchItem], s: &Scratch, layer: usize, kv_dim: usize) {
    for (item, span) in batch.iter_mut().zip(&s.spans) {
        let rows = span.row * kv_dim..(span.row + span.len) * kv_dim;
        let (kc, vc) = item.cache.layer_mut(layer, span.start, span.len);
        kc.copy_from_slice(&s.k[rows.clone()]);
        vc.copy_from_slice(&s.v[rows]);
    }
}

/// Marks every item's new tokens as stored in its cache.
pub(super) fn advance(batch: &mut [BatchItem], spans: &[Span]) {
    for (item, span) in batch.iter_mut().zip(spans) {
        item.cache.advance(span.len);
    }
}

/// Copies the rows of `x` that want logits (contiguous per item, `d` wide) to the front of `out`.
pub(super) fn gather_logit_rows(
    batch: &[BatchItem],
    spans: &[Span],
    d: usize,
    x: &[f32],
    out: &mut [f32],
) {
    let mut out_row = 0;
    for (item, span) in batch.iter().zip(spans) {
        for t in item.logits_from.min(span.len)..span.len {
            let from = (span.row + t) * d;
            out[out_row * d..(out_row + 1) * d].copy_from_slice(&x[from..from + d]);
            out_row += 1;
        }
    }
}

/// Causal (grouped-query) attention of every new row over its own sequence's cache of layer `layer` (over
/// its last `window` positions only in a sliding-window layer, as transformers masks them).
///
/// `q` holds `n_head × head_dim` values per row; `scores` is `pool.threads()` × longest sequence.
#[allow(clippy::too_many_arguments)]
pub(super) fn attention(
    pool: &Pool,
    heads: &Heads,
    batch: &[BatchItem],
    spans: &[Span],
    row_span: &[usize],
    layer: usize,
    q: &[f32],
    scores: &mut [f32],
    out: &mut [f32],
) {
    let (n_head, hd) = (heads.n_head, heads.head_dim);
    let (d, kv_dim) = (n_head * hd, heads.n_head_kv * hd);
    let group = n_head / heads.n_head_kv;
    let scale = 1.0 / (hd as f32).sqrt();
    let t_n = row_span.len();
    let longest = scores.len() / pool.threads();
    let (sp, op) = (SyncPtr::new(scores), SyncPtr::new(out));
    let isa = detect();
    pool.for_each_chunk(t_n * n_head, 1, &|i, items| {
        // SAFETY: participant i alone uses scores[i*longest..(i+1)*longest]; each item's output head is its own.
        let sc_all = unsafe { sp.slice(i * longest, longest) };
        for item in items {
            let (row, h) = (item / n_head, item % n_head);
            let span = &spans[row_span[row]];
            let (kc, vc) = batch[row_span[row]]
                .cache
                .layer(layer, span.start + span.len);
            let g = h / group;
            let n_ctx = span.start + (row - span.row) + 1;
            let first = heads.window.map_or(0, |w| n_ctx.saturating_sub(w));
            let qh = &q[row * d + h * hd..][..hd];
            let sc = &mut sc_all[..n_ctx - first];
            let at = first * kv_dim + g * hd;
            head_scores(isa, qh, &kc[at..], kv_dim, scale, sc);
            softmax(sc);
            let o = unsafe { op.slice(row * d + h * hd, hd) };
            head_sum(isa, sc, &vc[at..], kv_dim, o);
        }
    });
}
