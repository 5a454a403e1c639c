//! TGI-compatible routes: `POST /generate`, `POST /generate_stream` (TGI's request and event shapes, with
//! `details`, `best_of`, `top_n_tokens` and `decoder_input_details`) and `GET /info`.

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
use std::sync::Arc;
use textgen_core::engine::{Completion, FinishReason};
use textgen_core::sampling::params::limits;
use textgen_core::sampling::{Choice, GenerationParams};
use tokio::sync::mpsc;

/// Most `best_of` candidates.
const MAX_BEST_OF: usize = 4;

struct TgiRequest {
    inputs: String,
    prompt: Vec<u32>,
    params: GenerationParams,
    details: bool,
    decoder_input_details: bool,
    return_full_text: bool,
    best_of: usize,
    top_n: usize,
}

fn parse(s: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<TgiRequest, ApiError> {
    let mut f = Fields::new(json_object(headers, body)?);
    let inputs = f
        .string("inputs")?
        .ok_or_else(|| ApiError::invalid("inputs", "'inputs' is required"))?;
    f.bool("stream")?;
    let mut p = match f.take("parameters") {
        None => Fields::new(Default::default()),
        Some(Value::Object(m)) => Fields::new(m),
        Some(_) => {
            return Err(ApiError::invalid(
                "parameters",
                "'parameters' must be an object",
            ))
        }
    };
    f.finish()?;
    let do_sample = p.bool("do_sample")?.unwrap_or(false);
    let temperature = p.f32("temperature")?;
    let top_p = p.f32("top_p")?;
    let top_k = p.i64("top_k")?;
    let mut raw = p.sampling(100)?;
    // TGI samples when asked to, or when any sampling control is set; else it is greedy.
    let sampling =
        do_sample || temperature.is_some_and(|t| t != 1.0) || top_p.is_some() || top_k.is_some();
    raw.greedy = !sampling;
    raw.temperature = Some(temperature.unwrap_or(1.0));
    raw.top_p = Some(top_p.unwrap_or(1.0));
    raw.top_k = Some(top_k.unwrap_or(-1));
    let details = p.bool("details")?.unwrap_or(false);
    let decoder_input_details = p.bool("decoder_input_details")?.unwrap_or(false);
    let return_full_text = p.bool("return_full_text")?.unwrap_or(false);
    let best_of = p.u64("best_of")?.unwrap_or(1) as usize;
    let top_n = p.u64("top_n_tokens")?.unwrap_or(0) as usize;
    if p.bool("watermark")? == Some(true) {
        return Err(ApiError::invalid(
            "watermark",
            "watermarking is not supported",
        ));
    }
    if p.take("truncate").is_some() {
        return Err(ApiError::invalid(
            "truncate",
            "truncation is not supported; shorten the input",
        ));
    }
    p.finish()?;
    if best_of == 0 || best_of > MAX_BEST_OF {
        return Err(ApiError::invalid(
            "best_of",
            format!("best_of must be in [1, {MAX_BEST_OF}]"),
        ));
    }
    if best_of > 1 && !sampling {
        return Err(ApiError::invalid(
            "best_of",
            "best_of > 1 needs sampling (do_sample: true)",
        ));
    }
    if top_n > limits::MAX_LOGPROBS {
        return Err(ApiError::invalid(
            "top_n_tokens",
            format!("top_n_tokens must be at most {}", limits::MAX_LOGPROBS),
        ));
    }
    raw.n = Some(best_of as i64);
    raw.logprobs = Some(top_n as i64);
    let params = raw.validate(
        s.engine.model.cfg.vocab_size,
        textgen_core::sampling::rng::random_seed,
    )?;
    let prompt = crate::openai::encode(s, &inputs, false)?;
    Ok(TgiRequest {
        inputs,
        prompt,
        params,
        details,
        decoder_input_details,
        return_full_text,
        best_of,
        top_n,
    })
}

fn finish_reason(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Eos => "eos_token",
        FinishReason::Stop => "stop_sequence",
        _ => "length",
    }
}

fn token_json(s: &AppState, id: u32, logprob: Option<f32>) -> Value {
    let t = &s.engine.tokenizer;
    json!({"id": id, "text": t.token_text(id), "logprob": logprob, "special": t.is_special(id)})
}

fn top_json(s: &AppState, c: &Choice, n: usize) -> Value {
    Value::from(
        c.top
            .iter()
            .take(n)
            .map(|&(id, lp)| token_json(s, id, Some(lp)))
            .collect::<Vec<_>>(),
    )
}

fn sequence_details(s: &AppState, r: &TgiRequest, index: usize, c: &Completion) -> Value {
    let tokens: Vec<Value> = c
        .logprobs
        .iter()
        .map(|ch| token_json(s, ch.id, ch.logprob))
        .collect();
    let mut d = json!({"finish_reason": finish_reason(c.finish_reason), "generated_tokens": c.tokens.len(),
                       "seed": r.params.seed.wrapping_add(index as u64), "tokens": tokens});
    if r.top_n > 0 {
        d["top_tokens"] = c
            .logprobs
            .iter()
            .map(|ch| top_json(s, ch, r.top_n))
            .collect();
    }
    d
}

/// The best of the candidates: highest sum of token log-probabilities (TGI's rule).
fn best(cs: &[Completion]) -> usize {
    let score = |c: &Completion| c.logprobs.iter().filter_map(|x| x.logprob).sum::<f32>();
    (0..cs.len())
        .max_by(|&a, &b| score(&cs[a]).total_cmp(&score(&cs[b])))
        .unwrap_or(0)
}

/// `POST /generate`.
pub async fn generate(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let r = match parse(&s, &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut rx = match submit(&s, &headers, &r) {
        Ok(rx) => rx,
        Err(e) => return e.into_response(),
    };
    let started = std::time::Instant::now();
    let mut gen = None;
    let deadline = s.deadline();
    loop {
        match next_event(&mut rx, deadline).await {
            Ok(Some(Event::Done { result, .. })) => gen = Some(result),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return timeout_error().into_response(),
        }
    }
    let g = match gen {
        Some(Ok(g)) => g,
        Some(Err(e)) => {
            return ApiError::new(StatusCode::BAD_REQUEST, "generation_failed", e.to_string())
                .into_response()
        }
        None => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "generation was interrupted",
            )
            .into_response()
        }
    };
    s.metrics.observe_generation(&g, started);
    let b = best(&g.completions);
    let c = &g.completions[b];
    let text = if r.return_full_text {
        format!("{}{}", r.inputs, c.text)
    } else {
        c.text.clone()
    };
    let mut out = json!({"generated_text": text});
    if r.details {
        let mut d = sequence_details(&s, &r, b, c);
        d["prefill"] = if r.decoder_input_details {
            // A whole-prompt forward pass: off the async runtime.
            let (engine, prompt) = (s.engine.clone(), r.prompt.clone());
            match tokio::task::spawn_blocking(move || engine.prompt_logprobs(&prompt)).await {
                Ok(Ok(lps)) => r.prompt.iter().zip(lps).map(|(&id, lp)| json!({"id": id, "text": s.engine.tokenizer.token_text(id), "logprob": lp})).collect(),
                Ok(Err(e)) => return ApiError::new(StatusCode::BAD_REQUEST, "generation_failed", e.to_string()).into_response(),
                Err(_) => return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the prompt scoring task failed").into_response(),
            }
        } else {
            json!([])
        };
        if r.best_of > 1 {
            d["best_of_sequences"] = g
                .completions
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != b)
                .map(|(i, o)| {
                    let mut x = sequence_details(&s, &r, i, o);
                    x["generated_text"] = json!(o.text);
                    x["prefill"] = json!([]);
                    x
                })
                .collect();
        }
        out["details"] = d;
    }
    let mut resp = axum::Json(out).into_response();
    resp.extensions_mut().insert(Usage {
        prompt: g.prompt_tokens,
        completion: c.tokens.len(),
    });
    resp
}

fn submit(
    s: &AppState,
    headers: &HeaderMap,
    r: &TgiRequest,
) -> Result<mpsc::UnboundedReceiver<Event>, ApiError> {
    s.log_prompts(headers, std::slice::from_ref(&r.prompt));
    let (tx, rx) = mpsc::unbounded_channel();
    let job = Job {
        prompts: vec![r.prompt.clone()],
        params: r.params.clone(),
        events: tx,
    };
    s.worker.submit(job)?;
    Ok(rx)
}

/// `POST /generate_stream`: one event per generated token; the last carries `generated_text` and `details`.
pub async fn generate_stream(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = match parse(&s, &headers, &body) {
        Ok(r) if r.best_of > 1 => {
            return ApiError::invalid("best_of", "best_of > 1 cannot be streamed").into_response()
        }
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut rx = match submit(&s, &headers, &r) {
        Ok(rx) => rx,
        Err(e) => return e.into_response(),
    };
    let (out_tx, out_rx) = mpsc::channel::<Result<SseEvent, std::convert::Infallible>>(64);
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut pending: Option<Value> = None;
        let mut n = 0;
        let deadline = s.deadline();
        while let Some(ev) = next_streamed(&mut rx, deadline, &out_tx, json!({"error": "the request took longer than the server's request timeout", "error_type": "timeout"})).await {
            match ev {
                Event::Piece {
                    token: Some(id),
                    logprob,
                    ..
                } => {
                    if let Some(p) = pending.take() {
                        if out_tx
                            .send(Ok(SseEvent::default().data(p.to_string())))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    n += 1;
                    pending = Some(
                        json!({"index": n, "token": token_json(&s, id, logprob), "generated_text": null, "details": null}),
                    );
                }
                Event::Done { result: Ok(g), .. } => {
                    s.metrics.observe_generation(&g, started);
                    let c = &g.completions[0];
                    if let Some(mut p) = pending.take() {
                        if r.top_n > 0 {
                            if let Some(ch) = c.logprobs.last() {
                                p["top_tokens"] = top_json(&s, ch, r.top_n);
                            }
                        }
                        let text = if r.return_full_text {
                            format!("{}{}", r.inputs, c.text)
                        } else {
                            c.text.clone()
                        };
                        p["generated_text"] = json!(text);
                        p["details"] = json!({"finish_reason": finish_reason(c.finish_reason), "generated_tokens": c.tokens.len(), "seed": r.params.seed});
                        let _ = out_tx
                            .send(Ok(SseEvent::default().data(p.to_string())))
                            .await;
                    }
                }
                Event::Done { result: Err(e), .. } => {
                    let err = json!({"error": e.to_string(), "error_type": "generation"});
                    let _ = out_tx
                        .send(Ok(SseEvent::default().data(err.to_string())))
                        .await;
                }
                _ => {}
            }
        }
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(out_rx)).into_response()
}

/// `GET /info`.
pub async fn info(State(s): State<Arc<AppState>>) -> Response {
    let n_ctx = s.engine.model.cfg.n_ctx_train;
    axum::Json(json!({
        "model_id": s.model_id, "model_dtype": "f32 activations, quantized weights", "model_device_type": "cpu",
        "max_input_tokens": n_ctx - 1, "max_total_tokens": n_ctx, "max_best_of": MAX_BEST_OF,
        "max_stop_sequences": limits::MAX_STOP, "max_concurrent_requests": s.max_concurrent, "max_batch_total_tokens": s.worker.config().kv_tokens, "max_batch_prefill_tokens": s.worker.config().prefill_chunk, "max_client_batch_size": 1,
        "router": "textgen", "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}
