//! Behaviour unchanged: two fixed runs of the binary, digested and compared with digests of
//! the outputs the release before the restructuring of issue 12 (c2c9c37) wrote.
//!
//! A refactoring that moves code must not move a byte of `docs.jsonl`, `clusters.jsonl` or
//! `summary.json`. Only what differs between two honest runs is normalised away: the
//! timings (`summary.json`'s `seconds`) and the temporary disk (`disk`, which `--memory`
//! changes), the directory the run started in (`working_dir`)
//! and the input's path as typed (the `file` of every `docs.jsonl` line and the summary's
//! `inputs`, and so the digests of summary.json's `outputs`). A deliberate change of the
//! outputs updates the digests below in the same commit, and says why. The digests were taken from the outputs of the c2c9c37 release
//! binary (xxh3-128 of each normalised file), before any code moved; summary.json's two
//! since gained `outputs` (issue 13: the digests that tell one run from a mixture).

use std::path::Path;

use xxhash_rust::xxh3::xxh3_128;

use crate::util::neardup_ok;

const OUTPUTS: [&str; 3] = ["docs.jsonl", "clusters.jsonl", "summary.json"];

/// Changes since c2c9c37, each deliberate; docs.jsonl and clusters.jsonl did not change:
/// - issue 13 (input): summary.json gains `unread_inputs` (directory entries not read) and
///   the counts `input_errors` and `inputs_skipped`, all empty on these inputs;
/// - issue 13 (outputs): summary.json gains `outputs`, the digest of each file written
///   with it;
/// - issue 18 (short copies): the containment section gained `short_copies`,
///   `short_min_containment`, `short_min_shared` and `opening_bands`, the candidates their
///   `opening_pairs`, the verification its `by_short`; on the generated corpus the counts
///   of candidate, verified and accepted pairs moved too (23 candidates from the opening
///   bands, 13 containment pairs of one passage rejected).
/// - issue 15 (input formats): the input parameters gained `warc_status` (`"200"`), the
///   only change to summary.json on these inputs (checked: the old digest comes back with
///   that one line taken out); the WARC counts and positions added with it are written
///   only for WARC, Parquet and Arrow inputs.
/// - issue 14 (speed): paragraph records store their snippet folded (80 characters, what
///   the summary shows) instead of 255 raw bytes, so `spill_bytes` fell (sample 10,823,027
///   to 8,684,597 bytes); summary.json gains `disk` (temporary disk, blanked like
///   `seconds`). Checked: the old summary.json and the new differ in the `spill_bytes`
///   line and the `disk` lines only; docs.jsonl and clusters.jsonl did not change.
/// - issue 14 (boilerplate keys inside `--memory`): `disk` gains the key
///   `paragraph_runs` (its value blanked like the others), the only change.
/// - issue 14 (placement a group of components at a time): `disk` gains the keys
///   `records` and `provenance` (the record table's and the provenance's temporary files,
///   blanked like the others), the only change (checked with `diff` of the sample's
///   summary.json from 592e066 and after: the `seconds` values and the two lines).
/// - issue 14 (the assignments on disk): `disk` gains the key `assignments` (where each
///   record ended up, a temporary file; blanked like the others), the only change
///   (checked with `diff` of the sample's summary.json from main's binary and this one:
///   the `seconds` values and that line).
/// - issue 14 (the accepted pairs and the duplicates by cluster on disk): `disk` gains the
///   keys `accepted_pairs`, `placements` and `duplicates` (temporary files, blanked like
///   the others), the only change (checked with `diff` of the sample's summary.json from
///   main's binary (8a6da52) and this one: the `seconds` values and those three lines).
///
/// `neardup dedup data/sample.jsonl`: docs.jsonl, clusters.jsonl, summary.json.
const SAMPLE: [&str; 3] = [
    "90da3683fc5b6f75c93327968bbb0768",
    "9cd1b457bbbe883ace5c5c9430930a3e",
    "b7c6ab376226c4310d8bed3e88c13338",
];

/// `neardup generate --docs 20000 --seed 20`, then `neardup dedup` on it.
const GENERATED_20K: [&str; 3] = [
    "6bcd94bf5eb12e3f5cf0798a1486e63d",
    "eb2dae73bb62051609a3386a772c3f9a",
    "b740a0ec28c8c8a4d23feb74abebf42f",
];

/// The parts of an output that differ between two runs of the same input, replaced by
/// placeholders. `input` is the input path as it was typed on the command line.
fn normalized(name: &str, text: &str, input: &str) -> String {
    let quoted = serde_json::to_string(input).expect("strings serialize");
    let text = text.replace(&quoted, "\"<input>\"");
    if name != "summary.json" {
        return text;
    }
    // summary.json is pretty-printed, one field a line: blank the values, keep the keys,
    // so that a timing added or dropped still shows
    let blank = |line: &str, value: &str| {
        let (key, rest) = line.split_once(": ").expect("a field line");
        let comma = if rest.ends_with(',') { "," } else { "" };
        format!("{key}: {value}{comma}")
    };
    let mut out = String::with_capacity(text.len());
    let mut in_seconds = false;
    let mut in_disk = false;
    // The digests of the other files: docs.jsonl's holds the input's path as typed, and
    // both files are digested above on their own.
    let mut in_outputs = false;
    for line in text.lines() {
        let field = line.trim_start();
        let line = if in_seconds && !field.starts_with('}') {
            blank(line, "\"<seconds>\"")
        } else if in_disk && !field.starts_with('}') {
            blank(line, "\"<bytes>\"")
        } else if in_outputs && !field.starts_with('}') {
            blank(line, "\"<digest>\"")
        } else if field.starts_with("\"working_dir\": ") {
            blank(line, "\"<dir>\"")
        } else {
            line.to_owned()
        };
        if field.starts_with("\"seconds\": {") {
            in_seconds = true;
        } else if field.starts_with("\"disk\": {") {
            in_disk = true;
        } else if field.starts_with("\"outputs\": {") {
            in_outputs = true;
        } else if field.starts_with('}') {
            in_seconds = false;
            in_disk = false;
            in_outputs = false;
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The digest of each output of the run in `out`.
fn digests(out: &Path, input: &str) -> Vec<String> {
    OUTPUTS
        .iter()
        .map(|name| {
            let path = out.join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            format!(
                "{:032x}",
                xxh3_128(normalized(name, &text, input).as_bytes())
            )
        })
        .collect()
}

fn assert_unchanged(case: &str, got: &[String], expected: &[&str; 3]) {
    let changed: Vec<String> = OUTPUTS
        .iter()
        .zip(got.iter().zip(expected))
        .filter(|(_, (g, e))| g != *e)
        .map(|(name, (g, e))| format!("{name}: digest {g}, expected {e}"))
        .collect();
    assert!(
        changed.is_empty(),
        "{case}: the outputs changed:\n{}",
        changed.join("\n")
    );
}

#[test]
fn sample_outputs_are_unchanged() {
    let work = tempfile::tempdir().unwrap();
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl");
    let input = input.to_str().expect("the repository path is UTF-8");
    neardup_ok(work.path(), &["dedup", input, "--out", "out", "--quiet"]);
    assert_unchanged("sample", &digests(&work.path().join("out"), input), &SAMPLE);
}

#[test]
fn generated_20k_outputs_are_unchanged() {
    let work = tempfile::tempdir().unwrap();
    neardup_ok(
        work.path(),
        &[
            "generate",
            "--docs",
            "20000",
            "--seed",
            "20",
            "--out",
            "c20k.jsonl",
        ],
    );
    neardup_ok(
        work.path(),
        &["dedup", "c20k.jsonl", "--out", "out", "--quiet"],
    );
    assert_unchanged(
        "generated 20k",
        &digests(&work.path().join("out"), "c20k.jsonl"),
        &GENERATED_20K,
    );
}

#[test]
fn normalisation_keeps_what_matters() {
    let summary = "{\n  \"working_dir\": \"/a\",\n  \"inputs\": [\n    {\n      \"path\": \
                   \"in.jsonl\"\n    }\n  ],\n  \"seconds\": {\n    \"read\": 0.5,\n    \
                   \"total\": 1.5\n  },\n  \"disk\": {\n    \"peak\": 10\n  },\n  \
                   \"warnings\": []\n}\n";
    let n = normalized("summary.json", summary, "in.jsonl");
    assert!(n.contains("\"working_dir\": \"<dir>\",\n"), "{n}");
    assert!(n.contains("\"path\": \"<input>\"\n"), "{n}");
    assert!(n.contains("\"read\": \"<seconds>\",\n    \"total\": \"<seconds>\"\n  },"));
    assert!(n.contains("\"peak\": \"<bytes>\"\n  },"), "{n}");
    assert!(n.contains("\"warnings\": []"), "{n}");
    // the same run elsewhere and slower normalises to the same text
    let elsewhere = summary
        .replace("/a", "/b/c")
        .replace("0.5", "7.25")
        .replace("10", "2048")
        .replace("in.jsonl", "/d/in.jsonl");
    assert_eq!(normalized("summary.json", &elsewhere, "/d/in.jsonl"), n);
    // but a count does not
    let more = summary.replace("[]", "[\"x\"]");
    assert_ne!(normalized("summary.json", &more, "in.jsonl"), n);
    let doc = "{\"id\":\"a\",\"file\":\"/d/in.jsonl\",\"line\":1}\n";
    assert_eq!(
        normalized("docs.jsonl", doc, "/d/in.jsonl"),
        "{\"id\":\"a\",\"file\":\"<input>\",\"line\":1}\n"
    );
}
