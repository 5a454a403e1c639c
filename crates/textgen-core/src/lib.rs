//! textgen-core: the text-generation engine as a library (no HTTP, no terminal).
//!
//! Data flow: model file ([`weights`]) -> model ([`model`], computed by [`kernels`]) and tokenizer
//! ([`tokenizer`]) -> generation loop ([`engine`]) driven by validated parameters ([`sampling`]).

pub mod chat;
pub mod engine;
pub mod kernels;
pub mod model;
pub mod sampling;
pub mod tokenizer;
pub mod weights;
