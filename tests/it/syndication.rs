//! Syndication: trimmed and wrapped copies join their original, stories that only share
//! a footer or a chain stay apart, and the family structure of a generated news corpus is
//! recovered with the precision and recall the issue asks for.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

use neardup::generate::{GenParams, generate};

use crate::util::{neardup_ok, write_jsonl};

/// Original stories of realistic length (no copies, no boilerplate), as paragraph lists.
fn stories(n: usize, seed: u64) -> Vec<Vec<String>> {
    let corpus = generate(&GenParams {
        docs: n * 3,
        seed,
        min_words: 600,
        max_words: 900,
        min_paras: 10,
        max_paras: 14,
        syndicated_frac: 0.0,
        repeat_frac: 0.0,
        boilerplate_prob: 0.0,
        ..GenParams::default()
    });
    corpus
        .docs
        .iter()
        .take(n)
        .map(|d| d.text.split("\n\n").map(str::to_owned).collect())
        .collect()
}

fn run(dir: &Path, docs: &[Value], extra: &[&str]) -> (Vec<Value>, Vec<Value>, Value) {
    let input: String = docs.iter().map(|d| d.to_string() + "\n").collect();
    std::fs::write(dir.join("in.jsonl"), input).unwrap();
    let mut args = vec!["dedup", "in.jsonl", "--out", "out", "--quiet"];
    args.extend_from_slice(extra);
    neardup_ok(dir, &args);
    let lines = |name: &str| -> Vec<Value> {
        std::fs::read_to_string(dir.join("out").join(name))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let summary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/summary.json")).unwrap())
            .unwrap();
    (lines("docs.jsonl"), lines("clusters.jsonl"), summary)
}

/// Replaces every `every`-th word, as a copy desk would.
fn edit_words(paragraph: &str, every: usize) -> String {
    paragraph
        .split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i % every == every - 1 {
                "reportedly"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_copy_trimmed_to_45_percent_with_a_new_byline_joins_its_original() {
    let work = tempfile::tempdir().unwrap();
    let s = stories(3, 101);
    let original = &s[0];
    let keep = original.len() * 45 / 100;
    let mut copy = vec!["By Ana Reyes, Gazette staff | KELBY".to_owned()];
    copy.extend(original[..keep].iter().map(|p| edit_words(p, 25)));
    let docs = vec![
        json!({"id": "copy", "outlet": "Gazette", "date": "2024-03-02", "text": copy.join("\n\n")}),
        json!({"id": "wire", "outlet": "Wire", "date": "2024-03-01", "text": original.join("\n\n")}),
        json!({"id": "other", "outlet": "Wire", "date": "2024-03-01", "text": s[1].join("\n\n")}),
    ];
    let (docs, clusters, _) = run(work.path(), &docs, &[]);
    assert_eq!(docs[0]["cluster"], docs[1]["cluster"], "{}", docs[0]);
    assert_ne!(docs[2]["cluster"], docs[1]["cluster"]);
    assert_eq!(docs[0]["duplicate_of"], "wire");
    let p = &docs[0]["provenance"];
    assert_eq!(p["relation"], "trimmed", "{p}");
    assert_eq!(p["kept_paragraphs"].as_u64().unwrap() as usize, keep);
    assert_eq!(
        p["original_paragraphs"].as_u64().unwrap() as usize,
        original.len()
    );
    let cut: Vec<u64> = (keep as u64..original.len() as u64).collect();
    assert_eq!(p["cut_paragraphs"], json!(cut));
    assert_eq!(
        p["added_paragraphs"],
        json!([0]),
        "the byline is the copy's own"
    );
    assert!(p["copy_in_original"].as_f64().unwrap() > 0.8);
    assert!(p["original_in_copy"].as_f64().unwrap() < 0.5);
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0]["representative"], "wire");
    // without containment the trimmed copy is lost: Jaccard is below 0.5
    let (docs, _, _) = run(
        work.path(),
        &serde_json::from_str::<Vec<Value>>(&format!(
            "[{},{}]",
            json!({"id": "copy", "text": copy.join("\n\n")}),
            json!({"id": "wire", "text": original.join("\n\n")})
        ))
        .unwrap(),
        &["--containment", "off"],
    );
    assert_ne!(docs[0]["cluster"], docs[1]["cluster"]);
}

#[test]
fn two_stories_with_the_same_three_paragraph_footer_stay_apart() {
    let work = tempfile::tempdir().unwrap();
    let s = stories(3, 202);
    // a long footer, 3 paragraphs; with only two articles from the outlet it is not
    // recognised as boilerplate, so the articles really do share it when compared
    let footer = s[2][1..4].join("\n\n");
    let short = |p: &[String]| p[..6].join("\n\n");
    let docs = vec![
        json!({"id": "a", "outlet": "Small Post", "text": format!("{}\n\n{footer}", short(&s[0]))}),
        json!({"id": "b", "outlet": "Small Post", "text": format!("{}\n\n{footer}", short(&s[1]))}),
    ];
    let (docs, clusters, summary) = run(work.path(), &docs, &[]);
    assert!(clusters.is_empty(), "{clusters:?}");
    assert_ne!(docs[0]["cluster"], docs[1]["cluster"]);
    assert_eq!(summary["paragraphs"]["boilerplate_paragraphs"], 0);
}

#[test]
fn two_stories_quoting_the_same_long_statement_stay_apart() {
    let work = tempfile::tempdir().unwrap();
    let s = stories(3, 505);
    // a 60-word statement both stories quote in full: more than min_shared shingles in
    // common, but a small part of either
    let quote: String = s[2]
        .join(" ")
        .split(' ')
        .take(60)
        .collect::<Vec<_>>()
        .join(" ");
    let with_quote = |p: &[String]| {
        let mut v = p.to_vec();
        v.insert(3, format!("\u{201c}{quote}\u{201d}"));
        v.join("\n\n")
    };
    let docs = vec![
        json!({"id": "a", "outlet": "North", "text": with_quote(&s[0])}),
        json!({"id": "b", "outlet": "South", "text": with_quote(&s[1])}),
    ];
    let (docs, clusters, _) = run(work.path(), &docs, &[]);
    assert!(clusters.is_empty(), "{clusters:?}");
    assert_ne!(docs[0]["cluster"], docs[1]["cluster"]);
}

#[test]
fn a_chain_of_unrelated_stories_is_split_at_the_representative() {
    let work = tempfile::tempdir().unwrap();
    let s = stories(2, 303);
    let (x, y) = (&s[0], &s[1]);
    // B ends with most of story X and begins with most of story Y: it matches both by
    // containment, but X and Y have nothing in common
    let b: Vec<String> = x[x.len() / 3..]
        .iter()
        .chain(&y[..y.len() * 2 / 3])
        .cloned()
        .collect();
    let docs = vec![
        json!({"id": "x", "date": "2024-05-01", "text": x.join("\n\n")}),
        json!({"id": "b", "date": "2024-05-02", "text": b.join("\n\n")}),
        json!({"id": "y", "date": "2024-05-03", "text": y.join("\n\n")}),
    ];
    let (out, clusters, summary) = run(work.path(), &docs, &["--min-containment", "0.3"]);
    let cluster = |i: usize| out[i]["cluster"].as_u64().unwrap();
    assert_eq!(cluster(0), cluster(1), "B matches X");
    assert_ne!(cluster(0), cluster(2), "Y is not merged into X's story");
    assert_eq!(out[2]["split_from"], "x");
    assert_eq!(summary["verification"]["split_off"], 1);
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0]["split_off"], json!(["y"]));
    // as connected components, the chain merges all three
    let (out, _, _) = run(
        work.path(),
        &docs,
        &["--min-containment", "0.3", "--cluster-shape", "components"],
    );
    assert_eq!(out[0]["cluster"], out[2]["cluster"]);
    assert!(out[2]["provenance"]["weak"].as_bool().unwrap());
}

#[test]
fn the_representative_follows_date_then_preferred_outlet_then_length() {
    let work = tempfile::tempdir().unwrap();
    let s = stories(1, 404);
    let full = s[0].join("\n\n");
    let trimmed = s[0][..s[0].len() - 3].join("\n\n");
    let docs = vec![
        json!({"id": "a", "outlet": "Alpha", "date": "2024-01-02", "text": full}),
        json!({"id": "b", "outlet": "Beta", "date": "2024-01-02", "text": trimmed}),
        json!({"id": "c", "outlet": "Gamma", "date": "2024-01-03", "text": full}),
    ];
    let rep = |extra: &[&str]| {
        let (_, clusters, _) = run(work.path(), &docs, extra);
        assert_eq!(clusters.len(), 1);
        clusters[0]["representative"].as_str().unwrap().to_owned()
    };
    assert_eq!(rep(&[]), "a", "same date: the longer wins");
    assert_eq!(rep(&["--prefer-outlets", "Beta,Gamma"]), "b");
    assert_eq!(
        rep(&["--representative", "outlet,id", "--prefer-outlets", "Gamma"]),
        "c"
    );
    assert_eq!(rep(&["--representative", "id"]), "a");
}

fn c2(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// The shared generator with its default settings when it is beside the repository (as
/// in CI), else the crate's port of it (same distributions, different random stream).
fn generated_news(dir: &Path, docs: usize, seed: u64) -> std::path::PathBuf {
    let out = dir.join("news.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_corpus.py");
    let shared = script.exists()
        && std::process::Command::new("python3")
            .arg(&script)
            .args(["--docs", &docs.to_string(), "--seed", &seed.to_string()])
            .arg("--out")
            .arg(&out)
            .arg("--no-pair-jaccard")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !shared {
        eprintln!("shared generator not found: using neardup's port");
        let corpus = generate(&GenParams {
            docs,
            seed,
            ..GenParams::default()
        });
        write_jsonl(&out, &corpus);
    }
    out
}

#[test]
fn families_of_a_generated_news_corpus_are_recovered() {
    let work = tempfile::tempdir().unwrap();
    let corpus = generated_news(work.path(), 3000, 17);
    neardup_ok(
        work.path(),
        &["dedup", corpus.to_str().unwrap(), "--out", "out", "--quiet"],
    );
    let truth: HashMap<String, Value> =
        std::fs::read_to_string(format!("{}.truth.jsonl", corpus.display()))
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["id"].as_str().unwrap().to_owned(), v)
            })
            .collect();
    let docs: Vec<Value> = std::fs::read_to_string(work.path().join("out/docs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (mut fam, mut clu, mut cell) = (HashMap::new(), HashMap::new(), HashMap::new());
    let cluster_of: HashMap<&str, u64> = docs
        .iter()
        .map(|d| (d["id"].as_str().unwrap(), d["cluster"].as_u64().unwrap()))
        .collect();
    for d in &docs {
        let family = truth[d["id"].as_str().unwrap()]["family"].as_str().unwrap();
        let cluster = d["cluster"].as_u64().unwrap();
        *fam.entry(family).or_insert(0u64) += 1;
        *clu.entry(cluster).or_insert(0u64) += 1;
        *cell.entry((family, cluster)).or_insert(0u64) += 1;
    }
    let tp: u64 = cell.values().map(|&n| c2(n)).sum();
    let true_pairs: u64 = fam.values().map(|&n| c2(n)).sum();
    let predicted: u64 = clu.values().map(|&n| c2(n)).sum();
    let precision = tp as f64 / predicted as f64;
    let recall = tp as f64 / true_pairs as f64;
    // per copy, by edit rate and trimming: did it land with its original?
    let mut joined: HashMap<String, (u32, u32)> = HashMap::new();
    for (id, t) in &truth {
        if t["role"] != "copy" {
            continue;
        }
        let ok = cluster_of[id.as_str()] == cluster_of[t["family"].as_str().unwrap()];
        let rate = t["edit_rate"].as_f64().unwrap();
        let band = format!("edit {:.1}%+", (rate * 40.0).floor().min(3.0) * 2.5);
        let trim = if t["trimmed_paragraphs"].as_u64().unwrap() > 0 {
            "trimmed"
        } else {
            "whole"
        };
        for key in [band, trim.to_owned()] {
            let e = joined.entry(key).or_default();
            e.0 += u32::from(ok);
            e.1 += 1;
        }
    }
    let mut keys: Vec<_> = joined.keys().cloned().collect();
    keys.sort();
    for k in keys {
        let (ok, n) = joined[&k];
        eprintln!("{k}: {ok}/{n} copies with their original");
    }
    eprintln!(
        "pairs: {true_pairs} true, {predicted} predicted, {tp} both; P {precision:.4} R {recall:.4}"
    );
    assert!(true_pairs > 1000, "the corpus must exercise the test");
    assert!(precision >= 0.99, "precision {precision}");
    assert!(recall >= 0.95, "recall {recall}");
}
