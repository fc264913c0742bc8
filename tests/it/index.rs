//! The persistent index (`dedup --index`): batches fed one run at a time give what one
//! full run gives; the index refuses other parameters, a second writer and damaged files
//! by name, and a killed run leaves the previous version usable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::{neardup, neardup_ok, small_corpus, write_jsonl};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Writes `rows` as JSONL at `path`.
fn write_rows(path: &Path, rows: &[serde_json::Value]) {
    let text: String = rows
        .iter()
        .flat_map(|r| [r.to_string(), "\n".into()])
        .collect();
    std::fs::write(path, text).unwrap();
}

/// The corpus split into `k` batches by date (each batch the dates of one stretch, in
/// corpus order within it), and the batches one after the other as one file.
fn batches_by_date(dir: &Path, k: usize) -> (Vec<PathBuf>, PathBuf) {
    let corpus = dir.join("corpus.jsonl");
    write_jsonl(&corpus, &small_corpus(400, 16));
    let rows = lines(&corpus);
    let mut dates: Vec<String> = rows
        .iter()
        .map(|r| r["date"].as_str().expect("dated").to_owned())
        .collect();
    dates.sort();
    dates.dedup();
    let cuts: Vec<&String> = (1..k).map(|i| &dates[dates.len() * i / k]).collect();
    let mut parts = vec![Vec::new(); k];
    for r in rows {
        let d = r["date"].as_str().unwrap().to_owned();
        parts[cuts.iter().filter(|c| d >= ***c).count()].push(r);
    }
    let mut paths = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        assert!(!p.is_empty(), "batch {i} is empty");
        let path = dir.join(format!("batch{i}.jsonl"));
        write_rows(&path, p);
        paths.push(path);
    }
    let all = dir.join("all.jsonl");
    write_rows(&all, &parts.concat());
    (paths, all)
}

/// Per record id: the ids of its cluster's members and its `duplicate_of`.
type Answer = BTreeMap<String, (BTreeSet<String>, Option<String>)>;

/// Id -> (the set of ids in its cluster, its `duplicate_of`), from docs.jsonl files.
fn answer(files: &[PathBuf]) -> Answer {
    let docs: Vec<serde_json::Value> = files.iter().flat_map(|f| lines(f)).collect();
    let mut members: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for d in &docs {
        members
            .entry(d["cluster"].as_u64().unwrap())
            .or_default()
            .insert(d["id"].as_str().unwrap().to_owned());
    }
    docs.iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_owned(),
                (
                    members[&d["cluster"].as_u64().unwrap()].clone(),
                    d["duplicate_of"].as_str().map(str::to_owned),
                ),
            )
        })
        .collect()
}

/// Id -> (its cluster's ids, its representative unless it is one), from `neardup index
/// records`: the index's answer as it stands.
fn index_answer(dir: &Path, index: &str) -> Answer {
    let out = neardup_ok(dir, &["index", "records", index]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut members: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    let mut rep: BTreeMap<u64, String> = BTreeMap::new();
    for r in &rows {
        let c = r["cluster"].as_u64().unwrap();
        let id = r["id"].as_str().unwrap().to_owned();
        members.entry(c).or_default().insert(id.clone());
        if r["keep"] == true {
            assert!(rep.insert(c, id).is_none(), "one representative a cluster");
        }
    }
    rows.iter()
        .map(|r| {
            let c = r["cluster"].as_u64().unwrap();
            let id = r["id"].as_str().unwrap().to_owned();
            let of = (r["keep"] != true).then(|| rep[&c].clone());
            (id, (members[&c].clone(), of))
        })
        .collect()
}

/// Feeds the batches one run each into a fresh index; returns each run's docs.jsonl.
fn incremental(dir: &Path, batches: &[PathBuf], index: &str, extra: &[&str]) -> Vec<PathBuf> {
    batches
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let out = format!("{index}-out{i}");
            let mut args = vec![
                "dedup",
                b.to_str().unwrap(),
                "--index",
                index,
                "--out",
                &out,
                "-q",
            ];
            args.extend_from_slice(extra);
            neardup_ok(dir, &args);
            dir.join(out).join("docs.jsonl")
        })
        .collect()
}

/// One run over `all` into `dir/full`, with `extra` flags: the oracle's answer.
fn full_run(dir: &Path, all: &Path, extra: &[&str]) -> Answer {
    let mut args = vec!["dedup", all.to_str().unwrap(), "--out", "full", "-q"];
    args.extend_from_slice(extra);
    neardup_ok(dir, &args);
    answer(&[dir.join("full/docs.jsonl")])
}

/// The index's answer, as `index records` gives it, is `full`'s for every record.
fn assert_index_answers(dir: &Path, index: &str, full: &Answer) {
    let inc = index_answer(dir, index);
    assert_eq!(inc.len(), full.len(), "every record answered once");
    for (id, want) in full {
        assert_eq!(&inc[id], want, "{id}");
    }
}

#[test]
fn batches_fed_one_a_run_give_the_partition_and_originals_of_one_full_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (batches, all) = batches_by_date(dir, 4);
    let off = ["--paragraphs", "off"];
    let full = full_run(dir, &all, &off);
    let runs = incremental(dir, &batches, "ix", &off);
    assert!(
        full.values().any(|(m, _)| m.len() > 2),
        "the corpus has clusters to compare"
    );
    assert_index_answers(dir, "ix", &full);
    // under a tiny budget the record table, the provenance and the assignments are read
    // back from their files (the members loaded from the index too): every run writes
    // the same bytes, and the index gives the same answers
    let small = incremental(
        dir,
        &batches,
        "ix-small",
        &[off[0], off[1], "--memory", "1M"],
    );
    for (i, (a, b)) in runs.iter().zip(&small).enumerate() {
        for f in ["docs.jsonl", "clusters.jsonl"] {
            assert_eq!(
                std::fs::read(a.with_file_name(f)).unwrap(),
                std::fs::read(b.with_file_name(f)).unwrap(),
                "run {i}: {f}"
            );
        }
    }
    let last = summary(dir, &format!("ix-small-out{}", small.len() - 1));
    assert!(last["disk"]["assignments"].as_u64().unwrap() > 0, "{last}");
    assert_index_answers(dir, "ix-small", &full);
    // each run wrote the answer as of its run; where a later run changed a record's
    // representative, that later run's clusters.jsonl said so
    let as_written = answer(&runs);
    let said: BTreeSet<String> = (1..runs.len())
        .flat_map(|i| lines(&dir.join(format!("ix-out{i}/clusters.jsonl"))))
        .filter(|c| c.get("previous_representative").is_some())
        .map(|c| c["representative"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        as_written.iter().all(|(id, (members, rep))| {
            full[id].1 == *rep || full[id].0 != *members || said.iter().any(|r| members.contains(r))
        }),
        "every later change of representative is said in clusters.jsonl"
    );
    // some batch's records were copies of archived ones, named by id
    let archived_originals: usize = (1..runs.len())
        .map(|i| {
            let earlier: BTreeSet<String> = batches[..i]
                .iter()
                .flat_map(|b| lines(b))
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            lines(&runs[i])
                .iter()
                .filter(|d| {
                    d["duplicate_of"]
                        .as_str()
                        .is_some_and(|o| earlier.contains(o))
                })
                .count()
        })
        .sum();
    assert!(
        archived_originals > 0,
        "a later batch matched an earlier one"
    );
    // the index's own view of itself
    let verify = neardup_ok(dir, &["index", "verify", "ix"]);
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(text.contains("from 4 runs in 4 segments"), "{text}");
    // compaction changes files, never answers: a read-only run of a new batch gives the
    // same before and after it
    let probe = dir.join("probe.jsonl");
    write_rows(&probe, &lines(&batches[2])[..20]);
    let ro = |out: &str| {
        neardup_ok(
            dir,
            &[
                "dedup",
                probe.to_str().unwrap(),
                "--index",
                "ix",
                "--index-readonly",
                "--out",
                out,
                "-q",
                "--paragraphs",
                "off",
            ],
        );
        std::fs::read_to_string(dir.join(out).join("docs.jsonl")).unwrap()
    };
    let before = ro("ro1");
    let compacted = neardup_ok(dir, &["index", "compact", "ix"]);
    let text = String::from_utf8_lossy(&compacted.stdout);
    assert!(text.contains("from 4 runs in 1 segments"), "{text}");
    assert_eq!(ro("ro2"), before);
    // a read-only run added nothing
    let info: serde_json::Value =
        serde_json::from_slice(&neardup_ok(dir, &["index", "info", "ix"]).stdout).unwrap();
    assert_eq!(info["records"], 400);
    assert_eq!(info["manifest"]["runs"], 4);
}

fn summary(dir: &Path, out: &str) -> serde_json::Value {
    let path = dir.join(out).join("summary.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

#[test]
fn later_runs_take_stored_verdicts_and_still_give_the_full_runs_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (batches, all) = batches_by_date(dir, 4);
    let off = ["--paragraphs", "off"];
    let full = full_run(dir, &all, &off);
    let full_verified = summary(dir, "full")["verification"]["verified"]
        .as_u64()
        .unwrap();
    incremental(dir, &batches, "ix", &off);
    let stored: Vec<u64> = (0..batches.len())
        .map(|i| {
            summary(dir, &format!("ix-out{i}"))["index"]["stored_verdicts"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(stored[0], 0, "the first run has nothing stored");
    assert!(
        stored[1..].iter().any(|&n| n > 0),
        "a later run took verdicts from the index: {stored:?}"
    );
    // what the runs scored, summed, is no more than what one full run scores: each
    // archived pair is scored once
    let scored: u64 = (0..batches.len())
        .map(|i| {
            summary(dir, &format!("ix-out{i}"))["verification"]["verified"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert!(
        scored <= full_verified + stored.iter().sum::<u64>(),
        "{scored} scored by the runs, {full_verified} by the full run"
    );
    assert_index_answers(dir, "ix", &full);
    // a batch the index already holds, compared again: the pairs among its archived
    // copies are all stored, and the answer is what the index says
    let again = |out: &str| {
        neardup_ok(
            dir,
            &[
                "dedup",
                batches[2].to_str().unwrap(),
                "--index",
                "ix",
                "--index-readonly",
                "--out",
                out,
                "-q",
                "--paragraphs",
                "off",
            ],
        );
        summary(dir, out)
    };
    let s = again("again1");
    assert!(s["index"]["stored_verdicts"].as_u64().unwrap() > 0, "{s}");
    // compaction merges the verdicts: the same run takes the same ones
    neardup_ok(dir, &["index", "compact", "ix"]);
    neardup_ok(dir, &["index", "verify", "ix"]);
    let t = again("again2");
    assert_eq!(s["index"], t["index"]);
    assert_eq!(s["verification"], t["verification"]);
    assert_eq!(
        std::fs::read(dir.join("again1/docs.jsonl")).unwrap(),
        std::fs::read(dir.join("again2/docs.jsonl")).unwrap()
    );
    assert_eq!(
        std::fs::read(dir.join("again1/clusters.jsonl")).unwrap(),
        std::fs::read(dir.join("again2/clusters.jsonl")).unwrap()
    );
}

#[test]
fn with_the_paragraph_stage_the_difference_from_a_full_run_is_small_and_counted() {
    // Boilerplate is learned from the archive's counts plus the batch's; earlier runs'
    // decisions stand. The partition may differ from a full run's where a paragraph became
    // boilerplate only later: this test bounds it, docs/index.md reports the figure.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (batches, all) = batches_by_date(dir, 4);
    let full = full_run(dir, &all, &[]);
    incremental(dir, &batches, "ix", &[]);
    let inc = index_answer(dir, "ix");
    let differ = full.iter().filter(|(id, want)| inc[*id] != **want).count();
    assert!(
        differ * 20 <= full.len(),
        "{differ} of {} differ",
        full.len()
    );
}

#[test]
fn cluster_ids_are_stable_and_a_late_earlier_original_is_said() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = "the quick brown fox jumps over the lazy dog near the river bank today and \
                again tomorrow morning before the market opens";
    let row =
        |id: &str, date: &str, t: &str| serde_json::json!({"id": id, "date": date, "text": t});
    write_rows(
        &dir.join("day1.jsonl"),
        &[
            row(
                "other",
                "2024-01-05",
                "an entirely different story about rates and bonds",
            ),
            row("b", "2024-02-01", text),
            row("c", "2024-03-01", &format!("{text} again")),
        ],
    );
    write_rows(&dir.join("day2.jsonl"), &[row("a", "2024-01-01", text)]);
    write_rows(&dir.join("day3.jsonl"), &[row("d", "2024-04-01", text)]);
    for (i, day) in ["day1", "day2", "day3"].iter().enumerate() {
        neardup_ok(
            dir,
            &[
                "dedup",
                &format!("{day}.jsonl"),
                "--index",
                "ix",
                "--out",
                &format!("o{i}"),
                "-q",
            ],
        );
    }
    let day1 = lines(&dir.join("o0/docs.jsonl"));
    let cluster = day1[1]["cluster"].as_u64().unwrap();
    assert_eq!(
        cluster, 1,
        "a cluster's id is the index position of its first record"
    );
    let day2 = lines(&dir.join("o1/docs.jsonl"));
    assert_eq!(
        day2[0]["cluster"].as_u64(),
        Some(cluster),
        "the same cluster id"
    );
    assert_eq!(
        day2[0]["keep"], true,
        "the earlier-dated original is the representative"
    );
    let clusters = lines(&dir.join("o1/clusters.jsonl"));
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0]["representative"], "a");
    assert_eq!(clusters[0]["previous_representative"], "b");
    assert_eq!(clusters[0]["size"], 3);
    let runs: Vec<(String, Option<u64>)> = clusters[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_owned(), m["run"].as_u64()))
        .collect();
    assert_eq!(
        runs,
        [
            ("b".to_owned(), Some(1)),
            ("c".to_owned(), Some(1)),
            ("a".to_owned(), None)
        ]
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("o1/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["index"]["representative_changes"], 1);
    assert_eq!(summary["index"]["run"], 2);
    assert_eq!(summary["index"]["archived_records"], 3);
    // a third run's copy names the archived original, with the same cluster id again
    let day3 = lines(&dir.join("o2/docs.jsonl"));
    assert_eq!(day3[0]["duplicate_of"], "a");
    assert_eq!(day3[0]["cluster"].as_u64(), Some(cluster));
    let clusters = lines(&dir.join("o2/clusters.jsonl"));
    assert!(clusters[0].get("previous_representative").is_none());
}

fn dedup_into(dir: &Path, index: &str, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["dedup", "in.jsonl", "--index", index, "--out", out, "-q"];
    args.extend_from_slice(extra);
    neardup(dir, &args)
}

fn small_index(dir: &Path) {
    write_jsonl(&dir.join("in.jsonl"), &small_corpus(40, 3));
    let out = dedup_into(dir, "ix", "o1", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn other_parameters_are_refused_naming_each() {
    let tmp = tempfile::tempdir().unwrap();
    small_index(tmp.path());
    let out = dedup_into(
        tmp.path(),
        "ix",
        "o2",
        &["--shingle", "word:3", "--threshold", "0.7"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("shingle.size: index has 5, this run 3"),
        "{err}"
    );
    assert!(err.contains("lsh.threshold"), "{err}");
    assert!(!tmp.path().join("o2/docs.jsonl").exists());
    // what does not change the answer is free
    let out = dedup_into(
        tmp.path(),
        "ix",
        "o3",
        &["--threads", "1", "--memory", "8M"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // a run that adds to the index kept its texts on the side, and says so; a read-only
    // run keeps none
    let disk = |name: &str| {
        let s: serde_json::Value = serde_json::from_slice(
            &std::fs::read(tmp.path().join(name).join("summary.json")).unwrap(),
        )
        .unwrap();
        s["disk"].clone()
    };
    let added = disk("o3");
    assert!(added["texts"].as_u64().unwrap() > 0, "{added}");
    assert_eq!(
        added["peak"].as_u64().unwrap(),
        added["spill"].as_u64().unwrap()
            + added["texts"].as_u64().unwrap()
            + added["band_runs"]
                .as_u64()
                .unwrap()
                .max(added["paragraph_runs"].as_u64().unwrap()),
        "{added}"
    );
    let out = dedup_into(tmp.path(), "ix", "o4", &["--index-readonly"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(disk("o4").get("texts").is_none(), "{}", disk("o4"));
}

#[test]
fn a_second_writer_fails_at_once_naming_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    small_index(tmp.path());
    let lock = neardup::output::DirLock::try_acquire(&tmp.path().join("ix/LOCK"))
        .unwrap()
        .expect("free");
    let out = dedup_into(tmp.path(), "ix", "o2", &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "in use by another neardup run (pid {})",
            std::process::id()
        )),
        "{err}"
    );
    // a reader does not need the lock
    let out = dedup_into(tmp.path(), "ix", "o3", &["--index-readonly"]);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(lock);
}

#[test]
fn a_killed_run_leaves_the_previous_version_and_verify_never_calls_its_segment_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    small_index(dir);
    let manifest = std::fs::read(dir.join("ix/MANIFEST")).unwrap();
    // a run killed after writing its segment, before replacing the manifest
    let segs = dir.join("ix/segments");
    let live = std::fs::read_dir(&segs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let orphan = segs.join("s000002-000002");
    std::fs::create_dir(&orphan).unwrap();
    for f in std::fs::read_dir(&live).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, orphan.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::create_dir(segs.join(".tmp-half")).unwrap();
    let out = neardup(dir, &["index", "verify", "ix"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("from 1 runs in 1 segments"), "{text}");
    let err = stderr(&out);
    assert!(
        err.contains("segments/s000002-000002 is not named by the manifest"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join("ix/MANIFEST")).unwrap(), manifest);
    // the index answers as before the killed run: the batch is archived once, not twice
    let out = dedup_into(dir, "ix", "o2", &["--index-readonly"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("o2/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["index"]["archived_records"], 40);
    // the next run takes the orphan's name and replaces it; compact removes the rest
    let out = dedup_into(dir, "ix", "o3", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    neardup_ok(dir, &["index", "compact", "ix"]);
    let left: Vec<String> = std::fs::read_dir(&segs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["s000001-000002"]);
    neardup_ok(dir, &["index", "verify", "ix"]);
}

#[test]
fn a_damaged_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    small_index(dir);
    let seg = first_segment(dir);
    for name in ["bands", "records", "sets.dat", "clusters", "verdicts"] {
        let path = seg.join(name);
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        let at = bad.len() / 2;
        bad[at] ^= 0x20;
        std::fs::write(&path, &bad).unwrap();
        let out = neardup(dir, &["index", "verify", "ix"]);
        assert!(!out.status.success(), "{name}");
        let err = stderr(&out);
        assert!(err.contains(&format!("{name}: checksum mismatch")), "{err}");
        // a run refuses it too (sets.dat: the record it reads, by its own checksum;
        // the batch is the archive again, so every archived record is read)
        let out = dedup_into(dir, "ix", "o2", &["--index-readonly"]);
        assert!(!out.status.success(), "{name}");
        assert!(stderr(&out).contains(name), "{}", stderr(&out));
        if name == "sets.dat" {
            // a document's stored text, by its entry's checksum, before it is decompressed
            assert!(
                stderr(&out).contains("does not match its checksum: the file is damaged"),
                "{}",
                stderr(&out)
            );
        }
        std::fs::write(&path, &good[..good.len() - 5]).unwrap();
        let err = stderr(&neardup(dir, &["index", "verify", "ix"]));
        assert!(err.contains("cut short"), "{name}: {err}");
        std::fs::write(&path, &good).unwrap();
    }
    neardup_ok(dir, &["index", "verify", "ix"]);
    let out = neardup(
        dir,
        &[
            "dedup",
            "in.jsonl",
            "--index",
            "nowhere",
            "--index-readonly",
            "--out",
            "o",
        ],
    );
    assert!(
        stderr(&out).contains("index nowhere: no index here"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_batch_touching_one_component_loads_only_its_members() {
    // The probe finds the archived documents that share a bucket with the batch; the run
    // reads only the members of their components, never the rest of the archive.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let corpus = small_corpus(400, 16);
    write_jsonl(&dir.join("in.jsonl"), &corpus);
    let out = dedup_into(dir, "ix", "o1", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let docs = lines(&dir.join("o1/docs.jsonl"));
    let rows = lines(&dir.join("in.jsonl"));
    // a cluster of several that no star check cut: its component is itself
    let mut members: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, d) in docs.iter().enumerate() {
        if let Some(c) = d["cluster"].as_u64() {
            members.entry(c).or_default().push(i);
        }
    }
    let split: BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d["split_from"].as_str())
        .collect();
    let (_, cluster) = members
        .iter()
        .find(|(_, m)| {
            m.len() > 1
                && m.iter().all(|&i| {
                    docs[i]["split_from"].is_null()
                        && !split.contains(docs[i]["id"].as_str().unwrap())
                })
        })
        .expect("the corpus has a cluster of several");
    let mut copy = rows[cluster[0]].clone();
    copy["id"] = "late-copy".into();
    write_rows(&dir.join("copy.jsonl"), &[copy]);
    let run = |input: &str, out: &str| {
        neardup_ok(
            dir,
            &[
                "dedup",
                input,
                "--index",
                "ix",
                "--index-readonly",
                "--out",
                out,
                "-q",
            ],
        );
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(out).join("summary.json")).unwrap())
                .unwrap();
        s["index"].clone()
    };
    let index = run("copy.jsonl", "o2");
    assert_eq!(index["archived_docs"], 400);
    assert!(index["probe_hits"].as_u64().unwrap() >= 1, "{index}");
    assert_eq!(
        index["loaded_docs"].as_u64().unwrap(),
        cluster.len() as u64,
        "{index}"
    );
    let answer = lines(&dir.join("o2/docs.jsonl"));
    assert_eq!(
        answer[0]["cluster"].as_u64(),
        docs[cluster[0]]["cluster"].as_u64()
    );
    // a text unlike any archived one loads nothing
    write_rows(
        &dir.join("new.jsonl"),
        &[
            serde_json::json!({"id": "new", "text": "zebra quantum harbour violin \
            meadow copper lantern orbit thistle canyon ember walrus"}),
        ],
    );
    let index = run("new.jsonl", "o3");
    assert_eq!(index["loaded_docs"], 0, "{index}");
}

#[test]
fn a_damaged_band_run_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    small_index(dir);
    let seg = first_segment(dir);
    let path = seg.join("bandruns");
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x20;
    std::fs::write(&path, &bad).unwrap();
    let err = stderr(&neardup(dir, &["index", "verify", "ix"]));
    assert!(err.contains("bandruns: checksum mismatch"), "{err}");
    let out = dedup_into(dir, "ix", "o2", &["--index-readonly"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bandruns"), "{}", stderr(&out));
    assert!(!dir.join("o2/docs.jsonl").exists());
    std::fs::write(&path, &good).unwrap();
    neardup_ok(dir, &["index", "verify", "ix"]);
}

/// Issue 16: a paragraph that becomes boilerplate only later. The first run's documents
/// keep it (one outlet document in three holds it); the second run's three hold it too,
/// so the counts now make it the outlet's boilerplate: their run leaves it out, the
/// first run's decision stands, and `index verify` counts the one archived document that
/// would now compare differently.
#[test]
fn boilerplate_learned_later_is_counted_by_verify_and_earlier_decisions_stand() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let footer = "subscribe to the morning briefing for the stories that matter delivered \
                  to your inbox before breakfast every weekday";
    let doc = |id: &str, n: usize, with_footer: bool| {
        let para = |p: usize| -> String {
            (0..40)
                .map(|w| format!("w{n}p{p}x{w}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut text = format!("{}\n\n{}", para(0), para(1));
        if with_footer {
            text.push_str("\n\n");
            text.push_str(footer);
        }
        serde_json::json!({"id": id, "outlet": "daily", "date": "2024-01-01", "text": text})
    };
    write_rows(
        &dir.join("day1.jsonl"),
        &[doc("a", 1, true), doc("b", 2, false), doc("c", 3, false)],
    );
    write_rows(
        &dir.join("day2.jsonl"),
        &[doc("d", 4, true), doc("e", 5, true), doc("f", 6, true)],
    );
    let verified = |dir: &Path| {
        let out = neardup_ok(dir, &["index", "verify", "ix"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    neardup_ok(
        dir,
        &["dedup", "day1.jsonl", "--index", "ix", "--out", "o1", "-q"],
    );
    let text = verified(dir);
    assert!(
        text.contains("boilerplate learned later: 0 archived documents"),
        "{text}"
    );
    neardup_ok(
        dir,
        &["dedup", "day2.jsonl", "--index", "ix", "--out", "o2", "-q"],
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("o2/summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["paragraphs"]["docs_with_boilerplate"], 3,
        "the second run learned the footer from the archive's count and its own: {}",
        summary["paragraphs"]
    );
    let text = verified(dir);
    assert!(
        text.contains("boilerplate learned later: 1 archived documents"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&text[..text.find("\nverified:").unwrap()]).unwrap();
    assert_eq!(json["stale_boilerplate"], 1);
    // info does not read the set stores, so does not say
    let info: serde_json::Value =
        serde_json::from_slice(&neardup_ok(dir, &["index", "info", "ix"]).stdout).unwrap();
    assert!(info.get("stale_boilerplate").is_none());
    // compaction keeps each document's group and flags: the same count
    neardup_ok(dir, &["index", "compact", "ix"]);
    let text = verified(dir);
    assert!(
        text.contains("boilerplate learned later: 1 archived documents"),
        "{text}"
    );
    // and a run against the compacted index reads its groups
    write_rows(&dir.join("day3.jsonl"), &[doc("g", 7, true)]);
    neardup_ok(
        dir,
        &["dedup", "day3.jsonl", "--index", "ix", "--out", "o3", "-q"],
    );
    let text = verified(dir);
    assert!(
        text.contains("boilerplate learned later: 1 archived documents"),
        "{text}"
    );
}

/// An index written by an earlier neardup (store format 1, before the band runs; 2,
/// before `sets.idx` kept outlet groups and flagged paragraphs; 3, before the stored
/// verdicts) is refused by name,
/// saying to rebuild it, before anything is read as data.
#[test]
fn an_index_of_an_older_format_is_refused_saying_to_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    small_index(dir);
    let manifest = dir.join("ix/MANIFEST");
    let good = std::fs::read(&manifest).unwrap();
    let now = u32::from_le_bytes(good[8..12].try_into().unwrap());
    for old in 1..now {
        let mut bytes = good.clone();
        bytes[8..12].copy_from_slice(&old.to_le_bytes());
        std::fs::write(&manifest, &bytes).unwrap();
        for args in [
            &["index", "verify", "ix"][..],
            &["dedup", "in.jsonl", "--index", "ix", "--out", "o2", "-q"],
        ] {
            let out = neardup(dir, args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = stderr(&out);
            assert!(
                err.contains(&format!(
                    "ix/MANIFEST: format version {old}; this neardup reads version {now} only"
                )),
                "{err}"
            );
            assert!(err.contains("rebuild the index"), "{err}");
        }
        assert!(!dir.join("o2/docs.jsonl").exists());
    }
    std::fs::write(&manifest, &good).unwrap();
    neardup_ok(dir, &["index", "verify", "ix"]);
}

/// The directory of the index's first segment (`small_index` makes one).
fn first_segment(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("ix/segments"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}
