//! The `textgen` binary end to end: output, exit codes and error messages.

mod common;

use common::model;
use common::run::{stderr, textgen};

use std::process::{Command, Output};

fn with_model(args: &[&str]) -> Output {
    let m = model();
    let mut all = args.to_vec();
    all.extend(["--model", m.to_str().unwrap()]);
    textgen(&all)
}

#[test]
fn greedy_generation_prints_the_reference_text() {
    let o = with_model(&[
        "Once upon a time, there was a little",
        "--temperature",
        "0",
        "-n",
        "24",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with(" girl named Emma who loved to play in the sun."),
        "{out:?}"
    );
}

#[test]
fn every_instruction_set_gives_the_reference_text() {
    // `--isa` caps the kernels (a CPU without AVX-512 runs its widest below the cap): each family of
    // kernels computes the same greedy text.
    for isa in ["scalar", "avx2", "avx512"] {
        let o = with_model(&[
            "--isa",
            isa,
            "Once upon a time, there was a little",
            "--greedy",
            "-n",
            "12",
        ]);
        assert!(o.status.success(), "{isa}: {}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(
            out.starts_with(" girl named Emma who loved to play in the sun."),
            "{isa}: {out:?}"
        );
    }
    let o = with_model(&["bench", "--isa", "scalar", "-p", "8", "-n", "2", "-r", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("| scalar | tg2 |"));
    let o = with_model(&["--isa", "sse9", "hi"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--isa"), "{}", stderr(&o));
}

#[test]
fn generate_subcommand_echo_and_verbose_timings() {
    let o = with_model(&[
        "generate", "Hello", "--echo", "-n", "4", "--seed", "1", "-v",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Hello"));
    assert!(stderr(&o).contains("tok/s"), "{}", stderr(&o));
}

#[test]
fn same_seed_same_text() {
    let run = || {
        with_model(&[
            "A short poem:",
            "--seed",
            "7",
            "--temperature",
            "0.8",
            "-n",
            "16",
        ])
        .stdout
    };
    assert_eq!(run(), run());
}

#[test]
fn missing_model_exits_2_with_one_line_naming_the_fix() {
    let o = textgen(&["hi", "--model", "/nonexistent/m.gguf"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        e.contains("/nonexistent/m.gguf") && e.contains("scripts/fetch-default-model.sh"),
        "{e}"
    );
}

#[test]
fn invalid_values_are_rejected_with_the_parameter_name() {
    for (args, name) in [
        (&["hi", "--top-p", "1.5"][..], "top_p"),
        (&["hi", "--top-p", "0"][..], "top_p"),
        (&["hi", "--temperature", "NaN"][..], "temperature"),
        (&["hi", "--temperature", "-1"][..], "temperature"),
        (&["hi", "--max-tokens", "-3"][..], "max_tokens"),
        (&["hi", "--top-k", "0"][..], "top_k"),
        (&["hi", "--min-p", "2"][..], "min_p"),
        (&["hi", "--typical-p", "0"][..], "typical_p"),
        (
            &["hi", "--repetition-penalty", "0"][..],
            "repetition_penalty",
        ),
        (&["hi", "--frequency-penalty", "3"][..], "frequency_penalty"),
        (&["hi", "--presence-penalty", "-3"][..], "presence_penalty"),
        (&["hi", "--n-completions", "0"][..], "n"),
        (&["hi", "--num-beams", "0"][..], "num_beams"),
        (&["hi", "--num-beams", "4"][..], "num_beams"),
        (&["hi", "--stop", ""][..], "stop"),
        (&["hi", "--logit-bias", "99999999=1"][..], "logit_bias"),
        (&["hi", "--logit-bias", "5"][..], "ID=BIAS"),
        (&["hi", "--logprobs", "50"][..], "logprobs"),
        (&["hi", "--threads", "0"][..], "threads"),
        (&["hi", "--max-tokens", "many"][..], "max-tokens"),
    ] {
        let o = with_model(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(name), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn corrupt_model_file_is_a_clear_error_not_a_panic() {
    let dir = std::env::temp_dir().join(format!("textgen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in [
        ("magic.gguf", b"NOPE\x03\x00\x00\x00".to_vec()),
        ("short.gguf", b"GGUF\x03\x00\x00\x00\x01".to_vec()),
        ("empty.gguf", Vec::new()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = textgen(&["hi", "--model", p.to_str().unwrap()]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {e}");
        assert!(
            e.starts_with("error: cannot load model") && !e.contains("panicked"),
            "{name}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn perplexity_rejects_short_text() {
    let o = with_model(&["perplexity", "--file", "/etc/hostname", "--ctx", "512"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("needs at least 1024"), "{}", stderr(&o));
}

#[test]
fn tokenize_shows_ids() {
    let o = with_model(&["tokenize", "Hello world", "--ids"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[19556,905]");
}

#[test]
fn sigterm_stops_a_generation_cleanly() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_textgen"))
        .args([
            "1, 2, 3, 4, 5,",
            "--temperature",
            "0",
            "-n",
            "100000",
            "--model",
        ])
        .arg(model())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("textgen starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    stdout
        .read_exact(&mut first)
        .expect("some text streams before the signal");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
}

#[test]
fn json_output_with_logprobs_and_stop() {
    let o = with_model(&[
        "Once upon a time, there was a little",
        "--greedy",
        "-n",
        "30",
        "--stop",
        " the sun",
        "--logprobs",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["text"], " girl named Emma who loved to play in");
    assert_eq!(v["finish_reason"], "stop");
    assert_eq!(
        v["logprobs"][0]["top_logprobs"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        v["usage"]["completion_tokens"],
        v["tokens"].as_array().unwrap().len()
    );
}

#[test]
fn beam_search_and_n_completions_print_each_sequence() {
    let o = with_model(&[
        "The sky is",
        "--greedy",
        "--num-beams",
        "3",
        "--num-return-sequences",
        "2",
        "-n",
        "6",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("--- completion 0 score") && out.contains("--- completion 1 score"),
        "{out}"
    );
    let o = with_model(&[
        "The sky is",
        "--n-completions",
        "2",
        "--seed",
        "4",
        "-n",
        "6",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
}

#[test]
fn generation_config_supplies_defaults_and_flags_win() {
    let dir = std::env::temp_dir().join(format!("textgen-gc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("generation_config.json");
    std::fs::write(&cfg, r#"{"do_sample": false, "max_new_tokens": 5}"#).unwrap();
    let o = with_model(&[
        "Once upon a time, there was a little",
        "--generation-config",
        cfg.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tokens"].as_array().unwrap().len(), 5);
    assert_eq!(v["text"], " girl named Emma who loved");
    let o = with_model(&[
        "Hi",
        "--generation-config",
        cfg.to_str().unwrap(),
        "-n",
        "2",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tokens"].as_array().unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `textgen ARGS --model M` with `input` on stdin (a pipe, not a terminal).
fn with_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let m = model();
    let mut child = Command::new(env!("CARGO_BIN_EXE_textgen"))
        .args(args)
        .args(["--model", m.to_str().unwrap(), "--threads", "2"])
        .env_remove("TEXTGEN_MODEL")
        .env_remove("TEXTGEN_THREADS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("textgen runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn chat_piped_answers_each_line_and_knows_paris() {
    let o = with_stdin(
        &["chat", "--greedy", "-n", "48"],
        "What is the capital of France?\n\nAnd what is the capital of Italy?\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    let replies: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(replies.len() >= 2, "{out:?}");
    assert!(replies[0].contains("Paris"), "{out:?}");
    assert!(out.contains("Rome"), "{out:?}");
    assert!(
        stderr(&o).is_empty(),
        "a pipe gets no banner: {}",
        stderr(&o)
    );
}

#[test]
fn chat_reads_a_json_conversation_and_saves_one() {
    let dir = std::env::temp_dir().join(format!("textgen-chat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("c.json");
    let o = with_stdin(
        &[
            "chat",
            "--greedy",
            "-n",
            "32",
            "--system",
            "You are a geography teacher.",
        ],
        &format!(
            "What is the capital of France?\n/save {}\n",
            saved.display()
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let conv: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let roles: Vec<&str> = conv.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant"]);
    let first_reply = conv[2]["content"].as_str().unwrap().to_string();
    assert!(!first_reply.trim().is_empty(), "{conv:?}");

    // The saved conversation, piped back, gets the same next reply as a fresh run would.
    let again = std::fs::read_to_string(&saved).unwrap();
    let without_reply = serde_json::to_string(&conv[..2]).unwrap();
    let o = with_stdin(&["chat", "--greedy", "-n", "32"], &without_reply);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap().trim_end(),
        first_reply.trim_end()
    );
    let o = with_stdin(
        &["chat", "--greedy", "-n", "8"],
        &again.replace("role", "rule"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("JSON array of {role, content} messages"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generate_chat_renders_the_template() {
    let o = with_model(&[
        "generate",
        "--chat",
        "What is the capital of France?",
        "--greedy",
        "-n",
        "32",
        "--echo",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
        "{out:?}"
    );
    assert!(out.contains("Paris"), "{out:?}");
    let o = with_model(&["generate", "hi", "--system", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("need --chat"), "{}", stderr(&o));
}

#[test]
fn chat_template_file_replaces_the_models() {
    let dir = std::env::temp_dir().join(format!("textgen-tpl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jinja = dir.join("t.jinja");
    std::fs::write(
        &jinja,
        "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{{ eos_token }}",
    )
    .unwrap();
    let gemma = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../textgen-core/tests/fixtures/chat_templates/gemma.json"
    );
    let o = with_model(&[
        "generate",
        "--chat",
        "Hi",
        "--chat-template",
        jinja.to_str().unwrap(),
        "-n",
        "0",
        "--echo",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "[user] Hi\n<|im_end|>\n"
    );
    let o = with_model(&[
        "generate",
        "--chat",
        "Hi",
        "--system",
        "S",
        "--chat-template",
        gemma,
        "-n",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("System role not supported"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef textgen"),
        ("fish", "complete -c textgen"),
    ] {
        let o = textgen(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(
            out.contains(marker) && out.contains("chat"),
            "{shell}: {out}"
        );
    }
    assert_eq!(textgen(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn errors_as_json_lines_and_no_colour_off_a_terminal() {
    let o = textgen(&[
        "generate",
        "hi",
        "--model",
        "/nonexistent.gguf",
        "--log-format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let line: serde_json::Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["message"]
        .as_str()
        .unwrap()
        .contains("/nonexistent.gguf"));
    let o = textgen(&["hi", "--model", "/nonexistent.gguf"]);
    assert!(
        stderr(&o).starts_with("error: model file not found"),
        "{}",
        stderr(&o)
    );
    assert!(
        !stderr(&o).contains('\x1b'),
        "colours off a terminal: {:?}",
        stderr(&o)
    );
}

#[test]
fn a_model_without_template_gets_chatml_and_a_warning_quiet_silences_it() {
    let tiny = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../textgen-core/tests/fixtures/tiny-llama/model.gguf"
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["generate", "--chat", "hi", "-m", tiny, "-n", "1", "--echo"];
        args.extend(extra);
        let o = textgen(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    let o = run(&[]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .starts_with("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"),
        "{:?}",
        o.stdout
    );
    assert_eq!(
        stderr(&o),
        "warning: the model has no chat template; using ChatML\n"
    );
    assert_eq!(stderr(&run(&["--quiet"])), "");
    let line: serde_json::Value =
        serde_json::from_str(&stderr(&run(&["--log-format", "json"]))).unwrap();
    assert_eq!(line["level"], "warning");
}
