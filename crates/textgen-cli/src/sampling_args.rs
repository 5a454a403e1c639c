//! The decoding flags shared by `generate` and `chat`, and their one way into validated parameters.

use crate::Failure;
use serde_json::Value;
use std::path::{Path, PathBuf};
use textgen_core::engine::Engine;
use textgen_core::sampling::{generation_config, GenerationParams, RawParams};

/// Decoding flags. Ranges and defaults are checked in one place (`RawParams::validate`).
#[derive(clap::Args, Debug)]
pub struct SamplingArgs {
    /// Maximum number of tokens to generate [default: 128; 0..=1048576].
    #[arg(long, short = 'n', allow_negative_numbers = true)]
    max_tokens: Option<i64>,
    /// Suppress end-of-generation until this many tokens were generated [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    min_tokens: Option<i64>,
    /// Sampling temperature; 0 = greedy [default: 0.8; >= 0].
    #[arg(long, allow_negative_numbers = true)]
    temperature: Option<f32>,
    /// Greedy decoding: always the most likely token (same as --temperature 0).
    #[arg(long)]
    greedy: bool,
    /// Sample among the k most likely tokens; ties with the k-th are kept [default: 40; >= 1].
    #[arg(long, allow_negative_numbers = true)]
    top_k: Option<i64>,
    /// Nucleus: smallest set of tokens whose probability reaches p [default: 0.95; (0, 1]].
    #[arg(long, allow_negative_numbers = true)]
    top_p: Option<f32>,
    /// Drop tokens less likely than min-p × the most likely one [default: 0 = off; [0, 1]].
    #[arg(long, allow_negative_numbers = true)]
    min_p: Option<f32>,
    /// Locally typical sampling mass [default: 1 = off; (0, 1]].
    #[arg(long, allow_negative_numbers = true)]
    typical_p: Option<f32>,
    /// Repetition penalty over prompt and output, transformers semantics [default: 1 = off; (0, 10]].
    #[arg(long, allow_negative_numbers = true)]
    repetition_penalty: Option<f32>,
    /// Frequency penalty over the output, OpenAI semantics [default: 0; [-2, 2]].
    #[arg(long, allow_negative_numbers = true)]
    frequency_penalty: Option<f32>,
    /// Presence penalty over the output, OpenAI semantics [default: 0; [-2, 2]].
    #[arg(long, allow_negative_numbers = true)]
    presence_penalty: Option<f32>,
    /// Penalties consider only the last N tokens [default: 0 = all].
    #[arg(long, allow_negative_numbers = true)]
    repeat_last_n: Option<i64>,
    /// Never repeat an n-gram of this size [default: 0 = off].
    #[arg(long, allow_negative_numbers = true)]
    no_repeat_ngram_size: Option<i64>,
    /// Add BIAS to token ID's logit, as ID=BIAS (repeatable) [bias in [-100, 100]; -100 bans].
    #[arg(long, value_parser = parse_bias)]
    logit_bias: Vec<(i64, f32)>,
    /// Never generate this text (tokenized; repeatable).
    #[arg(long)]
    ban: Vec<String>,
    /// Stop when this string is generated; it is not printed (repeatable, up to 16).
    #[arg(long)]
    stop: Vec<String>,
    /// Also stop at this token id (repeatable).
    #[arg(long, allow_negative_numbers = true)]
    stop_token_id: Vec<i64>,
    /// Do not stop at the model's end-of-generation tokens.
    #[arg(long)]
    ignore_eos: bool,
    /// Random seed; completion i uses seed + i [default: random].
    #[arg(long)]
    seed: Option<u64>,
    /// Number of independent completions; the prompt is processed once [default: 1; 1..=16].
    #[arg(
        long = "n-completions",
        alias = "num-completions",
        allow_negative_numbers = true
    )]
    n: Option<i64>,
    /// Beam search with this many beams (needs --temperature 0 or --greedy) [default: 1 = off; ..=16].
    #[arg(long, allow_negative_numbers = true)]
    num_beams: Option<i64>,
    /// Beam score = sum of log-probabilities / length^length_penalty [default: 1].
    #[arg(long, allow_negative_numbers = true)]
    length_penalty: Option<f32>,
    /// Beam search stops as soon as num_beams hypotheses are finished.
    #[arg(long)]
    early_stopping: bool,
    /// Beam hypotheses to return [default: 1; <= num_beams].
    #[arg(long, allow_negative_numbers = true)]
    num_return_sequences: Option<i64>,
    /// Report each token's log-probability and its N best alternatives (with --json) [0..=20].
    #[arg(long, allow_negative_numbers = true)]
    logprobs: Option<i64>,
    /// Defaults from a Hugging Face generation_config.json (flags still win) [default: the one in the
    /// model's folder, for a Hugging Face model].
    #[arg(long)]
    generation_config: Option<PathBuf>,
}

fn parse_bias(s: &str) -> Result<(i64, f32), String> {
    let (id, bias) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ID=BIAS, got {s:?}"))?;
    let id = id
        .trim()
        .parse()
        .map_err(|_| format!("bad token id in {s:?}"))?;
    let bias = bias
        .trim()
        .parse()
        .map_err(|_| format!("bad bias in {s:?}"))?;
    Ok((id, bias))
}

impl SamplingArgs {
    /// The raw parameters, before validation (`--ban` texts are tokenized with the model's tokenizer).
    fn raw(&self, engine: &Engine, folder_config: Option<&Path>) -> Result<RawParams, Failure> {
        let mut raw = RawParams {
            max_new_tokens: self.max_tokens,
            min_new_tokens: self.min_tokens,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            typical_p: self.typical_p,
            repetition_penalty: self.repetition_penalty,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            repeat_last_n: self.repeat_last_n,
            no_repeat_ngram_size: self.no_repeat_ngram_size,
            logit_bias: self.logit_bias.iter().copied().collect(),
            stop: self.stop.clone(),
            stop_token_ids: self.stop_token_id.clone(),
            ignore_eos: self.ignore_eos,
            seed: self.seed,
            greedy: self.greedy,
            n: self.n,
            num_beams: self.num_beams,
            length_penalty: self.length_penalty,
            early_stopping: self.early_stopping.then_some(true),
            num_return_sequences: self.num_return_sequences,
            logprobs: self.logprobs,
            ..Default::default()
        };
        for text in &self.ban {
            let ids = engine.tokenizer.encode(text, false).map_err(Failure::new)?;
            raw.banned_sequences
                .push(ids.into_iter().map(i64::from).collect());
        }
        if let Some(path) = self.generation_config.as_deref().or(folder_config) {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
            let cfg: Value = serde_json::from_str(&text)
                .map_err(|e| Failure::new(format!("{} is not valid JSON: {e}", path.display())))?;
            generation_config::apply(&mut raw, &cfg);
        }
        Ok(raw)
    }

    /// Validated parameters (exit code 2 naming the parameter when a value is out of range);
    /// `folder_config` is the model folder's generation_config.json, used unless one is given.
    pub fn params(
        &self,
        engine: &Engine,
        folder_config: Option<&Path>,
    ) -> Result<GenerationParams, Failure> {
        self.raw(engine, folder_config)?
            .validate(
                engine.model.vocab_size(),
                textgen_core::sampling::rng::random_seed,
            )
            .map_err(|e| Failure {
                message: format!("{e} (see --help)"),
                code: 2,
            })
    }
}
