//! Faults: the server killed with SIGKILL mid-stream, and the model file replaced or truncated on disk while
//! the server runs (it is memory-mapped). What each does is documented in docs/reliability.md.

mod common;

use common::model;
use common::server::{agent, get, post, Server};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A scratch directory under the target directory, emptied first.
fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn greedy(s: &Server) -> (u16, Value) {
    post(
        s,
        "/v1/completions",
        &json!({"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}),
    )
}

#[test]
fn sigkill_mid_stream_is_a_clean_connection_error_and_a_restart_is_healthy() {
    let mut s = Server::start(&[]);
    let mut r = agent()
        .post(&s.url("/v1/completions"))
        .send_json(
            json!({"prompt": "1, 2, 3,", "max_tokens": 2000, "temperature": 0, "stream": true}),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut lines = BufReader::new(r.body_mut().as_reader()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("data: {"), "{first}");
    s.child.kill().unwrap();
    let status = s.child.wait().unwrap();
    assert_eq!(status.signal(), Some(9));
    // The client sees the stream end without [DONE] or a read error, promptly: never a hang.
    let started = Instant::now();
    let rest: Vec<_> = lines.collect();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        rest.last()
            .is_none_or(|l| l.as_ref().map_or(true, |l| !l.contains("[DONE]"))),
        "a killed server cannot have finished the stream"
    );
    let restarted = Server::start(&[]);
    assert_eq!(get(&restarted, "/health").0, 200);
    assert_eq!(greedy(&restarted).0, 200);
}

#[test]
fn model_replaced_by_rename_keeps_serving_the_loaded_model() {
    let dir = scratch("rename");
    let path = dir.join("model.gguf");
    std::fs::copy(model(), &path).unwrap();
    let s = Server::start(&["--model", path.to_str().unwrap()]);
    let (st, before) = greedy(&s);
    assert_eq!(st, 200, "{before}");
    // The usual way to install a file: write a new one, rename it over the old name. Here the new file is
    // garbage; the server keeps its mapping of the old inode and is unaffected.
    let new = dir.join("model.gguf.partial");
    std::fs::write(&new, b"not a model").unwrap();
    std::fs::rename(&new, &path).unwrap();
    let (st, after) = greedy(&s);
    assert_eq!(st, 200, "{after}");
    assert_eq!(before["choices"], after["choices"]);
    assert_eq!(get(&s, "/health").0, 200);
}

#[test]
fn model_truncated_in_place_ends_the_process_and_a_restart_fails_clearly() {
    let dir = scratch("truncate");
    let path = dir.join("model.gguf");
    std::fs::copy(model(), &path).unwrap();
    let mut s = Server::start(&["--model", path.to_str().unwrap()]);
    assert_eq!(greedy(&s).0, 200);
    // Truncating the mapped file in place takes the weights' pages away: the next forward pass faults.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let mut r = agent()
        .post(&s.url("/v1/completions"))
        .send_json(json!({"prompt": "Hello", "max_tokens": 4}));
    if let Ok(resp) = &mut r {
        assert!(resp.body_mut().read_to_string().is_err() || resp.status().as_u16() != 200);
    }
    let status = s.child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(7),
        "SIGBUS, as documented; got {status:?}"
    );
    // A supervisor's restart on the truncated file exits with a clear error instead of serving garbage.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_textgen"))
        .args(["serve", "--port", "0", "--model"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot load model"), "{err}");
}

#[test]
fn sigterm_with_streams_running_and_queued_loses_none_of_them() {
    let mut s = Server::start(&["--max-concurrent", "2"]);
    let url = s.url("/v1/chat/completions");
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut r = agent()
                    .post(&url)
                    .send_json(json!({"messages": [{"role": "user", "content": format!("Count to {i}")}],
                        "max_tokens": 24, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}))
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.body_mut().read_to_string().unwrap()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let pid = s.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    for c in clients {
        let body = c.join().unwrap();
        assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
        let usage = body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .find(|v| v["usage"].is_object())
            .expect("a usage chunk");
        assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    }
    assert_eq!(s.child.wait().unwrap().code(), Some(0));
}
