//! Downloading one blob into the cache: into `ETAG.incomplete` (resumed with a Range request, across
//! retries and runs), checked against the size and, for LFS files, the sha256 the Hub gave, then renamed
//! into place. A blob's lock keeps concurrent pulls of it apart.

use super::cache::RepoCache;
use super::client::{Client, FileMeta};
use super::repo::is_sha256;
use super::HubError;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

/// Attempts per run when the connection breaks (each resumes where the last one stopped).
const ATTEMPTS: u32 = 3;

/// How an attempt ended, when it did not finish the file.
enum Failed {
    /// The connection broke: the partial file is kept and the next attempt resumes it.
    Retry(HubError),
    /// Stop, keeping the partial file (it is fine; the Hub refused or could not be reached).
    Stop(HubError),
    /// The partial file is bad or cannot be written: delete it and stop.
    Discard(HubError),
}

/// Whether a write error means the disk (or the file size limit) is full.
fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge | io::ErrorKind::QuotaExceeded
    )
}

/// The error for a failed write to the partial file.
fn write_error(path: &Path, e: io::Error) -> Failed {
    if is_full(&e) {
        Failed::Discard(HubError::DiskFull {
            path: path.to_path_buf(),
            what: e.to_string(),
        })
    } else {
        Failed::Discard(HubError::Io {
            path: path.to_path_buf(),
            source: e,
        })
    }
}

/// Downloads the blob of `meta` unless the cache has it; the blob is complete and verified on success.
pub fn fetch_blob(
    client: &Client,
    cache: &RepoCache,
    repo: &str,
    meta: &FileMeta,
    bar: &ProgressBar,
) -> Result<(), HubError> {
    let blob = cache.blob(&meta.etag);
    let _lock = cache
        .lock(&meta.etag)
        .map_err(HubError::io(cache.blob("")))?;
    // Another process may have finished it while this one waited for the lock.
    if fs::metadata(&blob).is_ok_and(|m| m.len() == meta.size) {
        return Ok(());
    }
    let part = cache.incomplete(&meta.etag);
    bar.set_length(meta.size);
    bar.set_message(meta.name.clone());
    bar.reset_elapsed();
    bar.reset_eta();
    let mut attempt = 1;
    loop {
        match download(client, repo, meta, &part, bar) {
            Ok(()) => break,
            Err(Failed::Retry(_)) if attempt < ATTEMPTS => {
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
                attempt += 1;
            }
            Err(Failed::Retry(e) | Failed::Stop(e)) => return Err(e),
            Err(Failed::Discard(e)) => {
                let _ = fs::remove_file(&part);
                return Err(e);
            }
        }
    }
    fs::rename(&part, &blob).map_err(HubError::io(&blob))?;
    bar.finish_and_clear();
    Ok(())
}

/// The sha256 of the first `len` bytes already in `f` (to continue hashing a resumed download).
fn hash_prefix(f: &mut File, len: u64, path: &Path) -> Result<Sha256, Failed> {
    let mut h = Sha256::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| io::copy(&mut f.take(len), &mut h))
        .map_err(|e| Failed::Discard(HubError::io(path)(e)))?;
    Ok(h)
}

/// One attempt: appends the rest of the file to `part`, then checks it.
fn download(
    client: &Client,
    repo: &str,
    meta: &FileMeta,
    part: &Path,
    bar: &ProgressBar,
) -> Result<(), Failed> {
    let mut f = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(part)
        .map_err(|e| write_error(part, e))?;
    let mut have = f.metadata().map_err(|e| write_error(part, e))?.len();
    if have > meta.size {
        have = 0; // Not a prefix of this file: start again.
    }
    let mut resp = if have < meta.size {
        Some(client.get(meta, repo, have).map_err(Failed::Stop)?)
    } else {
        None
    };
    match resp.as_ref().map(|r| r.status().as_u16()) {
        Some(206) => {
            let from = resp
                .as_ref()
                .and_then(|r| r.headers().get("content-range"))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok());
            if from != Some(have) {
                return Err(Failed::Discard(HubError::BadResponse {
                    url: meta.url.clone(),
                    what: format!("asked for bytes {have}- and got {from:?}"),
                }));
            }
        }
        // The whole file (the server ignored the range), or a range past the end: start again.
        Some(416) => {
            f.set_len(0).map_err(|e| write_error(part, e))?;
            return Err(Failed::Retry(HubError::Interrupted {
                file: meta.name.clone(),
                have: 0,
                size: meta.size,
                reason: "the server refused to resume".into(),
            }));
        }
        Some(_) => have = 0,
        None => {}
    }
    f.set_len(have).map_err(|e| write_error(part, e))?;
    let check_sha = is_sha256(&meta.etag);
    let mut hasher = if check_sha {
        Some(hash_prefix(&mut f, have, part)?)
    } else {
        None
    };
    f.seek(SeekFrom::Start(have))
        .map_err(|e| write_error(part, e))?;
    bar.set_position(have);
    if let Some(resp) = resp.as_mut() {
        let mut body = resp.body_mut().as_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = f.flush();
                    return Err(Failed::Retry(HubError::Interrupted {
                        file: meta.name.clone(),
                        have,
                        size: meta.size,
                        reason: e.to_string(),
                    }));
                }
            };
            if have + n as u64 > meta.size {
                return Err(Failed::Discard(HubError::Corrupt {
                    file: meta.name.clone(),
                    what: format!("more than the {} bytes announced", meta.size),
                }));
            }
            f.write_all(&buf[..n]).map_err(|e| write_error(part, e))?;
            if let Some(h) = hasher.as_mut() {
                h.update(&buf[..n]);
            }
            have += n as u64;
            bar.set_position(have);
        }
    }
    // Delayed allocation can report a full disk only when the data is flushed.
    f.sync_all().map_err(|e| write_error(part, e))?;
    if have < meta.size {
        return Err(Failed::Retry(HubError::Interrupted {
            file: meta.name.clone(),
            have,
            size: meta.size,
            reason: "the connection closed early".into(),
        }));
    }
    if let Some(h) = hasher {
        let actual = format!("{:x}", h.finalize());
        if !actual.eq_ignore_ascii_case(&meta.etag) {
            return Err(Failed::Discard(HubError::Corrupt {
                file: meta.name.clone(),
                what: format!("sha256 {actual}, expected {}", meta.etag),
            }));
        }
    }
    Ok(())
}
