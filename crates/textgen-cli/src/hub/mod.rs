//! The Hugging Face Hub client: picks what textgen needs from a repository, downloads it into the
//! standard Hugging Face cache (the layout huggingface_hub uses, so both share one cache), and resolves
//! it from the cache alone when offline.

mod cache;
mod client;
mod config;
mod download;
mod error;
pub mod repo;
mod select;

pub use config::HubConfig;
pub use error::HubError;
pub use repo::RepoRef;

use cache::RepoCache;
use client::Client;
use indicatif::ProgressBar;
use select::{select, Selection};
use std::path::PathBuf;

/// The local path of a selection in a snapshot: the file, or the snapshot folder for a model folder.
fn local_path(cache: &RepoCache, commit: &str, sel: &Selection) -> PathBuf {
    match sel {
        Selection::File(f) => cache.snapshot_dir(commit).join(f),
        Selection::Folder(_) => cache.snapshot_dir(commit),
    }
}

/// Makes `r` (at `revision`) available in the cache, downloading what is missing (or, with
/// `HF_HUB_OFFLINE` or when the Hub cannot be reached, finding it there), and returns its local path:
/// a file, or a model folder.
pub fn fetch(
    cfg: &HubConfig,
    r: &RepoRef,
    revision: &str,
    bar: &ProgressBar,
) -> Result<PathBuf, HubError> {
    repo::check_revision(revision).map_err(HubError::Config)?;
    let cache = RepoCache::new(&cfg.cache, &r.repo);
    if cfg.offline {
        return from_cache(cfg, &cache, r, revision);
    }
    let client = Client::new(cfg);
    let info = match client.repo_info(&r.repo, revision) {
        Ok(info) => info,
        // As huggingface_hub does: with the Hub out of reach, what the cache has is used.
        Err(e @ HubError::Network { .. }) => {
            return from_cache(cfg, &cache, r, revision).map_err(|_| e)
        }
        Err(e) => return Err(e),
    };
    let sel = select(&r.repo, &info.files, r.file.as_deref())?;
    for file in sel.files() {
        let link = cache.snapshot_dir(&info.commit).join(file);
        if link.is_file() {
            continue; // Pulled before at this commit (a symlink to a complete blob).
        }
        let meta = client.file_meta(&r.repo, &info.commit, file)?;
        download::fetch_blob(&client, &cache, &r.repo, &meta, bar)?;
        cache
            .link(&info.commit, file, &meta.etag)
            .map_err(HubError::io(&link))?;
    }
    if revision != info.commit {
        cache
            .write_ref(revision, &info.commit)
            .map_err(HubError::io(cfg.cache.clone()))?;
    }
    Ok(local_path(&cache, &info.commit, &sel))
}

/// Resolves `r` from the cache only (`HF_HUB_OFFLINE`).
fn from_cache(
    cfg: &HubConfig,
    cache: &RepoCache,
    r: &RepoRef,
    revision: &str,
) -> Result<PathBuf, HubError> {
    let not_cached = || HubError::NotCached {
        what: match &r.file {
            Some(f) => format!("{}:{f}", r.repo),
            None => r.repo.clone(),
        },
        cache: cfg.cache.clone(),
    };
    let commit = if repo::is_commit(revision) && cache.snapshot_dir(revision).is_dir() {
        revision.to_string()
    } else {
        cache.read_ref(revision).ok_or_else(not_cached)?
    };
    let files = cache.snapshot_files(&commit);
    let sel = match select(&r.repo, &files, r.file.as_deref()) {
        Err(HubError::NotFound(_)) => return Err(not_cached()),
        other => other?,
    };
    Ok(local_path(cache, &commit, &sel))
}
