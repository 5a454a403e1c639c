//! AVX2 + FMA + F16C kernels (x86-64). Callers guarantee the CPU features (see `dot::detect`).
//!
//! Every weight is first turned into its exact f32 value (Q4_1: `fma(q, d, m)`, Q4_0: `(q - 8)·d`, Q8_0:
//! `q·d`, other types: the scalar reference dequantizer), then each output keeps one 8-lane accumulator that
//! runs over the row in column order, finished by the same horizontal sum. The row-dot path (weights unpacked
//! in registers) and the tiled path (weights unpacked once into a cache-resident tile, reused by many tokens)
//! therefore perform the identical sequence of f32 operations for each output: batching never changes a bit.

use crate::weights::dequant::dequantize_block;
use crate::weights::GgmlType;
use std::arch::x86_64::*;

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_at(p: *const u8) -> f32 {
    let h = u16::from_le_bytes([*p, *p.add(1)]);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h as i32)))
}

/// The fixed horizontal sum that finishes every accumulator.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
}

/// The 32 nibbles of a Q4 block as four vectors of 8 integer-valued f32 (elements 0-7, 8-15, 16-23, 24-31).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn nibbles(q: *const u8, offset: i32) -> [__m256; 4] {
    let q = _mm_loadu_si128(q as *const __m128i);
    let mask = _mm_set1_epi8(0x0F);
    let lo = _mm_and_si128(q, mask);
    let hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
    let off = _mm256_set1_epi32(offset);
    let cvt = |v: __m128i| _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(v), off));
    [cvt(lo), cvt(_mm_srli_si128(lo, 8)), cvt(hi), cvt(_mm_srli_si128(hi, 8))]
}

/// Exact f32 weights of one 32-element block of Q4_0, Q4_1 or Q8_0 at `p`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block32(ty: GgmlType, p: *const u8) -> [__m256; 4] {
    match ty {
        GgmlType::Q4_1 => {
            let (d, m) = (_mm256_set1_ps(f16_at(p)), _mm256_set1_ps(f16_at(p.add(2))));
            nibbles(p.add(4), 0).map(|q| _mm256_fmadd_ps(q, d, m))
        }
        GgmlType::Q4_0 => {
            let d = _mm256_set1_ps(f16_at(p));
            nibbles(p.add(2), 8).map(|q| _mm256_mul_ps(q, d))
        }
        _ => {
            let d = _mm256_set1_ps(f16_at(p));
            std::array::from_fn(|k| {
                let q = _mm_loadl_epi64(p.add(2 + 8 * k) as *const __m128i);
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d)
            })
        }
    }
}

/// Types with a register-unpacking fast path.
fn fast(ty: GgmlType) -> bool {
    matches!(ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0)
}

/// `row · xs[j]` for each j; see the module doc for the order of operations.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot<const N: usize>(ty: GgmlType, row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    let mut acc = [_mm256_setzero_ps(); N];
    let (be, bb) = (ty.block_elems(), ty.block_bytes());
    let cols = row.len() / bb * be;
    if fast(ty) {
        for b in 0..row.len() / bb {
            let w = block32(ty, row.as_ptr().add(b * bb));
            for j in 0..N {
                let x = xs[j].as_ptr().add(b * 32);
                for (k, wk) in w.iter().enumerate() {
                    acc[j] = _mm256_fmadd_ps(*wk, _mm256_loadu_ps(x.add(8 * k)), acc[j]);
                }
            }
        }
        return std::array::from_fn(|j| hsum(acc[j]));
    }
    // Other types: the scalar reference dequantizer, one block (float types: 64 elements) at a time.
    let chunk = if be == 1 { 64 } else { be };
    let mut buf = [0f32; 256];
    let mut tail = [0f32; N];
    let mut start = 0;
    while start < cols {
        let len = chunk.min(cols - start);
        for (block, y) in row[start / be * bb..(start + len) / be * bb]
            .chunks_exact(bb)
            .zip(buf[..len].chunks_exact_mut(be))
        {
            dequantize_block(ty, block, y);
        }
        let vec_len = len / 8 * 8;
        for j in 0..N {
            let x = xs[j].as_ptr().add(start);
            for k in (0..vec_len).step_by(8) {
                acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(buf.as_ptr().add(k)), _mm256_loadu_ps(x.add(k)), acc[j]);
            }
            for k in vec_len..len {
                tail[j] += buf[k] * *x.add(k);
            }
        }
        start += len;
    }
    std::array::from_fn(|j| hsum(acc[j]) + tail[j])
}

/// Exact f32 values of a row (`out.len()` = columns), unpacked exactly as `dot` unpacks them.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dequantize_row(ty: GgmlType, row: &[u8], out: &mut [f32]) {
    let bb = ty.block_bytes();
    if fast(ty) {
        for b in 0..row.len() / bb {
            let w = block32(ty, row.as_ptr().add(b * bb));
            for (k, wk) in w.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(b * 32 + 8 * k), *wk);
            }
        }
    } else {
        crate::weights::dequant::dequantize(ty, row, out);
    }
}

/// Micro-kernel: `out[t][r] = tile[r] · x[t]` for R rows × T tokens, 8 columns per step.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn micro<const R: usize, const T: usize>(
    w: [*const f32; R],
    x: [*const f32; T],
    cols: usize,
) -> [[f32; R]; T] {
    let mut acc = [[_mm256_setzero_ps(); R]; T];
    for k in (0..cols).step_by(8) {
        let wv: [__m256; R] = std::array::from_fn(|r| _mm256_loadu_ps(w[r].add(k)));
        for t in 0..T {
            let xv = _mm256_loadu_ps(x[t].add(k));
            for r in 0..R {
                acc[t][r] = _mm256_fmadd_ps(wv[r], xv, acc[t][r]);
            }
        }
    }
    std::array::from_fn(|t| std::array::from_fn(|r| hsum(acc[t][r])))
}

/// Rows of the tile handled per micro-kernel call, and tokens per call.
const MR: usize = 3;
const MT: usize = 4;

/// `out[t * out_stride + r] = tile[r] · x[t]` for a dequantized tile of `rows` rows (`cols % 8 == 0`).
///
/// # Safety
/// `x` holds `n` rows of `cols`; `out` is valid for every written index; CPU features as above.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_tile(tile: &[f32], rows: usize, cols: usize, x: &[f32], n: usize, out: *mut f32, out_stride: usize) {
    let mut t0 = 0;
    while t0 < n {
        let tn = MT.min(n - t0);
        let mut r0 = 0;
        while r0 < rows {
            let rn = MR.min(rows - r0);
            macro_rules! call {
                ($r:literal, $t:literal) => {{
                    let w = std::array::from_fn::<_, $r, _>(|i| tile.as_ptr().add((r0 + i) * cols));
                    let xs = std::array::from_fn::<_, $t, _>(|j| x.as_ptr().add((t0 + j) * cols));
                    let res = micro::<$r, $t>(w, xs, cols);
                    for (j, rowv) in res.iter().enumerate() {
                        for (i, v) in rowv.iter().enumerate() {
                            *out.add((t0 + j) * out_stride + r0 + i) = *v;
                        }
                    }
                }};
            }
            match (rn, tn) {
                (3, 4) => call!(3, 4),
                (3, 3) => call!(3, 3),
                (3, 2) => call!(3, 2),
                (3, _) => call!(3, 1),
                (2, 4) => call!(2, 4),
                (2, 3) => call!(2, 3),
                (2, 2) => call!(2, 2),
                (2, _) => call!(2, 1),
                (_, 4) => call!(1, 4),
                (_, 3) => call!(1, 3),
                (_, 2) => call!(1, 2),
                _ => call!(1, 1),
            }
            r0 += rn;
        }
        t0 += tn;
    }
}

/// f32 dot product, four 8-lane accumulators.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, a_k) in acc.iter_mut().enumerate() {
            *a_k = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8 * k)), _mm256_loadu_ps(pb.add(i + 8 * k)), *a_k);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc[0]);
        i += 8;
    }
    let mut s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    while i < n {
        s += a[i] * b[i];
        i += 1;
    }
    s
}

/// `y += a·x`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    let va = _mm256_set1_ps(a);
    let mut i = 0;
    while i + 8 <= n {
        let py = y.as_mut_ptr().add(i);
        _mm256_storeu_ps(py, _mm256_fmadd_ps(va, _mm256_loadu_ps(x.as_ptr().add(i)), _mm256_loadu_ps(py)));
        i += 8;
    }
    while i < n {
        y[i] += a * x[i];
        i += 1;
    }
}
