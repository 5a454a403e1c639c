//! The machine's memory read bandwidth: the ceiling of memory-bound work such as single-stream decode, which
//! reads every weight once per token.

use super::pool::Pool;
use std::time::Instant;

/// Words each pool work item reads (512 KiB).
const CHUNK_WORDS: usize = 1 << 16;

/// Best-of-`reps` bandwidth in bytes per second of reading a `bytes`-sized buffer (make it much larger than
/// the last-level cache) once, split across the pool's threads.
pub fn read_bandwidth(pool: &Pool, bytes: usize, reps: usize) -> f64 {
    let words = (bytes / 8).max(CHUNK_WORDS);
    // Written first, so every page is mapped before timing starts.
    let buf: Vec<u64> = (0..words as u64).collect();
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        pool.for_each_chunk(words, CHUNK_WORDS, &|_, r| {
            std::hint::black_box(buf[r].iter().fold(0u64, |a, &x| a ^ x));
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    (words * 8) as f64 / best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_is_positive_and_finite() {
        let b = read_bandwidth(&Pool::new(2), 8 << 20, 2);
        assert!(b.is_finite() && b > 1e8, "{b}");
    }
}
