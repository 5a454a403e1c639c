//! Access to the real default model for tests: missing means failure, never a skip.

use std::path::PathBuf;
use std::sync::OnceLock;
use textgen_core::engine::{load_gguf, Engine};

/// The default model's path (`TEXTGEN_MODEL` or `models/` at the workspace root).
pub fn model_path() -> PathBuf {
    let p = std::env::var_os("TEXTGEN_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    assert!(
        p.is_file(),
        "the default model is missing at {}: run scripts/fetch-default-model.sh",
        p.display()
    );
    p
}

/// A fresh engine on the default model with `threads` threads.
pub fn engine(threads: usize) -> Engine {
    let (m, t) = load_gguf(&model_path()).expect("default model loads");
    Engine::new(m, t, threads)
}

/// One engine shared by the tests of a binary (2 threads).
pub fn shared() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| engine(2))
}
