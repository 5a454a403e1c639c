//! The Hub's HTTP routes: a repository's file list at a revision, one file's metadata (HEAD on its
//! `resolve` URL, as huggingface_hub asks), and the file itself (GET, following the CDN redirect).

use super::repo::{check_file_name, is_commit, normalize_etag, url_encode};
use super::{HubConfig, HubError};
use std::time::Duration;
use ureq::http::{HeaderMap, Response};
use ureq::Body;

/// A repository at one commit: what it holds.
#[derive(Debug)]
pub struct RepoInfo {
    /// The commit the revision points to.
    pub commit: String,
    /// The repository's files (relative paths).
    pub files: Vec<String>,
}

/// What the Hub says about one file.
#[derive(Debug)]
pub struct FileMeta {
    /// The file's path in the repository.
    pub name: String,
    /// The blob's name in the cache: the sha256 for LFS files, the git blob id otherwise.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// The URL to GET it from.
    pub url: String,
}

/// The JSON of `GET /api/models/{repo}/revision/{rev}` (the parts used).
#[derive(serde::Deserialize)]
struct ApiModel {
    sha: String,
    #[serde(default)]
    siblings: Vec<ApiSibling>,
}

#[derive(serde::Deserialize)]
struct ApiSibling {
    rfilename: String,
}

/// An HTTP client for one Hub endpoint.
pub struct Client {
    agent: ureq::Agent,
    cfg: HubConfig,
}

/// A header as text.
fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl Client {
    /// A client for `cfg`'s endpoint and token.
    pub fn new(cfg: &HubConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .user_agent(concat!("textgen/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            agent,
            cfg: cfg.clone(),
        }
    }

    /// `Authorization: Bearer HF_TOKEN` when a token is set.
    fn auth(&self) -> Option<String> {
        self.cfg.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    fn network(&self, source: ureq::Error) -> HubError {
        HubError::Network {
            endpoint: self.cfg.endpoint.clone(),
            source,
        }
    }

    /// The error for a 4xx/5xx answer `resp` about `what` (a repository, or one of its files). The Hub
    /// answers 401 with `X-Error-Code: RepoNotFound` for a missing repository (it might be private).
    fn status_error(&self, resp: &Response<Body>, url: &str, repo: &str, what: String) -> HubError {
        let status = resp.status().as_u16();
        let code = header(resp.headers(), "x-error-code");
        match status {
            401 if code == Some("RepoNotFound") => HubError::NotFound(format!(
                "{what} (at {}; if it is private, set HF_TOKEN)",
                self.cfg.endpoint
            )),
            401 | 403 => HubError::Denied {
                repo: repo.to_string(),
                status,
                token_sent: self.cfg.token.is_some(),
            },
            404 => HubError::NotFound(format!("{what} (at {})", self.cfg.endpoint)),
            _ => HubError::Status {
                status,
                url: url.to_string(),
            },
        }
    }

    /// The commit `revision` points to and the repository's files there.
    pub fn repo_info(&self, repo: &str, revision: &str) -> Result<RepoInfo, HubError> {
        let url = format!(
            "{}/api/models/{repo}/revision/{}",
            self.cfg.endpoint,
            url_encode(revision, false)
        );
        let mut req = self.agent.get(&url);
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| self.network(e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let what = format!("{repo} at revision {revision}");
            return Err(self.status_error(&resp, &url, repo, what));
        }
        let bad = |what: String| HubError::BadResponse {
            url: url.clone(),
            what,
        };
        let info: ApiModel = resp
            .body_mut()
            .read_json()
            .map_err(|e| bad(format!("not the JSON of a model: {e}")))?;
        if !is_commit(&info.sha) {
            return Err(bad(format!("{:?} is not a commit hash", info.sha)));
        }
        let files = info
            .siblings
            .into_iter()
            .map(|s| check_file_name(&s.rfilename).map(str::to_string))
            .collect::<Result<_, _>>()
            .map_err(bad)?;
        Ok(RepoInfo {
            commit: info.sha,
            files,
        })
    }

    /// The metadata of `file` at `commit`: HEAD without following the CDN redirect, whose
    /// `X-Linked-Etag` / `X-Linked-Size` describe an LFS file (`ETag` / `Content-Length` otherwise).
    pub fn file_meta(&self, repo: &str, commit: &str, file: &str) -> Result<FileMeta, HubError> {
        let url = format!(
            "{}/{repo}/resolve/{commit}/{}",
            self.cfg.endpoint,
            url_encode(file, true)
        );
        let mut req = self
            .agent
            .head(&url)
            .header("Accept-Encoding", "identity")
            .config()
            .max_redirects(0)
            .build();
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        let resp = req.call().map_err(|e| self.network(e))?;
        let status = resp.status().as_u16();
        if !(200..400).contains(&status) {
            return Err(self.status_error(&resp, &url, repo, format!("{repo} file {file}")));
        }
        let h = resp.headers();
        let bad = |what: &str| HubError::BadResponse {
            url: url.clone(),
            what: what.to_string(),
        };
        if header(h, "x-repo-commit").is_some_and(|c| c != commit) {
            return Err(bad("X-Repo-Commit is not the commit asked for"));
        }
        let etag = header(h, "x-linked-etag")
            .or_else(|| header(h, "etag"))
            .and_then(normalize_etag)
            .ok_or_else(|| bad("no usable ETag"))?;
        let size = header(h, "x-linked-size")
            .or_else(|| header(h, "content-length"))
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| bad("no file size"))?;
        Ok(FileMeta {
            name: file.to_string(),
            etag,
            size,
            url,
        })
    }

    /// GETs a file from byte `from` on (a Range request when `from > 0`), following redirects (the
    /// token is not sent on to another host). Any status comes back; the caller reads it.
    pub fn get(&self, meta: &FileMeta, repo: &str, from: u64) -> Result<Response<Body>, HubError> {
        let mut req = self
            .agent
            .get(&meta.url)
            .header("Accept-Encoding", "identity");
        if from > 0 {
            req = req.header("Range", format!("bytes={from}-"));
        }
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        let resp = req.call().map_err(|e| self.network(e))?;
        let status = resp.status().as_u16();
        if status >= 400 && status != 416 {
            let what = format!("{repo} file {}", meta.name);
            return Err(self.status_error(&resp, &meta.url, repo, what));
        }
        Ok(resp)
    }
}
