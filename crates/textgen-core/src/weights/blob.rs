//! Shared, immutable byte storage: a memory-mapped file or an in-memory buffer, sliced without copying.

use memmap2::Mmap;
use std::fmt;
use std::sync::Arc;

/// A cheaply clonable view of immutable bytes.
#[derive(Clone)]
pub struct Blob {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    len: usize,
}

impl Blob {
    /// Memory-maps `file` read-only.
    pub fn map_file(file: &std::fs::File) -> std::io::Result<Self> {
        // SAFETY: the map is read-only. If another process truncates or rewrites the file while we run,
        // reads may fault or see new bytes; this is the documented risk every mmap-based loader accepts
        // (llama.cpp included) in exchange for zero-copy, instant loading.
        let map = unsafe { Mmap::map(file)? };
        Ok(Self::from_owner(Arc::new(map)))
    }

    /// Wraps an in-memory buffer.
    pub fn from_vec(v: Vec<u8>) -> Self {
        Self::from_owner(Arc::new(v))
    }

    fn from_owner(owner: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Self {
        let len = (*owner).as_ref().len();
        Self {
            owner,
            start: 0,
            len,
        }
    }

    /// The bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.start..self.start + self.len]
    }

    /// A sub-range; the caller has checked that `start + len` lies within this blob.
    pub fn slice(&self, start: usize, len: usize) -> Self {
        debug_assert!(start + len <= self.len);
        Self {
            owner: self.owner.clone(),
            start: self.start + start,
            len,
        }
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.len)
    }
}
