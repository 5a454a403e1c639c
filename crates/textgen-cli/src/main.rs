//! `textgen`: generate text with a language model on the CPU.

mod bench;
mod bench_parallel;
mod generate;
mod healthcheck;
mod interrupt;
mod model_args;
mod perplexity;
mod serve;
mod tokenize;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Fast CPU text generation with real language models (GGUF), no Python, no GPU.
#[derive(Parser)]
#[command(name = "textgen", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  textgen \"Once upon a time\"                      generate (shorthand for `textgen generate`)
  textgen generate \"Hello\" --temperature 0 -n 32  greedy, 32 tokens
  textgen perplexity --file notes.txt --ctx 512
  textgen serve --port 8080                         OpenAI-compatible HTTP API";

#[derive(Subcommand)]
enum Command {
    /// Generate a continuation of a prompt, streamed to stdout.
    Generate(Box<generate::Args>),
    /// Perplexity of a text file, computed as llama.cpp's llama-perplexity does.
    Perplexity(perplexity::Args),
    /// Show the token ids of a text.
    Tokenize(tokenize::Args),
    /// Measure prompt processing and generation speed (like llama-bench) and the sampling cost.
    Bench(bench::Args),
    /// Serve the model over HTTP (OpenAI-compatible API, health, metrics).
    Serve(Box<serve::Args>),
    /// Exit 0 when the local server is healthy (for container health checks).
    Healthcheck(healthcheck::Args),
}

const SUBCOMMANDS: &[&str] = &[
    "generate",
    "perplexity",
    "tokenize",
    "bench",
    "serve",
    "healthcheck",
    "help",
];

/// A user-facing failure: message for stderr and the process exit code.
pub struct Failure {
    /// One-line message.
    pub message: String,
    /// Exit code (2: bad invocation or missing model, 1: anything else).
    pub code: u8,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: 1,
        }
    }
}

/// `textgen PROMPT [FLAGS]` is shorthand for `textgen generate PROMPT [FLAGS]`.
fn with_default_subcommand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    let is_top_level_flag = matches!(first, "-h" | "--help" | "-V" | "--version");
    if args.len() == 1 || !(SUBCOMMANDS.contains(&first) || is_top_level_flag) {
        args.insert(1, "generate".into());
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(with_default_subcommand(std::env::args_os().collect()));
    // The server handles its own signals (graceful drain); every other command uses the simple handler.
    if !matches!(cli.command, Command::Serve(_)) {
        interrupt::install();
    }
    let result = match cli.command {
        Command::Generate(a) => generate::run(*a),
        Command::Perplexity(a) => perplexity::run(a),
        Command::Tokenize(a) => tokenize::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Serve(a) => serve::run(*a),
        Command::Healthcheck(a) => healthcheck::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
