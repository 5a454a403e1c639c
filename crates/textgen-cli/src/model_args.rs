//! Flags shared by every subcommand that loads a model, and the loading itself.

use crate::Failure;
use std::path::PathBuf;
use textgen_core::engine::{load_gguf, Engine, LoadError};

/// The default model location (fetched by scripts/fetch-default-model.sh).
pub const DEFAULT_MODEL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Which model to run and on how many threads.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// Model file (GGUF).
    #[arg(long, short = 'm', env = "TEXTGEN_MODEL", default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Worker threads (default: all available cores).
    #[arg(long, short = 't', env = "TEXTGEN_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

impl ModelArgs {
    /// Loads the model and starts its worker threads.
    pub fn load(&self) -> Result<Engine, Failure> {
        let threads = self
            .threads
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        match load_gguf(&self.model) {
            Ok((model, tokenizer)) => Ok(Engine::new(model, tokenizer, threads)),
            Err(LoadError::NotFound(p)) => Err(Failure {
                message: format!(
                    "model file not found: {} (run scripts/fetch-default-model.sh for the default model, \
                     or pass --model / set TEXTGEN_MODEL)",
                    p.display()
                ),
                code: 2,
            }),
            Err(e) => Err(Failure::new(format!("cannot load model: {e}"))),
        }
    }
}
