//! Model files to tensors: GGUF and safetensors parsing, tensor element types, dequantization.

pub mod blob;
pub mod dequant;
pub mod ggml_type;
pub mod gguf;
pub mod quantize;
pub mod safetensors;
pub mod tensor_set;

pub use blob::Blob;
pub use ggml_type::GgmlType;
pub use gguf::{Gguf, GgufError, MetaValue, TensorInfo};
pub use quantize::{quantize_set, Quantize};
pub use safetensors::{SafeTensors, SafetensorsError};
pub use tensor_set::{MissingTensor, TensorMap, TensorSet};
