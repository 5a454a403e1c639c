//! Running the binary and reading its output.

use std::process::{Command, Output};

/// Runs `textgen ARGS` without the environment's model and thread settings.
pub fn textgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_textgen"))
        .args(args)
        .env_remove("TEXTGEN_MODEL")
        .env_remove("TEXTGEN_THREADS")
        .output()
        .expect("textgen runs")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
