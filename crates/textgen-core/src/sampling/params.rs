//! Generation parameters: raw values from a user (CLI flags, later JSON) are validated once, here, into a
//! [`GenerationParams`] that the rest of the engine trusts.

/// A parameter that failed validation: which one, and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid parameter {param}: {message}")]
pub struct ParamError {
    /// Parameter name as the user spelled it (`temperature`, `top_p`, ...).
    pub param: &'static str,
    /// The rule it broke.
    pub message: String,
}

fn err<T>(param: &'static str, message: impl Into<String>) -> Result<T, ParamError> {
    Err(ParamError {
        param,
        message: message.into(),
    })
}

/// Largest `max_new_tokens` accepted (the context length bounds it further at run time).
pub const MAX_NEW_TOKENS_LIMIT: usize = 1 << 20;

/// Defaults (llama.cpp's sampling defaults).
pub mod defaults {
    /// Tokens to generate.
    pub const MAX_NEW_TOKENS: usize = 128;
    /// Softmax temperature.
    pub const TEMPERATURE: f32 = 0.8;
    /// Top-k candidates.
    pub const TOP_K: usize = 40;
    /// Nucleus mass.
    pub const TOP_P: f32 = 0.95;
}

/// Unvalidated parameters as a user gave them; `None` means "use the default".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawParams {
    /// Maximum tokens to generate.
    pub max_new_tokens: Option<i64>,
    /// Temperature; 0 means greedy.
    pub temperature: Option<f32>,
    /// Keep the k most likely tokens; 0 is rejected when sampling.
    pub top_k: Option<i64>,
    /// Keep the smallest set of tokens whose probability mass reaches p, in (0, 1].
    pub top_p: Option<f32>,
    /// RNG seed; random when absent.
    pub seed: Option<u64>,
    /// Force greedy decoding regardless of temperature.
    pub greedy: bool,
}

/// How the next token is chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoding {
    /// The most likely token (ties: the lowest id).
    Greedy,
    /// Random draw after temperature, top-k and top-p, in that order (transformers' order).
    Sample {
        /// > 0 and finite.
        temperature: f32,
        /// `None` = no top-k cut.
        top_k: Option<usize>,
        /// In (0, 1]; 1 = no cut.
        top_p: f32,
    },
}

/// Validated generation parameters. Only [`RawParams::validate`] makes one.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GenerationParams {
    /// Maximum tokens to generate (>= 0).
    pub max_new_tokens: usize,
    /// Token choice rule.
    pub decoding: Decoding,
    /// Seed of the sampling RNG.
    pub seed: u64,
}

impl RawParams {
    /// Checks every value and fills defaults; `random_seed` supplies the seed when none was given.
    pub fn validate(
        &self,
        random_seed: impl FnOnce() -> u64,
    ) -> Result<GenerationParams, ParamError> {
        let max_new_tokens = match self.max_new_tokens {
            None => defaults::MAX_NEW_TOKENS,
            Some(n) if (0..=MAX_NEW_TOKENS_LIMIT as i64).contains(&n) => n as usize,
            Some(n) => {
                return err(
                    "max_tokens",
                    format!("{n} is outside [0, {MAX_NEW_TOKENS_LIMIT}]"),
                )
            }
        };
        let temperature = self.temperature.unwrap_or(defaults::TEMPERATURE);
        if !temperature.is_finite() || temperature < 0.0 {
            return err(
                "temperature",
                format!("{temperature} must be a finite number >= 0"),
            );
        }
        let top_p = self.top_p.unwrap_or(defaults::TOP_P);
        if !(top_p > 0.0 && top_p <= 1.0) {
            return err("top_p", format!("{top_p} is outside (0, 1]"));
        }
        let top_k = match self.top_k {
            None => Some(defaults::TOP_K),
            Some(k) if k >= 1 => Some(k as usize),
            Some(k) if k < 0 => return err("top_k", format!("{k} must be >= 1")),
            Some(_) if temperature > 0.0 && !self.greedy => {
                return err(
                    "top_k",
                    "0 keeps no candidate; use a value >= 1 (or temperature 0 for greedy)",
                )
            }
            Some(_) => None,
        };
        let decoding = if self.greedy || temperature == 0.0 {
            Decoding::Greedy
        } else {
            Decoding::Sample {
                temperature,
                top_k,
                top_p,
            }
        };
        Ok(GenerationParams {
            max_new_tokens,
            decoding,
            seed: self.seed.unwrap_or_else(random_seed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: RawParams) -> Result<GenerationParams, ParamError> {
        raw.validate(|| 1)
    }

    #[test]
    fn defaults_sample() {
        let p = check(RawParams::default()).unwrap();
        assert_eq!(p.max_new_tokens, defaults::MAX_NEW_TOKENS);
        assert_eq!(
            p.decoding,
            Decoding::Sample {
                temperature: 0.8,
                top_k: Some(40),
                top_p: 0.95
            }
        );
    }

    #[test]
    fn zero_temperature_is_greedy() {
        let p = check(RawParams {
            temperature: Some(0.0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.decoding, Decoding::Greedy);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let cases = [
            (
                RawParams {
                    temperature: Some(-1.0),
                    ..Default::default()
                },
                "temperature",
            ),
            (
                RawParams {
                    temperature: Some(f32::NAN),
                    ..Default::default()
                },
                "temperature",
            ),
            (
                RawParams {
                    top_p: Some(0.0),
                    ..Default::default()
                },
                "top_p",
            ),
            (
                RawParams {
                    top_p: Some(1.5),
                    ..Default::default()
                },
                "top_p",
            ),
            (
                RawParams {
                    top_p: Some(f32::NAN),
                    ..Default::default()
                },
                "top_p",
            ),
            (
                RawParams {
                    top_k: Some(0),
                    ..Default::default()
                },
                "top_k",
            ),
            (
                RawParams {
                    max_new_tokens: Some(-1),
                    ..Default::default()
                },
                "max_tokens",
            ),
        ];
        for (raw, param) in cases {
            assert_eq!(check(raw).unwrap_err().param, param);
        }
    }
}
