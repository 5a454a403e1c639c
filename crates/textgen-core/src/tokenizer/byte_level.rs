//! GPT-2's byte-to-unicode table: how byte-level BPE vocabularies spell raw bytes as printable characters.

/// `table[b]` is the character that spells byte `b` in a byte-level vocabulary.
pub fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..256u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if printable {
            b
        } else {
            extra += 1;
            255 + extra
        };
        table[b as usize] = char::from_u32(c).unwrap_or('\u{FFFD}');
    }
    table
}

/// Decodes a byte-level token spelling back to raw bytes (characters outside the table keep their UTF-8).
pub fn decode_token(s: &str, table: &[char; 256]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for ch in s.chars() {
        match table.iter().position(|&c| c == ch) {
            Some(b) => out.push(b as u8),
            None => out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_spellings() {
        let t = byte_to_char();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(decode_token("Ġhello", &t), b" hello");
        assert_eq!(decode_token("Ã©", &t), "é".as_bytes());
    }
}
