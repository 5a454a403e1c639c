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

/// The one-line error for a model file that is not there (exit code 2).
fn not_found(p: &std::path::Path) -> Failure {
    Failure {
        message: format!(
            "model file not found: {} (run scripts/fetch-default-model.sh for the default model, \
             or pass --model / set TEXTGEN_MODEL)",
            p.display()
        ),
        code: 2,
    }
}

impl ModelArgs {
    /// Fails like `load` would when the model file is missing, without loading it.
    pub fn check_exists(&self) -> Result<(), Failure> {
        if self.model.is_file() {
            Ok(())
        } else {
            Err(not_found(&self.model))
        }
    }

    /// Loads the model and starts its worker threads.
    pub fn load(&self) -> Result<Engine, Failure> {
        let threads = self
            .threads
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let label = format!("loading {}", self.model.display());
        match crate::progress::with_spinner(&label, || load_gguf(&self.model)) {
            Ok((model, tokenizer)) => Ok(Engine::new(model, tokenizer, threads)),
            Err(LoadError::NotFound(p)) => Err(not_found(&p)),
            Err(e) => Err(Failure::new(format!("cannot load model: {e}"))),
        }
    }
}
