//! Flags shared by every subcommand that loads a model, and the loading itself.

use crate::hub::RepoRef;
use crate::Failure;
use std::path::{Path, PathBuf};
use textgen_core::engine::{hf_folder, load_model, Engine, LoadError};
use textgen_core::weights::Quantize;

/// The default model location (fetched by scripts/fetch-default-model.sh).
pub const DEFAULT_MODEL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// `--quantize` targets.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum QuantizeArg {
    /// 8-bit blocks of 32 (near-lossless, ~1/4 of F32).
    #[value(name = "q8_0")]
    Q8_0,
    /// 4-bit k-quant super-blocks of 256 (rows that are no multiple of 256 get q8_0).
    #[value(name = "q4_k")]
    Q4K,
}

impl From<QuantizeArg> for Quantize {
    fn from(q: QuantizeArg) -> Self {
        match q {
            QuantizeArg::Q8_0 => Quantize::Q8_0,
            QuantizeArg::Q4K => Quantize::Q4K,
        }
    }
}

/// Which model to run and on how many threads.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// Model: a GGUF file, a Hugging Face folder (config.json, *.safetensors, tokenizer.json) or its
    /// config.json, or a Hugging Face Hub repository ORG/NAME[:FILE] (pulled into the HF cache).
    #[arg(long, short = 'm', env = "TEXTGEN_MODEL", default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Worker threads (default: all available cores).
    #[arg(long, short = 't', env = "TEXTGEN_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Quantize float (F32/F16/BF16) weight matrices at load time, for the fast quantized kernels.
    #[arg(long, value_enum)]
    pub quantize: Option<QuantizeArg>,
}

/// The one-line error for a model file that is not there (exit code 2).
fn not_found(p: &Path) -> Failure {
    Failure {
        message: format!(
            "model file not found: {} (run scripts/fetch-default-model.sh for the default model, \
             or pass --model FILE or a Hub repository ORG/NAME / set TEXTGEN_MODEL)",
            p.display()
        ),
        code: 2,
    }
}

impl ModelArgs {
    /// The same arguments with `model` a local path: the path itself when it exists, else a Hub
    /// repository `ORG/NAME[:FILE]` pulled into the cache (found there with `HF_HUB_OFFLINE`).
    pub fn resolved(&self) -> Result<ModelArgs, Failure> {
        if self.model.exists() {
            return Ok(self.clone());
        }
        let repo = self.model.to_str().and_then(RepoRef::from_model_arg);
        let Some(repo) = repo else {
            return Err(not_found(&self.model));
        };
        Ok(ModelArgs {
            model: crate::pull::fetch(&repo, "main")?,
            ..self.clone()
        })
    }

    /// The model's name for clients: the Hub repository (`ORG/NAME`), or the file name without extension.
    pub fn id(&self) -> String {
        match self.model.to_str().and_then(RepoRef::from_model_arg) {
            Some(r) if !self.model.exists() => r.repo,
            _ => self
                .model
                .file_stem()
                .map_or("textgen".to_string(), |s| s.to_string_lossy().into_owned()),
        }
    }

    /// The `generation_config.json` of a local Hugging Face folder, if it has one (call on `resolved()`).
    pub fn generation_config(&self) -> Option<PathBuf> {
        Some(hf_folder(&self.model)?.join("generation_config.json")).filter(|p| p.is_file())
    }

    /// Loads the model (pulling it first if it is a Hub repository) and starts its worker threads.
    pub fn load(&self) -> Result<Engine, Failure> {
        let resolved = self.resolved()?;
        let threads = self
            .threads
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let label = format!("loading {}", resolved.model.display());
        let quantize = self.quantize.map(Quantize::from);
        match crate::progress::with_spinner(&label, || load_model(&resolved.model, quantize)) {
            Ok((model, tokenizer)) => Ok(Engine::new(model, tokenizer, threads)),
            Err(LoadError::NotFound(p)) => Err(not_found(&p)),
            Err(e) => Err(Failure::new(format!("cannot load model: {e}"))),
        }
    }
}
