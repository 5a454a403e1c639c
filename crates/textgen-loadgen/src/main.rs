//! `textgen-loadgen`: N clients stream OpenAI chat and text completions (`stream: true`) from a textgen
//! server for a fixed time, check that every stream is well formed, and report requests, errors, time to
//! first token and inter-token latency (p50/p99). It speaks only the public HTTP API.

mod prompts;
mod stats;
mod stream;

use clap::Parser;
use stats::Summary;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Load generator for `textgen serve`.
#[derive(Parser, Debug)]
#[command(name = "textgen-loadgen", version, about)]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Concurrent streaming clients.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// Seconds to keep starting requests (requests under way then finish).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    duration: u64,
    /// Largest `max_tokens` of a request (each request draws 8 ..= this).
    #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u32).range(8..=4096))]
    max_tokens: u32,
    /// Bearer token, when the server requires one.
    #[arg(long, env = "TEXTGEN_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let deadline = Instant::now() + Duration::from_secs(a.duration);
    let target = Arc::new(stream::Target {
        base: a.url.trim_end_matches('/').to_string(),
        api_key: a.api_key.clone(),
    });
    let started = Instant::now();
    let workers: Vec<_> = (0..a.clients)
        .map(|c| {
            let target = target.clone();
            let max_tokens = a.max_tokens;
            std::thread::spawn(move || {
                let mut results = Vec::new();
                let mut k = 0u32;
                while Instant::now() < deadline {
                    let req = prompts::request(c, k, max_tokens);
                    results.push(stream::run(&target, &req));
                    k += 1;
                }
                results
            })
        })
        .collect();
    let mut results = Vec::new();
    for w in workers {
        match w.join() {
            Ok(r) => results.extend(r),
            Err(_) => {
                eprintln!("textgen-loadgen: a client thread panicked");
                return ExitCode::FAILURE;
            }
        }
    }
    let summary = Summary::of(&results, started.elapsed(), a.clients);
    if a.json {
        println!("{}", summary.json());
    } else {
        print!("{}", summary.text());
    }
    if summary.errors == 0 && summary.requests > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
