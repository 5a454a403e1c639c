//! Prefix reuse: the caches of finished sequences, kept so that a new request starting with the same tokens
//! (a shared system prompt, the previous turns of a chat) copies their keys and values instead of
//! recomputing them. Copies are exact: a position's keys and values depend only on the tokens up to it.

use crate::model::KvCache;
use std::collections::VecDeque;

/// Finished sequences' caches, least recently used first.
pub(crate) struct PrefixCache {
    entries: VecDeque<Entry>,
    max_entries: usize,
}

struct Entry {
    tokens: Vec<u32>,
    cache: KvCache,
}

/// Length of the common prefix of `a` and `b`.
pub(crate) fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl PrefixCache {
    /// Keeps up to `max_entries` caches (0 disables reuse of finished sequences).
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            max_entries,
        }
    }

    /// Token positions held by every entry (what they take from the KV budget).
    pub fn tokens_held(&self) -> usize {
        self.entries.iter().map(|e| e.cache.capacity()).sum()
    }

    /// Keeps `cache` (whose positions hold `tokens[..cache.len()]`), trimmed to its filled positions; drops
    /// entries it makes redundant and the oldest beyond the limit.
    pub fn insert(&mut self, mut tokens: Vec<u32>, cache: &KvCache) {
        if self.max_entries == 0 || cache.is_empty() {
            return;
        }
        tokens.truncate(cache.len());
        self.entries
            .retain(|e| common_prefix(&e.tokens, &tokens) < e.tokens.len());
        let mut kept = cache.with_capacity_like(cache.len());
        kept.copy_prefix(cache, cache.len());
        self.entries.push_back(Entry {
            tokens,
            cache: kept,
        });
        while self.entries.len() > self.max_entries {
            self.entries.pop_front();
        }
    }

    /// Drops the least recently used entry; false when there is none.
    pub fn evict_oldest(&mut self) -> bool {
        self.entries.pop_front().is_some()
    }

    /// The entry sharing the longest prefix with `prompt` (marked as recently used), with that length.
    pub fn best(&mut self, prompt: &[u32]) -> Option<(usize, &KvCache)> {
        let (i, n) = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, common_prefix(&e.tokens, prompt)))
            .max_by_key(|&(i, n)| (n, i))?;
        if n == 0 {
            return None;
        }
        let e = self.entries.remove(i)?;
        self.entries.push_back(e);
        self.entries.back().map(|e| (n, &e.cache))
    }
}
