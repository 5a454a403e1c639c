//! `textgen generate`: stream a continuation of a prompt to stdout.

use crate::interrupt;
use crate::model_args::ModelArgs;
use crate::Failure;
use std::io::Write;
use textgen_core::engine::Flow;
use textgen_core::sampling::{params::defaults, RawParams};

/// Flags of `textgen generate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The prompt (empty: start from the model's BOS token).
    #[arg(default_value = "")]
    prompt: String,
    #[command(flatten)]
    model: ModelArgs,
    /// Maximum number of tokens to generate.
    #[arg(long, short = 'n', default_value_t = defaults::MAX_NEW_TOKENS as i64, allow_negative_numbers = true)]
    max_tokens: i64,
    /// Sampling temperature; 0 = greedy (always the most likely token).
    #[arg(long, default_value_t = defaults::TEMPERATURE, allow_negative_numbers = true)]
    temperature: f32,
    /// Sample only among the k most likely tokens (>= 1).
    #[arg(long, default_value_t = defaults::TOP_K as i64, allow_negative_numbers = true)]
    top_k: i64,
    /// Sample only from the smallest set of tokens whose probability reaches p, in (0, 1].
    #[arg(long, default_value_t = defaults::TOP_P, allow_negative_numbers = true)]
    top_p: f32,
    /// Random seed for reproducible sampling (default: random).
    #[arg(long)]
    seed: Option<u64>,
    /// Print the prompt before the generated text.
    #[arg(long)]
    echo: bool,
    /// Print timings (prompt and generation tokens/s) to stderr.
    #[arg(long, short = 'v')]
    verbose: bool,
}

fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ ((std::process::id() as u64) << 32)
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<(), Failure> {
    let raw = RawParams {
        max_new_tokens: Some(a.max_tokens),
        temperature: Some(a.temperature),
        top_k: Some(a.top_k),
        top_p: Some(a.top_p),
        seed: a.seed,
        greedy: false,
    };
    let params = raw.validate(random_seed).map_err(|e| Failure {
        message: format!("{e} (see textgen generate --help)"),
        code: 2,
    })?;
    let engine = a.model.load()?;
    let prompt = engine.encode_prompt(&a.prompt).map_err(Failure::new)?;
    let mut out = std::io::stdout().lock();
    if a.echo {
        let _ = write!(out, "{}", a.prompt);
    }
    interrupt::set_streaming(true);
    let result = engine
        .generate(&prompt, &params, |piece| {
            // A closed stdout (e.g. `| head`) or Ctrl-C / SIGTERM ends generation quietly.
            match out.write_all(piece.as_bytes()).and_then(|_| out.flush()) {
                Ok(()) if !interrupt::requested() => Flow::Continue,
                _ => Flow::Stop,
            }
        })
        .map_err(Failure::new)?;
    interrupt::set_streaming(false);
    let _ = writeln!(out);
    if a.verbose {
        let t = result.timings;
        let rate = |n: usize, d: std::time::Duration| n as f64 / d.as_secs_f64().max(1e-9);
        eprintln!(
            "prompt: {} tokens in {:.1} ms ({:.1} tok/s) | generation: {} tokens in {:.1} ms ({:.1} tok/s) | \
             finish: {}",
            result.prompt_tokens,
            t.prompt.as_secs_f64() * 1e3,
            rate(result.prompt_tokens, t.prompt),
            result.tokens.len(),
            t.generation.as_secs_f64() * 1e3,
            rate(result.tokens.len(), t.generation),
            result.finish_reason.as_str(),
        );
    }
    if interrupt::requested() {
        return Err(Failure {
            message: String::new(),
            code: interrupt::EXIT_CODE,
        });
    }
    Ok(())
}
