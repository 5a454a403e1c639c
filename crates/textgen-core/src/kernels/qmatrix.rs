//! A 2-D weight matrix in its on-disk (possibly quantized) form, rows addressable without copying.

use crate::weights::dequant::dequantize;
use crate::weights::{Blob, GgmlType, TensorInfo};

/// A row-major weight matrix of `rows` × `cols` elements of type `ty`, backed by mapped file bytes.
#[derive(Clone, Debug)]
pub struct QMatrix {
    /// Element type.
    pub ty: GgmlType,
    /// Number of rows (output features).
    pub rows: usize,
    /// Number of columns (input features); a whole number of blocks.
    pub cols: usize,
    row_bytes: usize,
    data: Blob,
}

impl QMatrix {
    /// Views a 2-D tensor (GGML order: `dims[0]` = cols, `dims[1]` = rows). The tensor table was validated by
    /// the GGUF parser (sizes and bounds); a wrong rank is reported as `Err` with the actual dims.
    pub fn from_tensor(t: &TensorInfo) -> Result<Self, Vec<usize>> {
        match t.dims[..] {
            [cols, rows] => Ok(Self {
                ty: t.ty,
                rows,
                cols,
                row_bytes: t.ty.bytes_for(cols).ok_or_else(|| t.dims.clone())?,
                data: t.data.clone(),
            }),
            _ => Err(t.dims.clone()),
        }
    }

    /// Rows `start..start + n` as a matrix of their own (shares the bytes); `None` past the last row.
    pub fn row_range(&self, start: usize, n: usize) -> Option<Self> {
        if start.checked_add(n)? > self.rows {
            return None;
        }
        Some(Self {
            rows: n,
            data: self.data.slice(start * self.row_bytes, n * self.row_bytes),
            ..self.clone()
        })
    }

    /// Size of the matrix's data in bytes.
    pub fn bytes(&self) -> usize {
        self.rows * self.row_bytes
    }

    /// The bytes of row `r`.
    #[inline]
    pub fn row(&self, r: usize) -> &[u8] {
        &self.data.bytes()[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// The bytes of rows `rows` (consecutive in memory), each [`Self::row_bytes`] long.
    #[inline]
    pub fn rows_bytes(&self, rows: std::ops::Range<usize>) -> &[u8] {
        &self.data.bytes()[rows.start * self.row_bytes..rows.end * self.row_bytes]
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    /// Dequantizes row `r` into `out` (`cols` values).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        dequantize(self.ty, self.row(r), out);
    }
}
