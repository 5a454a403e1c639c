//! The Hub settings from the environment, with huggingface_hub's names and defaults.

use super::HubError;
use std::path::PathBuf;

/// The Hub's address when `HF_ENDPOINT` is unset.
const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where and how to reach the Hub, and where its cache lies.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Base URL without a trailing slash (`HF_ENDPOINT`).
    pub endpoint: String,
    /// The cache folder (`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    pub cache: PathBuf,
    /// Access token for gated and private repositories (`HF_TOKEN`, else the `HF_HOME/token` file).
    pub token: Option<String>,
    /// Use the cache only, never the network (`HF_HUB_OFFLINE`).
    pub offline: bool,
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// huggingface_hub's truthy values: 1, ON, YES, TRUE (any case).
fn truthy(v: &str) -> bool {
    ["1", "on", "yes", "true"].contains(&v.trim().to_ascii_lowercase().as_str())
}

impl HubConfig {
    /// Reads `HF_ENDPOINT`, `HF_HOME`, `HF_HUB_CACHE`, `HF_TOKEN` and `HF_HUB_OFFLINE`.
    pub fn from_env() -> Result<Self, HubError> {
        let endpoint = var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let endpoint = endpoint.trim_end_matches('/').to_string();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(HubError::Config(format!(
                "HF_ENDPOINT must be an http:// or https:// URL, not {endpoint:?}"
            )));
        }
        let home = match var("HF_HOME") {
            Some(h) => PathBuf::from(h),
            None => {
                let base = var("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")));
                base.ok_or_else(|| {
                    HubError::Config(
                        "no cache folder: set HF_HOME or HF_HUB_CACHE (HOME is not set)".into(),
                    )
                })?
                .join("huggingface")
            }
        };
        let cache = var("HF_HUB_CACHE").map_or_else(|| home.join("hub"), PathBuf::from);
        let token = var("HF_TOKEN").or_else(|| {
            std::fs::read_to_string(home.join("token"))
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| truthy(&v));
        Ok(Self {
            endpoint,
            cache,
            token,
            offline,
        })
    }
}
