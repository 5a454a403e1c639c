//! AVX2 + FMA + F16C kernels (x86-64). Callers guarantee the CPU features (see `dot::detect`).
//!
//! Every weight is first turned into its exact f32 value (Q4_1: `fma(q, d, m)`, Q4_0: `(q - 8)·d`, Q8_0:
//! `q·d`, other types: the scalar reference dequantizer). Each output then keeps four 8-lane accumulators:
//! accumulator `v` takes the columns `k` with `(k / 8) % 4 == v`, in column order (four independent FMA
//! chains, so the loop is not bound by FMA latency), finished as `hsum((a0 + a1) + (a2 + a3))`. The row-dot
//! path (weights unpacked in registers) and the tiled path (weights unpacked once into a cache-resident tile,
//! reused by many tokens) perform this identical sequence of f32 operations for each output: batching never
//! changes a bit.

use crate::weights::dequant::dequantize_block;
use crate::weights::GgmlType;
use std::arch::x86_64::*;

/// The two f16 values at `p` (a block's leading scale, and for Q4_1 its min) as f32 lanes 0 and 1.
///
/// Reads 4 bytes with one plain load (every block is longer than that): assembling 2-byte values with
/// `vpinsrw` instead chains a false dependency through the loop and costs a quarter of the decode speed.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_pair(p: *const u8) -> __m128 {
    _mm_cvtph_ps(_mm_cvtsi32_si128(std::ptr::read_unaligned(p as *const i32)))
}

/// The fixed reduction of an output's four accumulators.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn finish(a: &[__m256; 4]) -> f32 {
    hsum(_mm256_add_ps(
        _mm256_add_ps(a[0], a[1]),
        _mm256_add_ps(a[2], a[3]),
    ))
}

/// One 32-column step of every output: `acc[v] += w[v] · x[8v..8v + 8]` (the accumulation both paths share).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn step32(w: &[__m256; 4], x: *const f32, acc: &mut [__m256; 4]) {
    for v in 0..4 {
        acc[v] = _mm256_fmadd_ps(w[v], _mm256_loadu_ps(x.add(8 * v)), acc[v]);
    }
}

/// Finishes N outputs' accumulators.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn finish_all<const N: usize>(acc: &[[__m256; 4]; N]) -> [f32; N] {
    let mut out = [0f32; N];
    for j in 0..N {
        out[j] = finish(&acc[j]);
    }
    out
}

/// The fixed horizontal sum of 8 lanes.
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
    [
        _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(lo), off)),
        _mm256_cvtepi32_ps(_mm256_sub_epi32(
            _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)),
            off,
        )),
        _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(hi), off)),
        _mm256_cvtepi32_ps(_mm256_sub_epi32(
            _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)),
            off,
        )),
    ]
}

/// Exact f32 weights of one 32-element block of Q4_0, Q4_1 or Q8_0 at `p`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block32(ty: GgmlType, p: *const u8) -> [__m256; 4] {
    match ty {
        GgmlType::Q4_1 => {
            let dm = f16_pair(p);
            let (d, m) = (
                _mm256_broadcastss_ps(dm),
                _mm256_broadcastss_ps(_mm_movehdup_ps(dm)),
            );
            let q = nibbles(p.add(4), 0);
            [
                _mm256_fmadd_ps(q[0], d, m),
                _mm256_fmadd_ps(q[1], d, m),
                _mm256_fmadd_ps(q[2], d, m),
                _mm256_fmadd_ps(q[3], d, m),
            ]
        }
        GgmlType::Q4_0 => {
            let d = _mm256_broadcastss_ps(f16_pair(p));
            let q = nibbles(p.add(2), 8);
            [
                _mm256_mul_ps(q[0], d),
                _mm256_mul_ps(q[1], d),
                _mm256_mul_ps(q[2], d),
                _mm256_mul_ps(q[3], d),
            ]
        }
        _ => {
            let d = _mm256_broadcastss_ps(f16_pair(p));
            let q8 = |k: usize| _mm_loadl_epi64(p.add(2 + 8 * k) as *const __m128i);
            let (a, b, c, e) = (q8(0), q8(1), q8(2), q8(3));
            [
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(a)), d),
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d),
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c)), d),
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e)), d),
            ]
        }
    }
}

/// Types with a register-unpacking fast path.
fn fast(ty: GgmlType) -> bool {
    matches!(ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0)
}

/// `row · xs[j]` for every token j; see the module doc for the order of operations.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot<const N: usize>(ty: GgmlType, row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    if !fast(ty) {
        return dot_generic_row(ty, row, xs);
    }
    let bb = ty.block_bytes();
    let mut acc = [[_mm256_setzero_ps(); 4]; N];
    for b in 0..row.len() / bb {
        let w = block32(ty, row.as_ptr().add(b * bb));
        for j in 0..N {
            step32(&w, xs[j].as_ptr().add(b * 32), &mut acc[j]);
        }
    }
    finish_all(&acc)
}

/// Other types: the scalar reference dequantizer, one block (float types: 64 elements) at a time.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_generic_row<const N: usize>(ty: GgmlType, row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    let (be, bb) = (ty.block_elems(), ty.block_bytes());
    let cols = row.len() / bb * be;
    let chunk = if be == 1 { 64 } else { be };
    let mut acc = [[_mm256_setzero_ps(); 4]; N];
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
                let v = ((start + k) / 8) % 4;
                let a = &mut acc[j][v];
                *a = _mm256_fmadd_ps(
                    _mm256_loadu_ps(buf.as_ptr().add(k)),
                    _mm256_loadu_ps(x.add(k)),
                    *a,
                );
            }
            for (k, w) in buf[..len].iter().enumerate().skip(vec_len) {
                tail[j] += w * *x.add(k);
            }
        }
        start += len;
    }
    let mut out = [0f32; N];
    for j in 0..N {
        out[j] = finish(&acc[j]) + tail[j];
    }
    out
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

/// Rows and tokens per register block of `gemm_tile`.
const GR: usize = 3;
const GT: usize = 3;
/// Columns per pass of `block` (a multiple of 32): its accumulators live in memory between passes.
const GK: usize = 256;

/// `out[t][r] = w[r] · x[t]` for R unpacked rows and T tokens, with exactly the accumulation of `step32`
/// (accumulator v of an output sums columns 32i + 8v .. 32i + 8v + 8, i increasing), but one accumulator
/// index at a time: R×T registers of accumulators, so each loaded weight vector serves T tokens and each
/// activation vector R rows (a third of the loads per FMA of a one-row kernel).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block<const R: usize, const T: usize>(
    w: [*const f32; R],
    x: [*const f32; T],
    cols: usize,
) -> [[f32; T]; R] {
    let mut acc = [[[_mm256_setzero_ps(); 4]; T]; R];
    let mut kb = 0;
    #[allow(clippy::needless_range_loop)]
    while kb < cols {
        let ke = (kb + GK).min(cols);
        for v in 0..4 {
            let mut a = [[_mm256_setzero_ps(); T]; R];
            for r in 0..R {
                for t in 0..T {
                    a[r][t] = acc[r][t][v];
                }
            }
            let mut k = kb + 8 * v;
            while k < ke {
                let mut xs = [_mm256_setzero_ps(); T];
                for t in 0..T {
                    xs[t] = _mm256_loadu_ps(x[t].add(k));
                }
                for r in 0..R {
                    let wv = _mm256_loadu_ps(w[r].add(k));
                    for t in 0..T {
                        a[r][t] = _mm256_fmadd_ps(wv, xs[t], a[r][t]);
                    }
                }
                k += 32;
            }
            for r in 0..R {
                for t in 0..T {
                    acc[r][t][v] = a[r][t];
                }
            }
        }
        kb = ke;
    }
    let mut out = [[0f32; T]; R];
    for r in 0..R {
        out[r] = finish_all(&acc[r]);
    }
    out
}

/// Runs `block::<R, T>` for rows `r0..r0 + R` and tokens `t0..t0 + T` and stores the results.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn store_block<const R: usize, const T: usize>(
    tile: &[f32],
    r0: usize,
    cols: usize,
    x: &[f32],
    t0: usize,
    out: *mut f32,
    out_stride: usize,
) {
    let w: [*const f32; R] = std::array::from_fn(|r| tile.as_ptr().add((r0 + r) * cols));
    let xs: [*const f32; T] = std::array::from_fn(|t| x.as_ptr().add((t0 + t) * cols));
    let v = block::<R, T>(w, xs, cols);
    for (r, row) in v.iter().enumerate() {
        for (t, val) in row.iter().enumerate() {
            *out.add((t0 + t) * out_stride + r0 + r) = *val;
        }
    }
}

/// `out[t * out_stride + r] = tile[r] · x[t]` for a dequantized tile of `rows` rows (`cols % 32 == 0`).
///
/// # Safety
/// `x` holds `n` rows of `cols`; `out` is valid for every written index; CPU features as above.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_tile(
    tile: &[f32],
    rows: usize,
    cols: usize,
    x: &[f32],
    n: usize,
    out: *mut f32,
    out_stride: usize,
) {
    let mut t0 = 0;
    while t0 < n {
        let tn = GT.min(n - t0);
        let mut r0 = 0;
        while r0 < rows {
            let rn = GR.min(rows - r0);
            let f = match (rn, tn) {
                (3, 3) => store_block::<3, 3>,
                (3, 2) => store_block::<3, 2>,
                (3, _) => store_block::<3, 1>,
                (2, 3) => store_block::<2, 3>,
                (2, 2) => store_block::<2, 2>,
                (2, _) => store_block::<2, 1>,
                (_, 3) => store_block::<1, 3>,
                (_, 2) => store_block::<1, 2>,
                _ => store_block::<1, 1>,
            };
            f(tile, r0, cols, x, t0, out, out_stride);
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
            *a_k = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8 * k)),
                _mm256_loadu_ps(pb.add(i + 8 * k)),
                *a_k,
            );
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i)),
            _mm256_loadu_ps(pb.add(i)),
            acc[0],
        );
        i += 8;
    }
    let mut s = hsum(_mm256_add_ps(
        _mm256_add_ps(acc[0], acc[1]),
        _mm256_add_ps(acc[2], acc[3]),
    ));
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
        _mm256_storeu_ps(
            py,
            _mm256_fmadd_ps(va, _mm256_loadu_ps(x.as_ptr().add(i)), _mm256_loadu_ps(py)),
        );
        i += 8;
    }
    while i < n {
        y[i] += a * x[i];
        i += 1;
    }
}
