//! `textgen inspect`: what a model file or folder is, without loading its weights into a model.

use crate::model_args::ModelArgs;
use crate::outln;
use crate::Failure;
use std::path::PathBuf;
use textgen_core::engine::{inspect, LoadError, ModelInfo};

/// Lines of the chat template shown in the text report.
const TEMPLATE_LINES: usize = 8;

/// Flags of `textgen inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A GGUF file, a Hugging Face folder (or its config.json), or a Hub repository ORG/NAME[:FILE].
    #[arg(env = "TEXTGEN_MODEL", default_value = crate::model_args::DEFAULT_MODEL)]
    model: PathBuf,
    /// Print one JSON object (the whole chat template included).
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<(), Failure> {
    let local = ModelArgs {
        model: a.model,
        threads: None,
        quantize: None,
    }
    .resolved()?
    .model;
    let info = inspect(&local).map_err(|e| match e {
        LoadError::NotFound(p) => Failure {
            message: format!("model not found: {}", p.display()),
            code: 2,
        },
        e => Failure::new(format!("cannot inspect model: {e}")),
    })?;
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&info).map_err(Failure::new)?
        );
    } else {
        print_text(&info);
    }
    Ok(())
}

fn print_text(i: &ModelInfo) {
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map_or("none".to_string(), |s| format!("{s:?}"))
    };
    let types: Vec<String> = i
        .tensor_types
        .iter()
        .map(|(t, n)| format!("{t} ×{n}"))
        .collect();
    outln!("format          {}", i.format);
    outln!("architecture    {}", i.architecture);
    outln!(
        "parameters      {} ({:.2} M)",
        i.parameters,
        i.parameters as f64 / 1e6
    );
    outln!("tensor types    {}", types.join(", "));
    outln!(
        "context length  {}",
        i.context_length.map_or("unknown".into(), |c| c.to_string())
    );
    outln!("vocabulary      {} tokens, {}", i.vocab_size, i.tokenizer);
    outln!(
        "special tokens  bos {}, eos {}, adds bos: {}",
        opt(&i.bos_token),
        opt(&i.eos_token),
        if i.adds_bos { "yes" } else { "no" }
    );
    outln!("end of text     {:?}", i.end_of_generation);
    match &i.chat_template {
        None => outln!("chat template   none"),
        Some(t) => {
            let lines: Vec<&str> = t.lines().collect();
            outln!(
                "chat template   {} lines{}",
                lines.len(),
                if lines.len() > TEMPLATE_LINES {
                    format!(" (first {TEMPLATE_LINES}; --json shows all)")
                } else {
                    String::new()
                }
            );
            for l in lines.iter().take(TEMPLATE_LINES) {
                outln!("  {l}");
            }
        }
    }
}
