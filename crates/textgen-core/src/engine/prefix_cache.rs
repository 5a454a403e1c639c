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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KvShape;

    fn cfg() -> KvShape {
        KvShape {
            n_layer: 2,
            kv_dim: 4,
        }
    }

    /// A cache of capacity `cap` whose first `len` positions are filled.
    fn filled(cap: usize, len: usize) -> KvCache {
        let mut src = KvCache::new(cfg(), len);
        for l in 0..2 {
            let (k, v) = src.layer_mut(l, 0, len);
            k.iter_mut().enumerate().for_each(|(i, x)| *x = i as f32);
            v.iter_mut().enumerate().for_each(|(i, x)| *x = -(i as f32));
        }
        src.advance(len);
        let mut c = KvCache::new(cfg(), cap);
        c.copy_prefix(&src, len);
        c
    }

    #[test]
    fn the_longest_shared_prefix_wins_and_entries_are_trimmed() {
        let mut p = PrefixCache::new(4);
        p.insert(vec![1, 2, 3, 4, 9], &filled(32, 4));
        p.insert(vec![1, 2, 7, 7], &filled(32, 4));
        assert_eq!(
            p.tokens_held(),
            8,
            "entries keep their filled positions only"
        );
        let (n, c) = p.best(&[1, 2, 3, 5]).expect("a match");
        assert_eq!((n, c.len()), (3, 4));
        assert!(p.best(&[5, 5]).is_none());
    }

    #[test]
    fn an_extension_replaces_its_prefix_and_the_oldest_goes_first() {
        let mut p = PrefixCache::new(2);
        p.insert(vec![1, 2], &filled(8, 2));
        p.insert(vec![1, 2, 3, 4], &filled(8, 4));
        assert_eq!(p.tokens_held(), 4, "the shorter entry was redundant");
        p.insert(vec![5, 6], &filled(8, 2));
        p.insert(vec![7, 8], &filled(8, 2));
        assert_eq!(p.tokens_held(), 4, "at most two entries");
        assert!(p.best(&[1, 2]).is_none(), "the oldest was dropped");
        assert!(p.evict_oldest());
        assert!(p.evict_oldest());
        assert!(!p.evict_oldest());
    }

    #[test]
    fn copies_are_exact_and_clones_copy_only_filled_positions() {
        let src = filled(16, 5);
        let mut dst = KvCache::new(cfg(), 16);
        assert_eq!(dst.copy_prefix(&src, 3), 3);
        assert_eq!(dst.layer(1, 3), src.layer(1, 3));
        let c = src.clone();
        assert_eq!((c.len(), c.capacity()), (5, 16));
        assert_eq!(c.layer(0, 5), src.layer(0, 5));
        assert_eq!(common_prefix(&[1, 2, 3], &[1, 2, 4, 5]), 2);
    }
}
