//! Text normalization: raw document text in, a canonical token string out.
//!
//! The output is the document's words, NFKC-normalized and lower-cased, with punctuation
//! dropped, separated by exactly one ASCII space, with no leading or trailing space. Every
//! later stage (shingles, sketches, verification) reads only this string, so two texts
//! that differ in case, punctuation, spacing or Unicode compatibility forms compare equal.
//!
//! Word boundaries follow the Unicode character classes: a word is a maximal run of
//! letters, digits and combining marks (so Arabic, Cyrillic, Greek and Devanagari words
//! stay whole). Apostrophes inside words are dropped rather than splitting
//! (`Blinken’s` -> `blinkens`). Scripts written without spaces (Han, Hiragana, Katakana,
//! Thai, Lao, Khmer, Myanmar) yield one token per character, so a Chinese article
//! becomes a character sequence and word k-shingles over it are character k-grams.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{canonical_combining_class, is_combining_mark};
use unicode_normalization::{IsNormalized, is_nfkc_quick};

/// A normalized text and the byte range of each of its tokens, found in the same pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The tokens joined by single ASCII spaces, lower-cased, NFKC, without punctuation.
    pub text: String,
    /// Byte range of each token in `text`, in order.
    pub spans: Vec<(u32, u32)>,
}

impl Normalized {
    /// The tokens, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .map(|&(a, b)| &self.text[a as usize..b as usize])
    }
}

/// Normalizes `text` into `out` (cleared first). Reusing `out` across documents keeps the
/// hot loop free of allocations.
pub fn normalize_into(text: &str, out: &mut Normalized) {
    // Most text is already NFKC; the single pass notices when it is not and the text is
    // composed first and normalized again.
    if !normalize_mixed(text, out, true) {
        let composed: String = text.nfkc().collect();
        // NFKC output is NFKC, but the quick check can still answer Maybe on it (Tamil and
        // Bengali vowel signs, nukta, jamo): it must not be asked again
        normalize_mixed(&composed, out, false);
    }
}

/// Normalizes `text` into a new string.
#[must_use]
pub fn normalize(text: &str) -> String {
    let mut out = Normalized::default();
    normalize_into(text, &mut out);
    out.text
}

/// What the ASCII loop does with each byte: 0 separates words, 1 is dropped (an
/// apostrophe inside a word), anything else is the lower-cased byte to keep.
const ASCII_MAP: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else if c == b'\'' {
            1
        } else {
            0
        };
        b += 1;
    }
    t
};

/// One pass over the text. Runs of ASCII go through a branch-free loop (a table lookup
/// and conditional moves per byte: word boundaries in prose are too frequent and too
/// irregular for branches to predict); other characters go through the Unicode rules.
/// Token spans are then found with a vectorised search for the separating spaces.
/// The output never starts or ends with a space and never holds two in a row. Returns
/// false, with `out` unspecified, as soon as a character shows the text is not in NFKC
/// (the Unicode quick check: a character not NFKC-stable, or combining marks out of
/// canonical order).
fn normalize_mixed(text: &str, out: &mut Normalized, check_nfkc: bool) -> bool {
    let bytes = text.as_bytes();
    let mut buf: Vec<u8> = std::mem::take(&mut out.text).into_bytes();
    buf.clear();
    buf.resize(bytes.len() + 16, 0);
    // buf[..w] is the output so far; it ends with a space only after a word followed by a
    // separator (the space is then kept if another word follows and dropped at the end).
    let mut w = 0usize;
    let mut prev_word = false;
    let mut last_ccc = 0u8;
    let mut clean = true;
    let mut i = 0;
    while i < bytes.len() {
        let run = ascii_prefix(&bytes[i..]);
        if run > 0 {
            if buf.len() < w + run + 16 {
                buf.resize(w + run + 16, 0);
            }
            let end = i + run;
            while i < end {
                if end - i >= 8 {
                    let chunk = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
                    if let Some((out, word_last)) = ascii_chunk(chunk, prev_word) {
                        buf[w..w + 8].copy_from_slice(&out.to_le_bytes());
                        w += 8;
                        prev_word = word_last;
                        i += 8;
                        continue;
                    }
                }
                // a chunk the fast path does not take, and the tail, byte by byte
                let stop = end.min(i + 8);
                for &b in &bytes[i..stop] {
                    let c = ASCII_MAP[b as usize];
                    let is_word = c > 1;
                    let skip = c == 1;
                    buf[w] = if is_word { c } else { b' ' };
                    w += usize::from((is_word || prev_word) && !skip);
                    prev_word = if skip { prev_word } else { is_word };
                }
                i = stop;
            }
            last_ccc = 0;
            if i == bytes.len() {
                break;
            }
        }
        let c = text[i..].chars().next().expect("i is on a char boundary");
        i += c.len_utf8();
        let ccc = canonical_combining_class(c);
        if check_nfkc
            && ((ccc != 0 && last_ccc > ccc)
                || is_nfkc_quick(std::iter::once(c)) != IsNormalized::Yes)
        {
            clean = false;
            break;
        }
        last_ccc = ccc;
        if buf.len() < w + 32 {
            buf.resize(w + 64, 0);
        }
        if is_apostrophe(c) {
            continue;
        }
        if c.is_alphanumeric() || is_combining_mark(c) {
            if is_scriptio_continua(c) {
                if w > 0 && buf[w - 1] != b' ' {
                    buf[w] = b' ';
                    w += 1;
                }
                w += c.encode_utf8(&mut buf[w..w + 4]).len();
                buf[w] = b' ';
                w += 1;
                prev_word = false;
                continue;
            }
            for l in c.to_lowercase() {
                w += l.encode_utf8(&mut buf[w..w + 4]).len();
            }
            prev_word = true;
        } else {
            if prev_word {
                buf[w] = b' ';
                w += 1;
            }
            prev_word = false;
        }
    }
    buf.truncate(w);
    if buf.last() == Some(&b' ') {
        buf.pop();
    }
    token_spans(&buf, &mut out.spans);
    out.text = String::from_utf8(buf).expect("only whole characters and ASCII are written");
    clean
}

/// The byte range of each space-separated token of `buf` into `spans` (cleared first):
/// one a space, and one after the last space when `buf` is not empty.
///
/// Spaces are found eight bytes at a time (tokens are a few bytes long, too short for a
/// vector search to pay for its set-up at each one). A chunk of the normalizer's output
/// holds at most four (it never has two spaces in a row), so four slots are written
/// whatever the count and only `count` kept: looping once a space mispredicted on the
/// irregular counts of prose and took a third of the normalizer's time. Any other input
/// (more spaces a chunk) takes the loop and gets the same spans.
fn token_spans(buf: &[u8], spans: &mut Vec<(u32, u32)>) {
    // room for the spans of the normalizer's output (a space at most every other byte)
    // and the four slots' overhang, grown below for other input; the slots beyond the
    // last span are cut off at the end
    let room = buf.len() / 2 + 6;
    if spans.len() < room {
        spans.resize(room, (0, 0));
    }
    let mut n = 0usize;
    let mut start = 0u32;
    let mut chunks = buf.chunks_exact(8);
    let mut base = 0u32;
    for chunk in &mut chunks {
        let mut spaces = zero_bytes(
            u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ (ONES * u64::from(b' ')),
        );
        let count = spaces.count_ones() as usize;
        if n + 8 > spans.len() {
            spans.resize(n + 8, (0, 0));
        }
        if count <= 4 {
            // the last space's byte (63 - leading zeros, as xor: no underflow at none)
            let last = base + (63 ^ spaces.leading_zeros()) / 8;
            let slots = &mut spans[n..n + 4];
            let mut from = start;
            for slot in slots {
                // with no space left the slot holds a stray range, beyond `n + count`
                let space = base + spaces.trailing_zeros() / 8;
                *slot = (from, space);
                from = space + 1;
                spaces &= spaces.wrapping_sub(1);
            }
            n += count;
            start = if count > 0 { last + 1 } else { start };
        } else {
            while spaces != 0 {
                let space = base + spaces.trailing_zeros() / 8;
                spans[n] = (start, space);
                n += 1;
                start = space + 1;
                spaces &= spaces - 1;
            }
        }
        base += 8;
    }
    spans.truncate(n);
    for (k, &b) in chunks.remainder().iter().enumerate() {
        if b == b' ' {
            let space = base + k as u32;
            spans.push((start, space));
            start = space + 1;
        }
    }
    if !buf.is_empty() {
        spans.push((start, buf.len() as u32));
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The length of the ASCII run that `bytes` starts with. Sixteen bytes a step: the byte
/// search it replaces (`position(|&b| b >= 128)`) took a sixth of the normalizer's time
/// on prose, where runs are whole paragraphs.
#[inline]
fn ascii_prefix(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(16);
    let mut n = 0;
    for chunk in &mut chunks {
        let (a, b) = chunk.split_at(8);
        let a = u64::from_le_bytes(a.try_into().expect("8 bytes")) & HIGHS;
        let b = u64::from_le_bytes(b.try_into().expect("8 bytes")) & HIGHS;
        if a | b != 0 {
            let first = if a != 0 {
                a.trailing_zeros()
            } else {
                64 + b.trailing_zeros()
            };
            return n + (first / 8) as usize;
        }
        n += 16;
    }
    let tail = chunks.remainder();
    n + tail.iter().position(|&b| b >= 128).unwrap_or(tail.len())
}

/// The high bit of each zero byte of `x`, exactly (no borrow from a byte below).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    const LOWS: u64 = !HIGHS;
    !(((x & LOWS) + LOWS) | x | LOWS)
}

/// The high bit of each byte of `x` (all ASCII) that lies in `lo..=hi`.
#[inline]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    // a byte below 128 plus at most 128 does not carry into the next byte
    let at_least_lo = x + ONES * u64::from(128 - lo);
    let above_hi = x + ONES * u64::from(127 - hi);
    at_least_lo & !above_hi & HIGHS
}

/// Eight ASCII bytes (little-endian in `x`) at once, when they need no byte-by-byte
/// decision: no apostrophe, and every separator right after a word byte (after the word
/// that ends the output so far when it is the first, `prev_word`), so each byte gives
/// one output byte: a letter or digit lower-cased, a separator a space. Returns those
/// eight bytes and whether the last is a word byte; `None` sends the chunk to the byte
/// loop, whose result this equals.
#[inline]
fn ascii_chunk(x: u64, prev_word: bool) -> Option<(u64, bool)> {
    let upper = in_range(x, b'A', b'Z');
    let word = upper | in_range(x, b'a', b'z') | in_range(x, b'0', b'9');
    let separator = !word & HIGHS;
    let apostrophe = in_range(x, b'\'', b'\'');
    // the separators whose byte before is a separator (or, for the first, no word)
    let after_separator = (separator << 8) | if prev_word { 0 } else { 0x80 };
    if apostrophe != 0 || separator & after_separator != 0 {
        return None;
    }
    let lower = x + (upper >> 2); // 'A' + 0x20 = 'a'
    let separator_bytes = (separator >> 7) * 0xff;
    let out = (lower & !separator_bytes) | ((ONES * u64::from(b' ')) & separator_bytes);
    Some((out, separator >> 63 == 0))
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

/// Scripts written without spaces between words: one token per character.
fn is_scriptio_continua(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF     // Thai, Lao
        | 0x1000..=0x109F   // Myanmar
        | 0x1780..=0x17FF   // Khmer
        | 0x3040..=0x30FF   // Hiragana, Katakana
        | 0x31F0..=0x31FF   // Katakana extensions
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xF900..=0xFAFF   // CJK compatibility ideographs
        | 0x20000..=0x3FFFF // CJK extensions B..
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_punctuation_and_space() {
        assert_eq!(
            normalize("  Hello,   WORLD!\n\tIt's  fine. "),
            "hello world its fine"
        );
        assert_eq!(
            normalize("Blinken’s “clear interest”"),
            "blinkens clear interest"
        );
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("... !!! ---"), "");
    }

    #[test]
    fn nfkc_and_unicode_words() {
        // full-width letters and the ﬁ ligature are compatibility forms
        assert_eq!(normalize("ＡＢＣ ﬁle"), "abc file");
        assert_eq!(normalize("Привет, Мир"), "привет мир");
        assert_eq!(normalize("Καλημέρα κόσμε"), "καλημέρα κόσμε");
        assert_eq!(normalize("مرحبا بالعالم"), "مرحبا بالعالم");
        // Devanagari vowel signs are combining marks and stay inside the word
        assert_eq!(normalize("नमस्ते दुनिया"), "नमस्ते दुनिया");
    }

    #[test]
    fn scripts_whose_nfkc_quick_check_says_maybe_are_kept_whole() {
        // Tamil, Bengali vowel signs and the Devanagari nukta are "Maybe" for the quick check
        // even after NFKC; the text must still be normalized to its end
        assert_eq!(normalize("காவல்துறை அதிகாரிகள் நேற்று").split(' ').count(), 3);
        assert_eq!(normalize("আমার সোনার বাংলা").split(' ').count(), 3);
        assert_eq!(normalize("क़ानून और व्यवस्था").split(' ').count(), 3);
        assert_eq!(normalize("x\u{301} y"), "x\u{301} y");
    }

    #[test]
    fn scripts_without_spaces_become_character_tokens() {
        assert_eq!(normalize("北京欢迎你"), "北 京 欢 迎 你");
        assert_eq!(normalize("東京タワー、2024年"), "東 京 タ ワ ー 2024 年");
        assert_eq!(
            normalize("ภาษาไทย").split(' ').count(),
            "ภาษาไทย".chars().count()
        );
    }

    #[test]
    fn ascii_runs_inside_unicode_text_match_pure_ascii() {
        let s = "The U.S. top diplomat, (CENTCOM) said: 75 camps -- don't panic";
        let with_unicode = format!("{s} \u{2014} café");
        assert_eq!(normalize(&with_unicode), format!("{} café", normalize(s)));
        assert_eq!(
            normalize(s),
            "the u s top diplomat centcom said 75 camps dont panic"
        );
    }

    /// The rules of the module page, a character at a time, over the text made NFKC.
    fn normalize_oracle(text: &str) -> String {
        let text: String = text.nfkc().collect();
        let mut tokens = Vec::new();
        let mut word = String::new();
        for c in text.chars() {
            if is_apostrophe(c) {
                continue;
            }
            if (c.is_alphanumeric() || is_combining_mark(c)) && !is_scriptio_continua(c) {
                word.extend(c.to_lowercase());
                continue;
            }
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            if c.is_alphanumeric() || is_combining_mark(c) {
                tokens.push(c.to_string());
            }
        }
        if !word.is_empty() {
            tokens.push(word);
        }
        tokens.join(" ")
    }

    /// `normalize_into` against the oracle: the text, and spans that are its tokens.
    fn check(text: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut n = Normalized::default();
        normalize_into(text, &mut n);
        let want = normalize_oracle(text);
        proptest::prop_assert_eq!(&n.text, &want, "{:?}", text);
        let toks: Vec<&str> = n.tokens().collect();
        let split: Vec<&str> = want.split(' ').filter(|t| !t.is_empty()).collect();
        proptest::prop_assert_eq!(toks, split, "{:?}", text);
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn normalize_follows_the_rules_on_ascii_prose(
            words in proptest::collection::vec(
                ("[a-zA-Z0-9]{1,11}", proptest::sample::select(vec![
                    " ", " ", " ", " ", ", ", ". ", "'", "’", "\n", "\n\n", "  ", "-", "\t", "é ",
                ])),
                0..60,
            ),
            lead in proptest::sample::select(vec!["", " ", "'", "\"", "É"]),
        ) {
            // mostly single spaces between words, as prose: the eight-byte path, left
            // for the byte loop at every other separator, apostrophe and non-ASCII byte
            let mut text = lead.to_owned();
            for (w, sep) in &words {
                text.push_str(w);
                text.push_str(sep);
            }
            check(&text)?;
        }

        #[test]
        fn normalize_follows_the_rules_on_any_mix(
            chars in proptest::collection::vec(proptest::sample::select(vec![
                'a', 'b', 'Z', '7', ' ', ' ', '\t', '\n', ',', '.', '\'', '’', '\u{2bc}', '-',
                'é', 'É', 'ß', 'İ', 'Ж', '東', 'タ', 'ﬁ', 'Ａ', '\u{301}', '\u{327}', '\u{a0}',
                'ก', '\u{7f}', '\0',
            ]), 0..200),
        ) {
            let text: String = chars.into_iter().collect();
            check(&text)?;
        }

        #[test]
        fn ascii_bytes_normalize_by_the_rules(bytes in proptest::collection::vec(0u8..128, 0..120)) {
            let text = String::from_utf8(bytes).expect("ASCII");
            check(&text)?;
        }
    }

    #[test]
    fn ascii_prefix_is_the_first_non_ascii_byte() {
        // a non-ASCII byte (lead or continuation) at every offset of runs across two
        // sixteen-byte steps and the tail, and runs with none
        for len in 0..40 {
            let ascii = vec![b'a'; len];
            assert_eq!(ascii_prefix(&ascii), len);
            for at in 0..len {
                for high in [0x80u8, 0xc3, 0xff] {
                    let mut bytes = ascii.clone();
                    bytes[at] = high;
                    if at + 1 < len {
                        bytes[len - 1] = 0xe6; // a later one does not count
                    }
                    let simple = bytes.iter().position(|&b| b >= 128).unwrap_or(len);
                    assert_eq!(ascii_prefix(&bytes), simple, "len {len}, at {at}");
                }
            }
        }
    }

    #[test]
    fn eight_byte_chunks_at_every_offset() {
        // each separator kind at each of the eight positions of a chunk, after and not
        // after a word, and at the edges of the run before a non-ASCII character
        for sep in [" ", "  ", ",", ", ", "'", "\n", "-"] {
            for at in 0..20 {
                let text = format!(
                    "{}{sep}{}",
                    "Ab1".repeat(7)[..at].to_owned(),
                    "xY9".repeat(6)
                );
                check(&text).expect("as the oracle");
                let text = format!("é{text}é{sep}");
                check(&text).expect("as the oracle");
            }
        }
    }

    /// The span search `token_spans` replaced: a span a space, one after the last.
    fn token_spans_simple(buf: &[u8]) -> Vec<(u32, u32)> {
        let mut spans = Vec::new();
        let mut start = 0u32;
        for (i, &b) in buf.iter().enumerate() {
            if b == b' ' {
                spans.push((start, i as u32));
                start = i as u32 + 1;
            }
        }
        if !buf.is_empty() {
            spans.push((start, buf.len() as u32));
        }
        spans
    }

    proptest::proptest! {
        #[test]
        fn token_spans_are_the_simple_search(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b'a', b'z', b' ', 0xc3, 0xa9, 0xff]),
                0..80,
            ),
            reused in proptest::collection::vec((0u32..9, 0u32..9), 0..40),
        ) {
            // any number of spaces a chunk (more than four takes the loop), into a
            // buffer that held other spans
            let mut spans = reused;
            token_spans(&bytes, &mut spans);
            proptest::prop_assert_eq!(spans, token_spans_simple(&bytes));
        }
    }

    #[test]
    fn token_spans_at_every_count_and_offset() {
        // every pattern of spaces in two chunks and a tail
        for len in 0..=19usize {
            let patterns: u32 = if len <= 12 { 1 << len } else { 4096 };
            for pattern in 0..patterns {
                let bytes: Vec<u8> = (0..len)
                    .map(|i| {
                        if (pattern.rotate_left(i as u32 % 7) >> (i % 12)) & 1 == 1 {
                            b' '
                        } else {
                            b'x'
                        }
                    })
                    .collect();
                let mut spans = vec![(7, 7); 3];
                token_spans(&bytes, &mut spans);
                assert_eq!(
                    spans,
                    token_spans_simple(&bytes),
                    "{:?}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }

    #[test]
    fn spans_are_the_space_separated_tokens() {
        for text in [
            "one two  three",
            "北京 is big",
            "Don't stop, café—Ünïcode 東京タワー!",
            "",
            "  !! ",
        ] {
            let mut n = Normalized::default();
            normalize_into(text, &mut n);
            let toks: Vec<&str> = n.tokens().collect();
            let split: Vec<&str> = n.text.split(' ').filter(|t| !t.is_empty()).collect();
            assert_eq!(toks, split, "{text:?}");
        }
    }
}
