//! Reading the transformers reference fixtures and running an engine on them.

use serde_json::Value;
use std::path::Path;
use textgen_core::engine::Engine;
use textgen_core::model::Scratch;

/// A JSON fixture file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A JSON array of token ids.
pub fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A JSON array of numbers, or of arrays of numbers, flattened to f32.
pub fn f32s(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(items) => items.iter().flat_map(f32s).collect(),
        x => vec![x.as_f64().unwrap() as f32],
    }
}

/// The largest absolute difference between two equally long vectors.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Logits of every position of `ids` in one pass from an empty cache.
pub fn logits(e: &Engine, ids: &[u32]) -> Vec<f32> {
    let mut cache = e.model.new_cache(ids.len());
    let mut out = Vec::new();
    e.model
        .forward(
            &e.pool,
            ids,
            &mut cache,
            &mut Scratch::default(),
            0,
            &mut out,
        )
        .unwrap();
    out
}
