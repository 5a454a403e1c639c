//! Beam search, following transformers' `generate(num_beams=…)` step by step so both pick the same beams:
//! per step, log-softmax then the processors, the top `2·num_beams` continuations over all beams, the best
//! `num_beams` unfinished ones continue, and finished ones compete for `num_beams` slots with score
//! `sum of log-probabilities / generated_length^length_penalty`.

use crate::model::KvCache;
use crate::sampling::params::{BeamParams, GenerationParams};
use crate::sampling::processors::{apply_penalties, PenaltyScratch};
use crate::sampling::sampler::log_sum_exp;

/// Score given to impossible or excluded entries (transformers uses the same constant).
const NEG: f32 = -1.0e9;

/// One running hypothesis.
struct Beam {
    tokens: Vec<u32>,
    score: f32,
}

/// The state of one beam search between forward passes. The caller runs the model: it feeds each running
/// beam's last token and hands back the next-token logits of every beam to `advance`.
pub struct BeamSearch {
    params: BeamParams,
    keep: usize,
    budget: usize,
    step: usize,
    running: Vec<Beam>,
    /// Finished slots: (score, tokens, finished).
    finished: Vec<(f32, Vec<u32>, bool)>,
    heuristic_unsatisfied: bool,
    pscratch: PenaltyScratch,
    seq: Vec<u32>,
    cands: Vec<(f32, usize, u32)>,
}

impl BeamSearch {
    /// A search of `b.num_beams` beams for up to `budget` new tokens; every beam starts from the prompt
    /// (only beam 0 counts at first, as in transformers).
    pub fn new(b: &BeamParams, eog: &[u32], budget: usize) -> Self {
        let nb = b.num_beams;
        Self {
            params: b.clone(),
            keep: 2.max(1 + eog.len()) * nb,
            budget,
            step: 0,
            running: (0..nb)
                .map(|i| Beam {
                    tokens: Vec::new(),
                    score: if i == 0 { 0.0 } else { NEG },
                })
                .collect(),
            finished: vec![(NEG, Vec::new(), false); nb],
            heuristic_unsatisfied: true,
            pscratch: PenaltyScratch::default(),
            seq: Vec::new(),
            cands: Vec::new(),
        }
    }

    /// Number of running beams (each needs its logits for the next `advance`).
    pub fn beams(&self) -> usize {
        self.running.len()
    }

    /// The last token of running beam `i` (to feed to the model).
    pub fn last_token(&self, i: usize) -> Option<u32> {
        self.running.get(i).and_then(|b| b.tokens.last().copied())
    }

    /// One step: `logits[i]` are the next-token logits of running beam `i` (modified in place). Returns the
    /// parent of each new running beam (the caller reorders the caches: a parent's cache goes to its last
    /// child, copies to the others), or `None` when the search is over.
    pub fn advance(
        &mut self,
        params: &GenerationParams,
        prompt: &[u32],
        eog: &[u32],
        logits: &mut [&mut [f32]],
    ) -> Option<Vec<usize>> {
        let (nb, b) = (self.params.num_beams, &self.params);
        if self.budget == 0 {
            return None;
        }
        let cands = &mut self.cands;
        cands.clear();
        for (i, beam) in self.running.iter().enumerate() {
            let lp = &mut *logits[i];
            let lse = log_sum_exp(lp);
            lp.iter_mut().for_each(|l| *l -= lse);
            self.seq.clear();
            self.seq.extend_from_slice(prompt);
            self.seq.extend_from_slice(&beam.tokens);
            apply_penalties(
                &params.penalties,
                lp,
                &self.seq,
                prompt.len(),
                eog,
                &mut self.pscratch,
            );
            cands.extend(
                lp.iter()
                    .enumerate()
                    .map(|(t, &l)| (l + beam.score, i, t as u32)),
            );
        }
        let cmp = |a: &(f32, usize, u32), b: &(f32, usize, u32)| {
            b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2)))
        };
        if self.keep < cands.len() {
            cands.select_nth_unstable_by(self.keep - 1, cmp);
        }
        cands.truncate(self.keep);
        cands.sort_unstable_by(cmp);
        let gen_len = self.step + 1;
        self.step += 1;
        let at_limit = gen_len >= self.budget;
        let hits: Vec<bool> = cands
            .iter()
            .map(|c| at_limit || eog.contains(&c.2))
            .collect();

        // Finished hypotheses: only candidates ranked among the first num_beams count.
        let full_and_early = b.early_stopping && self.finished.iter().all(|f| f.2);
        for (k, c) in cands.iter().enumerate().take(nb) {
            if !hits[k] || full_and_early || !self.heuristic_unsatisfied {
                continue;
            }
            let score = c.0 / (gen_len as f32).powf(b.length_penalty);
            let worst = (0..nb)
                .min_by(|&x, &y| self.finished[x].0.total_cmp(&self.finished[y].0))
                .unwrap_or(0);
            if score > self.finished[worst].0 {
                let mut tokens = self.running[c.1].tokens.clone();
                tokens.push(c.2);
                self.finished[worst] = (score, tokens, true);
            }
        }
        self.finished.sort_by(|x, y| y.0.total_cmp(&x.0));

        // Next running beams: the best unfinished continuations.
        let mut order: Vec<usize> = (0..cands.len()).collect();
        order.sort_by(|&x, &y| {
            let sx = cands[x].0 + if hits[x] { NEG } else { 0.0 };
            let sy = cands[y].0 + if hits[y] { NEG } else { 0.0 };
            sy.total_cmp(&sx).then(x.cmp(&y))
        });
        let all_hit = hits.iter().all(|&h| h);
        let chosen = &order[..nb.min(order.len())];
        let mut parents = Vec::with_capacity(chosen.len());
        let mut next = Vec::with_capacity(chosen.len());
        for &k in chosen {
            let (score, p, tok) = cands[k];
            let mut tokens = self.running[p].tokens.clone();
            tokens.push(tok);
            next.push(Beam {
                tokens,
                score: score + if hits[k] { NEG } else { 0.0 },
            });
            parents.push(p);
        }
        self.running = next;

        // Stop conditions (transformers' early-stop heuristic).
        let cur_gen = gen_len as f32;
        let best_possible = self.running[0].score / cur_gen.powf(b.length_penalty);
        let worst_finished = if self.finished.iter().all(|f| f.2) {
            self.finished
                .iter()
                .map(|f| f.0)
                .fold(f32::INFINITY, f32::min)
        } else {
            NEG
        };
        self.heuristic_unsatisfied &= best_possible > worst_finished;
        let full = self.finished.iter().all(|f| f.2) && b.early_stopping;
        if !self.heuristic_unsatisfied || full || all_hit || at_limit {
            return None;
        }
        Some(parents)
    }

    /// The best `num_return_sequences` finished hypotheses (generated ids, score), best first.
    pub fn results(self) -> Vec<(Vec<u32>, f32)> {
        self.finished
            .into_iter()
            .filter(|f| f.2)
            .take(self.params.num_return_sequences)
            .map(|f| (f.1, f.0))
            .collect()
    }
}

/// Moves caches to the beams chosen by `advance`: a parent's cache goes to its last child, copies to the
/// others (so a beam that continues alone is never copied).
pub fn reorder_caches(caches: Vec<KvCache>, parents: &[usize]) -> Vec<KvCache> {
    let mut children = vec![0usize; caches.len()];
    for &p in parents {
        children[p] += 1;
    }
    let mut slots: Vec<Option<KvCache>> = caches.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(parents.len());
    for &p in parents {
        children[p] -= 1;
        let cache = if children[p] == 0 {
            slots[p].take()
        } else {
            slots[p].clone()
        };
        out.extend(cache);
    }
    out
}
