//! Generation parameters (the validation boundary), logits processors, the seeded RNG, token selection
//! and beam search.

pub mod generation_config;
pub mod params;
pub mod processors;
pub mod rng;
pub mod sampler;

pub use params::{Decoding, GenerationParams, ParamError, RawParams};
pub use sampler::{Choice, Sampler};
