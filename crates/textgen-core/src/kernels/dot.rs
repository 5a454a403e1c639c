//! Dot products of one quantized weight row with f32 activation rows: the inner loop of every matmul.
//!
//! Weights are unpacked in registers and multiplied with f32 activations, accumulating in f32: the exact
//! computation, never rounding activations to 8 bits. One row is dotted with up to [`MAX_TOKENS`] activation
//! rows per call so the row is unpacked once for several tokens; each token's result is computed by the same
//! sequence of operations whatever the group size, so batching never changes an answer.

use crate::weights::dequant::dequantize_block;
use crate::weights::GgmlType;

#[cfg(target_arch = "x86_64")]
use super::scaled_avx2::Scaled;

/// Largest number of activation rows (tokens) one call handles.
pub const MAX_TOKENS: usize = 3;

/// Which instruction set the kernels use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, any CPU.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-512 F + BW besides AVX2 + FMA + F16C: the matrix kernels of `dot_avx512`; everything else
    /// runs the AVX2 kernels.
    Avx512,
}

impl Isa {
    /// Every instruction set, narrowest first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

    /// Its name, as `--isa` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU runs the kernels of `self`.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c");
            match self {
                Isa::Scalar => true,
                Isa::Avx2 => avx2,
                Isa::Avx512 => {
                    avx2 && is_x86_feature_detected!("avx512f")
                        && is_x86_feature_detected!("avx512bw")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Scalar
        }
    }
}

/// The most `detect` may choose (set once, before the first `detect`).
static CAP: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();

/// Caps the instruction set `detect` chooses (`--isa`); only the first call before any `detect` counts.
pub fn cap_isa(cap: Isa) {
    let _ = CAP.set(cap);
}

/// The instruction sets this CPU runs, narrowest first (tests check each one's kernels).
pub fn available() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported()).collect()
}

/// `isa`, or the widest set this CPU runs where `isa` is wider: every kernel entry point passes its `isa`
/// through this, so no value a caller passes can run instructions the CPU lacks.
pub fn runnable(isa: Isa) -> Isa {
    static WIDEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    isa.min(*WIDEST.get_or_init(|| available().into_iter().max().unwrap_or(Isa::Scalar)))
}

/// The widest instruction set this CPU runs, at most the cap of [`cap_isa`] (checked once).
pub fn detect() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| runnable(*CAP.get_or_init(|| Isa::Avx512)))
}

/// Whether the AVX-512 matrix kernels compute a matrix of `cols` columns on `isa`.
pub fn wide(isa: Isa, cols: usize) -> bool {
    let isa = runnable(isa);
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        return super::dot_avx512::handles(cols);
    }
    let _ = (isa, cols);
    false
}

/// Whether `isa`'s kernels for `ty` read the activations' per-block sums (see [`block_sums`]).
pub fn needs_block_sums(isa: Isa, ty: GgmlType, cols: usize) -> bool {
    let isa = runnable(isa);
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2 && !wide(isa, cols) {
        return Scaled::of(ty).is_some_and(Scaled::has_min);
    }
    let _ = (isa, ty, cols);
    false
}

/// `out[b] = Σ x[32b..32b + 32]` for each 32-column block of `x`, as the kernels that need them read them
/// (`out` holds `x.len() / 32` values); only called where [`needs_block_sums`] holds.
pub fn block_sums(isa: Isa, x: &[f32], out: &mut [f32]) {
    let isa = runnable(isa);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `runnable` chose `Isa::Avx2` or wider only where the CPU has AVX2, FMA and F16C.
        Isa::Avx2 | Isa::Avx512 => unsafe { super::scaled_avx2::block_sums(x, out) },
        _ => {
            for (o, c) in out.iter_mut().zip(x.chunks_exact(32)) {
                *o = c.iter().sum();
            }
        }
    }
}

/// `out[j] = row · xs[j]` for up to `MAX_TOKENS` activation rows (each as long as the row); `sums[j]` are
/// the [`block_sums`] of `xs[j]` where [`needs_block_sums`] holds (else they may be empty).
#[inline]
pub fn dot_row(
    isa: Isa,
    ty: GgmlType,
    row: &[u8],
    xs: &[&[f32]],
    sums: &[&[f32]],
    out: &mut [f32; MAX_TOKENS],
) {
    let isa = runnable(isa);
    let cols = row.len() / ty.block_bytes() * ty.block_elems();
    macro_rules! go {
        ($n:literal) => {{
            let x: [&[f32]; $n] = std::array::from_fn(|j| xs[j]);
            let res: [f32; $n] = match isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `runnable` chose `Isa::Avx512` only where the CPU has AVX-512 F and BW besides
                // AVX2, FMA and F16C; `wide` checked the row is whole groups.
                Isa::Avx512 if wide(isa, cols) => unsafe { super::dot_avx512::dot::<$n>(ty, row, x) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `runnable` chose `Isa::Avx2` or wider only where the CPU has AVX2, FMA and F16C;
                // the sums cover every block where the kernel reads them (the caller's contract).
                Isa::Avx2 | Isa::Avx512 => unsafe {
                    match Scaled::of(ty) {
                        Some(s) => {
                            let sx = |j: usize| sums.get(j).map_or(&[][..], |v| *v);
                            super::scaled_avx2::dot::<$n>(s, row, x, std::array::from_fn(sx))
                        }
                        None => super::dot_avx2::dot::<$n>(ty, row, x),
                    }
                },
                _ => dot_generic(ty, row, x, dot_f32_scalar),
            };
            out[..$n].copy_from_slice(&res);
        }};
    }
    match xs.len() {
        1 => go!(1),
        2 => go!(2),
        _ => go!(3),
    }
}

/// [`dot_row`] for consecutive rows (`rows`: whole rows of `row_bytes`), handing row i's results (one per
/// activation row) to `store(i, ..)`.
pub fn dot_rows(
    isa: Isa,
    ty: GgmlType,
    rows: &[u8],
    row_bytes: usize,
    xs: &[&[f32]],
    sums: &[&[f32]],
    mut store: impl FnMut(usize, &[f32]),
) {
    let isa = runnable(isa);
    #[cfg(target_arch = "x86_64")]
    {
        let cols = row_bytes / ty.block_bytes() * ty.block_elems();
        let sx: [&[f32]; MAX_TOKENS] = std::array::from_fn(|j| sums.get(j).map_or(&[][..], |v| *v));
        macro_rules! go {
            ($n:literal) => {{
                let x: [&[f32]; $n] = std::array::from_fn(|j| xs[j]);
                let sums: [&[f32]; $n] = std::array::from_fn(|j| sx[j]);
                if wide(isa, cols) {
                    // SAFETY: `wide` holds only for `Isa::Avx512` on a CPU with AVX-512 F and BW besides
                    // AVX2, FMA and F16C, and whole 32-column groups.
                    return unsafe {
                        super::dot_avx512::dot_rows::<$n>(ty, rows, row_bytes, x, &mut store)
                    };
                }
                if let (Isa::Avx2 | Isa::Avx512, Some(s)) = (isa, Scaled::of(ty)) {
                    // SAFETY: `runnable` chose `Isa::Avx2` or wider only where the CPU has AVX2, FMA and F16C.
                    return unsafe {
                        super::scaled_avx2::dot_rows::<$n>(s, rows, row_bytes, x, sums, &mut store)
                    };
                }
            }};
        }
        match xs.len() {
            1 => go!(1),
            2 => go!(2),
            _ => go!(3),
        }
    }
    for (i, row) in rows.chunks_exact(row_bytes).enumerate() {
        let mut out = [0f32; MAX_TOKENS];
        dot_row(isa, ty, row, xs, sums, &mut out);
        store(i, &out[..xs.len().min(MAX_TOKENS)]);
    }
}

/// Any type: dequantize a block (float types: 64 elements) once, then f32 dot products with `dot` for
/// each activation row.
#[inline(always)]
fn dot_generic<const N: usize>(
    ty: GgmlType,
    row: &[u8],
    xs: [&[f32]; N],
    dot: impl Fn(&[f32], &[f32]) -> f32,
) -> [f32; N] {
    let (be, bb) = (ty.block_elems(), ty.block_bytes());
    let cols = row.len() / bb * be;
    let chunk = if be == 1 { 64 } else { be };
    let mut buf = [0f32; 256];
    let mut acc = [0f32; N];
    let mut start = 0;
    while start < cols {
        let len = chunk.min(cols - start);
        let w = &mut buf[..len];
        for (block, y) in row[start / be * bb..(start + len) / be * bb]
            .chunks_exact(bb)
            .zip(w.chunks_exact_mut(be))
        {
            dequantize_block(ty, block, y);
        }
        for j in 0..N {
            acc[j] += dot(w, &xs[j][start..start + len]);
        }
        start += len;
    }
    acc
}

/// Plain f32 dot product with eight partial sums (so the compiler can vectorize it).
#[inline]
pub fn dot_f32_scalar(a: &[f32], b: &[f32]) -> f32 {
    let mut s = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            s[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (s[0] + s[4]) + (s[1] + s[5]) + (s[2] + s[6]) + (s[3] + s[7]) + tail
}

/// f32 dot product with the best available instruction set.
#[inline]
pub fn dot_f32(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    let isa = runnable(isa);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `runnable` chose `Isa::Avx2` or wider only where the CPU has AVX2, FMA and F16C.
        Isa::Avx2 | Isa::Avx512 => unsafe { super::dot_avx2::dot_f32(a, b) },
        _ => dot_f32_scalar(a, b),
    }
}

/// One attention head's scores: `out[i] = (q · keys[i·stride..][..q.len()]) · scale` (exactly `dot_f32`).
pub fn head_scores(isa: Isa, q: &[f32], keys: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let isa = runnable(isa);
    let hd = q.len();
    assert!(out.is_empty() || (out.len() - 1) * stride + hd <= keys.len());
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2, FMA and F16C as in `dot_f32`; the bounds were checked above.
        Isa::Avx2 | Isa::Avx512 => unsafe { super::dot_avx2::scores(q, keys, stride, scale, out) },
        _ => {
            for (i, s) in out.iter_mut().enumerate() {
                *s = dot_f32_scalar(q, &keys[i * stride..][..hd]) * scale;
            }
        }
    }
}

/// One attention head's output: `out = Σ_i w[i] · values[i·stride..][..out.len()]`, accumulated from zero in
/// order (exactly a sequence of `axpy`).
pub fn head_sum(isa: Isa, w: &[f32], values: &[f32], stride: usize, out: &mut [f32]) {
    let isa = runnable(isa);
    let hd = out.len();
    assert!(w.is_empty() || (w.len() - 1) * stride + hd <= values.len());
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2, FMA and F16C as in `dot_f32`; the bounds were checked above.
        Isa::Avx2 | Isa::Avx512 => unsafe { super::dot_avx2::weighted_sum(w, values, stride, out) },
        _ => {
            out.fill(0.0);
            for (i, &wi) in w.iter().enumerate() {
                axpy(isa, wi, &values[i * stride..][..hd], out);
            }
        }
    }
}

/// `y += a * x` with the best available instruction set.
#[inline]
pub fn axpy(isa: Isa, a: f32, x: &[f32], y: &mut [f32]) {
    let isa = runnable(isa);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `runnable` chose `Isa::Avx2` or wider only where the CPU has AVX2, FMA and F16C.
        Isa::Avx2 | Isa::Avx512 => unsafe { super::dot_avx2::axpy(a, x, y) },
        _ => {
            for (yi, xi) in y.iter_mut().zip(x) {
                *yi += a * xi;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::dequant::dequantize;

    /// Deterministic pseudo-random bytes and floats for kernel tests.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn f(&mut self) -> f32 {
            (self.next() % 2001) as f32 / 1000.0 - 1.0
        }
    }

    /// Each activation row's block sums where the kernels for `ty` on `isa` read them, else empty.
    fn sums_of(isa: Isa, ty: GgmlType, xs: &[Vec<f32>]) -> Vec<Vec<f32>> {
        xs.iter()
            .map(|x| {
                let mut s = vec![0f32; x.len() / 32];
                if needs_block_sums(isa, ty, x.len()) {
                    block_sums(isa, x, &mut s);
                }
                s
            })
            .collect()
    }

    /// A random row of `blocks` blocks of `ty` whose f16 scales are small finite numbers.
    fn random_row(ty: GgmlType, blocks: usize, rng: &mut Lcg) -> Vec<u8> {
        let mut row: Vec<u8> = (0..blocks * ty.block_bytes())
            .map(|_| rng.next() as u8)
            .collect();
        let scale = |rng: &mut Lcg| half::f16::from_f32(rng.f() * 0.1).to_le_bytes();
        for b in row.chunks_exact_mut(ty.block_bytes()) {
            let offsets: &[usize] = match ty {
                GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => &[0],
                GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4K | GgmlType::Q5K => &[0, 2],
                GgmlType::Q6K => &[208],
                GgmlType::F16 => &[0],
                GgmlType::F32 => {
                    b.copy_from_slice(&rng.f().to_le_bytes());
                    &[]
                }
                GgmlType::BF16 => {
                    b.copy_from_slice(&half::bf16::from_f32(rng.f()).to_le_bytes());
                    &[]
                }
            };
            for &o in offsets {
                b[o..o + 2].copy_from_slice(&scale(rng));
            }
        }
        row
    }

    #[test]
    fn every_type_and_isa_matches_dequantized_reference() {
        let mut rng = Lcg(7);
        for ty in GgmlType::ALL {
            let cols = 512;
            let row = random_row(ty, cols / ty.block_elems(), &mut rng);
            let mut w = vec![0f32; cols];
            dequantize(ty, &row, &mut w);
            let xs: Vec<Vec<f32>> = (0..MAX_TOKENS)
                .map(|_| (0..cols).map(|_| rng.f()).collect())
                .collect();
            let want: Vec<f64> = xs
                .iter()
                .map(|x| w.iter().zip(x).map(|(a, b)| *a as f64 * *b as f64).sum())
                .collect();
            for isa in available() {
                let refs: Vec<&[f32]> = xs.iter().map(|v| v.as_slice()).collect();
                let sums = sums_of(isa, ty, &xs);
                let sum_refs: Vec<&[f32]> = sums.iter().map(|v| v.as_slice()).collect();
                for n in 1..=MAX_TOKENS {
                    let mut out = [0f32; MAX_TOKENS];
                    dot_row(isa, ty, &row, &refs[..n], &sum_refs[..n], &mut out);
                    for j in 0..n {
                        let tol = 1e-4 * (1.0 + want[j].abs());
                        assert!(
                            (out[j] as f64 - want[j]).abs() < tol,
                            "{ty} {isa:?} n={n} token {j}: {} vs {}",
                            out[j],
                            want[j]
                        );
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_unpacking_equals_the_reference_dequantizer() {
        let mut rng = Lcg(5);
        for ty in GgmlType::ALL {
            let cols = 1024;
            let row = random_row(ty, cols / ty.block_elems(), &mut rng);
            let mut want = vec![0f32; cols];
            dequantize(ty, &row, &mut want);
            let mut unpacked: Vec<(Isa, Vec<f32>)> = Vec::new();
            if Isa::Avx2.supported() {
                let mut got = vec![0f32; cols];
                // SAFETY: the CPU has AVX2, FMA and F16C.
                unsafe { super::super::dot_avx2::dequantize_row(ty, &row, &mut got) };
                if let Some(s) = Scaled::of(ty) {
                    // The block-scaled kernels' integers, scales and mins, combined as the reference does.
                    let blocks = cols / 32;
                    let (mut q, mut d, mut m) =
                        (vec![0f32; cols], vec![0f32; blocks], vec![0f32; blocks]);
                    // SAFETY: as above.
                    unsafe {
                        super::super::scaled_avx2::unpack_row(s, &row, &mut q, &mut d, &mut m)
                    };
                    for (k, g) in got.iter_mut().enumerate() {
                        *g = q[k] * d[k / 32];
                        if s.has_min() {
                            *g += m[k / 32];
                        }
                    }
                }
                unpacked.push((Isa::Avx2, got));
            }
            if Isa::Avx512.supported() {
                let mut got = vec![0f32; cols];
                // SAFETY: the CPU has AVX-512 F and BW, AVX2, FMA and F16C; 1024 columns are whole groups.
                unsafe { super::super::dot_avx512::dequantize_row(ty, &row, &mut got) };
                unpacked.push((Isa::Avx512, got));
            }
            for (isa, got) in unpacked {
                for (k, (w, g)) in want.iter().zip(&got).enumerate() {
                    assert_eq!(w.to_bits(), g.to_bits(), "{ty} {isa:?} [{k}]: {w} vs {g}");
                }
            }
        }
    }

    #[test]
    fn group_size_never_changes_a_result() {
        let mut rng = Lcg(11);
        for ty in GgmlType::ALL {
            // An odd number of 32-column groups where the type allows it (the last group's path).
            let cols = if ty.block_elems() <= 32 { 224 } else { 256 };
            let row = random_row(ty, cols / ty.block_elems(), &mut rng);
            let xs: Vec<Vec<f32>> = (0..MAX_TOKENS)
                .map(|_| (0..cols).map(|_| rng.f()).collect())
                .collect();
            let refs: Vec<&[f32]> = xs.iter().map(|v| v.as_slice()).collect();
            for isa in available() {
                let sums = sums_of(isa, ty, &xs);
                let sum_refs: Vec<&[f32]> = sums.iter().map(|v| v.as_slice()).collect();
                let mut all = [0f32; MAX_TOKENS];
                dot_row(isa, ty, &row, &refs, &sum_refs, &mut all);
                for j in 0..MAX_TOKENS {
                    let mut one = [0f32; MAX_TOKENS];
                    dot_row(
                        isa,
                        ty,
                        &row,
                        &refs[j..j + 1],
                        &sum_refs[j..j + 1],
                        &mut one,
                    );
                    assert_eq!(one[0].to_bits(), all[j].to_bits(), "{ty} {isa:?} token {j}");
                }
            }
        }
    }

    #[test]
    fn head_kernels_equal_their_one_vector_steps() {
        let mut rng = Lcg(3);
        for hd in [64, 48, 8] {
            let (n, stride) = (37, hd * 3 + 8);
            let q: Vec<f32> = (0..hd).map(|_| rng.f()).collect();
            let kv: Vec<f32> = (0..n * stride).map(|_| rng.f()).collect();
            let w: Vec<f32> = (0..n).map(|_| rng.f()).collect();
            for isa in available() {
                let mut got = vec![0f32; n];
                head_scores(isa, &q, &kv, stride, 0.125, &mut got);
                let mut sum = vec![0f32; hd];
                head_sum(isa, &w, &kv, stride, &mut sum);
                let mut want_sum = vec![0f32; hd];
                for i in 0..n {
                    let row = &kv[i * stride..][..hd];
                    let want = dot_f32(isa, &q, row) * 0.125;
                    assert_eq!(
                        got[i].to_bits(),
                        want.to_bits(),
                        "{isa:?} hd {hd} score {i}"
                    );
                    axpy(isa, w[i], row, &mut want_sum);
                }
                for k in 0..hd {
                    assert_eq!(
                        sum[k].to_bits(),
                        want_sum[k].to_bits(),
                        "{isa:?} hd {hd} out {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn f32_helpers_agree() {
        let mut rng = Lcg(3);
        let a: Vec<f32> = (0..77).map(|_| rng.f()).collect();
        let b: Vec<f32> = (0..77).map(|_| rng.f()).collect();
        let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        for isa in available() {
            assert!((dot_f32(isa, &a, &b) - want).abs() < 1e-4, "{isa:?}");
            let mut y1 = b.clone();
            let mut y2 = b.clone();
            axpy(Isa::Scalar, 0.5, &a, &mut y1);
            axpy(isa, 0.5, &a, &mut y2);
            for (p, q) in y1.iter().zip(&y2) {
                assert!((p - q).abs() < 1e-6, "{isa:?}");
            }
        }
    }
}
