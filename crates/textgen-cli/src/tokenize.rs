//! `textgen tokenize`: show how the model's tokenizer splits a text.

use crate::model_args::ModelArgs;
use crate::outln;
use crate::Failure;
use std::path::PathBuf;

/// Flags of `textgen tokenize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The text to tokenize (or use --file).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    text: Option<String>,
    /// Read the text from a file.
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
    /// Add the model's special prefix tokens (BOS) as a prompt would get.
    #[arg(long)]
    add_special: bool,
    /// Print only the ids, as a JSON array.
    #[arg(long)]
    ids: bool,
    #[command(flatten)]
    model: ModelArgs,
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<(), Failure> {
    let text = match (&a.text, &a.file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => {
            let bytes = std::fs::read(f)
                .map_err(|e| Failure::new(format!("cannot read {}: {e}", f.display())))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        (None, None) => String::new(),
    };
    let engine = a.model.load()?;
    let tok = &engine.tokenizer;
    let ids = tok.encode(&text, a.add_special).map_err(Failure::new)?;
    if a.ids {
        outln!("{}", serde_json::to_string(&ids).unwrap_or_default());
    } else {
        for id in ids {
            outln!("{id:>6} {:?}", tok.token_text(id));
        }
    }
    Ok(())
}
