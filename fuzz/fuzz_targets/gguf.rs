//! Arbitrary bytes as a model file: parsing, the model's config and weights table, and the embedded
//! tokenizer must all fail with an error, never panic, hang or over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use textgen_core::model::Model;
use textgen_core::tokenizer::Tokenizer;
use textgen_core::weights::{Blob, Gguf};

fuzz_target!(|data: &[u8]| {
    let Ok(gguf) = Gguf::parse(Blob::from_vec(data.to_vec())) else {
        return;
    };
    let _ = Model::from_gguf(&gguf);
    let _ = Tokenizer::from_gguf(&gguf);
});
