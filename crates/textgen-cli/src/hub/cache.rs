//! One repository's folder in the Hugging Face cache, laid out as huggingface_hub does:
//! `models--ORG--NAME/{blobs/ETAG, snapshots/COMMIT/FILE -> ../../blobs/ETAG, refs/REVISION}`, plus
//! `.locks/models--ORG--NAME/ETAG.lock` while a blob is downloaded.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Paths of one repository in the cache.
pub struct RepoCache {
    dir: PathBuf,
    locks: PathBuf,
}

/// Writes `content` to `path` through a temporary file and a rename, so readers see all or nothing.
fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, content)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

impl RepoCache {
    /// The cache folder of repository `repo` (`ORG/NAME`) under `cache`.
    pub fn new(cache: &Path, repo: &str) -> Self {
        let name = format!("models--{}", repo.replace('/', "--"));
        Self {
            dir: cache.join(&name),
            locks: cache.join(".locks").join(name),
        }
    }

    /// The commit a revision pointed to when it was last pulled.
    pub fn read_ref(&self, revision: &str) -> Option<String> {
        let text = fs::read_to_string(self.dir.join("refs").join(revision)).ok()?;
        let commit = text.trim();
        super::repo::is_commit(commit).then(|| commit.to_string())
    }

    /// Records that `revision` points to `commit`.
    pub fn write_ref(&self, revision: &str, commit: &str) -> io::Result<()> {
        let path = self.dir.join("refs").join(revision);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        write_atomic(&path, commit.as_bytes())
    }

    /// The snapshot folder of a commit.
    pub fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.dir.join("snapshots").join(commit)
    }

    /// A blob, named by its ETag.
    pub fn blob(&self, etag: &str) -> PathBuf {
        self.dir.join("blobs").join(etag)
    }

    /// The blob being downloaded (kept across runs, so a download resumes).
    pub fn incomplete(&self, etag: &str) -> PathBuf {
        self.dir.join("blobs").join(format!("{etag}.incomplete"))
    }

    /// Takes the exclusive lock of a blob (waiting for another process that holds it); released when
    /// the returned file is dropped.
    pub fn lock(&self, etag: &str) -> io::Result<File> {
        fs::create_dir_all(&self.locks)?;
        fs::create_dir_all(self.dir.join("blobs"))?;
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.locks.join(format!("{etag}.lock")))?;
        f.lock()?;
        Ok(f)
    }

    /// Points `snapshots/COMMIT/FILE` at the blob `etag` (a relative symlink, replaced atomically).
    pub fn link(&self, commit: &str, file: &str, etag: &str) -> io::Result<()> {
        let link = self.snapshot_dir(commit).join(file);
        let parent = link.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent)?;
        // snapshots/COMMIT/a/b -> ../../../blobs/ETAG: one `..` per folder between the link and the repo.
        let depth = file.matches('/').count() + 2;
        let target = PathBuf::from("../".repeat(depth)).join("blobs").join(etag);
        let tmp = parent.join(format!(".{}.tmp{}", etag, std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp)?;
        fs::rename(&tmp, &link).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }

    /// The files of a cached snapshot whose blob is present, as paths relative to it (sorted).
    pub fn snapshot_files(&self, commit: &str) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            // Hidden names are this module's temporary links, never repository files.
            for e in entries
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            {
                let path = e.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if path.is_file() {
                    if let Ok(rel) = path.strip_prefix(root) {
                        out.push(rel.to_string_lossy().into_owned());
                    }
                }
            }
        }
        let root = self.snapshot_dir(commit);
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        out.sort();
        out
    }
}
