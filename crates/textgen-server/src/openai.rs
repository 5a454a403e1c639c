//! OpenAI-compatible routes: `POST /v1/completions` and `POST /v1/chat/completions`, plain or streamed
//! as server-sent events exactly as OpenAI sends them (`data: {...}` chunks, then `data: [DONE]`).

use crate::error::ApiError;
use crate::request::{json_object, Fields};
use crate::worker::{next_event, Event, Job};
use crate::{next_streamed, timeout_error, AppState, Usage};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use textgen_core::chat::Message;
use textgen_core::engine::{Completion, FinishReason, Generation};
use textgen_core::sampling::rng::random_seed;
use textgen_core::sampling::GenerationParams;
use tokio::sync::mpsc;

/// Which OpenAI route a request came through (they differ in request and response shapes).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Completion,
    Chat,
}

/// A validated generation request.
struct Request {
    kind: Kind,
    prompts: Vec<Vec<u32>>,
    prompt_texts: Vec<String>,
    params: GenerationParams,
    stream: bool,
    include_usage: bool,
    echo: bool,
    chat_logprobs: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn finish_reason(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Length => "length",
        _ => "stop",
    }
}

fn parse(
    state: &AppState,
    kind: Kind,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Request, ApiError> {
    let mut f = Fields::new(json_object(headers, body)?);
    if let Some(m) = f.string("model")? {
        if m != state.model_id {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "model_not_found",
                format!(
                    "model '{m}' does not exist; this server serves '{}'",
                    state.model_id
                ),
            ));
        }
    }
    f.string("user")?;
    let stream = f.bool("stream")?.unwrap_or(false);
    let include_usage = match f.take("stream_options") {
        None => false,
        Some(Value::Object(o)) => o
            .get("include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        Some(_) => {
            return Err(ApiError::invalid(
                "stream_options",
                "'stream_options' must be an object",
            ))
        }
    };
    let (texts, echo, mut raw, chat_logprobs) = match kind {
        Kind::Completion => {
            let texts = match f.take("prompt") {
                Some(Value::String(s)) => vec![s],
                Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                None => return Err(ApiError::invalid("prompt", "'prompt' is required")),
                Some(_) => {
                    return Err(ApiError::invalid(
                        "prompt",
                        "'prompt' must be a string or a non-empty array of strings",
                    ))
                }
            };
            let echo = f.bool("echo")?.unwrap_or(false);
            let mut raw = f.sampling(16)?;
            raw.logprobs = f.i64("logprobs")?;
            (texts, echo, raw, false)
        }
        Kind::Chat => {
            let messages = messages(f.take("messages"))?;
            let template = &state.chat_template;
            let text = template
                .render(&messages, true)
                .map_err(|e| ApiError::invalid("messages", e.to_string()))?;
            let mut raw =
                f.sampling(textgen_core::sampling::params::defaults::MAX_NEW_TOKENS as i64)?;
            let lp = f.bool("logprobs")?.unwrap_or(false);
            let top = f.i64("top_logprobs")?;
            if top.is_some() && !lp {
                return Err(ApiError::invalid(
                    "top_logprobs",
                    "'top_logprobs' requires 'logprobs': true",
                ));
            }
            if lp {
                raw.logprobs = Some(top.unwrap_or(0));
            }
            (vec![text], false, raw, lp)
        }
    };
    f.finish()?;
    let params =
        std::mem::take(&mut raw).validate(state.engine.model.cfg.vocab_size, random_seed)?;
    let prompts = texts
        .iter()
        .map(|t| encode(state, t, kind == Kind::Chat))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Request {
        kind,
        prompts,
        prompt_texts: texts,
        params,
        stream,
        include_usage,
        echo,
        chat_logprobs,
    })
}

/// Tokenizes a prompt and checks it fits the context (400 `context_length_exceeded` otherwise).
pub(crate) fn encode(state: &AppState, text: &str, chat: bool) -> Result<Vec<u32>, ApiError> {
    let n_ctx = state.engine.model.cfg.n_ctx_train;
    let ids = if chat {
        state.engine.encode_chat(text)
    } else {
        state.engine.encode_prompt(text)
    }
    .map_err(|e| ApiError::invalid("prompt", e.to_string()))?;
    if ids.len() >= n_ctx {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "context_length_exceeded",
            format!(
                "the prompt has {} tokens; the model's context is {n_ctx} tokens",
                ids.len()
            ),
        ));
    }
    Ok(ids)
}

fn messages(v: Option<Value>) -> Result<Vec<Message>, ApiError> {
    let bad = |m: &str| ApiError::invalid("messages", m.to_string());
    let Some(Value::Array(list)) = v else {
        return Err(bad(
            "'messages' must be a non-empty array of {role, content} objects",
        ));
    };
    if list.is_empty() {
        return Err(bad("'messages' must not be empty"));
    }
    list.into_iter()
        .map(|m| {
            let role = m.get("role").and_then(Value::as_str).ok_or_else(|| bad("each message needs a string 'role'"))?;
            let content = match m.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => {
                    let mut s = String::new();
                    for p in parts {
                        match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                            (Some("text"), Some(t)) => s.push_str(t),
                            _ => return Err(bad("only text content parts ({\"type\": \"text\", \"text\": ...}) are supported")),
                        }
                    }
                    s
                }
                Some(Value::Null) | None if role == "assistant" => String::new(),
                _ => return Err(bad("each message needs 'content': a string or an array of text parts")),
            };
            Ok(Message { role: role.to_string(), content })
        })
        .collect()
}

/// `POST /v1/completions`.
pub async fn completions(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(s, Kind::Completion, headers, body).await
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(s, Kind::Chat, headers, body).await
}

async fn handle(s: Arc<AppState>, kind: Kind, headers: HeaderMap, body: Bytes) -> Response {
    let req = match parse(&s, kind, &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    s.log_prompts(&headers, &req.prompts);
    let (tx, rx) = mpsc::unbounded_channel();
    let job = Job {
        prompts: req.prompts.clone(),
        params: req.params.clone(),
        events: tx,
    };
    if let Err(e) = s.worker.submit(job) {
        return e.into_response();
    }
    let id = format!(
        "{}-{:x}",
        if kind == Kind::Chat {
            "chatcmpl"
        } else {
            "cmpl"
        },
        random_seed()
    );
    if req.stream {
        stream(s, req, id, rx).into_response()
    } else {
        collect(s, req, id, rx).await
    }
}

fn logprobs_json(s: &AppState, req: &Request, c: &Completion, offset0: usize) -> Value {
    if req.params.logprobs.is_none() {
        return Value::Null;
    }
    let tok = &s.engine.tokenizer;
    if req.kind == Kind::Chat {
        let content: Vec<Value> = c.logprobs.iter().map(|ch| {
            let text = tok.token_text(ch.id);
            json!({"token": text, "logprob": ch.logprob, "bytes": tok.token_bytes(ch.id),
                   "top_logprobs": ch.top.iter().map(|&(id, lp)| json!({"token": tok.token_text(id), "logprob": lp, "bytes": tok.token_bytes(id)})).collect::<Vec<_>>()})
        }).collect();
        return json!({"content": content});
    }
    let mut offset = offset0;
    let mut tokens = Vec::new();
    let mut token_logprobs = Vec::new();
    let mut top = Vec::new();
    let mut offsets = Vec::new();
    for ch in &c.logprobs {
        let text = tok.token_text(ch.id);
        offsets.push(offset);
        offset += text.len();
        tokens.push(text);
        token_logprobs.push(ch.logprob);
        let m: serde_json::Map<String, Value> = ch
            .top
            .iter()
            .map(|&(id, lp)| (tok.token_text(id), json!(lp)))
            .collect();
        top.push(Value::Object(m));
    }
    json!({"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top, "text_offset": offsets})
}

async fn collect(
    s: Arc<AppState>,
    req: Request,
    id: String,
    mut rx: mpsc::UnboundedReceiver<Event>,
) -> Response {
    let started = Instant::now();
    let mut gens: Vec<Option<Generation>> = vec![None; req.prompts.len()];
    let deadline = s.deadline();
    loop {
        let ev = match next_event(&mut rx, deadline).await {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(_) => return timeout_error().into_response(),
        };
        if let Event::Done { prompt, result } = ev {
            match result {
                Ok(g) => gens[prompt] = Some(g),
                Err(e) => {
                    return ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "generation_failed",
                        e.to_string(),
                    )
                    .into_response()
                }
            }
        }
    }
    let mut choices = Vec::new();
    let (mut prompt_tokens, mut completion_tokens) = (0, 0);
    for (p, g) in gens.into_iter().enumerate() {
        let Some(g) = g else {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "generation was interrupted",
            )
            .into_response();
        };
        prompt_tokens += g.prompt_tokens;
        s.metrics.observe_generation(&g, started);
        for (i, c) in g.completions.iter().enumerate() {
            completion_tokens += c.tokens.len();
            let index = p * req.params.n + i;
            let choice = match req.kind {
                Kind::Completion => {
                    let prefix = if req.echo {
                        req.prompt_texts[p].clone()
                    } else {
                        String::new()
                    };
                    json!({"index": index, "text": format!("{prefix}{}", c.text), "logprobs": logprobs_json(&s, &req, c, prefix.len()),
                           "finish_reason": finish_reason(c.finish_reason)})
                }
                Kind::Chat => {
                    json!({"index": index, "message": {"role": "assistant", "content": c.text},
                    "logprobs": if req.chat_logprobs { logprobs_json(&s, &req, c, 0) } else { Value::Null },
                    "finish_reason": finish_reason(c.finish_reason)})
                }
            };
            choices.push(choice);
        }
    }
    let object = if req.kind == Kind::Chat {
        "chat.completion"
    } else {
        "text_completion"
    };
    let mut resp = axum::Json(json!({
        "id": id, "object": object, "created": now(), "model": s.model_id, "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    }))
    .into_response();
    resp.extensions_mut().insert(Usage {
        prompt: prompt_tokens,
        completion: completion_tokens,
    });
    resp
}

fn stream(
    s: Arc<AppState>,
    req: Request,
    id: String,
    mut rx: mpsc::UnboundedReceiver<Event>,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let (out_tx, out_rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    tokio::spawn(async move {
        let started = Instant::now();
        let created = now();
        let n = req.params.n;
        let object = if req.kind == Kind::Chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        let chunk = |choices: Value, usage: Option<Value>| {
            let mut v = json!({"id": id, "object": object, "created": created, "model": s.model_id, "choices": choices});
            if let Some(u) = usage {
                v["usage"] = u;
            }
            SseEvent::default().data(v.to_string())
        };
        let mut first_token = true;
        let mut last = Instant::now();
        let (mut prompt_tokens, mut completion_tokens) = (0, 0);
        let mut sent_role = vec![false; n * req.prompts.len()];
        let deadline = s.deadline();
        while let Some(ev) = next_streamed(&mut rx, deadline, &out_tx, json!({"error": {"message": "the request took longer than the server's request timeout", "type": "server_error", "param": null, "code": "request_timeout"}})).await {
            let msg = match ev {
                Event::Started => continue,
                Event::Piece { text, .. } if text.is_empty() => continue,
                Event::Piece {
                    prompt,
                    index,
                    text,
                    ..
                } => {
                    let i = prompt * n + index;
                    if first_token {
                        s.metrics.time_to_first_token(started.elapsed());
                        first_token = false;
                    } else {
                        s.metrics.inter_token(last.elapsed());
                    }
                    last = Instant::now();
                    let choice = match req.kind {
                        Kind::Completion => {
                            json!([{"index": i, "text": text, "logprobs": null, "finish_reason": null}])
                        }
                        Kind::Chat => {
                            let delta = if sent_role[i] {
                                json!({"content": text})
                            } else {
                                json!({"role": "assistant", "content": text})
                            };
                            sent_role[i] = true;
                            json!([{"index": i, "delta": delta, "logprobs": null, "finish_reason": null}])
                        }
                    };
                    chunk(choice, None)
                }
                Event::Done { prompt, result } => {
                    let g = match result {
                        Ok(g) => g,
                        Err(e) => {
                            let err = json!({"error": {"message": e.to_string(), "type": "server_error", "param": null, "code": "generation_failed"}});
                            let _ = out_tx
                                .send(Ok(SseEvent::default().data(err.to_string())))
                                .await;
                            break;
                        }
                    };
                    s.metrics.observe_generation(&g, started);
                    prompt_tokens += g.prompt_tokens;
                    for (k, c) in g.completions.iter().enumerate() {
                        completion_tokens += c.tokens.len();
                        let i = prompt * n + k;
                        let lp = logprobs_json(&s, &req, c, 0);
                        let choice = match req.kind {
                            Kind::Completion => {
                                json!([{"index": i, "text": "", "logprobs": lp, "finish_reason": finish_reason(c.finish_reason)}])
                            }
                            Kind::Chat => {
                                json!([{"index": i, "delta": {}, "logprobs": if req.chat_logprobs { lp } else { Value::Null }, "finish_reason": finish_reason(c.finish_reason)}])
                            }
                        };
                        if out_tx.send(Ok(chunk(choice, None))).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
            };
            if out_tx.send(Ok(msg)).await.is_err() {
                return; // client gone: dropping `rx` cancels the generation at the next token
            }
        }
        if req.include_usage {
            let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens});
            let _ = out_tx.send(Ok(chunk(json!([]), Some(usage)))).await;
        }
        let _ = out_tx.send(Ok(SseEvent::default().data("[DONE]"))).await;
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(out_rx))
}
