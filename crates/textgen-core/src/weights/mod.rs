//! Model files to tensors: GGUF parsing, tensor element types, dequantization.

pub mod blob;
pub mod dequant;
pub mod ggml_type;
pub mod gguf;

pub use blob::Blob;
pub use ggml_type::GgmlType;
pub use gguf::{Gguf, GgufError, MetaValue, TensorInfo};
