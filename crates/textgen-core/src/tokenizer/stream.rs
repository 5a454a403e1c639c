//! Streaming detokenization that never emits a broken UTF-8 sequence.

/// Accumulates token bytes and releases only complete UTF-8 text.
#[derive(Default, Debug)]
pub struct StreamDecoder {
    pending: Vec<u8>,
}

impl StreamDecoder {
    /// A decoder with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token's bytes; returns the text that became complete (possibly empty).
    ///
    /// A multi-byte character split across tokens is held back until its last byte arrives; bytes that can
    /// never form a valid character are released as U+FFFD.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // SAFETY-free: the prefix was just validated.
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).unwrap_or_default());
                    match e.error_len() {
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(n) => {
                            out.push('\u{FFFD}');
                            self.pending.drain(..valid + n);
                        }
                    }
                }
            }
        }
    }

    /// Releases whatever is still pending (an incomplete tail becomes U+FFFD).
    pub fn flush(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_multibyte_characters_are_held_back() {
        let text = "héllo 🦀 世界";
        let bytes = text.as_bytes();
        // Feed one byte at a time: every emitted piece must be valid and the total must be exact.
        let mut d = StreamDecoder::new();
        let mut out = String::new();
        for b in bytes {
            out.push_str(&d.push(&[*b]));
        }
        out.push_str(&d.flush());
        assert_eq!(out, text);
    }

    #[test]
    fn crab_split_in_two_tokens() {
        let crab = "🦀".as_bytes();
        let mut d = StreamDecoder::new();
        assert_eq!(d.push(&crab[..2]), "");
        assert_eq!(d.push(&crab[2..]), "🦀");
    }

    #[test]
    fn invalid_bytes_become_replacement() {
        let mut d = StreamDecoder::new();
        assert_eq!(d.push(&[b'a', 0xFF, b'b']), "a\u{FFFD}b");
        assert_eq!(d.push(&[0xE4, 0xB8]), "");
        assert_eq!(d.flush(), "\u{FFFD}");
    }
}
