//! Prometheus metrics in the text exposition format (kept by hand: a handful of counters and histograms).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use textgen_core::engine::Generation;

const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A latency histogram in seconds.
#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; 12],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            if s <= *b {
                c.fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", c.load(Relaxed));
        }
        let n = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {n}");
    }
}

/// Every metric the server exports.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    prompt_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    ttft: Histogram,
    itl: Histogram,
    request_duration: Histogram,
}

impl Metrics {
    /// Counts a finished HTTP request.
    pub fn request(&self, route: &str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((route.to_string(), status)).or_default() += 1;
    }

    /// Records one prompt's generation.
    pub fn observe_generation(&self, g: &Generation, started: Instant) {
        self.prompt_tokens
            .fetch_add(g.prompt_tokens as u64, Relaxed);
        let n: usize = g.completions.iter().map(|c| c.tokens.len()).sum();
        self.generated_tokens.fetch_add(n as u64, Relaxed);
        self.request_duration.observe(started.elapsed());
    }

    /// Records a time to first token.
    pub fn time_to_first_token(&self, d: Duration) {
        self.ttft.observe(d);
    }

    /// Records a gap between two streamed pieces.
    pub fn inter_token(&self, d: Duration) {
        self.itl.observe(d);
    }

    /// The exposition text; `queued` and `running` are read at scrape time.
    pub fn render(
        &self,
        queued: usize,
        running: usize,
        batch: &textgen_core::engine::BatchStats,
        kv_tokens: usize,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP textgen_requests_total HTTP requests by route and status.\n# TYPE textgen_requests_total counter");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "textgen_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP textgen_queue_depth Prompts waiting for admission to the batch.\n# TYPE textgen_queue_depth gauge\ntextgen_queue_depth {queued}");
        let _ = writeln!(out, "# HELP textgen_running_sequences Prompts being generated (each may decode several sequences).\n# TYPE textgen_running_sequences gauge\ntextgen_running_sequences {running}");
        let _ = writeln!(out, "# HELP textgen_batch_steps_total Batched forward passes run.\n# TYPE textgen_batch_steps_total counter\ntextgen_batch_steps_total {}", batch.steps);
        let _ = writeln!(out, "# HELP textgen_batch_rows_max Most token rows in one forward pass.\n# TYPE textgen_batch_rows_max gauge\ntextgen_batch_rows_max {}", batch.max_rows);
        let _ = writeln!(out, "# HELP textgen_prompt_tokens_reused_total Prompt positions copied from a cached prefix instead of computed.\n# TYPE textgen_prompt_tokens_reused_total counter\ntextgen_prompt_tokens_reused_total {}", batch.prompt_tokens_reused);
        let _ = writeln!(out, "# HELP textgen_kv_cache_budget_tokens KV cache positions available to requests.\n# TYPE textgen_kv_cache_budget_tokens gauge\ntextgen_kv_cache_budget_tokens {kv_tokens}");
        let _ = writeln!(out, "# HELP textgen_prompt_tokens_total Prompt tokens processed.\n# TYPE textgen_prompt_tokens_total counter\ntextgen_prompt_tokens_total {}", self.prompt_tokens.load(Relaxed));
        let _ = writeln!(out, "# HELP textgen_generated_tokens_total Tokens generated.\n# TYPE textgen_generated_tokens_total counter\ntextgen_generated_tokens_total {}", self.generated_tokens.load(Relaxed));
        self.ttft.render(
            "textgen_time_to_first_token_seconds",
            "Time from request to first streamed text.",
            &mut out,
        );
        self.itl.render(
            "textgen_inter_token_latency_seconds",
            "Time between streamed pieces.",
            &mut out,
        );
        self.request_duration.render(
            "textgen_generation_duration_seconds",
            "Time from request to the end of a prompt's generation.",
            &mut out,
        );
        out
    }
}
