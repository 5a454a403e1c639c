//! Rotary position embedding parameters: pair layout and frequency scaling, as transformers computes them.

use crate::kernels::ops::rope_inv_freq;

/// Which dimensions of a head rotate together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs `(2i, 2i+1)`: GGUF llama files (their q/k rows are permuted for it).
    Interleaved,
    /// Halves `(i, i + dim/2)`: transformers' `rotate_half` on Hugging Face weights.
    Halves,
}

/// How the inverse frequencies are rescaled for longer contexts (`rope_scaling` / `rope_parameters`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE.
    None,
    /// Position interpolation: every frequency divided by `factor`.
    Linear {
        /// The divisor.
        factor: f64,
    },
    /// Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth blend in between.
    Llama3 {
        /// Divisor of the low frequencies.
        factor: f64,
        /// Wavelengths above `original_context / low_freq_factor` are scaled fully.
        low_freq_factor: f64,
        /// Wavelengths below `original_context / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// The context length of pre-training.
        original_context: f64,
    },
}

/// Rope scaling types transformers defines that this build implements.
pub const SUPPORTED_SCALING: &str = "default, linear, llama3";

/// The inverse frequencies for a head of `dim` rotated dimensions, base `base`, with `scaling` applied
/// (the formulas of transformers' `modeling_rope_utils`).
pub fn inv_freq(base: f32, dim: usize, scaling: RopeScaling) -> Vec<f32> {
    let mut f = Vec::new();
    rope_inv_freq(base, dim, &mut f);
    match scaling {
        RopeScaling::None => {}
        RopeScaling::Linear { factor } => {
            for v in &mut f {
                *v = (*v as f64 / factor) as f32;
            }
        }
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_context,
        } => {
            let low_wavelen = original_context / low_freq_factor;
            let high_wavelen = original_context / high_freq_factor;
            for v in &mut f {
                let inv = *v as f64;
                let wavelen = 2.0 * std::f64::consts::PI / inv;
                *v = if wavelen < high_wavelen {
                    inv
                } else if wavelen > low_wavelen {
                    inv / factor
                } else {
                    let smooth = (original_context / wavelen - low_freq_factor)
                        / (high_freq_factor - low_freq_factor);
                    (1.0 - smooth) * inv / factor + smooth * inv
                } as f32;
            }
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_divides_every_frequency() {
        let plain = inv_freq(10000.0, 8, RopeScaling::None);
        let lin = inv_freq(10000.0, 8, RopeScaling::Linear { factor: 4.0 });
        for (p, l) in plain.iter().zip(&lin) {
            assert!((p / 4.0 - l).abs() <= 1e-7 * p);
        }
    }

    #[test]
    fn llama3_keeps_high_and_scales_low_frequencies() {
        let s = RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_context: 64.0,
        };
        let plain = inv_freq(10000.0, 16, RopeScaling::None);
        let scaled = inv_freq(10000.0, 16, s);
        assert_eq!(scaled[0], plain[0]); // wavelength 2π < 16: kept
        assert!((scaled[7] - plain[7] / 8.0).abs() < 1e-9); // wavelength ≫ 64: divided
        assert!(scaled
            .iter()
            .zip(&plain)
            .all(|(s, p)| s <= p && *s >= p / 8.0));
    }
}
