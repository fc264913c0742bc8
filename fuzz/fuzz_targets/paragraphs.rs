//! Paragraph segmentation and rebuilding on arbitrary text: spans are ordered, disjoint,
//! on character boundaries and never blank; rebuilding with nothing removed gives the text
//! back; repeat detection never panics and points backwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::document::ParagraphRecord;
use neardup::paragraph::{ParagraphWorker, rebuild, segment};
use neardup::params::{ParagraphParams, ShingleParams, SplitMode};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for mode in [SplitMode::Auto, SplitMode::Blank, SplitMode::Line] {
        let mut spans = Vec::new();
        segment(&text, mode, &mut spans);
        let mut end = 0;
        for &(a, b) in &spans {
            assert!(a as usize >= end && a < b && b as usize <= text.len());
            assert!(text.is_char_boundary(a as usize) && text.is_char_boundary(b as usize));
            assert!(!text[a as usize..b as usize].trim().is_empty());
            end = b as usize;
        }
        assert_eq!(rebuild(&text, &spans, |_| false), text);
        let kept = rebuild(&text, &spans, |i| i % 2 == 1);
        assert!(kept.len() <= text.len());
    }
    let params = ParagraphParams::default();
    let mut worker = ParagraphWorker::default();
    let mut record = ParagraphRecord::default();
    let sketches = worker.process(&text, &params, &ShingleParams::default(), &mut record);
    for r in worker.find_repeats(&text, &sketches, &params) {
        assert!(r.copy_of < r.paragraph && (r.paragraph as usize) < sketches.len());
    }
    assert_eq!(
        ParagraphRecord::decode(&record.encode()).as_ref(),
        Some(&record)
    );
});
