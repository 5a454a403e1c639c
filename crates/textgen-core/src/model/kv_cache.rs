//! The key/value cache of one sequence (it belongs to the sequence, not to the model).

/// Shape of a model's keys and values: layers, and key (= value) width per token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvShape {
    /// Transformer blocks.
    pub n_layer: usize,
    /// Width of one token's key (and value) vector in one layer.
    pub kv_dim: usize,
}

/// Keys and values of every layer for the tokens a sequence has processed so far, in f32.
///
/// Storage is allocated zeroed, so the pages a sequence never reaches are never touched (the operating
/// system backs them lazily); a clone copies only the filled positions.
#[derive(Debug)]
pub struct KvCache {
    kv_dim: usize,
    capacity: usize,
    len: usize,
    /// Per layer: `capacity × kv_dim` keys.
    k: Vec<Vec<f32>>,
    /// Per layer: `capacity × kv_dim` values.
    v: Vec<Vec<f32>>,
}

impl KvCache {
    /// An empty cache for up to `capacity` tokens of a model whose keys and values have shape `shape`.
    pub fn new(shape: KvShape, capacity: usize) -> Self {
        let kv_dim = shape.kv_dim;
        Self {
            kv_dim,
            capacity,
            len: 0,
            k: (0..shape.n_layer)
                .map(|_| vec![0.0; capacity * kv_dim])
                .collect(),
            v: (0..shape.n_layer)
                .map(|_| vec![0.0; capacity * kv_dim])
                .collect(),
        }
    }

    /// Bytes of keys and values per token for a model whose keys and values have shape `shape`.
    pub fn bytes_per_token(shape: KvShape) -> usize {
        shape.n_layer * 2 * shape.kv_dim * std::mem::size_of::<f32>()
    }

    /// An empty cache of the same shape holding up to `capacity` tokens.
    pub fn with_capacity_like(&self, capacity: usize) -> Self {
        let n = capacity * self.kv_dim;
        Self {
            kv_dim: self.kv_dim,
            capacity,
            len: 0,
            k: self.k.iter().map(|_| vec![0.0; n]).collect(),
            v: self.v.iter().map(|_| vec![0.0; n]).collect(),
        }
    }

    /// Copies positions `0..n` of `src` (a cache of the same model) into this cache, replacing its contents.
    /// `n` is capped by both caches' sizes; returns the positions copied.
    pub fn copy_prefix(&mut self, src: &KvCache, n: usize) -> usize {
        if src.kv_dim != self.kv_dim || src.k.len() != self.k.len() {
            return 0;
        }
        let n = n.min(src.len).min(self.capacity);
        let m = n * self.kv_dim;
        for (dst, from) in self.k.iter_mut().zip(&src.k) {
            dst[..m].copy_from_slice(&from[..m]);
        }
        for (dst, from) in self.v.iter_mut().zip(&src.v) {
            dst[..m].copy_from_slice(&from[..m]);
        }
        self.len = n;
        n
    }

    /// Tokens stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no token is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of tokens.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets tokens from position `len` on (e.g. to restart or to rewind).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Layer `layer`'s keys and values for positions `0..end` (read) — `end` may run past `len()` while
    /// a forward pass is writing new positions.
    pub(crate) fn layer(&self, layer: usize, end: usize) -> (&[f32], &[f32]) {
        let n = end * self.kv_dim;
        (&self.k[layer][..n], &self.v[layer][..n])
    }

    /// Layer `layer`'s key and value rows for positions `start..start + n` (write).
    pub(crate) fn layer_mut(
        &mut self,
        layer: usize,
        start: usize,
        n: usize,
    ) -> (&mut [f32], &mut [f32]) {
        let r = start * self.kv_dim..(start + n) * self.kv_dim;
        (&mut self.k[layer][r.clone()], &mut self.v[layer][r])
    }

    /// Marks `n` more positions as filled.
    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }
}

impl Clone for KvCache {
    fn clone(&self) -> Self {
        let mut c = self.with_capacity_like(self.capacity);
        c.copy_prefix(self, self.len);
        c
    }
}
