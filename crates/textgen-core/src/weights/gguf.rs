//! GGUF files: header, metadata, tensor table and memory-mapped tensor data.
//!
//! Every read is bounds-checked: a truncated, corrupt or hostile file yields a [`GgufError`], never a panic,
//! and no allocation is sized by a count read from the file before the bytes behind it are known to exist.

use super::blob::Blob;
use super::ggml_type::{supported_list, GgmlType};
use std::collections::HashMap;
use std::path::Path;

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
const MAX_DIMS: u32 = 4;

/// Why a GGUF file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or mapped.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file (magic bytes {0:02x?}, expected \"GGUF\")")]
    BadMagic([u8; 4]),
    /// A GGUF version other than 2 or 3.
    #[error("unsupported GGUF version {0} (supported: 2, 3)")]
    UnsupportedVersion(u32),
    /// The file ends before a structure it declares.
    #[error("truncated GGUF file: {0} runs past the end of the file")]
    Truncated(String),
    /// A structurally invalid value.
    #[error("corrupt GGUF file: {0}")]
    Corrupt(String),
    /// A tensor of an element type textgen cannot compute with.
    #[error("tensor '{name}' has unsupported type id {id} (supported: {supported})")]
    UnsupportedTensorType {
        /// Tensor name.
        name: String,
        /// The numeric GGML type id.
        id: u32,
        /// The supported type names.
        supported: String,
    },
    /// A tensor whose data lies outside the file.
    #[error(
        "tensor '{name}' data [{start}, {end}) lies outside the file's data section of {len} bytes"
    )]
    TensorOutOfBounds {
        /// Tensor name.
        name: String,
        /// Start offset in the data section.
        start: u64,
        /// End offset in the data section.
        end: u64,
        /// Size of the data section.
        len: u64,
    },
    /// A metadata key a caller needs is absent or has the wrong type.
    #[error("metadata key '{key}' is {problem}")]
    Metadata {
        /// The key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A tensor a caller needs is absent.
    #[error("tensor '{0}' is missing")]
    MissingTensor(String),
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// Any unsigned or signed integer type, widened.
    Int(i128),
    /// f32 or f64, widened.
    Float(f64),
    /// bool.
    Bool(bool),
    /// UTF-8 string (invalid UTF-8 is replaced, lossily).
    Str(String),
    /// Array of values.
    Array(Vec<MetaValue>),
}

impl MetaValue {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Int(_) => "an integer",
            Self::Float(_) => "a float",
            Self::Bool(_) => "a bool",
            Self::Str(_) => "a string",
            Self::Array(_) => "an array",
        }
    }
}

/// One entry of the tensor table, with its data located in the file.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Element type.
    pub ty: GgmlType,
    /// Dimensions, fastest-varying first (GGML order: `dims[0]` is the row length).
    pub dims: Vec<usize>,
    /// The tensor's bytes.
    pub data: Blob,
}

impl TensorInfo {
    /// Total number of elements.
    pub fn elems(&self) -> usize {
        self.dims.iter().product()
    }
}

/// A parsed GGUF file.
#[derive(Debug)]
pub struct Gguf {
    /// File format version (2 or 3).
    pub version: u32,
    /// Metadata key/value pairs.
    pub metadata: HashMap<String, MetaValue>,
    /// Tensors in file order.
    pub tensors: Vec<TensorInfo>,
    index: HashMap<String, usize>,
}

impl Gguf {
    /// Memory-maps and parses the file at `path`.
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let io = |source| GgufError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        Self::parse(Blob::map_file(&file).map_err(io)?)
    }

    /// Parses a GGUF image held in `blob` (memory-mapped or in memory).
    pub fn parse(blob: Blob) -> Result<Self, GgufError> {
        let mut r = Reader {
            b: blob.bytes(),
            pos: 0,
        };
        let magic = r.array::<4>("magic")?;
        if &magic != MAGIC {
            return Err(GgufError::BadMagic(magic));
        }
        let version = r.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let n_tensors = r.u64("tensor count")?;
        let n_kv = r.u64("metadata count")?;
        // Each kv takes at least 12 bytes and each tensor at least 24: reject impossible counts early.
        r.check_count(n_kv, 12, "metadata table")?;
        r.check_count(n_tensors, 24, "tensor table")?;

        let mut metadata = HashMap::new();
        for _ in 0..n_kv {
            let key = r.string("metadata key")?;
            let ty = r.u32("metadata value type")?;
            let value = r.value(ty, &key, 0)?;
            metadata.insert(key, value);
        }

        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(MetaValue::Int(a)) if *a > 0 && (*a as u64).is_power_of_two() && *a <= 1 << 20 => {
                *a as u64
            }
            Some(v) => {
                return Err(GgufError::Corrupt(format!(
                    "invalid general.alignment {v:?}"
                )))
            }
        };

        let mut raw = Vec::new();
        for _ in 0..n_tensors {
            let name = r.string("tensor name")?;
            let n_dims = r.u32("tensor dimension count")?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(GgufError::Corrupt(format!(
                    "tensor '{name}' has {n_dims} dimensions (1 to {MAX_DIMS} allowed)"
                )));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(r.u64("tensor dimension")?);
            }
            let type_id = r.u32("tensor type")?;
            let offset = r.u64("tensor offset")?;
            raw.push((name, dims, type_id, offset));
        }

        let data_start = align_up(r.pos as u64, alignment);
        let file_len = r.b.len() as u64;
        let data_len = file_len.saturating_sub(data_start);
        let mut tensors = Vec::with_capacity(raw.len());
        let mut index = HashMap::with_capacity(raw.len());
        for (name, dims, type_id, offset) in raw {
            let ty =
                GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnsupportedTensorType {
                    name: name.clone(),
                    id: type_id,
                    supported: supported_list(),
                })?;
            let elems = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .filter(|&n| n > 0 && n <= usize::MAX as u64 / 4)
                .ok_or_else(|| {
                    GgufError::Corrupt(format!("tensor '{name}' has invalid dimensions {dims:?}"))
                })?;
            if dims[0] % ty.block_elems() as u64 != 0 {
                return Err(GgufError::Corrupt(format!(
                    "tensor '{name}' row length {} is not a multiple of the {ty} block size {}",
                    dims[0],
                    ty.block_elems()
                )));
            }
            let size = ty
                .bytes_for(elems as usize)
                .ok_or_else(|| GgufError::Corrupt(format!("tensor '{name}' size overflows")))?
                as u64;
            if offset % alignment != 0 {
                return Err(GgufError::Corrupt(format!(
                    "tensor '{name}' offset {offset} is not aligned to {alignment}"
                )));
            }
            let end = offset.saturating_add(size);
            if end > data_len {
                return Err(GgufError::TensorOutOfBounds {
                    name,
                    start: offset,
                    end,
                    len: data_len,
                });
            }
            if index.insert(name.clone(), tensors.len()).is_some() {
                return Err(GgufError::Corrupt(format!("tensor '{name}' appears twice")));
            }
            let start = (data_start + offset) as usize;
            tensors.push(TensorInfo {
                name,
                ty,
                dims: dims.into_iter().map(|d| d as usize).collect(),
                data: blob.slice(start, size as usize),
            });
        }
        Ok(Self {
            version,
            metadata,
            tensors,
            index,
        })
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.try_tensor(name)
            .ok_or_else(|| GgufError::MissingTensor(name.to_string()))
    }

    /// The tensor called `name`, if present.
    pub fn try_tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.index.get(name).map(|&i| &self.tensors[i])
    }

    /// The metadata value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    fn missing(key: &str) -> GgufError {
        GgufError::Metadata {
            key: key.into(),
            problem: "missing".into(),
        }
    }

    fn wrong(key: &str, want: &str, got: &MetaValue) -> GgufError {
        GgufError::Metadata {
            key: key.into(),
            problem: format!("{} where {want} was expected", got.type_name()),
        }
    }

    /// A non-negative integer metadata value.
    pub fn get_usize(&self, key: &str) -> Result<usize, GgufError> {
        match self.get(key).ok_or_else(|| Self::missing(key))? {
            MetaValue::Int(i) if *i >= 0 && *i <= usize::MAX as i128 => Ok(*i as usize),
            v => Err(Self::wrong(key, "a non-negative integer", v)),
        }
    }

    /// A float metadata value (integers are accepted and converted).
    pub fn get_f64(&self, key: &str) -> Result<f64, GgufError> {
        match self.get(key).ok_or_else(|| Self::missing(key))? {
            MetaValue::Float(f) => Ok(*f),
            MetaValue::Int(i) => Ok(*i as f64),
            v => Err(Self::wrong(key, "a number", v)),
        }
    }

    /// A string metadata value.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        match self.get(key).ok_or_else(|| Self::missing(key))? {
            MetaValue::Str(s) => Ok(s),
            v => Err(Self::wrong(key, "a string", v)),
        }
    }

    /// A bool metadata value.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        match self.get(key).ok_or_else(|| Self::missing(key))? {
            MetaValue::Bool(b) => Ok(*b),
            v => Err(Self::wrong(key, "a bool", v)),
        }
    }

    /// An array metadata value.
    pub fn get_array(&self, key: &str) -> Result<&[MetaValue], GgufError> {
        match self.get(key).ok_or_else(|| Self::missing(key))? {
            MetaValue::Array(a) => Ok(a),
            v => Err(Self::wrong(key, "an array", v)),
        }
    }
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// Bounds-checked little-endian cursor.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], GgufError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| GgufError::Truncated(what.to_string()))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Fails unless `count` items of at least `min_size` bytes each can fit in the rest of the file.
    fn check_count(&self, count: u64, min_size: u64, what: &str) -> Result<(), GgufError> {
        let remaining = (self.b.len() - self.pos) as u64;
        match count.checked_mul(min_size) {
            Some(need) if need <= remaining => Ok(()),
            _ => Err(GgufError::Truncated(format!("{what} of {count} entries"))),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        self.check_count(len, 1, what)?;
        Ok(String::from_utf8_lossy(self.take(len as usize, what)?).into_owned())
    }

    fn value(&mut self, ty: u32, key: &str, depth: u32) -> Result<MetaValue, GgufError> {
        Ok(match ty {
            0 => MetaValue::Int(self.array::<1>(key)?[0] as i128),
            1 => MetaValue::Int(self.array::<1>(key)?[0] as i8 as i128),
            2 => MetaValue::Int(u16::from_le_bytes(self.array(key)?) as i128),
            3 => MetaValue::Int(i16::from_le_bytes(self.array(key)?) as i128),
            4 => MetaValue::Int(self.u32(key)? as i128),
            5 => MetaValue::Int(i32::from_le_bytes(self.array(key)?) as i128),
            6 => MetaValue::Float(f32::from_le_bytes(self.array(key)?) as f64),
            7 => match self.array::<1>(key)?[0] {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                b => {
                    return Err(GgufError::Corrupt(format!(
                        "metadata '{key}': bool byte {b}"
                    )))
                }
            },
            8 => MetaValue::Str(self.string(key)?),
            9 => {
                if depth > 0 {
                    return Err(GgufError::Corrupt(format!(
                        "metadata '{key}': nested array"
                    )));
                }
                let elem_ty = self.u32(key)?;
                let n = self.u64(key)?;
                let min = match elem_ty {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    _ => 1,
                };
                self.check_count(n, min, &format!("metadata array '{key}'"))?;
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.value(elem_ty, key, depth + 1)?);
                }
                MetaValue::Array(items)
            }
            10 => MetaValue::Int(self.u64(key)? as i128),
            11 => MetaValue::Int(i64::from_le_bytes(self.array(key)?) as i128),
            12 => MetaValue::Float(f64::from_le_bytes(self.array(key)?)),
            t => {
                return Err(GgufError::Corrupt(format!(
                    "metadata '{key}' has unknown value type {t}"
                )))
            }
        })
    }
}
