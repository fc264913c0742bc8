//! The real binary on golden cases: `tests/golden/<case>/` holds `args` (one argument a
//! line), the inputs, and `expected/` (the output files, `stdout`, `stderr`, `exit`).
//! Run with `NEARDUP_BLESS=1` to rewrite `expected/` after a deliberate change, then
//! review the diff.

use std::path::{Path, PathBuf};

use crate::util::{neardup, read_stable};

const OUTPUTS: [&str; 3] = ["docs.jsonl", "clusters.jsonl", "summary.json"];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// stdout/stderr with the run time blanked.
fn stable_text(s: &[u8]) -> String {
    let text = String::from_utf8_lossy(s).into_owned();
    text.lines()
        .map(|l| match l.rfind("; ") {
            Some(i) if l.ends_with(" s") => format!("{}; <seconds>", &l[..i]),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn golden(case: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case);
    let work = tempfile::tempdir().unwrap();
    copy_dir(&root, work.path());
    let args: Vec<String> = std::fs::read_to_string(root.join("args"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = neardup(work.path(), &args);
    let mut actual: Vec<(String, String)> = vec![
        (
            "exit".into(),
            format!("{}\n", out.status.code().unwrap_or(-1)),
        ),
        ("stdout".into(), stable_text(&out.stdout)),
        ("stderr".into(), stable_text(&out.stderr)),
    ];
    for name in OUTPUTS {
        let p = work.path().join("out").join(name);
        if p.exists() {
            actual.push((name.into(), read_stable(&p)));
        }
    }
    let expected_dir = root.join("expected");
    if std::env::var_os("NEARDUP_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&expected_dir);
        std::fs::create_dir_all(&expected_dir).unwrap();
        for (name, text) in &actual {
            std::fs::write(expected_dir.join(name), text).unwrap();
        }
        return;
    }
    let mut expected_names: Vec<String> = std::fs::read_dir(&expected_dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with NEARDUP_BLESS=1 to create)",
                expected_dir.display()
            )
        })
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    expected_names.sort();
    let mut actual_names: Vec<String> = actual.iter().map(|(n, _)| n.clone()).collect();
    actual_names.sort();
    assert_eq!(
        actual_names, expected_names,
        "{case}: set of outputs differs"
    );
    for (name, text) in &actual {
        let want = std::fs::read_to_string(expected_dir.join(name)).unwrap();
        assert_eq!(text, &want, "{case}/{name} differs from the golden file");
    }
}

#[test]
fn golden_basic_jsonl_with_bad_records() {
    golden("basic");
}

#[test]
fn golden_text_directory() {
    golden("textdir");
}

#[test]
fn golden_stop_on_first_bad_record() {
    golden("stop");
}

#[test]
fn no_partial_outputs_when_stopping() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("in.jsonl"),
        "{\"id\":\"a\",\"text\":\"fine\"}\nnot json\n",
    )
    .unwrap();
    let out = neardup(
        work.path(),
        &["dedup", "in.jsonl", "--out", "out", "--on-error", "stop"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in.jsonl:2: invalid_json"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(work.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn unwritable_output_directory_is_an_error_naming_it() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("in.jsonl"),
        "{\"id\":\"a\",\"text\":\"fine\"}\n",
    )
    .unwrap();
    std::fs::write(
        work.path().join("blocker"),
        "a file where the output directory should go",
    )
    .unwrap();
    let out = neardup(work.path(), &["dedup", "in.jsonl", "--out", "blocker/out"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("blocker/out"));
}

#[test]
fn stdin_input_and_invalid_parameters() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let work = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(work.path())
        .args(["dedup", "-", "--out", "out", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"id\":\"x\",\"text\":\"one two three four five six\"}\n{\"id\":\"y\",\"text\":\"One two three, four five six!\"}\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let docs = std::fs::read_to_string(work.path().join("out/docs.jsonl")).unwrap();
    assert!(
        docs.contains(r#""id":"y","cluster":0,"keep":false,"duplicate_of":"x","similarity":1.0"#),
        "{docs}"
    );

    let bad = neardup(
        work.path(),
        &["dedup", "-", "--out", "out2", "--threshold", "1.5"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lsh.threshold"));
}

#[test]
fn a_signal_mid_run_keeps_the_previous_outputs_and_exits_non_zero() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let work = tempfile::tempdir().unwrap();
    let record = |i: usize| {
        format!("{{\"id\":\"r{i}\",\"text\":\"record number {i} with a few words of text\"}}\n")
    };
    std::fs::write(
        work.path().join("in.jsonl"),
        (0..50).map(record).collect::<String>(),
    )
    .unwrap();
    assert!(
        neardup(
            work.path(),
            &["dedup", "in.jsonl", "--out", "out", "--quiet"]
        )
        .status
        .success()
    );
    let before = std::fs::read_to_string(work.path().join("out/docs.jsonl")).unwrap();

    // a second run into the same directory, stopped while it waits for more input
    let mut child = Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(work.path())
        .args(["dedup", "-", "--out", "out", "--quiet"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all((0..3000).map(record).collect::<String>().as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert_eq!(
        std::fs::read_to_string(work.path().join("out/docs.jsonl")).unwrap(),
        before
    );
    let mut names: Vec<String> = std::fs::read_dir(work.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["clusters.jsonl", "docs.jsonl", "summary.json"],
        "no temporary file left behind"
    );
}

#[test]
fn a_cancelled_run_returns_interrupted_and_writes_nothing() {
    use std::sync::atomic::{AtomicU64, Ordering};
    struct CancelAfter(AtomicU64);
    impl neardup::Progress for CancelAfter {
        fn advance(&self, n: u64) {
            self.0.fetch_add(n, Ordering::SeqCst);
        }
        fn cancelled(&self) -> bool {
            self.0.load(Ordering::SeqCst) >= 2048
        }
    }
    let work = tempfile::tempdir().unwrap();
    let corpus = crate::util::small_corpus(6000, 1);
    crate::util::write_jsonl(&work.path().join("c.jsonl"), &corpus);
    let params = neardup::Params::default().validate().unwrap();
    let opts = neardup::RunOptions {
        out_dir: work.path().join("out"),
        threads: Some(2),
        spill_dir: None,
        emit_clean: false,
    };
    let err = neardup::run(
        &[work.path().join("c.jsonl")],
        &params,
        &opts,
        &CancelAfter(AtomicU64::new(0)),
    )
    .unwrap_err();
    assert!(matches!(err, neardup::Error::Interrupted), "{err}");
    assert_eq!(
        std::fs::read_dir(work.path().join("out")).unwrap().count(),
        0
    );
}
