//! Test support: a minimal GGUF writer for crafting valid and broken model files, and the real model.
#![allow(dead_code)]

pub mod fixtures;
pub mod real_model;

/// A metadata value to write.
pub enum Val {
    U32(u32),
    F32(f32),
    Bool(bool),
    Str(String),
    StrArr(Vec<String>),
    I32Arr(Vec<i32>),
    F32Arr(Vec<f32>),
}

/// A tensor to write: name, GGML dims, type id, raw bytes.
pub struct Tensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub ty: u32,
    pub data: Vec<u8>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

/// Serializes a GGUF v3 file (alignment 32).
pub fn write_gguf(meta: &[(&str, Val)], tensors: &[Tensor]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((meta.len() as u64).to_le_bytes());
    for (k, v) in meta {
        put_str(&mut out, k);
        match v {
            Val::U32(x) => {
                out.extend(4u32.to_le_bytes());
                out.extend(x.to_le_bytes());
            }
            Val::F32(x) => {
                out.extend(6u32.to_le_bytes());
                out.extend(x.to_le_bytes());
            }
            Val::Bool(x) => {
                out.extend(7u32.to_le_bytes());
                out.push(*x as u8);
            }
            Val::Str(s) => {
                out.extend(8u32.to_le_bytes());
                put_str(&mut out, s);
            }
            Val::StrArr(a) => {
                out.extend(9u32.to_le_bytes());
                out.extend(8u32.to_le_bytes());
                out.extend((a.len() as u64).to_le_bytes());
                for s in a {
                    put_str(&mut out, s);
                }
            }
            Val::I32Arr(a) => {
                out.extend(9u32.to_le_bytes());
                out.extend(5u32.to_le_bytes());
                out.extend((a.len() as u64).to_le_bytes());
                for x in a {
                    out.extend(x.to_le_bytes());
                }
            }
            Val::F32Arr(a) => {
                out.extend(9u32.to_le_bytes());
                out.extend(6u32.to_le_bytes());
                out.extend((a.len() as u64).to_le_bytes());
                for x in a {
                    out.extend(x.to_le_bytes());
                }
            }
        }
    }
    let mut offset = 0u64;
    let mut offsets = Vec::new();
    for t in tensors {
        offsets.push(offset);
        offset += (t.data.len() as u64).div_ceil(32) * 32;
    }
    for (t, off) in tensors.iter().zip(&offsets) {
        put_str(&mut out, &t.name);
        out.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            out.extend(d.to_le_bytes());
        }
        out.extend(t.ty.to_le_bytes());
        out.extend(off.to_le_bytes());
    }
    while !out.len().is_multiple_of(32) {
        out.push(0);
    }
    for t in tensors {
        out.extend(&t.data);
        while !out.len().is_multiple_of(32) {
            out.push(0);
        }
    }
    out
}

/// An f32 tensor filled by a deterministic pattern.
pub fn f32_tensor(name: &str, dims: &[u64], seed: u32) -> Tensor {
    let n: u64 = dims.iter().product();
    let data = (0..n)
        .flat_map(|i| {
            let x = ((i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(seed.wrapping_mul(97))
                % 1000) as f32;
            ((x / 1000.0 - 0.5) * 0.2).to_le_bytes()
        })
        .collect();
    Tensor {
        name: name.into(),
        dims: dims.to_vec(),
        ty: 0,
        data,
    }
}

/// A complete tiny Llama GGUF (f32 weights, byte-level vocabulary of the 256 bytes plus two specials).
pub fn tiny_llama(arch: &str) -> Vec<u8> {
    let (d, ff, layers, heads, kv_heads) = (32u64, 64u64, 2, 4u32, 2u32);
    let table = textgen_core::tokenizer::byte_level::byte_to_char();
    let mut tokens: Vec<String> = table.iter().map(|c| c.to_string()).collect();
    tokens.push("<|endoftext|>".into());
    tokens.push("<|im_start|>".into());
    let mut types = vec![1i32; 256];
    types.extend([3, 3]);
    let vocab = tokens.len() as u64;
    let meta = vec![
        ("general.architecture", Val::Str(arch.into())),
        ("llama.block_count", Val::U32(layers)),
        ("llama.context_length", Val::U32(64)),
        ("llama.embedding_length", Val::U32(d as u32)),
        ("llama.feed_forward_length", Val::U32(ff as u32)),
        ("llama.attention.head_count", Val::U32(heads)),
        ("llama.attention.head_count_kv", Val::U32(kv_heads)),
        ("llama.rope.freq_base", Val::F32(10000.0)),
        ("llama.attention.layer_norm_rms_epsilon", Val::F32(1e-5)),
        ("tokenizer.ggml.model", Val::Str("gpt2".into())),
        ("tokenizer.ggml.pre", Val::Str("smollm".into())),
        ("tokenizer.ggml.tokens", Val::StrArr(tokens)),
        ("tokenizer.ggml.token_type", Val::I32Arr(types)),
        ("tokenizer.ggml.merges", Val::StrArr(vec![])),
        ("tokenizer.ggml.bos_token_id", Val::U32(257)),
        ("tokenizer.ggml.eos_token_id", Val::U32(256)),
        ("tokenizer.ggml.add_bos_token", Val::Bool(false)),
    ];
    let kv = d / heads as u64 * kv_heads as u64;
    let mut t = vec![
        f32_tensor("token_embd.weight", &[d, vocab], 1),
        f32_tensor("output_norm.weight", &[d], 2),
    ];
    for l in 0..layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        let s = 10 * (l + 1);
        t.push(f32_tensor(&n("attn_norm"), &[d], s));
        t.push(f32_tensor(&n("attn_q"), &[d, d], s + 1));
        t.push(f32_tensor(&n("attn_k"), &[d, kv], s + 2));
        t.push(f32_tensor(&n("attn_v"), &[d, kv], s + 3));
        t.push(f32_tensor(&n("attn_output"), &[d, d], s + 4));
        t.push(f32_tensor(&n("ffn_norm"), &[d], s + 5));
        t.push(f32_tensor(&n("ffn_gate"), &[d, ff], s + 6));
        t.push(f32_tensor(&n("ffn_up"), &[d, ff], s + 7));
        t.push(f32_tensor(&n("ffn_down"), &[ff, d], s + 8));
    }
    write_gguf(&meta, &t)
}
