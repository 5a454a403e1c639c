//! AVX2 + FMA + F16C kernels (x86-64). Callers guarantee the CPU features (see `dot::detect`).
//!
//! The block-scaled types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) have their own kernels in `scaled_avx2`. Here every
//! weight of the other quantized types is first turned into its exact f32 value in registers, 32 at a time
//! (each 32-element group of Q4_K, Q5_K, Q6_K; the values of the scalar reference dequantizer; float types go
//! through the reference dequantizer). Each output then keeps
//! four 8-lane accumulators: accumulator `v` takes the columns `k` with `(k / 8) % 4 == v`, in column order
//! (four independent FMA chains, so the loop is not bound by FMA latency), finished as
//! `hsum((a0 + a1) + (a2 + a3))`. The row-dot path (weights unpacked in registers) and the tiled path (weights
//! unpacked once into a cache-resident tile, reused by many tokens) perform this identical sequence of f32
//! operations for each output: batching never changes a bit.

use super::blocks::{each_block, store};
use crate::weights::dequant::{dequantize_block, k_scale_min};
use crate::weights::GgmlType;
use std::arch::x86_64::*;

/// The two f16 values at `p` (a block's leading scale, and for Q4_1 its min) as f32 lanes 0 and 1.
///
/// Reads 4 bytes with one plain load (every block is longer than that): assembling 2-byte values with
/// `vpinsrw` instead chains a false dependency through the loop and costs a quarter of the decode speed.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn f16_pair(p: *const u8) -> __m128 {
    _mm_cvtph_ps(_mm_cvtsi32_si128(std::ptr::read_unaligned(p as *const i32)))
}

/// How far ahead of the block being dotted the row kernels ask for weight bytes (`prefetch_ahead`).
///
/// Decode streams every weight once; on the machines measured (2-core Zen 3 VMs) the hardware prefetcher
/// alone left the kernels waiting on memory: asking 4 KiB ahead made 1-thread decode ~20% faster and
/// 2-thread decode ~30% faster (alternating A/B runs; 1-16 KiB all helped, 4 KiB best at 2 threads).
const PREFETCH_AHEAD: usize = 4096;

/// Asks for the cache line `PREFETCH_AHEAD` bytes past `p` (a hint: never faults, whatever the address).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn prefetch_ahead(p: *const u8) {
    _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(PREFETCH_AHEAD) as *const i8);
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
pub(super) unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
}

/// The 32 bytes at `p` as four vectors of 8 f32 (bytes 0-7, 8-15, 16-23, 24-31), unsigned or signed.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn bytes_to_f32<const SIGNED: bool>(v: __m256i) -> [__m256; 4] {
    let lo = _mm256_castsi256_si128(v);
    let hi = _mm256_extracti128_si256(v, 1);
    let cvt = |x: __m128i| {
        _mm256_cvtepi32_ps(if SIGNED {
            _mm256_cvtepi8_epi32(x)
        } else {
            _mm256_cvtepu8_epi32(x)
        })
    };
    [
        cvt(lo),
        cvt(_mm_srli_si128(lo, 8)),
        cvt(hi),
        cvt(_mm_srli_si128(hi, 8)),
    ]
}

/// The 32 bits at `p` spread to bytes: byte k of the result is 0xFF when bit k is set, else 0.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn bits_to_bytes(p: *const u8) -> __m256i {
    let bits = _mm256_set1_epi32(std::ptr::read_unaligned(p as *const i32));
    // Byte k takes the byte of `bits` holding bit k, then keeps that bit alone.
    let spread = _mm256_shuffle_epi8(
        bits,
        _mm256_setr_epi64x(
            0,
            0x0101010101010101,
            0x0202020202020202,
            0x0303030303030303,
        ),
    );
    let mask = _mm256_set1_epi64x(0x8040201008040201u64 as i64);
    _mm256_cmpeq_epi8(_mm256_and_si256(spread, mask), mask)
}

/// The 16 bytes at `p` as 32 nibbles in byte order of the block's elements: the low nibbles (elements
/// 0-15) then the high nibbles (elements 16-31).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn nibble_bytes(p: *const u8) -> __m256i {
    let q = _mm_loadu_si128(p as *const __m128i);
    let mask = _mm_set1_epi8(0x0F);
    _mm256_set_m128i(
        _mm_and_si128(_mm_srli_epi16(q, 4), mask),
        _mm_and_si128(q, mask),
    )
}

/// The scale and min of group `sub` (0..8) of a Q4_K or Q5_K super-block at `p`: `(d·scale, dmin·min)`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn qk_scale_min(p: *const u8, sub: usize) -> (f32, f32) {
    let dm = f16_pair(p);
    let (d, dmin) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
    let (sc, mn) = k_scale_min(sub, std::slice::from_raw_parts(p.add(4), 12));
    (d * sc as f32, dmin * mn as f32)
}

/// The 32 integers of group `sub` (0..8) of a Q4_K or (with `Q5K`) Q5_K super-block at `p`, one byte each.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn qk_ints<const Q5K: bool>(p: *const u8, sub: usize) -> __m256i {
    let qs = if Q5K { 48 } else { 16 };
    let q = _mm256_loadu_si256(p.add(qs + 32 * (sub / 2)) as *const __m256i);
    let q = if sub.is_multiple_of(2) {
        q
    } else {
        _mm256_srli_epi16(q, 4)
    };
    let q = _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
    if !Q5K {
        return q;
    }
    // Bit `sub` of each of the 32 qh bytes is the element's fifth bit.
    let qh = _mm256_loadu_si256(p.add(16) as *const __m256i);
    let bit = _mm256_set1_epi8((1u8 << sub) as i8);
    let set = _mm256_cmpeq_epi8(_mm256_and_si256(qh, bit), bit);
    _mm256_or_si256(q, _mm256_and_si256(set, _mm256_set1_epi8(0x10)))
}

/// Exact f32 weights of group `sub` (0..8) of a Q4_K or (with `Q5K`) Q5_K super-block:
/// `(d·scale)·q - dmin·min`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn unpack_qk<const Q5K: bool>(p: *const u8, sub: usize) -> [__m256; 4] {
    let (ds, ms) = qk_scale_min(p, sub);
    let (ds, ms) = (_mm256_set1_ps(ds), _mm256_set1_ps(ms));
    bytes_to_f32::<false>(qk_ints::<Q5K>(p, sub)).map(|v| _mm256_sub_ps(_mm256_mul_ps(ds, v), ms))
}

/// The 32 integers `q - 32` of group `sub` (0..8) of a Q6_K super-block at `p`, one signed byte each, and the
/// scales `d·scale` of their two halves.
///
/// Elements 128h + 32k + l (k = 0..4, l = 0..32): low 4 bits from ql[64h + 32(k % 2) + l] (the low nibble for
/// k < 2), high 2 bits from qh[32h + l] >> 2k; scale sc[8h + 2k + l / 16].
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn q6k_ints(p: *const u8, sub: usize) -> (__m256i, [f32; 2]) {
    let (h, k) = (sub / 4, sub % 4);
    let ql = _mm256_loadu_si256(p.add(64 * h + 32 * (k % 2)) as *const __m256i);
    let ql = if k < 2 { ql } else { _mm256_srli_epi16(ql, 4) };
    let ql = _mm256_and_si256(ql, _mm256_set1_epi8(0x0F));
    let qh = _mm256_loadu_si256(p.add(128 + 32 * h) as *const __m256i);
    let qh = _mm256_and_si256(
        _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * k as i32)),
        _mm256_set1_epi8(3),
    );
    let q = _mm256_sub_epi8(
        _mm256_or_si256(ql, _mm256_slli_epi16(qh, 4)),
        _mm256_set1_epi8(32),
    );
    // The scale is the block's last 2 bytes: read exactly those.
    let d16 = std::ptr::read_unaligned(p.add(208) as *const u16);
    let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(d16))));
    let sc = |i: usize| d * (*p.add(192 + 8 * h + 2 * k + i) as i8) as f32;
    (q, [sc(0), sc(1)])
}

/// Exact f32 weights of group `sub` (0..8) of a Q6_K super-block: `(d·scale)·(q - 32)`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn unpack_q6k(p: *const u8, sub: usize) -> [__m256; 4] {
    let (q, [s0, s1]) = q6k_ints(p, sub);
    let (s0, s1) = (_mm256_set1_ps(s0), _mm256_set1_ps(s1));
    let v = bytes_to_f32::<true>(q);
    [
        _mm256_mul_ps(s0, v[0]),
        _mm256_mul_ps(s0, v[1]),
        _mm256_mul_ps(s1, v[2]),
        _mm256_mul_ps(s1, v[3]),
    ]
}

/// Evaluates `$body` with `$u` bound to the unpacker of type `$ty` (`fn(block, group) -> [__m256; 4]`), one
/// monomorphized copy per type so the unpacking inlines into the loop; float types evaluate `$other`.
/// The unpacked values equal the scalar reference's (`weights::dequant`).
macro_rules! with_unpacker {
    ($ty:expr, $u:ident => $body:expr, else $other:expr) => {
        match $ty {
            GgmlType::Q4K => {
                let $u = |p: *const u8, sub: usize| unpack_qk::<false>(p, sub);
                $body
            }
            GgmlType::Q5K => {
                let $u = |p: *const u8, sub: usize| unpack_qk::<true>(p, sub);
                $body
            }
            GgmlType::Q6K => {
                let $u = |p: *const u8, sub: usize| unpack_q6k(p, sub);
                $body
            }
            // The block-scaled types have their own kernels (`scaled_avx2`); here they take the reference path.
            GgmlType::Q4_0
            | GgmlType::Q4_1
            | GgmlType::Q5_0
            | GgmlType::Q5_1
            | GgmlType::Q8_0
            | GgmlType::F32
            | GgmlType::F16
            | GgmlType::BF16 => $other,
        }
    };
}

/// Each 32-element group of a row: its block's address and its index within the block.
#[inline]
fn groups(ty: GgmlType, row: &[u8]) -> impl Iterator<Item = (usize, usize)> {
    let (bb, per) = (ty.block_bytes(), ty.block_elems() / 32);
    (0..row.len() / bb * per).map(move |g| (g / per * bb, g % per))
}

/// `row · xs[j]` for every token j; see the module doc for the order of operations.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot<const N: usize>(ty: GgmlType, row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    with_unpacker!(ty, u => dot_with(ty, row, xs, u), else dot_generic_row(ty, row, xs))
}

/// `dot` for a quantized type whose groups `unpack` turns into weights.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_with<const N: usize>(
    ty: GgmlType,
    row: &[u8],
    xs: [&[f32]; N],
    unpack: impl Fn(*const u8, usize) -> [__m256; 4],
) -> [f32; N] {
    let mut acc = [[_mm256_setzero_ps(); 4]; N];
    for (g, (at, sub)) in groups(ty, row).enumerate() {
        prefetch_ahead(row.as_ptr().add(at));
        let w = unpack(row.as_ptr().add(at), sub);
        for j in 0..N {
            step32(&w, xs[j].as_ptr().add(g * 32), &mut acc[j]);
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
    with_unpacker!(ty, u => {
        for (g, (at, sub)) in groups(ty, row).enumerate() {
            let w = u(row.as_ptr().add(at), sub);
            for (k, wk) in w.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(g * 32 + 8 * k), *wk);
            }
        }
    }, else crate::weights::dequant::dequantize(ty, row, out))
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
    store(&block::<R, T>(w, xs, cols), r0, t0, out, out_stride);
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
    each_block(rows, n, GR, GT, |r0, rn, t0, tn| {
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
    });
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

/// Head size with register-resident attention kernels.
const HEAD: usize = 64;

/// `out[i] = dot_f32(q, keys[i·stride..][..q.len()]) · scale` for every i (one attention head's scores), with
/// `dot_f32`'s exact operations; for 64-wide heads `q` stays in registers.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn scores(q: &[f32], keys: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let hd = q.len();
    if hd != HEAD {
        for (i, s) in out.iter_mut().enumerate() {
            *s = dot_f32(q, &keys[i * stride..][..hd]) * scale;
        }
        return;
    }
    debug_assert!(out.is_empty() || (out.len() - 1) * stride + HEAD <= keys.len());
    let qv: [__m256; 8] = std::array::from_fn(|k| _mm256_loadu_ps(q.as_ptr().add(8 * k)));
    for (i, s) in out.iter_mut().enumerate() {
        let kp = keys.as_ptr().add(i * stride);
        let mut acc = [_mm256_setzero_ps(); 4];
        for half in 0..2 {
            for (k, a) in acc.iter_mut().enumerate() {
                let j = 4 * half + k;
                *a = _mm256_fmadd_ps(qv[j], _mm256_loadu_ps(kp.add(8 * j)), *a);
            }
        }
        *s = finish(&acc) * scale;
    }
}

/// `out = Σ_i w[i] · values[i·stride..][..out.len()]`, accumulated from zero in order with `axpy`'s exact
/// operations (one attention head's output); for 64-wide heads `out` stays in registers.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn weighted_sum(w: &[f32], values: &[f32], stride: usize, out: &mut [f32]) {
    let hd = out.len();
    if hd != HEAD {
        out.fill(0.0);
        for (i, &wi) in w.iter().enumerate() {
            axpy(wi, &values[i * stride..][..hd], out);
        }
        return;
    }
    debug_assert!(w.is_empty() || (w.len() - 1) * stride + HEAD <= values.len());
    let mut acc = [_mm256_setzero_ps(); 8];
    for (i, &wi) in w.iter().enumerate() {
        let (wv, vp) = (_mm256_set1_ps(wi), values.as_ptr().add(i * stride));
        for (k, a) in acc.iter_mut().enumerate() {
            *a = _mm256_fmadd_ps(wv, _mm256_loadu_ps(vp.add(8 * k)), *a);
        }
    }
    for (k, a) in acc.iter().enumerate() {
        _mm256_storeu_ps(out.as_mut_ptr().add(8 * k), *a);
    }
}
