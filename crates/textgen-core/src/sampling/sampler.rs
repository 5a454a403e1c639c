//! Choosing the next token: processors, then greedy or a seeded draw, with log-probabilities on request.
//!
//! Reported log-probabilities are those of the distribution the token was chosen from, i.e. *after* the
//! processors: penalties for greedy decoding; penalties and warpers (temperature, top-k, ...) when sampling,
//! where filtered tokens have probability 0.

use super::params::{Decoding, GenerationParams, Penalties, Warpers};
use super::processors::{apply_penalties, warp, Candidates, PenaltyScratch, WarpScratch};
use super::rng::Rng;

/// A chosen token.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// Token id.
    pub id: u32,
    /// Its log-probability (when logprobs were requested).
    pub logprob: Option<f32>,
    /// The most likely alternatives with their log-probabilities, best first.
    pub top: Vec<(u32, f32)>,
}

/// Per-sequence sampling state: RNG and reusable buffers (no allocation per token in steady state).
#[derive(Clone, Debug)]
pub struct Sampler {
    penalties: Penalties,
    warpers: Option<Warpers>,
    logprobs: Option<usize>,
    rng: Rng,
    scratch: PenaltyScratch,
    cands: Candidates,
    warp: WarpScratch,
}

/// Index of the largest logit (the lowest index among ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// `ln Σ exp(logits)`, computed stably.
pub fn log_sum_exp(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    let s: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    max + s.ln() as f32
}

/// The `n` highest-scoring `(score, id)` pairs, best first (ties: lower id first).
pub fn top_n(items: impl Iterator<Item = (f32, u32)>, n: usize, out: &mut Candidates) {
    out.clear();
    out.extend(items);
    let cmp = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if n < out.len() && n > 0 {
        out.select_nth_unstable_by(n - 1, cmp);
    }
    out.truncate(n);
    out.sort_unstable_by(cmp);
}

impl Sampler {
    /// A sampler for validated `params`, drawing from the RNG stream of `seed`.
    pub fn new(params: &GenerationParams, seed: u64) -> Self {
        Self {
            penalties: params.penalties.clone(),
            warpers: match &params.decoding {
                Decoding::Sample(w) => Some(w.clone()),
                _ => None,
            },
            logprobs: params.logprobs,
            rng: Rng::new(seed),
            scratch: PenaltyScratch::default(),
            cands: Vec::new(),
            warp: WarpScratch::default(),
        }
    }

    /// Applies the processors to `logits` in place (for a sequence `tokens` whose first `prompt_len` are
    /// the prompt; `eog` are the end-of-generation ids) and picks the next token.
    pub fn choose(
        &mut self,
        logits: &mut [f32],
        tokens: &[u32],
        prompt_len: usize,
        eog: &[u32],
    ) -> Choice {
        apply_penalties(
            &self.penalties,
            logits,
            tokens,
            prompt_len,
            eog,
            &mut self.scratch,
        );
        let Some(w) = &self.warpers else {
            let id = argmax(logits);
            let (logprob, top) = match self.logprobs {
                None => (None, Vec::new()),
                Some(n) => {
                    let lse = log_sum_exp(logits);
                    top_n(
                        logits.iter().enumerate().map(|(i, &l)| (l, i as u32)),
                        n,
                        &mut self.cands,
                    );
                    let top = self.cands.iter().map(|&(l, i)| (i, l - lse)).collect();
                    (Some(logits[id as usize] - lse), top)
                }
            };
            return Choice { id, logprob, top };
        };
        warp(w, logits, &mut self.cands, &mut self.warp);
        if self.cands.is_empty() {
            // Every token was banned: fall back to the raw argmax rather than fail mid-stream.
            return Choice {
                id: argmax(logits),
                logprob: None,
                top: Vec::new(),
            };
        }
        let max = self
            .cands
            .iter()
            .map(|e| e.0)
            .fold(f32::NEG_INFINITY, f32::max);
        let total: f64 = self.cands.iter().map(|e| ((e.0 - max) as f64).exp()).sum();
        let mut r = self.rng.next_f64() * total;
        let mut chosen = self.cands[self.cands.len() - 1];
        for e in &self.cands {
            r -= ((e.0 - max) as f64).exp();
            if r < 0.0 {
                chosen = *e;
                break;
            }
        }
        let lse = max + total.ln() as f32;
        let (logprob, top) = match self.logprobs {
            None => (None, Vec::new()),
            Some(n) => {
                let mut c = std::mem::take(&mut self.cands);
                top_n(c.drain(..), n, &mut self.cands);
                let top = self.cands.iter().map(|&(l, i)| (i, l - lse)).collect();
                (Some(chosen.0 - lse), top)
            }
        };
        Choice {
            id: chosen.1,
            logprob,
            top,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::params::RawParams;

    fn sampler(raw: RawParams) -> Sampler {
        let p = raw.validate(1000, || 0).unwrap();
        Sampler::new(&p, p.seed)
    }

    fn sample(temperature: f32, top_k: Option<i64>, top_p: f32, seed: u64) -> Sampler {
        sampler(RawParams {
            temperature: Some(temperature),
            top_k,
            top_p: Some(top_p),
            seed: Some(seed),
            ..Default::default()
        })
    }

    #[test]
    fn greedy_takes_first_maximum() {
        assert_eq!(argmax(&[0.0, 3.0, 3.0, 1.0]), 1);
    }

    #[test]
    fn top_k_one_is_greedy() {
        let logits = [0.1, 0.5, 2.0, 1.9];
        let mut s = sample(1.0, Some(1), 1.0, 5);
        for _ in 0..50 {
            assert_eq!(s.choose(&mut logits.clone(), &[], 0, &[]).id, 2);
        }
    }

    #[test]
    fn draws_follow_the_distribution_and_seed() {
        let logits: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        let draw = |seed| {
            let mut s = sample(1.0, Some(50), 0.9, seed);
            (0..20)
                .map(|_| s.choose(&mut logits.clone(), &[], 0, &[]).id)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn logprobs_are_normalized_after_processors() {
        let mut s = sampler(RawParams {
            temperature: Some(0.0),
            logprobs: Some(2),
            ..Default::default()
        });
        let c = s.choose(&mut [0.0, (3.0f32).ln(), f32::NEG_INFINITY], &[], 0, &[]);
        assert_eq!(c.id, 1);
        assert!((c.logprob.unwrap() - 0.75f32.ln()).abs() < 1e-6);
        assert_eq!(c.top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 0]);
        assert!((c.top[1].1 - 0.25f32.ln()).abs() < 1e-6);
    }
}
