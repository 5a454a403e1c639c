//! Progress on stderr, only on a terminal and never with `--quiet`: a spinner while something slow runs
//! (shown after a second), and a byte progress bar for downloads.

use crate::term;
use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// Runs `work` on this thread; if it takes over a second, a spinner with `label` shows meanwhile.
pub fn with_spinner<T>(label: &str, work: impl FnOnce() -> T) -> T {
    if term::quiet() || !std::io::stderr().is_terminal() {
        return work();
    }
    let (done, finished) = mpsc::channel::<()>();
    let label = label.to_string();
    let spinner = std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(1)) != Err(RecvTimeoutError::Timeout) {
            return;
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(label);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        let _ = finished.recv();
        bar.finish_and_clear();
    });
    let out = work();
    drop(done);
    let _ = spinner.join();
    out
}

/// A byte progress bar on stderr for downloads (hidden with `--quiet` or when stderr is not a terminal).
pub fn download_bar() -> indicatif::ProgressBar {
    if term::quiet() || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
