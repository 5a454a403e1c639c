//! Ctrl-C / SIGTERM: a generation in progress stops cleanly at the next token; anything else exits at once.
//!
//! Needed in containers too: as PID 1 a process without handlers ignores SIGTERM, so `docker stop` would
//! have to wait for its timeout and kill it.

use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code after an interruption (128 + SIGINT, the shell convention).
pub const EXIT_CODE: u8 = 130;

static STREAMING: AtomicBool = AtomicBool::new(false);
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once, at start-up). Failing to install it is not fatal.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if STREAMING.load(Ordering::SeqCst) && !REQUESTED.swap(true, Ordering::SeqCst) {
            return;
        }
        std::process::exit(EXIT_CODE.into());
    });
}

/// Marks whether a generation is streaming (and can stop by itself at the next token).
pub fn set_streaming(on: bool) {
    STREAMING.store(on, Ordering::SeqCst);
}

/// Whether an interruption was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Forgets a handled interruption (the chat goes on after Ctrl-C stopped a reply).
pub fn reset() {
    REQUESTED.store(false, Ordering::SeqCst);
}
