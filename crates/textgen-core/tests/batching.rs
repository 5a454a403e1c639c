//! Continuous batching on the real model: a request's output is identical alone and batched with 15
//! others (greedy, seeded sampling, n > 1, beam search, stop strings, logprobs), whatever the admission
//! order, prompt chunking, KV budget or prefix reuse; cancelled requests leave the others untouched.

mod common;

use common::real_model::shared;
use std::cell::RefCell;
use std::rc::Rc;
use textgen_core::engine::{
    BatchConfig, BatchStats, Batcher, Engine, EngineError, Flow, Generation, Piece, Sink,
};
use textgen_core::sampling::{GenerationParams, RawParams};

/// Records a request's streamed text per completion and its result.
#[derive(Default)]
struct Record {
    streamed: Vec<String>,
    result: Option<Result<Generation, EngineError>>,
    pieces: usize,
    /// Report cancellation once this many pieces arrived.
    cancel_after: Option<usize>,
}

struct Recorder(Rc<RefCell<Record>>);

impl Sink for Recorder {
    fn piece(&mut self, p: Piece) -> Flow {
        let mut r = self.0.borrow_mut();
        if r.streamed.len() <= p.index {
            r.streamed.resize(p.index + 1, String::new());
        }
        r.streamed[p.index].push_str(p.text);
        r.pieces += 1;
        Flow::Continue
    }

    fn done(&mut self, result: Result<Generation, EngineError>) {
        self.0.borrow_mut().result = Some(result);
    }

    fn cancelled(&self) -> bool {
        let r = self.0.borrow();
        r.cancel_after.is_some_and(|n| r.pieces >= n)
    }
}

fn params(raw: RawParams) -> GenerationParams {
    raw.validate(49152, || 0).expect("valid params")
}

/// Sixteen requests of different prompt lengths and decoding settings.
fn requests(e: &Engine) -> Vec<(Vec<u32>, GenerationParams)> {
    let long = "The history of the region is long and complicated. ".repeat(12);
    let texts = [
        "Once upon a time, there was a little",
        "The capital of France is",
        "def fibonacci(n):",
        long.as_str(),
        "1, 2, 3, 4,",
        "Write a haiku about the sea.",
        "Q: What is the boiling point of water?\nA:",
        "In 1969, the first humans",
        "The quick brown fox",
        "Dear Sir or Madam,",
        "Ingredients: flour, sugar,",
        "Rust is a programming language that",
        "Hello",
        "A long time ago in a galaxy far, far away",
        "The three laws of robotics are",
        "Once upon a time, there was a little dog who",
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut raw = RawParams {
                max_new_tokens: Some(12 + (i as i64 % 5) * 3),
                temperature: Some(0.0),
                ..Default::default()
            };
            match i % 8 {
                1 | 5 => {
                    raw.temperature = Some(0.9);
                    raw.top_p = Some(0.95);
                    raw.seed = Some(1000 + i as u64);
                }
                2 => {
                    raw.temperature = Some(0.7);
                    raw.top_k = Some(20);
                    raw.n = Some(3);
                    raw.seed = Some(7);
                }
                3 => {
                    raw.num_beams = Some(3);
                    raw.num_return_sequences = Some(2);
                }
                4 => raw.stop = vec![".".into()],
                6 => {
                    raw.logprobs = Some(3);
                    raw.repetition_penalty = Some(1.3);
                }
                _ => {}
            }
            (e.encode_prompt(t).expect("encodes"), params(raw))
        })
        .collect()
}

/// The request run alone, through `Engine::generate`.
fn solo(e: &Engine, prompt: &[u32], p: &GenerationParams) -> Generation {
    e.generate(prompt, p, |_| Flow::Continue)
        .expect("generates")
}

/// Runs `reqs` through one batcher; returns each request's record, the most requests running at once and
/// the loop's counters.
fn batched(
    e: &Engine,
    cfg: BatchConfig,
    reqs: &[(Vec<u32>, GenerationParams)],
    cancel_after: &[Option<usize>],
) -> (Vec<Rc<RefCell<Record>>>, usize, BatchStats) {
    let mut b = Batcher::new(e, cfg);
    let records: Vec<Rc<RefCell<Record>>> = reqs
        .iter()
        .enumerate()
        .map(|(i, (prompt, p))| {
            let r = Rc::new(RefCell::new(Record {
                cancel_after: cancel_after.get(i).copied().flatten(),
                ..Default::default()
            }));
            b.submit(prompt.clone(), p.clone(), Box::new(Recorder(r.clone())));
            r
        })
        .collect();
    let mut most = 0;
    while !b.is_idle() {
        b.step();
        most = most.max(b.running());
    }
    (records, most, b.stats())
}

/// Asserts a batched request's result equals its solo run, and that its stream adds up to its text.
fn assert_same(i: usize, rec: &Record, want: &Generation) {
    let got = match &rec.result {
        Some(Ok(g)) => g,
        other => panic!("request {i}: {other:?}"),
    };
    assert_eq!(got.prompt_tokens, want.prompt_tokens, "request {i}");
    assert_eq!(got.completions, want.completions, "request {i}");
    for (k, c) in got.completions.iter().enumerate() {
        assert_eq!(rec.streamed[k], c.text, "request {i} completion {k} stream");
    }
}

/// Runs `reqs` alone, then batched under `cfg`; asserts every result is the same. Returns the most requests
/// running at once and the loop's counters.
fn batched_equals_solo(
    e: &Engine,
    cfg: BatchConfig,
    reqs: &[(Vec<u32>, GenerationParams)],
) -> (usize, BatchStats) {
    let want: Vec<Generation> = reqs.iter().map(|(p, g)| solo(e, p, g)).collect();
    let (records, most, stats) = batched(e, cfg, reqs, &[]);
    for (i, (rec, w)) in records.iter().zip(&want).enumerate() {
        assert_same(i, &rec.borrow(), w);
    }
    (most, stats)
}

#[test]
fn sixteen_concurrent_requests_equal_their_solo_runs() {
    let e = shared();
    let reqs = requests(e);
    let cfg = BatchConfig {
        max_sequences: 32,
        prefill_chunk: 48,
        kv_tokens: 1 << 20,
        prefix_entries: 8,
    };
    let (most, stats) = batched_equals_solo(e, cfg, &reqs);
    assert_eq!(most, 16, "all sixteen ran at once");
    assert!(
        stats.max_rows > 16,
        "decode rows shared a pass with prompt chunks"
    );
    assert!(
        stats.steps * 4 < stats.decoded_tokens,
        "many tokens per pass"
    );
}

#[test]
fn a_small_kv_budget_makes_requests_wait_and_refuses_what_never_fits() {
    let e = shared();
    let reqs: Vec<_> = requests(e).into_iter().take(8).collect();
    let want: Vec<Generation> = reqs.iter().map(|(p, g)| solo(e, p, g)).collect();
    // Room for the largest request only (request 3: a long prompt and 3 beams).
    let need = |(p, g): &(Vec<u32>, GenerationParams)| {
        BatchConfig::unbounded()
            .reservation(e, p.len(), g)
            .expect("fits")
    };
    let largest = reqs.iter().map(need).max().expect("requests");
    let cfg = BatchConfig {
        max_sequences: 64,
        prefill_chunk: 512,
        kv_tokens: largest,
        prefix_entries: 4,
    };
    let (records, most, _) = batched(e, cfg, &reqs, &[]);
    for (i, (rec, w)) in records.iter().zip(&want).enumerate() {
        assert_same(i, &rec.borrow(), w);
    }
    assert!(
        most < reqs.len(),
        "requests waited for KV space ({most} at once)"
    );

    let mut too_big = reqs[0].1.clone();
    too_big.max_new_tokens = largest;
    let (records, _, _) = batched(e, cfg, &[(reqs[0].0.clone(), too_big)], &[]);
    let rec = records[0].borrow();
    match &rec.result {
        Some(Err(EngineError::KvBudget { budget, .. })) => assert_eq!(*budget, largest),
        other => panic!("expected a KV budget error, got {other:?}"),
    }
}

#[test]
fn max_sequences_bounds_the_batch() {
    let e = shared();
    let reqs: Vec<_> = requests(e).into_iter().take(6).collect();
    let cfg = BatchConfig {
        max_sequences: 3,
        prefill_chunk: 16,
        kv_tokens: 1 << 20,
        prefix_entries: 0,
    };
    let (most, stats) = batched_equals_solo(e, cfg, &reqs);
    assert!(most <= 3, "{most} requests at once");
    assert!(
        stats.max_rows <= 3 + 16,
        "{} rows in a pass",
        stats.max_rows
    );
}

#[test]
fn a_shared_prefix_is_copied_not_recomputed_and_changes_nothing() {
    let e = shared();
    let system =
        "<|im_start|>system\nYou are a helpful assistant who answers questions about geography, \
                  history and science with short, precise answers.<|im_end|>\n";
    let ask = |q: &str| {
        e.encode_prompt(&format!(
            "{system}<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"
        ))
        .expect("encodes")
    };
    let g = params(RawParams {
        temperature: Some(0.0),
        max_new_tokens: Some(10),
        ..Default::default()
    });
    let reqs = vec![
        (ask("What is the capital of France?"), g.clone()),
        (ask("Who wrote Hamlet?"), g.clone()),
        (ask("What is the largest planet?"), g.clone()),
    ];
    let cfg = BatchConfig {
        max_sequences: 1,
        prefill_chunk: 512,
        kv_tokens: 1 << 20,
        prefix_entries: 4,
    };
    let (_, stats) = batched_equals_solo(e, cfg, &reqs);
    let shared_len = reqs[0]
        .0
        .iter()
        .zip(&reqs[1].0)
        .take_while(|(a, b)| a == b)
        .count();
    assert!(shared_len > 20, "the prompts share the system prompt");
    assert!(
        stats.prompt_tokens_reused >= 2 * shared_len as u64,
        "reused {} positions",
        stats.prompt_tokens_reused
    );
    let total: usize = reqs.iter().map(|r| r.0.len()).sum();
    assert_eq!(
        stats.prompt_tokens_computed + stats.prompt_tokens_reused,
        total as u64
    );
}

#[test]
fn cancelled_requests_leave_the_others_untouched() {
    let e = shared();
    let reqs: Vec<_> = requests(e).into_iter().take(6).collect();
    let want: Vec<Generation> = reqs.iter().map(|(p, g)| solo(e, p, g)).collect();
    let cfg = BatchConfig {
        max_sequences: 16,
        prefill_chunk: 64,
        kv_tokens: 1 << 20,
        prefix_entries: 0,
    };
    let cancel = [None, Some(3), None, None, Some(0), None];
    let (records, _, _) = batched(e, cfg, &reqs, &cancel);
    for (i, rec) in records.iter().enumerate() {
        let rec = rec.borrow();
        if cancel[i].is_some() {
            match &rec.result {
                Some(Ok(g)) => assert!(g
                    .completions
                    .iter()
                    .all(|c| c.finish_reason == textgen_core::engine::FinishReason::Cancelled)),
                Some(Err(EngineError::Cancelled)) => {}
                other => panic!("request {i}: {other:?}"),
            }
            assert!(
                rec.pieces <= cancel[i].unwrap_or(0) + 3,
                "request {i} stopped"
            );
        } else {
            assert_same(i, &rec, &want[i]);
        }
    }
}
