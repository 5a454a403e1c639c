//! Beam search, following transformers' `generate(num_beams=…)` step by step so both pick the same beams:
//! per step, log-softmax then the processors, the top `2·num_beams` continuations over all beams, the best
//! `num_beams` unfinished ones continue, and finished ones compete for `num_beams` slots with score
//! `sum of log-probabilities / generated_length^length_penalty`.

use super::{Engine, EngineError};
use crate::model::{KvCache, Scratch};
use crate::sampling::params::{BeamParams, GenerationParams};
use crate::sampling::processors::{apply_penalties, PenaltyScratch};
use crate::sampling::sampler::log_sum_exp;

/// Score given to impossible or excluded entries (transformers uses the same constant).
const NEG: f32 = -1.0e9;

struct Beam {
    tokens: Vec<u32>,
    score: f32,
    cache: KvCache,
}

/// Runs beam search from a prefilled `cache` whose next-token logits are `logits`; returns the best
/// `num_return_sequences` hypotheses (generated ids, score), best first.
#[allow(clippy::too_many_arguments)]
pub fn beam_search(
    e: &Engine,
    prompt: &[u32],
    params: &GenerationParams,
    b: &BeamParams,
    eog: &[u32],
    budget: usize,
    cache: KvCache,
    logits: Vec<f32>,
    scratch: &mut Scratch,
) -> Result<Vec<(Vec<u32>, f32)>, EngineError> {
    let nb = b.num_beams;
    let vocab = e.model.cfg.vocab_size;
    let keep = 2.max(1 + eog.len()) * nb;
    let mut running: Vec<Beam> = (0..nb)
        .map(|i| Beam {
            tokens: Vec::new(),
            score: if i == 0 { 0.0 } else { NEG },
            cache: cache.clone(),
        })
        .collect();
    let mut beam_logits: Vec<Vec<f32>> = vec![logits; nb];
    // Finished slots: (score, tokens, finished).
    let mut finished: Vec<(f32, Vec<u32>, bool)> = vec![(NEG, Vec::new(), false); nb];
    let mut heuristic_unsatisfied = true;
    let mut pscratch = PenaltyScratch::default();
    let mut seq = Vec::with_capacity(prompt.len() + budget);
    let mut cands: Vec<(f32, usize, u32)> = Vec::with_capacity(nb * vocab);
    if budget == 0 {
        return Ok(Vec::new());
    }
    for step in 0..budget {
        cands.clear();
        for (i, beam) in running.iter().enumerate() {
            let lp = &mut beam_logits[i];
            let lse = log_sum_exp(lp);
            lp.iter_mut().for_each(|l| *l -= lse);
            seq.clear();
            seq.extend_from_slice(prompt);
            seq.extend_from_slice(&beam.tokens);
            apply_penalties(
                &params.penalties,
                lp,
                &seq,
                prompt.len(),
                eog,
                &mut pscratch,
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
        if keep < cands.len() {
            cands.select_nth_unstable_by(keep - 1, cmp);
        }
        cands.truncate(keep);
        cands.sort_unstable_by(cmp);
        let gen_len = step + 1;
        let at_limit = gen_len >= budget;
        let hits: Vec<bool> = cands
            .iter()
            .map(|c| at_limit || eog.contains(&c.2))
            .collect();

        // Finished hypotheses: only candidates ranked among the first num_beams count.
        let full_and_early = b.early_stopping && finished.iter().all(|f| f.2);
        for (k, c) in cands.iter().enumerate().take(nb) {
            if !hits[k] || full_and_early || !heuristic_unsatisfied {
                continue;
            }
            let score = c.0 / (gen_len as f32).powf(b.length_penalty);
            let worst = (0..nb)
                .min_by(|&x, &y| finished[x].0.total_cmp(&finished[y].0))
                .unwrap_or(0);
            if score > finished[worst].0 {
                let mut tokens = running[c.1].tokens.clone();
                tokens.push(c.2);
                finished[worst] = (score, tokens, true);
            }
        }
        finished.sort_by(|x, y| y.0.total_cmp(&x.0));

        // Next running beams: the best unfinished continuations.
        let mut order: Vec<usize> = (0..cands.len()).collect();
        order.sort_by(|&x, &y| {
            let sx = cands[x].0 + if hits[x] { NEG } else { 0.0 };
            let sy = cands[y].0 + if hits[y] { NEG } else { 0.0 };
            sy.total_cmp(&sx).then(x.cmp(&y))
        });
        let all_hit = hits.iter().all(|&h| h);
        let chosen = &order[..nb.min(order.len())];
        // Each parent's cache goes to its last child and is copied for the others.
        let mut children = vec![0usize; nb];
        for &k in chosen {
            children[cands[k].1] += 1;
        }
        let mut parents: Vec<Option<Beam>> = running.drain(..).map(Some).collect();
        for &k in chosen {
            let (score, p, tok) = cands[k];
            children[p] -= 1;
            let (mut tokens, cache) = match (children[p], &mut parents[p]) {
                (0, slot) => match slot.take() {
                    Some(b) => (b.tokens, b.cache),
                    None => continue,
                },
                (_, Some(b)) => (b.tokens.clone(), b.cache.clone()),
                (_, None) => continue,
            };
            tokens.push(tok);
            running.push(Beam {
                tokens,
                score: score + if hits[k] { NEG } else { 0.0 },
                cache,
            });
        }

        // Stop conditions (transformers' early-stop heuristic).
        let cur_gen = gen_len as f32;
        let best_possible = running[0].score / cur_gen.powf(b.length_penalty);
        let worst_finished = if finished.iter().all(|f| f.2) {
            finished.iter().map(|f| f.0).fold(f32::INFINITY, f32::min)
        } else {
            NEG
        };
        heuristic_unsatisfied &= best_possible > worst_finished;
        let full = finished.iter().all(|f| f.2) && b.early_stopping;
        if !heuristic_unsatisfied || full || all_hit || at_limit {
            break;
        }
        for (beam, lp) in running.iter_mut().zip(beam_logits.iter_mut()) {
            let last = beam.tokens[beam.tokens.len() - 1];
            e.model
                .forward(&e.pool, &[last], &mut beam.cache, scratch, 0, lp)?;
        }
    }
    Ok(finished
        .into_iter()
        .filter(|f| f.2)
        .take(b.num_return_sequences)
        .map(|f| (f.1, f.0))
        .collect())
}
