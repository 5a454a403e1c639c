//! The real tokenizer on arbitrary input: any UTF-8 text encodes and decodes back to itself (less the
//! bytes the vocabulary cannot spell, see `spellable_bytes`); any bytes
//! (invalid UTF-8 included) and any token ids (out of vocabulary included) decode without a panic, in one
//! piece or streamed token by token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use textgen_core::tokenizer::StreamDecoder;

fuzz_target!(|data: &[u8]| {
    let tok = textgen_fuzz::tokenizer();
    if let Ok(text) = std::str::from_utf8(data) {
        for add_special in [false, true] {
            let ids = match tok.encode(text, add_special) {
                Ok(ids) => ids,
                Err(e) => panic!("encoding valid UTF-8 failed: {e}"),
            };
            if !add_special {
                let spellable = textgen_fuzz::spellable_bytes();
                let kept: Vec<u8> = data
                    .iter()
                    .copied()
                    .filter(|&b| spellable[b as usize])
                    .collect();
                let expected = String::from_utf8_lossy(&kept);
                assert_eq!(
                    tok.decode(&ids, false),
                    expected,
                    "encode/decode round trip"
                );
            }
        }
    } else {
        let lossy = String::from_utf8_lossy(data);
        let _ = tok.encode(&lossy, true);
    }
    let ids: Vec<u32> = data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) % (tok.vocab_size() as u32 + 16))
        .collect();
    for skip_special in [false, true] {
        let whole = tok.decode(&ids, skip_special);
        let mut stream = StreamDecoder::new();
        let mut pieces = String::new();
        for &id in &ids {
            if !(skip_special && tok.is_special(id)) {
                pieces.push_str(&stream.push(tok.token_bytes(id)));
            }
        }
        pieces.push_str(&stream.flush());
        assert_eq!(pieces, whole, "streamed and whole decoding agree");
    }
});
