//! Test support shared by the binary's tests.

use std::path::PathBuf;

/// The default model (tests fail, never skip, when it is missing).
pub fn model() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        p.is_file(),
        "default model missing at {}: run scripts/fetch-default-model.sh",
        p.display()
    );
    p
}

/// Running the binary and reading its output (each test binary uses only part of it).
#[allow(dead_code)]
pub mod run;

/// The server process and its client (each test binary uses only part of it).
#[allow(dead_code)]
pub mod server;

/// A local stand-in for the Hugging Face Hub (used by the pull tests).
#[allow(dead_code)]
pub mod mock_hub;
