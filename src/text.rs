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

/// One pass over the text. Runs of ASCII go through eight bytes at a time when they can
/// (`ascii_chunk`), else through a branch-free loop (a table lookup and conditional moves
/// per byte: word boundaries in prose are too frequent and too irregular for branches to
/// predict); other characters go through the Unicode rules. Each space is recorded as a
/// token boundary where it is written (`SpanWriter`), so the output is not searched again.
/// The output never starts or ends with a space and never holds two in a row. Returns
/// false, with `out` unspecified, as soon as a character shows the text is not in NFKC
/// (the Unicode quick check: a character not NFKC-stable, or combining marks out of
/// canonical order).
fn normalize_mixed(text: &str, out: &mut Normalized, check_nfkc: bool) -> bool {
    let bytes = text.as_bytes();
    let mut buf: Vec<u8> = std::mem::take(&mut out.text).into_bytes();
    buf.clear();
    buf.resize(bytes.len() + 16, 0);
    let mut spans = SpanWriter::new(std::mem::take(&mut out.spans), bytes.len());
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
            let mut chunks = bytes[i..i + run].chunks_exact(8);
            for chunk in &mut chunks {
                spans.reserve(8);
                let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
                if let Some((lowered, separators)) = ascii_chunk(x, prev_word) {
                    buf[w..w + 8].copy_from_slice(&lowered.to_le_bytes());
                    spans.separators(w as u32, separators);
                    w += 8;
                    prev_word = separators >> 63 == 0;
                } else {
                    ascii_bytes(chunk, &mut buf, &mut w, &mut prev_word, &mut spans);
                }
            }
            spans.reserve(8);
            ascii_bytes(
                chunks.remainder(),
                &mut buf,
                &mut w,
                &mut prev_word,
                &mut spans,
            );
            i += run;
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
        spans.reserve(2);
        if is_apostrophe(c) {
            continue;
        }
        if c.is_alphanumeric() || is_combining_mark(c) {
            if is_scriptio_continua(c) {
                if w > 0 && buf[w - 1] != b' ' {
                    buf[w] = b' ';
                    spans.space(w as u32);
                    w += 1;
                }
                w += c.encode_utf8(&mut buf[w..w + 4]).len();
                buf[w] = b' ';
                spans.space(w as u32);
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
                spans.space(w as u32);
                w += 1;
            }
            prev_word = false;
        }
    }
    buf.truncate(w);
    let trailing_space = buf.last() == Some(&b' ');
    if trailing_space {
        buf.pop();
    }
    out.spans = spans.finish(buf.len() as u32, trailing_space);
    out.text = String::from_utf8(buf).expect("only whole characters and ASCII are written");
    clean
}

/// ASCII bytes one at a time, branch-free, into `buf[*w..]` (which has room for them); a
/// space is written at every separator but kept (`w` moved past it) only after a word.
#[inline]
fn ascii_bytes(
    bytes: &[u8],
    buf: &mut [u8],
    w: &mut usize,
    prev_word: &mut bool,
    spans: &mut SpanWriter,
) {
    for &b in bytes {
        let c = ASCII_MAP[b as usize];
        let is_word = c > 1;
        let skip = c == 1;
        buf[*w] = if is_word { c } else { b' ' };
        spans.space_if(*w as u32, !is_word && !skip && *prev_word);
        *w += usize::from((is_word || *prev_word) && !skip);
        *prev_word = if skip { *prev_word } else { is_word };
    }
}

/// The token spans of the normalizer's output, recorded as its spaces are written: a token
/// ends at each kept space, and the last one at the end of the output.
///
/// The slots are written ahead of the count (`reserve` makes room), so that a chunk's
/// spaces are recorded without a branch a space: looping once a space mispredicted on
/// the irregular counts of prose.
struct SpanWriter {
    /// `spans[..n]` are the tokens ended so far; the slots beyond are scratch.
    spans: Vec<(u32, u32)>,
    n: usize,
    /// Where the current token starts in the output.
    start: u32,
}

impl SpanWriter {
    /// A writer into `spans` (its contents dropped) for the output of `input_len` bytes of
    /// input, which has at most a token every two bytes when it is ASCII.
    fn new(mut spans: Vec<(u32, u32)>, input_len: usize) -> Self {
        let room = input_len / 2 + 8;
        if spans.len() < room {
            spans.resize(room, (0, 0));
        }
        Self {
            spans,
            n: 0,
            start: 0,
        }
    }

    /// Room for `slots` more slots.
    #[inline]
    fn reserve(&mut self, slots: usize) {
        if self.n + slots > self.spans.len() {
            self.spans.resize(self.n + slots, (0, 0));
        }
    }

    /// A space kept at `at`: the current token ends there.
    #[inline]
    fn space(&mut self, at: u32) {
        self.spans[self.n] = (self.start, at);
        self.n += 1;
        self.start = at + 1;
    }

    /// `space(at)` when `kept`, without a branch.
    #[inline]
    fn space_if(&mut self, at: u32, kept: bool) {
        self.spans[self.n] = (self.start, at);
        self.n += usize::from(kept);
        self.start = if kept { at + 1 } else { self.start };
    }

    /// The spaces of eight output bytes at `base`: the high bit of each space's byte in
    /// `separators`, no two in adjacent bytes (so at most four), all of them kept.
    #[inline]
    fn separators(&mut self, base: u32, mut separators: u64) {
        // one bit a byte at the byte's low bit: the sum of the bytes is the count
        let count = (((separators >> 7).wrapping_mul(ONES)) >> 56) as usize;
        // the last space's byte (63 - leading zeros, as xor: no underflow at none)
        let last = base + (63 ^ separators.leading_zeros()) / 8;
        let mut from = self.start;
        for slot in &mut self.spans[self.n..self.n + 4] {
            // with no space left the slot holds a stray range, beyond `n + count`
            let space = base + separators.trailing_zeros() / 8;
            *slot = (from, space);
            from = space + 1;
            separators &= separators.wrapping_sub(1);
        }
        self.n += count;
        self.start = if count > 0 { last + 1 } else { self.start };
    }

    /// The spans of an output of `len` bytes, whose kept trailing space (when
    /// `trailing_space`) was dropped: it ended the last token already.
    fn finish(mut self, len: u32, trailing_space: bool) -> Vec<(u32, u32)> {
        self.spans.truncate(self.n);
        if len > 0 && !trailing_space {
            self.spans.push((self.start, len));
        }
        self.spans
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
/// eight bytes and the high bit of each separator's byte (the output's spaces; the last
/// byte is a word byte when its bit is clear); `None` sends the chunk to the byte loop,
/// whose result this equals.
#[inline]
fn ascii_chunk(x: u64, prev_word: bool) -> Option<(u64, u64)> {
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
    Some((out, separator))
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

    /// A span a space of `text`, and one after the last: what the normalizer's spans are
    /// when its output is right.
    fn spans_by_search(text: &str) -> Vec<(u32, u32)> {
        let mut spans = Vec::new();
        let mut start = 0u32;
        for (i, &b) in text.as_bytes().iter().enumerate() {
            if b == b' ' {
                spans.push((start, i as u32));
                start = i as u32 + 1;
            }
        }
        if !text.is_empty() {
            spans.push((start, text.len() as u32));
        }
        spans
    }

    /// `normalize_into` against the oracle: the text, and the spans of its spaces, into a
    /// fresh `Normalized` and into one that held a longer text.
    fn check(text: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let want = normalize_oracle(text);
        let mut reused = Normalized::default();
        normalize_into(
            "Some  earlier, longer text: 東京 with many many words.",
            &mut reused,
        );
        for mut n in [Normalized::default(), reused] {
            normalize_into(text, &mut n);
            proptest::prop_assert_eq!(&n.text, &want, "{:?}", text);
            proptest::prop_assert_eq!(&n.spans, &spans_by_search(&want), "{:?}", text);
        }
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

    #[test]
    fn every_pattern_of_words_and_separators_in_two_chunks_and_a_tail() {
        // the eight-byte path records a chunk's spaces at once; every pattern of word and
        // separator bytes (each separator kind, after and not after a word, adjacent or
        // not, an apostrophe sending the chunk to the byte loop) gives the oracle's spans
        for sep in [" ", ",", "'", "\n"] {
            for len in 0..=19usize {
                let patterns: u32 = if len <= 12 { 1 << len } else { 4096 };
                for pattern in 0..patterns {
                    let text: String = (0..len)
                        .map(|i| {
                            if (pattern.rotate_left(i as u32 % 7) >> (i % 12)) & 1 == 1 {
                                sep
                            } else {
                                ["x", "Y", "7"][i % 3]
                            }
                        })
                        .collect();
                    check(&text).expect("as the oracle");
                }
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
