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
        let run = bytes[i..]
            .iter()
            .position(|&b| b >= 128)
            .unwrap_or(bytes.len() - i);
        if run > 0 {
            if buf.len() < w + run + 16 {
                buf.resize(w + run + 16, 0);
            }
            for &b in &bytes[i..i + run] {
                let c = ASCII_MAP[b as usize];
                let is_word = c > 1;
                let skip = c == 1;
                buf[w] = if is_word { c } else { b' ' };
                w += usize::from((is_word || prev_word) && !skip);
                prev_word = if skip { prev_word } else { is_word };
            }
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
    let spans = &mut out.spans;
    spans.clear();
    let mut start = 0u32;
    for space in memchr::memchr_iter(b' ', &buf) {
        spans.push((start, space as u32));
        start = space as u32 + 1;
    }
    if !buf.is_empty() {
        spans.push((start, buf.len() as u32));
    }
    out.text = String::from_utf8(buf).expect("only whole characters and ASCII are written");
    clean
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
