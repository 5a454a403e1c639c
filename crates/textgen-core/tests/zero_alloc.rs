//! A decode step in steady state (forward pass of one token, logits processors, sampling) makes no heap
//! allocation: counted with a global allocator wrapper, on the tiny fixture model and on the default model.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use textgen_core::engine::load_gguf;
use textgen_core::kernels::Pool;
use textgen_core::model::{Model, Scratch};
use textgen_core::sampling::{RawParams, Sampler};

/// The system allocator, counting allocations and reallocations (every thread).
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `steps` decode steps after a prompt and two warm-up steps, with `raw` parameters.
fn allocations_per_steady_decode(
    model: &Model,
    threads: usize,
    raw: RawParams,
    steps: usize,
) -> usize {
    let pool = Pool::new(threads);
    let params = raw.validate(model.vocab_size(), || 7).unwrap();
    let mut sampler = Sampler::new(&params, 7);
    let mut cache = model.new_cache(64);
    let mut scratch = Scratch::default();
    let mut logits = Vec::new();
    let mut tokens: Vec<u32> = vec![1, 2, 3, 4, 5, 6, 7, 8];
    tokens.reserve(steps + 8);
    model
        .forward(
            &pool,
            &tokens,
            &mut cache,
            &mut scratch,
            tokens.len() - 1,
            &mut logits,
        )
        .unwrap();
    let mut before = 0;
    for step in 0..steps + 2 {
        if step == 2 {
            before = ALLOCS.load(Ordering::SeqCst);
        }
        let choice = sampler.choose(&mut logits, &tokens, 8, &[]);
        tokens.push(choice.id);
        model
            .forward(
                &pool,
                &tokens[tokens.len() - 1..],
                &mut cache,
                &mut scratch,
                0,
                &mut logits,
            )
            .unwrap();
    }
    ALLOCS.load(Ordering::SeqCst) - before
}

fn sampling() -> RawParams {
    RawParams {
        temperature: Some(0.8),
        top_k: Some(40),
        top_p: Some(0.9),
        min_p: Some(0.02),
        repetition_penalty: Some(1.1),
        frequency_penalty: Some(0.2),
        presence_penalty: Some(0.1),
        no_repeat_ngram_size: Some(3),
        ..Default::default()
    }
}

#[test]
fn steady_decode_steps_make_no_heap_allocation() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-llama");
    let (tiny, _) = load_gguf(&dir.join("model.gguf")).unwrap();
    let greedy = RawParams {
        temperature: Some(0.0),
        ..Default::default()
    };
    for threads in [1, 2] {
        assert_eq!(
            allocations_per_steady_decode(&tiny, threads, greedy.clone(), 20),
            0,
            "greedy, {threads} threads"
        );
        assert_eq!(
            allocations_per_steady_decode(&tiny, threads, sampling(), 20),
            0,
            "sampling, {threads} threads"
        );
    }
    let real = &common::real_model::shared().model;
    assert_eq!(
        allocations_per_steady_decode(real, 2, sampling(), 8),
        0,
        "default model"
    );
}
