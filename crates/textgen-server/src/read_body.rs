//! Reads a request body in full before any handler runs, with a size limit (413) and a deadline (408):
//! a client that sends its body a byte at a time cannot hold a connection and a task for ever.

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tokio_stream::StreamExt;

/// How much body a request may have, and how long it may take to arrive.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest body in bytes.
    pub max_bytes: usize,
    /// Time from the end of the headers to the end of the body.
    pub timeout: Duration,
}

fn too_large() -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is too large",
    )
    .into_response()
}

/// The middleware: buffers the body, then hands the request on with the buffered body.
pub async fn read_body(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return too_large();
    }
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let (parts, body) = req.into_parts();
    let mut chunks = body.into_data_stream();
    let mut buf = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, chunks.next()).await {
            Err(_) => {
                let mut r = ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body did not arrive within {} s",
                        limits.timeout.as_secs_f64()
                    ),
                )
                .into_response();
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return r;
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "the request body could not be read",
                )
                .into_response()
            }
            Ok(Some(Ok(chunk))) => {
                if buf.len() + chunk.len() > limits.max_bytes {
                    return too_large();
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
    next.run(Request::from_parts(parts, Body::from(buf))).await
}
