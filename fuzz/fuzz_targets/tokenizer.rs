//! Normalization and shingling on arbitrary text: the output is single-space separated
//! tokens, the spans are exactly those tokens, and shingle sets are sorted and unique.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::params::{ShingleKind, ShingleParams};
use neardup::shingle::Shingler;
use neardup::text::{Normalized, normalize_into};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut n = Normalized::default();
    normalize_into(&text, &mut n);
    assert!(!n.text.starts_with(' ') && !n.text.ends_with(' ') && !n.text.contains("  "));
    let split: Vec<&str> = n.text.split(' ').filter(|t| !t.is_empty()).collect();
    assert_eq!(n.tokens().collect::<Vec<_>>(), split);
    let mut shingler = Shingler::default();
    for (kind, size) in [
        (ShingleKind::Word, 5),
        (ShingleKind::Word, 1),
        (ShingleKind::Char, 9),
    ] {
        let mut out = Vec::new();
        shingler.shingles(
            &n,
            &ShingleParams {
                kind,
                size,
                ..ShingleParams::default()
            },
            &mut out,
        );
        assert!(out.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(out.is_empty(), n.text.is_empty());
    }
});
