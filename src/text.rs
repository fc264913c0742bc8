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
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, is_nfkc_quick};

/// Normalizes `text` into `out` (cleared first). Reusing `out` across documents keeps the
/// hot loop free of allocations.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len());
    if text.is_ascii() {
        normalize_ascii(text.as_bytes(), out);
    } else if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        normalize_chars(text.chars(), out);
    } else {
        normalize_chars(text.nfkc(), out);
    }
    if out.ends_with(' ') {
        out.pop();
    }
}

/// Normalizes `text` into a new string.
#[must_use]
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    normalize_into(text, &mut out);
    out
}

fn normalize_ascii(bytes: &[u8], out: &mut String) {
    // Safe-by-construction ASCII: every byte pushed is ASCII, so `out` stays valid UTF-8.
    let mut need_space = false;
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            if need_space {
                out.push(' ');
                need_space = false;
            }
            out.push(char::from(b.to_ascii_lowercase()));
        } else if b == b'\'' {
            // inside a word: dropped; between words it was already a separator
        } else if !out.is_empty() {
            need_space = true;
        }
    }
}

fn normalize_chars(chars: impl Iterator<Item = char>, out: &mut String) {
    let mut need_space = false;
    for c in chars {
        if is_apostrophe(c) {
            continue;
        }
        if c.is_alphanumeric() || is_combining_mark(c) {
            if is_scriptio_continua(c) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push(c);
                need_space = true;
                continue;
            }
            if need_space {
                out.push(' ');
                need_space = false;
            }
            for l in c.to_lowercase() {
                out.push(l);
            }
        } else if !out.is_empty() {
            need_space = true;
        }
    }
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

/// Byte ranges of the tokens of a normalized string.
pub fn token_spans(normalized: &str, spans: &mut Vec<(u32, u32)>) {
    spans.clear();
    let mut start = 0usize;
    for (i, b) in normalized.bytes().enumerate() {
        if b == b' ' {
            spans.push((start as u32, i as u32));
            start = i + 1;
        }
    }
    if start < normalized.len() {
        spans.push((start as u32, normalized.len() as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_punctuation_and_space() {
        assert_eq!(normalize("  Hello,   WORLD!\n\tIt's  fine. "), "hello world its fine");
        assert_eq!(normalize("Blinken’s “clear interest”"), "blinkens clear interest");
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
        assert_eq!(normalize("ภาษาไทย").split(' ').count(), "ภาษาไทย".chars().count());
    }

    #[test]
    fn ascii_and_unicode_paths_agree_on_ascii_text() {
        let s = "The U.S. top diplomat, (CENTCOM) said: 75 camps -- don't panic";
        let mut a = String::new();
        normalize_ascii(s.as_bytes(), &mut a);
        if a.ends_with(' ') {
            a.pop();
        }
        let mut b = String::new();
        normalize_chars(s.chars(), &mut b);
        if b.ends_with(' ') {
            b.pop();
        }
        assert_eq!(a, b);
    }

    #[test]
    fn spans_cover_tokens() {
        let n = normalize("one two  three");
        let mut spans = Vec::new();
        token_spans(&n, &mut spans);
        let toks: Vec<&str> = spans.iter().map(|&(a, b)| &n[a as usize..b as usize]).collect();
        assert_eq!(toks, ["one", "two", "three"]);
    }
}
