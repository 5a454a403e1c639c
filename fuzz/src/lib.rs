//! Shared set-up of the fuzz targets: the real model's tokenizer, loaded once per process.

use std::path::PathBuf;
use std::sync::OnceLock;
use textgen_core::tokenizer::Tokenizer;
use textgen_core::weights::Gguf;

/// The model the targets use: `TEXTGEN_FUZZ_MODEL`, else the repository's default model. A missing model
/// is a failure (run scripts/fetch-default-model.sh), never a silently weaker fuzz run.
pub fn model_path() -> PathBuf {
    std::env::var_os("TEXTGEN_FUZZ_MODEL").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        },
        PathBuf::from,
    )
}

/// The default model's tokenizer (with its chat template).
pub fn tokenizer() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let path = model_path();
        let gguf = Gguf::open(&path).unwrap_or_else(|e| {
            panic!(
                "fuzz set-up: cannot open {} ({e}); run scripts/fetch-default-model.sh",
                path.display()
            )
        });
        Tokenizer::from_gguf(&gguf)
            .unwrap_or_else(|e| panic!("fuzz set-up: tokenizer of {}: {e}", path.display()))
    })
}
