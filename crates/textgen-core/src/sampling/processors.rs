//! Logits processors, applied in transformers' order:
//!
//! 1. logit bias (`-100` = ban), 2. repetition penalty (transformers: over prompt and output),
//! 3. frequency and presence penalties (OpenAI: over the output), 4. no-repeat n-gram, 5. banned sequences,
//! 6. min new tokens (end-of-generation suppressed); then, when sampling, the warpers
//! 7. temperature, 8. top-k (ties with the k-th score are kept), 9. top-p, 10. min-p, 11. typical-p.
//!
//! `repeat_last_n` > 0 limits 2 and 3 to the last N tokens of the sequence.

use super::params::{Penalties, Warpers};

/// Per-sequence scratch for the penalties (token counts without clearing the whole vocabulary).
#[derive(Clone, Debug, Default)]
pub struct PenaltyScratch {
    counts: Vec<u32>,
    touched: Vec<u32>,
}

/// Applies processors 1-6 to `logits` for a sequence `tokens` whose first `prompt_len` are the prompt.
pub fn apply_penalties(
    p: &Penalties,
    logits: &mut [f32],
    tokens: &[u32],
    prompt_len: usize,
    eog: &[u32],
    s: &mut PenaltyScratch,
) {
    for &(id, b) in &p.logit_bias {
        logits[id as usize] += b;
    }
    let window_start = if p.last_n > 0 {
        tokens.len().saturating_sub(p.last_n)
    } else {
        0
    };
    if p.repetition != 1.0 || p.frequency != 0.0 || p.presence != 0.0 {
        s.counts.resize(logits.len(), 0);
        // At most one entry per vocabulary token: sized once, never grown as the sequence grows.
        s.touched
            .reserve(logits.len().saturating_sub(s.touched.len()));
        for &t in &tokens[window_start..] {
            if s.counts[t as usize] == 0 {
                s.touched.push(t);
            }
            s.counts[t as usize] += 1;
        }
        if p.repetition != 1.0 {
            for &t in &s.touched {
                let l = &mut logits[t as usize];
                *l = if *l < 0.0 {
                    *l * p.repetition
                } else {
                    *l / p.repetition
                };
            }
        }
        if p.frequency != 0.0 || p.presence != 0.0 {
            // Only generated tokens count: undo the prompt part of the window.
            for &t in &tokens[window_start..prompt_len.max(window_start).min(tokens.len())] {
                s.counts[t as usize] -= 1;
            }
            for &t in &s.touched {
                let c = s.counts[t as usize];
                if c > 0 {
                    logits[t as usize] -= c as f32 * p.frequency + p.presence;
                }
            }
        }
        for &t in &s.touched {
            s.counts[t as usize] = 0;
        }
        s.touched.clear();
    }
    let n = p.no_repeat_ngram;
    if n > 0 && tokens.len() + 1 >= n {
        let tail = &tokens[tokens.len() + 1 - n..];
        for w in tokens.windows(n) {
            if w[..n - 1] == *tail {
                logits[w[n - 1] as usize] = f32::NEG_INFINITY;
            }
        }
    }
    for seq in &p.banned {
        let (last, prefix) = (seq[seq.len() - 1], &seq[..seq.len() - 1]);
        if tokens.ends_with(prefix) {
            logits[last as usize] = f32::NEG_INFINITY;
        }
    }
    if tokens.len() - prompt_len < p.min_new_tokens {
        for &e in eog {
            logits[e as usize] = f32::NEG_INFINITY;
        }
    }
}

/// Candidates surviving the warpers: `(logit / temperature, id)`, in no particular order.
pub type Candidates = Vec<(f32, u32)>;

fn by_score_desc(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// Probabilities of the candidates (softmax over their scores), in candidate order.
fn probs(c: &Candidates, out: &mut Vec<f64>) {
    let max = c.iter().map(|e| e.0).fold(f32::NEG_INFINITY, f32::max) as f64;
    out.clear();
    out.extend(c.iter().map(|e| (e.0 as f64 - max).exp()));
    let total: f64 = out.iter().sum();
    out.iter_mut().for_each(|p| *p /= total);
}

/// Keeps the smallest prefix of `c` sorted by `key` (ascending) whose probability mass reaches `mass`
/// (at least one). Sorts only as much as needed: the top 64, then 4x more, until the mass is reached.
fn keep_mass(
    c: &mut Candidates,
    mass: f64,
    key: impl Fn(usize, &(f32, u32)) -> f64,
    buf: &mut Vec<f64>,
    order: &mut Vec<MassEntry>,
) {
    probs(c, buf);
    order.clear();
    order.extend(c.iter().enumerate().map(|(i, e)| (key(i, e), buf[i], *e)));
    let cmp = |a: &(f64, f64, (f32, u32)), b: &(f64, f64, (f32, u32))| {
        a.0.total_cmp(&b.0).then(a.2 .1.cmp(&b.2 .1))
    };
    let mut m = 64.min(order.len());
    loop {
        if m < order.len() {
            order.select_nth_unstable_by(m - 1, cmp);
        }
        order[..m].sort_unstable_by(cmp);
        let mut acc = 0.0;
        for (i, e) in order[..m].iter().enumerate() {
            acc += e.1;
            if acc >= mass {
                c.clear();
                c.extend(order[..=i].iter().map(|e| e.2));
                return;
            }
        }
        if m == order.len() {
            return; // rounding: the whole set never quite reaches `mass`; keep everything
        }
        m = (m * 4).min(order.len());
    }
}

/// A candidate's sort key, probability and (score, id), as `keep_mass` orders them.
type MassEntry = (f64, f64, (f32, u32));

/// Work buffers of `warp`, reused across steps so sampling allocates nothing in steady state.
#[derive(Clone, Debug, Default)]
pub struct WarpScratch {
    probs: Vec<f64>,
    order: Vec<MassEntry>,
    dev: Vec<f64>,
}

/// Applies warpers 7-11 to the finite logits; returns the survivors (scores already divided by temperature).
pub fn warp(w: &Warpers, logits: &[f32], c: &mut Candidates, scratch: &mut WarpScratch) {
    let WarpScratch {
        probs: buf,
        order,
        dev,
    } = scratch;
    c.clear();
    c.extend(
        logits
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(i, &l)| (l / w.temperature, i as u32)),
    );
    if c.is_empty() {
        return;
    }
    if let Some(k) = w.top_k.filter(|&k| k < c.len()) {
        c.select_nth_unstable_by(k - 1, by_score_desc);
        let kth = c[k - 1].0;
        c.retain(|e| e.0 >= kth);
    }
    if w.top_p < 1.0 {
        keep_mass(c, w.top_p as f64, |_, e| -(e.0 as f64), buf, order);
    }
    if w.min_p > 0.0 {
        probs(c, buf);
        let top = buf.iter().copied().fold(0.0, f64::max);
        let threshold = w.min_p as f64 * top;
        let mut i = 0;
        c.retain(|_| {
            i += 1;
            buf[i - 1] >= threshold
        });
    }
    if w.typical_p < 1.0 {
        probs(c, buf);
        let entropy: f64 = buf.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
        dev.clear();
        dev.extend(buf.iter().map(|&p| (-p.ln() - entropy).abs()));
        keep_mass(c, w.typical_p as f64, |i, _| dev[i], buf, order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn penalties() -> Penalties {
        Penalties::default()
    }

    fn warpers() -> Warpers {
        Warpers::default()
    }

    fn ids(c: &Candidates) -> Vec<u32> {
        let mut v: Vec<u32> = c.iter().map(|e| e.1).collect();
        v.sort();
        v
    }

    #[test]
    fn repetition_penalty_matches_transformers_rule() {
        let mut l = vec![2.0, -2.0, 1.0, 3.0];
        let p = Penalties {
            repetition: 2.0,
            ..penalties()
        };
        apply_penalties(&p, &mut l, &[0, 1, 1], 1, &[], &mut Default::default());
        assert_eq!(l, vec![1.0, -4.0, 1.0, 3.0]); // positive /2, negative *2, once per token
    }

    #[test]
    fn frequency_and_presence_count_output_only() {
        let mut l = vec![0.0; 4];
        let p = Penalties {
            frequency: 0.5,
            presence: 1.0,
            ..penalties()
        };
        // prompt [2, 3], output [3, 3, 1]
        apply_penalties(
            &p,
            &mut l,
            &[2, 3, 3, 3, 1],
            2,
            &[],
            &mut Default::default(),
        );
        assert_eq!(l, vec![0.0, -1.5, 0.0, -2.0]);
    }

    #[test]
    fn repeat_last_n_limits_the_window() {
        let mut l = vec![1.0; 3];
        let p = Penalties {
            repetition: 2.0,
            last_n: 1,
            ..penalties()
        };
        apply_penalties(&p, &mut l, &[0, 1], 0, &[], &mut Default::default());
        assert_eq!(l, vec![1.0, 0.5, 1.0]);
    }

    #[test]
    fn no_repeat_ngram_bans_the_completion() {
        let mut l = vec![0.0; 5];
        let p = Penalties {
            no_repeat_ngram: 3,
            ..penalties()
        };
        apply_penalties(
            &p,
            &mut l,
            &[1, 2, 3, 4, 1, 2],
            0,
            &[],
            &mut Default::default(),
        );
        assert_eq!(l[3], f32::NEG_INFINITY);
        assert!(l.iter().filter(|v| v.is_infinite()).count() == 1);
    }

    #[test]
    fn banned_sequences_and_min_tokens() {
        let mut l = vec![0.0; 5];
        let p = Penalties {
            banned: vec![vec![4], vec![1, 2]],
            min_new_tokens: 2,
            ..penalties()
        };
        apply_penalties(&p, &mut l, &[3, 1], 1, &[0], &mut Default::default());
        assert_eq!(
            l,
            vec![
                f32::NEG_INFINITY,
                0.0,
                f32::NEG_INFINITY,
                0.0,
                f32::NEG_INFINITY
            ]
        );
    }

    #[test]
    fn top_k_keeps_ties_with_the_kth() {
        let mut c = Vec::new();
        warp(
            &Warpers {
                top_k: Some(2),
                ..warpers()
            },
            &[1.0, 3.0, 2.0, 2.0, 0.0],
            &mut c,
            &mut WarpScratch::default(),
        );
        assert_eq!(ids(&c), vec![1, 2, 3]);
    }

    #[test]
    fn top_p_keeps_the_smallest_nucleus() {
        // p ~ [0.644, 0.237, 0.087, 0.032]
        let logits = [3.0, 2.0, 1.0, 0.0];
        let mut c = Vec::new();
        warp(
            &Warpers {
                top_p: 0.8,
                ..warpers()
            },
            &logits,
            &mut c,
            &mut WarpScratch::default(),
        );
        assert_eq!(ids(&c), vec![0, 1]);
        warp(
            &Warpers {
                top_p: 0.5,
                ..warpers()
            },
            &logits,
            &mut c,
            &mut WarpScratch::default(),
        );
        assert_eq!(ids(&c), vec![0]);
    }

    #[test]
    fn min_p_is_relative_to_the_top() {
        let logits = [0.0, (0.5f32).ln(), (0.05f32).ln()];
        let mut c = Vec::new();
        warp(
            &Warpers {
                min_p: 0.1,
                ..warpers()
            },
            &logits,
            &mut c,
            &mut WarpScratch::default(),
        );
        assert_eq!(ids(&c), vec![0, 1]);
    }

    #[test]
    fn banned_tokens_never_survive() {
        let mut c = Vec::new();
        warp(
            &warpers(),
            &[f32::NEG_INFINITY, 1.0],
            &mut c,
            &mut WarpScratch::default(),
        );
        assert_eq!(ids(&c), vec![1]);
    }
}
