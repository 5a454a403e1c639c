//! A local stand-in for the Hugging Face Hub's routes that `textgen pull` uses (the real Hub is not
//! reachable from test machines): the model API, HEAD/GET on `resolve` URLs with the Hub's headers, LFS
//! files redirected to a "CDN" route that serves Range requests, and faults on demand (a connection cut
//! mid-file, wrong bytes, a gated repository).

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The sha256 of `b` in hex.
pub fn sha256_hex(b: &[u8]) -> String {
    format!("{:x}", Sha256::digest(b))
}

/// `n` reproducible pseudo-random bytes.
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A file of a mock repository.
#[derive(Clone)]
pub struct MockFile {
    /// Its path in the repository.
    pub name: String,
    /// Its bytes.
    pub content: Arc<Vec<u8>>,
    /// Stored with LFS: its ETag is the sha256 and GET redirects to the CDN route.
    pub lfs: bool,
}

impl MockFile {
    /// A file named `name` with `content`.
    pub fn new(name: &str, content: Vec<u8>, lfs: bool) -> Self {
        Self {
            name: name.to_string(),
            content: Arc::new(content),
            lfs,
        }
    }

    /// The ETag the Hub gives it: the sha256 for LFS files, a git-like blob id otherwise.
    pub fn etag(&self) -> String {
        if self.lfs {
            sha256_hex(&self.content)
        } else {
            let mut h = Sha256::new();
            h.update(b"blob ");
            h.update(&*self.content);
            format!("{:x}", h.finalize())[..40].to_string()
        }
    }
}

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Logged {
    /// GET or HEAD.
    pub method: String,
    /// The path (and query).
    pub path: String,
    /// The Range header.
    pub range: Option<String>,
    /// The Authorization header.
    pub auth: Option<String>,
}

struct Repo {
    commit: String,
    files: Vec<MockFile>,
    token: Option<String>,
}

#[derive(Default)]
struct State {
    repos: HashMap<String, Repo>,
    log: Vec<Logged>,
    cuts_left: u32,
    cut_after: usize,
    corrupt: bool,
    slow: bool,
}

/// The mock Hub, serving on 127.0.0.1 until the test process ends.
pub struct MockHub {
    /// Its base URL (the `HF_ENDPOINT`).
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl MockHub {
    /// Starts a mock Hub with no repositories.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let (s, base) = (state.clone(), url.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let (s, base) = (s.clone(), base.clone());
                std::thread::spawn(move || serve(conn, &s, &base));
            }
        });
        Self { url, state }
    }

    /// Adds repository `id` with `files`; returns its commit hash.
    pub fn add_repo(&self, id: &str, files: Vec<MockFile>) -> String {
        let commit = sha256_hex(id.as_bytes())[..40].to_string();
        self.state.lock().unwrap().repos.insert(
            id.to_string(),
            Repo {
                commit: commit.clone(),
                files,
                token: None,
            },
        );
        commit
    }

    /// Makes repository `id` gated: its files need `Authorization: Bearer TOKEN`.
    pub fn gate(&self, id: &str, token: &str) {
        self.state.lock().unwrap().repos.get_mut(id).unwrap().token = Some(token.to_string());
    }

    /// The next `times` file bodies are cut (connection closed) after `after` bytes.
    pub fn cut(&self, times: u32, after: usize) {
        let mut s = self.state.lock().unwrap();
        s.cuts_left = times;
        s.cut_after = after;
    }

    /// Serve wrong bytes (same size) for every file from now on.
    pub fn corrupt(&self, on: bool) {
        self.state.lock().unwrap().corrupt = on;
    }

    /// Serve file bodies slowly (16 KiB every 2 ms), so concurrent downloads overlap.
    pub fn slow(&self, on: bool) {
        self.state.lock().unwrap().slow = on;
    }

    /// The requests received so far.
    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }
}

/// `%XX` decoding of a URL path.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(conn: &mut TcpStream, status: &str, headers: &[(String, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers.iter().any(|(k, _)| k == "Content-Length") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}

fn error(conn: &mut TcpStream, status: &str, code: &str) {
    let h = [
        ("X-Error-Code".to_string(), code.to_string()),
        ("Content-Type".into(), "application/json".into()),
    ];
    respond(
        conn,
        status,
        &h,
        format!("{{\"error\":\"{code}\"}}").as_bytes(),
    );
}

/// Serves `content` (or its range) with `extra` headers and the configured faults.
fn send_file(
    conn: &mut TcpStream,
    state: &Mutex<State>,
    (head, range): (bool, Option<&str>),
    content: &[u8],
    extra: Vec<(String, String)>,
) {
    let (cut, corrupt, slow) = {
        let mut s = state.lock().unwrap();
        let cut = (!head && s.cuts_left > 0).then_some(s.cut_after);
        if cut.is_some() {
            s.cuts_left -= 1;
        }
        (cut, s.corrupt, s.slow)
    };
    let len = content.len();
    let from = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok());
    let mut headers = extra;
    headers.push(("Accept-Ranges".to_string(), "bytes".to_string()));
    let (status, start) = match from {
        Some(f) if f >= len => {
            headers.push(("Content-Range".into(), format!("bytes */{len}")));
            return respond(conn, "416 Range Not Satisfiable", &headers, b"");
        }
        Some(f) => {
            headers.push((
                "Content-Range".into(),
                format!("bytes {f}-{}/{len}", len - 1),
            ));
            ("206 Partial Content", f)
        }
        None => ("200 OK", 0),
    };
    headers.push(("Content-Length".into(), (len - start).to_string()));
    if head {
        return respond(conn, status, &headers, b"");
    }
    respond(conn, status, &headers, b"");
    let mut body = content[start..].to_vec();
    if corrupt && !body.is_empty() {
        let mid = body.len() / 2;
        body[mid] ^= 0xff;
    }
    let end = cut.map_or(body.len(), |c| c.min(body.len()));
    for chunk in body[..end].chunks(16 * 1024) {
        if conn.write_all(chunk).is_err() {
            return;
        }
        if slow {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let _ = conn.flush();
    if cut.is_some() {
        let _ = conn.shutdown(Shutdown::Both);
    }
}

fn serve(mut conn: TcpStream, state: &Mutex<State>, base: &str) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let range = headers.get("range").cloned();
    let auth = headers.get("authorization").cloned();
    state.lock().unwrap().log.push(Logged {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
        auth: auth.clone(),
    });
    let head = method == "HEAD";
    let route = path.split('?').next().unwrap_or("").to_string();
    let segs: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    // /cdn/SHA256: the LFS storage (a signed URL on the real Hub: no token needed).
    if let ["cdn", sha] = segs.as_slice() {
        let content = {
            let s = state.lock().unwrap();
            s.repos
                .values()
                .flat_map(|r| &r.files)
                .find(|f| f.lfs && f.etag() == *sha)
                .map(|f| f.content.clone())
        };
        return match content {
            Some(c) => send_file(&mut conn, state, (head, range.as_deref()), &c, Vec::new()),
            None => error(&mut conn, "404 Not Found", "EntryNotFound"),
        };
    }
    // /api/models/ORG/NAME/revision/REV
    if let ["api", "models", org, name, "revision", rev] = segs.as_slice() {
        let s = state.lock().unwrap();
        let Some(repo) = s.repos.get(&format!("{org}/{name}")) else {
            drop(s);
            // As the Hub: 401 to anonymous callers (the repository might be private), else 404.
            let status = if auth.is_some() {
                "404 Not Found"
            } else {
                "401 Unauthorized"
            };
            return error(&mut conn, status, "RepoNotFound");
        };
        let rev = decode(rev);
        if rev != "main" && rev != repo.commit {
            drop(s);
            return error(&mut conn, "404 Not Found", "RevisionNotFound");
        }
        let siblings: Vec<String> = repo
            .files
            .iter()
            .map(|f| format!("{{\"rfilename\":\"{}\"}}", f.name))
            .collect();
        let body = format!(
            "{{\"id\":\"{org}/{name}\",\"sha\":\"{}\",\"siblings\":[{}]}}",
            repo.commit,
            siblings.join(",")
        );
        drop(s);
        let h = [("Content-Type".to_string(), "application/json".to_string())];
        return respond(&mut conn, "200 OK", &h, body.as_bytes());
    }
    // /ORG/NAME/resolve/REV/FILE...
    if segs.len() >= 5 && segs[2] == "resolve" {
        let id = format!("{}/{}", segs[0], segs[1]);
        let file = decode(&segs[4..].join("/"));
        let found = {
            let s = state.lock().unwrap();
            s.repos.get(&id).map(|r| {
                let rev_ok = segs[3] == "main" || segs[3] == r.commit;
                let authorized = r
                    .token
                    .as_ref()
                    .is_none_or(|t| auth.as_deref() == Some(&format!("Bearer {t}")));
                let f = r.files.iter().find(|f| f.name == file).cloned();
                (r.commit.clone(), rev_ok, authorized, f)
            })
        };
        let Some((commit, rev_ok, authorized, f)) = found else {
            return error(&mut conn, "404 Not Found", "RepoNotFound");
        };
        if !authorized {
            return error(&mut conn, "401 Unauthorized", "GatedRepo");
        }
        let Some(f) = f.filter(|_| rev_ok) else {
            return error(&mut conn, "404 Not Found", "EntryNotFound");
        };
        let mut h = vec![("X-Repo-Commit".to_string(), commit)];
        if f.lfs {
            h.push(("X-Linked-Etag".into(), format!("\"{}\"", f.etag())));
            h.push(("X-Linked-Size".into(), f.content.len().to_string()));
            h.push(("ETag".into(), "\"redirect-etag\"".into()));
            h.push(("Location".into(), format!("{base}/cdn/{}", f.etag())));
            return respond(&mut conn, "302 Found", &h, b"");
        }
        h.push(("ETag".into(), format!("\"{}\"", f.etag())));
        // Non-LFS files are served here directly, with the same headers as the HEAD.
        return send_file(&mut conn, state, (head, range.as_deref()), &f.content, h);
    }
    error(&mut conn, "404 Not Found", "NotFound");
}
