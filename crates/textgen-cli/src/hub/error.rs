//! Everything that can go wrong talking to the Hub or filling the cache, worded for the user.

use std::path::PathBuf;

/// A failed pull or cache lookup.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A setting or a name given by the user is unusable.
    #[error("{0}")]
    Config(String),
    /// The Hub has no such repository, revision or file (HTTP 404).
    #[error("repository or file not found on the Hub: {0}")]
    NotFound(String),
    /// The Hub refused access (HTTP 401/403): a gated or private repository.
    #[error(
        "access to {repo} refused (HTTP {status}): it is gated or private; {}",
        if *.token_sent {
            "the token in HF_TOKEN was not accepted for it (accept its terms on the Hub, or use a token with access)"
        } else {
            "set HF_TOKEN to a Hugging Face access token that has access to it"
        }
    )]
    Denied {
        /// The repository.
        repo: String,
        /// The HTTP status.
        status: u16,
        /// Whether a token was sent.
        token_sent: bool,
    },
    /// Any other HTTP error status.
    #[error("the Hub answered HTTP {status} for {url}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The URL asked for.
        url: String,
    },
    /// The Hub answered something this client cannot use.
    #[error("unexpected answer from the Hub for {url}: {what}")]
    BadResponse {
        /// The URL asked for.
        url: String,
        /// What was wrong with it.
        what: String,
    },
    /// The Hub could not be reached.
    #[error(
        "cannot reach the Hub at {endpoint}: {source} (HF_HUB_OFFLINE=1 uses the local cache only)"
    )]
    Network {
        /// The endpoint.
        endpoint: String,
        /// The transport error.
        source: ureq::Error,
    },
    /// The connection broke during a download; the partial file is kept for the next attempt.
    #[error("download of {file} interrupted after {have} of {size} bytes ({reason}); run the same command again to resume it")]
    Interrupted {
        /// The file.
        file: String,
        /// Bytes on disk.
        have: u64,
        /// The expected size.
        size: u64,
        /// What broke.
        reason: String,
    },
    /// The downloaded bytes are not the file the Hub described; they were deleted.
    #[error("{file}: the download does not match the Hub's description ({what}); the downloaded data was deleted")]
    Corrupt {
        /// The file.
        file: String,
        /// Size or sha256 mismatch, both values.
        what: String,
    },
    /// The disk (or the file size limit) is full; the partial file was deleted.
    #[error("no space left for {path} ({what}); the partial download was deleted: free some space, or set HF_HUB_CACHE / HF_HOME to a disk with room")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
        /// The system's words for it.
        what: String,
    },
    /// Reading or writing the cache failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `HF_HUB_OFFLINE` is set and the cache does not have what was asked for.
    #[error("{what} is not in the Hugging Face cache at {} and HF_HUB_OFFLINE is set, so nothing can be downloaded (pull it first with network access: textgen pull {what})", cache.display())]
    NotCached {
        /// The repository (and file).
        what: String,
        /// The cache folder.
        cache: PathBuf,
    },
    /// The repository has nothing textgen can run, or several candidates.
    #[error("{0}")]
    Choice(String),
}

impl HubError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
