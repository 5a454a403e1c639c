//! `textgen`: generate text with a language model on the CPU.

mod bench;
mod bench_parallel;
mod chat;
mod completions;
mod generate;
mod healthcheck;
mod hub;
mod inspect;
mod interrupt;
mod model_args;
mod perplexity;
mod progress;
mod pull;
mod sampling_args;
mod serve;
mod template_args;
mod term;
mod tokenize;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use textgen_core::kernels::dot::Isa;

/// Fast CPU text generation with real language models (GGUF or Hugging Face safetensors), no Python, no GPU.
#[derive(Parser)]
#[command(name = "textgen", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No warnings, banners or progress on stderr (errors still show).
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    /// Diagnostics and the server's request log on stderr: plain text or JSON lines.
    #[arg(long, global = true, env = "TEXTGEN_LOG_FORMAT", value_enum, default_value_t = term::LogFormat::Text)]
    log_format: term::LogFormat,
    /// The widest instruction set the kernels may use (default: the widest this CPU has).
    #[arg(long, global = true, env = "TEXTGEN_ISA", value_enum)]
    isa: Option<IsaArg>,
}

/// `--isa` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum IsaArg {
    /// Portable code, no SIMD.
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// AVX-512 (F, BW) matrix kernels.
    Avx512,
}

impl From<IsaArg> for Isa {
    fn from(a: IsaArg) -> Self {
        match a {
            IsaArg::Scalar => Isa::Scalar,
            IsaArg::Avx2 => Isa::Avx2,
            IsaArg::Avx512 => Isa::Avx512,
        }
    }
}

const EXAMPLES: &str = "Examples:
  textgen \"Once upon a time\"                        generate (shorthand for `textgen generate`)
  textgen generate \"Hello\" --temperature 0 -n 32    greedy, 32 tokens
  textgen generate --chat \"What is Rust?\"           the prompt as a user message, in the chat template
  textgen chat --system \"Be brief.\"                 interactive chat (/help inside)
  echo \"What is the capital of France?\" | textgen chat --greedy
  textgen perplexity --file notes.txt --ctx 512
  textgen inspect path/to/hf-model-folder           architecture, parameters, tensor types, vocabulary
  textgen -m path/to/hf-model-folder --quantize q8_0 \"Hi\"   a Hugging Face folder, quantized at load
  textgen serve --port 8080                         OpenAI-compatible HTTP API, playground at /
  textgen pull HuggingFaceTB/SmolLM2-135M-Instruct  download from the Hugging Face Hub (HF cache)
  textgen --model bartowski/SmolLM2-135M-Instruct-GGUF \"Hi\"   a Hub repository as the model
  textgen completions bash > ~/.local/share/bash-completion/completions/textgen

Colours only on a terminal and never with NO_COLOR set; --quiet silences warnings and progress.";

#[derive(Subcommand)]
enum Command {
    /// Generate a continuation of a prompt, streamed to stdout.
    Generate(Box<generate::Args>),
    /// Chat with the model: a REPL on a terminal, one message per line (or a JSON conversation) from a pipe.
    #[command(after_help = CHAT_EXAMPLES)]
    Chat(Box<chat::Args>),
    /// Perplexity of a text file, computed as llama.cpp's llama-perplexity does.
    Perplexity(perplexity::Args),
    /// Show the token ids of a text.
    Tokenize(tokenize::Args),
    /// Describe a model: architecture, parameters, tensor types, context, vocabulary, chat template.
    Inspect(inspect::Args),
    /// Measure prompt processing and generation speed (like llama-bench) and the sampling cost.
    Bench(bench::Args),
    /// Serve the model over HTTP (OpenAI-compatible API, health, metrics).
    Serve(Box<serve::Args>),
    /// Exit 0 when the local server is healthy (for container health checks).
    Healthcheck(healthcheck::Args),
    /// Download a model from the Hugging Face Hub into its cache (ORG/NAME or ORG/NAME:FILE); prints its path.
    Pull(pull::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
}

const CHAT_EXAMPLES: &str = "Examples:
  textgen chat                                      REPL: /reset, /save FILE, /help, \"\"\" for multi-line
  textgen chat --system \"You are a pirate.\" --temperature 0.7
  printf 'Hi!\\nWhat is 2+2?\\n' | textgen chat --greedy    one reply per line
  textgen chat --greedy < conversation.json         the next reply to a saved conversation (/save)";

const SUBCOMMANDS: &[&str] = &[
    "generate",
    "chat",
    "completions",
    "perplexity",
    "tokenize",
    "inspect",
    "bench",
    "serve",
    "healthcheck",
    "pull",
    "help",
];

/// A user-facing failure: message for stderr and the process exit code.
pub struct Failure {
    /// One-line message.
    pub message: String,
    /// Exit code (2: bad invocation or missing model, 1: anything else).
    pub code: u8,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: 1,
        }
    }
}

/// `textgen PROMPT [FLAGS]` is shorthand for `textgen generate PROMPT [FLAGS]` (global flags such as
/// `--quiet` may come first).
fn with_default_subcommand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut at = 1;
    while let Some(a) = args.get(at).and_then(|a| a.to_str()) {
        match a {
            "-q" | "--quiet" => at += 1,
            "--log-format" | "--isa" => at += 2,
            _ if a.starts_with("--log-format=") || a.starts_with("--isa=") => at += 1,
            _ => break,
        }
    }
    let first = args.get(at).and_then(|a| a.to_str()).unwrap_or("");
    let is_top_level_flag = matches!(first, "-h" | "--help" | "-V" | "--version");
    if at >= args.len() || !(SUBCOMMANDS.contains(&first) || is_top_level_flag) {
        args.insert(at.min(args.len()), "generate".into());
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(with_default_subcommand(std::env::args_os().collect()));
    term::init(cli.quiet, cli.log_format);
    if let Some(isa) = cli.isa {
        textgen_core::kernels::dot::cap_isa(isa.into());
    }
    // The server handles its own signals (graceful drain); every other command uses the simple handler.
    if !matches!(cli.command, Command::Serve(_)) {
        interrupt::install();
    }
    let result = match cli.command {
        Command::Generate(a) => generate::run(*a),
        Command::Chat(a) => chat::run(*a),
        Command::Perplexity(a) => perplexity::run(a),
        Command::Tokenize(a) => tokenize::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Serve(a) => serve::run(*a),
        Command::Healthcheck(a) => healthcheck::run(a),
        Command::Pull(a) => pull::run(a),
        Command::Completions(a) => completions::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                term::error(&f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_default_subcommand;

    fn expand(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(|a| a.into()).collect();
        with_default_subcommand(args)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn generate_is_the_default_after_global_flags() {
        assert_eq!(expand(&["t"]), ["t", "generate"]);
        assert_eq!(
            expand(&["t", "hi", "-n", "3"]),
            ["t", "generate", "hi", "-n", "3"]
        );
        assert_eq!(expand(&["t", "chat"]), ["t", "chat"]);
        assert_eq!(expand(&["t", "-q", "hi"]), ["t", "-q", "generate", "hi"]);
        assert_eq!(
            expand(&["t", "--log-format", "json", "serve"]),
            ["t", "--log-format", "json", "serve"]
        );
        assert_eq!(
            expand(&["t", "--log-format=json"]),
            ["t", "--log-format=json", "generate"]
        );
        assert_eq!(
            expand(&["t", "--quiet", "--help"]),
            ["t", "--quiet", "--help"]
        );
        assert_eq!(
            expand(&["t", "--isa", "avx2", "hi"]),
            ["t", "--isa", "avx2", "generate", "hi"]
        );
        assert_eq!(
            expand(&["t", "--isa=scalar"]),
            ["t", "--isa=scalar", "generate"]
        );
    }
}
