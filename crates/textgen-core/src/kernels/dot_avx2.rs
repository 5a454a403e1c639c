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

/// Micro-kernel: `out[t] = w · x[t]` for one unpacked row and T tokens, 32 columns per step.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn micro<const T: usize>(w: *const f32, x: [*const f32; T], cols: usize) -> [f32; T] {
    let mut acc = [[_mm256_setzero_ps(); 4]; T];
    for k in (0..cols).step_by(32) {
        let wv = [
            _mm256_loadu_ps(w.add(k)),
            _mm256_loadu_ps(w.add(k + 8)),
            _mm256_loadu_ps(w.add(k + 16)),
            _mm256_loadu_ps(w.add(k + 24)),
        ];
        for t in 0..T {
            step32(&wv, x[t].add(k), &mut acc[t]);
        }
    }
    finish_all(&acc)
}

/// Tokens per micro-kernel call.
const MT: usize = 3;

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
        let tn = MT.min(n - t0);
        let xp = |j: usize| x.as_ptr().add((t0 + j) * cols);
        for r in 0..rows {
            let w = tile.as_ptr().add(r * cols);
            let o = out.add(t0 * out_stride + r);
            match tn {
                3 => {
                    let v = micro::<3>(w, [xp(0), xp(1), xp(2)], cols);
                    (*o, *o.add(out_stride), *o.add(2 * out_stride)) = (v[0], v[1], v[2]);
                }
                2 => {
                    let v = micro::<2>(w, [xp(0), xp(1)], cols);
                    (*o, *o.add(out_stride)) = (v[0], v[1]);
                }
                _ => *o = micro::<1>(w, [xp(0)], cols)[0],
            }
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
