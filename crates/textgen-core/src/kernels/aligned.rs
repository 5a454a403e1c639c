//! A growable f32 buffer that starts on a cache line, for activations and unpacked weight tiles.

/// One 64-byte cache line of f32.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A growable f32 buffer whose data starts on a 64-byte boundary, so the AVX-512 kernels' 64-byte loads of rows
/// that are whole lines never straddle two lines (a straddling load costs two; unaligned activations made
/// prefill ~20% slower). Dereferences to `[f32]`; `resize` keeps `Vec::resize(n, 0.0)`'s contents.
#[derive(Clone, Default)]
pub struct AlignedBuf {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedBuf {
    /// An empty buffer (allocates nothing).
    pub const fn new() -> Self {
        Self {
            lines: Vec::new(),
            len: 0,
        }
    }

    /// `n` values: the first ones kept, new ones zero (never shrinks the allocation).
    pub fn resize(&mut self, n: usize) {
        let old = self.len;
        if n > self.lines.len() * 16 {
            self.lines.resize(n.div_ceil(16), Line::default());
        }
        self.len = n;
        if n > old {
            self[old..].fill(0.0);
        }
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // SAFETY: `lines` holds at least `len` f32 (each `Line` is 16 of them, `repr(C)`, no padding).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, and `&mut self` makes the borrow exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizes_like_a_vec_and_stays_aligned() {
        let mut b = AlignedBuf::default();
        assert!(b.is_empty());
        let mut v: Vec<f32> = Vec::new();
        for (n, fill) in [
            (5, 1.0),
            (40, 2.0),
            (3, 3.0),
            (33, 4.0),
            (0, 5.0),
            (17, 6.0),
        ] {
            b.resize(n);
            v.resize(n, 0.0);
            assert_eq!(&b[..], &v[..], "resize to {n}");
            assert_eq!(b.as_ptr() as usize % 64, 0);
            b.fill(fill);
            v.fill(fill);
        }
    }
}
