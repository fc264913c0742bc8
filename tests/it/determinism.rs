//! The same input and parameters give byte-identical outputs whatever the thread count
//! and the memory budget.

use crate::util::{neardup, read_stable, small_corpus, write_jsonl};

#[test]
fn outputs_identical_for_1_2_and_8_threads_any_budget_and_across_runs() {
    let work = tempfile::tempdir().unwrap();
    let corpus = small_corpus(3000, 42);
    write_jsonl(&work.path().join("c.jsonl"), &corpus);
    let mut runs = Vec::new();
    // 1M leaves the band table 256 KiB and the boilerplate keys as much: the 3,000
    // documents' band keys go to disk in 6 runs, their paragraph keys in several, and
    // the rows of the record table, the accepted pairs, the placements, the provenance
    // and the assignments to their files
    let settings = [
        ("1", "256M"),
        ("2", "256M"),
        ("8", "256M"),
        ("2", "256M"),
        ("1", "1M"),
        ("2", "1M"),
    ];
    for (i, (threads, memory)) in settings.iter().enumerate() {
        let out = format!("out{i}");
        let res = neardup(
            work.path(),
            &[
                "dedup",
                "c.jsonl",
                "--out",
                &out,
                "--threads",
                threads,
                "--memory",
                memory,
                "--quiet",
            ],
        );
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        // the temporary disk is the one figure (besides timings) the budget changes
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(work.path().join(&out).join("summary.json")).unwrap(),
        )
        .unwrap();
        let disk = |k: &str| summary["disk"][k].as_u64().expect("disk figures");
        assert_eq!(disk("spill"), summary["spill_bytes"].as_u64().unwrap());
        let clustered = disk("accepted_pairs") + disk("provenance") + disk("assignments");
        assert_eq!(
            disk("peak"),
            disk("records")
                + (disk("spill")
                    + disk("band_runs")
                        .max(disk("paragraph_runs"))
                        .max(clustered + disk("placements")))
                .max(clustered + disk("duplicates"))
        );
        assert_eq!(disk("band_runs") > 0, *memory == "1M", "{threads} {memory}");
        assert_eq!(
            disk("paragraph_runs") > 0,
            *memory == "1M",
            "{threads} {memory}"
        );
        // under 1M the record table, the accepted pairs, the placements, the provenance,
        // the assignments and the duplicates by cluster keep 4 KiB each in memory (the
        // duplicates' runs are 16 KiB): clustering and the outputs read them back from
        // their files
        for table in [
            "records",
            "accepted_pairs",
            "placements",
            "provenance",
            "assignments",
            "duplicates",
        ] {
            assert_eq!(
                disk(table) > 0,
                *memory == "1M",
                "{table} {threads} {memory}"
            );
        }
        let files: Vec<String> = ["docs.jsonl", "clusters.jsonl", "summary.json"]
            .iter()
            .map(|f| read_stable(&work.path().join(&out).join(f)))
            .collect();
        runs.push(files);
    }
    assert!(
        runs[0][1].lines().count() > 50,
        "the corpus must produce clusters"
    );
    for r in &runs[1..] {
        assert_eq!(r, &runs[0]);
    }
}

#[test]
fn every_record_is_accounted_for_in_input_order() {
    let work = tempfile::tempdir().unwrap();
    let corpus = small_corpus(1000, 9);
    // inject bad records between good ones
    let mut lines = Vec::new();
    let mut ids = Vec::new();
    for (i, d) in corpus.docs.iter().enumerate() {
        lines.push(serde_json::to_string(d).unwrap());
        ids.push(d.id.clone());
        if i % 97 == 0 {
            lines.push(format!("{{\"id\":\"bad{i}\",\"text\":{i}}}"));
            ids.push(format!("bad{i}"));
            lines.push("{\"id\": broken".to_owned());
            ids.push(format!("c.jsonl:{}", lines.len()));
        }
    }
    std::fs::write(work.path().join("c.jsonl"), lines.join("\n") + "\n").unwrap();
    let res = neardup(
        work.path(),
        &["dedup", "c.jsonl", "--out", "out", "--quiet"],
    );
    assert!(res.status.success());
    let docs = std::fs::read_to_string(work.path().join("out/docs.jsonl")).unwrap();
    let got: Vec<String> = docs
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(got, ids);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["counts"]["records"], ids.len());
    assert_eq!(summary["counts"]["skipped"]["text_not_string"], 11);
    assert_eq!(summary["counts"]["skipped"]["invalid_json"], 11);
}
