//! `textgen serve` end to end: the real binary and model on an ephemeral port, a real HTTP client.

mod common;

use common::server::{agent, assert_error, get, post, sse, Server};
use serde_json::{json, Value};
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn openai_routes_work() {
    let s = Server::start(&[]);
    assert_eq!(get(&s, "/health"), (200, "{\"status\":\"ok\"}".to_string()));
    let (st, models) = get(&s, "/v1/models");
    assert_eq!(st, 200);
    let id = serde_json::from_str::<Value>(&models).unwrap()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let (st, v) = post(
        &s,
        "/v1/completions",
        &json!({"model": id, "prompt": "Once upon a time, there was a little", "max_tokens": 12, "temperature": 0}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["object"], "text_completion");
    assert!(v["choices"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with(" girl named Emma who loved to play"));
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 12);
    assert_eq!(v["usage"]["total_tokens"], 21);

    let (st, v) = post(
        &s,
        "/v1/chat/completions",
        &json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}], "temperature": 0, "max_tokens": 30}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["object"], "chat.completion");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Paris"),
        "{v}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    // n = 2, stop, logprobs (completions shape), echo, seed reproducibility.
    let body = json!({"prompt": ["The sea is", "A cat"], "n": 2, "max_tokens": 6, "seed": 5, "logprobs": 2, "stop": ["\n"]});
    let (st, a) = post(&s, "/v1/completions", &body);
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["choices"].as_array().unwrap().len(), 4);
    let lp = &a["choices"][0]["logprobs"];
    assert_eq!(
        lp["tokens"].as_array().unwrap().len(),
        lp["token_logprobs"].as_array().unwrap().len()
    );
    assert_eq!(lp["top_logprobs"][0].as_object().unwrap().len(), 2);
    let (_, b) = post(&s, "/v1/completions", &body);
    assert_eq!(a["choices"], b["choices"], "same seed, same completions");
    let (_, e) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": "Hi", "echo": true, "max_tokens": 2}),
    );
    assert!(e["choices"][0]["text"].as_str().unwrap().starts_with("Hi"));
    let (_, st) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": "Once upon a time, there was a little", "temperature": 0, "max_tokens": 30, "stop": " the sun"}),
    );
    assert_eq!(
        st["choices"][0]["text"],
        " girl named Emma who loved to play in"
    );
    assert_eq!(st["choices"][0]["finish_reason"], "stop");

    // Chat logprobs shape.
    let (_, c) = post(
        &s,
        "/v1/chat/completions",
        &json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "logprobs": true, "top_logprobs": 2}),
    );
    let content = c["choices"][0]["logprobs"]["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    assert_eq!(content[0]["top_logprobs"].as_array().unwrap().len(), 2);

    // Streaming: chunks, the finish chunk, usage, [DONE].
    let events = sse(
        &s,
        "/v1/chat/completions",
        &json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5, "stream": true, "stream_options": {"include_usage": true}}),
    );
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"].as_array().unwrap().len(), 0);
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!text.is_empty());
    let events = sse(
        &s,
        "/v1/completions",
        &json!({"prompt": "Once upon a time, there was a little", "max_tokens": 8, "temperature": 0, "stream": true}),
    );
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_string))
        .collect();
    assert!(text.starts_with(" girl named Emma"), "{text}");

    // Tokenize round trip, metrics move.
    let (_, t) = post(&s, "/tokenize", &json!({"content": "Hello world 🦀"}));
    let (_, d) = post(&s, "/detokenize", &json!({"tokens": t["tokens"]}));
    assert_eq!(d["content"], "Hello world 🦀");
    let (_, m) = get(&s, "/metrics");
    assert!(
        m.contains("textgen_requests_total{route=\"/v1/completions\",status=\"200\"}"),
        "{m}"
    );
    assert!(
        m.contains("textgen_generated_tokens_total")
            && m.contains("textgen_time_to_first_token_seconds_count")
    );
    assert!(!m.contains("textgen_generated_tokens_total 0\n"));
}

#[test]
fn bad_requests_get_4xx_with_openai_error_bodies() {
    let s = Server::start(&["--max-body-bytes", "10000"]);
    let cases = [
        (
            json!({"prompt": "x", "temperature": -1}),
            400,
            Some("temperature"),
        ),
        (json!({"prompt": "x", "top_p": 2}), 400, Some("top_p")),
        (json!({"prompt": "x", "n": 0}), 400, Some("n")),
        (
            json!({"prompt": "x", "max_tokens": "lots"}),
            400,
            Some("max_tokens"),
        ),
        (
            json!({"prompt": "x", "logit_bias": {"999999": 1}}),
            400,
            Some("logit_bias"),
        ),
        (json!({"prompt": "x", "best_of": 3}), 400, Some("best_of")),
        (json!({"prompt": 5}), 400, Some("prompt")),
        (json!({}), 400, Some("prompt")),
        (json!({"prompt": "x", "model": "gpt-9"}), 404, None),
        (json!({"prompt": "a ".repeat(9000)}), 413, None),
    ];
    for (body, status, param) in cases {
        let (st, v) = post(&s, "/v1/completions", &body);
        assert_error(st, &v, status, param);
    }
    let (st, v) = post(&s, "/v1/chat/completions", &json!({"messages": []}));
    assert_error(st, &v, 400, Some("messages"));
    let (st, v) = post(
        &s,
        "/v1/chat/completions",
        &json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
    );
    assert_error(st, &v, 400, Some("messages"));

    let big = Server::start(&[]);
    let (st, v) = post(
        &big,
        "/v1/completions",
        &json!({"prompt": "a ".repeat(9000)}),
    );
    assert_error(st, &v, 400, None);
    assert_eq!(v["error"]["code"], "context_length_exceeded");

    let raw = |method: &str, path: &str, ct: &str, body: &str| {
        let mut r = agent()
            .run(
                ureq::http::Request::builder()
                    .method(method)
                    .uri(s.url(path))
                    .header("Content-Type", ct)
                    .body(body.to_string())
                    .unwrap(),
            )
            .unwrap();
        let st = r.status().as_u16();
        (
            st,
            serde_json::from_str::<Value>(&r.body_mut().read_to_string().unwrap()).unwrap(),
        )
    };
    let (st, v) = raw("POST", "/v1/completions", "text/plain", "{}");
    assert_error(st, &v, 415, None);
    let (st, v) = raw("POST", "/v1/completions", "application/json", "{not json");
    assert_error(st, &v, 400, None);
    let (st, v) = raw("GET", "/v1/completions", "application/json", "");
    assert_error(st, &v, 405, None);
    let (st, v) = raw("GET", "/nowhere", "application/json", "");
    assert_error(st, &v, 404, None);
    // The server is still healthy after all of that.
    assert_eq!(get(&s, "/health").0, 200);
}

#[test]
fn api_key_is_required_except_on_health_and_metrics() {
    let s = Server::start(&["--api-key", "sekret"]);
    let (st, v) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": "x", "max_tokens": 1}),
    );
    assert_error(st, &v, 401, None);
    assert_eq!(get(&s, "/health").0, 200);
    assert_eq!(get(&s, "/metrics").0, 200);
    let mut r = agent()
        .post(&s.url("/v1/completions"))
        .header("Authorization", "Bearer sekret")
        .send_json(json!({"prompt": "x", "max_tokens": 1}))
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );
    let mut r = agent()
        .post(&s.url("/v1/completions"))
        .header("Authorization", "Bearer wrong")
        .send_json(json!({"prompt": "x"}))
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        401,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );
}

#[test]
fn flood_beyond_the_queue_gets_429_and_the_rest_complete() {
    let s = Server::start(&["--max-queue", "2", "--max-concurrent", "1"]);
    let url = s.url("/v1/completions");
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut r = agent()
                    .post(&url)
                    .send_json(
                        json!({"prompt": "Count: 1, 2, 3,", "max_tokens": 24, "temperature": 0}),
                    )
                    .unwrap();
                let st = r.status().as_u16();
                let body = r.body_mut().read_to_string().unwrap();
                if st == 429 {
                    assert!(r.headers().get("retry-after").is_some());
                }
                (st, body)
            })
        })
        .collect();
    let results: Vec<(u16, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let busy = results.iter().filter(|r| r.0 == 429).count();
    assert_eq!(ok + busy, 10, "{results:?}");
    assert!(busy >= 1 && ok >= 1, "ok {ok} busy {busy}");
    assert_eq!(get(&s, "/health").0, 200);
}

#[test]
fn client_disconnect_frees_the_slot() {
    let s = Server::start(&[]);
    let mut r = agent()
        .post(&s.url("/v1/completions"))
        .send_json(
            json!({"prompt": "1, 2, 3,", "max_tokens": 5000, "temperature": 0, "stream": true}),
        )
        .unwrap();
    let mut first = [0u8; 16];
    r.body_mut().as_reader().read_exact(&mut first).unwrap();
    assert!(get(&s, "/metrics")
        .1
        .contains("textgen_running_sequences 1"));
    drop(r);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !get(&s, "/metrics")
        .1
        .contains("textgen_running_sequences 0")
    {
        assert!(
            Instant::now() < deadline,
            "generation still running after the client left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_lets_in_flight_requests_finish_and_exits_0() {
    let mut s = Server::start(&[]);
    let url = s.url("/v1/completions");
    let inflight = std::thread::spawn(move || {
        let mut r = agent()
            .post(&url)
            .send_json(json!({"prompt": "Count: 1, 2, 3,", "max_tokens": 40, "temperature": 0}))
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let (st, body) = inflight.join().unwrap();
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 40);
    let status = s.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn tgi_routes_work() {
    let s = Server::start(&[]);
    let (st, v) = post(
        &s,
        "/generate",
        &json!({"inputs": "Once upon a time, there was a little",
        "parameters": {"max_new_tokens": 5, "details": true, "decoder_input_details": true, "top_n_tokens": 2}}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["generated_text"], " girl named Emma who loved");
    let d = &v["details"];
    assert_eq!(d["finish_reason"], "length");
    assert_eq!(d["generated_tokens"], 5);
    assert_eq!(d["tokens"][0]["text"], " girl");
    assert!(
        d["tokens"][0]["logprob"].as_f64().unwrap() < 0.0 && d["tokens"][0]["special"] == false
    );
    assert_eq!(d["prefill"].as_array().unwrap().len(), 9);
    assert!(d["prefill"][0]["logprob"].is_null() && d["prefill"][1]["logprob"].is_number());
    assert_eq!(d["top_tokens"].as_array().unwrap().len(), 5);
    assert_eq!(d["top_tokens"][0].as_array().unwrap().len(), 2);

    let events = sse(
        &s,
        "/generate_stream",
        &json!({"inputs": "Once upon a time, there was a little", "parameters": {"max_new_tokens": 5}}),
    );
    let events: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(events.len(), 5);
    let text: String = events
        .iter()
        .map(|e| e["token"]["text"].as_str().unwrap())
        .collect();
    let last = events.last().unwrap();
    assert_eq!(last["generated_text"], text.as_str());
    assert_eq!(last["details"]["finish_reason"], "length");
    assert!(events[0]["generated_text"].is_null() && events[0]["details"].is_null());

    let (st, v) = post(
        &s,
        "/generate",
        &json!({"inputs": "The sky is", "parameters": {"max_new_tokens": 4, "best_of": 2, "do_sample": true, "seed": 3, "details": true}}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["details"]["best_of_sequences"].as_array().unwrap().len(),
        1
    );
    let (st, info) = get(&s, "/info");
    assert_eq!(st, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&info).unwrap()["max_total_tokens"],
        8192
    );

    for (body, param) in [
        (json!({"inputs": 3}), "inputs"),
        (json!({"inputs": "x", "parameters": {"foo": 1}}), "foo"),
        (
            json!({"inputs": "x", "parameters": {"best_of": 2}}),
            "best_of",
        ),
        (
            json!({"inputs": "x", "parameters": {"top_n_tokens": 99}}),
            "top_n_tokens",
        ),
        (
            json!({"inputs": "x", "parameters": {"temperature": -2.0}}),
            "temperature",
        ),
    ] {
        let (st, v) = post(&s, "/generate", &body);
        assert_error(st, &v, 400, Some(param));
    }
}

#[test]
fn request_timeout_cancels_and_request_ids_are_echoed() {
    let s = Server::start(&["--request-timeout", "1", "--log-format", "json"]);
    let started = Instant::now();
    let (st, v) = post(
        &s,
        "/v1/completions",
        &json!({"prompt": "1, 2, 3,", "max_tokens": 5000, "temperature": 0}),
    );
    assert_error(st, &v, 503, None);
    assert_eq!(v["error"]["code"], "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !get(&s, "/metrics")
        .1
        .contains("textgen_running_sequences 0")
    {
        assert!(
            Instant::now() < deadline,
            "the timed-out generation kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = agent()
        .get(&s.url("/health"))
        .header("x-request-id", "abc-123")
        .call()
        .unwrap();
    assert_eq!(r.headers().get("x-request-id").unwrap(), "abc-123");
}

#[test]
fn concurrent_requests_are_batched_and_match_their_solo_output() {
    let s = Server::start(&[
        "--max-concurrent",
        "2",
        "--cors-allow-origin",
        "https://example.com",
    ]);
    let body = |p: &str| json!({"prompt": p, "max_tokens": 16, "temperature": 0});
    let (_, solo_a) = post(&s, "/v1/completions", &body("The ocean"));
    let (_, solo_b) = post(&s, "/v1/completions", &body("My dog"));
    let url = s.url("/v1/completions");
    let run = |p: &'static str| {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut r = agent()
                .post(&url)
                .send_json(json!({"prompt": p, "max_tokens": 16, "temperature": 0}))
                .unwrap();
            serde_json::from_str::<Value>(&r.body_mut().read_to_string().unwrap()).unwrap()
        })
    };
    let (a, b) = (run("The ocean"), run("My dog"));
    let mut saw_two = false;
    for _ in 0..200 {
        saw_two |= get(&s, "/metrics")
            .1
            .contains("textgen_running_sequences 2");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(a.join().unwrap()["choices"], solo_a["choices"]);
    assert_eq!(b.join().unwrap()["choices"], solo_b["choices"]);
    assert!(saw_two, "two requests never ran at the same time");
    // CORS: the allowed origin is echoed.
    let r = agent()
        .get(&s.url("/v1/models"))
        .header("Origin", "https://example.com")
        .call()
        .unwrap();
    assert_eq!(
        r.headers().get("access-control-allow-origin").unwrap(),
        "https://example.com"
    );
}

#[test]
fn sixteen_batched_streams_match_solo_and_the_kv_budget_is_enforced() {
    let s = Server::start(&["--max-concurrent", "16", "--prefill-chunk", "32"]);
    let prompts: Vec<String> = (0..16)
        .map(|i| format!("Item {i}: {}", "the story goes on and on, ".repeat(i % 5)))
        .collect();
    let body = |p: &str| json!({"prompt": p, "max_tokens": 8, "temperature": 0, "seed": 1});
    let solo: Vec<Value> = prompts
        .iter()
        .map(|p| post(&s, "/v1/completions", &body(p)).1["choices"].clone())
        .collect();
    let url = s.url("/v1/completions");
    let handles: Vec<_> = prompts
        .iter()
        .map(|p| {
            let (url, b) = (url.clone(), body(p));
            std::thread::spawn(move || {
                let mut r = agent().post(&url).send_json(b).unwrap();
                serde_json::from_str::<Value>(&r.body_mut().read_to_string().unwrap()).unwrap()
            })
        })
        .collect();
    let mut most = 0;
    while handles.iter().any(|h| !h.is_finished()) {
        let m = get(&s, "/metrics").1;
        if let Some(n) = m
            .lines()
            .find_map(|l| l.strip_prefix("textgen_running_sequences "))
        {
            most = most.max(n.trim().parse::<usize>().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for (h, want) in handles.into_iter().zip(&solo) {
        assert_eq!(&h.join().unwrap()["choices"], want);
    }
    assert!(most >= 4, "at most {most} requests ran together");
    let m = get(&s, "/metrics").1;
    assert!(m.contains("textgen_batch_steps_total"), "{m}");

    // 1 MiB of KV cache = 22 positions of this model: two of the requests below (8 + 2 each) fit at once.
    let small = Server::start(&["--kv-cache-mb", "1"]);
    let (st, v) = post(
        &small,
        "/v1/completions",
        &json!({"prompt": "Hello", "max_tokens": 100}),
    );
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["code"], "kv_cache_budget_exceeded", "{v}");
    let fits = json!({"prompt": "Hello", "max_tokens": 8, "temperature": 0});
    let url = small.url("/v1/completions");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (url, b) = (url.clone(), fits.clone());
            std::thread::spawn(move || agent().post(&url).send_json(b).unwrap().status().as_u16())
        })
        .collect();
    for h in handles {
        assert_eq!(
            h.join().unwrap(),
            200,
            "requests wait for KV space, then run"
        );
    }
}

#[test]
fn playground_page_is_served_self_contained_and_open() {
    let s = Server::start(&["--api-key", "secret"]);
    let mut r = agent().get(&s.url("/")).call().expect("request sent");
    assert_eq!(r.status().as_u16(), 200);
    let ctype = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(ctype, "text/html; charset=utf-8");
    let page = r.body_mut().read_to_string().unwrap();
    assert!(page.contains("<title>textgen playground</title>"), "{page}");
    for route in ["/v1/chat/completions", "/v1/completions", "Authorization"] {
        assert!(page.contains(route), "the page uses {route}");
    }
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("src="),
        "the page loads nothing from elsewhere"
    );
    // The API behind it still wants the key.
    assert_eq!(get(&s, "/v1/models").0, 401);
}

#[test]
fn chat_template_flag_replaces_the_models_template() {
    let dir = std::env::temp_dir().join(format!("textgen-serve-tpl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.jinja");
    std::fs::write(
        &path,
        "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}\
         {{ messages[0].content }}",
    )
    .unwrap();
    let s = Server::start(&["--chat-template", path.to_str().unwrap()]);
    let ask = |messages: Value| {
        post(
            &s,
            "/v1/chat/completions",
            &json!({"messages": messages, "max_tokens": 1, "temperature": 0}),
        )
    };
    // "Hello world" is two tokens (19556, 905); the model's own template would add ~30 more.
    let (st, v) = ask(json!([{"role": "user", "content": "Hello world"}]));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["usage"]["prompt_tokens"], 2, "{v}");
    let (st, v) =
        ask(json!([{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]));
    assert_error(st, &v, 400, Some("messages"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("System role not supported"),
        "{v}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
