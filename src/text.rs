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
    pub text: String,
    pub spans: Vec<(u32, u32)>,
}

impl Normalized {
    /// The tokens, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.spans.iter().map(|&(a, b)| &self.text[a as usize..b as usize])
    }
}

/// Normalizes `text` into `out` (cleared first). Reusing `out` across documents keeps the
/// hot loop free of allocations.
pub fn normalize_into(text: &str, out: &mut Normalized) {
    // Most text is already NFKC; the single pass notices when it is not and the text is
    // composed first and normalized again.
    if !normalize_mixed(text, out) {
        let composed: String = text.nfkc().collect();
        let done = normalize_mixed(&composed, out);
        debug_assert!(done, "NFKC output is NFKC");
    }
}

/// Normalizes `text` into a new string.
#[must_use]
pub fn normalize(text: &str) -> String {
    let mut out = Normalized::default();
    normalize_into(text, &mut out);
    out.text
}

/// Ends the current token and starts the next one after a single space.
#[inline]
fn separate(buf: &mut Vec<u8>, spans: &mut Vec<(u32, u32)>, token_start: &mut usize) {
    spans.push((*token_start as u32, buf.len() as u32));
    buf.push(b' ');
    *token_start = buf.len();
}

/// ASCII letters and digits, as a table indexed by byte (bytes >= 128 are not).
const ASCII_WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

/// One pass over the text: runs of ASCII letters and digits are copied lower-cased in
/// bulk, other characters go through the Unicode rules. The output never starts or ends
/// with a space, and never holds two in a row. Returns false, with `out` unspecified, as
/// soon as a character shows the text is not in NFKC (the same test as the Unicode quick
/// check: a character not NFKC-stable, or combining marks out of canonical order).
fn normalize_mixed(text: &str, out: &mut Normalized) -> bool {
    let bytes = text.as_bytes();
    let mut buf: Vec<u8> = std::mem::take(&mut out.text).into_bytes();
    buf.clear();
    buf.reserve(bytes.len());
    let spans = &mut out.spans;
    spans.clear();
    let mut token_start = 0usize;
    let mut need_space = false;
    let mut last_ccc = 0u8;
    let mut i = 0;
    let mut clean = true;
    while i < bytes.len() {
        let b = bytes[i];
        if ASCII_WORD[b as usize] {
            let start = i;
            while i < bytes.len() && ASCII_WORD[bytes[i] as usize] {
                i += 1;
            }
            if need_space {
                separate(&mut buf, spans, &mut token_start);
                need_space = false;
            }
            buf.extend(bytes[start..i].iter().map(u8::to_ascii_lowercase));
            last_ccc = 0;
            continue;
        }
        if b < 128 {
            if b != b'\'' {
                need_space = !buf.is_empty();
            }
            last_ccc = 0;
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().expect("i is on a char boundary");
        i += c.len_utf8();
        let ccc = canonical_combining_class(c);
        if (ccc != 0 && last_ccc > ccc) || is_nfkc_quick(std::iter::once(c)) != IsNormalized::Yes {
            clean = false;
            break;
        }
        last_ccc = ccc;
        if is_apostrophe(c) {
            continue;
        }
        if c.is_alphanumeric() || is_combining_mark(c) {
            if is_scriptio_continua(c) {
                if !buf.is_empty() {
                    separate(&mut buf, spans, &mut token_start);
                }
                push_char(&mut buf, c);
                need_space = true;
                continue;
            }
            if need_space {
                separate(&mut buf, spans, &mut token_start);
                need_space = false;
            }
            for l in c.to_lowercase() {
                push_char(&mut buf, l);
            }
        } else {
            need_space = !buf.is_empty();
        }
    }
    if !buf.is_empty() {
        spans.push((token_start as u32, buf.len() as u32));
    }
    out.text = String::from_utf8(buf).expect("only whole characters and ASCII are pushed");
    clean
}

#[inline]
fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
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

    #[test]
    fn spans_are_the_space_separated_tokens() {
        for text in ["one two  three", "北京 is big", "Don't stop, café—Ünïcode 東京タワー!", "", "  !! "] {
            let mut n = Normalized::default();
            normalize_into(text, &mut n);
            let toks: Vec<&str> = n.tokens().collect();
            let split: Vec<&str> = n.text.split(' ').filter(|t| !t.is_empty()).collect();
            assert_eq!(toks, split, "{text:?}");
        }
    }
}
