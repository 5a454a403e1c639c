//! Reading weights out of a tensor set (GGUF names) with their shapes checked against the model's config.

use super::ModelError;
use crate::kernels::QMatrix;
use crate::weights::dequant::dequantize;
use crate::weights::{TensorInfo, TensorSet};

/// The `cols × rows` (GGML order) matrix `name`, kept in its file format.
pub(super) fn matrix(
    g: &dyn TensorSet,
    name: &str,
    cols: usize,
    rows: usize,
) -> Result<QMatrix, ModelError> {
    let t = g.require(name)?;
    shaped(t, &[cols, rows])?;
    QMatrix::from_tensor(t).map_err(|got| ModelError::BadTensorShape {
        name: name.into(),
        expected: vec![cols, rows],
        got,
    })
}

/// The vector `name` of `n` elements, dequantized to f32.
pub(super) fn vector(g: &dyn TensorSet, name: &str, n: usize) -> Result<Vec<f32>, ModelError> {
    let t = g.require(name)?;
    shaped(t, &[n])?;
    let mut v = vec![0.0; n];
    dequantize(t.ty, t.data.bytes(), &mut v);
    Ok(v)
}

/// The vector `name` of `n` elements if the set has it (an optional bias).
pub(super) fn opt_vector(
    g: &dyn TensorSet,
    name: &str,
    n: usize,
) -> Result<Option<Vec<f32>>, ModelError> {
    match g.get(name) {
        Some(_) => vector(g, name, n).map(Some),
        None => Ok(None),
    }
}

/// The output head `output.weight` (`n_embd × vocab`), or the token embedding itself when the model ties them.
pub(super) fn output_head(
    g: &dyn TensorSet,
    embedding: &QMatrix,
    n_embd: usize,
    vocab: usize,
) -> Result<QMatrix, ModelError> {
    match g.get("output.weight") {
        Some(_) => matrix(g, "output.weight", n_embd, vocab),
        None => Ok(embedding.clone()),
    }
}

/// The vocabulary size: the row count of the `n_embd`-wide token embedding `name`.
pub(super) fn vocab_rows(
    g: &dyn TensorSet,
    name: &str,
    n_embd: usize,
) -> Result<usize, ModelError> {
    let emb = g.require(name)?;
    match emb.dims[..] {
        [c, v] if c == n_embd && v > 0 => Ok(v),
        _ => Err(ModelError::BadTensorShape {
            name: emb.name.clone(),
            expected: vec![n_embd, 0],
            got: emb.dims.clone(),
        }),
    }
}

fn shaped(t: &TensorInfo, expected: &[usize]) -> Result<(), ModelError> {
    if t.dims != expected {
        return Err(ModelError::BadTensorShape {
            name: t.name.clone(),
            expected: expected.to_vec(),
            got: t.dims.clone(),
        });
    }
    Ok(())
}
