//! The catalogue of hostile and careless use, outputs and runs (docs/catalogue.md,
//! "Outputs and runs"): each test is one situation with its exact outcome.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::util::{neardup, neardup_ok};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl")
}

fn truth() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl.truth.jsonl")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("directory readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Item 7: a second run into a directory whose lock another process holds fails at once
/// with exit 2, naming that process's pid, and writes nothing.
#[test]
fn a_second_run_into_a_locked_directory_fails_naming_the_first() {
    let work = tempfile::tempdir().expect("temp dir");
    let out = work.path().join("o");
    std::fs::create_dir(&out).expect("out dir");
    let mut lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out.join(".neardup.lock"))
        .expect("lock file");
    lock.try_lock().expect("the test takes the lock first");
    writeln!(lock, "pid 4242").expect("pid written");

    let sample = sample();
    let run = neardup(
        work.path(),
        &[
            "dedup",
            sample.to_str().expect("utf-8"),
            "--out",
            "o",
            "--quiet",
        ],
    );
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let msg = stderr(&run);
    assert!(
        msg.contains("output directory o is in use by another neardup run (pid 4242)"),
        "{msg}"
    );
    assert_eq!(names(&out), [".neardup.lock"]);

    // Released, the same directory takes a run, and the lock file then names that run.
    // The lock is the open file's: a process that another test forks in the instant
    // before it execs holds a copy of every descriptor of this one, and with it the lock,
    // so a run started right after `drop` can still find it held for a moment. Such a
    // run fails whole (nothing written), so it is run again, for up to ten seconds.
    drop(lock);
    let args = [
        "dedup",
        sample.to_str().expect("utf-8"),
        "--out",
        "o",
        "--quiet",
    ];
    let mut tries = 0;
    loop {
        let run = neardup(work.path(), &args);
        if run.status.success() {
            break;
        }
        let msg = stderr(&run);
        assert!(
            msg.contains("is in use by another neardup run") && tries < 200,
            "{msg}"
        );
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(out.join(".neardup.lock")).expect("lock file");
    assert!(text.starts_with("pid "), "{text}");
    File::open(out.join("docs.jsonl")).expect("the second attempt wrote its outputs");
}

/// Item 7: `docs.jsonl` of one run beside `summary.json` of another (what interleaved
/// renames left) is refused by `report`, `eval` and `explain`, exit 2, naming the file.
#[test]
fn report_eval_and_explain_refuse_a_mixture_of_two_runs() {
    let work = tempfile::tempdir().expect("temp dir");
    let sample = sample();
    let sample = sample.to_str().expect("utf-8");
    neardup_ok(work.path(), &["dedup", sample, "--out", "a", "--quiet"]);
    neardup_ok(
        work.path(),
        &[
            "dedup",
            sample,
            "--out",
            "b",
            "--quiet",
            "--threshold",
            "0.5",
        ],
    );
    let a = work.path().join("a");
    assert_ne!(
        std::fs::read(a.join("docs.jsonl")).expect("a"),
        std::fs::read(work.path().join("b/docs.jsonl")).expect("b"),
        "the two runs must differ for the mixture to be one"
    );
    std::fs::copy(work.path().join("b/docs.jsonl"), a.join("docs.jsonl")).expect("mixed");

    let truth = truth();
    let expected = "a/docs.jsonl: does not belong to the run of a/summary.json";
    for args in [
        vec!["report", "a"],
        vec!["eval", "--truth", truth.to_str().expect("utf-8"), "a"],
        vec!["explain", "a", "d0000000", "d0000001"],
    ] {
        let run = neardup(work.path(), &args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(
            stderr(&run).contains(expected),
            "{args:?}: {}",
            stderr(&run)
        );
    }
    assert!(!a.join("report.html").exists(), "no report from a mixture");

    // The run's own file back in place, the directory is one run again.
    neardup_ok(work.path(), &["dedup", sample, "--out", "a", "--quiet"]);
    neardup_ok(work.path(), &["report", "a"]);
}

/// Calls `edit` once, when the run starts writing `clean.jsonl`: between the two passes
/// of `--emit-clean`, where a careless user (or a crawler still appending) changes an
/// input.
struct EditBeforeClean<F: Fn() + Sync> {
    edit: F,
    done: std::sync::atomic::AtomicBool,
}

impl<F: Fn() + Sync> neardup::Progress for EditBeforeClean<F> {
    fn stage(&self, name: &'static str, _total: Option<u64>) {
        if name == "clean" && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            (self.edit)();
        }
    }
}

/// Item 2: an input record edited between the two passes of `--emit-clean` (a kept
/// record's text changed, or the line made invalid JSON) is an error naming the file and
/// the line; nothing is renamed into place, so the previous run's outputs stay byte for
/// byte, and no temporary file is left.
#[test]
fn an_input_changed_between_the_passes_of_emit_clean_is_an_error_naming_its_line() {
    let work = tempfile::tempdir().expect("temp dir");
    let input = work.path().join("in.jsonl");
    let lines = [
        r#"{"id":"a","text":"the council voted on the new budget for the town library tonight"}"#,
        r#"{"id":"b","text":"the council voted on the new budget for the town library tonight"}"#,
        r#"{"id":"c","text":"a storm closed the coast road and the ferry stayed in port all day"}"#,
    ];
    std::fs::write(&input, lines.join("\n") + "\n").expect("input");
    neardup_ok(
        work.path(),
        &["dedup", "in.jsonl", "--out", "o", "--emit-clean", "--quiet"],
    );
    let out = work.path().join("o");
    let before: Vec<(String, Vec<u8>)> = names(&out)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(out.join(&n)).expect("readable");
            (n, bytes)
        })
        .collect();
    assert_eq!(
        before.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            ".neardup.lock",
            "clean.jsonl",
            "clusters.jsonl",
            "docs.jsonl",
            "summary.json"
        ]
    );

    let params = neardup::Params::default().validate().expect("defaults");
    let opts = neardup::RunOptions {
        out_dir: out.clone(),
        threads: Some(1),
        spill_dir: None,
        memory: None,
        emit_clean: true,
        output_format: neardup::OutputFormat::Jsonl,
    };
    for (third, what) in [
        (
            r#"{"id":"c","text":"a storm closed the coast road and the ferry stayed in port all week"}"#,
            "a kept record's text changed",
        ),
        (
            r#"{"id":"c","text":"a storm closed"#,
            "a kept record cut short",
        ),
    ] {
        let changed = format!("{}\n{}\n{third}\n", lines[0], lines[1]);
        std::fs::write(&input, lines.join("\n") + "\n").expect("input back");
        let progress = EditBeforeClean {
            edit: || std::fs::write(&input, &changed).expect("edited"),
            done: false.into(),
        };
        let err = neardup::run(std::slice::from_ref(&input), &params, &opts, &progress)
            .expect_err(what)
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}:3: the input changed while it was read a second time for --emit-clean: \
                 its bytes differ from the first pass",
                input.display()
            ),
            "{what}"
        );
        for (name, bytes) in before.iter().filter(|(n, _)| n != ".neardup.lock") {
            assert_eq!(
                &std::fs::read(out.join(name)).expect("still there"),
                bytes,
                "{what}: {name} untouched"
            );
        }
        assert_eq!(
            names(&out).len(),
            before.len(),
            "{what}: no temporary file left"
        );
    }
}

/// Item 8: a page crawled three times (three records with one id, one of them edited) is
/// one cluster of three; `docs.jsonl` marks two duplicates, and the report and
/// `syndication.csv` count and list both copies (members are told apart by their place,
/// never by their id).
#[test]
fn copies_sharing_their_originals_id_are_all_counted_and_listed() {
    let work = tempfile::tempdir().expect("temp dir");
    let story = "the harbour board met on monday to discuss the dredging of the old channel \
                 and agreed to publish the survey before the winter storms arrive at the coast";
    let other = "a rare orchid flowered in the botanic garden glasshouse for the first time in \
                 forty years drawing crowds of photographers and curious schoolchildren";
    let line = |id: &str, date: &str, text: &str| {
        format!(r#"{{"id":"{id}","outlet":"Dispatch","date":"{date}","text":"{text}"}}"#)
    };
    let jsonl = [
        line("page", "2024-05-01", story),
        line("other", "2024-05-01", other),
        line("page", "2024-05-02", story),
        line("page", "2024-05-03", &format!("{story} more")),
    ]
    .join("\n")
        + "\n";
    std::fs::write(work.path().join("crawl.jsonl"), jsonl).expect("input");
    let run = neardup_ok(
        work.path(),
        &["dedup", "crawl.jsonl", "--out", "o", "--report", "--quiet"],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("2 duplicates marked; 2 kept"), "{stdout}");
    assert!(
        stdout.contains("report: 1 clusters (1 shown), 2 copies;"),
        "{stdout}"
    );
    let out = work.path().join("o");
    let csv = std::fs::read_to_string(out.join("syndication.csv")).expect("csv");
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(8).collect())
        .collect();
    assert_eq!(
        rows,
        [
            [
                "0",
                "page",
                "Dispatch",
                "2024-05-01",
                "page",
                "Dispatch",
                "2024-05-02",
                "identical"
            ],
            [
                "0",
                "page",
                "Dispatch",
                "2024-05-01",
                "page",
                "Dispatch",
                "2024-05-03",
                "near-identical"
            ],
        ]
    );
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains("| duplicates (copies) | 2 |"), "{md}");
    assert!(
        md.contains("| page | Dispatch | 2024-05-02 | identical |")
            && md.contains("| page | Dispatch | 2024-05-03 | near-identical |"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert_eq!(html.matches("<details class=\"copy\"").count(), 2);
    assert_eq!(html.matches("<tr class=\"original\"").count(), 1);
    // both copies side by side with the original, every text read back
    assert_eq!(html.matches("class=\"sbs\"").count(), 2);
    assert_eq!(html.matches("harbour board").count(), 4);
    assert!(!html.contains("Notices"));
}

/// Items 1 and 9: an input inside `--out`, or `--out` inside an input directory, is
/// refused before anything is read or created (exit 2), however the paths are spelled:
/// relative or absolute, with `./`, through a link, with a name that is not UTF-8.
#[cfg(unix)]
#[test]
fn inputs_and_outputs_never_overlap() {
    use std::os::unix::ffi::OsStrExt;
    let work = tempfile::tempdir().expect("temp dir");
    let w = work.path();
    let d = w.join("d");
    std::fs::create_dir(&d).expect("d");
    std::fs::copy(sample(), d.join("clean.jsonl")).expect("copy");
    std::fs::copy(sample(), d.join("docs.jsonl")).expect("copy");
    std::os::unix::fs::symlink("d", w.join("link")).expect("link");
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::create_dir(w.join(latin1)).expect("non-UTF-8 dir");
    std::fs::copy(sample(), w.join(latin1).join("in.jsonl")).expect("copy");
    let sample_bytes = std::fs::read(sample()).expect("sample");
    let abs_d = d.to_str().expect("utf-8").to_owned();

    let inside_out = |input: &str, out: &str| {
        format!(
            "neardup: error: the input {input} lies inside the output directory {out}, where \
             a run writes, replaces and removes files; choose an --out that holds no input \
             and lies in no input directory\n"
        )
    };
    let out_inside = |out: &str, dir: &str| {
        format!(
            "neardup: error: the output directory {out} lies inside the input directory {dir}, \
             which is read whole: a later run would read this run's outputs as input; choose \
             an --out that holds no input and lies in no input directory\n"
        )
    };
    let cases: Vec<(Vec<std::ffi::OsString>, String)> = vec![
        // the issue's case: the input would have been removed as a stale clean.jsonl
        (
            vec!["d/clean.jsonl".into(), "--out".into(), "d".into()],
            inside_out("d/clean.jsonl", "d"),
        ),
        // an input called docs.jsonl, `./` on one side only
        (
            vec!["d/docs.jsonl".into(), "--out".into(), "./d/".into()],
            inside_out("d/docs.jsonl", "./d/"),
        ),
        // through a link, absolute against relative
        (
            vec![
                "link/clean.jsonl".into(),
                "--out".into(),
                abs_d.clone().into(),
            ],
            inside_out("link/clean.jsonl", &abs_d),
        ),
        // --out in the directory scanned, not yet created
        (
            vec!["d".into(), "--out".into(), "d/out".into()],
            out_inside("d/out", "d"),
        ),
        (
            vec!["link".into(), "--out".into(), "d".into()],
            out_inside("d", "link"),
        ),
        // a name that is not UTF-8, written escaped
        (
            vec![
                w.join(latin1).join("in.jsonl").into_os_string(),
                "--out".into(),
                latin1.into(),
            ],
            inside_out(
                &format!("{}/caf\\xE9/in.jsonl", w.to_str().expect("utf-8")),
                "caf\\xE9",
            ),
        ),
    ];
    for (args, expected) in cases {
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_neardup"))
            .current_dir(w)
            .arg("dedup")
            .args(&args)
            .arg("--quiet")
            .output()
            .expect("runs");
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert_eq!(stderr(&run), expected, "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}");
        // nothing created, nothing touched
        assert_eq!(names(&d), ["clean.jsonl", "docs.jsonl"], "{args:?}");
        assert_eq!(
            std::fs::read(d.join("clean.jsonl")).expect("kept"),
            sample_bytes
        );
        assert_eq!(
            std::fs::read(d.join("docs.jsonl")).expect("kept"),
            sample_bytes
        );
        assert_eq!(names(&w.join(latin1)), ["in.jsonl"], "{args:?}");
    }
    // beside each other, the same inputs are read
    neardup_ok(w, &["dedup", "d/clean.jsonl", "--out", "o", "--quiet"]);
}

/// Item 9: a run removes every optional output an earlier run left that it does not
/// write itself (`clean.jsonl`, `report.html`, `report.md`, `syndication.csv`), by one
/// rule; a run that writes them replaces them.
#[test]
fn a_rerun_removes_the_optional_outputs_it_does_not_write() {
    let work = tempfile::tempdir().expect("temp dir");
    let sample = sample();
    let sample = sample.to_str().expect("utf-8");
    let all = [
        ".neardup.lock",
        "clean.jsonl",
        "clusters.jsonl",
        "docs.jsonl",
        "report.html",
        "report.md",
        "summary.json",
        "syndication.csv",
    ];
    let base = [
        ".neardup.lock",
        "clusters.jsonl",
        "docs.jsonl",
        "summary.json",
    ];
    let out = work.path().join("o");
    let run = |extra: &[&str]| {
        let mut args = vec!["dedup", sample, "--out", "o", "--quiet"];
        args.extend_from_slice(extra);
        neardup_ok(work.path(), &args);
    };
    run(&["--emit-clean", "--report"]);
    assert_eq!(names(&out), all);
    run(&[]);
    assert_eq!(names(&out), base);
    run(&["--report"]);
    assert_eq!(
        names(&out),
        [
            ".neardup.lock",
            "clusters.jsonl",
            "docs.jsonl",
            "report.html",
            "report.md",
            "summary.json",
            "syndication.csv"
        ]
    );
    run(&["--emit-clean"]);
    assert_eq!(
        names(&out),
        [
            ".neardup.lock",
            "clean.jsonl",
            "clusters.jsonl",
            "docs.jsonl",
            "summary.json"
        ]
    );
}

/// Item 13: each message names the real problem once: `--out` naming a file, a spill
/// directory that cannot be used, a missing input (which creates nothing), a config file
/// that is a JSON array or has an array for a section, and the documented maximum of
/// `--max-doc-bytes` (accepted; one more is refused).
#[test]
fn messages_and_config_name_the_real_problem_once() {
    let work = tempfile::tempdir().expect("temp dir");
    let w = work.path();
    let sample = sample();
    let sample = sample.to_str().expect("utf-8");
    std::fs::write(w.join("afile"), "not a directory\n").expect("file");
    std::fs::write(w.join("arr.json"), "[{\"threshold\": 0.5}]\n").expect("config");
    std::fs::write(w.join("sec.json"), "{\"lsh\": [0.5]}\n").expect("config");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--out", "afile"],
            "output afile: it is a file, not a directory (--out names the directory the \
             outputs go into)",
        ),
        (
            &["--out", "o", "--spill-dir", "afile"],
            "spill directory afile (the run's temporary files, --spill-dir): Not a directory \
             (os error 20)",
        ),
        (
            &["nothere.jsonl", "--out", "missing"],
            "nothere.jsonl: No such file or directory (os error 2)",
        ),
        (
            &["--out", "c1", "--config", "arr.json"],
            "config file arr.json: must be a JSON object of parameter sections ({\"lsh\": \
             {...}, ...}), not an array",
        ),
        (
            &["--out", "c2", "--config", "sec.json"],
            "config file sec.json: section `lsh` must be a JSON object of parameters, not an \
             array",
        ),
        (
            &["--out", "big", "--max-doc-bytes", "4294836224"],
            "invalid parameter `input.max_doc_bytes`: must be between 1 and 4294836223 (4 GiB \
             - 128 KiB - 1)",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["dedup"];
        if args[0] != "nothere.jsonl" {
            all.push(sample);
        }
        all.extend_from_slice(args);
        all.push("--quiet");
        let run = neardup(w, &all);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert_eq!(
            stderr(&run),
            format!("neardup: error: {expected}\n"),
            "{args:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(w.join("afile")).expect("file"),
        "not a directory\n"
    );
    for never in ["missing", "c1", "c2", "big"] {
        assert!(!w.join(never).exists(), "{never} was created");
    }
    // the documented maximum itself is accepted
    neardup_ok(
        w,
        &[
            "dedup",
            sample,
            "--out",
            "big",
            "--max-doc-bytes",
            "4294836223",
            "--quiet",
        ],
    );
}

/// A Parquet file of `ids` and `texts` (and, with `extra`, an integer column `n`).
#[cfg(feature = "columnar")]
fn write_rows(path: &Path, ids: &[&str], texts: &[&str], extra: bool) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(StringArray::from_iter_values(ids))),
        ("text", Arc::new(StringArray::from_iter_values(texts))),
    ];
    if extra {
        columns.push((
            "n",
            Arc::new(Int64Array::from_iter_values(
                0..i64::try_from(ids.len()).expect("few"),
            )),
        ));
    }
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        File::create(path).expect("create"),
        batch.schema(),
        None,
    )
    .expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

/// Issue 15: `--emit-clean` writes the rows of every Parquet and Arrow input into one
/// `clean.parquet` in their schema; inputs of two schemas are refused before anything is
/// read or written, naming both files and their columns.
#[cfg(feature = "columnar")]
#[test]
fn emit_clean_over_parquet_inputs_of_two_schemas_is_refused_before_the_run() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    write_rows(&dir.join("a.parquet"), &["a"], &["one text"], false);
    write_rows(&dir.join("b.parquet"), &["b"], &["another text"], true);
    let out = neardup(
        dir,
        &[
            "dedup",
            "a.parquet",
            "b.parquet",
            "--out",
            "o",
            "--emit-clean",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "neardup: error: b.parquet: --emit-clean writes the rows of every Parquet and Arrow \
         input into one clean.parquet, in their schema, and this file's columns (id Utf8 not \
         null, text Utf8 not null, n Int64 not null) differ from those of a.parquet (id Utf8 \
         not null, text Utf8 not null): clean inputs of different schemas in separate runs"
    );
    assert!(!dir.join("o").exists(), "nothing written");
    // without --emit-clean they are read together
    neardup_ok(
        dir,
        &["dedup", "a.parquet", "b.parquet", "--out", "o", "--quiet"],
    );
}

/// Issue 15: a Parquet row edited between the two passes of `--emit-clean` is an error
/// naming the file and the row, as a JSONL line is; nothing is renamed into place.
#[cfg(feature = "columnar")]
#[test]
fn a_parquet_row_changed_between_the_passes_of_emit_clean_is_an_error_naming_its_row() {
    let work = tempfile::tempdir().expect("temp dir");
    let input = work.path().join("in.parquet");
    let ids = ["a", "b", "c"];
    let texts = [
        "the council voted on the new budget for the town library tonight",
        "the council voted on the new budget for the town library tonight",
        "a storm closed the coast road and the ferry stayed in port all day",
    ];
    write_rows(&input, &ids, &texts, true);
    let params = neardup::Params::default().validate().expect("defaults");
    let opts = neardup::RunOptions {
        out_dir: work.path().join("o"),
        threads: Some(1),
        spill_dir: None,
        memory: None,
        emit_clean: true,
        output_format: neardup::OutputFormat::Jsonl,
    };
    let mut edited = texts;
    edited[2] = "a storm closed the coast road and the ferry stayed in port all week";
    let progress = EditBeforeClean {
        edit: || write_rows(&input, &ids, &edited, true),
        done: false.into(),
    };
    let err = neardup::run(std::slice::from_ref(&input), &params, &opts, &progress)
        .expect_err("a kept row changed")
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}: row 2: the input changed while it was read a second time for --emit-clean: \
             its bytes differ from the first pass",
            input.display()
        )
    );
    assert_eq!(names(&work.path().join("o")), [".neardup.lock"]);
}
