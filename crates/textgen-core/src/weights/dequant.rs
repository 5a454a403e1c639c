//! Scalar reference dequantization of every supported block type (the ground truth for the kernels).

use super::ggml_type::GgmlType;
use half::{bf16, f16};

/// Reads the little-endian f16 at `b[i..i + 2]` as f32.
#[inline(always)]
pub fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Dequantizes `bytes` (whole blocks of type `ty`) into `out`, one f32 per element.
///
/// `out.len()` must equal the element count of `bytes`; callers derive both from a validated tensor shape.
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) {
    let (be, bb) = (ty.block_elems(), ty.block_bytes());
    debug_assert_eq!(bytes.len() / bb * be, out.len());
    for (block, y) in bytes.chunks_exact(bb).zip(out.chunks_exact_mut(be)) {
        dequantize_block(ty, block, y);
    }
}

/// Dequantizes one block of type `ty` into `y` (`ty.block_elems()` values).
#[inline]
pub fn dequantize_block(ty: GgmlType, b: &[u8], y: &mut [f32]) {
    match ty {
        GgmlType::F32 => y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        GgmlType::F16 => y[0] = f16_at(b, 0),
        GgmlType::BF16 => y[0] = bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        GgmlType::Q4_0 => q4_0(b, y),
        GgmlType::Q4_1 => q4_1(b, y),
        GgmlType::Q5_0 => q5_0(b, y),
        GgmlType::Q5_1 => q5_1(b, y),
        GgmlType::Q8_0 => q8_0(b, y),
        GgmlType::Q4K => q4_k(b, y),
        GgmlType::Q5K => q5_k(b, y),
        GgmlType::Q6K => q6_k(b, y),
    }
}

fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        y[j] = ((qs[j] & 0x0F) as i32 - 8) as f32 * d;
        y[j + 16] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
    }
}

fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let qs = &b[4..20];
    for j in 0..16 {
        y[j] = (qs[j] & 0x0F) as f32 * d + m;
        y[j + 16] = (qs[j] >> 4) as f32 * d + m;
    }
}

/// The 5th bits of the 32 values of a Q5_0/Q5_1 block, as (low-half, high-half) addends of 16.
#[inline(always)]
fn q5_high_bits(qh: u32, j: usize) -> (u8, u8) {
    (
        (((qh >> j) << 4) & 0x10) as u8,
        ((qh >> (j + 12)) & 0x10) as u8,
    )
}

fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let (h0, h1) = q5_high_bits(qh, j);
        y[j] = (((qs[j] & 0x0F) | h0) as i32 - 16) as f32 * d;
        y[j + 16] = (((qs[j] >> 4) | h1) as i32 - 16) as f32 * d;
    }
}

fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..16 {
        let (h0, h1) = q5_high_bits(qh, j);
        y[j] = ((qs[j] & 0x0F) | h0) as f32 * d + m;
        y[j + 16] = ((qs[j] >> 4) | h1) as f32 * d + m;
    }
}

fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for (yi, &q) in y.iter_mut().zip(&b[2..34]) {
        *yi = q as i8 as f32 * d;
    }
}

/// The 6-bit (scale, min) pair `j` of a Q4_K/Q5_K super-block's packed 12-byte scale table.
#[inline(always)]
pub fn k_scale_min(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (g, (q, y)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (s1, m1) = k_scale_min(2 * g, scales);
        let (s2, m2) = k_scale_min(2 * g + 1, scales);
        let (d1, m1) = (d * s1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * s2 as f32, dmin * m2 as f32);
        for l in 0..32 {
            y[l] = d1 * (q[l] & 0x0F) as f32 - m1;
            y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for (g, (q, y)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (s1, m1) = k_scale_min(2 * g, scales);
        let (s2, m2) = k_scale_min(2 * g + 1, scales);
        let (d1, m1) = (d * s1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * s2 as f32, dmin * m2 as f32);
        let (u1, u2) = (1u8 << (2 * g), 2u8 << (2 * g));
        for l in 0..32 {
            let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            y[l] = d1 * ((q[l] & 0x0F) + h1) as f32 - m1;
            y[l + 32] = d2 * ((q[l] >> 4) + h2) as f32 - m2;
        }
    }
}

fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 208);
    for half in 0..2 {
        let ql = &b[64 * half..64 * half + 64];
        let qh = &b[128 + 32 * half..128 + 32 * half + 32];
        let sc = &b[192 + 8 * half..192 + 8 * half + 8];
        let y = &mut y[128 * half..128 * half + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_le_bytes()
    }

    fn deq(ty: GgmlType, b: &[u8]) -> Vec<f32> {
        let mut y = vec![0.0; ty.block_elems()];
        dequantize_block(ty, b, &mut y);
        y
    }

    #[test]
    fn f32_f16_bf16() {
        assert_eq!(deq(GgmlType::F32, &1.5f32.to_le_bytes()), [1.5]);
        assert_eq!(deq(GgmlType::F16, &[0x00, 0x3C]), [1.0]); // 0x3C00 = 1.0
        assert_eq!(deq(GgmlType::BF16, &[0x20, 0xC0]), [-2.5]); // 0xC020 = -2.5
    }

    #[test]
    fn q4_0_block() {
        let mut b = h(0.5).to_vec();
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let y = deq(GgmlType::Q4_0, &b);
        assert_eq!(y[0], -4.0); // (0 - 8) * 0.5
        assert_eq!(y[3], -2.5); // (3 - 8) * 0.5
        assert_eq!(y[16], 3.5); // (15 - 8) * 0.5
        assert_eq!(y[31], -4.0); // (0 - 8) * 0.5
    }

    #[test]
    fn q4_1_block() {
        let mut b = [h(2.0), h(-1.0)].concat();
        b.extend((0..16u8).map(|j| j | (1 << 4)));
        let y = deq(GgmlType::Q4_1, &b);
        assert_eq!(y[0], -1.0);
        assert_eq!(y[7], 13.0); // 7 * 2 - 1
        assert_eq!(y[16], 1.0); // 1 * 2 - 1
    }

    #[test]
    fn q5_0_block() {
        // qh bit 0 -> element 0 gets +16; bit 16 -> element 16 gets +16.
        let mut b = h(1.0).to_vec();
        b.extend((1u32 | (1 << 16)).to_le_bytes());
        b.extend([0x21u8; 16]); // low nibble 1, high nibble 2
        let y = deq(GgmlType::Q5_0, &b);
        assert_eq!(y[0], 1.0); // (1 | 16) - 16
        assert_eq!(y[1], -15.0); // 1 - 16
        assert_eq!(y[16], 2.0); // (2 | 16) - 16
        assert_eq!(y[17], -14.0);
    }

    #[test]
    fn q5_1_block() {
        let mut b = [h(0.5), h(10.0)].concat();
        b.extend((1u32 << 31).to_le_bytes()); // element 31 gets +16
        b.extend([0xF3u8; 16]);
        let y = deq(GgmlType::Q5_1, &b);
        assert_eq!(y[0], 11.5); // 3 * 0.5 + 10
        assert_eq!(y[30], 17.5); // 15 * 0.5 + 10
        assert_eq!(y[31], 25.5); // 31 * 0.5 + 10
    }

    #[test]
    fn q8_0_block() {
        let mut b = h(0.25).to_vec();
        b.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let y = deq(GgmlType::Q8_0, &b);
        assert_eq!(y[0], -4.0);
        assert_eq!(y[31], 3.75);
    }

    /// Packs eight (scale, min) 6-bit pairs the way llama.cpp's Q4_K/Q5_K quantizers do.
    fn pack_k_scales(sc: [u8; 8], mn: [u8; 8]) -> [u8; 12] {
        let mut q = [0u8; 12];
        for j in 0..8 {
            if j < 4 {
                q[j] = sc[j];
                q[j + 4] = mn[j];
            } else {
                q[j + 4] = (sc[j] & 0x0F) | ((mn[j] & 0x0F) << 4);
                q[j - 4] |= (sc[j] >> 4) << 6;
                q[j] |= (mn[j] >> 4) << 6;
            }
        }
        q
    }

    #[test]
    fn k_scale_min_round_trips() {
        let sc = [1, 63, 17, 40, 33, 2, 62, 48];
        let mn = [5, 0, 63, 21, 50, 31, 16, 7];
        let q = pack_k_scales(sc, mn);
        for j in 0..8 {
            assert_eq!(k_scale_min(j, &q), (sc[j], mn[j]), "pair {j}");
        }
    }

    #[test]
    fn q4_k_block() {
        let sc = [1, 2, 3, 4, 5, 6, 7, 40];
        let mn = [0, 1, 0, 0, 0, 0, 0, 33];
        let mut b = [h(0.5), h(0.25)].concat();
        b.extend(pack_k_scales(sc, mn));
        b.extend((0..128).map(|i| ((i % 16) as u8) | (((i / 8) % 16) as u8) << 4));
        let y = deq(GgmlType::Q4K, &b);
        assert_eq!(y[0], 0.0); // 0.5*1*0 - 0
        assert_eq!(y[5], 2.5); // 0.5*1*5
        assert_eq!(y[32], -0.25); // 0.5*2*(0/8=0) - 0.25*1
        assert_eq!(y[40], 0.75); // 0.5*2*1 - 0.25
                                 // group 3 (elements 192..256): q = qs[96..128], high nibbles use pair 7
        assert_eq!(y[192 + 32 + 1], 0.5 * 40.0 * (97 / 8) as f32 - 0.25 * 33.0);
    }

    #[test]
    fn q5_k_block() {
        let sc = [2; 8];
        let mn = [1; 8];
        let mut b = [h(1.0), h(1.0)].concat();
        b.extend(pack_k_scales(sc, mn));
        let mut qh = [0u8; 32];
        qh[0] = 0b0000_0001; // element 0 (+16)
        qh[1] = 0b1000_0000; // element 1 of group 3 high half: index 192 + 32 + 1
        b.extend(qh);
        b.extend([0x37u8; 128]); // low nibble 7, high nibble 3
        let y = deq(GgmlType::Q5K, &b);
        assert_eq!(y[0], 2.0 * 23.0 - 1.0);
        assert_eq!(y[1], 2.0 * 7.0 - 1.0);
        assert_eq!(y[32], 2.0 * 3.0 - 1.0);
        assert_eq!(y[192 + 32 + 1], 2.0 * 19.0 - 1.0);
    }

    #[test]
    fn q6_k_block() {
        let mut b = vec![0u8; 210];
        b[0] = 0x21; // ql[0]: low nibble 1 (elem 0), high nibble 2 (elem 64)
        b[32] = 0x0F; // ql[32]: low nibble 15 (elem 32)
        b[128] = 0b1110_0100; // qh[0]: elem0 +0, elem32 +16, elem64 +32, elem96 +48
        for (i, s) in [1i8, -1, 2, -2, 3, -3, 4, -4].iter().enumerate() {
            b[192 + i] = *s as u8;
        }
        b[208..210].copy_from_slice(&h(0.5));
        let y = deq(GgmlType::Q6K, &b);
        assert_eq!(y[0], 0.5 * 1.0 * (1 - 32) as f32);
        assert_eq!(y[32], 0.5 * 2.0 * (15 + 16 - 32) as f32);
        assert_eq!(y[64], 0.5 * 3.0 * (2 + 32 - 32) as f32);
        assert_eq!(y[96], 0.5 * 4.0 * (48 - 32) as f32);
        assert_eq!(y[16], -0.5 * -32.0); // second scale of the first quarter
    }
}
