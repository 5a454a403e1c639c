//! Operational routes: health, model list, metrics, tokenize/detokenize.

use crate::error::ApiError;
use crate::request::{json_object, Fields};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `GET /health`: 200 when ready, 503 while shutting down.
pub async fn health(State(s): State<Arc<AppState>>) -> Response {
    if s.shutting_down.load(Ordering::SeqCst) {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        )
        .into_response();
    }
    axum::Json(json!({"status": "ok"})).into_response()
}

/// `GET /v1/models`.
pub async fn models(State(s): State<Arc<AppState>>) -> Response {
    axum::Json(json!({"object": "list", "data": [{"id": s.model_id, "object": "model", "created": 0, "owned_by": "textgen"}]}))
        .into_response()
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let text = s.metrics.render(
        s.worker.queued(),
        s.worker.running(),
        &s.worker.stats(),
        s.worker.config().kv_tokens,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `POST /tokenize` `{"content": "...", "add_special": false}` -> `{"tokens": [...]}`.
pub async fn tokenize(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let run = || -> Result<Value, ApiError> {
        let mut f = Fields::new(json_object(&headers, &body)?);
        let text = f
            .string("content")?
            .ok_or_else(|| ApiError::invalid("content", "'content' is required"))?;
        let add_special = f.bool("add_special")?.unwrap_or(false);
        f.finish()?;
        let ids = s
            .engine
            .tokenizer
            .encode(&text, add_special)
            .map_err(|e| ApiError::invalid("content", e.to_string()))?;
        Ok(json!({"tokens": ids}))
    };
    match run() {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /detokenize` `{"tokens": [...]}` -> `{"content": "..."}`.
pub async fn detokenize(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = || -> Result<Value, ApiError> {
        let mut f = Fields::new(json_object(&headers, &body)?);
        let bad = || {
            ApiError::invalid(
                "tokens",
                "'tokens' must be an array of token ids within the vocabulary",
            )
        };
        let Some(Value::Array(a)) = f.take("tokens") else {
            return Err(bad());
        };
        f.finish()?;
        let vocab = s.engine.tokenizer.vocab_size() as u64;
        let ids = a
            .iter()
            .map(|v| {
                v.as_u64()
                    .filter(|&i| i < vocab)
                    .map(|i| i as u32)
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({"content": s.engine.tokenizer.decode(&ids, false)}))
    };
    match run() {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}
