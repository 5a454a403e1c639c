//! Bad model files: every malformed GGUF yields a clear error, never a panic.

mod common;

use common::*;
use textgen_core::engine::{load_gguf, LoadError};
use textgen_core::model::{Model, ModelError};
use textgen_core::tokenizer::Tokenizer;
use textgen_core::weights::{Blob, Gguf, GgufError};

fn parse(bytes: Vec<u8>) -> Result<Gguf, GgufError> {
    Gguf::parse(Blob::from_vec(bytes))
}

fn build(bytes: Vec<u8>) -> Result<(), String> {
    let g = parse(bytes).map_err(|e| e.to_string())?;
    Model::from_gguf(&g).map_err(|e| e.to_string())?;
    Tokenizer::from_gguf(&g).map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn tiny_valid_model_loads() {
    build(tiny_llama("llama")).unwrap();
}

#[test]
fn wrong_magic() {
    let mut b = tiny_llama("llama");
    b[..4].copy_from_slice(b"GGML");
    assert!(matches!(parse(b), Err(GgufError::BadMagic(_))));
}

#[test]
fn unsupported_versions() {
    for v in [0u32, 1, 4, 99] {
        let mut b = tiny_llama("llama");
        b[4..8].copy_from_slice(&v.to_le_bytes());
        let e = parse(b).unwrap_err();
        assert!(
            matches!(e, GgufError::UnsupportedVersion(x) if x == v),
            "{e}"
        );
    }
}

#[test]
fn every_truncation_is_an_error() {
    let b = tiny_llama("llama");
    for cut in (0..b.len()).step_by(7) {
        let r = build(b[..cut].to_vec());
        assert!(
            r.is_err(),
            "file cut at {cut} of {} bytes was accepted",
            b.len()
        );
    }
}

#[test]
fn impossible_counts_do_not_allocate() {
    let mut b = tiny_llama("llama");
    b[8..16].copy_from_slice(&u64::MAX.to_le_bytes()); // tensor count
    assert!(matches!(parse(b), Err(GgufError::Truncated(_))));
    let mut b = tiny_llama("llama");
    b[16..24].copy_from_slice(&(1u64 << 60).to_le_bytes()); // metadata count
    assert!(matches!(parse(b), Err(GgufError::Truncated(_))));
}

#[test]
fn unknown_tensor_type() {
    let t = Tensor {
        name: "w".into(),
        dims: vec![4],
        ty: 99,
        data: vec![0; 16],
    };
    let e = parse(write_gguf(&[], &[t])).unwrap_err();
    assert!(
        matches!(e, GgufError::UnsupportedTensorType { id: 99, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("Q4_K"),
        "error lists supported types: {e}"
    );
}

#[test]
fn tensor_data_out_of_bounds() {
    let mut b = write_gguf(&[], &[f32_tensor("w", &[8], 0)]);
    b.truncate(b.len() - 4);
    assert!(matches!(parse(b), Err(GgufError::TensorOutOfBounds { .. })));
    // An offset far past the end: header (24) + name (8 + 1) + n_dims (4) + dim (8) + type (4), then offset.
    let mut b = write_gguf(&[], &[f32_tensor("w", &[8], 0)]);
    let off_at = 24 + 8 + 1 + 4 + 8 + 4;
    b[off_at..off_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(parse(b), Err(GgufError::TensorOutOfBounds { .. })));
}

#[test]
fn row_not_multiple_of_block() {
    let t = Tensor {
        name: "q".into(),
        dims: vec![40, 1],
        ty: 3,
        data: vec![0; 40],
    }; // Q4_1 needs 32 | 40
    assert!(matches!(
        parse(write_gguf(&[], &[t])),
        Err(GgufError::Corrupt(_))
    ));
}

#[test]
fn unsupported_architecture_names_supported_list() {
    let g = parse(tiny_llama("gptj")).unwrap();
    let e = Model::from_gguf(&g).err().unwrap();
    assert!(matches!(e, ModelError::UnsupportedArchitecture { .. }));
    assert!(
        e.to_string().contains("'gptj'") && e.to_string().contains("(supported: llama, gpt2)"),
        "{e}"
    );
}

#[test]
fn missing_tensor_is_named() {
    // Rename one tensor so the model lacks it.
    let mut b = tiny_llama("llama");
    let at = b
        .windows(19)
        .position(|w| w == b"blk.1.ffn_up.weight")
        .unwrap();
    b[at..at + 19].copy_from_slice(b"blk.1.ffn_xx.weight");
    let e = build(b).unwrap_err();
    assert!(e.contains("blk.1.ffn_up.weight"), "{e}");
}

#[test]
fn random_corruption_never_panics() {
    let orig = tiny_llama("llama");
    let mut x = 12345u64;
    for _ in 0..3000 {
        let mut b = orig.clone();
        for _ in 0..3 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (x >> 33) as usize % 4096.min(b.len());
            b[i] = (x >> 17) as u8;
        }
        let _ = build(b); // must return, Ok or Err
    }
}

#[test]
fn missing_file_is_not_found() {
    let e = load_gguf(std::path::Path::new("/nonexistent/model.gguf"))
        .err()
        .unwrap();
    assert!(matches!(e, LoadError::NotFound(_)));
}
