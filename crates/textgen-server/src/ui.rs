//! The web playground at `GET /`: one self-contained page (no external assets) compiled into the binary,
//! to chat and to complete through the OpenAI routes, streaming, with the main decoding controls.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("ui/playground.html");

/// `GET /`: the playground page.
pub async fn playground() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
}
