//! `neardup eval` and `neardup explain` on a generated corpus, checked against brute force.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use crate::util::{neardup, neardup_ok};

/// Generates 300 documents with truth, runs dedup on them; returns the work directory.
fn run_corpus() -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    neardup_ok(
        dir,
        &[
            "generate", "--docs", "300", "--seed", "7", "--out", "c.jsonl",
        ],
    );
    // Jaccard alone misses the trimmed and edited copies: the scores then have every
    // kind of pair (found, missed, false) to check
    neardup_ok(
        dir,
        &[
            "dedup",
            "c.jsonl",
            "--out",
            "run",
            "--quiet",
            "--containment",
            "off",
        ],
    );
    work
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let out = neardup_ok(dir, args);
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object")
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every pair of scored records, counted one by one.
fn brute_force(dir: &Path) -> (u64, u64, u64, u64) {
    let truth: HashMap<String, String> = lines(&dir.join("c.jsonl.truth.jsonl"))
        .into_iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().into(),
                t["family"].as_str().unwrap().into(),
            )
        })
        .collect();
    let docs: Vec<(String, u64)> = lines(&dir.join("run/docs.jsonl"))
        .into_iter()
        .filter(|d| d["status"] == "ok" || d["status"] == "empty")
        .map(|d| {
            (
                truth[d["id"].as_str().unwrap()].clone(),
                d["cluster"].as_u64().unwrap(),
            )
        })
        .collect();
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    for i in 0..docs.len() {
        for j in i + 1..docs.len() {
            match (docs[i].0 == docs[j].0, docs[i].1 == docs[j].1) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                (false, false) => tn += 1,
            }
        }
    }
    (tp, fp, fn_, tn)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn eval_agrees_with_brute_force() {
    let work = run_corpus();
    let dir = work.path();
    let r = json(
        dir,
        &[
            "eval",
            "--truth",
            "c.jsonl.truth.jsonl",
            "run",
            "--json",
            "--top",
            "5",
        ],
    );
    let p = &r["pairs"];
    let (tp, fp, fn_, tn) = brute_force(dir);
    assert_eq!(r["records"], 300);
    assert_eq!(p["records"], 300);
    assert_eq!(
        (p["tp"].as_u64(), p["fp"].as_u64(), p["fn"].as_u64()),
        (Some(tp), Some(fp), Some(fn_))
    );
    assert_eq!(p["true_pairs"].as_u64(), Some(tp + fn_));
    assert_eq!(p["predicted_pairs"].as_u64(), Some(tp + fp));
    assert!(tp > 0 && fn_ > 0, "the corpus has found and missed pairs");
    let (tp, fp, fn_, tn) = (tp as f64, fp as f64, fn_ as f64, tn as f64);
    let (precision, recall) = (tp / (tp + fp), tp / (tp + fn_));
    let ari = 2.0 * (tp * tn - fn_ * fp) / ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn));
    assert!((f(&p["precision"]) - precision).abs() < 1e-9);
    assert!((f(&p["recall"]) - recall).abs() < 1e-9);
    let f1 = 2.0 * precision * recall / (precision + recall);
    assert!((f(&p["f1"]) - f1).abs() < 1e-9);
    assert!((f(&p["ari"]) - ari).abs() < 1e-9, "{} vs {ari}", p["ari"]);

    assert_eq!(r["texts"]["state"], "available");
    let missed = r["missed"].as_array().unwrap();
    assert_eq!(missed.len(), 5);
    let js: Vec<f64> = missed.iter().map(|m| f(&m["jaccard"])).collect();
    assert!(
        js.windows(2).all(|w| w[0] >= w[1]),
        "most similar first: {js:?}"
    );
    assert!(missed.iter().all(|m| m["a_cluster"] != m["b_cluster"]));
    assert!(
        !missed[0]["shared_passages"].as_array().unwrap().is_empty(),
        "a near miss shares passages"
    );
    // paragraph labels are scored, with the run's indices mapped onto split("\n\n")
    let pp = &r["paragraphs"];
    assert_eq!(pp["docs_segmented_differently"], 0);
    assert_eq!(
        pp["tp"].as_u64().unwrap() + pp["fn"].as_u64().unwrap(),
        pp["true_repeats"].as_u64().unwrap()
    );
    assert!(f(&pp["recall"]) > 0.9, "{pp}");

    let text = neardup_ok(dir, &["eval", "--truth", "c.jsonl.truth.jsonl", "run"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("precision") && text.contains("ARI") && text.contains("missed pairs"));
}

#[test]
fn pairs_truth_gives_the_family_result() {
    let work = run_corpus();
    let dir = work.path();
    let truth = lines(&dir.join("c.jsonl.truth.jsonl"));
    let mut tsv = String::from("id_a\tid_b\n");
    for t in &truth {
        // each copy paired with its original: the components are the families
        if t["id"] != t["family"] {
            writeln!(
                tsv,
                "{}\t{}",
                t["family"].as_str().unwrap(),
                t["id"].as_str().unwrap()
            )
            .unwrap();
        }
    }
    std::fs::write(dir.join("pairs.tsv"), tsv).unwrap();
    let fam = json(
        dir,
        &["eval", "--truth", "c.jsonl.truth.jsonl", "run", "--json"],
    );
    let pairs = json(dir, &["eval", "--truth", "pairs.tsv", "run", "--json"]);
    assert_eq!(pairs["truth_format"], "pairs");
    assert_eq!(fam["pairs"], pairs["pairs"]);
    assert!(
        pairs["paragraphs"].is_null(),
        "pairs carry no paragraph labels"
    );
}

#[test]
fn explain_names_the_collided_band_or_none() {
    let work = run_corpus();
    let dir = work.path();
    let docs = lines(&dir.join("run/docs.jsonl"));
    // a copy joined directly to its representative: its similarity is the verified pair's
    let copies: Vec<&Value> = docs
        .iter()
        .filter(|d| d["similarity"].as_f64().is_some_and(|s| s >= 0.8))
        .take(5)
        .collect();
    assert!(!copies.is_empty());
    for d in copies {
        let (a, b) = (
            d["id"].as_str().unwrap(),
            d["duplicate_of"].as_str().unwrap(),
        );
        let e = json(dir, &["explain", "run", a, b, "--json"]);
        assert_eq!(e["same_cluster"], true);
        // the Jaccard rebuilt from the inputs is the one the run verified
        assert!(
            (f(&e["compared"]["jaccard"]) - f(&d["similarity"])).abs() < 1e-6,
            "{e}"
        );
        assert!(
            !e["sketches"]["bands_collided"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let verdict = e["verdict"].as_str().unwrap();
        assert!(verdict.starts_with("same cluster: Jaccard"), "{verdict}");
        assert!(verdict.contains("collided"), "{verdict}");
    }
    // two originals of different families, far apart in the input
    let truth = lines(&dir.join("c.jsonl.truth.jsonl"));
    let originals: Vec<&str> = truth
        .iter()
        .filter(|t| t["role"] == "original")
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let (a, b) = (originals[0], originals[originals.len() - 1]);
    let e = json(dir, &["explain", "run", a, b, "--json"]);
    assert_eq!(e["same_cluster"], false);
    let verdict = e["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("different clusters: Jaccard"),
        "{verdict}"
    );
    assert!(verdict.contains("no band collided"), "{verdict}");
    let text = neardup_ok(dir, &["explain", "run", a, b]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("verdict: different clusters"), "{text}");
}

#[test]
fn eval_without_inputs_still_scores() {
    let work = run_corpus();
    let dir = work.path();
    let before = json(
        dir,
        &["eval", "--truth", "c.jsonl.truth.jsonl", "run", "--json"],
    );
    std::fs::rename(dir.join("c.jsonl"), dir.join("moved.jsonl")).unwrap();
    let after = json(
        dir,
        &["eval", "--truth", "c.jsonl.truth.jsonl", "run", "--json"],
    );
    assert_eq!(before["pairs"], after["pairs"]);
    assert_eq!(after["texts"]["state"], "unavailable");
    assert!(after["missed"][0]["jaccard"].is_null());
    // a changed input is noticed too
    let mut text = std::fs::read_to_string(dir.join("moved.jsonl")).unwrap();
    text.push_str("{\"id\":\"extra\",\"text\":\"one more record\"}\n");
    std::fs::write(dir.join("c.jsonl"), text).unwrap();
    let changed = json(
        dir,
        &["eval", "--truth", "c.jsonl.truth.jsonl", "run", "--json"],
    );
    assert_eq!(changed["texts"]["state"], "unavailable");
    assert!(
        changed["texts"]["reason"]
            .as_str()
            .unwrap()
            .contains("changed")
    );
}

#[test]
fn bad_truth_and_docs_lines_are_named() {
    let work = run_corpus();
    let dir = work.path();
    std::fs::write(dir.join("bad.tsv"), "a\tb\nc\n").unwrap();
    let out = neardup(dir, &["eval", "--truth", "bad.tsv", "run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tsv:2: expected a pair of ids"), "{err}");

    let docs = std::fs::read_to_string(dir.join("run/docs.jsonl")).unwrap();
    std::fs::write(
        dir.join("run/docs.jsonl"),
        docs.replacen('\n', "\n{not json\n", 1),
    )
    .unwrap();
    let out = neardup(dir, &["explain", "run", "d0000000", "d0000001"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // an edited docs.jsonl no longer matches its digest in summary.json
    assert!(
        err.contains("docs.jsonl: does not belong to the run"),
        "{err}"
    );
}
