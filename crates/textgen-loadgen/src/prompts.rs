//! The request mix: chat and text completions, short and long prompts, different lengths and samplers.

use serde_json::{json, Value};

const PROMPTS: [&str; 6] = [
    "Once upon a time, there was a little",
    "Write a haiku about the sea.",
    "Explain in simple words why the sky is blue, and what a sunset has to do with it.",
    "List three fruits:",
    "The history of the printing press began in the fifteenth century, when Johannes Gutenberg combined \
     movable metal type, oil-based inks and a wooden press adapted from wine-making. Within fifty years \
     printed books spread across Europe, and with them new ideas in science, religion and politics. \
     Summarise this in one sentence:",
    "Translate to French: Good morning, how are you today?",
];

/// One request: the route and its JSON body.
pub struct Request {
    /// `/v1/chat/completions` or `/v1/completions`.
    pub path: &'static str,
    /// The body (always `stream: true`).
    pub body: Value,
}

/// The `k`-th request of client `c` (deterministic, so runs are comparable).
pub fn request(c: u32, k: u32, max_tokens: u32) -> Request {
    let i = (c as usize * 7 + k as usize * 3) % PROMPTS.len();
    let n = 8 + (c * 13 + k * 5) % (max_tokens - 7);
    let mut body = if (c + k).is_multiple_of(2) {
        json!({"messages": [{"role": "user", "content": PROMPTS[i]}]})
    } else {
        json!({"prompt": PROMPTS[i]})
    };
    body["stream"] = json!(true);
    body["max_tokens"] = json!(n);
    body["seed"] = json!(c * 1000 + k);
    if k.is_multiple_of(3) {
        body["temperature"] = json!(0);
    } else {
        body["temperature"] = json!(0.8);
        body["top_p"] = json!(0.95);
    }
    let path = if body.get("messages").is_some() {
        "/v1/chat/completions"
    } else {
        "/v1/completions"
    };
    Request { path, body }
}
