//! Security checks of the server's edges: the request log carries request ids and never prompt or
//! completion text; CORS answers only the configured origin; the API key is only read from the
//! `Authorization: Bearer` header.

mod common;

use common::server::{agent, post, Server};
use serde_json::json;
use std::time::{Duration, Instant};

/// Waits until the server has logged a line containing `needle`.
fn wait_for_log(s: &Server, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = s.log();
        if log.iter().any(|l| l.contains(needle)) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle}: {log:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn request_log_has_request_ids_and_no_prompt_or_completion_text() {
    for format in ["text", "json"] {
        let s = Server::start(&["--log-format", format]);
        let mut r = agent()
            .post(&s.url("/v1/chat/completions"))
            .header("x-request-id", "trace-42")
            .send_json(json!({"messages": [{"role": "user", "content": "my password is zebra-7781"}], "max_tokens": 8, "temperature": 0}))
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        let reply = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .trim()
            .to_string();
        let (st, _) = post(
            &s,
            "/v1/completions",
            &json!({"prompt": "zebra-7781 again", "max_tokens": 2, "stream": true}),
        );
        assert_eq!(st, 200);
        let log = wait_for_log(&s, "trace-42");
        let joined = log.join("\n");
        assert!(
            !joined.contains("zebra"),
            "prompt text was logged ({format}): {joined}"
        );
        assert!(
            reply.len() < 4 || !joined.contains(&reply),
            "completion text was logged: {joined}"
        );
        // Ids the server makes up itself for requests without one.
        assert!(joined.contains("req-"), "{joined}");
    }
}

#[test]
fn log_prompts_opt_in_logs_each_prompt_under_its_request_id() {
    for format in ["text", "json"] {
        let s = Server::start(&["--log-format", format, "--log-prompts"]);
        let mut r = agent()
            .post(&s.url("/v1/chat/completions"))
            .header("x-request-id", "trace-77")
            .send_json(
                json!({"messages": [{"role": "user", "content": "quokka-1234"}], "max_tokens": 2}),
            )
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "{}",
            r.body_mut().read_to_string().unwrap()
        );
        let (st, _) = post(
            &s,
            "/generate",
            &json!({"inputs": "wombat-5678", "parameters": {"max_new_tokens": 2}}),
        );
        assert_eq!(st, 200);
        let log = wait_for_log(&s, "wombat-5678");
        let chat = log
            .iter()
            .find(|l| l.contains("quokka-1234"))
            .unwrap_or_else(|| panic!("chat prompt not logged ({format}): {log:#?}"));
        assert!(chat.contains("trace-77"), "{chat}");
        // The logged text is the prompt as the model sees it: the chat template applied.
        assert!(chat.contains("im_start"), "{chat}");
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(chat).unwrap();
            assert_eq!(v["id"], "trace-77");
            assert!(v["prompt"].as_str().unwrap().contains("quokka-1234"));
        }
    }
}

#[test]
fn cors_answers_only_the_configured_origin_and_does_not_bypass_the_key() {
    let s = Server::start(&[
        "--cors-allow-origin",
        "https://ok.example",
        "--api-key",
        "k1",
    ]);
    let preflight = |origin: &str| {
        agent()
            .run(
                ureq::http::Request::builder()
                    .method("OPTIONS")
                    .uri(s.url("/v1/chat/completions"))
                    .header("Origin", origin)
                    .header("Access-Control-Request-Method", "POST")
                    .header(
                        "Access-Control-Request-Headers",
                        "authorization,content-type",
                    )
                    .body(())
                    .unwrap(),
            )
            .unwrap()
    };
    let ok = preflight("https://ok.example");
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        ok.headers().get("access-control-allow-origin").unwrap(),
        "https://ok.example"
    );
    let allowed = ok
        .headers()
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    let evil = preflight("https://evil.example");
    // The configured origin is stated whatever the request says; a browser on another origin then refuses
    // the response. The request's own origin is never echoed.
    let stated = evil.headers().get("access-control-allow-origin");
    assert!(
        stated.is_none_or(|o| o == "https://ok.example"),
        "{stated:?}"
    );
    // A browser request from the allowed origin still needs the key.
    let r = agent()
        .post(&s.url("/v1/completions"))
        .header("Origin", "https://ok.example")
        .send_json(json!({"prompt": "x", "max_tokens": 1}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers().get("access-control-allow-origin").unwrap(),
        "https://ok.example"
    );
    // The key only counts in `Authorization: Bearer`: not as a query parameter, another scheme, or a prefix.
    for (url, auth) in [
        (s.url("/v1/models?api_key=k1"), None),
        (s.url("/v1/models"), Some("Basic k1")),
        (s.url("/v1/models"), Some("Bearer k")),
        (s.url("/v1/models"), Some("Bearer k1x")),
        (s.url("/v1/models"), Some("bearer  k1")),
    ] {
        let mut req = agent().get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        assert_eq!(req.call().unwrap().status().as_u16(), 401, "{url} {auth:?}");
    }
    let r = agent()
        .get(&s.url("/v1/models"))
        .header("Authorization", "Bearer k1")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
