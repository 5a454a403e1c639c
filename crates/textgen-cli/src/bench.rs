//! `textgen bench`: prompt-processing (pp) and token-generation (tg) speed measured like llama.cpp's
//! `llama-bench`, plus the cost of the sampling pipeline relative to a decode step.

use crate::model_args::ModelArgs;
use crate::outln;
use crate::Failure;
use serde_json::json;
use std::time::Instant;
use textgen_core::engine::Engine;
use textgen_core::model::Scratch;
use textgen_core::sampling::rng::Rng;
use textgen_core::sampling::{RawParams, Sampler};

/// Flags of `textgen bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Prompt sizes to measure (pp), comma-separated; 0 skips.
    #[arg(long, short = 'p', value_delimiter = ',', default_value = "512")]
    prompt: Vec<usize>,
    /// Generation lengths to measure (tg), comma-separated; 0 skips.
    #[arg(
        long = "gen",
        short = 'n',
        value_delimiter = ',',
        default_value = "128"
    )]
    gen: Vec<usize>,
    /// Repetitions of each test.
    #[arg(long, short = 'r', default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    repetitions: u32,
    /// Print one JSON object per test instead of a table.
    #[arg(long)]
    json: bool,
    /// Batched mode, like llama-batched-bench: parallel request counts, comma-separated (e.g. 1,4,16).
    #[arg(long, value_delimiter = ',')]
    parallel: Vec<usize>,
    /// Batched mode: prompt tokens per request.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=8192))]
    prompt_tokens: u32,
    /// Batched mode: tokens generated per request.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=8192))]
    gen_tokens: u32,
    /// Batched mode: prompt tokens processed per step (llama-batched-bench -ub 512 processes 512).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=65536))]
    prefill_chunk: u32,
}

/// Buffer read to measure memory bandwidth (well beyond any last-level cache).
const ROOFLINE_BUFFER: usize = 512 << 20;

/// Mean and sample standard deviation.
fn stats(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Random token ids (fixed seed), like llama-bench's synthetic prompts.
pub(crate) fn tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| (r.next_u64() % vocab as u64) as u32)
        .collect()
}

/// Seconds to prefill `n` tokens into an empty cache.
fn time_pp(e: &Engine, n: usize) -> Result<f64, Failure> {
    let toks = tokens(n, e.model.vocab_size(), 1);
    let mut cache = e.model.new_cache(n);
    let (mut scratch, mut logits) = (Scratch::default(), Vec::new());
    let t = Instant::now();
    e.prefill(&toks, &mut cache, &mut scratch, &mut logits)
        .map_err(Failure::new)?;
    Ok(t.elapsed().as_secs_f64())
}

/// Seconds to decode `n` tokens one at a time from an empty cache (greedy).
pub(crate) fn time_tg(e: &Engine, n: usize) -> Result<f64, Failure> {
    let mut cache = e.model.new_cache(n + 1);
    let (mut scratch, mut logits) = (Scratch::default(), Vec::new());
    let mut tok = 1u32;
    let t = Instant::now();
    for _ in 0..n {
        e.model
            .forward(&e.pool, &[tok], &mut cache, &mut scratch, 0, &mut logits)
            .map_err(Failure::new)?;
        tok = textgen_core::sampling::sampler::argmax(&logits);
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Microseconds per token of `Sampler::choose` on real logits with a 256-token history.
fn time_sampling(e: &Engine, raw: RawParams) -> Result<f64, Failure> {
    let vocab = e.model.vocab_size();
    let params = raw.validate(vocab, || 0).map_err(Failure::new)?;
    let history = tokens(256, vocab, 2);
    let mut cache = e.model.new_cache(history.len());
    let (mut scratch, mut logits) = (Scratch::default(), Vec::new());
    e.prefill(&history, &mut cache, &mut scratch, &mut logits)
        .map_err(Failure::new)?;
    let mut sampler = Sampler::new(&params, 0);
    let mut work = logits.clone();
    let iters = 200;
    let t = Instant::now();
    for _ in 0..iters {
        work.copy_from_slice(&logits);
        std::hint::black_box(sampler.choose(&mut work, &history, 128, e.tokenizer.eog_ids()));
    }
    Ok(t.elapsed().as_secs_f64() * 1e6 / iters as f64)
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<(), Failure> {
    let e = a.model.load()?;
    if !a.parallel.is_empty() {
        let sizes = crate::bench_parallel::Sizes {
            prompt: a.prompt_tokens as usize,
            gen: a.gen_tokens as usize,
            prefill_chunk: a.prefill_chunk as usize,
        };
        return crate::bench_parallel::run(&e, &a.parallel, &sizes, a.json);
    }
    let threads = e.pool.threads();
    let isa = textgen_core::kernels::dot::detect().name();
    let mut rows = Vec::new();
    let mut decode_step_us = None;
    for (kind, sizes) in [("pp", &a.prompt), ("tg", &a.gen)] {
        for &n in sizes.iter().filter(|&&n| n > 0) {
            let run = |e: &Engine| {
                if kind == "pp" {
                    time_pp(e, n)
                } else {
                    time_tg(e, n)
                }
            };
            run(&e)?; // warm-up: page in the weights, size the buffers
            let mut rates = Vec::new();
            for _ in 0..a.repetitions {
                rates.push(n as f64 / run(&e)?);
            }
            let (mean, sd) = stats(&rates);
            if kind == "tg" {
                decode_step_us = Some(1e6 / mean);
            }
            rows.push((format!("{kind}{n}"), mean, sd));
        }
    }
    let all = RawParams {
        temperature: Some(0.8),
        top_k: Some(40),
        top_p: Some(0.95),
        min_p: Some(0.05),
        typical_p: Some(0.95),
        repetition_penalty: Some(1.1),
        frequency_penalty: Some(0.5),
        presence_penalty: Some(0.5),
        no_repeat_ngram_size: Some(3),
        logit_bias: [(13, 2.0), (42, -100.0)].into_iter().collect(),
        ..Default::default()
    };
    let greedy_us = time_sampling(
        &e,
        RawParams {
            temperature: Some(0.0),
            ..Default::default()
        },
    )?;
    let all_us = time_sampling(&e, all)?;
    // The memory-bound ceiling of decode: weights read per token against the machine's read bandwidth.
    let roofline = decode_step_us.map(|step| {
        let bytes = e.model.decode_weight_bytes() as f64;
        let read = textgen_core::kernels::bandwidth::read_bandwidth(&e.pool, ROOFLINE_BUFFER, 3);
        (
            bytes / 1e6,
            read / 1e9,
            read / bytes,
            bytes / (step * 1e-6) / 1e9,
        )
    });
    let model = a.model.model.display().to_string();
    if a.json {
        for (test, mean, sd) in &rows {
            outln!(
                "{}",
                json!({"model": model, "threads": threads, "isa": isa, "test": test, "t/s": mean, "stddev": sd})
            );
        }
        outln!(
            "{}",
            json!({"model": model, "test": "sampling", "greedy_us": greedy_us, "all_processors_us": all_us,
                   "decode_step_us": decode_step_us})
        );
        if let Some((mb, read, ceiling, used)) = roofline {
            outln!(
                "{}",
                json!({"model": model, "threads": threads, "test": "roofline", "weights_mb_per_token": mb,
                       "read_gb_s": read, "ceiling_t/s": ceiling, "decode_gb_s": used})
            );
        }
    } else {
        outln!("| model | threads | isa | test | t/s |\n|---|---|---|---|---|");
        for (test, mean, sd) in &rows {
            outln!("| {model} | {threads} | {isa} | {test} | {mean:.2} ± {sd:.2} |");
        }
        let share = decode_step_us.map_or(String::new(), |d| {
            format!(" = {:.2}% of a decode step", 100.0 * all_us / d)
        });
        outln!(
            "\nsampling per token: greedy {greedy_us:.1} µs, all processors {all_us:.1} µs{share}"
        );
        if let Some((mb, read, ceiling, used)) = roofline {
            outln!(
                "memory roofline: decode reads {mb:.1} MB of weights per token; this machine reads {read:.2} GB/s \
                 with {threads} threads, a ceiling of {ceiling:.1} t/s; the last tg test used {used:.2} GB/s"
            );
        }
    }
    Ok(())
}
