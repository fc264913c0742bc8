//! The paragraph stage: repeats inside a document, boilerplate across an outlet's
//! documents, and article comparison without either.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{neardup_ok, small_corpus, write_jsonl};

fn seed_article() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/seed-article.txt");
    std::fs::read_to_string(p).expect("data/seed-article.txt")
}

fn docs_lines(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("docs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn indices(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn seed_doubled_body_is_one_block_and_clean_text_keeps_everything_else() {
    let work = tempfile::tempdir().unwrap();
    let seed = seed_article();
    std::fs::write(work.path().join("seed.txt"), &seed).unwrap();
    neardup_ok(
        work.path(),
        &[
            "dedup",
            "seed.txt",
            "--out",
            "out",
            "--emit-clean",
            "--quiet",
        ],
    );
    let docs = docs_lines(&work.path().join("out"));
    assert_eq!(docs.len(), 1);
    let repeats: Vec<(u64, u64, f64)> = docs[0]["repeats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["paragraph"].as_u64().unwrap(),
                r["copy_of"].as_u64().unwrap(),
                r["similarity"].as_f64().unwrap(),
            )
        })
        .collect();
    // lines 14..=22 print lines 5..=13 again
    let expected: Vec<(u64, u64, f64)> = (14..=22).map(|p| (p, p - 9, 1.0)).collect();
    assert_eq!(repeats, expected);
    let blocks = docs[0]["repeat_blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        (
            blocks[0]["first"].as_u64(),
            blocks[0]["last"].as_u64(),
            blocks[0]["copy_of"].as_u64()
        ),
        (Some(14), Some(22), Some(5))
    );
    // one document alone is never evidence of boilerplate
    assert!(indices(&docs[0]["boilerplate"]).is_empty());

    let clean = std::fs::read_to_string(work.path().join("out/clean.jsonl")).unwrap();
    let clean: Value = serde_json::from_str(clean.lines().next().unwrap()).unwrap();
    let lines: Vec<&str> = seed.split('\n').collect();
    let want: Vec<&str> = lines[..14].iter().chain(&lines[23..]).copied().collect();
    assert_eq!(clean["text"].as_str().unwrap(), want.join("\n"));
    assert_eq!(clean["id"], "seed.txt");
}

/// Three more stories from the seed's outlet, each with the same navigation and comment
/// policy, and an outlet with two articles sharing a footer.
fn outlet_corpus() -> String {
    let seed = seed_article();
    let lines: Vec<&str> = seed.split('\n').collect();
    let footer = lines[23..].join("\n");
    let corpus = small_corpus(40, 77);
    // originals only: a syndicated copy among them would rightly join its original
    let stories: Vec<_> = corpus
        .docs
        .iter()
        .zip(&corpus.truth)
        .filter(|(_, t)| t.role == "original")
        .map(|(d, _)| d)
        .collect();
    let mut out = Vec::new();
    out.push(
        serde_json::json!({"id": "seed", "outlet": "Rudaw", "date": "2024-12-10", "text": seed}),
    );
    for (i, d) in stories.iter().take(3).enumerate() {
        let body: Vec<&str> = d.text.split("\n\n").take(4).collect();
        let text = format!("World\nprev\nnext\n{}\n{footer}", body.join("\n"));
        out.push(serde_json::json!({"id": format!("rudaw-{i}"), "outlet": "Rudaw", "text": text}));
    }
    let shared = "Subscribe to the Small Gazette for unlimited access to local reporting and our weekend edition.";
    for (i, d) in stories.iter().skip(3).take(2).enumerate() {
        let body: Vec<&str> = d.text.split("\n\n").take(3).collect();
        let text = format!("{}\n\n{shared}", body.join("\n\n"));
        out.push(serde_json::json!({"id": format!("small-{i}"), "url": "https://www.small-gazette.example/a/{i}", "text": text}));
    }
    out.iter().map(|v| v.to_string() + "\n").collect()
}

#[test]
fn the_outlets_comment_policy_is_boilerplate_and_different_stories_stay_apart() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("c.jsonl"), outlet_corpus()).unwrap();
    neardup_ok(
        work.path(),
        &[
            "dedup",
            "c.jsonl",
            "--out",
            "out",
            "--emit-clean",
            "--quiet",
        ],
    );
    let docs = docs_lines(&work.path().join("out"));
    // the seed: World (0), prev (2), next (3), Comments ... Post a comment (23..=28)
    let seed_bp = indices(&docs[0]["boilerplate"]);
    assert_eq!(seed_bp, vec![0, 2, 3, 23, 24, 25, 26, 27, 28]);
    for d in &docs[1..4] {
        let bp = indices(&d["boilerplate"]);
        assert_eq!(bp.len(), 9, "{d}");
    }
    // two documents of a small outlet are not evidence
    for d in &docs[4..] {
        assert!(indices(&d["boilerplate"]).is_empty(), "{d}");
    }
    // the Rudaw stories share nine paragraphs but are different articles
    let clusters: BTreeSet<u64> = docs
        .iter()
        .map(|d| d["cluster"].as_u64().unwrap())
        .collect();
    assert_eq!(clusters.len(), docs.len(), "no two documents may cluster");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(work.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    let top = &summary["paragraphs"]["top_boilerplate"]["Rudaw"];
    assert!(
        top.as_array().unwrap().iter().any(|t| t["text"]
            .as_str()
            .unwrap()
            .starts_with("Rudaw moderates all comments")),
        "{top}"
    );
    // the clean seed keeps the body once and nothing of the outlet's boilerplate
    let clean = std::fs::read_to_string(work.path().join("out/clean.jsonl")).unwrap();
    let first: Value = serde_json::from_str(clean.lines().next().unwrap()).unwrap();
    let text = first["text"].as_str().unwrap();
    assert!(!text.contains("Rudaw moderates"));
    assert!(
        !text
            .lines()
            .any(|l| l == "prev" || l == "next" || l == "Comments"),
        "{text}"
    );
    assert_eq!(text.matches("Amid the turmoil").count(), 1);
    assert_eq!(first["outlet"], "Rudaw", "other fields are carried over");
}

#[test]
fn a_doubled_body_does_not_lower_the_similarity_of_a_copy() {
    let work = tempfile::tempdir().unwrap();
    let seed = seed_article();
    let lines: Vec<&str> = seed.split('\n').collect();
    let single: Vec<&str> = lines[..14].iter().chain(&lines[23..]).copied().collect();
    let docs = [
        serde_json::json!({"id": "doubled", "text": seed}),
        serde_json::json!({"id": "single", "text": single.join("\n")}),
    ];
    let body: String = docs.iter().map(|d| d.to_string() + "\n").collect();
    std::fs::write(work.path().join("c.jsonl"), body).unwrap();
    neardup_ok(
        work.path(),
        &["dedup", "c.jsonl", "--out", "out", "--quiet"],
    );
    let d = docs_lines(&work.path().join("out"));
    assert_eq!(d[1]["duplicate_of"], "doubled");
    assert_eq!(d[1]["similarity"].as_f64(), Some(1.0));
}

#[test]
fn repeats_and_boilerplate_on_a_generated_corpus_match_the_truth() {
    let work = tempfile::tempdir().unwrap();
    let corpus = neardup::generate::generate(&neardup::generate::GenParams {
        docs: 3000,
        seed: 123,
        min_words: 150,
        max_words: 500,
        repeat_frac: 0.15,
        ..neardup::generate::GenParams::default()
    });
    write_jsonl(&work.path().join("c.jsonl"), &corpus);
    neardup_ok(
        work.path(),
        &["dedup", "c.jsonl", "--out", "out", "--quiet"],
    );
    let docs = docs_lines(&work.path().join("out"));
    let (mut tp, mut fp, mut fneg) = (0u64, 0u64, 0u64);
    let (mut bp_hit, mut bp_total, mut other_flagged, mut other_total) = (0u64, 0u64, 0u64, 0u64);
    let truth: HashMap<&str, &neardup::generate::TruthRecord> =
        corpus.truth.iter().map(|t| (t.id.as_str(), t)).collect();
    for (d, doc) in docs.iter().zip(&corpus.docs) {
        let t = truth[doc.id.as_str()];
        let want: BTreeSet<(u64, u64)> = t
            .repeated_paragraphs
            .iter()
            .zip(&t.repeat_of)
            .map(|(&p, &o)| (p as u64, o as u64))
            .collect();
        let got: BTreeSet<(u64, u64)> = d["repeats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["paragraph"].as_u64().unwrap(),
                    r["copy_of"].as_u64().unwrap(),
                )
            })
            .collect();
        tp += want.intersection(&got).count() as u64;
        fp += got.difference(&want).count() as u64;
        fneg += want.difference(&got).count() as u64;

        let n = doc.text.split("\n\n").count();
        let flagged: BTreeSet<u64> = indices(&d["boilerplate"]).into_iter().collect();
        let planted: BTreeSet<u64> = t.boilerplate_paragraphs.iter().map(|&i| i as u64).collect();
        // the header line and syndication footer are an outlet's wrapping too, not body text
        let mut wrapping = planted.clone();
        if t.header {
            wrapping.insert(0);
        }
        if t.footer {
            wrapping.insert(
                planted
                    .iter()
                    .next()
                    .map_or(n as u64 - 1, |&first| first - 1),
            );
        }
        bp_total += planted.len() as u64;
        bp_hit += planted.intersection(&flagged).count() as u64;
        other_total += (n - wrapping.len()) as u64;
        other_flagged += flagged.difference(&wrapping).count() as u64;
    }
    let precision = tp as f64 / (tp + fp) as f64;
    let recall = tp as f64 / (tp + fneg) as f64;
    assert!(tp > 500, "the corpus must plant repeats: {tp}");
    assert!(
        precision >= 0.99 && recall >= 0.99,
        "repeats: precision {precision}, recall {recall} (tp {tp}, fp {fp}, fn {fneg})"
    );
    let bp_rate = bp_hit as f64 / bp_total as f64;
    let other_rate = other_flagged as f64 / other_total as f64;
    assert!(
        bp_rate >= 0.95,
        "planted boilerplate flagged in {bp_rate} of {bp_total} occurrences"
    );
    assert!(
        other_rate <= 0.01,
        "{other_flagged} of {other_total} body paragraphs flagged ({other_rate})"
    );
}

#[test]
fn clean_output_keeps_every_other_byte_of_the_record_and_a_stale_one_is_removed() {
    let work = tempfile::tempdir().unwrap();
    let seed = seed_article();
    let text = serde_json::to_string(&seed).unwrap();
    // fields serde_json::Value would reject or rewrite: an out-of-range number, a lone
    // surrogate, escapes and field order; and a record without an id
    let lines = [
        format!(r#"{{"id":"a","score":1e400,"note":"\ud800 x","text":{text},"z":[1.50,2]}}"#),
        r#"{"text":"A short one without an id.","outlet":"X"}"#.to_owned(),
    ];
    std::fs::write(work.path().join("c.jsonl"), lines.join("\n") + "\n").unwrap();
    neardup_ok(
        work.path(),
        &[
            "dedup",
            "c.jsonl",
            "--out",
            "out",
            "--emit-clean",
            "--quiet",
        ],
    );
    let clean = std::fs::read_to_string(work.path().join("out/clean.jsonl")).unwrap();
    let got: Vec<&str> = clean.lines().collect();
    assert!(
        got[0].starts_with(r#"{"id":"a","score":1e400,"note":"\ud800 x","text":""#),
        "{}",
        &got[0][..80]
    );
    assert!(got[0].ends_with(r#","z":[1.50,2]}"#));
    assert!(got[0].len() < lines[0].len(), "the repeated body is gone");
    assert_eq!(
        got[1],
        r#"{"id":"c.jsonl:2","text":"A short one without an id.","outlet":"X"}"#
    );

    // a later run without --emit-clean into the same directory leaves no stale clean.jsonl
    std::fs::write(work.path().join("d.jsonl"), lines[1].clone() + "\n").unwrap();
    neardup_ok(
        work.path(),
        &["dedup", "d.jsonl", "--out", "out", "--quiet"],
    );
    assert!(!work.path().join("out/clean.jsonl").exists());
}
