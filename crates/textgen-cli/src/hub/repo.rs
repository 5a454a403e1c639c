//! Names from the command line and from the Hub, checked once: repository ids, file names inside a
//! repository, revisions, ETags and commit hashes (all of them end up in file paths or URLs).

/// A model on the Hub as the user names it: `ORG/NAME`, or `ORG/NAME:FILE` for one file of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoRef {
    /// The repository id, `ORG/NAME`.
    pub repo: String,
    /// One file of the repository (relative path), when named.
    pub file: Option<String>,
}

impl RepoRef {
    /// Parses `ORG/NAME[:FILE]`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (repo, file) = match text.split_once(':') {
            Some((repo, file)) => (repo, Some(file)),
            None => (text, None),
        };
        check_repo_id(repo)?;
        let file = file.map(check_file_name).transpose()?;
        Ok(Self {
            repo: repo.to_string(),
            file: file.map(str::to_string),
        })
    }

    /// `--model` text that names a Hub repository rather than a file: shaped `ORG/NAME[:FILE]`, with a
    /// NAME that does not end in `.gguf` (so `models/x.gguf` stays a path).
    pub fn from_model_arg(text: &str) -> Option<Self> {
        let r = Self::parse(text).ok()?;
        (!r.repo.to_ascii_lowercase().ends_with(".gguf")).then_some(r)
    }
}

/// One part of a repository id: Hugging Face's rule (`[A-Za-z0-9_.-]{1,96}`, no leading or trailing
/// `-`/`.`, no `--` or `..`).
fn check_id_part(part: &str) -> bool {
    (1..=96).contains(&part.len())
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && !part.starts_with(['-', '.'])
        && !part.ends_with(['-', '.'])
        && !part.contains("--")
        && !part.contains("..")
}

/// Checks a repository id `ORG/NAME`.
fn check_repo_id(id: &str) -> Result<(), String> {
    match id.split_once('/') {
        Some((org, name)) if check_id_part(org) && check_id_part(name) && !name.ends_with(".git") => {
            Ok(())
        }
        _ => Err(format!(
            "not a Hugging Face repository id: {id:?} (expected ORG/NAME, e.g. HuggingFaceTB/SmolLM2-135M-Instruct)"
        )),
    }
}

/// Checks a file name inside a repository: a relative path of ordinary components (no `..`, no
/// absolute path, no backslash or control characters), so it cannot leave the snapshot folder.
pub fn check_file_name(name: &str) -> Result<&str, String> {
    let ok = !name.is_empty()
        && name.len() <= 1024
        && !name.starts_with('/')
        && !name.chars().any(|c| c == '\\' || c.is_control())
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if ok {
        Ok(name)
    } else {
        Err(format!("not a file name inside a repository: {name:?}"))
    }
}

/// Checks a revision (branch, tag, commit, or `refs/pr/N`): it names a file under `refs/`.
pub fn check_revision(rev: &str) -> Result<&str, String> {
    let ok = check_file_name(rev).is_ok()
        && rev
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
    if ok {
        Ok(rev)
    } else {
        Err(format!(
            "not a revision: {rev:?} (a branch, tag or commit hash)"
        ))
    }
}

/// Whether `s` is a full commit hash (40 lowercase hex digits), as the Hub sends them.
pub fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An ETag as a blob file name: `W/` and quotes removed (as huggingface_hub does); `None` unless what
/// is left is 1-128 letters, digits, `-` or `_`.
pub fn normalize_etag(raw: &str) -> Option<String> {
    let e = raw.trim();
    let e = e.strip_prefix("W/").unwrap_or(e).trim_matches('"');
    let ok = (1..=128).contains(&e.len())
        && e.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| e.to_string())
}

/// Whether an ETag is a sha256 (what the Hub sends for LFS files, whose content it hashes).
pub fn is_sha256(etag: &str) -> bool {
    etag.len() == 64 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Percent-encodes `s` for a URL path; `/` is kept unless `keep_slash` is false (as huggingface_hub
/// quotes file names and revisions).
pub fn url_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_refs_parse_and_paths_stay_paths() {
        let r = RepoRef::parse("org/name:dir/f.gguf").unwrap();
        assert_eq!(r.repo, "org/name");
        assert_eq!(r.file.as_deref(), Some("dir/f.gguf"));
        assert_eq!(RepoRef::parse("a/b").unwrap().file, None);
        for bad in [
            "a", "a/b/c", "/a/b", "a/../b", "-a/b", "a/b.", "a--x/b", "a/b:", "a/b:../x", "a/b:/x",
        ] {
            assert!(RepoRef::parse(bad).is_err(), "{bad}");
        }
        assert!(RepoRef::from_model_arg("models/SmolLM2-135M-Instruct.Q4_1.gguf").is_none());
        assert!(RepoRef::from_model_arg("./m.gguf").is_none());
        assert!(RepoRef::from_model_arg("HuggingFaceTB/SmolLM2-1.7B-Instruct").is_some());
    }

    #[test]
    fn etags_revisions_and_urls() {
        assert_eq!(normalize_etag("W/\"abc-1\"").as_deref(), Some("abc-1"));
        assert_eq!(normalize_etag("\"../x\""), None);
        assert_eq!(normalize_etag("\"\""), None);
        assert!(check_revision("refs/pr/1").is_ok());
        assert!(check_revision("../main").is_err());
        assert!(is_commit(&"a".repeat(40)) && !is_commit("main"));
        assert_eq!(url_encode("a b/c", true), "a%20b/c");
        assert_eq!(url_encode("refs/pr/1", false), "refs%2Fpr%2F1");
    }
}
