//! What the CLI writes besides results: warnings and errors (plain, or JSON lines with
//! `--log-format json`), `--quiet`, and colours (on a terminal only, never with `NO_COLOR`).

use std::io::IsTerminal;
use std::sync::OnceLock;

/// How diagnostics (and the server's request log) are written on stderr.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

struct Settings {
    quiet: bool,
    format: LogFormat,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Sets the global output settings (once, at start-up).
pub fn init(quiet: bool, format: LogFormat) {
    let _ = SETTINGS.set(Settings { quiet, format });
}

/// Whether `--quiet` was given (no warnings, banners or progress).
pub fn quiet() -> bool {
    SETTINGS.get().is_some_and(|s| s.quiet)
}

/// Whether diagnostics are JSON lines.
pub fn log_json() -> bool {
    SETTINGS.get().is_some_and(|s| s.format == LogFormat::Json)
}

/// Whether stderr gets colours: a terminal, and `NO_COLOR` unset or empty.
pub fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// `text` in the ANSI style `sgr` (e.g. "1;31") when stderr takes colours.
pub fn paint(sgr: &str, text: &str) -> String {
    if colour() {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn emit(level: &str, sgr: &str, message: &str) {
    if log_json() {
        eprintln!(
            "{}",
            serde_json::json!({"level": level, "message": message})
        );
    } else {
        eprintln!("{} {message}", paint(sgr, &format!("{level}:")));
    }
}

/// A warning on stderr (silenced by `--quiet`).
pub fn warn(message: &str) {
    if !quiet() {
        emit("warning", "1;33", message);
    }
}

/// An error on stderr (never silenced).
pub fn error(message: &str) {
    emit("error", "1;31", message);
}

/// An informational line on stderr for people at a terminal (silenced by `--quiet`; dim when coloured).
pub fn info(message: &str) {
    if !quiet() {
        eprintln!("{}", paint("2", message));
    }
}

/// Like `println!`, but a closed stdout (`| head`) is not an error: the line is dropped.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
