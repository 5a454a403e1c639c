//! Element-wise and per-row operations of the forward pass (norms, rotary embedding, activations, biases,
//! softmax).

/// RMSNorm of each row of `x` (rows of `w.len()`), scaled by `w`, written to `out`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let ss: f32 = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let inv = 1.0 / (ss + eps).sqrt();
        for ((o, xv), wv) in or.iter_mut().zip(xr).zip(w) {
            *o = xv * inv * wv;
        }
    }
}

/// LayerNorm of each row of `x` (rows of `w.len()`): zero mean, unit (biased) variance, then `* w + b`.
pub fn layer_norm(x: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mean = xr.iter().sum::<f32>() / d as f32;
        let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for (((o, xv), wv), bv) in or.iter_mut().zip(xr).zip(w).zip(b) {
            *o = (xv - mean) * inv * wv + bv;
        }
    }
}

/// Inverse frequencies of rotary position embedding: `base^(-2i/dim)` for `i < dim/2`.
pub fn rope_inv_freq(base: f32, dim: usize, out: &mut Vec<f32>) {
    out.clear();
    out.extend(
        (0..dim / 2).map(|i| (1.0 / (base as f64).powf(2.0 * i as f64 / dim as f64)) as f32),
    );
}

/// Fills `cos`/`sin` (each `inv_freq.len()` long) with the rotation for position `pos`.
pub fn rope_angles(pos: usize, inv_freq: &[f32], cos: &mut [f32], sin: &mut [f32]) {
    for ((f, c), s) in inv_freq.iter().zip(cos.iter_mut()).zip(sin.iter_mut()) {
        let a = (pos as f32 * f) as f64;
        *c = a.cos() as f32;
        *s = a.sin() as f32;
    }
}

/// Rotates each head of `x` (heads of `head_dim`) in place, GGML "normal" layout: adjacent pairs
/// `(x[2i], x[2i+1])` are rotated by angle `i` (the first `2 * cos.len()` dims of each head).
pub fn rope_interleaved(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    for head in x.chunks_exact_mut(head_dim) {
        for (i, (c, s)) in cos.iter().zip(sin).enumerate() {
            let (a, b) = (head[2 * i], head[2 * i + 1]);
            head[2 * i] = a * c - b * s;
            head[2 * i + 1] = a * s + b * c;
        }
    }
}

/// Rotates each head of `x` (heads of `head_dim`) in place, transformers' `rotate_half` layout: dims
/// `(i, i + n)` are rotated by angle `i`, for `n = cos.len()` (the first `2n` dims of each head).
pub fn rope_halves(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    let n = cos.len();
    for head in x.chunks_exact_mut(head_dim) {
        for (i, (c, s)) in cos.iter().zip(sin).enumerate() {
            let (a, b) = (head[i], head[i + n]);
            head[i] = a * c - b * s;
            head[i + n] = b * c + a * s;
        }
    }
}

/// Adds `bias` to every row of `x` (rows of `bias.len()`).
pub fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        add_assign(row, bias);
    }
}

/// `gate[i] = silu(gate[i]) * up[i]` (the SwiGLU activation), in place.
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}

/// GELU, tanh approximation (GPT-2's `gelu_new`): `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, in place.
pub fn gelu_tanh(x: &mut [f32]) {
    let c = (2.0 / std::f32::consts::PI).sqrt();
    for v in x.iter_mut() {
        let u = *v;
        *v = 0.5 * u * (1.0 + (c * (u + 0.044715 * u * u * u)).tanh());
    }
}

/// In-place softmax.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// `y += x`.
pub fn add_assign(y: &mut [f32], x: &[f32]) {
    for (a, b) in y.iter_mut().zip(x) {
        *a += b;
    }
}

/// Natural log of the softmax probability of `logits[target]`, computed stably in f64.
pub fn log_softmax_at(logits: &[f32], target: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&v| (v as f64 - max).exp()).sum();
    logits[target] as f64 - max - sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_unit_rows() {
        let mut out = [0.0; 4];
        rms_norm(&[2.0, 2.0, 2.0, 2.0], &[1.0, 0.5, 1.0, 1.0], 0.0, &mut out);
        assert_eq!(out, [1.0, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn rope_rotates_pairs() {
        let mut x = [1.0, 0.0, 0.0, 1.0];
        let (c, s) = ([0.0, 1.0], [1.0, 0.0]);
        rope_interleaved(&mut x, 4, &c, &s);
        assert_eq!(x, [0.0, 1.0, 0.0, 1.0]); // pair 0 rotated by 90 degrees, pair 1 by 0
    }

    #[test]
    fn rope_halves_rotates_dim_i_with_i_plus_half() {
        let mut x = [1.0, 0.0, 0.0, 1.0];
        let (c, s) = ([0.0, 1.0], [1.0, 0.0]);
        rope_halves(&mut x, 4, &c, &s);
        assert_eq!(x, [0.0, 0.0, 1.0, 1.0]); // (x0, x2) rotated by 90 degrees, (x1, x3) by 0
    }

    #[test]
    fn softmax_and_log_softmax_agree() {
        let mut x = [1.0f32, 2.0, 3.0];
        let lp = log_softmax_at(&x, 2);
        softmax(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(((x[2] as f64).ln() - lp).abs() < 1e-6);
    }

    #[test]
    fn layer_norm_centres_scales_and_shifts() {
        let mut out = [0.0; 4];
        // mean 2.5, variance 1.25
        layer_norm(
            &[1.0, 2.0, 3.0, 4.0],
            &[1.0, 2.0, 1.0, 1.0],
            &[0.0, 0.0, 1.0, 0.0],
            0.0,
            &mut out,
        );
        let s = 1.25f32.sqrt();
        let want = [-1.5 / s, 2.0 * -0.5 / s, 0.5 / s + 1.0, 1.5 / s];
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-6, "{out:?} vs {want:?}");
        }
    }

    #[test]
    fn gelu_tanh_known_values() {
        let mut x = [0.0f32, 1.0, -1.0, 3.0];
        gelu_tanh(&mut x);
        // torch: NewGELUActivation()(torch.tensor([0., 1., -1., 3.]))
        let want = [0.0, 0.841_192, -0.158_808, 2.996_363];
        for (o, w) in x.iter().zip(want) {
            assert!((o - w).abs() < 1e-5, "{x:?}");
        }
    }

    #[test]
    fn add_bias_every_row() {
        let mut y = [1.0, 2.0, 3.0, 4.0];
        add_bias(&mut y, &[10.0, 20.0]);
        assert_eq!(y, [11.0, 22.0, 13.0, 24.0]);
    }

    #[test]
    fn swiglu_zero_gate_is_zero() {
        let mut g = [0.0, 10.0];
        swiglu(&mut g, &[5.0, 2.0]);
        assert_eq!(g[0], 0.0);
        assert!((g[1] - 2.0 * 10.0 / (1.0 + (-10.0f32).exp())).abs() < 1e-5);
    }
}
