//! `textgen pull ORG/NAME[:FILE]`: download a model from the Hugging Face Hub into its cache, and the
//! resolution of `--model ORG/NAME` that shares it.

use crate::hub::{self, HubConfig, RepoRef};
use crate::{outln, Failure};
use std::path::PathBuf;

/// Arguments of `textgen pull`.
#[derive(clap::Args)]
pub struct Args {
    /// The model: ORG/NAME (a GGUF file or model folder is picked), or ORG/NAME:FILE.
    repo: String,
    /// The file to pull (the same as ORG/NAME:FILE).
    #[arg(long)]
    file: Option<String>,
    /// Branch, tag or commit.
    #[arg(long, default_value = "main")]
    revision: String,
}

/// Pulls the model and prints its local path on stdout.
pub fn run(a: Args) -> Result<(), Failure> {
    let usage = |message: String| Failure { message, code: 2 };
    let mut r = RepoRef::parse(&a.repo).map_err(usage)?;
    if let Some(f) = a.file {
        hub::repo::check_file_name(&f).map_err(usage)?;
        if r.file.as_ref().is_some_and(|g| *g != f) {
            return Err(usage(format!(
                "two files named: {}:… and --file {f}",
                r.repo
            )));
        }
        r.file = Some(f);
    }
    let path = fetch(&r, &a.revision)?;
    outln!("{}", path.display());
    Ok(())
}

/// Makes `r` available locally (pulling it, or from the cache with `HF_HUB_OFFLINE`) and returns its
/// path, with a progress bar on a terminal.
pub fn fetch(r: &RepoRef, revision: &str) -> Result<PathBuf, Failure> {
    let cfg = HubConfig::from_env().map_err(Failure::new)?;
    let bar = crate::progress::download_bar();
    let result = hub::fetch(&cfg, r, revision, &bar);
    bar.finish_and_clear();
    result.map_err(Failure::new)
}
