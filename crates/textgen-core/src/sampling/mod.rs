//! Generation parameters (the validation boundary), the seeded RNG, and token selection.

pub mod params;
pub mod rng;
pub mod sampler;

pub use params::{Decoding, GenerationParams, ParamError, RawParams};
pub use sampler::Sampler;
