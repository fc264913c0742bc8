//! The report: `dedup --report` and `report <DIR>` write report.html, report.md and
//! syndication.csv from a run's outputs; the page is self-contained and escapes document
//! text; a missing or changed input costs the texts, not the report.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use crate::util::neardup_ok;

const PLANTED: &str = "<script>alert(1)</script>";

fn clusters(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("clusters.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A generated corpus with `PLANTED` appended as a paragraph to the original of the
/// largest cluster; returns the id of that document.
fn corpus_with_script(dir: &Path) -> String {
    neardup_ok(
        dir,
        &[
            "generate", "--docs", "400", "--seed", "3", "--out", "x.jsonl",
        ],
    );
    neardup_ok(dir, &["dedup", "x.jsonl", "--out", "pre", "--quiet"]);
    let mut all = clusters(&dir.join("pre"));
    all.sort_by_key(|c| std::cmp::Reverse(c["size"].as_u64().unwrap()));
    let target = all[0]["representative"].as_str().unwrap().to_owned();
    let text = std::fs::read_to_string(dir.join("x.jsonl")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if v["id"] == target.as_str() {
            let t = v["text"].as_str().unwrap().to_owned();
            v["text"] = Value::String(format!("{t}\n\n{PLANTED} and a line of planted words"));
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    std::fs::write(dir.join("x.jsonl"), out).unwrap();
    target
}

/// Every `src`/`href` in the page points inside it: nothing is loaded from elsewhere.
fn assert_self_contained(html: &str) {
    assert!(!html.contains("<link"), "a <link> element");
    assert!(!html.contains("<script src"), "an external script");
    assert!(!html.contains("@import"), "a CSS import");
    assert!(!html.contains("url("), "a CSS url()");
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            assert!(
                value.starts_with('#'),
                "{attr}{} points outside the page",
                &value[..value.len().min(40)]
            );
        }
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
}

fn no_temporaries(out: &Path) {
    for e in std::fs::read_dir(out).unwrap() {
        let path = e.unwrap().path();
        assert!(
            path.extension().is_none_or(|x| x != "tmp"),
            "{} left behind",
            path.display()
        );
    }
}

#[test]
fn dedup_with_report_writes_three_consistent_files() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let planted_in = corpus_with_script(dir);
    let stdout = neardup_ok(
        dir,
        &["dedup", "x.jsonl", "--out", "out", "--report", "--quiet"],
    );
    assert!(String::from_utf8_lossy(&stdout.stdout).contains("report.html"));
    let out = dir.join("out");
    no_temporaries(&out);
    let clusters = clusters(&out);
    assert!(clusters.len() > 5, "the corpus has clusters");
    assert!(
        clusters.iter().any(|c| c["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == planted_in.as_str())),
        "the planted document is still in a cluster"
    );

    // the CSV: one row per member that is not the representative, in file order
    let mut reader = csv::Reader::from_path(out.join("syndication.csv")).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header.join(","),
        "cluster,original_id,original_outlet,original_date,copy_id,copy_outlet,copy_date,\
         relation,jaccard,containment,copy_in_original,original_in_copy,kept_paragraphs,\
         original_paragraphs,weak"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut expected = Vec::new();
    for c in &clusters {
        let rep = c["representative"].as_str().unwrap();
        for m in c["members"].as_array().unwrap() {
            // the representative is the member without provenance (ids may repeat)
            if m.get("provenance").is_some() {
                let p = &m["provenance"];
                expected.push((
                    c["cluster"].to_string(),
                    rep.to_owned(),
                    m["id"].as_str().unwrap().to_owned(),
                    p["relation"].as_str().unwrap().to_owned(),
                    p["weak"].to_string(),
                    m["outlet"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
    }
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r[0].to_owned(),
                r[1].to_owned(),
                r[4].to_owned(),
                r[7].to_owned(),
                r[14].to_owned(),
                r[5].to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    for r in &rows {
        let j: f64 = r[8].parse().unwrap();
        let c: f64 = r[9].parse().unwrap();
        assert!((0.0..=1.0).contains(&j) && c >= j, "{r:?}");
    }

    // the page
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_self_contained(&html);
    assert!(
        !html.contains(PLANTED),
        "document text reached the page unescaped"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("Notices"), "all inputs were there");
    assert!(html.contains("class=\"sbs\""), "side-by-side texts");
    let shown = clusters.len().min(100);
    assert_eq!(html.matches("<article class=\"cluster\"").count(), shown);
    let mut by_size: Vec<&Value> = clusters.iter().collect();
    by_size.sort_by_key(|c| (std::cmp::Reverse(c["size"].as_u64()), c["cluster"].as_u64()));
    for c in by_size.iter().take(shown) {
        let rep = c["representative"].as_str().unwrap();
        assert!(
            html.contains(rep),
            "original {rep} of cluster {}",
            c["cluster"]
        );
    }

    // the Markdown: same clusters, no raw markup from the documents
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Who republished whom"));
    assert_eq!(md.matches("\n### Cluster ").count(), shown);
    assert!(!md.contains(PLANTED));
}

#[test]
fn report_on_an_existing_run_caps_the_clusters() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    neardup_ok(
        dir,
        &[
            "generate", "--docs", "400", "--seed", "3", "--out", "x.jsonl",
        ],
    );
    neardup_ok(dir, &["dedup", "x.jsonl", "--out", "out", "--quiet"]);
    let out = dir.join("out");
    assert!(!out.join("report.html").exists());
    neardup_ok(dir, &["report", "out", "--max-clusters", "3"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let total = clusters(&out).len();
    assert_eq!(html.matches("<article class=\"cluster\"").count(), 3);
    assert!(html.contains(&format!("3 of {total} clusters shown")));
    assert!(html.contains(&format!("{} omitted", total - 3)));
    // the largest three, largest first
    let mut sizes: Vec<u64> = clusters(&out)
        .iter()
        .map(|c| c["size"].as_u64().unwrap())
        .collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let shown: Vec<u64> = html
        .match_indices("records · original")
        .map(|(i, _)| {
            let before = &html[..i];
            let n = before.rsplit(" · ").next().unwrap().trim();
            n.parse().unwrap()
        })
        .collect();
    assert_eq!(shown, sizes[..3]);
    let rows = csv::Reader::from_path(out.join("syndication.csv"))
        .unwrap()
        .records()
        .count();
    assert_eq!(rows as u64, sizes.iter().map(|s| s - 1).sum::<u64>());
}

#[test]
fn missing_or_changed_input_gives_a_notice_not_a_failure() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    neardup_ok(
        dir,
        &[
            "generate", "--docs", "200", "--seed", "5", "--out", "x.jsonl",
        ],
    );
    neardup_ok(dir, &["dedup", "x.jsonl", "--out", "out", "--quiet"]);
    let out = dir.join("out");
    let original = std::fs::read_to_string(dir.join("x.jsonl")).unwrap();

    std::fs::remove_file(dir.join("x.jsonl")).unwrap();
    neardup_ok(dir, &["report", "out"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Notices"));
    assert!(
        html.contains("Input file x.jsonl"),
        "the notice names the file"
    );
    assert!(html.contains("was not found"));
    assert!(
        !html.contains("class=\"sbs\""),
        "no side-by-side text without the input"
    );
    assert!(html.contains("Text not available"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("**Notice:**"));

    // the same file with other ids: the records are not the ones the run saw
    let renamed: String = original
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["id"] = Value::String(format!("other-{}", v["id"].as_str().unwrap()));
            v.to_string() + "\n"
        })
        .collect();
    std::fs::write(dir.join("x.jsonl"), renamed).unwrap();
    neardup_ok(dir, &["report", "out"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("changed since the run"));
    assert!(!html.contains("class=\"sbs\""));
    no_temporaries(&out);
}

#[test]
fn a_directory_without_a_run_is_an_error_naming_the_file() {
    let work = tempfile::tempdir().unwrap();
    let out = crate::util::neardup(work.path(), &["report", "."]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("summary.json"), "{stderr}");
    let ids: HashSet<String> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(ids.is_empty(), "nothing written: {ids:?}");
}
