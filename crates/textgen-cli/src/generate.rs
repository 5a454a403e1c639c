//! `textgen generate`: stream a continuation of a prompt to stdout (or JSON for scripts).

use crate::interrupt;
use crate::model_args::ModelArgs;
use crate::sampling_args::SamplingArgs;
use crate::template_args::TemplateArgs;
use crate::Failure;
use serde_json::{json, Value};
use std::io::Write;
use textgen_core::chat::Message;
use textgen_core::engine::{Completion, Engine, Flow, Generation};

/// Flags of `textgen generate`. Ranges and defaults are checked in one place (`RawParams::validate`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The prompt (empty: start from the model's BOS token).
    #[arg(default_value = "")]
    prompt: String,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Send the prompt as a user message in the model's chat template (with --system, --chat-template).
    #[arg(long)]
    chat: bool,
    #[command(flatten)]
    template: TemplateArgs,
    /// Print one JSON object per completion (text, tokens, logprobs, finish_reason, timings).
    #[arg(long)]
    json: bool,
    /// Print the prompt before the generated text.
    #[arg(long)]
    echo: bool,
    /// Print timings (prompt and generation tokens/s) to stderr.
    #[arg(long, short = 'v')]
    verbose: bool,
}

fn completion_json(engine: &Engine, index: usize, c: &Completion, g: &Generation) -> Value {
    let piece = |id: u32| engine.tokenizer.token_text(id);
    let logprobs: Vec<Value> = c
        .logprobs
        .iter()
        .map(|ch| {
            json!({
                "token": ch.id, "text": piece(ch.id), "logprob": ch.logprob,
                "top_logprobs": ch.top.iter().map(|&(id, lp)| json!({"token": id, "text": piece(id), "logprob": lp}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "index": index,
        "text": c.text,
        "tokens": c.tokens,
        "finish_reason": c.finish_reason.as_str(),
        "score": c.score,
        "logprobs": if c.logprobs.is_empty() { Value::Null } else { Value::from(logprobs) },
        "usage": {"prompt_tokens": g.prompt_tokens, "completion_tokens": c.tokens.len()},
        "timings": {
            "prompt_ms": g.timings.prompt.as_secs_f64() * 1e3,
            "generation_ms": g.timings.generation.as_secs_f64() * 1e3,
        },
    })
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<(), Failure> {
    if !a.chat && (a.template.system.is_some() || a.template.chat_template.is_some()) {
        return Err(Failure {
            message: "--system and --chat-template need --chat".into(),
            code: 2,
        });
    }
    let model = a.model.resolved()?;
    let engine = model.load()?;
    let params = a
        .sampling
        .params(&engine, model.generation_config().as_deref())?;
    let (text, prompt) = if a.chat {
        let mut messages = a.template.opening();
        messages.push(Message::new("user", a.prompt.as_str()));
        let text = a
            .template
            .template(&engine)?
            .render(&messages, true)
            .map_err(Failure::new)?;
        let ids = engine.encode_chat(&text).map_err(Failure::new)?;
        (text, ids)
    } else {
        let ids = engine.encode_prompt(&a.prompt).map_err(Failure::new)?;
        (a.prompt.clone(), ids)
    };
    let streaming = !a.json
        && params.n == 1
        && !matches!(params.decoding, textgen_core::sampling::Decoding::Beam(_));
    let mut out = std::io::stdout().lock();
    if a.echo && !a.json {
        let _ = write!(out, "{text}");
    }
    interrupt::set_streaming(true);
    let result = engine
        .generate(&prompt, &params, |piece| {
            // A closed stdout (e.g. `| head`) or Ctrl-C / SIGTERM ends generation quietly.
            let written = if streaming {
                out.write_all(piece.text.as_bytes())
                    .and_then(|_| out.flush())
            } else {
                Ok(())
            };
            match written {
                Ok(()) if !interrupt::requested() => Flow::Continue,
                _ => Flow::Stop,
            }
        })
        .map_err(Failure::new)?;
    interrupt::set_streaming(false);
    let many = result.completions.len() > 1;
    for (i, c) in result.completions.iter().enumerate() {
        if a.json {
            let _ = writeln!(out, "{}", completion_json(&engine, i, c, &result));
        } else if !streaming {
            if many {
                let score = c
                    .score
                    .map(|s| format!(" score {s:.4}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "--- completion {i}{score} ---");
            }
            let _ = writeln!(out, "{}{}", if a.echo && many { &text } else { "" }, c.text);
        }
    }
    if streaming {
        let _ = writeln!(out);
    }
    if a.verbose {
        let t = result.timings;
        let generated: usize = result.completions.iter().map(|c| c.tokens.len()).sum();
        let rate = |n: usize, d: std::time::Duration| n as f64 / d.as_secs_f64().max(1e-9);
        let reasons: Vec<&str> = result
            .completions
            .iter()
            .map(|c| c.finish_reason.as_str())
            .collect();
        eprintln!(
            "prompt: {} tokens in {:.1} ms ({:.1} tok/s) | generation: {} tokens in {:.1} ms ({:.1} tok/s) | \
             finish: {}",
            result.prompt_tokens,
            t.prompt.as_secs_f64() * 1e3,
            rate(result.prompt_tokens, t.prompt),
            generated,
            t.generation.as_secs_f64() * 1e3,
            rate(generated, t.generation),
            reasons.join(","),
        );
    }
    if interrupt::requested() {
        return Err(Failure {
            message: String::new(),
            code: interrupt::EXIT_CODE,
        });
    }
    Ok(())
}
