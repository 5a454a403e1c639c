//! Generation parameters: raw values from a user (CLI flags, later JSON) are validated once, here, into a
//! [`GenerationParams`] that the rest of the engine trusts.

use std::collections::BTreeMap;

/// A parameter that failed validation: which one, and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid parameter {param}: {message}")]
pub struct ParamError {
    /// Parameter name as the API spells it (`temperature`, `top_p`, ...).
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

/// Upper bounds on request sizes.
pub mod limits {
    /// Largest `max_new_tokens` (the context length bounds it further at run time).
    pub const MAX_NEW_TOKENS: usize = 1 << 20;
    /// Most completions per request (`n`).
    pub const MAX_N: usize = 16;
    /// Most beams.
    pub const MAX_BEAMS: usize = 16;
    /// Most stop strings.
    pub const MAX_STOP: usize = 16;
    /// Longest stop string, in bytes.
    pub const MAX_STOP_LEN: usize = 256;
    /// Most alternatives reported per token.
    pub const MAX_LOGPROBS: usize = 20;
    /// Most logit-bias entries.
    pub const MAX_LOGIT_BIAS: usize = 1024;
    /// Most banned sequences.
    pub const MAX_BANNED: usize = 1024;
}

/// Defaults (llama.cpp's sampling defaults; penalties off).
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
    /// Suppress end-of-generation tokens until this many tokens were generated.
    pub min_new_tokens: Option<i64>,
    /// Temperature; 0 means greedy.
    pub temperature: Option<f32>,
    /// Keep the k most likely tokens; -1 disables the cut; 0 is rejected when sampling.
    pub top_k: Option<i64>,
    /// Keep the smallest set of tokens whose probability mass reaches p, in (0, 1].
    pub top_p: Option<f32>,
    /// Drop tokens whose probability is below `min_p` × the top probability, in [0, 1].
    pub min_p: Option<f32>,
    /// Locally typical sampling mass, in (0, 1].
    pub typical_p: Option<f32>,
    /// Repetition penalty (transformers), > 0; 1 = off.
    pub repetition_penalty: Option<f32>,
    /// Frequency penalty (OpenAI), in [-2, 2].
    pub frequency_penalty: Option<f32>,
    /// Presence penalty (OpenAI), in [-2, 2].
    pub presence_penalty: Option<f32>,
    /// Penalties look at the last N tokens only; 0 = the whole sequence.
    pub repeat_last_n: Option<i64>,
    /// Never repeat an n-gram of this size; 0 = off.
    pub no_repeat_ngram_size: Option<i64>,
    /// Token id -> bias added to its logit, in [-100, 100]; -100 bans the token.
    pub logit_bias: BTreeMap<i64, f32>,
    /// Token sequences that must never be generated.
    pub banned_sequences: Vec<Vec<i64>>,
    /// Strings that end generation (not included in the output).
    pub stop: Vec<String>,
    /// Extra token ids that end generation (vLLM's `stop_token_ids`).
    pub stop_token_ids: Vec<i64>,
    /// Do not stop at the model's own end-of-generation tokens.
    pub ignore_eos: bool,
    /// RNG seed; random when absent.
    pub seed: Option<u64>,
    /// Force greedy decoding regardless of temperature.
    pub greedy: bool,
    /// Independent completions sharing one prompt prefill.
    pub n: Option<i64>,
    /// Beam search width; 1 = no beam search.
    pub num_beams: Option<i64>,
    /// Beam score = sum of logprobs / length^length_penalty.
    pub length_penalty: Option<f32>,
    /// Stop beam search as soon as `num_beams` hypotheses are finished.
    pub early_stopping: Option<bool>,
    /// Beam hypotheses to return, <= num_beams.
    pub num_return_sequences: Option<i64>,
    /// Report this many top alternatives (and the chosen token's logprob) per token.
    pub logprobs: Option<i64>,
}

/// How the next token is chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoding {
    /// The most likely token after the processors (ties: the lowest id).
    Greedy,
    /// Random draw after the warpers (temperature, top-k, top-p, min-p, typical-p, in that order).
    Sample(Warpers),
    /// Beam search.
    Beam(BeamParams),
}

/// The sampling-only transforms of the distribution (`Default`: temperature 1, no filter).
#[derive(Clone, Debug, PartialEq)]
pub struct Warpers {
    /// > 0, finite.
    pub temperature: f32,
    /// `None` = no cut.
    pub top_k: Option<usize>,
    /// In (0, 1]; 1 = no cut.
    pub top_p: f32,
    /// In [0, 1]; 0 = no cut.
    pub min_p: f32,
    /// In (0, 1]; 1 = no cut.
    pub typical_p: f32,
}

impl Default for Warpers {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: None,
            top_p: 1.0,
            min_p: 0.0,
            typical_p: 1.0,
        }
    }
}

/// Beam search settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BeamParams {
    /// Beams, 2..=MAX_BEAMS.
    pub num_beams: usize,
    /// Exponent of the length normalization.
    pub length_penalty: f32,
    /// Stop when `num_beams` hypotheses are finished.
    pub early_stopping: bool,
    /// Hypotheses returned, 1..=num_beams.
    pub num_return_sequences: usize,
}

/// The processors that apply before any choice (greedy, sampling and beam search alike; `Default`: all off).
#[derive(Clone, Debug, PartialEq)]
pub struct Penalties {
    /// > 0; 1 = off.
    pub repetition: f32,
    /// In [-2, 2].
    pub frequency: f32,
    /// In [-2, 2].
    pub presence: f32,
    /// 0 = whole sequence.
    pub last_n: usize,
    /// 0 = off.
    pub no_repeat_ngram: usize,
    /// Validated ids -> bias (`f32::NEG_INFINITY` for a ban).
    pub logit_bias: Vec<(u32, f32)>,
    /// Non-empty sequences of valid ids.
    pub banned: Vec<Vec<u32>>,
    /// End-of-generation suppressed until this many tokens exist.
    pub min_new_tokens: usize,
}

impl Default for Penalties {
    fn default() -> Self {
        Self {
            repetition: 1.0,
            frequency: 0.0,
            presence: 0.0,
            last_n: 0,
            no_repeat_ngram: 0,
            logit_bias: Vec::new(),
            banned: Vec::new(),
            min_new_tokens: 0,
        }
    }
}

/// Validated generation parameters. Only [`RawParams::validate`] makes one.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GenerationParams {
    /// Maximum tokens to generate.
    pub max_new_tokens: usize,
    /// Token choice rule.
    pub decoding: Decoding,
    /// Processors applied before the choice.
    pub penalties: Penalties,
    /// Non-empty stop strings.
    pub stop: Vec<String>,
    /// Extra end-of-generation ids (valid).
    pub stop_token_ids: Vec<u32>,
    /// Ignore the model's end-of-generation tokens.
    pub ignore_eos: bool,
    /// Seed of the sampling RNG (completion i uses `seed + i`).
    pub seed: u64,
    /// Completions (1 for beam search, which returns `num_return_sequences`).
    pub n: usize,
    /// Alternatives per token to report; `None` = no logprobs.
    pub logprobs: Option<usize>,
}

fn unit_open(param: &'static str, v: Option<f32>, default: f32) -> Result<f32, ParamError> {
    let v = v.unwrap_or(default);
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        err(param, format!("{v} is outside (0, 1]"))
    }
}

fn in_range(
    param: &'static str,
    v: Option<f32>,
    default: f32,
    lo: f32,
    hi: f32,
) -> Result<f32, ParamError> {
    let v = v.unwrap_or(default);
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        err(param, format!("{v} is outside [{lo}, {hi}]"))
    }
}

fn count(
    param: &'static str,
    v: Option<i64>,
    default: usize,
    lo: usize,
    hi: usize,
) -> Result<usize, ParamError> {
    match v {
        None => Ok(default),
        Some(x) if x >= lo as i64 && x <= hi as i64 => Ok(x as usize),
        Some(x) => err(param, format!("{x} is outside [{lo}, {hi}]")),
    }
}

fn token(param: &'static str, id: i64, vocab: usize) -> Result<u32, ParamError> {
    if id >= 0 && (id as u64) < vocab as u64 {
        Ok(id as u32)
    } else {
        err(
            param,
            format!("token id {id} is outside the vocabulary [0, {vocab})"),
        )
    }
}

impl GenerationParams {
    /// The ids that end generation: the model's (unless `ignore_eos`) plus `stop_token_ids`.
    pub fn eog_ids(&self, model_eog: &[u32]) -> Vec<u32> {
        let mut ids = if self.ignore_eos {
            Vec::new()
        } else {
            model_eog.to_vec()
        };
        ids.extend(
            self.stop_token_ids
                .iter()
                .filter(|&&id| !model_eog.contains(&id) || self.ignore_eos),
        );
        ids
    }
}

impl RawParams {
    /// Checks every value against its range (and token ids against a vocabulary of `vocab` tokens), fills
    /// defaults; `random_seed` supplies the seed when none was given.
    pub fn validate(
        &self,
        vocab: usize,
        random_seed: impl FnOnce() -> u64,
    ) -> Result<GenerationParams, ParamError> {
        use limits::*;
        let max_new_tokens = count(
            "max_tokens",
            self.max_new_tokens,
            defaults::MAX_NEW_TOKENS,
            0,
            MAX_NEW_TOKENS,
        )?;
        let min_new_tokens = count("min_tokens", self.min_new_tokens, 0, 0, MAX_NEW_TOKENS)?;
        let temperature = self.temperature.unwrap_or(defaults::TEMPERATURE);
        if !temperature.is_finite() || temperature < 0.0 {
            return err(
                "temperature",
                format!("{temperature} must be a finite number >= 0"),
            );
        }
        let greedy = self.greedy || temperature == 0.0;
        let top_p = unit_open("top_p", self.top_p, defaults::TOP_P)?;
        let min_p = in_range("min_p", self.min_p, 0.0, 0.0, 1.0)?;
        let typical_p = unit_open("typical_p", self.typical_p, 1.0)?;
        let top_k = match self.top_k {
            None => Some(defaults::TOP_K),
            Some(0) if greedy => None,
            Some(-1) => None,
            Some(0) => {
                return err(
                    "top_k",
                    "0 keeps no candidate; use a value >= 1 (or temperature 0 for greedy)",
                )
            }
            Some(k) if k > 0 => Some(k as usize),
            Some(k) => {
                return err(
                    "top_k",
                    format!("{k} must be >= 1 (or -1 for no top-k cut)"),
                )
            }
        };
        let repetition = self.repetition_penalty.unwrap_or(1.0);
        if !(repetition.is_finite() && repetition > 0.0 && repetition <= 10.0) {
            return err(
                "repetition_penalty",
                format!("{repetition} is outside (0, 10]"),
            );
        }
        let frequency = in_range("frequency_penalty", self.frequency_penalty, 0.0, -2.0, 2.0)?;
        let presence = in_range("presence_penalty", self.presence_penalty, 0.0, -2.0, 2.0)?;
        let last_n = count("repeat_last_n", self.repeat_last_n, 0, 0, MAX_NEW_TOKENS)?;
        let no_repeat_ngram = count("no_repeat_ngram_size", self.no_repeat_ngram_size, 0, 0, 64)?;
        if self.logit_bias.len() > MAX_LOGIT_BIAS {
            return err(
                "logit_bias",
                format!(
                    "{} entries, at most {MAX_LOGIT_BIAS}",
                    self.logit_bias.len()
                ),
            );
        }
        let mut logit_bias = Vec::with_capacity(self.logit_bias.len());
        for (&id, &b) in &self.logit_bias {
            let id = token("logit_bias", id, vocab)?;
            if !(-100.0..=100.0).contains(&b) {
                return err(
                    "logit_bias",
                    format!("bias {b} for token {id} is outside [-100, 100]"),
                );
            }
            logit_bias.push((id, if b == -100.0 { f32::NEG_INFINITY } else { b }));
        }
        if self.banned_sequences.len() > MAX_BANNED {
            return err(
                "banned_sequences",
                format!("at most {MAX_BANNED} sequences"),
            );
        }
        let banned = self
            .banned_sequences
            .iter()
            .map(|s| {
                if s.is_empty() {
                    return err("banned_sequences", "a banned sequence is empty");
                }
                s.iter()
                    .map(|&id| token("banned_sequences", id, vocab))
                    .collect()
            })
            .collect::<Result<Vec<Vec<u32>>, _>>()?;
        if self.stop_token_ids.len() > MAX_STOP {
            return err("stop_token_ids", format!("at most {MAX_STOP} ids"));
        }
        let stop_token_ids = self
            .stop_token_ids
            .iter()
            .map(|&id| token("stop_token_ids", id, vocab))
            .collect::<Result<Vec<_>, _>>()?;
        if self.stop.len() > MAX_STOP {
            return err(
                "stop",
                format!("{} stop strings, at most {MAX_STOP}", self.stop.len()),
            );
        }
        if let Some(s) = self
            .stop
            .iter()
            .find(|s| s.is_empty() || s.len() > MAX_STOP_LEN)
        {
            return err(
                "stop",
                format!(
                    "stop strings must be 1 to {MAX_STOP_LEN} bytes, got {} bytes",
                    s.len()
                ),
            );
        }
        let n = count("n", self.n, 1, 1, MAX_N)?;
        let num_beams = count("num_beams", self.num_beams, 1, 1, MAX_BEAMS)?;
        let length_penalty = self.length_penalty.unwrap_or(1.0);
        if !length_penalty.is_finite() || length_penalty.abs() > 10.0 {
            return err(
                "length_penalty",
                format!("{length_penalty} is outside [-10, 10]"),
            );
        }
        let num_return_sequences = count(
            "num_return_sequences",
            self.num_return_sequences,
            1,
            1,
            num_beams,
        )?;
        let logprobs = match self.logprobs {
            None => None,
            Some(x) => Some(count("logprobs", Some(x), 0, 0, MAX_LOGPROBS)?),
        };
        let decoding = if num_beams > 1 {
            if n > 1 {
                return err(
                    "n",
                    "n > 1 cannot be combined with beam search; use num_return_sequences",
                );
            }
            if !greedy {
                return err(
                    "num_beams",
                    "beam search is deterministic: set temperature 0 (or --greedy)",
                );
            }
            if logprobs.is_some() {
                return err(
                    "logprobs",
                    "log-probabilities are not reported for beam search",
                );
            }
            Decoding::Beam(BeamParams {
                num_beams,
                length_penalty,
                early_stopping: self.early_stopping.unwrap_or(false),
                num_return_sequences,
            })
        } else if greedy {
            Decoding::Greedy
        } else {
            Decoding::Sample(Warpers {
                temperature,
                top_k,
                top_p,
                min_p,
                typical_p,
            })
        };
        Ok(GenerationParams {
            max_new_tokens,
            decoding,
            penalties: Penalties {
                repetition,
                frequency,
                presence,
                last_n,
                no_repeat_ngram,
                logit_bias,
                banned,
                min_new_tokens,
            },
            stop: self.stop.clone(),
            stop_token_ids,
            ignore_eos: self.ignore_eos,
            seed: self.seed.unwrap_or_else(random_seed),
            n,
            logprobs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: RawParams) -> Result<GenerationParams, ParamError> {
        raw.validate(100, || 1)
    }

    #[test]
    fn defaults_sample() {
        let p = check(RawParams::default()).unwrap();
        assert_eq!(p.max_new_tokens, defaults::MAX_NEW_TOKENS);
        assert_eq!(
            p.decoding,
            Decoding::Sample(Warpers {
                temperature: 0.8,
                top_k: Some(40),
                top_p: 0.95,
                min_p: 0.0,
                typical_p: 1.0
            })
        );
        assert_eq!(p.penalties.repetition, 1.0);
        assert_eq!((p.n, p.logprobs), (1, None));
    }

    #[test]
    fn zero_temperature_is_greedy_and_beams_need_it() {
        let p = check(RawParams {
            temperature: Some(0.0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.decoding, Decoding::Greedy);
        let e = check(RawParams {
            num_beams: Some(4),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.param, "num_beams");
        let p = check(RawParams {
            num_beams: Some(4),
            greedy: true,
            ..Default::default()
        })
        .unwrap();
        assert!(matches!(
            p.decoding,
            Decoding::Beam(BeamParams { num_beams: 4, .. })
        ));
    }

    #[test]
    fn logit_bias_minus_100_bans() {
        let mut raw = RawParams::default();
        raw.logit_bias.insert(5, -100.0);
        raw.logit_bias.insert(6, 2.5);
        assert_eq!(
            check(raw).unwrap().penalties.logit_bias,
            vec![(5, f32::NEG_INFINITY), (6, 2.5)]
        );
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let d = RawParams::default;
        let mut bias = d();
        bias.logit_bias.insert(100, 1.0);
        let mut bias_range = d();
        bias_range.logit_bias.insert(1, 101.0);
        let cases = [
            (
                RawParams {
                    temperature: Some(-1.0),
                    ..d()
                },
                "temperature",
            ),
            (
                RawParams {
                    temperature: Some(f32::NAN),
                    ..d()
                },
                "temperature",
            ),
            (
                RawParams {
                    top_p: Some(0.0),
                    ..d()
                },
                "top_p",
            ),
            (
                RawParams {
                    top_p: Some(1.5),
                    ..d()
                },
                "top_p",
            ),
            (
                RawParams {
                    top_p: Some(f32::NAN),
                    ..d()
                },
                "top_p",
            ),
            (
                RawParams {
                    top_k: Some(0),
                    ..d()
                },
                "top_k",
            ),
            (
                RawParams {
                    top_k: Some(-2),
                    ..d()
                },
                "top_k",
            ),
            (
                RawParams {
                    min_p: Some(1.1),
                    ..d()
                },
                "min_p",
            ),
            (
                RawParams {
                    min_p: Some(f32::NAN),
                    ..d()
                },
                "min_p",
            ),
            (
                RawParams {
                    typical_p: Some(0.0),
                    ..d()
                },
                "typical_p",
            ),
            (
                RawParams {
                    repetition_penalty: Some(0.0),
                    ..d()
                },
                "repetition_penalty",
            ),
            (
                RawParams {
                    frequency_penalty: Some(2.5),
                    ..d()
                },
                "frequency_penalty",
            ),
            (
                RawParams {
                    presence_penalty: Some(-3.0),
                    ..d()
                },
                "presence_penalty",
            ),
            (
                RawParams {
                    max_new_tokens: Some(-1),
                    ..d()
                },
                "max_tokens",
            ),
            (RawParams { n: Some(0), ..d() }, "n"),
            (RawParams { n: Some(17), ..d() }, "n"),
            (
                RawParams {
                    num_beams: Some(0),
                    ..d()
                },
                "num_beams",
            ),
            (
                RawParams {
                    num_beams: Some(99),
                    greedy: true,
                    ..d()
                },
                "num_beams",
            ),
            (
                RawParams {
                    num_beams: Some(2),
                    num_return_sequences: Some(3),
                    greedy: true,
                    ..d()
                },
                "num_return_sequences",
            ),
            (
                RawParams {
                    stop: vec![String::new()],
                    ..d()
                },
                "stop",
            ),
            (
                RawParams {
                    logprobs: Some(21),
                    ..d()
                },
                "logprobs",
            ),
            (
                RawParams {
                    banned_sequences: vec![vec![]],
                    ..d()
                },
                "banned_sequences",
            ),
            (
                RawParams {
                    banned_sequences: vec![vec![1, 100]],
                    ..d()
                },
                "banned_sequences",
            ),
            (bias, "logit_bias"),
            (bias_range, "logit_bias"),
        ];
        for (raw, param) in cases {
            let e = check(raw.clone()).expect_err(param);
            assert_eq!(e.param, param, "{raw:?}");
        }
    }
}
