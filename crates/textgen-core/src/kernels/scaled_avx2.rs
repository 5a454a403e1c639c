//! AVX2 kernels for the block-scaled types Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0, whose weights are `d·q (+ m)`
//! per block of 32.
//!
//! A block's 32 integers `q` become exact f32 in registers and are dotted with the activations unscaled; the
//! block's scale `d` is applied once to that 8-lane sum, and the min `m` (Q4_1, Q5_1) once to the
//! activations' block sum (`block_sums`, computed once per token and matmul): 5 FMA-pipe operations per block
//! and token where scaling every weight first takes 8. Activations stay f32 throughout. For one output the sequence of f32
//! operations is fixed, and the row path (`dot`) and the tiled path (`gemm_tile`) both perform it, so
//! batching never changes a bit:
//! - per block b: `s_b = fma(q3, x3, fma(q2, x2, fma(q1, x1, q0·x0)))`, 8 lanes, vector v holding the block's
//!   elements 8v..8v + 8;
//! - `acc = fma(d_b, s_b, acc)` over the blocks in order, from zero; Q4_1 and Q5_1 also
//!   `mt = fma(m_b, sx_b, mt)`;
//! - the result is `hsum(acc)`, plus `mt` for Q4_1 and Q5_1.

// `f16_pair` gives a block's scale (lane 0) and min (lane 1; meaningless for the types without a min).
use super::blocks::{each_block, store};
use super::dot_avx2::{
    bits_to_bytes, bytes_to_f32, f16_pair as scales, hsum, nibble_bytes, prefetch_ahead,
};
use crate::weights::GgmlType;
use std::arch::x86_64::*;

/// A block-scaled type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaled {
    /// `(q - 8)·d`, 4-bit q.
    Q4_0,
    /// `q·d + m`, 4-bit q.
    Q4_1,
    /// `(q - 16)·d`, 5-bit q.
    Q5_0,
    /// `q·d + m`, 5-bit q.
    Q5_1,
    /// `q·d`, signed 8-bit q.
    Q8_0,
}

impl Scaled {
    /// `ty` as a block-scaled type, if it is one.
    pub fn of(ty: GgmlType) -> Option<Self> {
        match ty {
            GgmlType::Q4_0 => Some(Self::Q4_0),
            GgmlType::Q4_1 => Some(Self::Q4_1),
            GgmlType::Q5_0 => Some(Self::Q5_0),
            GgmlType::Q5_1 => Some(Self::Q5_1),
            GgmlType::Q8_0 => Some(Self::Q8_0),
            _ => None,
        }
    }

    /// Whether the type has a per-block min (and so reads the activations' block sums).
    pub fn has_min(self) -> bool {
        matches!(self, Self::Q4_1 | Self::Q5_1)
    }
}

/// Bytes per block of each type, in the order of `Scaled`.
const BYTES: [usize; 5] = [18, 20, 22, 24, 34];

/// The 32 integers of a Q4 block (16 bytes at `q`) minus `OFFSET` as f32, in element order: each 8 bytes are
/// widened to 8 lanes once, their low nibbles are elements 0-15 and their high nibbles elements 16-31.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ints_q4<const OFFSET: i32>(q: *const u8) -> [__m256; 4] {
    let a = _mm256_cvtepu8_epi32(_mm_loadl_epi64(q as *const __m128i));
    let b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(q.add(8) as *const __m128i));
    let (mask, off) = (_mm256_set1_epi32(0x0F), _mm256_set1_epi32(OFFSET));
    let f = |v: __m256i| {
        _mm256_cvtepi32_ps(if OFFSET == 0 {
            v
        } else {
            _mm256_sub_epi32(v, off)
        })
    };
    [
        f(_mm256_and_si256(a, mask)),
        f(_mm256_and_si256(b, mask)),
        f(_mm256_srli_epi32(a, 4)),
        f(_mm256_srli_epi32(b, 4)),
    ]
}

/// The 32 integers (0..32) of a Q5 block, one byte each: fifth bits at `p + qh`, nibbles at `p + qh + 4`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn q5_bytes(p: *const u8, qh: usize) -> __m256i {
    let high = _mm256_and_si256(bits_to_bytes(p.add(qh)), _mm256_set1_epi8(0x10));
    _mm256_or_si256(nibble_bytes(p.add(qh + 4)), high)
}

/// The 32 integers of a Q5 block (fifth bits at `p + qh`, nibbles at `p + qh + 4`), minus 16 unless `Q5_1`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ints_q5<const Q5_1: bool>(p: *const u8, qh: usize) -> [__m256; 4] {
    let q = q5_bytes(p, qh);
    if Q5_1 {
        bytes_to_f32::<false>(q)
    } else {
        bytes_to_f32::<true>(_mm256_sub_epi8(q, _mm256_set1_epi8(16)))
    }
}

/// The 32 signed bytes at `q` as f32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ints_q8(q: *const u8) -> [__m256; 4] {
    std::array::from_fn(|k| {
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(
            q.add(8 * k) as *const __m128i
        )))
    })
}

/// The integers of the block at `p`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ints(s: Scaled, p: *const u8) -> [__m256; 4] {
    match s {
        Scaled::Q4_0 => ints_q4::<8>(p.add(2)),
        Scaled::Q4_1 => ints_q4::<0>(p.add(4)),
        Scaled::Q5_0 => ints_q5::<false>(p, 2),
        Scaled::Q5_1 => ints_q5::<true>(p, 4),
        Scaled::Q8_0 => ints_q8(p.add(2)),
    }
}

/// `s_b` of the module doc: the unscaled 8-lane dot of a block's integers with 32 activations at `x`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block_dot(q: &[__m256; 4], x: *const f32) -> __m256 {
    let mut s = _mm256_mul_ps(q[0], _mm256_loadu_ps(x));
    for (v, qv) in q.iter().enumerate().skip(1) {
        s = _mm256_fmadd_ps(*qv, _mm256_loadu_ps(x.add(8 * v)), s);
    }
    s
}

/// Lane 1 of `v`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn lane1(v: __m128) -> f32 {
    _mm_cvtss_f32(_mm_movehdup_ps(v))
}

/// `row · xs[j]` for every token j (`sums[j]`: the block sums of `xs[j]`, read for the types with a min).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot<const N: usize>(
    s: Scaled,
    row: &[u8],
    xs: [&[f32]; N],
    sums: [&[f32]; N],
) -> [f32; N] {
    // One monomorphized loop per type, so the unpacking inlines.
    match s {
        Scaled::Q4_0 => dot_with::<N, false>(Scaled::Q4_0, row, xs, sums),
        Scaled::Q4_1 => dot_with::<N, true>(Scaled::Q4_1, row, xs, sums),
        Scaled::Q5_0 => dot_with::<N, false>(Scaled::Q5_0, row, xs, sums),
        Scaled::Q5_1 => dot_with::<N, true>(Scaled::Q5_1, row, xs, sums),
        Scaled::Q8_0 => dot_with::<N, false>(Scaled::Q8_0, row, xs, sums),
    }
}

/// `dot` for consecutive rows (`rows`: whole rows of `row_bytes`), handing row i's results to `store(i, ..)`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot_rows<const N: usize>(
    s: Scaled,
    rows: &[u8],
    row_bytes: usize,
    xs: [&[f32]; N],
    sums: [&[f32]; N],
    store: &mut impl FnMut(usize, &[f32]),
) {
    // One loop per type and token count, so the unpacking and the loop's constants stay in registers.
    macro_rules! each {
        ($min:literal, $s:expr) => {
            for (i, row) in rows.chunks_exact(row_bytes).enumerate() {
                store(i, &dot_with::<N, $min>($s, row, xs, sums));
            }
        };
    }
    match s {
        Scaled::Q4_0 => each!(false, Scaled::Q4_0),
        Scaled::Q4_1 => each!(true, Scaled::Q4_1),
        Scaled::Q5_0 => each!(false, Scaled::Q5_0),
        Scaled::Q5_1 => each!(true, Scaled::Q5_1),
        Scaled::Q8_0 => each!(false, Scaled::Q8_0),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_with<const N: usize, const MIN: bool>(
    s: Scaled,
    row: &[u8],
    xs: [&[f32]; N],
    sums: [&[f32]; N],
) -> [f32; N] {
    let (bb, blocks) = (BYTES[s as usize], row.len() / BYTES[s as usize]);
    for j in 0..N {
        assert!(xs[j].len() >= 32 * blocks && (!MIN || sums[j].len() >= blocks));
    }
    let mut acc = [_mm256_setzero_ps(); N];
    let mut mt = [_mm_setzero_ps(); N];
    for b in 0..blocks {
        let p = row.as_ptr().add(b * bb);
        prefetch_ahead(p);
        let dm = scales(p);
        let d = _mm256_broadcastss_ps(dm);
        let q = ints(s, p);
        for j in 0..N {
            acc[j] = _mm256_fmadd_ps(d, block_dot(&q, xs[j].as_ptr().add(32 * b)), acc[j]);
            if MIN {
                let sx = _mm_broadcast_ss(&*sums[j].as_ptr().add(b));
                mt[j] = _mm_fmadd_ps(dm, sx, mt[j]);
            }
        }
    }
    std::array::from_fn(|j| {
        if MIN {
            hsum(acc[j]) + lane1(mt[j])
        } else {
            hsum(acc[j])
        }
    })
}

/// `out[b] = Σ x[32b..32b + 32]` for every block of `x` (fixed order: four 8-lane vectors, then `hsum`).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn block_sums(x: &[f32], out: &mut [f32]) {
    for (o, c) in out.iter_mut().zip(x.chunks_exact(32)) {
        let v = |k: usize| _mm256_loadu_ps(c.as_ptr().add(8 * k));
        *o = hsum(_mm256_add_ps(
            _mm256_add_ps(v(0), v(1)),
            _mm256_add_ps(v(2), v(3)),
        ));
    }
}

/// A row unpacked for the tiled path: its integers as f32 (`q`, one per column) and each block's scale and
/// min (`d`, `m`; `m` is written for the types with a min only).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_row(s: Scaled, row: &[u8], q: &mut [f32], d: &mut [f32], m: &mut [f32]) {
    let bb = BYTES[s as usize];
    let blocks = d
        .iter_mut()
        .zip(q.chunks_exact_mut(32))
        .zip(row.chunks_exact(bb));
    for (b, ((db, qb), block)) in blocks.enumerate() {
        let dm = scales(block.as_ptr());
        *db = _mm_cvtss_f32(dm);
        if let Some(mb) = m.get_mut(b).filter(|_| s.has_min()) {
            *mb = lane1(dm);
        }
        for (v, qv) in ints(s, block.as_ptr()).iter().enumerate() {
            _mm256_storeu_ps(qb.as_mut_ptr().add(8 * v), *qv);
        }
    }
}

/// Rows and tokens per register block of `gemm_tile` (accumulators and block sums: 2·R·T registers).
const GR: usize = 3;
const GT: usize = 2;

/// `hsum(acc)` of the module doc for R unpacked rows and T tokens: R×T block dots per block share each loaded
/// integer vector across T tokens and each activation vector across R rows.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block<const R: usize, const T: usize>(
    q: [*const f32; R],
    d: [*const f32; R],
    x: [*const f32; T],
    blocks: usize,
) -> [[f32; T]; R] {
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    #[allow(clippy::needless_range_loop)]
    for b in 0..blocks {
        let mut s = [[_mm256_setzero_ps(); T]; R];
        for v in 0..4 {
            let k = 32 * b + 8 * v;
            let xs: [__m256; T] = std::array::from_fn(|t| _mm256_loadu_ps(x[t].add(k)));
            for r in 0..R {
                let qv = _mm256_loadu_ps(q[r].add(k));
                for t in 0..T {
                    s[r][t] = if v == 0 {
                        _mm256_mul_ps(qv, xs[t])
                    } else {
                        _mm256_fmadd_ps(qv, xs[t], s[r][t])
                    };
                }
            }
        }
        for r in 0..R {
            let dv = _mm256_broadcast_ss(&*d[r].add(b));
            for t in 0..T {
                acc[r][t] = _mm256_fmadd_ps(dv, s[r][t], acc[r][t]);
            }
        }
    }
    std::array::from_fn(|r| std::array::from_fn(|t| hsum(acc[r][t])))
}

/// An unpacked tile of `rows` rows of a block-scaled type (`unpack_row`'s `q`, `d`, `m`, row after row).
pub struct Tile<'a> {
    /// The type.
    pub ty: Scaled,
    /// Integers, `rows × cols`.
    pub q: &'a [f32],
    /// Scales, `rows × cols / 32`.
    pub d: &'a [f32],
    /// Mins, `rows × cols / 32` (types with a min).
    pub m: &'a [f32],
    /// Rows in the tile.
    pub rows: usize,
    /// Columns (a multiple of 32).
    pub cols: usize,
}

/// `out[t * out_stride + r] = tile row r · x[t]` for `n` token rows of `x`; `sums_t` holds the activations'
/// block sums transposed (`sums_t[b * n8 + t]`, `n8` = n rounded up to 8; read for the types with a min).
///
/// # Safety
/// `x` holds `n` rows of `cols`; `out` is valid for every written index; CPU features as above.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_tile(
    tile: &Tile,
    x: &[f32],
    n: usize,
    sums_t: &[f32],
    out: *mut f32,
    out_stride: usize,
) {
    let (cols, blocks) = (tile.cols, tile.cols / 32);
    each_block(tile.rows, n, GR, GT, |r0, rn, t0, tn| {
        macro_rules! run {
            ($r:literal, $t:literal) => {{
                let q = std::array::from_fn(|r| tile.q.as_ptr().add((r0 + r) * cols));
                let d = std::array::from_fn(|r| tile.d.as_ptr().add((r0 + r) * blocks));
                let xs = std::array::from_fn(|t| x.as_ptr().add((t0 + t) * cols));
                store(&block::<$r, $t>(q, d, xs, blocks), r0, t0, out, out_stride);
            }};
        }
        match (rn, tn) {
            (3, 2) => run!(3, 2),
            (3, _) => run!(3, 1),
            (2, 2) => run!(2, 2),
            (2, _) => run!(2, 1),
            (_, 2) => run!(1, 2),
            _ => run!(1, 1),
        }
    });
    if tile.ty.has_min() {
        add_min_terms(tile, n, sums_t, out, out_stride);
    }
}

/// Adds `mt` of the module doc to every output: for each row, 8 tokens at a time in the lanes (each lane the
/// same FMA chain as the row path's lane 1).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn add_min_terms(tile: &Tile, n: usize, sums_t: &[f32], out: *mut f32, out_stride: usize) {
    let (blocks, n8) = (tile.cols / 32, n.div_ceil(8) * 8);
    let mut lanes = [0f32; 8];
    for r in 0..tile.rows {
        let m = &tile.m[r * blocks..(r + 1) * blocks];
        for t0 in (0..n).step_by(8) {
            let mut mt = _mm256_setzero_ps();
            for (b, mb) in m.iter().enumerate() {
                let sx = _mm256_loadu_ps(sums_t.as_ptr().add(b * n8 + t0));
                mt = _mm256_fmadd_ps(_mm256_set1_ps(*mb), sx, mt);
            }
            _mm256_storeu_ps(lanes.as_mut_ptr(), mt);
            for (t, l) in lanes.iter().enumerate().take(n - t0) {
                let o = out.add((t0 + t) * out_stride + r);
                *o += *l;
            }
        }
    }
}
