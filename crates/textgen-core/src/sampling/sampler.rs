//! Choosing the next token from logits: greedy, or temperature → top-k → top-p → seeded draw.

use super::params::{Decoding, GenerationParams};
use super::rng::Rng;

/// Per-sequence sampling state (RNG and a reusable candidate buffer).
#[derive(Clone, Debug)]
pub struct Sampler {
    decoding: Decoding,
    rng: Rng,
    cand: Vec<(f32, u32)>,
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

/// Orders candidates by descending logit, ties by ascending id (deterministic).
fn by_logit_desc(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

impl Sampler {
    /// A sampler for validated `params`.
    pub fn new(params: &GenerationParams) -> Self {
        Self {
            decoding: params.decoding.clone(),
            rng: Rng::new(params.seed),
            cand: Vec::new(),
        }
    }

    /// Picks the next token id from `logits`.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let (temperature, top_k, top_p) = match self.decoding {
            Decoding::Greedy => return argmax(logits),
            Decoding::Sample {
                temperature,
                top_k,
                top_p,
            } => (temperature, top_k, top_p),
        };
        let c = &mut self.cand;
        c.clear();
        c.extend(
            logits
                .iter()
                .enumerate()
                .map(|(i, &l)| (l / temperature, i as u32)),
        );
        if let Some(k) = top_k.filter(|&k| k < c.len()) {
            c.select_nth_unstable_by(k - 1, by_logit_desc);
            c.truncate(k);
        }
        c.sort_unstable_by(by_logit_desc);
        // Softmax over the survivors (in place: logit -> unnormalized probability).
        let max = c[0].0;
        let mut total = 0f64;
        for e in c.iter_mut() {
            e.0 = (e.0 - max).exp();
            total += e.0 as f64;
        }
        if top_p < 1.0 {
            let mut mass = 0f64;
            let mut keep = c.len();
            for (i, e) in c.iter().enumerate() {
                mass += e.0 as f64 / total;
                if mass >= top_p as f64 {
                    keep = i + 1;
                    break;
                }
            }
            c.truncate(keep);
            total = c.iter().map(|e| e.0 as f64).sum();
        }
        let mut r = self.rng.next_f64() * total;
        for e in c.iter() {
            r -= e.0 as f64;
            if r < 0.0 {
                return e.1;
            }
        }
        c[c.len() - 1].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::params::RawParams;

    fn sampler(temperature: f32, top_k: Option<i64>, top_p: f32, seed: u64) -> Sampler {
        let raw = RawParams {
            temperature: Some(temperature),
            top_k,
            top_p: Some(top_p),
            seed: Some(seed),
            ..Default::default()
        };
        Sampler::new(&raw.validate(|| 0).unwrap())
    }

    #[test]
    fn greedy_takes_first_maximum() {
        assert_eq!(argmax(&[0.0, 3.0, 3.0, 1.0]), 1);
    }

    #[test]
    fn top_k_one_is_greedy() {
        let logits = [0.1, 0.5, 2.0, 1.9];
        let mut s = sampler(1.0, Some(1), 1.0, 5);
        for _ in 0..50 {
            assert_eq!(s.sample(&logits), 2);
        }
    }

    #[test]
    fn top_p_keeps_smallest_nucleus() {
        // Probabilities ~ [0.64, 0.24, 0.09, 0.03]: p = 0.7 keeps the first two only.
        let logits = [3.0f32, 2.0, 1.0, 0.0];
        let mut s = sampler(1.0, None, 0.7, 9);
        let mut seen = [0; 4];
        for _ in 0..2000 {
            seen[s.sample(&logits) as usize] += 1;
        }
        assert!(seen[0] > 0 && seen[1] > 0);
        assert_eq!(seen[2] + seen[3], 0);
    }

    #[test]
    fn same_seed_same_draws() {
        let logits: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        let draw = |seed| {
            let mut s = sampler(1.0, Some(50), 0.9, seed);
            (0..20).map(|_| s.sample(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
