//! Helpers shared by the integration tests.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use neardup::generate::{Corpus, GenParams, generate};

/// A corpus small enough for brute force: short articles, many copies.
pub fn small_corpus(docs: usize, seed: u64) -> Corpus {
    let params = GenParams {
        docs,
        seed,
        min_words: 120,
        max_words: 300,
        min_paras: 2,
        max_paras: 6,
        syndicated_frac: 0.35,
        // light edits and little boilerplate put many pairs near and above the threshold
        max_edit_rate: 0.025,
        boilerplate_prob: 0.3,
        ..GenParams::default()
    };
    generate(&params)
}

/// The oracle's shingle set: distinct k-word windows of the normalized text as strings,
/// with the whole text as one shingle when it is shorter than k.
pub fn string_shingles(text: &str, k: usize) -> HashSet<String> {
    let norm = neardup::text::normalize(text);
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return HashSet::new();
    }
    if words.len() < k {
        return std::iter::once(words.join(" ")).collect();
    }
    words.windows(k).map(|w| w.join(" ")).collect()
}

pub fn exact_jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let inter = a.intersection(b).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

pub fn neardup(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the neardup binary runs")
}

/// Runs the binary and insists that it succeeded.
pub fn neardup_ok(dir: &Path, args: &[&str]) -> Output {
    let out = neardup(dir, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn write_jsonl(path: &Path, corpus: &Corpus) {
    neardup::generate::write_corpus(corpus, path).expect("corpus written");
}

/// Reads a file, with the run-dependent parts of summary.json (timings) blanked.
pub fn read_stable(path: &PathBuf) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.file_name().is_some_and(|n| n == "summary.json") {
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("summary is JSON");
        v["seconds"] = serde_json::Value::Null;
        // temporary disk depends on --memory, as timings depend on the machine
        if let Some(fields) = v.as_object_mut() {
            fields.shift_remove("disk");
        }
        v["neardup_version"] = serde_json::Value::Null;
        v["working_dir"] = serde_json::Value::Null;
        return serde_json::to_string_pretty(&v).expect("serializable") + "\n";
    }
    text
}
