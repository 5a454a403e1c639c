//! Load-time quantization of float weight matrices to GGML block formats (Q8_0, Q4_K), so float checkpoints
//! run on the fast quantized kernels. The blocks are the ones `dequant.rs` reads.

use super::blob::Blob;
use super::dequant::dequantize;
use super::ggml_type::GgmlType;
use super::gguf::TensorInfo;
use super::tensor_set::{TensorMap, TensorSet};
use half::f16;

/// A quantization target for `--quantize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantize {
    /// 8-bit, 32 per block (near-lossless).
    Q8_0,
    /// 4-bit k-quant, 256 per super-block (rows not a multiple of 256 fall back to Q8_0).
    Q4K,
}

impl Quantize {
    /// The GGML type of the blocks.
    pub fn ty(self) -> GgmlType {
        match self {
            Self::Q8_0 => GgmlType::Q8_0,
            Self::Q4K => GgmlType::Q4K,
        }
    }
}

/// A copy of `set` with every 2-D float tensor (F32/F16/BF16) quantized to `q`; other tensors (norms,
/// biases, already quantized ones) are shared unchanged. A row length that is not a whole number of `q`'s
/// blocks falls back to Q8_0, and stays float when not a multiple of 32 either.
pub fn quantize_set(set: &dyn TensorSet, q: Quantize) -> TensorMap {
    let mut out = TensorMap::default();
    for t in set.all() {
        let float = matches!(t.ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16);
        let target = [q.ty(), GgmlType::Q8_0]
            .into_iter()
            .find(|ty| t.dims[0] % ty.block_elems() == 0);
        match target {
            Some(ty) if float && t.dims.len() == 2 => out.insert(quantize_tensor(t, ty)),
            _ => out.insert(t.clone()),
        }
    }
    out
}

/// `t` (float, rows a whole number of `ty` blocks) quantized row by row into an owned blob.
fn quantize_tensor(t: &TensorInfo, ty: GgmlType) -> TensorInfo {
    let cols = t.dims[0];
    let rows = t.elems() / cols;
    let src_row = t.ty.bytes_for(cols).unwrap_or(0);
    let mut row = vec![0.0f32; cols];
    let mut bytes = Vec::with_capacity(ty.bytes_for(t.elems()).unwrap_or(0));
    for r in 0..rows {
        dequantize(
            t.ty,
            &t.data.bytes()[r * src_row..(r + 1) * src_row],
            &mut row,
        );
        quantize_row(ty, &row, &mut bytes);
    }
    TensorInfo {
        name: t.name.clone(),
        ty,
        dims: t.dims.clone(),
        data: Blob::from_vec(bytes),
    }
}

/// Appends the blocks of `x` (a whole number of blocks) in format `ty` (Q8_0 or Q4_K) to `out`.
pub fn quantize_row(ty: GgmlType, x: &[f32], out: &mut Vec<u8>) {
    match ty {
        GgmlType::Q4K => x.chunks_exact(256).for_each(|b| q4_k_block(b, out)),
        _ => x.chunks_exact(32).for_each(|b| q8_0_block(b, out)),
    }
}

/// Rounds to f16 and returns both the stored bytes and the value the dequantizer will see.
fn half(v: f32) -> ([u8; 2], f32) {
    let h = f16::from_f32(v);
    (h.to_le_bytes(), h.to_f32())
}

fn q8_0_block(x: &[f32], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let (db, d) = half(amax / 127.0);
    let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&db);
    out.extend(
        x.iter()
            .map(|v| (v * inv).round().clamp(-127.0, 127.0) as i8 as u8),
    );
}

/// Q4_K: per 32-value sub-block a 6-bit scale and min (each times a super-block f16 factor), 4-bit values:
/// `x ≈ d·sc·q − dmin·m`.
fn q4_k_block(x: &[f32], out: &mut Vec<u8>) {
    let mut scale = [0.0f32; 8];
    let mut min = [0.0f32; 8];
    for (j, sub) in x.chunks_exact(32).enumerate() {
        let lo = sub.iter().fold(0.0f32, |m, &v| m.min(v));
        let hi = sub.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        scale[j] = (hi - lo) / 15.0;
        min[j] = -lo;
    }
    let max_scale = scale.iter().fold(0.0f32, |m, &v| m.max(v));
    let max_min = min.iter().fold(0.0f32, |m, &v| m.max(v));
    let (db, d) = half(max_scale / 63.0);
    let (dminb, dmin) = half(max_min / 63.0);
    let six = |v: f32, unit: f32| {
        if unit > 0.0 {
            (v / unit).round().clamp(0.0, 63.0) as u8
        } else {
            0
        }
    };
    let sc: [u8; 8] = std::array::from_fn(|j| six(scale[j], d));
    let mn: [u8; 8] = std::array::from_fn(|j| six(min[j], dmin));
    let mut packed = [0u8; 12];
    for j in 0..8 {
        if j < 4 {
            packed[j] = sc[j];
            packed[j + 4] = mn[j];
        } else {
            packed[j + 4] = (sc[j] & 0x0F) | ((mn[j] & 0x0F) << 4);
            packed[j - 4] |= (sc[j] >> 4) << 6;
            packed[j] |= (mn[j] >> 4) << 6;
        }
    }
    out.extend_from_slice(&db);
    out.extend_from_slice(&dminb);
    out.extend_from_slice(&packed);
    let q = |j: usize, v: f32| {
        let step = d * sc[j] as f32;
        if step > 0.0 {
            ((v + dmin * mn[j] as f32) / step).round().clamp(0.0, 15.0) as u8
        } else {
            0
        }
    };
    for g in 0..4 {
        let (a, b) = (&x[64 * g..64 * g + 32], &x[64 * g + 32..64 * g + 64]);
        out.extend((0..32).map(|l| q(2 * g, a[l]) | (q(2 * g + 1, b[l]) << 4)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1) with a few large outliers.
    fn data(n: usize) -> Vec<f32> {
        let mut s = 7u64;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
                if i % 97 == 0 {
                    v * 8.0
                } else {
                    v
                }
            })
            .collect()
    }

    /// Quantizes and dequantizes `x`, returning the worst error relative to each block's largest magnitude.
    fn worst_relative_error(ty: GgmlType, x: &[f32]) -> f32 {
        let mut bytes = Vec::new();
        quantize_row(ty, x, &mut bytes);
        assert_eq!(bytes.len(), ty.bytes_for(x.len()).unwrap());
        let mut y = vec![0.0; x.len()];
        dequantize(ty, &bytes, &mut y);
        let block = ty.block_elems();
        x.chunks(block)
            .zip(y.chunks(block))
            .map(|(xb, yb)| {
                let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let err = xb
                    .iter()
                    .zip(yb)
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                err / amax
            })
            .fold(0.0, f32::max)
    }

    #[test]
    fn q8_0_error_is_half_a_step() {
        // Rounding to 1/127 of the block's magnitude, plus the f16 rounding of the scale.
        assert!(worst_relative_error(GgmlType::Q8_0, &data(4096)) <= 0.5 / 127.0 + 2e-3);
    }

    #[test]
    fn q4_k_error_is_bounded_by_the_sub_block_step() {
        // A sub-block's range is at most 2·amax; 15 steps, 6-bit scales and mins add a little.
        let e = worst_relative_error(GgmlType::Q4K, &data(4096));
        assert!(e <= 2.0 / 15.0, "{e}");
        assert!(e > 0.0);
    }

    #[test]
    fn quantize_set_picks_block_formats_by_row_length() {
        let f32_tensor = |name: &str, dims: Vec<usize>| {
            let n: usize = dims.iter().product();
            TensorInfo {
                name: name.into(),
                ty: GgmlType::F32,
                dims,
                data: Blob::from_vec(data(n).iter().flat_map(|v| v.to_le_bytes()).collect()),
            }
        };
        let mut set = TensorMap::default();
        set.insert(f32_tensor("wide", vec![512, 2]));
        set.insert(f32_tensor("narrow", vec![64, 3]));
        set.insert(f32_tensor("odd", vec![48, 2]));
        set.insert(f32_tensor("norm", vec![512]));
        let q = quantize_set(&set, Quantize::Q4K);
        let ty = |n: &str| q.get(n).unwrap().ty;
        assert_eq!(ty("wide"), GgmlType::Q4K);
        assert_eq!(ty("narrow"), GgmlType::Q8_0);
        assert_eq!(ty("odd"), GgmlType::F32);
        assert_eq!(ty("norm"), GgmlType::F32);
        let wide = q.get("wide").unwrap();
        assert_eq!(
            wide.data.bytes().len(),
            GgmlType::Q4K.bytes_for(1024).unwrap()
        );
        // Row 1 of the quantized tensor dequantizes close to row 1 of the source.
        let mut y = vec![0.0; 512];
        dequantize(GgmlType::Q4K, &wide.data.bytes()[144 * 2..], &mut y);
        let x = &data(1024)[512..];
        let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(x
            .iter()
            .zip(&y)
            .all(|(a, b)| (a - b).abs() <= amax * 2.0 / 15.0));
    }

    #[test]
    fn zero_blocks_stay_zero() {
        for ty in [GgmlType::Q8_0, GgmlType::Q4K] {
            let mut bytes = Vec::new();
            quantize_row(ty, &[0.0; 256], &mut bytes);
            let mut y = vec![1.0; 256];
            dequantize(ty, &bytes, &mut y);
            assert!(y.iter().all(|&v| v == 0.0), "{ty}");
        }
    }
}
