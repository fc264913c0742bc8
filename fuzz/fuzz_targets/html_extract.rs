//! HTML extraction on arbitrary bytes, with and without a declared charset: it never
//! panics; the text has no blank line but between paragraphs, no line ending in
//! whitespace, and as many paragraphs as it reports; nothing visible is invented (with
//! no markup-significant byte in the input, the text's words are the input's words).
#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::input::html::{CharsetSource, extract};

fuzz_target!(|data: &[u8]| {
    for charset in [None, Some("utf-8"), Some("windows-1251"), Some("shift_jis")] {
        let out = extract(data, charset);
        assert_eq!(out.stats.bytes, data.len() as u64);
        if out.text.is_empty() {
            assert_eq!(out.stats.paragraphs, 0);
            continue;
        }
        let paragraphs = out.text.split("\n\n").collect::<Vec<_>>();
        assert_eq!(paragraphs.len() as u64, out.stats.paragraphs);
        for p in &paragraphs {
            assert!(!p.trim().is_empty(), "no blank paragraph");
            for line in p.split('\n') {
                assert!(!line.trim().is_empty(), "no blank line inside a paragraph");
                assert_eq!(line, line.trim_end(), "no trailing whitespace");
            }
        }
        let plain = !data.iter().any(|b| matches!(b, b'<' | b'&' | b'\r' | 0));
        if charset == Some("utf-8") && out.stats.charset_source == CharsetSource::Http && plain {
            let input = String::from_utf8_lossy(data);
            let words = |s: &str| s.split_ascii_whitespace().map(str::to_owned).collect::<Vec<_>>();
            assert_eq!(words(&out.text), words(&input));
        }
    }
});
