//! Matrix multiplication of a quantized weight matrix by a batch of f32 activation rows, across the pool.

use super::dot::{detect, dot_row, MAX_TOKENS};
use super::pool::{Pool, SyncPtr};
use super::qmatrix::QMatrix;

/// Rows processed together so their bytes stay in L1 while every token group streams past them.
const ROW_TILE: usize = 16;

/// `out[t][r] = w.row(r) · x[t]` for every token row `t` of `x` (`x`: n × cols, `out`: n × rows).
///
/// Work is split into tiles of weight rows, so each weight byte is read from memory once per call.
pub fn matmul(pool: &Pool, w: &QMatrix, x: &[f32], out: &mut [f32]) {
    let n = x.len() / w.cols;
    debug_assert_eq!(x.len(), n * w.cols);
    debug_assert_eq!(out.len(), n * w.rows);
    let isa = detect();
    let optr = SyncPtr::new(out);
    pool.for_each_chunk(w.rows, ROW_TILE, &|_, rows| {
        for t0 in (0..n).step_by(MAX_TOKENS) {
            let t1 = (t0 + MAX_TOKENS).min(n);
            let xs: [&[f32]; MAX_TOKENS] =
                std::array::from_fn(|j| &x[(t0 + j).min(t1 - 1) * w.cols..][..w.cols]);
            for r in rows.clone() {
                let mut o = [0f32; MAX_TOKENS];
                dot_row(isa, w.ty, w.row(r), &xs[..t1 - t0], &mut o);
                for (j, v) in o[..t1 - t0].iter().enumerate() {
                    // SAFETY: row r belongs to this chunk alone; (t0 + j) < n.
                    unsafe { optr.slice((t0 + j) * w.rows + r, 1)[0] = *v };
                }
            }
        }
    });
}
