//! `textgen bench --parallel`: aggregate throughput of continuous batching, measured like llama.cpp's
//! `llama-batched-bench` (B parallel requests, each PP prompt tokens then TG generated tokens), plus each
//! request's time to first token.

use crate::outln;
use crate::Failure;
use serde_json::json;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;
use textgen_core::engine::{
    BatchConfig, Batcher, Engine, EngineError, Flow, Generation, Piece, Sink,
};
use textgen_core::sampling::RawParams;

/// Sizes of one batched measurement.
pub struct Sizes {
    /// Prompt tokens per request.
    pub prompt: usize,
    /// Generated tokens per request.
    pub gen: usize,
    /// Prompt tokens per step.
    pub prefill_chunk: usize,
}

/// One row of the table.
struct Row {
    parallel: usize,
    t_pp: f64,
    t_tg: f64,
    ttft_mean: f64,
    ttft_max: f64,
}

/// Notes when a request's first token arrives and whether it failed.
struct Timer {
    first: Rc<Cell<Option<Instant>>>,
    failed: Rc<Cell<bool>>,
}

impl Sink for Timer {
    fn piece(&mut self, _: Piece) -> Flow {
        if self.first.get().is_none() {
            self.first.set(Some(Instant::now()));
        }
        Flow::Continue
    }

    fn done(&mut self, result: Result<Generation, EngineError>) {
        self.failed.set(result.is_err());
    }
}

/// Runs `parallel` requests of random prompts together, greedy, exactly `gen` tokens each.
fn measure(e: &Engine, parallel: usize, s: &Sizes) -> Result<Row, Failure> {
    let vocab = e.model.vocab_size();
    let params = RawParams {
        temperature: Some(0.0),
        max_new_tokens: Some(s.gen as i64),
        ignore_eos: true,
        ..Default::default()
    }
    .validate(vocab, || 0)
    .map_err(Failure::new)?;
    let cfg = BatchConfig {
        max_sequences: parallel,
        prefill_chunk: s.prefill_chunk,
        kv_tokens: usize::MAX,
        prefix_entries: 0,
    };
    let mut b = Batcher::new(e, cfg);
    let failed = Rc::new(Cell::new(false));
    let firsts: Vec<Rc<Cell<Option<Instant>>>> = (0..parallel).map(|_| Rc::default()).collect();
    let t0 = Instant::now();
    for (i, first) in firsts.iter().enumerate() {
        let prompt = crate::bench::tokens(s.prompt, vocab, 100 + i as u64);
        let timer = Timer {
            first: first.clone(),
            failed: failed.clone(),
        };
        b.submit(prompt, params.clone(), Box::new(timer));
    }
    while !b.is_idle() {
        b.step();
    }
    let total = t0.elapsed().as_secs_f64();
    if failed.get() {
        return Err(Failure::new("a benchmark request failed"));
    }
    let ttfts: Vec<f64> = firsts
        .iter()
        .map(|f| f.get().map_or(total, |t| (t - t0).as_secs_f64()))
        .collect();
    let t_pp = ttfts.iter().copied().fold(0.0, f64::max);
    Ok(Row {
        parallel,
        t_pp,
        t_tg: total - t_pp,
        ttft_mean: ttfts.iter().sum::<f64>() / parallel as f64,
        ttft_max: t_pp,
    })
}

/// Measures every parallel count in `parallel` and prints a table (or JSON lines).
pub fn run(e: &Engine, parallel: &[usize], s: &Sizes, json_out: bool) -> Result<(), Failure> {
    measure(e, 1, s)?; // warm-up: page in the weights, size the buffers
    let unbatched = s.gen as f64 / crate::bench::time_tg(e, s.gen)?;
    let mut rows = Vec::new();
    for &p in parallel.iter().filter(|&&p| p > 0) {
        rows.push(measure(e, p, s)?);
    }
    let threads = e.pool.threads();
    // The first token of each request comes with its prompt; the other gen - 1 are decode steps.
    let decoded = |r: &Row| (r.parallel * (s.gen.saturating_sub(1))) as f64;
    if json_out {
        for r in &rows {
            outln!(
                "{}",
                json!({"test": "batched", "threads": threads, "pp": s.prompt, "tg": s.gen, "parallel": r.parallel,
                       "t_pp": r.t_pp, "s_pp": (r.parallel * s.prompt) as f64 / r.t_pp,
                       "t_tg": r.t_tg, "s_tg": decoded(r) / r.t_tg,
                       "ttft_mean": r.ttft_mean, "ttft_max": r.ttft_max,
                       "unbatched_tg": unbatched})
            );
        }
        return Ok(());
    }
    outln!(
        "| PP | TG | B | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s | TTFT mean s | TTFT max s |"
    );
    outln!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let total = r.t_pp + r.t_tg;
        outln!(
            "| {} | {} | {} | {:.3} | {:.2} | {:.3} | {:.2} | {:.3} | {:.2} | {:.3} | {:.3} |",
            s.prompt,
            s.gen,
            r.parallel,
            r.t_pp,
            (r.parallel * s.prompt) as f64 / r.t_pp,
            r.t_tg,
            decoded(r) / r.t_tg,
            total,
            (r.parallel * (s.prompt + s.gen)) as f64 / total,
            r.ttft_mean,
            r.ttft_max,
        );
    }
    outln!("\nunbatched decode (one sequence, plain forward loop): {unbatched:.2} t/s, {threads} threads");
    Ok(())
}
