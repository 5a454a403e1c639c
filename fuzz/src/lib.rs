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

/// Which byte values the tokenizer can spell with a token of their own. Byte-level BPE drops a byte that
/// has none (SmolLM2's vocabulary lacks 21: the controls 0x04 0x06 0x13 0x14 0x16 0x1d and lead bytes that
/// valid UTF-8 never or almost never uses), exactly as Hugging Face `tokenizers` does.
pub fn spellable_bytes() -> &'static [bool; 256] {
    static BYTES: OnceLock<[bool; 256]> = OnceLock::new();
    BYTES.get_or_init(|| {
        let tok = tokenizer();
        let mut have = [false; 256];
        for id in 0..tok.vocab_size() as u32 {
            if let [b] = tok.token_bytes(id) {
                if !tok.is_special(id) {
                    have[*b as usize] = true;
                }
            }
        }
        have
    })
}
