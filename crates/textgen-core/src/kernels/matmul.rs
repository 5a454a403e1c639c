//! Matrix multiplication of a quantized weight matrix by a batch of f32 activation rows, across the pool.
//!
//! Few tokens (decode): each weight row is unpacked in registers and dotted with up to three tokens at once.
//! Many tokens (prefill): a tile of rows is unpacked once into a cache-resident f32 buffer and a register-
//! blocked micro-kernel reuses it for every token. Both paths give bit-identical results (see `dot_avx512`
//! on AVX-512 CPUs; else `dot_avx2` and, for Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0, `scaled_avx2`, whose Q4_1 /
//! Q5_1 kernels also read each token's block sums).

use super::dot::{block_sums, detect, dot_rows, needs_block_sums, runnable, wide, Isa, MAX_TOKENS};
use super::pool::{Pool, SyncPtr};
use super::qmatrix::QMatrix;
use super::AlignedBuf;
use std::cell::RefCell;

/// Rows per work item on the row-dot path.
const ROW_TILE: usize = 16;
/// Rows per work item on the tiled path (unpacked tile: `TILED_ROWS × cols` f32, L2-resident).
const TILED_ROWS: usize = 48;
/// Tokens from which the tiled path pays off.
const TILED_MIN_TOKENS: usize = 8;

thread_local! {
    /// Each pool participant's reusable unpacked-weight tile (and, for block-scaled types, its scales/mins).
    static TILE: RefCell<(AlignedBuf, Vec<f32>)> = const { RefCell::new((AlignedBuf::new(), Vec::new())) };
    /// Each calling thread's reusable activation block sums (`dot::block_sums`): per token, then transposed.
    static SUMS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `out[t][r] = w.row(r) · x[t]` for every token row `t` of `x` (`x`: n × cols, `out`: n × rows).
pub fn matmul(pool: &Pool, w: &QMatrix, x: &[f32], out: &mut [f32]) {
    matmul_group(pool, [w], x, [out]);
}

/// [`matmul`] of each matrix of `ws` (all with the same columns) by the same activations into its `outs`.
///
/// With few tokens the row dots of all matrices are one pool job (a decode step issues hundreds of jobs;
/// joining Q, K and V, or gate and up, saves their hand-overs and the wait for the slowest participant).
/// Every output is the same as from its own `matmul`.
pub fn matmul_group<const K: usize>(
    pool: &Pool,
    ws: [&QMatrix; K],
    x: &[f32],
    outs: [&mut [f32]; K],
) {
    matmul_group_on(detect(), pool, ws, x, outs);
}

/// [`matmul_group`] with the kernels of `isa` (or of the widest set below it that this CPU runs).
pub fn matmul_group_on<const K: usize>(
    isa: Isa,
    pool: &Pool,
    ws: [&QMatrix; K],
    x: &[f32],
    outs: [&mut [f32]; K],
) {
    // The tiled path below calls the AVX kernels directly: only on a CPU that runs them.
    let isa = runnable(isa);
    let cols = ws[0].cols;
    let n = x.len() / cols;
    debug_assert_eq!(x.len(), n * cols);
    for (w, out) in ws.iter().zip(&outs) {
        debug_assert_eq!(w.cols, cols);
        debug_assert_eq!(out.len(), n * w.rows);
    }
    let tiled = isa != Isa::Scalar && n >= TILED_MIN_TOKENS && cols.is_multiple_of(32);
    if !ws.iter().any(|w| needs_block_sums(isa, w.ty, cols)) {
        return matmul_with(pool, ws, x, (&[], &[]), n, tiled, isa, outs);
    }
    SUMS.with(|bufs| {
        let (per_token, transposed) = &mut *bufs.borrow_mut();
        let blocks = cols / 32;
        per_token.resize(n * blocks, 0.0);
        for (xt, st) in x.chunks_exact(cols).zip(per_token.chunks_exact_mut(blocks)) {
            block_sums(isa, xt, st);
        }
        // Only the tiled path reads the transposed sums.
        if tiled {
            let n8 = n.div_ceil(8) * 8;
            transposed.resize(blocks * n8, 0.0);
            for (t, st) in per_token.chunks_exact(blocks).enumerate() {
                for (b, v) in st.iter().enumerate() {
                    transposed[b * n8 + t] = *v;
                }
            }
        }
        matmul_with(pool, ws, x, (per_token, transposed), n, tiled, isa, outs)
    })
}

/// `matmul_group` given the activations' block sums (per token, and transposed with tokens padded to 8;
/// both empty where the kernels do not read them).
#[allow(clippy::too_many_arguments)]
fn matmul_with<const K: usize>(
    pool: &Pool,
    ws: [&QMatrix; K],
    x: &[f32],
    sums: (&[f32], &[f32]),
    n: usize,
    tiled: bool,
    isa: Isa,
    outs: [&mut [f32]; K],
) {
    let optrs = outs.map(SyncPtr::new);
    #[cfg(target_arch = "x86_64")]
    if tiled {
        for (w, optr) in ws.into_iter().zip(optrs) {
            match super::scaled_avx2::Scaled::of(w.ty) {
                Some(s) if !wide(isa, w.cols) => tiled_scaled(pool, w, s, x, n, sums.1, optr),
                _ => tiled_exact(pool, w, x, n, wide(isa, w.cols), optr),
            }
        }
        return;
    }
    let chunks = ws.map(|w| w.rows.div_ceil(ROW_TILE));
    pool.for_each_chunk(chunks.iter().sum(), 1, &|_, cs| {
        for c in cs {
            // Chunk c is chunk `local` of matrix k.
            let (mut k, mut local) = (0, c);
            while local >= chunks[k] {
                local -= chunks[k];
                k += 1;
            }
            let w = ws[k];
            let rows = local * ROW_TILE..((local + 1) * ROW_TILE).min(w.rows);
            row_dots(w, x, sums.0, n, isa, optrs[k], rows);
        }
    });
}

/// The row-dot path for `rows` of `w`: each row unpacked in registers and dotted with up to
/// `MAX_TOKENS` tokens at once, the results written to column `r` of every output row.
fn row_dots(
    w: &QMatrix,
    x: &[f32],
    sums: &[f32],
    n: usize,
    isa: Isa,
    optr: SyncPtr<f32>,
    rows: std::ops::Range<usize>,
) {
    let blocks = w.cols / 32;
    for t0 in (0..n).step_by(MAX_TOKENS) {
        let t1 = (t0 + MAX_TOKENS).min(n);
        let t = |j: usize| (t0 + j).min(t1 - 1);
        let xs: [&[f32]; MAX_TOKENS] = std::array::from_fn(|j| &x[t(j) * w.cols..][..w.cols]);
        let sx: [&[f32]; MAX_TOKENS] =
            std::array::from_fn(|j| sums.get(t(j) * blocks..(t(j) + 1) * blocks).unwrap_or(&[]));
        let bytes = w.rows_bytes(rows.clone());
        dot_rows(
            isa,
            w.ty,
            bytes,
            w.row_bytes(),
            &xs[..t1 - t0],
            &sx[..t1 - t0],
            |i, o| {
                for (j, v) in o.iter().enumerate() {
                    // SAFETY: row rows.start + i belongs to this chunk alone; (t0 + j) < n.
                    unsafe { optr.slice((t0 + j) * w.rows + rows.start + i, 1)[0] = *v };
                }
            },
        );
    }
}

/// The tiled path of exact weights: each tile dequantized once into f32 (`dot_avx512` where `wide`, else
/// `dot_avx2`), then multiplied by every token.
#[cfg(target_arch = "x86_64")]
fn tiled_exact(pool: &Pool, w: &QMatrix, x: &[f32], n: usize, wide: bool, optr: SyncPtr<f32>) {
    use super::{dot_avx2, dot_avx512};
    pool.for_each_chunk(w.rows, TILED_ROWS, &|_, rows| {
        TILE.with(|tile| {
            let tile = &mut tile.borrow_mut().0;
            tile.resize(TILED_ROWS * w.cols);
            for (i, r) in rows.clone().enumerate() {
                let out = &mut tile[i * w.cols..(i + 1) * w.cols];
                // SAFETY: `runnable` chose the ISA (AVX2, or AVX-512 where `wide`) for this CPU, so it has
                // the features these kernels need; `wide` also means whole 32-column groups.
                unsafe {
                    if wide {
                        dot_avx512::dequantize_row(w.ty, w.row(r), out)
                    } else {
                        dot_avx2::dequantize_row(w.ty, w.row(r), out)
                    }
                };
            }
            // SAFETY: as above; this chunk alone writes columns rows.start..rows.end of every output row.
            unsafe {
                let out = optr.slice(rows.start, 0).as_mut_ptr();
                if wide {
                    dot_avx512::gemm_tile(tile, rows.len(), w.cols, x, n, out, w.rows)
                } else {
                    dot_avx2::gemm_tile(tile, rows.len(), w.cols, x, n, out, w.rows)
                }
            };
        });
    });
}

/// The tiled path of a block-scaled type: integers, scales and mins unpacked once per tile (`scaled_avx2`).
#[cfg(target_arch = "x86_64")]
fn tiled_scaled(
    pool: &Pool,
    w: &QMatrix,
    s: super::scaled_avx2::Scaled,
    x: &[f32],
    n: usize,
    sums_t: &[f32],
    optr: SyncPtr<f32>,
) {
    use super::scaled_avx2::{gemm_tile, unpack_row, Tile};
    let blocks = w.cols / 32;
    pool.for_each_chunk(w.rows, TILED_ROWS, &|_, rows| {
        TILE.with(|tile| {
            let (q, dm) = &mut *tile.borrow_mut();
            q.resize(TILED_ROWS * w.cols);
            dm.resize(2 * TILED_ROWS * blocks, 0.0);
            let (d, m) = dm.split_at_mut(TILED_ROWS * blocks);
            for (i, r) in rows.clone().enumerate() {
                let span = i * blocks..(i + 1) * blocks;
                // SAFETY: `runnable` chose the ISA (AVX2 or wider) for this CPU, so it has AVX2, FMA and F16C.
                unsafe {
                    unpack_row(
                        s,
                        w.row(r),
                        &mut q[i * w.cols..(i + 1) * w.cols],
                        &mut d[span.clone()],
                        &mut m[span],
                    )
                };
            }
            let tile = Tile {
                ty: s,
                q,
                d,
                m,
                rows: rows.len(),
                cols: w.cols,
            };
            // SAFETY: as above; this chunk alone writes columns rows.start..rows.end of every output row, and
            // `sums_t` holds every token's block sums where the types with a min read them.
            unsafe {
                gemm_tile(
                    &tile,
                    x,
                    n,
                    sums_t,
                    optr.slice(rows.start, 0).as_mut_ptr(),
                    w.rows,
                )
            };
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::dot::available;
    use crate::weights::{Blob, GgmlType, Gguf};

    /// A matrix of `rows` random rows of `ty`, via a one-tensor GGUF image.
    fn random_matrix(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> QMatrix {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as u8
        };
        let mut data: Vec<u8> = (0..ty.bytes_for(rows * cols).unwrap())
            .map(|_| next())
            .collect();
        // Keep f16 scales small and finite.
        for b in data.chunks_exact_mut(ty.block_bytes()) {
            if ty != GgmlType::F32 && ty != GgmlType::BF16 {
                let at = if ty == GgmlType::Q6K { 208 } else { 0 };
                b[at + 1] = 0x20 | (b[at + 1] & 0x03);
                if matches!(
                    ty,
                    GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4K | GgmlType::Q5K
                ) {
                    b[3] = 0x20 | (b[3] & 0x03);
                }
            } else if ty == GgmlType::F32 {
                b[3] = 0x3c;
            } else {
                b[1] = 0x3c;
            }
        }
        let mut img = b"GGUF".to_vec();
        img.extend(3u32.to_le_bytes());
        img.extend(1u64.to_le_bytes());
        img.extend(0u64.to_le_bytes());
        img.extend(1u64.to_le_bytes());
        img.push(b'w');
        img.extend(2u32.to_le_bytes());
        img.extend((cols as u64).to_le_bytes());
        img.extend((rows as u64).to_le_bytes());
        img.extend(ty.id().to_le_bytes());
        img.extend(0u64.to_le_bytes());
        while !img.len().is_multiple_of(32) {
            img.push(0);
        }
        img.extend(data);
        let g = Gguf::parse(Blob::from_vec(img)).unwrap();
        QMatrix::from_tensor(&g.tensors[0]).unwrap()
    }

    #[test]
    fn batching_never_changes_a_bit() {
        let pool = Pool::new(2);
        for isa in available() {
            for ty in GgmlType::ALL {
                // An odd number of 32-column groups too, where the type allows it.
                let widths: &[usize] = if ty.block_elems() <= 32 {
                    &[512, 160]
                } else {
                    &[512]
                };
                for &cols in widths {
                    let rows = 53;
                    let w = random_matrix(ty, rows, cols, ty.id() as u64);
                    let n = 13;
                    let x: Vec<f32> = (0..n * cols)
                        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
                        .collect();
                    let mut all = vec![0f32; n * rows];
                    matmul_group_on(isa, &pool, [&w], &x, [&mut all]);
                    for t in 0..n {
                        let mut one = vec![0f32; rows];
                        let xt = &x[t * cols..(t + 1) * cols];
                        matmul_group_on(isa, &pool, [&w], xt, [&mut one]);
                        for r in 0..rows {
                            assert_eq!(
                                one[r].to_bits(),
                                all[t * rows + r].to_bits(),
                                "{ty} {isa:?} {cols} columns: token {t} row {r}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_group_gives_each_matrix_its_own_result() {
        let pool = Pool::new(2);
        let cols = 256;
        let ws = [
            random_matrix(GgmlType::Q4_1, 37, cols, 1),
            random_matrix(GgmlType::Q8_0, 5, cols, 2),
            random_matrix(GgmlType::Q4K, 70, cols, 3),
        ];
        for isa in available() {
            for n in [1, 2, 9] {
                let x: Vec<f32> = (0..n * cols)
                    .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
                    .collect();
                let alone: Vec<Vec<f32>> = ws
                    .iter()
                    .map(|w| {
                        let mut o = vec![0f32; n * w.rows];
                        matmul_group_on(isa, &pool, [w], &x, [&mut o]);
                        o
                    })
                    .collect();
                let mut outs: Vec<Vec<f32>> = ws.iter().map(|w| vec![0f32; n * w.rows]).collect();
                let [a, b, c] = &mut outs[..] else {
                    unreachable!()
                };
                matmul_group_on(isa, &pool, [&ws[0], &ws[1], &ws[2]], &x, [a, b, c]);
                for (k, (g, o)) in outs.iter().zip(&alone).enumerate() {
                    let same = g.iter().zip(o).all(|(p, q)| p.to_bits() == q.to_bits());
                    assert!(same, "{isa:?}: matrix {k}, {n} tokens");
                }
            }
        }
    }
}
