//! AVX2 + FMA + F16C row kernels (x86-64). Callers guarantee the CPU features (see `dot::detect`).

use super::dot::dot_generic;
use crate::weights::GgmlType;
use std::arch::x86_64::*;

/// Row dot products for any type; Q4_0, Q4_1 and Q8_0 have dedicated unpack-in-register paths.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot<const N: usize>(ty: GgmlType, row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    match ty {
        GgmlType::Q4_0 => q4::<N, false>(row, xs),
        GgmlType::Q4_1 => q4::<N, true>(row, xs),
        GgmlType::Q8_0 => q8_0::<N>(row, xs),
        _ => dot_generic(ty, row, xs, |a, b| unsafe { dot_f32(a, b) }),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_at(p: *const u8) -> f32 {
    let h = u16::from_le_bytes([*p, *p.add(1)]);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h as i32)))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
}

/// Q4_0 (`MIN = false`, value = d·(q−8)) and Q4_1 (`MIN = true`, value = d·q + m) rows.
///
/// Per block: `d·Σ q·x + m·Σ x` (Q4_0 uses m = −8d), all in f32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4<const N: usize, const MIN: bool>(row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    let (bb, qoff) = if MIN { (20, 4) } else { (18, 2) };
    let nb = row.len() / bb;
    let mask = _mm_set1_epi8(0x0F);
    let mut acc = [_mm256_setzero_ps(); N];
    let mut accm = [_mm256_setzero_ps(); N];
    for b in 0..nb {
        let p = row.as_ptr().add(b * bb);
        let d = f16_at(p);
        let m = if MIN { f16_at(p.add(2)) } else { -8.0 * d };
        let q = _mm_loadu_si128(p.add(qoff) as *const __m128i);
        let lo = _mm_and_si128(q, mask);
        let hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
        let w0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
        let w1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
        let w2 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
        let w3 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
        let (vd, vm) = (_mm256_set1_ps(d), _mm256_set1_ps(m));
        for j in 0..N {
            let x = xs[j].as_ptr().add(b * 32);
            let (x0, x1) = (_mm256_loadu_ps(x), _mm256_loadu_ps(x.add(8)));
            let (x2, x3) = (_mm256_loadu_ps(x.add(16)), _mm256_loadu_ps(x.add(24)));
            let s = _mm256_mul_ps(w0, x0);
            let s = _mm256_fmadd_ps(w1, x1, s);
            let s = _mm256_fmadd_ps(w2, x2, s);
            let s = _mm256_fmadd_ps(w3, x3, s);
            let sx = _mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3));
            acc[j] = _mm256_fmadd_ps(vd, s, acc[j]);
            accm[j] = _mm256_fmadd_ps(vm, sx, accm[j]);
        }
    }
    std::array::from_fn(|j| hsum(_mm256_add_ps(acc[j], accm[j])))
}

/// Q8_0 rows: per block `d·Σ q·x`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q8_0<const N: usize>(row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    let nb = row.len() / 34;
    let mut acc = [_mm256_setzero_ps(); N];
    for b in 0..nb {
        let p = row.as_ptr().add(b * 34);
        let vd = _mm256_set1_ps(f16_at(p));
        let w: [__m256; 4] = std::array::from_fn(|k| {
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(
                p.add(2 + 8 * k) as *const __m128i
            )))
        });
        for j in 0..N {
            let x = xs[j].as_ptr().add(b * 32);
            let s = _mm256_mul_ps(w[0], _mm256_loadu_ps(x));
            let s = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(x.add(8)), s);
            let s = _mm256_fmadd_ps(w[2], _mm256_loadu_ps(x.add(16)), s);
            let s = _mm256_fmadd_ps(w[3], _mm256_loadu_ps(x.add(24)), s);
            acc[j] = _mm256_fmadd_ps(vd, s, acc[j]);
        }
    }
    std::array::from_fn(|j| hsum(acc[j]))
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
