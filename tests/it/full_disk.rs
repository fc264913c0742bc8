//! A full disk, for real: runs of the binary whose writes fail, under a file size limit
//! (`prlimit --fsize`, with SIGXFSZ ignored so that write(2) fails with EFBIG as on a full
//! disk, or not ignored so that the process is killed mid-write) and on a tmpfs of a few
//! pages (ENOSPC, in a user and mount namespace of its own). Whatever fails, a run says
//! which file and that the disk or the limit was hit, leaves the previous outputs byte
//! for byte and never a half-written file under a final name, and leaves an index's
//! previous version answering as before (issues 14 and 16).
//!
//! Limits are taken from the sizes a run without one wrote: one byte below each file's
//! size makes that file (or one written before it) the one that fails.
#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{neardup_ok, small_corpus};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether `prlimit` (util-linux) is there; a test that needs it says so when it is not.
fn have_prlimit() -> bool {
    let ok = Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: no prlimit (util-linux) to set a file size limit");
    }
    ok
}

/// Runs the binary in `dir` with every file it writes limited to `bytes`. `crash`: the
/// process is killed by SIGXFSZ at the write that crosses the limit; otherwise the signal
/// is ignored (an ignored signal stays ignored across exec) and the write fails.
fn limited(dir: &Path, bytes: u64, crash: bool, args: &[&str]) -> Output {
    let trap = if crash { "" } else { "trap '' XFSZ; " };
    Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(format!(
            "{trap}exec prlimit --fsize={bytes} -- \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_neardup"))
        .args(args)
        .output()
        .expect("sh runs")
}

/// Records with ids of 1,000 characters and texts of 60 words: `docs.jsonl` is larger
/// than the spill, so a limit can fall between them and fail the outputs themselves.
fn long_ids(path: &Path, docs: usize, seed: u64) {
    let corpus = small_corpus(docs, seed);
    let mut text = String::new();
    for (i, d) in corpus.docs.iter().enumerate() {
        let words: Vec<&str> = d.text.split_whitespace().take(60).collect();
        let row = serde_json::json!({
            "id": format!("{seed}-{i:05}-{}", "x".repeat(1000)),
            "date": d.date,
            "outlet": d.outlet,
            "text": words.join(" "),
        });
        text.push_str(&row.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Every file under `dir` (recursively) by path relative to it, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// The final names (not a temporary `.name.XXXX.tmp`, not the lock) of `dir`'s files.
fn whole_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files(dir)
        .into_iter()
        .filter(|(p, _)| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

/// The limits that fail each file a run wrote, largest first, above `floor` (below it
/// the inputs' reading or the lock would fail instead).
fn limits(sizes: impl IntoIterator<Item = u64>, floor: u64) -> Vec<u64> {
    let set: BTreeSet<u64> = sizes
        .into_iter()
        .filter(|&s| s > floor)
        .map(|s| s - 1)
        .collect();
    set.into_iter().rev().collect()
}

/// The file name of the output an error message names (`output DIR/.../NAME: ...`).
fn output_named(err: &str) -> Option<String> {
    let path = err.split(": ").find_map(|p| p.strip_prefix("output "))?;
    Some(Path::new(path).file_name()?.to_string_lossy().into_owned())
}

fn summary_disk(out: &Path) -> (u64, u64) {
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    (
        s["disk"]["spill"].as_u64().unwrap(),
        s["disk"]["band_runs"].as_u64().unwrap(),
    )
}

#[test]
fn a_full_disk_during_a_run_names_the_file_and_leaves_the_previous_outputs() {
    if !have_prlimit() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    long_ids(&dir.join("a.jsonl"), 700, 1);
    long_ids(&dir.join("b.jsonl"), 700, 2);
    // the previous run's outputs, and what the new run writes when nothing stops it
    let args = |input: &'static str, out: &'static str| {
        vec!["dedup", input, "--out", out, "-q", "--memory", "1M"]
    };
    neardup_ok(dir, &args("a.jsonl", "o"));
    neardup_ok(dir, &args("b.jsonl", "free"));
    let before = files(&dir.join("o"));
    let (spill, band_runs) = summary_disk(&dir.join("free"));
    assert!(
        band_runs > 0,
        "--memory 1M puts the band keys in runs on disk"
    );
    let written: Vec<u64> = whole_files(&dir.join("free"))
        .values()
        .map(|b| b.len() as u64)
        .collect();
    assert!(
        written.iter().any(|&s| s > spill),
        "docs.jsonl is larger than the spill, so an output fails before the spill does"
    );
    let mut named = BTreeSet::new();
    for limit in limits(written.into_iter().chain([spill, band_runs]), 4096) {
        for crash in [false, true] {
            let out = limited(dir, limit, crash, &args("b.jsonl", "o"));
            assert!(!out.status.success(), "limit {limit} crash {crash}");
            assert_eq!(
                whole_files(&dir.join("o")),
                whole_files_of(&before),
                "limit {limit} crash {crash}: the previous outputs, byte for byte"
            );
            if crash {
                continue;
            }
            assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains("file size limit hit"), "{limit}: {err}");
            assert!(err.contains("File too large"), "{limit}: {err}");
            named.insert(if err.contains("spill directory o ") {
                "spill".to_owned()
            } else {
                let at = err.find("output o/").expect("names the output file") + 9;
                err[at..].split(':').next().unwrap().to_owned()
            });
        }
    }
    assert!(
        named.contains("docs.jsonl") && named.contains("spill"),
        "both the outputs and the temporary files failed: {named:?}"
    );
    // with the limit lifted the run goes through, over the temporary files left by a kill
    neardup_ok(dir, &args("b.jsonl", "o"));
    for name in ["docs.jsonl", "clusters.jsonl"] {
        assert_eq!(
            std::fs::read(dir.join("o").join(name)).unwrap(),
            std::fs::read(dir.join("free").join(name)).unwrap(),
            "{name}"
        );
    }
}

fn whole_files_of(files: &BTreeMap<PathBuf, Vec<u8>>) -> BTreeMap<PathBuf, Vec<u8>> {
    files
        .iter()
        .filter(|(p, _)| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect()
}

/// The index's answer as `index records` prints it, and `index verify`'s first line,
/// which must succeed.
fn index_state(dir: &Path, index: &str) -> (String, String) {
    let verify = neardup_ok(dir, &["index", "verify", index]);
    let records = neardup_ok(dir, &["index", "records", index]);
    (
        String::from_utf8_lossy(&records.stdout).into_owned(),
        String::from_utf8_lossy(&verify.stdout).into_owned(),
    )
}

#[test]
fn an_index_update_that_hits_a_file_size_limit_leaves_the_previous_version() {
    if !have_prlimit() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    long_ids(&dir.join("a.jsonl"), 300, 1);
    long_ids(&dir.join("b.jsonl"), 300, 2);
    let run = |index: &'static str, input: &'static str, out: &'static str| {
        vec!["dedup", input, "--index", index, "--out", out, "-q"]
    };
    neardup_ok(dir, &run("ix", "a.jsonl", "o1"));
    let before = index_state(dir, "ix");
    // what the update writes when nothing stops it, in a copy
    neardup_ok(dir, &run("free", "a.jsonl", "f1"));
    neardup_ok(dir, &run("free", "b.jsonl", "f2"));
    let (spill, _) = summary_disk(&dir.join("f2"));
    let segment = dir.join("free/segments/s000002-000002");
    let mut sizes: Vec<u64> = whole_files(&segment)
        .values()
        .map(|b| b.len() as u64)
        .collect();
    sizes.push(spill);
    sizes.extend(
        whole_files(&dir.join("f2"))
            .values()
            .map(|b| b.len() as u64),
    );
    let mut named = BTreeSet::new();
    for limit in limits(sizes, 4096) {
        for crash in [false, true] {
            let out = limited(dir, limit, crash, &run("ix", "b.jsonl", "o2"));
            assert!(!out.status.success(), "limit {limit} crash {crash}");
            assert_eq!(
                index_state(dir, "ix").0,
                before.0,
                "limit {limit} crash {crash}: the index answers as before"
            );
            let verify = neardup_ok(dir, &["index", "verify", "ix"]);
            let text = String::from_utf8_lossy(&verify.stdout);
            assert!(text.contains("from 1 runs in 1 segments"), "{text}");
            if !crash {
                let err = stderr(&out);
                assert!(err.contains("file size limit hit"), "{limit}: {err}");
                let file = output_named(&err).unwrap_or_else(|| "spill".to_owned());
                named.insert(file);
            }
        }
    }
    // (sets.dat and bands are no larger than the spill, so it fails first; the tmpfs
    // test below fails them)
    for file in ["records", "spill", "docs.jsonl"] {
        assert!(named.contains(file), "{file} never failed: {named:?}");
    }
    // the limit lifted, the update goes through; what the kills left is an orphan that
    // verify lists and compact removes, never part of the index
    let verify = neardup_ok(dir, &["index", "verify", "ix"]);
    assert!(
        stderr(&verify).contains("is not named by the manifest"),
        "a killed run's temporary segment is listed: {}",
        stderr(&verify)
    );
    neardup_ok(dir, &run("ix", "b.jsonl", "o2"));
    neardup_ok(dir, &["index", "compact", "ix"]);
    let (records, verified) = index_state(dir, "ix");
    assert!(verified.contains("from 2 runs in 1 segments"), "{verified}");
    assert_eq!(records, index_state(dir, "free").0);
    assert_eq!(
        std::fs::read_dir(dir.join("ix/segments")).unwrap().count(),
        1,
        "compact removed the orphans"
    );
}

/// Runs `script` as root of a user and mount namespace of its own (where it may mount a
/// tmpfs of a chosen size), `None` when the system allows no such namespace.
fn in_namespace(script: &str, args: &[&Path]) -> Option<Output> {
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .args(args)
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("NO-NAMESPACE") || err.starts_with("unshare:") {
        return None;
    }
    Some(out)
}

#[test]
fn an_index_update_on_a_full_disk_leaves_the_previous_version_at_every_write() {
    // A tmpfs only as large as the index plus N pages: as N grows, the update fails at
    // each of its writes in turn (the segment's files, the outputs, the cluster table,
    // the manifest), up to the N where it fits.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    long_ids(&dir.join("a.jsonl"), 60, 1);
    long_ids(&dir.join("b.jsonl"), 60, 2);
    neardup_ok(
        dir,
        &["dedup", "a.jsonl", "--index", "ix", "--out", "o1", "-q"],
    );
    let before = index_state(dir, "ix");
    let bin = Path::new(env!("CARGO_BIN_EXE_neardup"));
    let spill = dir.join("spill");
    std::fs::create_dir(&spill).unwrap();
    // $1 the work directory, $2 the binary, $3 the spill directory, $4 pages free
    let script = r#"
        mkdir -p "$1/mnt" && mount -t tmpfs -o size=64m tmpfs "$1/mnt" || { echo NO-NAMESPACE >&2; exit 1; }
        cp -a "$1/ix" "$1/mnt/ix" && rm -f "$1/mnt/ix/LOCK"
        pages=$(( $(du -s -B4096 "$1/mnt" | cut -f1) + $4 ))
        mount -o remount,size=$(( pages * 4 ))k "$1/mnt" || exit 3
        "$2" dedup "$1/b.jsonl" --index "$1/mnt/ix" --out "$1/mnt/o2" --spill-dir "$3" -q
        echo "rc=$?"
        rm -rf "$1/after" && cp -a "$1/mnt/ix" "$1/after"
    "#;
    let mut named = BTreeSet::new();
    let mut fitted = false;
    for pages in 0..200u32 {
        let n = pages.to_string();
        let Some(out) = in_namespace(script, &[dir, bin, &spill, Path::new(&n)]) else {
            eprintln!("skipped: no user and mount namespace here to mount a small tmpfs");
            return;
        };
        let said = String::from_utf8_lossy(&out.stdout);
        let err = stderr(&out);
        assert!(said.contains("rc="), "{said}{err}");
        if said.contains("rc=0") {
            fitted = true;
            break;
        }
        assert!(said.contains("rc=2"), "{said}{err}");
        assert!(
            err.contains("the disk is full: No space left on device"),
            "{err}"
        );
        named.insert(output_named(&err).unwrap_or(err));
        assert_eq!(
            index_state(dir, "after").0,
            before.0,
            "{pages} pages free: the index answers as before"
        );
    }
    assert!(fitted, "the update fits in 200 pages");
    for file in [
        "sets.dat",
        "sets.idx",
        "bands",
        "records",
        "paragraphs",
        "docs.jsonl",
        "clusters",
        "MANIFEST",
    ] {
        assert!(named.contains(file), "{file} never failed: {named:?}");
    }
    // the version the fitting run left is the next one
    let (_, verified) = index_state(dir, "after");
    assert!(verified.contains("from 2 runs"), "{verified}");
}
