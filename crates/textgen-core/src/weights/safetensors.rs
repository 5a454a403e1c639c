//! Safetensors checkpoints: one `*.safetensors` file or a sharded set named by `model.safetensors.index.json`.
//!
//! Files are memory-mapped and tensors are zero-copy slices of the map. Every offset and size is checked:
//! a truncated, corrupt or hostile file yields a [`SafetensorsError`], never a panic, and nothing is
//! allocated from a size read in the file before the bytes behind it are known to exist.

use super::blob::Blob;
use super::ggml_type::GgmlType;
use super::gguf::TensorInfo;
use super::tensor_set::TensorSet;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The index file of a sharded checkpoint.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// The file of an unsharded checkpoint.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Safetensors dtypes textgen computes with.
pub const SUPPORTED_DTYPES: &str = "F32, F16, BF16";
/// Largest JSON header accepted (the format's own limit is 100 MB).
const MAX_HEADER: u64 = 100 << 20;
const MAX_DIMS: usize = 4;

/// Why a safetensors checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    /// A file could not be opened or mapped.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A structurally invalid file or index.
    #[error("invalid safetensors {path}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A tensor of a dtype textgen cannot compute with.
    #[error("tensor '{name}' has unsupported dtype {dtype} (supported: {SUPPORTED_DTYPES})")]
    UnsupportedDtype {
        /// Tensor name.
        name: String,
        /// The dtype the file declares.
        dtype: String,
    },
    /// A folder with neither a single checkpoint nor an index.
    #[error("no {SINGLE_FILE} or {INDEX_FILE} in {0}")]
    NoCheckpoint(PathBuf),
}

/// The tensors of a safetensors checkpoint (all shards together), in file order.
#[derive(Debug)]
pub struct SafeTensors {
    tensors: Vec<TensorInfo>,
    index: HashMap<String, usize>,
}

impl SafeTensors {
    /// Opens the checkpoint in folder `dir`: the shards listed by `model.safetensors.index.json` when present,
    /// else `model.safetensors`.
    pub fn open_dir(dir: &Path) -> Result<Self, SafetensorsError> {
        let index = dir.join(INDEX_FILE);
        if index.is_file() {
            return Self::open_index(&index);
        }
        let single = dir.join(SINGLE_FILE);
        if single.is_file() {
            return Self::open(&single);
        }
        Err(SafetensorsError::NoCheckpoint(dir.to_path_buf()))
    }

    /// Memory-maps and parses one `.safetensors` file.
    pub fn open(path: &Path) -> Result<Self, SafetensorsError> {
        let mut set = Self::empty();
        set.add_file(path)?;
        Ok(set)
    }

    /// Opens every shard named by a `model.safetensors.index.json` (shards must sit next to it) and checks
    /// that each tensor of its `weight_map` is in the shard it names.
    pub fn open_index(index_path: &Path) -> Result<Self, SafetensorsError> {
        let corrupt = |problem: String| SafetensorsError::Corrupt {
            path: index_path.to_path_buf(),
            problem,
        };
        let text = std::fs::read_to_string(index_path).map_err(|source| SafetensorsError::Io {
            path: index_path.to_path_buf(),
            source,
        })?;
        let json: Value = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        let map = json
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| corrupt("no \"weight_map\" object".into()))?;
        let dir = index_path.parent().unwrap_or(Path::new("."));
        let mut shards: Vec<&str> = Vec::new();
        for (name, file) in map {
            let file = file
                .as_str()
                .ok_or_else(|| corrupt(format!("weight_map entry '{name}' is not a file name")))?;
            if file.is_empty() || file.contains(['/', '\\']) || file == ".." || file == "." {
                return Err(corrupt(format!(
                    "shard name '{file}' is not a plain file name in the index's folder"
                )));
            }
            if !shards.contains(&file) {
                shards.push(file);
            }
        }
        let mut set = Self::empty();
        let mut shard_of = HashMap::new();
        for file in shards {
            let first = set.tensors.len();
            set.add_file(&dir.join(file))?;
            for t in &set.tensors[first..] {
                shard_of.insert(t.name.clone(), file);
            }
        }
        for (name, file) in map {
            if shard_of.get(name.as_str()).copied() != file.as_str() {
                return Err(corrupt(format!(
                    "tensor '{name}' is not in shard {file} where weight_map puts it"
                )));
            }
        }
        Ok(set)
    }

    /// Parses a safetensors image held in `blob` (`path` names it in errors).
    pub fn parse(blob: Blob, path: &Path) -> Result<Self, SafetensorsError> {
        let mut set = Self::empty();
        set.add_blob(blob, path)?;
        Ok(set)
    }

    fn empty() -> Self {
        Self {
            tensors: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn add_file(&mut self, path: &Path) -> Result<(), SafetensorsError> {
        let io = |source| SafetensorsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        self.add_blob(Blob::map_file(&file).map_err(io)?, path)
    }

    fn add_blob(&mut self, blob: Blob, path: &Path) -> Result<(), SafetensorsError> {
        let corrupt = |problem: String| SafetensorsError::Corrupt {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = blob.bytes();
        let head: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt("shorter than the 8-byte header length".into()))?;
        let n = u64::from_le_bytes(head);
        let data_start = n
            .checked_add(8)
            .filter(|&e| n <= MAX_HEADER && e <= bytes.len() as u64)
            .ok_or_else(|| {
                corrupt(format!(
                    "header of {n} bytes does not fit in the file of {} bytes",
                    bytes.len()
                ))
            })? as usize;
        let header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes[8..data_start])
            .map_err(|e| corrupt(format!("header is not a JSON object: {e}")))?;
        let data_len = (bytes.len() - data_start) as u64;
        let mut entries = Vec::with_capacity(header.len());
        for (name, entry) in &header {
            if name == "__metadata__" {
                continue;
            }
            let (ty, dims, begin, end) = describe(name, entry, path)?;
            if end > data_len {
                return Err(corrupt(format!(
                    "tensor '{name}' data [{begin}, {end}) lies outside the data section of {data_len} bytes"
                )));
            }
            entries.push((begin, name, ty, dims, end));
        }
        entries.sort_by_key(|e| e.0);
        for (begin, name, ty, dims, end) in entries {
            if self
                .index
                .insert(name.clone(), self.tensors.len())
                .is_some()
            {
                return Err(corrupt(format!("tensor '{name}' appears twice")));
            }
            self.tensors.push(TensorInfo {
                name: name.clone(),
                ty,
                dims,
                data: blob.slice(data_start + begin as usize, (end - begin) as usize),
            });
        }
        Ok(())
    }

    /// The tensor called `name`, if present.
    pub fn try_tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.index.get(name).map(|&i| &self.tensors[i])
    }

    /// Every tensor, shard after shard, each shard's in data order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
}

impl TensorSet for SafeTensors {
    fn get(&self, name: &str) -> Option<&TensorInfo> {
        self.try_tensor(name)
    }

    fn all(&self) -> &[TensorInfo] {
        self.tensors()
    }
}

/// Element type, GGML-order dims and data range `[begin, end)` of one header entry, checked for consistency.
fn describe(
    name: &str,
    entry: &Value,
    path: &Path,
) -> Result<(GgmlType, Vec<usize>, u64, u64), SafetensorsError> {
    let corrupt = |problem: String| SafetensorsError::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    let dtype = entry
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or_else(|| corrupt(format!("tensor '{name}' has no dtype")))?;
    let ty = match dtype {
        "F32" => GgmlType::F32,
        "F16" => GgmlType::F16,
        "BF16" => GgmlType::BF16,
        other => {
            return Err(SafetensorsError::UnsupportedDtype {
                name: name.to_string(),
                dtype: other.to_string(),
            })
        }
    };
    let shape = entry
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| corrupt(format!("tensor '{name}' has no shape")))?;
    if shape.len() > MAX_DIMS {
        return Err(corrupt(format!(
            "tensor '{name}' has {} dimensions (at most {MAX_DIMS} supported)",
            shape.len()
        )));
    }
    // Safetensors shapes are row-major (slowest first); GGML order is the reverse. A scalar is one element.
    let mut dims = Vec::with_capacity(shape.len().max(1));
    for d in shape.iter().rev() {
        match d.as_u64() {
            Some(d) if d > 0 && d <= usize::MAX as u64 => dims.push(d as usize),
            _ => {
                return Err(corrupt(format!(
                    "tensor '{name}' has invalid shape {shape:?}"
                )))
            }
        }
    }
    if dims.is_empty() {
        dims.push(1);
    }
    let size = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|n| ty.bytes_for(n))
        .ok_or_else(|| corrupt(format!("tensor '{name}' shape {shape:?} overflows")))?;
    let offsets = entry
        .get("data_offsets")
        .and_then(Value::as_array)
        .and_then(|a| match a[..] {
            [ref b, ref e] => Some((b.as_u64()?, e.as_u64()?)),
            _ => None,
        })
        .ok_or_else(|| corrupt(format!("tensor '{name}' has no [begin, end] data_offsets")))?;
    let (begin, end) = offsets;
    if end < begin || end - begin != size as u64 {
        return Err(corrupt(format!(
            "tensor '{name}' data_offsets [{begin}, {end}) do not hold {size} bytes of {dtype} {shape:?}"
        )));
    }
    Ok((ty, dims, begin, end))
}
