//! The run's summary: counts, throughput and latency percentiles.

use crate::stream::Outcome;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// Aggregated results of a run.
pub struct Summary {
    /// Requests sent.
    pub requests: usize,
    /// Requests that failed (any reason).
    pub errors: usize,
    /// Failure messages and how often each happened (first 200 characters).
    pub error_kinds: BTreeMap<String, usize>,
    /// Chunks with text received.
    pub chunks: usize,
    /// Successful streams that carried no text (the model ended its reply at once).
    pub empty: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Concurrent clients.
    pub clients: u32,
    /// Time to first token, milliseconds: p50, p99, max.
    pub ttft_ms: [f64; 3],
    /// Inter-token latency, milliseconds: p50, p99, max.
    pub itl_ms: [f64; 3],
}

/// p50, p99 and max of `v` in milliseconds (nearest rank; zeros when empty).
fn percentiles(mut v: Vec<f64>) -> [f64; 3] {
    if v.is_empty() {
        return [0.0; 3];
    }
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    [at(0.50), at(0.99), v[v.len() - 1]]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Summary {
    /// Summarises the outcomes of every request.
    pub fn of(results: &[Outcome], elapsed: Duration, clients: u32) -> Self {
        let mut error_kinds = BTreeMap::new();
        let (mut ttft, mut itl, mut chunks, mut empty) = (Vec::new(), Vec::new(), 0, 0);
        for r in results {
            match r {
                Ok(t) => {
                    match t.ttft {
                        Some(d) => ttft.push(ms(d)),
                        None => empty += 1,
                    }
                    itl.extend(t.gaps.iter().map(|&g| ms(g)));
                    chunks += t.chunks;
                }
                Err(e) => {
                    *error_kinds
                        .entry(e.chars().take(200).collect())
                        .or_insert(0) += 1
                }
            }
        }
        Self {
            requests: results.len(),
            errors: error_kinds.values().sum(),
            error_kinds,
            chunks,
            empty,
            elapsed,
            clients,
            ttft_ms: percentiles(ttft),
            itl_ms: percentiles(itl),
        }
    }

    /// One JSON object.
    pub fn json(&self) -> String {
        json!({
            "clients": self.clients, "seconds": self.elapsed.as_secs_f64(), "requests": self.requests,
            "errors": self.errors, "error_kinds": self.error_kinds, "chunks": self.chunks, "empty_completions": self.empty,
            "chunks_per_s": self.chunks as f64 / self.elapsed.as_secs_f64(),
            "ttft_ms": {"p50": self.ttft_ms[0], "p99": self.ttft_ms[1], "max": self.ttft_ms[2]},
            "itl_ms": {"p50": self.itl_ms[0], "p99": self.itl_ms[1], "max": self.itl_ms[2]},
        })
        .to_string()
    }

    /// Human-readable lines.
    pub fn text(&self) -> String {
        let mut s = format!(
            "clients {}  seconds {:.1}  requests {}  errors {}\n\
             streamed chunks {} ({:.1}/s); empty completions {}\n\
             time to first token ms: p50 {:.0}  p99 {:.0}  max {:.0}\n\
             inter-token latency ms: p50 {:.1}  p99 {:.1}  max {:.1}\n",
            self.clients,
            self.elapsed.as_secs_f64(),
            self.requests,
            self.errors,
            self.chunks,
            self.chunks as f64 / self.elapsed.as_secs_f64(),
            self.empty,
            self.ttft_ms[0],
            self.ttft_ms[1],
            self.ttft_ms[2],
            self.itl_ms[0],
            self.itl_ms[1],
            self.itl_ms[2],
        );
        for (e, n) in &self.error_kinds {
            s.push_str(&format!("  error x{n}: {e}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentiles(v), [50.0, 99.0, 100.0]);
        assert_eq!(percentiles(vec![3.0]), [3.0, 3.0, 3.0]);
        assert_eq!(percentiles(Vec::new()), [0.0; 3]);
    }

    #[test]
    fn errors_are_counted_by_kind() {
        let results: Vec<Outcome> = vec![
            Err("HTTP 429".into()),
            Err("HTTP 429".into()),
            Ok(crate::stream::Timing {
                ttft: Some(Duration::from_millis(10)),
                gaps: vec![Duration::from_millis(2)],
                chunks: 2,
            }),
            Ok(crate::stream::Timing {
                ttft: None,
                gaps: Vec::new(),
                chunks: 0,
            }),
        ];
        let s = Summary::of(&results, Duration::from_secs(1), 2);
        assert_eq!((s.requests, s.errors, s.chunks, s.empty), (4, 2, 2, 1));
        assert_eq!(s.error_kinds["HTTP 429"], 2);
        assert_eq!(s.ttft_ms[0], 10.0);
    }
}
