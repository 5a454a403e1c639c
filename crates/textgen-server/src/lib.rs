//! textgen-server: the HTTP face of the engine. OpenAI-compatible completions and chat (plain and SSE),
//! TGI-compatible generate (plain and SSE), tokenize/detokenize, health, Prometheus metrics and a web playground at `/`; inference runs on its own thread behind a bounded
//! queue, and every client error is a 4xx with an OpenAI-style JSON body.

mod admin;
pub mod error;
mod listen;
mod metrics;
mod openai;
mod read_body;
pub mod request;
mod tgi;
mod ui;
mod worker;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use textgen_core::chat::ChatTemplate;
use textgen_core::engine::Engine;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Server settings (from `textgen serve` flags / `TEXTGEN_*` environment).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind.
    pub host: String,
    /// Port to bind (0 = any free port; the chosen one is printed).
    pub port: u16,
    /// Bearer token required on the API routes (health and metrics stay open).
    pub api_key: Option<String>,
    /// Allowed CORS origin (`*` for any).
    pub cors_allow_origin: Option<String>,
    /// Requests that may wait for the model; more get 429.
    pub max_queue: usize,
    /// Sequences decoded together in one batch (the rest wait in the queue).
    pub max_concurrent: usize,
    /// Most prompt tokens processed per step (a longer prompt is processed over several steps).
    pub prefill_chunk: usize,
    /// KV cache budget in MiB (requests wait while their reservation does not fit).
    pub kv_cache_mb: usize,
    /// Finished sequences kept for prefix reuse.
    pub prefix_cache: usize,
    /// Largest request body; larger gets 413.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers (then it is disconnected), and then its
    /// body (then it gets 408).
    pub client_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub drain_timeout: Duration,
    /// Name reported as the model id.
    pub model_id: String,
    /// Longest a request may take, queueing included (it is then cancelled: 503, or an error event).
    pub request_timeout: Option<Duration>,
    /// Request log lines as JSON (else plain text).
    pub log_json: bool,
    /// Also log each generation request's prompt text (off by default: prompts may hold private data).
    pub log_prompts: bool,
}

/// Shared state of the handlers.
pub struct AppState {
    engine: Arc<Engine>,
    worker: worker::Worker,
    model_id: String,
    chat_template: ChatTemplate,
    metrics: metrics::Metrics,
    api_key: Option<String>,
    shutting_down: AtomicBool,
    request_timeout: Option<Duration>,
    log_json: bool,
    log_prompts: bool,
    next_request_id: std::sync::atomic::AtomicU64,
    max_concurrent: usize,
}

impl AppState {
    /// When a request that starts now must be finished.
    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.request_timeout
            .map(|t| tokio::time::Instant::now() + t)
    }

    /// With `--log-prompts`, logs the text of each prompt (as the model sees it) under the request's id.
    pub(crate) fn log_prompts(&self, headers: &HeaderMap, prompts: &[Vec<u32>]) {
        if !self.log_prompts {
            return;
        }
        let id = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        for (i, ids) in prompts.iter().enumerate() {
            let text = self.engine.tokenizer.decode(ids, false);
            if self.log_json {
                eprintln!(
                    "{}",
                    serde_json::json!({"id": id, "prompt_index": i, "prompt": text})
                );
            } else {
                eprintln!("{id} prompt[{i}] {text:?}");
            }
        }
    }
}

/// The header carrying a request's id (taken from the client when well-formed, else made up).
const REQUEST_ID: &str = "x-request-id";

/// Token counts a handler reports for the request log (a response extension).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    pub(crate) prompt: usize,
    pub(crate) completion: usize,
}

/// The sending side of a server-sent-event stream.
pub(crate) type SseSender =
    tokio::sync::mpsc::Sender<Result<axum::response::sse::Event, std::convert::Infallible>>;

/// The next event of a streamed request; at the deadline, sends `timeout_body` as a last event and returns
/// `None` (dropping the receiver afterwards cancels the generation), as it does when the request ends.
pub(crate) async fn next_streamed(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<worker::Event>,
    deadline: Option<tokio::time::Instant>,
    out: &SseSender,
    timeout_body: serde_json::Value,
) -> Option<worker::Event> {
    match worker::next_event(rx, deadline).await {
        Ok(ev) => ev,
        Err(_) => {
            let _ = out
                .send(Ok(
                    axum::response::sse::Event::default().data(timeout_body.to_string())
                ))
                .await;
            None
        }
    }
}

/// The 503 of a request that ran out of time.
pub(crate) fn timeout_error() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "request_timeout",
        "the request took longer than the server's request timeout",
    )
}

async fn auth(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(key) = &s.api_key {
        // The playground page is static; the API calls it makes carry the key.
        let open = matches!(req.uri().path(), "/" | "/health" | "/metrics");
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !open && !bool::from(given.as_bytes().ct_eq(key.as_bytes())) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "missing or wrong API key (Authorization: Bearer ...)",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Counts and logs every request, and turns the framework's own plain-text rejections into JSON errors.
async fn observe(State(s): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("req-{}", s.next_request_id.fetch_add(1, Ordering::Relaxed)));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    if let Ok(v) = HeaderValue::from_str(&id) {
        // Handlers read the id (the one made up here included) from the request.
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let started = Instant::now();
    let mut resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.is_client_error() && !is_json {
        let (code, msg) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "method not allowed on this route")
            }
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            _ => ("bad_request", "bad request"),
        };
        resp = ApiError::new(status, code, msg).into_response();
    }
    s.metrics.request(&route, status.as_u16());
    let usage = resp.extensions().get::<Usage>().copied();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if s.log_json {
        let line = serde_json::json!({"id": id, "method": method.as_str(), "route": route, "status": status.as_u16(), "ms": (ms * 10.0).round() / 10.0,
            "prompt_tokens": usage.map(|u| u.prompt), "completion_tokens": usage.map(|u| u.completion)});
        eprintln!("{line}");
    } else {
        let tokens = usage.map_or(String::new(), |u| {
            format!(" tokens={}+{}", u.prompt, u.completion)
        });
        eprintln!(
            "{id} {method} {route} {} {ms:.1}ms{tokens}",
            status.as_u16()
        );
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The router with every route and layer.
fn router(state: Arc<AppState>, cfg: &ServerConfig) -> Router {
    let mut app = Router::new()
        .route("/", get(ui::playground))
        .route("/health", get(admin::health))
        .route("/metrics", get(admin::metrics))
        .route("/v1/models", get(admin::models))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/generate", post(tgi::generate))
        .route("/generate_stream", post(tgi::generate_stream))
        .route("/info", get(tgi::info))
        .route("/tokenize", post(admin::tokenize))
        .route("/detokenize", post(admin::detokenize))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            read_body::Limits {
                max_bytes: cfg.max_body_bytes,
                timeout: cfg.client_timeout,
            },
            read_body::read_body,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    if let Some(origin) = &cfg.cors_allow_origin {
        let allow = if origin == "*" {
            AllowOrigin::any()
        } else {
            AllowOrigin::exact(
                HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("null")),
            )
        };
        app = app.layer(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST]),
        );
    }
    app
}

async fn shutdown_signal(state: Arc<OnceLock<Arc<AppState>>>, drain: Duration) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    if let Some(s) = state.get() {
        s.shutting_down.store(true, Ordering::SeqCst);
    }
    eprintln!(
        "shutting down: no new connections, draining in-flight requests (up to {} s)",
        drain.as_secs()
    );
    tokio::spawn(async move {
        tokio::time::sleep(drain).await;
        eprintln!("drain timeout reached; exiting");
        std::process::exit(0);
    });
}

/// Answers every request with 503 until the model is loaded, then hands requests to the real router.
async fn gate(slot: Arc<OnceLock<Router>>, req: Request) -> Response {
    use tower::ServiceExt;
    match slot.get() {
        Some(router) => match router.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "loading",
            "the model is still loading",
        )
        .into_response(),
    }
}

/// The handlers' state for a loaded engine (starts the inference thread).
fn app_state(
    cfg: &ServerConfig,
    engine: Engine,
    template: ChatTemplate,
) -> std::io::Result<Arc<AppState>> {
    let per_token = textgen_core::model::KvCache::bytes_per_token(&engine.model.cfg).max(1);
    let batch = textgen_core::engine::BatchConfig {
        max_sequences: cfg.max_concurrent.max(1),
        prefill_chunk: cfg.prefill_chunk.max(1),
        kv_tokens: cfg.kv_cache_mb.saturating_mul(1 << 20) / per_token,
        prefix_entries: cfg.prefix_cache,
    };
    let engine = Arc::new(engine);
    Ok(Arc::new(AppState {
        worker: worker::Worker::start(engine.clone(), cfg.max_queue, batch)?,
        engine,
        model_id: cfg.model_id.clone(),
        chat_template: template,
        metrics: metrics::Metrics::default(),
        api_key: cfg.api_key.clone(),
        shutting_down: AtomicBool::new(false),
        request_timeout: cfg.request_timeout,
        log_json: cfg.log_json,
        log_prompts: cfg.log_prompts,
        next_request_id: std::sync::atomic::AtomicU64::new(1),
        max_concurrent: cfg.max_concurrent,
    }))
}

/// Listens at once (every route answers 503 `loading` while `load` runs on a blocking thread), then serves
/// the loaded engine with its chat template until SIGTERM/SIGINT, drains in-flight requests and returns.
pub async fn serve<F>(cfg: ServerConfig, load: F) -> std::io::Result<()>
where
    F: FnOnce() -> Result<(Engine, ChatTemplate), String> + Send + 'static,
{
    let addr: SocketAddr = format!("{}:{}", cfg.host, cfg.port).parse().map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("bad address {}:{}: {e}", cfg.host, cfg.port),
        )
    })?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "textgen serving {} on http://{}",
        cfg.model_id,
        listener.local_addr()?
    );
    let slot: Arc<OnceLock<Router>> = Arc::default();
    let state: Arc<OnceLock<Arc<AppState>>> = Arc::default();
    let front = Router::new().fallback({
        let slot = slot.clone();
        move |req: Request| gate(slot.clone(), req)
    });
    let server = tokio::spawn(listen::run(
        listener,
        front,
        cfg.client_timeout,
        shutdown_signal(state.clone(), cfg.drain_timeout),
    ));
    let loaded = tokio::task::spawn_blocking(load)
        .await
        .map_err(std::io::Error::other)?;
    let (engine, template) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => {
            server.abort();
            return Err(std::io::Error::other(message));
        }
    };
    let app = app_state(&cfg, engine, template)?;
    let _ = slot.set(router(app.clone(), &cfg));
    let _ = state.set(app);
    eprintln!("model loaded: ready");
    server.await.map_err(std::io::Error::other)
}
