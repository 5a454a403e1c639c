//! `textgen pull` and `--model ORG/NAME` against a local mock of the Hugging Face Hub: the cache layout,
//! resuming a cut download, checksum and size checks, offline mode, 404/401, a full disk, concurrent
//! pulls, and generating with a model pulled through the mock.

mod common;

use common::mock_hub::{bytes, sha256_hex, MockFile, MockHub};
use common::run::stderr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory under the target directory, emptied first (the HF_HOME of one test).
fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("pull")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `textgen ARGS` with HF_HOME = `home` and HF_ENDPOINT = `endpoint`, the other HF variables unset.
fn textgen(home: &Path, endpoint: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_textgen"));
    c.args(args);
    hf_env(&mut c, home, endpoint);
    c
}

/// Runs `c` with the environment of `textgen`.
fn run_with_hf_env(mut c: Command, home: &Path, endpoint: &str) -> std::io::Result<Output> {
    hf_env(&mut c, home, endpoint);
    c.output()
}

/// HF_HOME = `home`, HF_ENDPOINT = `endpoint`, the other HF (and textgen) variables unset.
fn hf_env(c: &mut Command, home: &Path, endpoint: &str) {
    c.env("HF_HOME", home)
        .env("HF_ENDPOINT", endpoint)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("TEXTGEN_MODEL");
}

fn run(mut c: Command) -> Output {
    c.output().expect("textgen runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Every file under `dir` (recursively), as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A repository with three GGUF files (Q4_K_M is preferred), a README and a small non-LFS config.
fn gguf_repo(hub: &MockHub, id: &str, size: usize) -> (String, MockFile) {
    let wanted = MockFile::new("tiny-Q4_K_M.gguf", bytes(size, 1), true);
    let commit = hub.add_repo(
        id,
        vec![
            MockFile::new("README.md", b"# tiny\n".to_vec(), false),
            MockFile::new("tiny-Q8_0.gguf", bytes(1000, 2), true),
            wanted.clone(),
            MockFile::new("tiny-F16.gguf", bytes(1000, 3), true),
            MockFile::new(
                "config.json",
                b"{\"model_type\": \"llama\"}".to_vec(),
                false,
            ),
        ],
    );
    (commit, wanted)
}

fn repo_dir(home: &Path, id: &str) -> PathBuf {
    home.join("hub")
        .join(format!("models--{}", id.replace('/', "--")))
}

#[test]
fn a_fresh_pull_fills_the_hugging_face_cache_layout() {
    let hub = MockHub::start();
    let home = scratch("fresh");
    let (commit, wanted) = gguf_repo(&hub, "org/tiny", 300_000);
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let repo = repo_dir(&home, "org/tiny");
    let link = repo
        .join("snapshots")
        .join(&commit)
        .join("tiny-Q4_K_M.gguf");
    assert_eq!(stdout(&o), link.display().to_string());
    let sha = sha256_hex(&wanted.content);
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        PathBuf::from(format!("../../blobs/{sha}"))
    );
    assert_eq!(std::fs::read(&link).unwrap(), *wanted.content);
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        commit
    );
    assert_eq!(
        files_under(&repo),
        [
            format!("blobs/{sha}"),
            "refs/main".into(),
            format!("snapshots/{commit}/tiny-Q4_K_M.gguf")
        ]
    );
    assert!(
        stderr(&o).is_empty(),
        "quiet when not on a terminal: {}",
        stderr(&o)
    );

    // A second pull finds the file in the snapshot: only the file list is asked for.
    let before = hub.log().len();
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let again: Vec<_> = hub.log()[before..].iter().map(|l| l.path.clone()).collect();
    assert_eq!(again, ["/api/models/org/tiny/revision/main"]);

    // ORG/NAME:FILE (and --file) pick a file; a non-LFS file's blob is named by its git ETag.
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny:config.json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = repo.join("snapshots").join(&commit).join("config.json");
    assert_eq!(stdout(&o), cfg.display().to_string());
    let target = std::fs::read_link(&cfg).unwrap();
    assert!(
        target.starts_with("../../blobs") && !target.ends_with(&sha),
        "{target:?}"
    );
    let o = run(textgen(
        &home,
        &hub.url,
        &["pull", "org/tiny", "--file", "tiny-Q8_0.gguf"],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).ends_with("tiny-Q8_0.gguf"));
}

#[test]
fn a_model_folder_or_an_ambiguous_choice() {
    let hub = MockHub::start();
    let home = scratch("folder");
    let commit = hub.add_repo(
        "org/folder",
        vec![
            MockFile::new("README.md", b"readme".to_vec(), false),
            MockFile::new("config.json", b"{}".to_vec(), false),
            MockFile::new("model.safetensors", bytes(5000, 4), true),
            MockFile::new("tokenizer.json", b"{\"model\": {}}".to_vec(), false),
            MockFile::new("onnx/model.onnx", bytes(100, 5), true),
        ],
    );
    let o = run(textgen(&home, &hub.url, &["pull", "org/folder"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let snap = repo_dir(&home, "org/folder")
        .join("snapshots")
        .join(&commit);
    assert_eq!(stdout(&o), snap.display().to_string());
    assert_eq!(
        files_under(&snap),
        ["config.json", "model.safetensors", "tokenizer.json"]
    );

    hub.add_repo(
        "org/many",
        vec![
            MockFile::new("m-f16.gguf", bytes(10, 6), true),
            MockFile::new("m-Q2_K.gguf", bytes(10, 7), true),
        ],
    );
    let o = run(textgen(&home, &hub.url, &["pull", "org/many"]));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("m-f16.gguf, m-Q2_K.gguf") && err.contains("org/many:FILE"),
        "{err}"
    );
}

#[test]
fn a_cut_connection_is_resumed_with_a_range_request() {
    let hub = MockHub::start();
    let home = scratch("resume");
    let (commit, wanted) = gguf_repo(&hub, "org/tiny", 400_000);
    let sha = sha256_hex(&wanted.content);
    let cdn = format!("/cdn/{sha}");

    // Cut once: the same run retries from where the connection broke.
    hub.cut(1, 100_000);
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let gets: Vec<_> = hub.log().into_iter().filter(|l| l.path == cdn).collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[0].range, None);
    assert_eq!(gets[1].range.as_deref(), Some("bytes=100000-"));
    let link = repo_dir(&home, "org/tiny").join(format!("snapshots/{commit}/tiny-Q4_K_M.gguf"));
    assert_eq!(std::fs::read(&link).unwrap(), *wanted.content);

    // Cut every attempt of a run: it fails, keeping the partial file; the next run resumes it.
    let home = scratch("resume-runs");
    hub.cut(3, 50_000);
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny"]));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("interrupted") && err.contains("run the same command again"),
        "{err}"
    );
    let part = repo_dir(&home, "org/tiny").join(format!("blobs/{sha}.incomplete"));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 150_000);
    let before = hub.log().len();
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let gets: Vec<_> = hub.log()[before..]
        .iter()
        .filter(|l| l.path == cdn)
        .cloned()
        .collect();
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].range.as_deref(), Some("bytes=150000-"));
    assert!(!part.exists());
    let link = repo_dir(&home, "org/tiny").join(format!("snapshots/{commit}/tiny-Q4_K_M.gguf"));
    assert_eq!(std::fs::read(&link).unwrap(), *wanted.content);
}

#[test]
fn a_bad_checksum_is_rejected_and_nothing_is_kept() {
    let hub = MockHub::start();
    let home = scratch("checksum");
    gguf_repo(&hub, "org/tiny", 200_000);
    hub.corrupt(true);
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny"]));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("sha256") && err.contains("deleted"), "{err}");
    let repo = repo_dir(&home, "org/tiny");
    assert_eq!(
        files_under(&repo),
        Vec::<String>::new(),
        "no blob, partial file or link is left"
    );
    assert!(repo.join("blobs").is_dir());
    // Fixed on the server: the next pull works.
    hub.corrupt(false);
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny"]));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn offline_mode_uses_the_cache_only() {
    let hub = MockHub::start();
    let home = scratch("offline");
    gguf_repo(&hub, "org/tiny", 10_000);
    let o = run(textgen(&home, &hub.url, &["pull", "org/tiny"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let path = stdout(&o);
    let before = hub.log().len();
    let mut c = textgen(&home, &hub.url, &["pull", "org/tiny"]);
    let o = run({
        c.env("HF_HUB_OFFLINE", "1");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), path);
    assert_eq!(hub.log().len(), before, "offline: no request");
    // A file that is not cached, or a repository that is not: a clear error, still no request.
    for what in ["org/tiny:tiny-Q8_0.gguf", "org/other"] {
        let mut c = textgen(&home, &hub.url, &["pull", what]);
        c.env("HF_HUB_OFFLINE", "true");
        let o = run(c);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains("not in the Hugging Face cache") && err.contains("HF_HUB_OFFLINE"),
            "{err}"
        );
        assert!(err.contains(what), "{err}");
    }
    assert_eq!(hub.log().len(), before);
    // Without HF_HUB_OFFLINE but with the Hub out of reach, the cache serves too (as huggingface_hub does).
    let o = run(textgen(&home, "http://127.0.0.1:9", &["pull", "org/tiny"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), path);
    // HF_HUB_CACHE moves the cache itself.
    let elsewhere = scratch("offline-hub-cache");
    let mut c = textgen(&home, &hub.url, &["pull", "org/tiny"]);
    c.env("HF_HUB_CACHE", &elsewhere);
    let o = run(c);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with(&elsewhere.join("models--org--tiny").display().to_string()));
}

#[test]
fn missing_repositories_and_files_are_clear_errors() {
    let hub = MockHub::start();
    let home = scratch("missing");
    gguf_repo(&hub, "org/tiny", 1000);
    for (what, expect) in [
        ("org/nothing", "org/nothing at revision main"),
        ("org/tiny:nope.gguf", "org/tiny has no file nope.gguf"),
    ] {
        let mut c = textgen(&home, &hub.url, &["pull", what]);
        c.env("HF_TOKEN", "hf_any");
        let o = run(c);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains("repository or file not found") && err.contains(expect),
            "{err}"
        );
    }
    let o = run(textgen(
        &home,
        &hub.url,
        &["pull", "org/tiny", "--revision", "v9"],
    ));
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    // Names that could leave the cache are refused before any request.
    let before = hub.log().len();
    for bad in ["../x", "org/tiny:../../etc/passwd", "org/a/b"] {
        let o = run(textgen(&home, &hub.url, &["pull", bad]));
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
    }
    assert_eq!(hub.log().len(), before);
    // No server at all.
    let o = run(textgen(&home, "http://127.0.0.1:9", &["pull", "org/tiny"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot reach the Hub"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_gated_repository_needs_hf_token_which_stays_off_the_cdn() {
    let hub = MockHub::start();
    let home = scratch("gated");
    gguf_repo(&hub, "org/gated", 5000);
    hub.gate("org/gated", "hf_secret");
    let o = run(textgen(&home, &hub.url, &["pull", "org/gated"]));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("HTTP 401") && err.contains("set HF_TOKEN"),
        "{err}"
    );
    let mut c = textgen(&home, &hub.url, &["pull", "org/gated"]);
    c.env("HF_TOKEN", "wrong");
    let o = run(c);
    assert!(
        stderr(&o).contains("HF_TOKEN was not accepted"),
        "{}",
        stderr(&o)
    );
    // The token `huggingface-cli login` saves in HF_HOME/token counts too.
    std::fs::write(home.join("token"), "hf_secret\n").unwrap();
    let o = run(textgen(&home, &hub.url, &["pull", "org/gated"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let log = hub.log();
    assert!(log
        .iter()
        .any(|l| l.path.contains("/resolve/") && l.auth.as_deref() == Some("Bearer hf_secret")));
    assert!(
        log.iter()
            .filter(|l| l.path.starts_with("/cdn/"))
            .all(|l| l.auth.is_none()),
        "the token is not sent on to the CDN: {log:?}"
    );
}

#[test]
fn concurrent_pulls_of_one_file_do_not_corrupt_it() {
    let hub = MockHub::start();
    let home = scratch("concurrent");
    let (commit, wanted) = gguf_repo(&hub, "org/tiny", 2_000_000);
    hub.slow(true);
    let children: Vec<_> = (0..3)
        .map(|_| {
            textgen(&home, &hub.url, &["pull", "org/tiny"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let repo = repo_dir(&home, "org/tiny");
    let link = repo.join(format!("snapshots/{commit}/tiny-Q4_K_M.gguf"));
    assert_eq!(std::fs::read(&link).unwrap(), *wanted.content);
    let blobs = files_under(&repo.join("blobs"));
    assert_eq!(
        blobs,
        [sha256_hex(&wanted.content)],
        "one blob, no partial file"
    );
}

/// Runs `textgen pull org/big` with its cache on a full filesystem: a 256 KiB tmpfs mounted in a
/// private mount namespace (`unshare`, as root or in a user namespace). Returns (what was used, the
/// output, the files left in the cache). Where no namespace can be made, a file size limit (`ulimit -f`,
/// which gives EFBIG, not ENOSPC) stands in for the full disk, and the test says so.
fn pull_on_a_full_disk(home: &Path, endpoint: &str) -> (&'static str, Output, Vec<String>) {
    let bin = env!("CARGO_BIN_EXE_textgen");
    let h = home.display();
    let script = format!(
        "mount -t tmpfs -o size=256k tmpfs '{h}' || exit 97; echo mounted >&2; \
         '{bin}' pull org/big; rc=$?; find '{h}' -type f | sed 's|^{h}/|file: |' >&2; exit $rc"
    );
    for unshare in [&["-m"][..], &["-r", "-m"][..]] {
        let mut c = Command::new("unshare");
        c.args(unshare).args(["sh", "-c", &script]);
        if let Ok(o) = run_with_hf_env(c, home, endpoint) {
            if stderr(&o).contains("mounted") {
                let left = stderr(&o)
                    .lines()
                    .filter_map(|l| l.strip_prefix("file: "))
                    .map(String::from)
                    .collect();
                return ("a full tmpfs (ENOSPC)", o, left);
            }
        }
    }
    eprintln!(
        "no mount namespace here: a file size limit (EFBIG) stands in for a full disk (ENOSPC)"
    );
    let mut c = Command::new("bash");
    c.args([
        "-c",
        &format!("trap '' XFSZ; ulimit -f 256; exec '{bin}' pull org/big"),
    ]);
    let o = run_with_hf_env(c, home, endpoint).expect("bash runs");
    ("a file size limit (EFBIG)", o, files_under(home))
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_no_partial_file() {
    let hub = MockHub::start();
    let home = scratch("disk-full");
    hub.add_repo(
        "org/big",
        vec![MockFile::new("big-Q4_1.gguf", bytes(1_000_000, 9), true)],
    );
    let (how, o, left) = pull_on_a_full_disk(&home, &hub.url);
    assert_eq!(o.status.code(), Some(1), "{how}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("error: no space left for") && err.contains("partial download was deleted"),
        "{how}: {err}"
    );
    assert!(err.contains("HF_HUB_CACHE"), "{err}");
    assert!(
        left.iter().all(|f| !f.contains("blobs/")),
        "{how}: files left: {left:?}"
    );
    // The download had started: the mock served the file.
    assert!(hub.log().iter().any(|l| l.path.starts_with("/cdn/")));
}

#[test]
fn model_flag_pulls_a_hub_repository_and_generates() {
    let model = common::model();
    let hub = MockHub::start();
    let home = scratch("model-flag");
    let gguf = MockFile::new(
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        std::fs::read(&model).unwrap(),
        true,
    );
    let commit = hub.add_repo(
        "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
        vec![MockFile::new("README.md", b"readme".to_vec(), false), gguf],
    );
    let generate = |offline: bool, model: &str| {
        let mut c = textgen(
            &home,
            &hub.url,
            &[
                "generate",
                "--model",
                model,
                "--greedy",
                "-n",
                "4",
                "-t",
                "2",
                "Once upon a time, there was a little",
            ],
        );
        if offline {
            c.env("HF_HUB_OFFLINE", "1");
        }
        run(c)
    };
    let o = generate(false, "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "girl named Emma who");
    let snap = repo_dir(&home, "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
        .join("snapshots")
        .join(&commit);
    assert_eq!(files_under(&snap), ["SmolLM2-135M-Instruct.Q4_1.gguf"]);
    // Offline, from the cache (ORG/NAME:FILE too), without the Hub.
    hub.corrupt(true);
    let before = hub.log().len();
    let o = generate(
        true,
        "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:SmolLM2-135M-Instruct.Q4_1.gguf",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "girl named Emma who");
    assert_eq!(hub.log().len(), before);
    // A local path that exists always wins over a repository of the same shape.
    let local = home.join("HuggingFaceTB");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::copy(&model, local.join("model")).unwrap();
    let mut c = textgen(
        &home,
        "http://127.0.0.1:9",
        &["tokenize", "--model", "HuggingFaceTB/model", "Hello"],
    );
    c.current_dir(&home);
    let o = run(c);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_hugging_face_folder_from_the_hub_is_inspected_and_generates() {
    let hub = MockHub::start();
    let home = scratch("hf-folder");
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../textgen-core/tests/fixtures/hf/qwen2");
    let files = [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    .map(|f| {
        MockFile::new(
            f,
            std::fs::read(fixture.join(f)).unwrap(),
            f.ends_with(".safetensors"),
        )
    });
    hub.add_repo("org/qwen", files.to_vec());
    let o = run(textgen(&home, &hub.url, &["inspect", "org/qwen"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Qwen2ForCausalLM"), "{}", stdout(&o));
    let o = run(textgen(
        &home,
        &hub.url,
        &[
            "generate",
            "--model",
            "org/qwen",
            "--greedy",
            "-n",
            "3",
            "--quantize",
            "q8_0",
            "Hi",
        ],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
}
