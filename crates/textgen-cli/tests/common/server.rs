//! A `textgen serve` process on the default model and an HTTP client for it.

use super::model;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A running server, killed on drop.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `textgen serve` with `extra` flags (on the default model unless they name `--model`);
    /// returns once it is ready.
    pub fn start(extra: &[&str]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_textgen"));
        cmd.args(["serve", "--port", "0", "--threads", "2"]);
        if !extra.contains(&"--model") {
            cmd.arg("--model").arg(model());
        }
        let mut child = cmd
            .args(extra)
            .env_remove("TEXTGEN_API_KEY")
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let mut base = None;
        loop {
            line.clear();
            assert!(
                err.read_line(&mut line).unwrap() > 0,
                "server exited before it was ready"
            );
            if let Some(at) = line.find("http://") {
                base = Some(line[at..].trim().to_string());
            }
            if line.contains("ready") {
                break;
            }
        }
        let base = base.expect("the server printed its address");
        // Keep draining stderr (request logs) so the server never blocks on a full pipe.
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for l in err.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Self { child, base, log }
    }

    /// The server's stderr lines so far (request log).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that returns 4xx/5xx responses instead of failing.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// POSTs JSON; the status and the body (JSON, or the text as a JSON string).
pub fn post(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    let mut r = agent()
        .post(&s.url(path))
        .send_json(body)
        .expect("request sent");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GETs a path; the status and the body text.
pub fn get(s: &Server, path: &str) -> (u16, String) {
    let mut r = agent().get(&s.url(path)).call().expect("request sent");
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// SSE `data:` payloads of a streamed response.
pub fn sse(s: &Server, path: &str, body: &Value) -> Vec<String> {
    let mut r = agent()
        .post(&s.url(path))
        .send_json(body)
        .expect("request sent");
    assert_eq!(r.status().as_u16(), 200);
    let text = r.body_mut().read_to_string().unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("data: ").map(str::to_string))
        .collect()
}

/// Checks an OpenAI-style error body with the wanted status (and offending parameter).
pub fn assert_error(status: u16, body: &Value, want_status: u16, param: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e["type"].is_string() && e["code"].is_string(), "{body}");
    if let Some(p) = param {
        assert_eq!(e["param"], p, "{body}");
    }
}

/// A copy of the default model whose GGUF header says its context is `n_ctx` tokens (same weights and
/// tokenizer): tests at the context limit then take seconds instead of an 8192-token prefill.
pub fn model_with_context(n_ctx: u32) -> std::path::PathBuf {
    let mut bytes = std::fs::read(model()).unwrap();
    let key = b"llama.context_length";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("the model has llama.context_length")
        + key.len();
    assert_eq!(bytes[at..at + 4], 4u32.to_le_bytes(), "a u32 value");
    bytes[at + 4..at + 8].copy_from_slice(&n_ctx.to_le_bytes());
    let p = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ctx{n_ctx}.gguf"));
    std::fs::write(&p, bytes).unwrap();
    p
}
