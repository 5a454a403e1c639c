//! CPU hot paths: quantized dot products, matmul, element-wise ops, and the worker pool.

pub mod aligned;
pub mod bandwidth;
mod blocks;
pub mod dot;
#[cfg(target_arch = "x86_64")]
mod dot_avx2;
#[cfg(target_arch = "x86_64")]
mod dot_avx512;
pub mod matmul;
pub mod ops;
pub mod pool;
pub mod qmatrix;
#[cfg(target_arch = "x86_64")]
mod scaled_avx2;

pub use aligned::AlignedBuf;
pub use matmul::{matmul, matmul_group, matmul_group_on};
pub use pool::Pool;
pub use qmatrix::QMatrix;
