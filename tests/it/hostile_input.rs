//! The catalogue of hostile and careless use, input (docs/catalogue.md, "Input"): each test
//! is one situation of issue 13 with its exact outcome: exit code, message, statuses,
//! counts, files left.

#![cfg(unix)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{neardup, neardup_ok};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl")
}

fn sample_str() -> String {
    sample().to_str().expect("a UTF-8 checkout").to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn summary(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

fn docs(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("docs.jsonl"))
        .expect("docs.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// docs.jsonl without the `file` of each line: what two runs on the same records share
/// whatever the input was called.
fn docs_without_file(out: &Path) -> Vec<Value> {
    docs(out)
        .into_iter()
        .map(|mut d| {
            d.as_object_mut().expect("an object").remove("file");
            d
        })
        .collect()
}

/// The run of the sample as a plain file, to compare the other ways of reading it with.
fn plain_run(work: &Path) -> PathBuf {
    neardup_ok(work, &["dedup", &sample_str(), "--out", "plain", "--quiet"]);
    work.join("plain")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Waits for `child`, killing it and failing after a minute: a watchdog for the runs that
/// used to block for ever, not a timing assertion.
fn finish(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("the child can be polled").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("the child can be killed");
            panic!("{what} still running after a minute: it blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("the child's output")
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the neardup binary starts")
}

/// Item 3: file names that are not UTF-8 are read, given distinct ids and written escaped
/// (`\xNN`), with their exact bytes in summary.json; `explain` reads their texts back, and
/// so it does for a run started in a directory whose name is not UTF-8.
#[test]
fn names_that_are_not_utf8_are_read_written_escaped_and_read_back() {
    let work = tempfile::tempdir().expect("temp dir");
    let odd = work.path().join(OsStr::from_bytes(b"w\xff"));
    let d = odd.join("d");
    std::fs::create_dir_all(&d).expect("dirs");
    let text = "The city council voted on Thursday to expand the northern tram line by four \
                stations, a project that planners say will cut commuting times.";
    std::fs::write(d.join(OsStr::from_bytes(b"caf\xe9.txt")), text).expect("written");
    std::fs::write(
        d.join(OsStr::from_bytes(b"caf\xe8.txt")),
        format!("{text} Today."),
    )
    .expect("written");

    let run = neardup(&odd, &["dedup", "d", "--out", "o", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let out = odd.join("o");
    let lines: Vec<(String, String, bool)> = docs(&out)
        .iter()
        .map(|d| {
            (
                d["id"].as_str().expect("id").to_owned(),
                d["file"].as_str().expect("file").to_owned(),
                d["keep"].as_bool().expect("keep"),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("caf\\xE8.txt".into(), "d/caf\\xE8.txt".into(), true),
            ("caf\\xE9.txt".into(), "d/caf\\xE9.txt".into(), false),
        ]
    );
    let s = summary(&out);
    assert_eq!(s["inputs"][1]["path"], "d/caf\\xE9.txt");
    assert_eq!(s["inputs"][1]["path_hex"], "642f636166e92e747874");
    assert_eq!(
        s["working_dir_hex"].as_str().map(|h| h.ends_with("77ff")),
        Some(true)
    );
    assert!(
        s["working_dir"]
            .as_str()
            .expect("text")
            .ends_with("/w\\xFF")
    );
    assert!(s["inputs"][0].get("error").expect("error field").is_null());

    // explain, from another directory, reopens both files by their exact bytes
    let explain = Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(work.path())
        .arg("explain")
        .arg(&out)
        .args(["caf\\xE8.txt", "caf\\xE9.txt"])
        .output()
        .expect("runs");
    assert_eq!(explain.status.code(), Some(0), "{}", stderr(&explain));
    let said = stdout(&explain);
    assert!(said.contains("compared (cleaned): Jaccard 0.9"), "{said}");
    assert!(!said.contains("unavailable"), "{said}");
}

/// Item 4: zstd that starts with a skippable frame (what pzstd writes) and holds several
/// frames is decompressed, from a file and from standard input: the 1,000 records of the
/// sample, the same docs.jsonl as the plain file.
#[test]
fn zstd_with_a_skippable_frame_first_is_decompressed_from_a_file_and_stdin() {
    let work = tempfile::tempdir().expect("temp dir");
    let plain = plain_run(work.path());
    let body = std::fs::read(sample()).expect("sample");
    let cut = body.len() / 2;
    let mut zst = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 0, 0, 0, 0];
    zst.extend(zstd::encode_all(&body[..cut], 3).expect("compressed"));
    zst.extend(zstd::encode_all(&body[cut..], 3).expect("compressed"));
    std::fs::write(work.path().join("s.jsonl.zst"), &zst).expect("written");

    neardup_ok(
        work.path(),
        &["dedup", "s.jsonl.zst", "--out", "z", "--quiet"],
    );
    let z = work.path().join("z");
    assert_eq!(summary(&z)["counts"]["records"], 1000);
    assert_eq!(summary(&z)["inputs"][0]["bytes"], body.len());
    assert_eq!(docs_without_file(&z), docs_without_file(&plain));

    let mut child = Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(work.path())
        .args(["dedup", "-", "--out", "zin", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut input = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || input.write_all(&zst));
    let run = finish(child, "dedup -");
    writer.join().expect("writer").expect("written");
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(
        docs_without_file(&work.path().join("zin")),
        docs_without_file(&plain)
    );
}

/// Item 5: a dangling link, a link loop, a FIFO and a socket inside a directory. Under
/// `--on-error skip` the run reads the rest and accounts for each entry; under `stop` the
/// first entry in error ends it with exit 2 and no outputs. The FIFO is never opened.
#[test]
fn bad_directory_entries_are_errors_for_themselves_and_special_files_are_skipped() {
    let work = tempfile::tempdir().expect("temp dir");
    let d = work.path().join("d");
    std::fs::create_dir(&d).expect("dir");
    std::fs::copy(sample(), d.join("a.jsonl")).expect("copied");
    symlink("/nonexistent/neardup", d.join("dangling")).expect("link");
    symlink(".", d.join("loop")).expect("link");
    mkfifo(&d.join("pipe"));
    let _socket = std::os::unix::net::UnixListener::bind(d.join("sock")).expect("socket");

    let run = neardup(work.path(), &["dedup", "d", "--out", "o"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let warned = stderr(&run);
    for message in [
        "warning: d/dangling: a dangling symbolic link: /nonexistent/neardup does not exist",
        "warning: d/loop: a symbolic link loop: it leads back to d",
        "warning: d/pipe: a FIFO (named pipe) inside a directory is not read (name it \
         directly to read it)",
        "warning: d/sock: a socket inside a directory is not read (name it directly to read \
         it)",
    ] {
        assert!(warned.contains(message), "{message}\n{warned}");
    }
    let s = summary(&work.path().join("o"));
    assert_eq!(s["counts"]["records"], 1000);
    assert_eq!(
        s["counts"]["input_errors"],
        serde_json::json!({"dangling_link": 1, "link_loop": 1})
    );
    assert_eq!(
        s["counts"]["inputs_skipped"],
        serde_json::json!({"fifo": 1, "socket": 1})
    );
    let unread: Vec<(&str, &str)> = s["unread_inputs"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| {
            (
                u["path"].as_str().expect("path"),
                u["reason"].as_str().expect("reason"),
            )
        })
        .collect();
    assert_eq!(
        unread,
        [
            ("d/dangling", "dangling_link"),
            ("d/loop", "link_loop"),
            ("d/pipe", "fifo"),
            ("d/sock", "socket"),
        ]
    );
    assert_eq!(s["inputs"].as_array().map(Vec::len), Some(1));

    let stop = neardup(
        work.path(),
        &[
            "dedup",
            "d",
            "--out",
            "stopped",
            "--on-error",
            "stop",
            "--quiet",
        ],
    );
    assert_eq!(stop.status.code(), Some(2));
    assert_eq!(
        stderr(&stop),
        "neardup: error: d/dangling: a dangling symbolic link: /nonexistent/neardup does not \
         exist\n"
    );
    assert!(!work.path().join("stopped/docs.jsonl").exists());
    assert!(!work.path().join("stopped/summary.json").exists());
}

/// Item 6: a FIFO named directly (no .jsonl name, so its first byte decides), `/dev/stdin`
/// fed by a pipe and `<(...)` are read whole, once: the same records as the file.
#[test]
fn pipes_fifos_dev_stdin_and_process_substitution_are_read_whole() {
    let work = tempfile::tempdir().expect("temp dir");
    let plain = plain_run(work.path());
    let body = std::fs::read(sample()).expect("sample");

    let fifo = work.path().join("f");
    mkfifo(&fifo);
    let child = spawn(work.path(), &["dedup", "f", "--out", "of", "--quiet"]);
    let feed = body.clone();
    let writer = std::thread::spawn(move || std::fs::write(&fifo, feed));
    let run = finish(child, "dedup on a FIFO");
    writer.join().expect("writer").expect("the FIFO was read");
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(
        docs_without_file(&work.path().join("of")),
        docs_without_file(&plain)
    );
    assert_eq!(
        summary(&work.path().join("of"))["inputs"][0]["bytes"],
        body.len()
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(work.path())
        .args(["dedup", "/dev/stdin", "--out", "od", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut input = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || input.write_all(&body));
    let run = finish(child, "dedup /dev/stdin");
    writer.join().expect("writer").expect("written");
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(
        docs_without_file(&work.path().join("od")),
        docs_without_file(&plain)
    );

    let script = format!(
        "exec {:?} dedup <(cat {:?}) --out op --quiet",
        env!("CARGO_BIN_EXE_neardup"),
        sample_str()
    );
    let child = Command::new("bash")
        .current_dir(work.path())
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let run = finish(child, "dedup <(...)");
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(
        docs_without_file(&work.path().join("op")),
        docs_without_file(&plain)
    );
}

/// Item 6: on a finished run whose input was a FIFO (now without a writer), `explain`,
/// `eval` and `report` do not open it: they say its texts are not available and finish;
/// `--emit-clean` refuses a FIFO before writing anything.
#[test]
fn explain_eval_and_report_never_block_on_a_fifo_input() {
    let work = tempfile::tempdir().expect("temp dir");
    let fifo = work.path().join("f");
    mkfifo(&fifo);
    let child = spawn(work.path(), &["dedup", "f", "--out", "o", "--quiet"]);
    let feed = std::fs::read(sample()).expect("sample");
    let writer = std::thread::spawn(move || std::fs::write(&fifo, feed));
    let run = finish(child, "dedup on a FIFO");
    writer.join().expect("writer").expect("the FIFO was read");
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let copy = docs(&work.path().join("o"))
        .into_iter()
        .find(|d| d["keep"] == false)
        .expect("the sample has copies");
    let (a, b) = (
        copy["duplicate_of"].as_str().expect("original").to_owned(),
        copy["id"].as_str().expect("id").to_owned(),
    );
    let unavailable = "f: not a regular file (a pipe, a FIFO or a device), so it cannot be \
                       read again";

    let explain = finish(spawn(work.path(), &["explain", "o", &a, &b]), "explain");
    assert_eq!(explain.status.code(), Some(0), "{}", stderr(&explain));
    assert!(
        stdout(&explain).contains(&format!("no similarity: {unavailable}")),
        "{}",
        stdout(&explain)
    );

    let truth = format!("{}.truth.jsonl", sample_str());
    let eval = finish(
        spawn(work.path(), &["eval", "--truth", &truth, "o"]),
        "eval",
    );
    assert_eq!(eval.status.code(), Some(0), "{}", stderr(&eval));
    assert!(
        stdout(&eval).contains(&format!("no similarity columns: {unavailable}")),
        "{}",
        stdout(&eval)
    );

    let report = finish(spawn(work.path(), &["report", "o"]), "report");
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let notice = "Input f is not a regular file (a pipe, a FIFO or a device), which cannot be \
                  read again: texts of its records are not shown.";
    assert!(stderr(&report).contains(notice), "{}", stderr(&report));
    let md = std::fs::read_to_string(work.path().join("o/report.md")).expect("report.md");
    assert!(md.contains(notice));

    let clean = neardup(
        work.path(),
        &["dedup", "f", "--out", "clean", "--emit-clean", "--quiet"],
    );
    assert_eq!(clean.status.code(), Some(2));
    assert_eq!(
        stderr(&clean),
        "neardup: error: invalid parameter `emit_clean`: --emit-clean reads the inputs twice; \
         f cannot be read twice (it is standard input, a pipe, a FIFO or a device)\n"
    );
    assert!(!work.path().join("clean").exists());
}

/// Item 12: documents of one shingle at `--num-perm 4096` (once O(num_perm²) each) are
/// sketched like any other: identical ones cluster, distinct ones do not.
#[test]
fn one_shingle_documents_at_a_large_num_perm() {
    let work = tempfile::tempdir().expect("temp dir");
    let mut lines = String::new();
    for i in 0..300 {
        // every third document has a twin
        let word = format!("token{}", i - i % 3 * usize::from(i % 3 == 1));
        writeln!(lines, "{{\"id\":\"{i}\",\"text\":\"{word}\"}}").expect("to a String");
    }
    std::fs::write(work.path().join("one.jsonl"), lines).expect("written");
    neardup_ok(
        work.path(),
        &[
            "dedup",
            "one.jsonl",
            "--out",
            "o",
            "--num-perm",
            "4096",
            "--paragraphs",
            "off",
            "--quiet",
        ],
    );
    let s = summary(&work.path().join("o"));
    assert_eq!(s["counts"]["compared"], 300);
    assert_eq!(s["counts"]["clusters"], 100);
    assert_eq!(s["counts"]["duplicates"], 100);
}

/// Item 12: a document of 1,500 long paragraphs with `--repeat-max-hamming 64` (every pair
/// a candidate) gives exactly its planted repeats; and `--threads 5000` is lowered with a
/// warning, the outputs those of one thread.
#[test]
fn the_near_repeat_search_and_threads_are_bounded_with_the_same_answers() {
    let work = tempfile::tempdir().expect("temp dir");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut word = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        format!("w{}", x % 5000)
    };
    let mut paragraphs: Vec<String> = Vec::new();
    for i in 0..1500 {
        if i % 100 == 99 {
            // a near repeat of the paragraph 50 before: one word changed
            let mut words: Vec<&str> = paragraphs[i - 50].split(' ').collect();
            words[3] = "changed";
            paragraphs.push(words.join(" "));
        } else {
            paragraphs.push((0..120).map(|_| word()).collect::<Vec<_>>().join(" "));
        }
    }
    let doc = serde_json::json!({"id": "big", "text": paragraphs.join("\n\n")});
    std::fs::write(work.path().join("big.jsonl"), format!("{doc}\n")).expect("written");
    neardup_ok(
        work.path(),
        &[
            "dedup",
            "big.jsonl",
            "--out",
            "o",
            "--repeat-max-hamming",
            "64",
            "--quiet",
        ],
    );
    let repeats: Vec<(u64, u64)> = docs(&work.path().join("o"))[0]["repeats"]
        .as_array()
        .expect("repeats")
        .iter()
        .map(|r| {
            (
                r["paragraph"].as_u64().expect("n"),
                r["copy_of"].as_u64().expect("n"),
            )
        })
        .collect();
    let planted: Vec<(u64, u64)> = (0..15).map(|k| (100 * k + 99, 100 * k + 49)).collect();
    assert_eq!(repeats, planted);

    let one = neardup_ok(
        work.path(),
        &[
            "dedup",
            &sample_str(),
            "--out",
            "t1",
            "--threads",
            "1",
            "--quiet",
        ],
    );
    drop(one);
    let many = neardup(
        work.path(),
        &[
            "dedup",
            &sample_str(),
            "--out",
            "tmany",
            "--threads",
            "5000",
        ],
    );
    assert_eq!(many.status.code(), Some(0), "{}", stderr(&many));
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let lowered = format!(
        "warning: --threads 5000: using {} threads, four per available core (at most 1024)",
        (4 * cores).min(1024)
    );
    assert!(stderr(&many).contains(&lowered), "{}", stderr(&many));
    let s = summary(&work.path().join("tmany"));
    assert_eq!(s["warnings"][0].as_str(), lowered.strip_prefix("warning: "));
    for name in ["docs.jsonl", "clusters.jsonl"] {
        assert_eq!(
            std::fs::read(work.path().join("t1").join(name)).expect("written"),
            std::fs::read(work.path().join("tmany").join(name)).expect("written"),
            "{name}"
        );
    }
}

/// Item 10: dates the calendar does not have (`0000-00-00 00:00:00`, `2024-99-99`,
/// `2024-02-30`) and numbers in the date field are counted in `dates_not_iso` and ignored
/// for choosing the original; a real leap day counts.
#[test]
fn placeholder_impossible_and_numeric_dates_are_counted_and_never_choose_the_original() {
    let work = tempfile::tempdir().expect("temp dir");
    let text = |topic: &str| match topic {
        "placeholder" => {
            "the harbour board met on monday to discuss the dredging of the old channel and \
             agreed to publish the survey before the winter storms arrive"
        }
        "impossible" => {
            "a rare orchid flowered in the botanic garden glasshouse for the first time in \
             forty years drawing crowds of photographers and curious schoolchildren"
        }
        "february" => {
            "the county cricket club signed a young fast bowler from the northern league \
             after a season in which he took sixty wickets at a remarkable average"
        }
        "numeric" => {
            "engineers finished replacing the rusted bearings of the swing bridge three \
             weeks early and traffic across the estuary returned to normal on friday"
        }
        _ => {
            "volunteers counted nine hundred wading birds on the mudflats during the annual \
             census including a pair of spoonbills not seen here since the drought summer"
        }
    };
    let mut jsonl = String::new();
    for (id, date, topic) in [
        ("p1", r#""0000-00-00 00:00:00""#, "placeholder"),
        ("p2", r#""2024-05-02""#, "placeholder"),
        ("q1", r#""2024-99-99""#, "impossible"),
        ("q2", r#""2025-01-01""#, "impossible"),
        ("r1", r#""2024-02-30""#, "february"),
        ("r2", r#""2024-03-01""#, "february"),
        ("s1", "20240101", "numeric"),
        ("s2", r#""2024-06-01T10:00:00+02:00""#, "numeric"),
        ("t1", r#""2024-03-01""#, "leap"),
        ("t2", r#""2024-02-29""#, "leap"),
    ] {
        writeln!(
            jsonl,
            r#"{{"id":"{id}","date":{date},"text":"{}"}}"#,
            text(topic)
        )
        .expect("a string");
    }
    std::fs::write(work.path().join("dates.jsonl"), jsonl).expect("input");
    neardup_ok(
        work.path(),
        &["dedup", "dates.jsonl", "--out", "o", "--quiet"],
    );
    let out = work.path().join("o");
    let originals: Vec<(String, Option<String>)> = docs(&out)
        .iter()
        .map(|d| {
            (
                d["id"].as_str().expect("id").to_owned(),
                d["duplicate_of"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let of = |id: &str| Some(id.to_owned());
    assert_eq!(
        originals,
        [
            ("p1".to_owned(), of("p2")),
            ("p2".to_owned(), None),
            ("q1".to_owned(), of("q2")),
            ("q2".to_owned(), None),
            ("r1".to_owned(), of("r2")),
            ("r2".to_owned(), None),
            ("s1".to_owned(), of("s2")),
            ("s2".to_owned(), None),
            ("t1".to_owned(), of("t2")),
            ("t2".to_owned(), None),
        ]
    );
    assert_eq!(summary(&out)["counts"]["dates_not_iso"], 4);
}
