//! The JSONL reader end to end on arbitrary bytes (plain, or gzip/zstd by their magic):
//! reading never panics, every record gets a line number in order, and parsing each record
//! either yields fields or a skip reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::input::{expand_inputs, parse_record, read_sources};
use neardup::params::{ErrorPolicy, InputParams};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("input.jsonl");
    std::fs::write(&path, data).expect("write");
    let sources = expand_inputs(&[path], ErrorPolicy::Skip)
        .expect("the file exists")
        .sources;
    let params = InputParams {
        max_doc_bytes: 4096,
        ..InputParams::default()
    };
    let mut last_line = 0;
    let _ = read_sources(&sources, &params, |batch| {
        for rec in batch.records {
            let line = rec.position.line().expect("a JSONL record has a line");
            assert!(line > last_line, "line numbers increase");
            last_line = line;
            let parsed = parse_record(rec.raw, &params);
            if parsed.skip.is_none() {
                assert!(parsed.text.len() as u64 <= params.max_doc_bytes);
            }
        }
        Ok(())
    });
});
