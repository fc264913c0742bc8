//! The whole record path on arbitrary bytes: an input in any form the reader takes (a
//! JSONL file by name, a file named directly whose first byte decides, a text file in a
//! directory, gzip, zstd after a skippable frame, a compressed stream cut short) through
//! `neardup::run`, to `docs.jsonl`, `clusters.jsonl`, `summary.json` and `clean.jsonl`.
//!
//! The first byte picks the form and the options; the rest is the content. Checked: the
//! run never fails on bad content (everything is a status or a file-level error under
//! `--on-error skip`), `docs.jsonl` has one line per record counted, every line reads back
//! with the output schema, statuses add up to the counts, the kept records are one per
//! cluster and are the lines of `clean.jsonl`, and every copy points at a kept record of
//! its own cluster.
#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use neardup::output::schema::{DocLine, Summary};
use neardup::{NoProgress, Params, RunOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, content)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let input: PathBuf = match mode % 6 {
        0 => write(dir.path().join("input.jsonl"), content),
        1 => write(dir.path().join("input"), content),
        2 => {
            let docs = dir.path().join("docs");
            std::fs::create_dir(&docs).expect("dir");
            write(docs.join("a.txt"), content);
            write(docs.join("b.jsonl"), content);
            docs
        }
        3 => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(content).expect("to memory");
            write(dir.path().join("input.gz"), &enc.finish().expect("to memory"))
        }
        4 => {
            let mut bytes = vec![0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0];
            bytes.extend(zstd::encode_all(content, 1).expect("to memory"));
            write(dir.path().join("input.jsonl.zst"), &bytes)
        }
        _ => {
            // a compressed stream cut at a point the content chooses
            let full = zstd::encode_all(content, 1).expect("to memory");
            let cut = content.first().map_or(0, |&b| usize::from(b) % (full.len() + 1));
            write(dir.path().join("cut.jsonl.zst"), &full[..cut])
        }
    };
    let mut params = Params::default();
    params.input.max_doc_bytes = 4096;
    params.paragraphs.enabled = mode & 0x40 == 0;
    let params = params.validate().expect("valid parameters");
    let out = dir.path().join("out");
    let opts = RunOptions {
        out_dir: out.clone(),
        threads: Some(1 + usize::from(mode >> 7)),
        spill_dir: None,
        memory: None,
        emit_clean: params.get().paragraphs.enabled,
        output_format: neardup::OutputFormat::Jsonl,
    };
    let summary = neardup::run(&[input], &params, &opts, &NoProgress)
        .expect("bad content never fails a run under --on-error skip");
    check(&out, &summary);
});

fn write(path: PathBuf, bytes: &[u8]) -> PathBuf {
    std::fs::write(&path, bytes).expect("write");
    path
}

fn check(out: &std::path::Path, summary: &Summary) {
    let counts = &summary.counts;
    let read: u64 = summary.inputs.iter().map(|i| i.records).sum();
    assert_eq!(read, counts.records, "every record read is counted");
    let text = std::fs::read_to_string(out.join("docs.jsonl")).expect("docs.jsonl");
    let docs: Vec<DocLine<'static>> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a docs.jsonl line reads back"))
        .collect();
    assert_eq!(docs.len() as u64, counts.records, "one line per record");

    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for d in &docs {
        *statuses.entry(d.status.to_string()).or_default() += 1;
    }
    let ok = statuses.remove("ok").unwrap_or(0);
    let empty = statuses.remove("empty").unwrap_or(0);
    assert_eq!((ok, empty), (counts.compared, counts.empty));
    assert_eq!(statuses, counts.skipped, "the other statuses are the skip reasons");

    let mut kept_of: HashMap<u64, &str> = HashMap::new();
    for d in docs.iter().filter(|d| d.keep) {
        let cluster = d.cluster.expect("a kept record has a cluster");
        assert!(kept_of.insert(cluster, &d.id).is_none(), "one kept record a cluster");
    }
    assert_eq!(kept_of.len() as u64, counts.kept);
    for d in docs.iter().filter(|d| !d.keep) {
        match (d.cluster, &d.duplicate_of) {
            (Some(cluster), Some(original)) => {
                assert!(d.is_scored());
                assert_eq!(kept_of.get(&cluster).copied(), Some(&**original));
            }
            (None, None) => assert!(!d.is_scored(), "only a skipped record has no cluster"),
            other => panic!("a copy without its original: {other:?}"),
        }
    }
    if let Ok(clean) = std::fs::read_to_string(out.join("clean.jsonl")) {
        assert_eq!(clean.lines().count() as u64, counts.kept, "clean.jsonl: the kept records");
    }
}
