//! `textgen serve`: the HTTP server (OpenAI-compatible API, health, metrics).

use crate::model_args::ModelArgs;
use crate::template_args::load_template;
use crate::Failure;
use std::path::PathBuf;
use std::time::Duration;
use textgen_server::ServerConfig;

/// Flags of `textgen serve` (each also from its `TEXTGEN_*` environment variable).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Chat template for /v1/chat/completions instead of the model's: a tokenizer_config.json or a Jinja file.
    #[arg(long, env = "TEXTGEN_CHAT_TEMPLATE", value_name = "FILE")]
    chat_template: Option<PathBuf>,
    /// Address to listen on (the container image sets 0.0.0.0).
    #[arg(long, env = "TEXTGEN_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 = any free port).
    #[arg(long, env = "TEXTGEN_PORT", default_value_t = 8080)]
    port: u16,
    /// Require `Authorization: Bearer KEY` on the API routes (/health and /metrics stay open).
    #[arg(long, env = "TEXTGEN_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Allow browsers from this origin (`*` for any) to call the API.
    #[arg(long, env = "TEXTGEN_CORS_ALLOW_ORIGIN")]
    cors_allow_origin: Option<String>,
    /// Requests that may wait for the model; more are refused with 429.
    #[arg(long, env = "TEXTGEN_MAX_QUEUE", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_queue: u32,
    /// Sequences decoded together in one batched forward pass (a request with n completions or beams
    /// counts n); more requests wait in the queue (first come, first served).
    #[arg(long, env = "TEXTGEN_MAX_CONCURRENT", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    max_concurrent: u32,
    /// Most prompt tokens processed per step: a long new prompt delays running streams by one chunk at most.
    #[arg(long, env = "TEXTGEN_PREFILL_CHUNK", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=8192))]
    prefill_chunk: u32,
    /// KV cache budget in MiB: each request reserves (n or beams) × (prompt + max tokens) positions and waits
    /// while that does not fit; a request that can never fit gets 400.
    #[arg(long, env = "TEXTGEN_KV_CACHE_MB", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    kv_cache_mb: u32,
    /// Finished conversations kept so a request sharing their prefix (system prompt, earlier turns) reuses
    /// their keys and values (0: off); they give way to new requests when the KV budget is tight.
    #[arg(long, env = "TEXTGEN_PREFIX_CACHE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(0..=4096))]
    prefix_cache: u32,
    /// Largest accepted request body in bytes; larger ones get 413.
    #[arg(long, env = "TEXTGEN_MAX_BODY_BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(1..))]
    max_body_bytes: u32,
    /// Seconds a client may take to send a request's headers (then it is disconnected) and then its body
    /// (then 408): slow or idle clients cannot hold connections.
    #[arg(long, env = "TEXTGEN_CLIENT_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    client_timeout: u64,
    /// Seconds in-flight requests may take to finish after SIGTERM/SIGINT.
    #[arg(long, env = "TEXTGEN_DRAIN_TIMEOUT", default_value_t = 30)]
    drain_timeout: u64,
    /// Seconds a request may take, queueing included (then it is cancelled with a 503); 0 = no limit.
    #[arg(long, env = "TEXTGEN_REQUEST_TIMEOUT", default_value_t = 600)]
    request_timeout: u64,
    /// Also log the text of every prompt (as the model sees it, chat template applied) with the request id.
    /// Off by default: prompts may hold private data and the request log never carries them otherwise.
    #[arg(long, env = "TEXTGEN_LOG_PROMPTS")]
    log_prompts: bool,
}

/// Runs the subcommand until SIGTERM/SIGINT.
pub fn run(a: Args) -> Result<(), Failure> {
    let model_id = a.model.id();
    let model = a.model.resolved()?;
    let cfg = ServerConfig {
        host: a.host,
        port: a.port,
        api_key: a.api_key.filter(|k| !k.is_empty()),
        cors_allow_origin: a.cors_allow_origin,
        max_queue: a.max_queue as usize,
        max_concurrent: a.max_concurrent as usize,
        prefill_chunk: a.prefill_chunk as usize,
        kv_cache_mb: a.kv_cache_mb as usize,
        prefix_cache: a.prefix_cache as usize,
        max_body_bytes: a.max_body_bytes as usize,
        client_timeout: Duration::from_secs(a.client_timeout),
        drain_timeout: Duration::from_secs(a.drain_timeout),
        request_timeout: (a.request_timeout > 0).then(|| Duration::from_secs(a.request_timeout)),
        log_json: crate::term::log_json(),
        log_prompts: a.log_prompts,
        model_id,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Failure::new)?;
    let template_path = a.chat_template;
    let load = move || {
        let engine = model.load().map_err(|f| f.message)?;
        let template = load_template(template_path.as_deref(), &engine).map_err(|f| f.message)?;
        Ok((engine, template))
    };
    rt.block_on(textgen_server::serve(cfg, load))
        .map_err(|e| Failure::new(format!("server: {e}")))
}
