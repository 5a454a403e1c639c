//! A spinner on stderr while something slow runs: shown only after a second, only on a terminal, never
//! with `--quiet`.

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
