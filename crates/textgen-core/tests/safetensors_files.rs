//! Safetensors checkpoints: single and sharded files read zero-copy in GGML dim order; every malformed file
//! yields a clear error, never a panic.

use std::path::{Path, PathBuf};
use textgen_core::weights::{Blob, GgmlType, SafeTensors, SafetensorsError, TensorSet};

/// A safetensors image of `(name, dtype, shape, bytes)` tensors laid out back to back.
fn image(tensors: &[(&str, &str, &[u64], Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let begin = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [begin, data.len()]}),
        );
    }
    let h = serde_json::to_vec(&header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn parse(bytes: Vec<u8>) -> Result<SafeTensors, SafetensorsError> {
    SafeTensors::parse(Blob::from_vec(bytes), Path::new("test.safetensors"))
}

/// A fresh empty folder under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("textgen-st-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn shapes_are_reversed_and_data_is_the_files_bytes() {
    let w = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let st = parse(image(&[
        ("w", "F32", &[2, 3], w.clone()),
        ("h", "F16", &[4], vec![0, 60, 0, 60, 0, 60, 0, 60]),
        ("b", "BF16", &[], vec![128, 63]),
    ]))
    .unwrap();
    let t = st.get("w").unwrap();
    assert_eq!((t.ty, t.dims.clone()), (GgmlType::F32, vec![3, 2]));
    assert_eq!(t.data.bytes(), &w[..]);
    assert_eq!(st.get("h").unwrap().ty, GgmlType::F16);
    let b = st.get("b").unwrap();
    assert_eq!((b.ty, b.dims.clone()), (GgmlType::BF16, vec![1]));
    assert_eq!(st.all().len(), 3);
    assert!(st
        .require("nope")
        .unwrap_err()
        .to_string()
        .contains("'nope'"));
}

#[test]
fn unsupported_dtype_names_it_and_the_supported_list() {
    let e = parse(image(&[("ids", "I64", &[2], vec![0; 16])])).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SafetensorsError::UnsupportedDtype { .. }));
    assert!(
        msg.contains("I64") && msg.contains("F32, F16, BF16") && msg.contains("ids"),
        "{msg}"
    );
}

#[test]
fn inconsistent_files_are_errors() {
    let good = image(&[("w", "F32", &[2], f32_bytes(&[1.0, 2.0]))]);
    // Header length past the end of the file.
    let mut b = good.clone();
    b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(parse(b).unwrap_err().to_string().contains("header"));
    // Truncated data section.
    let mut b = good.clone();
    b.truncate(b.len() - 1);
    assert!(parse(b).unwrap_err().to_string().contains("outside"));
    // Offsets that do not match the shape.
    let e = parse(image(&[("w", "F32", &[3], f32_bytes(&[1.0, 2.0]))])).unwrap_err();
    assert!(e.to_string().contains("data_offsets"), "{e}");
    // Too short for the header length, zero-sized dims, rank 5, not JSON.
    assert!(parse(vec![1, 2, 3]).is_err());
    assert!(parse(image(&[("z", "F32", &[0, 2], vec![])])).is_err());
    assert!(parse(image(&[("r", "F32", &[1, 1, 1, 1, 1], vec![0; 4])])).is_err());
    let mut b = 4u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"nope");
    assert!(parse(b).is_err());
}

#[test]
fn random_corruption_never_panics() {
    let orig = image(&[
        ("a", "F32", &[4, 2], f32_bytes(&[0.5; 8])),
        ("b", "BF16", &[8], vec![0; 16]),
    ]);
    let mut x = 99u64;
    for _ in 0..3000 {
        let mut b = orig.clone();
        for _ in 0..3 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (x >> 33) as usize % b.len();
            b[i] = (x >> 17) as u8;
        }
        let _ = parse(b); // must return, Ok or Err
    }
}

fn write_sharded(dir: &Path, index: serde_json::Value) {
    std::fs::write(
        dir.join("model-00001-of-00002.safetensors"),
        image(&[("a", "F32", &[2], f32_bytes(&[1.0, 2.0]))]),
    )
    .unwrap();
    std::fs::write(
        dir.join("model-00002-of-00002.safetensors"),
        image(&[("b", "F32", &[1], f32_bytes(&[3.0]))]),
    )
    .unwrap();
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
}

#[test]
fn sharded_checkpoint_reads_every_shard() {
    let dir = temp_dir("sharded");
    write_sharded(
        &dir,
        serde_json::json!({"metadata": {}, "weight_map": {
            "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}),
    );
    let st = SafeTensors::open_dir(&dir).unwrap();
    assert_eq!(
        st.get("a").unwrap().data.bytes(),
        &f32_bytes(&[1.0, 2.0])[..]
    );
    assert_eq!(st.get("b").unwrap().data.bytes(), &f32_bytes(&[3.0])[..]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_indexes_are_errors() {
    let dir = temp_dir("badindex");
    let shard1 = "model-00001-of-00002.safetensors";
    for (index, needle) in [
        (
            serde_json::json!({"weight_map": {"a": "model-00002-of-00002.safetensors"}}),
            "'a'",
        ),
        (
            serde_json::json!({"weight_map": {"a": "../x.safetensors"}}),
            "plain file name",
        ),
        (
            serde_json::json!({"weight_map": {"a": "missing.safetensors"}}),
            "missing.safetensors",
        ),
        (serde_json::json!({"weights": {"a": shard1}}), "weight_map"),
    ] {
        write_sharded(&dir, index);
        let e = SafeTensors::open_dir(&dir).unwrap_err().to_string();
        assert!(e.contains(needle), "{e} lacks {needle}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let empty = temp_dir("empty");
    let e = SafeTensors::open_dir(&empty).unwrap_err();
    assert!(matches!(e, SafetensorsError::NoCheckpoint(_)), "{e}");
    std::fs::remove_dir_all(&empty).unwrap();
}
