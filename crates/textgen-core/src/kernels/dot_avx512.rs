//! AVX-512 kernels (x86-64 with AVX-512 F and BW besides AVX2, FMA and F16C). Callers guarantee the CPU
//! features (see `dot::detect`).
//!
//! Every type is computed the same way. Each 32-element group of a row becomes its exact f32 weights in two
//! 16-lane registers, bit for bit the values of the scalar reference dequantizer (`weights::dequant`). The
//! 4-bit types look their weights up in a 16-entry table of the group's values (`vpermps` reads the low four
//! bits of each lane; the table is built with one FMA per group), which replaces masking, converting and
//! scaling every weight. Each output keeps four 16-lane accumulators: accumulator c takes the columns k with
//! `(k / 16) % 4 == c`, in column order (even groups feed accumulators 0 and 1, odd groups 2 and 3, so no
//! accumulator waits on the FMA of the group before), finished as `hsum((a0 + a1) + (a2 + a3))`. The row path
//! (`dot_rows`) and the tiled path (`dequantize_row` into a cache-resident tile, then `gemm_tile`) perform this
//! identical sequence of f32 operations for each output: batching never changes a bit.

use super::blocks::{each_block, store};
use super::dot_avx2::{f16_pair, hsum, prefetch_ahead, q6k_ints, qk_ints, qk_scale_min};
use super::scaled_avx2::q5_bytes;
use crate::weights::GgmlType;
use std::arch::x86_64::*;

/// Whether these kernels compute a matrix with `cols` columns (of any type: every group must be whole).
pub fn handles(cols: usize) -> bool {
    cols.is_multiple_of(32)
}

/// 0, 1, …, 15: the integers a 4-bit weight can hold.
const IOTA: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];
/// -8, -7, …, 7: the integers of a Q4_0 weight.
const IOTA_M8: [f32; 16] = [
    -8.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0,
];

/// The f16 pair at `p` (a block's scale, and its min where it has one) broadcast to 16 lanes each.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn scale_min(p: *const u8) -> (__m512, __m512) {
    let dm = _mm512_cvtph_ps(_mm256_set1_epi32(std::ptr::read_unaligned(p as *const i32)));
    (
        _mm512_permute_ps::<0b00_00_00_00>(dm),
        _mm512_permute_ps::<0b01_01_01_01>(dm),
    )
}

/// The 32 nibbles of the 16 bytes at `q` as lane indices: lane l of the first vector holds byte l (low nibble
/// in bits 0-3: element l), of the second byte l >> 4 (element l + 16).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn nibbles(q: *const u8) -> [__m512i; 2] {
    let v = _mm512_cvtepu8_epi32(_mm_loadu_si128(q as *const __m128i));
    [v, _mm512_srli_epi32::<4>(v)]
}

/// Each lane of `idx` (its bits 0-3) looked up in the 16-entry `table`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn lookup(idx: [__m512i; 2], table: __m512) -> [__m512; 2] {
    idx.map(|i| _mm512_permutexvar_ps(i, table))
}

/// The 32 bytes of `q` (element order) as f32, unsigned or signed.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn bytes_f32<const SIGNED: bool>(q: __m256i) -> [__m512; 2] {
    let halves = [_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q)];
    halves.map(|h| {
        _mm512_cvtepi32_ps(if SIGNED {
            _mm512_cvtepi8_epi32(h)
        } else {
            _mm512_cvtepu8_epi32(h)
        })
    })
}

/// Q4_0: `(q - 8)·d`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn q4_0(p: *const u8, _: usize) -> [__m512; 2] {
    let (d, _) = scale_min(p);
    lookup(
        nibbles(p.add(2)),
        _mm512_mul_ps(_mm512_loadu_ps(IOTA_M8.as_ptr()), d),
    )
}

/// Q4_1: `q·d + m` (`q·d` is exact, so one FMA rounds as the reference's multiply and add).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn q4_1(p: *const u8, _: usize) -> [__m512; 2] {
    let (d, m) = scale_min(p);
    lookup(
        nibbles(p.add(4)),
        _mm512_fmadd_ps(_mm512_loadu_ps(IOTA.as_ptr()), d, m),
    )
}

/// Q5_0: `(q - 16)·d`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn q5_0(p: *const u8, _: usize) -> [__m512; 2] {
    let (d, _) = scale_min(p);
    let q = _mm256_sub_epi8(q5_bytes(p, 2), _mm256_set1_epi8(16));
    bytes_f32::<true>(q).map(|v| _mm512_mul_ps(v, d))
}

/// Q5_1: `q·d + m` (`q·d` exact).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn q5_1(p: *const u8, _: usize) -> [__m512; 2] {
    let (d, m) = scale_min(p);
    bytes_f32::<false>(q5_bytes(p, 4)).map(|v| _mm512_fmadd_ps(v, d, m))
}

/// Q8_0: `q·d`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn q8_0(p: *const u8, _: usize) -> [__m512; 2] {
    let d = _mm512_broadcastss_ps(f16_pair(p));
    let q = |o: usize| {
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(
            p.add(o) as *const __m128i
        )))
    };
    [_mm512_mul_ps(q(2), d), _mm512_mul_ps(q(18), d)]
}

/// Group `sub` of a Q4_K super-block: `(d·scale)·q - dmin·min` (the product exact, so one FMA).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn q4_k(p: *const u8, sub: usize) -> [__m512; 2] {
    let (ds, ms) = qk_scale_min(p, sub);
    let table = _mm512_fmsub_ps(
        _mm512_loadu_ps(IOTA.as_ptr()),
        _mm512_set1_ps(ds),
        _mm512_set1_ps(ms),
    );
    let q = p.add(16 + 32 * (sub / 2));
    let lanes = |o: usize| {
        let v = _mm512_cvtepu8_epi32(_mm_loadu_si128(q.add(o) as *const __m128i));
        if sub.is_multiple_of(2) {
            v
        } else {
            _mm512_srli_epi32::<4>(v)
        }
    };
    lookup([lanes(0), lanes(16)], table)
}

/// Group `sub` of a Q5_K super-block: `(d·scale)·q - dmin·min`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn q5_k(p: *const u8, sub: usize) -> [__m512; 2] {
    let (ds, ms) = qk_scale_min(p, sub);
    let (ds, ms) = (_mm512_set1_ps(ds), _mm512_set1_ps(ms));
    bytes_f32::<false>(qk_ints::<true>(p, sub)).map(|v| _mm512_fmsub_ps(v, ds, ms))
}

/// Group `sub` of a Q6_K super-block: `(d·scale)·(q - 32)`, one scale per 16 elements.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn q6_k(p: *const u8, sub: usize) -> [__m512; 2] {
    let (q, s) = q6k_ints(p, sub);
    let v = bytes_f32::<true>(q);
    [
        _mm512_mul_ps(_mm512_set1_ps(s[0]), v[0]),
        _mm512_mul_ps(_mm512_set1_ps(s[1]), v[1]),
    ]
}

/// 32 f32 values.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn f32s(p: *const u8, _: usize) -> [__m512; 2] {
    let p = p as *const f32;
    [_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16))]
}

/// 32 f16 values as f32.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn f16s(p: *const u8, _: usize) -> [__m512; 2] {
    let h = |o: usize| _mm512_cvtph_ps(_mm256_loadu_si256(p.add(o) as *const __m256i));
    [h(0), h(32)]
}

/// 32 bf16 values as f32 (a bf16 is the top half of its f32).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn bf16s(p: *const u8, _: usize) -> [__m512; 2] {
    let h = |o: usize| {
        let v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p.add(o) as *const __m256i));
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(v))
    };
    [h(0), h(32)]
}

/// Evaluates `$body` with `$u` bound to the unpacker of type `$ty` (`fn(block, group) -> [__m512; 2]`), one
/// monomorphized copy per type so the unpacking inlines into the loop.
macro_rules! with_unpacker {
    ($ty:expr, $u:ident => $body:expr) => {
        match $ty {
            GgmlType::Q4_0 => {
                let $u = |p: *const u8, sub: usize| q4_0(p, sub);
                $body
            }
            GgmlType::Q4_1 => {
                let $u = |p: *const u8, sub: usize| q4_1(p, sub);
                $body
            }
            GgmlType::Q5_0 => {
                let $u = |p: *const u8, sub: usize| q5_0(p, sub);
                $body
            }
            GgmlType::Q5_1 => {
                let $u = |p: *const u8, sub: usize| q5_1(p, sub);
                $body
            }
            GgmlType::Q8_0 => {
                let $u = |p: *const u8, sub: usize| q8_0(p, sub);
                $body
            }
            GgmlType::Q4K => {
                let $u = |p: *const u8, sub: usize| q4_k(p, sub);
                $body
            }
            GgmlType::Q5K => {
                let $u = |p: *const u8, sub: usize| q5_k(p, sub);
                $body
            }
            GgmlType::Q6K => {
                let $u = |p: *const u8, sub: usize| q6_k(p, sub);
                $body
            }
            GgmlType::F32 => {
                let $u = |p: *const u8, sub: usize| f32s(p, sub);
                $body
            }
            GgmlType::F16 => {
                let $u = |p: *const u8, sub: usize| f16s(p, sub);
                $body
            }
            GgmlType::BF16 => {
                let $u = |p: *const u8, sub: usize| bf16s(p, sub);
                $body
            }
        }
    };
}

/// Where group `g` (32 elements) of a row of `ty` starts: its block's byte offset and its index in the block.
#[inline(always)]
fn group_at(ty: GgmlType, g: usize) -> (usize, usize) {
    let (be, bb) = (ty.block_elems(), ty.block_bytes());
    if be >= 32 {
        let per = be / 32;
        (g / per * bb, g % per)
    } else {
        (g * 32 / be * bb, 0)
    }
}

/// The fixed horizontal sum of 16 lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn hsum16(v: __m512) -> f32 {
    hsum(_mm256_add_ps(
        _mm512_castps512_ps256(v),
        _mm512_castps512_ps256(_mm512_shuffle_f32x4::<0b11_10_11_10>(v, v)),
    ))
}

/// The fixed reduction of an output's four accumulators.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn finish(a: &[__m512; 4]) -> f32 {
    hsum16(_mm512_add_ps(
        _mm512_add_ps(a[0], a[1]),
        _mm512_add_ps(a[2], a[3]),
    ))
}

/// One group's step of every token's accumulators `C` and `C + 1` (`C` = 0 for even groups, 2 for odd).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn step<const N: usize, const C: usize>(
    w: [__m512; 2],
    xs: &[*const f32; N],
    k: usize,
    acc: &mut [[__m512; 4]; N],
) {
    for j in 0..N {
        let x = xs[j].add(k);
        acc[j][C] = _mm512_fmadd_ps(w[0], _mm512_loadu_ps(x), acc[j][C]);
        acc[j][C + 1] = _mm512_fmadd_ps(w[1], _mm512_loadu_ps(x.add(16)), acc[j][C + 1]);
    }
}

/// `row · xs[j]` for every token j, the row's groups unpacked by `unpack`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn dot_with<const N: usize>(
    ty: GgmlType,
    row: &[u8],
    xs: [&[f32]; N],
    unpack: impl Fn(*const u8, usize) -> [__m512; 2],
) -> [f32; N] {
    let groups = row.len() / ty.block_bytes() * ty.block_elems() / 32;
    for x in xs {
        assert!(x.len() >= 32 * groups);
    }
    let xp = xs.map(|x| x.as_ptr());
    let mut acc = [[_mm512_setzero_ps(); 4]; N];
    let group = |g: usize| {
        let (at, sub) = group_at(ty, g);
        let p = row.as_ptr().add(at);
        prefetch_ahead(p);
        unpack(p, sub)
    };
    let mut g = 0;
    while g + 2 <= groups {
        step::<N, 0>(group(g), &xp, 32 * g, &mut acc);
        step::<N, 2>(group(g + 1), &xp, 32 * g + 32, &mut acc);
        g += 2;
    }
    if g < groups {
        step::<N, 0>(group(g), &xp, 32 * g, &mut acc);
    }
    std::array::from_fn(|j| finish(&acc[j]))
}

/// `row · xs[j]` for every token j (`row.len()` a whole number of 32-element groups).
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub unsafe fn dot<const N: usize>(ty: GgmlType, row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    with_unpacker!(ty, u => dot_with(ty, row, xs, u))
}

/// `dot` for consecutive rows (`rows`: whole rows of `row_bytes`), handing row i's results to `store(i, ..)`.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub unsafe fn dot_rows<const N: usize>(
    ty: GgmlType,
    rows: &[u8],
    row_bytes: usize,
    xs: [&[f32]; N],
    store: &mut impl FnMut(usize, &[f32]),
) {
    // One loop per type and token count, so the unpacking and the loop's constants stay in registers.
    with_unpacker!(ty, u => {
        for (i, row) in rows.chunks_exact(row_bytes).enumerate() {
            store(i, &dot_with(ty, row, xs, u));
        }
    })
}

/// Exact f32 values of a row (`out.len()` = columns, a multiple of 32), unpacked exactly as `dot` unpacks them.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub unsafe fn dequantize_row(ty: GgmlType, row: &[u8], out: &mut [f32]) {
    let groups = out.len() / 32;
    with_unpacker!(ty, u => {
        for g in 0..groups {
            let (at, sub) = group_at(ty, g);
            let w = u(row.as_ptr().add(at), sub);
            _mm512_storeu_ps(out.as_mut_ptr().add(32 * g), w[0]);
            _mm512_storeu_ps(out.as_mut_ptr().add(32 * g + 16), w[1]);
        }
    })
}

/// Rows and tokens per register block of `gemm_tile` (R·T accumulators of one chain, T activation vectors and
/// one weight vector live in the 32 registers).
const GR: usize = 4;
const GT: usize = 6;

/// `out[t][r] = w[r] · x[t]` for R unpacked rows and T tokens, with exactly the accumulation of `dot` (an
/// output's accumulator c sums columns 64i + 16c .. 64i + 16c + 16, i increasing; then `(a0 + a1) + (a2 +
/// a3)` and `hsum16`). One accumulator index at a time, so R·T registers hold accumulators: each loaded
/// weight vector serves T tokens and each activation vector R rows. Between chains the partial results wait
/// in memory: `a0`, then `a0 + a1`, `a2`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn block<const R: usize, const T: usize>(
    w: [*const f32; R],
    x: [*const f32; T],
    cols: usize,
) -> [[f32; T]; R] {
    let mut a01 = [[_mm512_setzero_ps(); T]; R];
    let mut a2 = [[_mm512_setzero_ps(); T]; R];
    let mut sum = [[_mm512_setzero_ps(); T]; R];
    for c in 0..4 {
        let mut a = [[_mm512_setzero_ps(); T]; R];
        let mut k = 16 * c;
        while k < cols {
            let xs: [__m512; T] = std::array::from_fn(|t| _mm512_loadu_ps(x[t].add(k)));
            for r in 0..R {
                let wv = _mm512_loadu_ps(w[r].add(k));
                for t in 0..T {
                    a[r][t] = _mm512_fmadd_ps(wv, xs[t], a[r][t]);
                }
            }
            k += 64;
        }
        for r in 0..R {
            for t in 0..T {
                match c {
                    0 => a01[r][t] = a[r][t],
                    1 => a01[r][t] = _mm512_add_ps(a01[r][t], a[r][t]),
                    2 => a2[r][t] = a[r][t],
                    _ => sum[r][t] = _mm512_add_ps(a01[r][t], _mm512_add_ps(a2[r][t], a[r][t])),
                }
            }
        }
    }
    std::array::from_fn(|r| std::array::from_fn(|t| hsum16(sum[r][t])))
}

/// Runs `block::<R, T>` for rows `r0..r0 + R` and tokens `t0..t0 + T` and stores the results.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
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
/// `tile` holds `rows` rows of `cols`, `x` holds `n` rows of `cols`; `out` is valid for every written index;
/// CPU features as above.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub unsafe fn gemm_tile(
    tile: &[f32],
    rows: usize,
    cols: usize,
    x: &[f32],
    n: usize,
    out: *mut f32,
    out_stride: usize,
) {
    assert!(tile.len() >= rows * cols && x.len() >= n * cols && cols.is_multiple_of(32));
    macro_rules! rows_of {
        ($t:literal, $rn:expr) => {
            match $rn {
                4 => store_block::<4, $t>,
                3 => store_block::<3, $t>,
                2 => store_block::<2, $t>,
                _ => store_block::<1, $t>,
            }
        };
    }
    each_block(rows, n, GR, GT, |r0, rn, t0, tn| {
        let f = match tn {
            6 => rows_of!(6, rn),
            5 => rows_of!(5, rn),
            4 => rows_of!(4, rn),
            3 => rows_of!(3, rn),
            2 => rows_of!(2, rn),
            _ => rows_of!(1, rn),
        };
        f(tile, r0, cols, x, t0, out, out_stride);
    });
}
