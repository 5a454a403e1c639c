//! While the model loads, the server already listens and answers 503 `loading`; a failed load ends it.

use std::time::Duration;
use textgen_server::{serve, ServerConfig};

#[test]
fn health_is_503_while_loading_and_a_failed_load_is_an_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = ServerConfig {
        host: "127.0.0.1".into(),
        port,
        api_key: None,
        cors_allow_origin: None,
        max_queue: 1,
        max_concurrent: 1,
        prefill_chunk: 256,
        kv_cache_mb: 64,
        prefix_cache: 0,
        max_body_bytes: 1024,
        client_timeout: Duration::from_secs(5),
        drain_timeout: Duration::from_secs(1),
        model_id: "test".into(),
        request_timeout: None,
        log_json: false,
        log_prompts: false,
    };
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(serve(cfg, || {
            std::thread::sleep(Duration::from_millis(1500));
            Err("no such model".to_string())
        }))
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/health");
    let mut answer = None;
    for _ in 0..50 {
        if let Ok(mut r) = agent.get(&url).call() {
            answer = Some((r.status().as_u16(), r.body_mut().read_to_string().unwrap()));
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, body) = answer.expect("the server listens while loading");
    assert_eq!(status, 503);
    assert!(body.contains("\"code\":\"loading\""), "{body}");
    let err = server.join().unwrap().unwrap_err();
    assert!(err.to_string().contains("no such model"));
}
