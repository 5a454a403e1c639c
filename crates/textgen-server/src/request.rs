//! Reading request bodies: JSON only, every field typed and checked, unknown fields refused by name.

use crate::error::ApiError;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{Map, Value};
use textgen_core::sampling::RawParams;

/// The JSON object of a request body (415 for another content type, 400 for invalid JSON or a non-object).
pub fn json_object(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be JSON (Content-Type: application/json)",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("invalid JSON: {e}"),
        )),
    }
}

/// Typed access to a request object; remembers which keys were read so leftovers can be refused.
pub struct Fields {
    map: Map<String, Value>,
}

fn wrong(key: &str, want: &str) -> ApiError {
    ApiError::invalid(key, format!("'{key}' must be {want}"))
}

impl Fields {
    /// Wraps a request object.
    pub fn new(map: Map<String, Value>) -> Self {
        Self { map }
    }

    /// Removes and returns a raw value (`null` counts as absent).
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    /// A number.
    pub fn f32(&mut self, key: &str) -> Result<Option<f32>, ApiError> {
        self.take(key)
            .map(|v| {
                v.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| wrong(key, "a number"))
            })
            .transpose()
    }

    /// An integer.
    pub fn i64(&mut self, key: &str) -> Result<Option<i64>, ApiError> {
        self.take(key)
            .map(|v| v.as_i64().ok_or_else(|| wrong(key, "an integer")))
            .transpose()
    }

    /// A non-negative integer that fits u64.
    pub fn u64(&mut self, key: &str) -> Result<Option<u64>, ApiError> {
        self.take(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| wrong(key, "a non-negative integer"))
            })
            .transpose()
    }

    /// A boolean.
    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, ApiError> {
        self.take(key)
            .map(|v| v.as_bool().ok_or_else(|| wrong(key, "a boolean")))
            .transpose()
    }

    /// A string.
    pub fn string(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        self.take(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong(key, "a string"))
            })
            .transpose()
    }

    /// A string or an array of strings.
    pub fn strings(&mut self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s]),
            Some(Value::Array(a)) => a
                .into_iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| wrong(key, "a string or an array of strings"))
                })
                .collect(),
            Some(_) => Err(wrong(key, "a string or an array of strings")),
        }
    }

    /// Fails on the first key nobody read: a parameter we do not support is never silently ignored.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(ApiError::invalid(
                k.clone(),
                format!("unsupported parameter '{k}'"),
            )),
        }
    }

    /// The sampling parameters shared by every generation route (OpenAI names plus common extensions).
    pub fn sampling(&mut self, max_tokens_default: i64) -> Result<RawParams, ApiError> {
        let mut raw = RawParams {
            max_new_tokens: Some(max_tokens_default),
            temperature: Some(1.0),
            top_p: Some(1.0),
            top_k: Some(-1),
            ..Default::default()
        };
        for key in ["max_tokens", "max_completion_tokens", "max_new_tokens"] {
            if let Some(v) = self.i64(key)? {
                raw.max_new_tokens = Some(v);
            }
        }
        if let Some(t) = self.f32("temperature")? {
            raw.temperature = Some(t);
        }
        if let Some(p) = self.f32("top_p")? {
            raw.top_p = Some(p);
        }
        if let Some(k) = self.i64("top_k")? {
            raw.top_k = Some(k);
        }
        raw.min_p = self.f32("min_p")?;
        raw.typical_p = self.f32("typical_p")?;
        raw.repetition_penalty = self.f32("repetition_penalty")?;
        raw.frequency_penalty = self.f32("frequency_penalty")?;
        raw.presence_penalty = self.f32("presence_penalty")?;
        raw.seed = self.u64("seed")?;
        raw.n = self.i64("n")?;
        raw.min_new_tokens = self.i64("min_tokens")?;
        raw.stop = self.strings("stop")?;
        if let Some(bias) = self.take("logit_bias") {
            let Value::Object(m) = bias else {
                return Err(wrong("logit_bias", "an object mapping token ids to biases"));
            };
            if m.len() > textgen_core::sampling::params::limits::MAX_LOGIT_BIAS {
                return Err(ApiError::invalid("logit_bias", "too many entries"));
            }
            for (k, v) in m {
                let id = k.parse::<i64>().map_err(|_| {
                    ApiError::invalid("logit_bias", format!("key '{k}' is not a token id"))
                })?;
                let b = v
                    .as_f64()
                    .ok_or_else(|| wrong("logit_bias", "an object mapping token ids to numbers"))?;
                raw.logit_bias.insert(id, b as f32);
            }
        }
        Ok(raw)
    }
}
