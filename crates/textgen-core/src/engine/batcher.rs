//! Continuous batching: the step loop that advances many requests with one forward pass per step.
//!
//! Every step decodes one token for every running sequence and, in the same pass, up to `prefill_chunk`
//! prompt tokens of newly admitted requests (oldest first), so a long prompt never stalls the running
//! streams for more than one chunk. Requests are admitted first come, first served while the batch has room
//! and their KV reservation (sequences × (prompt + new tokens)) fits the budget, so memory is bounded
//! whatever the mix. Each row of a batched pass computes exactly what it would alone, so a request's output
//! never depends on what else runs.

use super::beam::{reorder_caches, BeamSearch};
use super::generate::{Completion, Engine, FinishReason, Generation, Timings};
use super::prefix_cache::{common_prefix, PrefixCache};
use super::sequence::{beam_completion, Sequence};
use super::sink::Sink;
use super::EngineError;
use crate::model::{BatchItem, KvCache, Scratch};
use crate::sampling::{Decoding, GenerationParams, Sampler};
use crate::tokenizer::Tokenizer;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Limits of the step loop.
#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
    /// Most sequences decoded together (a request with `n` completions or `n` beams counts `n`).
    pub max_sequences: usize,
    /// Most prompt tokens processed per step.
    pub prefill_chunk: usize,
    /// KV cache budget, in token positions (reserved per request, shared with the prefix cache).
    pub kv_tokens: usize,
    /// Finished sequences kept for prefix reuse (0: reuse only running sequences' prefixes).
    pub prefix_entries: usize,
}

impl BatchConfig {
    /// No limits but the prompt chunk: one caller's requests, run to completion.
    pub fn unbounded() -> Self {
        Self {
            max_sequences: usize::MAX,
            prefill_chunk: super::generate::PREFILL_CHUNK,
            kv_tokens: usize::MAX,
            prefix_entries: 0,
        }
    }

    /// The KV positions a request reserves, or why it can never run (the prompt does not fit the context,
    /// or its reservation exceeds the whole budget).
    pub fn reservation(
        &self,
        engine: &Engine,
        prompt_len: usize,
        params: &GenerationParams,
    ) -> Result<usize, EngineError> {
        let budget = engine.budget_for(prompt_len, params)?;
        let seqs = sequences(params);
        let need = seqs.saturating_mul(prompt_len + budget);
        if need > self.kv_tokens {
            return Err(EngineError::KvBudget {
                need,
                sequences: seqs,
                budget: self.kv_tokens,
            });
        }
        Ok(need)
    }
}

/// Sequences a request decodes at once.
fn sequences(params: &GenerationParams) -> usize {
    match &params.decoding {
        Decoding::Beam(b) => b.num_beams,
        _ => params.n,
    }
}

/// A request waiting for admission.
struct Request<'a> {
    prompt: Vec<u32>,
    params: GenerationParams,
    sink: Box<dyn Sink + 'a>,
}

/// One completion being sampled.
struct Live {
    seq: Sequence,
    sampler: Sampler,
    cache: KvCache,
    /// The token to feed next.
    feed: [u32; 1],
    running: bool,
}

/// A beam search in progress: one cache and one token to feed per running beam.
struct Beams {
    search: BeamSearch,
    caches: Vec<KvCache>,
    feed: Vec<u32>,
}

/// Where an admitted request stands.
enum Phase {
    /// The prompt is being processed; the cache holds its first `len()` positions.
    Prefill(KvCache),
    /// Completions are being sampled.
    Sample(Vec<Live>),
    /// Beam search.
    Beam(Beams),
    /// Over: the completions, or why it failed.
    Over(Result<Vec<Completion>, EngineError>),
}

/// An admitted request.
struct Group<'a> {
    prompt: Vec<u32>,
    params: GenerationParams,
    eog: Vec<u32>,
    budget: usize,
    reserved: usize,
    sequences: usize,
    sink: Box<dyn Sink + 'a>,
    admitted: Instant,
    prompt_time: Duration,
    decode_start: Instant,
    phase: Phase,
}

/// What a row of the batch belongs to.
enum Slot {
    /// A sampled completion of a group.
    Seq(usize, usize),
    /// All running beams of a group (that many rows).
    Beams(usize, usize),
    /// The last prompt chunk of a group (one row of logits).
    Prefilled(usize),
}

/// Counters of the work the loop did (for benchmarks, metrics and tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct BatchStats {
    /// Forward passes run.
    pub steps: u64,
    /// Prompt positions computed.
    pub prompt_tokens_computed: u64,
    /// Prompt positions copied from a known prefix instead of computed.
    pub prompt_tokens_reused: u64,
    /// Tokens decoded (one per running sequence per step).
    pub decoded_tokens: u64,
    /// Most rows in one forward pass.
    pub max_rows: usize,
}

/// The step loop's state: waiting requests, running groups, the prefix cache and reusable buffers.
pub struct Batcher<'a> {
    engine: &'a Engine,
    cfg: BatchConfig,
    waiting: VecDeque<Request<'a>>,
    groups: Vec<Group<'a>>,
    prefix: PrefixCache,
    reserved: usize,
    scratch: Scratch,
    logits: Vec<f32>,
    stats: BatchStats,
}

impl<'a> Batcher<'a> {
    /// An idle loop over `engine` with limits `cfg`.
    pub fn new(engine: &'a Engine, cfg: BatchConfig) -> Self {
        Self {
            engine,
            cfg,
            waiting: VecDeque::new(),
            groups: Vec::new(),
            prefix: PrefixCache::new(cfg.prefix_entries),
            reserved: 0,
            scratch: Scratch::default(),
            logits: Vec::new(),
            stats: BatchStats::default(),
        }
    }

    /// Queues a request (prompt token ids, validated parameters); a request that can never run is answered
    /// at once through `sink.done`.
    pub fn submit(
        &mut self,
        prompt: Vec<u32>,
        params: GenerationParams,
        mut sink: Box<dyn Sink + 'a>,
    ) {
        let vocab = self.engine.model.vocab_size();
        if let Some(&id) = prompt.iter().find(|&&id| id as usize >= vocab) {
            let e = crate::model::ModelError::TokenOutOfRange { id, vocab };
            return sink.done(Err(e.into()));
        }
        if let Err(e) = self.cfg.reservation(self.engine, prompt.len(), &params) {
            return sink.done(Err(e));
        }
        self.waiting.push_back(Request {
            prompt,
            params,
            sink,
        });
    }

    /// True when nothing waits and nothing runs.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.groups.is_empty()
    }

    /// Requests waiting for admission.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Requests admitted and not finished.
    pub fn running(&self) -> usize {
        self.groups.len()
    }

    /// What the loop has done so far.
    pub fn stats(&self) -> BatchStats {
        self.stats
    }

    /// One step: drop cancelled requests, admit waiting ones, run one batched forward pass, sample, and
    /// answer the requests that finished.
    pub fn step(&mut self) {
        self.drop_cancelled();
        self.admit();
        if !self.groups.is_empty() {
            self.run_pass();
        }
        self.finish_groups();
    }

    fn drop_cancelled(&mut self) {
        for _ in 0..self.waiting.len() {
            if let Some(mut r) = self.waiting.pop_front() {
                if r.sink.cancelled() {
                    r.sink.done(Err(EngineError::Cancelled));
                } else {
                    self.waiting.push_back(r);
                }
            }
        }
        for g in &mut self.groups {
            if g.sink.cancelled() {
                g.cancel();
            }
        }
    }

    fn admit(&mut self) {
        let mut running: usize = self.groups.iter().map(|g| g.sequences).sum();
        while let Some(front) = self.waiting.front() {
            let seqs = sequences(&front.params);
            if running > 0 && running + seqs > self.cfg.max_sequences {
                break;
            }
            let Ok(need) = self
                .cfg
                .reservation(self.engine, front.prompt.len(), &front.params)
            else {
                break; // checked at submit; unreachable
            };
            let used = |b: &Self| b.reserved.saturating_add(b.prefix.tokens_held());
            while used(self).saturating_add(need) > self.cfg.kv_tokens && self.prefix.evict_oldest()
            {
            }
            if used(self).saturating_add(need) > self.cfg.kv_tokens {
                break;
            }
            let Some(mut req) = self.waiting.pop_front() else {
                break;
            };
            self.reserved += need;
            running += seqs;
            req.sink.started();
            self.start(req, need, seqs);
        }
    }

    /// Admits `req`: a cache sized for it, seeded with the longest known prefix of its prompt.
    fn start(&mut self, req: Request<'a>, reserved: usize, sequences: usize) {
        let e = self.engine;
        let budget = e
            .budget_for(req.prompt.len(), &req.params)
            .unwrap_or_default();
        let eog = req.params.eog_ids(e.tokenizer.eog_ids());
        let now = Instant::now();
        let phase = if budget == 0 {
            Phase::Over(Ok(empty_completions(&req.params)))
        } else {
            let mut cache = e.model.new_cache(req.prompt.len() + budget);
            // At least the last prompt token is computed: its logits start the generation.
            let limit = req.prompt.len() - 1;
            let mut best: Option<(usize, &KvCache)> = self
                .prefix
                .best(&req.prompt)
                .map(|(n, c)| (n.min(limit), c));
            for g in &self.groups {
                for (tokens, c) in g.caches() {
                    let n = common_prefix(&tokens[..c.len().min(tokens.len())], &req.prompt);
                    if n.min(limit) > best.map_or(0, |b| b.0) {
                        best = Some((n.min(limit), c));
                    }
                }
            }
            if let Some((n, src)) = best {
                self.stats.prompt_tokens_reused += cache.copy_prefix(src, n) as u64;
            }
            Phase::Prefill(cache)
        };
        self.groups.push(Group {
            prompt: req.prompt,
            params: req.params,
            eog,
            budget,
            reserved,
            sequences,
            sink: req.sink,
            admitted: now,
            prompt_time: Duration::ZERO,
            decode_start: now,
            phase,
        });
    }

    /// Builds the batch (every running sequence's next token, then prompt chunks), runs it, and hands each
    /// row's logits to its owner.
    fn run_pass(&mut self) {
        let Self {
            engine,
            cfg,
            groups,
            scratch,
            logits,
            stats,
            ..
        } = self;
        let mut items: Vec<BatchItem> = Vec::new();
        let mut slots: Vec<Slot> = Vec::new();
        let mut left = cfg.prefill_chunk.max(1);
        for (gi, g) in groups.iter_mut().enumerate() {
            match &mut g.phase {
                Phase::Sample(seqs) => {
                    for (si, l) in seqs.iter_mut().enumerate().filter(|(_, l)| l.running) {
                        items.push(BatchItem {
                            tokens: &l.feed,
                            cache: &mut l.cache,
                            logits_from: 0,
                        });
                        slots.push(Slot::Seq(gi, si));
                    }
                }
                Phase::Beam(b) => {
                    slots.push(Slot::Beams(gi, b.caches.len()));
                    for (cache, feed) in b.caches.iter_mut().zip(&b.feed) {
                        items.push(BatchItem {
                            tokens: std::slice::from_ref(feed),
                            cache,
                            logits_from: 0,
                        });
                    }
                }
                Phase::Prefill(cache) if left > 0 => {
                    let done = cache.len();
                    let n = (g.prompt.len() - done).min(left);
                    left -= n;
                    let last = done + n == g.prompt.len();
                    items.push(BatchItem {
                        tokens: &g.prompt[done..done + n],
                        cache,
                        logits_from: if last { n - 1 } else { n },
                    });
                    if last {
                        slots.push(Slot::Prefilled(gi));
                    }
                }
                Phase::Prefill(_) | Phase::Over(_) => {}
            }
        }
        if items.is_empty() {
            return;
        }
        let rows: usize = items.iter().map(|i| i.tokens.len()).sum();
        let decoded = slots
            .iter()
            .map(|s| match s {
                Slot::Seq(..) => 1,
                Slot::Beams(_, nb) => *nb,
                Slot::Prefilled(_) => 0,
            })
            .sum::<usize>();
        stats.steps += 1;
        stats.decoded_tokens += decoded as u64;
        stats.prompt_tokens_computed += (rows - decoded) as u64;
        stats.max_rows = stats.max_rows.max(rows);
        let result = engine
            .model
            .forward_batch(&engine.pool, &mut items, scratch, logits);
        drop(items);
        if let Err(err) = result {
            for g in groups.iter_mut() {
                g.phase = Phase::Over(Err(EngineError::Step(err.to_string())));
            }
            return;
        }
        let v = engine.model.vocab_size();
        let tok = &engine.tokenizer;
        let mut row = 0;
        for slot in slots {
            match slot {
                Slot::Seq(gi, si) => {
                    groups[gi].sample(si, &mut logits[row * v..(row + 1) * v], tok);
                    row += 1;
                }
                Slot::Beams(gi, nb) => {
                    groups[gi].advance_beams(&mut logits[row * v..(row + nb) * v], v, tok);
                    row += nb;
                }
                Slot::Prefilled(gi) => {
                    groups[gi].start_decoding(&mut logits[row * v..(row + 1) * v], tok);
                    row += 1;
                }
            }
        }
    }

    /// Answers every request that is over, releases its reservation and keeps its cache for reuse.
    fn finish_groups(&mut self) {
        let mut i = 0;
        while i < self.groups.len() {
            let over = match &self.groups[i].phase {
                Phase::Sample(seqs) => !seqs.iter().any(|l| l.running),
                Phase::Over(_) => true,
                Phase::Prefill(_) | Phase::Beam(_) => false,
            };
            if !over {
                i += 1;
                continue;
            }
            let mut g = self.groups.remove(i);
            self.reserved -= g.reserved;
            let result = match std::mem::replace(&mut g.phase, Phase::Over(Ok(Vec::new()))) {
                Phase::Sample(seqs) => {
                    if let Some(l) = seqs.first() {
                        self.prefix.insert(l.seq.tokens.clone(), &l.cache);
                    }
                    Ok(seqs.into_iter().map(|l| l.seq.out).collect())
                }
                Phase::Over(r) => r,
                Phase::Prefill(_) | Phase::Beam(_) => Err(EngineError::Cancelled),
            };
            let generation = result.map(|completions| Generation {
                prompt_tokens: g.prompt.len(),
                completions,
                timings: Timings {
                    prompt: g.prompt_time,
                    generation: if g.budget == 0 {
                        Duration::ZERO
                    } else {
                        g.decode_start.elapsed()
                    },
                },
            });
            g.sink.done(generation);
        }
    }
}

/// The result of a request with no room for new tokens: empty completions (none for beam search).
fn empty_completions(params: &GenerationParams) -> Vec<Completion> {
    if matches!(params.decoding, Decoding::Beam(_)) {
        return Vec::new();
    }
    (0..params.n)
        .map(|_| Completion {
            tokens: Vec::new(),
            text: String::new(),
            finish_reason: FinishReason::Length,
            logprobs: Vec::new(),
            score: None,
        })
        .collect()
}

impl Group<'_> {
    /// Every cache of this group with the tokens its positions hold (for prefix reuse).
    fn caches(&self) -> Vec<(&[u32], &KvCache)> {
        match &self.phase {
            Phase::Prefill(c) => vec![(&self.prompt[..], c)],
            Phase::Sample(seqs) => seqs.iter().map(|l| (&l.seq.tokens[..], &l.cache)).collect(),
            Phase::Beam(b) => b.caches.iter().map(|c| (&self.prompt[..], c)).collect(),
            Phase::Over(_) => Vec::new(),
        }
    }

    /// Ends every completion now (the client is gone).
    fn cancel(&mut self) {
        match &mut self.phase {
            Phase::Sample(seqs) => {
                for l in seqs.iter_mut().filter(|l| l.running) {
                    l.running = false;
                    l.seq.out.finish_reason = FinishReason::Cancelled;
                }
            }
            Phase::Prefill(_) | Phase::Beam(_) => {
                self.phase = Phase::Over(Err(EngineError::Cancelled))
            }
            Phase::Over(_) => {}
        }
    }

    /// The prompt is processed and `logits` are its last token's: start the completions or the beams.
    fn start_decoding(&mut self, logits: &mut [f32], tok: &Tokenizer) {
        let Phase::Prefill(cache) = std::mem::replace(&mut self.phase, Phase::Over(Ok(Vec::new())))
        else {
            return;
        };
        self.prompt_time = self.admitted.elapsed();
        self.decode_start = Instant::now();
        let n = self.sequences;
        let mut caches: Vec<KvCache> = (1..n).map(|_| cache.clone()).collect();
        caches.push(cache);
        if let Decoding::Beam(b) = &self.params.decoding {
            let search = BeamSearch::new(b, &self.eog, self.budget);
            let mut copies: Vec<Vec<f32>> = (1..n).map(|_| logits.to_vec()).collect();
            let mut rows: Vec<&mut [f32]> = copies.iter_mut().map(|c| &mut c[..]).collect();
            rows.insert(0, logits);
            self.phase = Phase::Beam(Beams {
                search,
                caches,
                feed: vec![0; n],
            });
            self.step_beams(&mut rows, tok);
            return;
        }
        let seqs = caches
            .into_iter()
            .enumerate()
            .map(|(i, cache)| Live {
                seq: Sequence::new(i, &self.prompt, &self.params, self.budget),
                sampler: Sampler::new(&self.params, self.params.seed.wrapping_add(i as u64)),
                cache,
                feed: [0],
                running: true,
            })
            .collect();
        self.phase = Phase::Sample(seqs);
        let mut copy = Vec::new();
        for i in 0..n {
            if i + 1 < n {
                copy.clear();
                copy.extend_from_slice(logits);
                self.sample(i, &mut copy, tok);
            } else {
                self.sample(i, logits, tok);
            }
        }
    }

    /// Picks completion `si`'s next token from its `logits` and streams it.
    fn sample(&mut self, si: usize, logits: &mut [f32], tok: &Tokenizer) {
        let Phase::Sample(seqs) = &mut self.phase else {
            return;
        };
        let Some(l) = seqs.get_mut(si).filter(|l| l.running) else {
            return;
        };
        let choice = l
            .sampler
            .choose(logits, &l.seq.tokens, l.seq.prompt_len, &self.eog);
        let id = choice.id;
        if self.params.logprobs.is_some() {
            l.seq.out.logprobs.push(choice);
        }
        let go_on = l.seq.accept(tok, &self.eog, id, &mut *self.sink);
        if go_on && l.seq.out.tokens.len() < self.budget {
            l.feed = [id];
            return;
        }
        l.running = false;
        l.seq.flush(&mut *self.sink);
        if l.seq.out.finish_reason == FinishReason::Cancelled {
            self.cancel();
        }
    }

    /// One beam-search step on the running beams' logits (`nb` rows of `v`).
    fn advance_beams(&mut self, logits: &mut [f32], v: usize, tok: &Tokenizer) {
        let mut rows: Vec<&mut [f32]> = logits.chunks_mut(v).collect();
        self.step_beams(&mut rows, tok);
    }

    fn step_beams(&mut self, rows: &mut [&mut [f32]], tok: &Tokenizer) {
        let Phase::Beam(b) = &mut self.phase else {
            return;
        };
        if let Some(parents) = b
            .search
            .advance(&self.params, &self.prompt, &self.eog, rows)
        {
            b.caches = reorder_caches(std::mem::take(&mut b.caches), &parents);
            b.feed = (0..b.search.beams())
                .map(|i| b.search.last_token(i).unwrap_or(0))
                .collect();
            return;
        }
        let Phase::Beam(b) = std::mem::replace(&mut self.phase, Phase::Over(Ok(Vec::new()))) else {
            return;
        };
        let completions = b
            .search
            .results()
            .into_iter()
            .enumerate()
            .map(|(i, (tokens, score))| {
                beam_completion(
                    tok,
                    i,
                    &tokens,
                    score,
                    &self.params,
                    &self.eog,
                    &mut *self.sink,
                )
            })
            .collect();
        self.phase = Phase::Over(Ok(completions));
    }
}
