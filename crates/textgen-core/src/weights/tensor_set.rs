//! Tensors looked up by name, whatever file format holds them (GGUF, safetensors, or an owned set).

use super::gguf::{Gguf, TensorInfo};
use std::collections::HashMap;

/// A tensor a model needs is not in the set.
#[derive(Debug, thiserror::Error)]
#[error("tensor '{0}' is missing")]
pub struct MissingTensor(pub String);

/// A set of named tensors that model constructors read from.
pub trait TensorSet {
    /// The tensor called `name`, if present.
    fn get(&self, name: &str) -> Option<&TensorInfo>;
    /// Every tensor, in the set's order.
    fn all(&self) -> &[TensorInfo];
    /// The tensor called `name`, or an error naming it.
    fn require(&self, name: &str) -> Result<&TensorInfo, MissingTensor> {
        self.get(name)
            .ok_or_else(|| MissingTensor(name.to_string()))
    }
}

impl TensorSet for Gguf {
    fn get(&self, name: &str) -> Option<&TensorInfo> {
        self.try_tensor(name)
    }

    fn all(&self) -> &[TensorInfo] {
        &self.tensors
    }
}

/// An owned set of tensors (e.g. renamed from a checkpoint, or quantized at load time).
#[derive(Debug, Default)]
pub struct TensorMap {
    tensors: Vec<TensorInfo>,
    index: HashMap<String, usize>,
}

impl TensorMap {
    /// Adds `t`, replacing any tensor of the same name.
    pub fn insert(&mut self, t: TensorInfo) {
        match self.index.get(&t.name) {
            Some(&i) => self.tensors[i] = t,
            None => {
                self.index.insert(t.name.clone(), self.tensors.len());
                self.tensors.push(t);
            }
        }
    }
}

impl TensorSet for TensorMap {
    fn get(&self, name: &str) -> Option<&TensorInfo> {
        self.index.get(name).map(|&i| &self.tensors[i])
    }

    fn all(&self) -> &[TensorInfo] {
        &self.tensors
    }
}
