//! `textgen completions SHELL`: a shell completion script on stdout.

use crate::Failure;
use clap::CommandFactory;

/// Flags of `textgen completions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell (bash, zsh, fish, elvish, powershell).
    shell: clap_complete::Shell,
}

/// Prints the script.
pub fn run(a: Args) -> Result<(), Failure> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "textgen", &mut std::io::stdout());
    Ok(())
}
