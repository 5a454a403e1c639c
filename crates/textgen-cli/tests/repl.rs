//! `textgen chat` in a real terminal (a tmux pane): two turns, `/save`, Ctrl-C during a reply (the REPL
//! stays, the prompt returns), `/reset`, a multi-line message and `/bye`. Fails (never skips) when tmux is missing.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own with one pane running a command.
struct Pane {
    socket: String,
}

impl Pane {
    fn start(command: &str) -> Self {
        let socket = format!("textgen-test-{}", std::process::id());
        let pane = Self { socket };
        pane.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "150",
            "-y",
            "50",
            command,
        ]);
        pane
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs (apt-get install tmux)");
        assert!(
            o.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend(keys);
        self.tmux(&args);
    }

    fn type_line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "t", "-S", "-1000"])
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["-L", &self.socket, "has-session", "-t", "t"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Waits until `done(screen)` holds; panics with the screen after `secs`.
    fn wait(&self, what: &str, secs: u64, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if done(&s) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn prompts(screen: &str) -> usize {
    screen.lines().filter(|l| l.starts_with(">>>")).count()
}

/// The screen ends with an empty prompt: the REPL waits for input.
fn at_prompt(screen: &str, n: usize) -> bool {
    prompts(screen) == n && screen.trim_end().lines().last() == Some(">>>")
}

#[test]
fn repl_two_turns_ctrl_c_stops_a_reply_and_reset() {
    let model = common::model();
    let dir = std::env::temp_dir().join(format!("textgen-repl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("conversation.json");
    let command = format!(
        "env NO_COLOR=1 XDG_STATE_HOME={} {} chat --model {} --threads 2 --greedy --max-tokens 600",
        dir.display(),
        env!("CARGO_BIN_EXE_textgen"),
        model.display()
    );
    let pane = Pane::start(&command);
    pane.wait("the first prompt", 60, |s| at_prompt(s, 1));

    pane.type_line("What is the capital of France?");
    let s = pane.wait("the first reply", 60, |s| at_prompt(s, 2));
    assert!(s.contains("Paris"), "{s}");

    pane.type_line("And what is the capital of Italy?");
    let s = pane.wait("the second reply", 60, |s| at_prompt(s, 3));
    assert!(s.contains("Rome"), "{s}");

    pane.type_line(&format!("/save {}", saved.display()));
    pane.wait("the save", 10, |s| {
        s.contains("(saved 4 messages") && at_prompt(s, 4)
    });
    let conversation: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let roles: Vec<&str> = conversation
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);

    // A long reply, stopped by Ctrl-C once it streams (so the key reaches the reply, not the prompt).
    let ask = "Write a very long story about a dragon who learns to cook.";
    pane.type_line(ask);
    pane.wait("the long reply to start", 60, |s| {
        s.split_once(ask)
            .is_some_and(|(_, reply)| reply.chars().filter(|c| !c.is_whitespace()).count() > 20)
    });
    pane.keys(&["C-c"]);
    let s = pane.wait("the prompt after Ctrl-C", 30, |s| at_prompt(s, 5));
    assert!(s.contains("(reply stopped)"), "{s}");
    assert!(
        !s.contains("Ctrl-D or /bye to leave)"),
        "Ctrl-C reached the prompt, not the reply:\n{s}"
    );

    pane.type_line("/reset");
    pane.wait("the reset", 10, |s| {
        s.contains("(conversation cleared)") && at_prompt(s, 6)
    });
    // A multi-line message between triple quotes.
    pane.type_line("\"\"\"What is the capital");
    pane.wait("the continuation prompt", 10, |s| {
        s.trim_end().lines().last() == Some("...")
    });
    pane.type_line("of France?\"\"\"");
    let s = pane.wait("a reply after the reset", 60, |s| at_prompt(s, 7));
    assert!(s.contains("... of France?"), "{s}");
    assert!(s.matches("Paris").count() >= 2, "{s}");

    pane.type_line("/bye");
    let start = Instant::now();
    while pane.alive() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "/bye did not end the REPL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
