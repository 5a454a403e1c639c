//! The register blocking the tile kernels share: which rows × tokens each micro-kernel call computes, and
//! where its results go.

/// Calls `f(r0, rn, t0, tn)` for every register block of a `rows` × `n` tile: tokens in blocks of up to `gt`,
/// and for each, rows in blocks of up to `gr` (a block's activations stay in L1 while the tile's rows go by).
pub(super) fn each_block(
    rows: usize,
    n: usize,
    gr: usize,
    gt: usize,
    mut f: impl FnMut(usize, usize, usize, usize),
) {
    for t0 in (0..n).step_by(gt) {
        for r0 in (0..rows).step_by(gr) {
            f(r0, gr.min(rows - r0), t0, gt.min(n - t0));
        }
    }
}

/// Writes a block's results: `v[r][t]` to `out[(t0 + t) * out_stride + r0 + r]`.
///
/// # Safety
/// Every written index is valid for `out`.
#[inline]
pub(super) unsafe fn store<const R: usize, const T: usize>(
    v: &[[f32; T]; R],
    r0: usize,
    t0: usize,
    out: *mut f32,
    out_stride: usize,
) {
    for (r, row) in v.iter().enumerate() {
        for (t, val) in row.iter().enumerate() {
            *out.add((t0 + t) * out_stride + r0 + r) = *val;
        }
    }
}
