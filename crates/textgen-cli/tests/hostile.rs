//! Hostile HTTP against the real binary: oversized and malformed bodies, extreme parameters, abusive
//! headers, slow clients (slowloris), thousands of idle connections, prompts at and one over the context
//! length. Each gets its documented status (docs/reliability.md) and the server stays healthy: no 5xx,
//! no panic.

mod common;

use common::server::{agent, assert_error, get, model_with_context, post, Server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sends raw bytes on a fresh connection and returns the status code and body of the reply. A write
/// error is not a failure: the server may answer (413) and close before it has read everything.
fn raw(s: &Server, request: &[u8]) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = c.write_all(request);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |p| p.1).to_string();
    (status, body)
}

/// POSTs raw body bytes as JSON.
fn post_bytes(s: &Server, path: &str, body: &[u8]) -> (u16, Value) {
    let mut r = agent()
        .post(&s.url(path))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    let st = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The server answered every request without a 5xx and never panicked, and is healthy now.
fn assert_still_healthy(s: &Server) {
    let started = Instant::now();
    assert_eq!(get(s, "/health").0, 200);
    assert!(started.elapsed() < Duration::from_secs(2), "health is slow");
    let log = s.log();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains(" 5")
            && l.contains("ms")
            && l.split(' ').nth(3).is_some_and(|st| st.starts_with('5'))),
        "a 5xx was logged: {log:#?}"
    );
}

/// Whether the server closed `c` (reads EOF or a reset) within `within`.
fn closed_within(c: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn oversized_malformed_and_extreme_requests_get_4xx() {
    let s = Server::start(&["--max-body-bytes", "100000"]);

    // Bodies over the limit: declared (Content-Length, refused before the body is read) and undeclared
    // (chunked, refused once the limit is crossed). The client stops writing there, as a client that
    // reads the early answer would; a client still writing may see the connection close instead.
    let head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    let (st, body) = raw(
        &s,
        format!("{head}Content-Length: 200000\r\n\r\n{{\"prompt\": \"aaaa").as_bytes(),
    );
    assert_error(st, &serde_json::from_str(&body).unwrap(), 413, None);
    let chunk = format!("{{\"prompt\": \"{}", "a".repeat(100_050));
    let (st, body) = raw(
        &s,
        format!(
            "{head}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n",
            chunk.len()
        )
        .as_bytes(),
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_error(st, &v, 413, None);
    assert_eq!(v["error"]["code"], "payload_too_large");

    // Deeply nested JSON, as the whole body and inside a field.
    for body in [
        "[".repeat(90_000),
        format!("{{\"prompt\": {}", "[".repeat(90_000)),
        format!(
            "{{\"prompt\": \"x\", \"stop\": {}\"a\"{}}}",
            "[".repeat(200),
            "]".repeat(200)
        ),
    ] {
        let (st, v) = post_bytes(&s, "/v1/completions", body.as_bytes());
        assert_error(st, &v, 400, None);
    }
    let (st, v) = post_bytes(
        &s,
        "/v1/chat/completions",
        format!("{{\"messages\": {}}}", "[".repeat(50_000)).as_bytes(),
    );
    assert_error(st, &v, 400, None);

    // Invalid UTF-8 inside a JSON string, and a body that is not JSON at all.
    for body in [
        &b"{\"prompt\": \"\xff\xfe\xfd\"}"[..],
        b"\xc3\x28",
        b"",
        b"{\"prompt\": \"x\"} trailing",
    ] {
        let (st, v) = post_bytes(&s, "/v1/completions", body);
        assert_error(st, &v, 400, None);
        assert_eq!(v["error"]["code"], "invalid_json");
    }
    let (st, v) = post_bytes(&s, "/tokenize", b"{\"content\": \"\xed\xa0\x80\"}");
    assert_error(st, &v, 400, None);

    // Extreme parameter values: each refused by name, nothing clamped, nothing allocated up front.
    let many_bias: serde_json::Map<String, Value> =
        (0..5000).map(|i| (i.to_string(), json!(1.0))).collect();
    let cases = [
        (json!({"prompt": "x", "n": 1_000_000}), "n"),
        (json!({"prompt": "x", "n": 1e300}), "n"),
        (json!({"prompt": "x", "max_tokens": i64::MAX}), "max_tokens"),
        (json!({"prompt": "x", "max_tokens": u64::MAX}), "max_tokens"),
        (json!({"prompt": "x", "max_tokens": 1e300}), "max_tokens"),
        (json!({"prompt": "x", "max_tokens": -1}), "max_tokens"),
        (
            json!({"prompt": "x", "logit_bias": many_bias}),
            "logit_bias",
        ),
        (
            json!({"prompt": "x", "logit_bias": {"1": 1e39}}),
            "logit_bias",
        ),
        (
            json!({"prompt": "x", "logit_bias": {"-1": 1}}),
            "logit_bias",
        ),
        (
            json!({"prompt": "x", "logit_bias": {"99999999999999999999": 1}}),
            "logit_bias",
        ),
        (json!({"prompt": "x", "temperature": 1e39}), "temperature"),
        (json!({"prompt": "x", "top_logprobs": 1000}), "top_logprobs"),
        (json!({"prompt": "x", "logprobs": 1000}), "logprobs"),
        (json!({"prompt": "x", "stop": vec!["a"; 10_000]}), "stop"),
        (json!({"prompt": "x", "stop": "s".repeat(50_000)}), "stop"),
        (json!({"prompt": "x", "seed": -1}), "seed"),
    ];
    for (body, param) in cases {
        let (st, v) = post(&s, "/v1/completions", &body);
        assert_error(st, &v, 400, Some(param));
    }
    let long_chat = json!({"messages": vec![json!({"role": "user", "content": "hi there"}); 2000]});
    let (st, v) = post_bytes(
        &s,
        "/v1/chat/completions",
        &serde_json::to_vec(&long_chat).unwrap(),
    );
    assert_error(st, &v, 400, None);
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    let (st, v) = post(
        &s,
        "/generate",
        &json!({"inputs": "x", "parameters": {"max_new_tokens": u64::MAX}}),
    );
    assert_error(st, &v, 400, None);

    // Abusive heads: oversized headers, a garbage request line, an invalid UTF-8 request id.
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(200_000)
    );
    assert_eq!(raw(&s, huge_header.as_bytes()).0, 431);
    let many_headers: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many =
        format!("GET /health HTTP/1.1\r\nHost: x\r\n{many_headers}Connection: close\r\n\r\n");
    assert_eq!(raw(&s, many.as_bytes()).0, 431);
    assert_eq!(raw(&s, b"GARBAGE\r\n\r\n").0, 400);
    assert_eq!(raw(&s, b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n").0, 400);
    let (st, body) = raw(
        &s,
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: \xff\xfe\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((st, body.as_str()), (200, "{\"status\":\"ok\"}"));
    let (st, _) = raw(&s, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\nConnection: close\r\n\r\n");
    assert_eq!(st, 400);

    assert_still_healthy(&s);
}

#[test]
fn slow_clients_are_timed_out_and_others_are_served() {
    let s = Server::start(&["--client-timeout", "2"]);
    // Slowloris: 16 clients send their request head one byte a second.
    let head =
        b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    let port = s.port();
    let slow: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let started = Instant::now();
                for &b in head.iter() {
                    if c.write_all(&[b]).is_err() || closed_within(&mut c, Duration::from_secs(1)) {
                        return started.elapsed();
                    }
                }
                panic!("a slowloris client sent its whole head without being disconnected");
            })
        })
        .collect();
    // Meanwhile everyone else is served promptly.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(get(&s, "/health").0, 200);
        assert!(t.elapsed() < Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(200));
    }
    let (st, v) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": "Hello", "max_tokens": 3}),
    );
    assert_eq!(st, 200, "{v}");
    for t in slow {
        let took = t.join().unwrap();
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
            "disconnected after {took:?}"
        );
    }

    // A slow body (complete head, then a byte a second) gets 408 with a JSON error.
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{").unwrap();
    let started = Instant::now();
    c.set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(8) {
        let _ = c.write_all(b" ");
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                reply.extend_from_slice(&buf[..n]);
                if reply.ends_with(b"}}") {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"code\":\"request_timeout\""), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_still_healthy(&s);
}

/// The soft limit on open files of this process (from /proc/self/limits).
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn thousands_of_idle_connections_are_closed_and_do_not_starve_others() {
    let s = Server::start(&["--client-timeout", "3"]);
    let n = 3000.min(open_files_limit().saturating_sub(200));
    assert!(
        n >= 800,
        "raise the open-files limit (ulimit -n) to run this test"
    );
    let mut idle: Vec<TcpStream> = (0..n)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port())).unwrap())
        .collect();
    let t = Instant::now();
    assert_eq!(get(&s, "/health").0, 200);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "health took {:?} with {n} idle connections",
        t.elapsed()
    );
    let (st, v) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": "Hello", "max_tokens": 3}),
    );
    assert_eq!(st, 200, "{v}");
    // A keep-alive connection that made one request and then idles is treated the same way.
    let mut kept = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while !reply.ends_with(b"{\"status\":\"ok\"}") {
        let n = kept.read(&mut buf).unwrap();
        assert!(n > 0, "keep-alive connection closed early");
        reply.extend_from_slice(&buf[..n]);
    }
    idle.push(kept);
    // The server hangs up on every idle connection once the client timeout passes.
    std::thread::sleep(Duration::from_secs(3));
    for c in &mut idle {
        assert!(
            closed_within(c, Duration::from_secs(3)),
            "an idle connection was kept open"
        );
    }
    let fds = std::fs::read_dir(format!("/proc/{}/fd", s.child.id()))
        .unwrap()
        .count();
    assert!(fds < 100, "the server still holds {fds} file descriptors");
    assert_still_healthy(&s);
}

#[test]
fn prompts_at_and_one_over_the_context_length() {
    let small = model_with_context(256);
    let s = Server::start(&["--model", small.to_str().unwrap()]);
    let (_, info) = get(&s, "/info");
    let info: Value = serde_json::from_str(&info).unwrap();
    let n_ctx = info["max_total_tokens"].as_u64().unwrap() as usize;
    assert_eq!(n_ctx, 256);
    // The tokenizer splits digits one by one: "000..." with k digits is k tokens (checked with /tokenize).
    let text = |k: usize| "0".repeat(k);
    let (_, t) = post(&s, "/tokenize", &json!({"content": text(n_ctx)}));
    assert_eq!(t["tokens"].as_array().unwrap().len(), n_ctx);

    let started = Instant::now();
    let (st, v) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": text(n_ctx), "max_tokens": 1}),
    );
    assert_error(st, &v, 400, None);
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    let (st, v) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": text(n_ctx + 1), "max_tokens": 1}),
    );
    assert_eq!(
        (st, v["error"]["code"].clone()),
        (400, json!("context_length_exceeded"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refusals must not run the model"
    );

    // Exactly at the limit: the prompt fills all but one position; one token fits, whatever max_tokens says.
    let (st, v) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": text(n_ctx - 1), "max_tokens": 100, "temperature": 0}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["usage"]["prompt_tokens"], n_ctx - 1);
    assert_eq!(v["usage"]["completion_tokens"], 1);
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_still_healthy(&s);
}
