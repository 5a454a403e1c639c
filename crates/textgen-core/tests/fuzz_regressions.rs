//! Inputs found by the fuzz targets (fuzz/), kept as regression tests.

mod common;

use common::real_model::shared;

/// The tokenizer fuzz target found that "a\x04b" decodes back as "ab": the default model's
/// vocabulary has no token for 21 byte values, and byte-level BPE drops a byte it cannot spell (as Hugging
/// Face `tokenizers` does). Every other byte, and so every other character, round-trips.
#[test]
fn bytes_without_a_token_are_dropped_and_all_others_round_trip() {
    let tok = &shared().tokenizer;
    let mut spellable = [false; 256];
    for id in 0..tok.vocab_size() as u32 {
        if let [b] = tok.token_bytes(id) {
            spellable[*b as usize] |= !tok.is_special(id);
        }
    }
    let missing: Vec<usize> = (0..256).filter(|&b| !spellable[b]).collect();
    assert_eq!(
        missing,
        [
            4, 6, 19, 20, 22, 29, 192, 193, 241, 242, 245, 246, 247, 248, 249, 250, 251, 252, 253,
            254, 255
        ]
    );
    let ids = tok.encode("a\u{4}b", false).unwrap();
    assert_eq!(tok.decode(&ids, false), "ab");
    let every_ascii: String = (0u8..128).map(char::from).collect();
    let kept: String = every_ascii
        .chars()
        .filter(|&c| spellable[c as usize])
        .collect();
    let round = tok.decode(&tok.encode(&every_ascii, false).unwrap(), false);
    assert_eq!(round, kept);
    let found = "  leading s7.89 中文 Щ\u{4}\u{4}\u{4}сЌиع ع\u{603}ссЌиع عربي";
    let round = tok.decode(&tok.encode(found, false).unwrap(), false);
    assert_eq!(round, found.replace('\u{4}', ""));
}
