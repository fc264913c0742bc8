//! `neardup tune`: the sweep re-uses one sketch, and its recommendation reproduces.

use serde_json::Value;

use crate::util::neardup_ok;

fn json(dir: &std::path::Path, args: &[&str]) -> Value {
    serde_json::from_slice(&neardup_ok(dir, args).stdout).expect("--json prints JSON")
}

#[test]
fn the_recommended_setting_reproduces_its_score_in_a_real_run() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    neardup_ok(
        dir,
        &[
            "generate", "--docs", "1500", "--seed", "9", "--out", "c.jsonl",
        ],
    );
    let report = json(
        dir,
        &[
            "tune",
            "--truth",
            "c.jsonl.truth.jsonl",
            "c.jsonl",
            "--thresholds",
            "0.4,0.6,0.8",
            "--containments",
            "off,0.5,0.9",
            "--json",
        ],
    );
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 9);
    assert_eq!(
        report["sketches"].as_array().unwrap().len(),
        1,
        "one sketch"
    );
    let f1 = |r: &Value| r["scores"]["f1"].as_f64().unwrap();
    let best = rows.iter().map(f1).fold(0.0, f64::max);
    let rec = &rows[report["recommended"].as_u64().unwrap() as usize];
    assert!(f1(rec) >= best - 0.01, "{rec}");
    // containment finds the trimmed and edited copies Jaccard alone misses
    let off_08 = rows
        .iter()
        .find(|r| r["min_containment"].is_null() && r["threshold"] == 0.8)
        .unwrap();
    assert!(f1(rec) > f1(off_08) + 0.3, "{rec} vs {off_08}");
    // the flags it prints give the same score in a real run
    let flags: Vec<&str> = report["flags"].as_str().unwrap().split(' ').collect();
    let mut args = vec!["dedup", "c.jsonl", "--out", "run", "--quiet"];
    args.extend(&flags);
    neardup_ok(dir, &args);
    let eval = json(
        dir,
        &["eval", "--truth", "c.jsonl.truth.jsonl", "run", "--json"],
    );
    for k in ["tp", "fp", "fn"] {
        assert_eq!(eval["pairs"][k], rec["scores"][k], "{k}: {eval} vs {rec}");
    }
}
