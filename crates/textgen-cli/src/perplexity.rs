//! `textgen perplexity`: perplexity of a text file, comparable with llama.cpp's llama-perplexity.

use crate::model_args::ModelArgs;
use crate::outln;
use crate::Failure;
use std::path::PathBuf;

/// Flags of `textgen perplexity`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The text file.
    #[arg(long, short = 'f')]
    file: PathBuf,
    /// Context size of each chunk.
    #[arg(long, short = 'c', default_value_t = 512, value_parser = clap::value_parser!(u32).range(4..))]
    ctx: u32,
    #[command(flatten)]
    model: ModelArgs,
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<(), Failure> {
    let text = std::fs::read(&a.file)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", a.file.display())))?;
    let text = String::from_utf8_lossy(&text);
    let engine = a.model.load()?;
    let tokens = engine.tokenizer.encode(&text, true).map_err(Failure::new)?;
    eprintln!("{} tokens, ctx {}", tokens.len(), a.ctx);
    let start = std::time::Instant::now();
    let ppl = engine
        .perplexity(&tokens, a.ctx as usize, |p| {
            eprint!("[{}]{:.4},", p.chunks, p.value())
        })
        .map_err(Failure::new)?;
    eprintln!();
    outln!(
        "PPL = {:.4} over {} tokens in {} chunks of {} ({:.1} s)",
        ppl.value(),
        ppl.scored,
        ppl.chunks,
        a.ctx,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
