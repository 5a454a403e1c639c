//! One streamed request and the checks on its event stream: HTTP 200, `text/event-stream`, only `data:`
//! lines holding JSON chunks of the right object type, no error event, a chunk with a `finish_reason`, and
//! `data: [DONE]` last. A stream may carry no text at all (the model can end its reply at once).

use crate::prompts::Request;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

/// Where requests go.
pub struct Target {
    /// Base URL without a trailing slash.
    pub base: String,
    /// Bearer token, if any.
    pub api_key: Option<String>,
}

/// What one request measured, or why it failed.
pub type Outcome = Result<Timing, String>;

/// Latencies of one successful stream.
pub struct Timing {
    /// From sending the request to the first chunk with text (`None`: the completion was empty).
    pub ttft: Option<Duration>,
    /// Gaps between consecutive chunks with text.
    pub gaps: Vec<Duration>,
    /// Chunks with text.
    pub chunks: usize,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

/// Sends `req` and reads its stream to the end.
pub fn run(target: &Target, req: &Request) -> Outcome {
    let started = Instant::now();
    let mut r = agent().post(format!("{}{}", target.base, req.path));
    if let Some(k) = &target.api_key {
        r = r.header("Authorization", format!("Bearer {k}"));
    }
    let mut resp = r
        .send_json(&req.body)
        .map_err(|e| format!("transport: {e}"))?;
    let status = resp.status().as_u16();
    if status != 200 {
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        return Err(format!("HTTP {status}: {body}"));
    }
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("text/event-stream") {
        return Err(format!("content-type {ct:?}"));
    }
    let want = if req.path.contains("chat") {
        "chat.completion.chunk"
    } else {
        "text_completion"
    };
    let mut reader = BufReader::new(resp.body_mut().as_reader());
    let (mut first, mut last, mut gaps, mut chunks) = (None, None, Vec::new(), 0);
    let (mut finished, mut done) = (false, false);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            continue;
        }
        let Some(data) = l.strip_prefix("data: ") else {
            return Err(format!("not an SSE data line: {l:?}"));
        };
        if done {
            return Err("data after [DONE]".into());
        }
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value = serde_json::from_str(data).map_err(|e| format!("bad JSON chunk: {e}"))?;
        if v.get("error").is_some() {
            return Err(format!("error event: {data}"));
        }
        if v["object"] != want {
            return Err(format!("chunk object is {}, want {want}", v["object"]));
        }
        let c = &v["choices"][0];
        finished |= c["finish_reason"].is_string();
        let text = c["delta"]["content"].as_str().or(c["text"].as_str());
        if text.is_some_and(|t| !t.is_empty()) {
            let now = Instant::now();
            match last {
                None => first = Some(now - started),
                Some(prev) => gaps.push(now - prev),
            }
            last = Some(now);
            chunks += 1;
        }
    }
    if !done {
        return Err("stream ended without [DONE]".into());
    }
    if !finished {
        return Err("no chunk with a finish_reason".into());
    }
    Ok(Timing {
        ttft: first,
        gaps,
        chunks,
    })
}
