//! Input formats beyond JSONL (issue 15): WARC and WET, Parquet and Arrow IPC. Every
//! fixture is written here, from `data/sample.jsonl` and `data/seed-article.txt`: a small
//! WARC writer below, Parquet and Arrow through the `parquet` and `arrow` crates.
//!
//! The same records in another format give the same partition of ids; the seed article
//! as HTML inside a WARC record gives the same repeats and clean text as the text file;
//! and each kind of bad input has its exact outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{neardup, neardup_ok};

/// One WARC/1.1 record with these headers, then the Content-Length of `block`.
fn warc_record(kind: &str, headers: &[(&str, &str)], block: &[u8]) -> Vec<u8> {
    let mut out = format!("WARC/1.1\r\nWARC-Type: {kind}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", block.len()).as_bytes());
    out.extend_from_slice(block);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// A `response` record: an HTTP response with this status line and headers, and `body`.
fn response(id: &str, uri: &str, status: &str, http_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut block = format!("HTTP/1.1 {status}\r\n{http_headers}\r\n").into_bytes();
    block.extend_from_slice(body);
    warc_record(
        "response",
        &[
            ("WARC-Record-ID", id),
            ("WARC-Target-URI", uri),
            ("WARC-Date", "2024-12-10T08:00:00Z"),
            ("Content-Type", "application/http; msgtype=response"),
        ],
        &block,
    )
}

fn html_response(id: &str, uri: &str, html: &[u8]) -> Vec<u8> {
    response(
        id,
        uri,
        "200 OK",
        "Content-Type: text/html; charset=utf-8\r\n",
        html,
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl")
}

/// The sample's records: id, outlet, date, text.
fn sample() -> Vec<BTreeMap<String, String>> {
    std::fs::read_to_string(sample_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn docs_lines(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("docs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// The clusters of a run as sets of ids: the partition, whatever the representatives.
fn partition(out: &Path) -> BTreeSet<BTreeSet<String>> {
    std::fs::read_to_string(out.join("clusters.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

fn run(dir: &Path, inputs: &[&str], out: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["dedup"];
    args.extend_from_slice(inputs);
    args.extend_from_slice(&["--out", out, "--quiet"]);
    args.extend_from_slice(extra);
    neardup_ok(dir, &args);
    dir.join(out)
}

/// `(status, offset)` of every docs.jsonl line.
fn statuses(docs: &[Value]) -> Vec<(String, u64)> {
    docs.iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap().to_owned(),
                d["offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A host for an outlet name, so that a WARC record's outlet (its URL's host) groups the
/// records as the outlet names do.
fn host(outlet: &str) -> String {
    let slug: String = outlet
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{slug}.example")
}

#[test]
fn wet_gives_the_partition_of_the_same_records_as_jsonl() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // WET text is one paragraph a line, and a WET record's outlet is its URL's host: the
    // JSONL run gets the same text and outlet
    let mut wet = Vec::new();
    let mut jsonl = String::new();
    wet.extend(gzip(&warc_record(
        "warcinfo",
        &[("WARC-Record-ID", "<urn:uuid:info>")],
        b"software: neardup tests\r\n",
    )));
    for r in sample() {
        let text: Vec<String> = r["text"]
            .split("\n\n")
            .map(|p| p.replace('\n', " "))
            .collect();
        let text = text.join("\n");
        let host = host(&r["outlet"]);
        let uri = format!("https://{host}/{}", r["id"]);
        wet.extend(gzip(&warc_record(
            "conversion",
            &[
                ("WARC-Record-ID", &r["id"]),
                ("WARC-Target-URI", &uri),
                ("WARC-Date", &r["date"]),
                ("Content-Type", "text/plain"),
            ],
            text.as_bytes(),
        )));
        jsonl.push_str(
            &serde_json::json!({"id": r["id"], "outlet": host, "date": r["date"], "text": text})
                .to_string(),
        );
        jsonl.push('\n');
    }
    // no name that says WET: recognised by its content
    std::fs::write(dir.join("sample.wet.bin"), &wet).unwrap();
    std::fs::write(dir.join("sample.jsonl"), &jsonl).unwrap();
    let from_wet = run(dir, &["sample.wet.bin"], "wet", &[]);
    let from_jsonl = run(dir, &["sample.jsonl"], "jsonl", &[]);
    let p = partition(&from_wet);
    assert!(p.len() > 20, "{} clusters", p.len());
    assert_eq!(p, partition(&from_jsonl));
    let docs = docs_lines(&from_wet);
    assert_eq!(docs.len(), 1000);
    assert!(
        docs.iter()
            .all(|d| d["status"] == "ok" && d["line"].is_null())
    );
    let s = summary(&from_wet);
    assert_eq!(
        s["counts"]["warc_records"],
        serde_json::json!({"conversion": 1000, "warcinfo": 1})
    );
    assert_eq!(s["inputs"][0]["records"], 1000);
    // the same outcome, record for record, but for where each record stands
    let strip = |docs: Vec<Value>| -> Vec<Value> {
        docs.into_iter()
            .map(|mut d| {
                let o = d.as_object_mut().unwrap();
                for k in ["file", "line", "offset"] {
                    o.remove(k);
                }
                d
            })
            .collect()
    };
    assert_eq!(strip(docs), strip(docs_lines(&from_jsonl)));
    // explain and report read the texts back from the WET file
    let explained = neardup_ok(dir, &["explain", "wet", "d0000000", "d0000166", "--json"]);
    let explained: Value = serde_json::from_slice(&explained.stdout).unwrap();
    assert_eq!(explained["texts"]["state"], "available");
    let explained = neardup_ok(dir, &["explain", "wet", "d0000000", "d0000166"]);
    let text = String::from_utf8_lossy(&explained.stdout);
    let offset = docs_lines(&from_wet)[166]["offset"].as_u64().unwrap();
    assert!(
        text.contains(&format!("d0000166  (sample.wet.bin@{offset}) status ok")),
        "{text}"
    );
    neardup_ok(dir, &["report", "wet", "--max-clusters", "5"]);
    let md = std::fs::read_to_string(dir.join("wet/report.md")).unwrap();
    assert!(!md.contains("Input file"), "{md}");
}

/// The seed article as a page: navigation, a photo caption, the body printed twice (the
/// fault the text version shows), and the comment policy as a footer.
fn seed_html(seed: &str) -> String {
    let lines: Vec<&str> = seed.split('\n').collect();
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Blinken</title>\
         <script>var nav = 'World';</script><style>p { margin: 0 }</style></head>\n<body>\n",
    );
    writeln!(
        html,
        "<nav><ul><li><a href=\"/world\">{}</a></li></ul></nav>",
        escape(lines[0])
    )
    .unwrap();
    writeln!(
        html,
        "<figure><img src=\"x.jpg\"><figcaption>{}</figcaption></figure>",
        escape(lines[1])
    )
    .unwrap();
    writeln!(
        html,
        "<div class=\"pager\"><a href=\"#\">{}</a></div><div class=\"pager\"><a href=\"#\">{}</a></div>",
        escape(lines[2]),
        escape(lines[3])
    ).unwrap();
    html.push_str("<article>\n");
    for line in &lines[4..23] {
        writeln!(html, "  <p>{}</p>", escape(line)).unwrap();
    }
    html.push_str("</article>\n<footer>\n");
    writeln!(html, "<h3>{}</h3>", escape(lines[23])).unwrap();
    for line in &lines[24..lines.len() - 1] {
        writeln!(html, "<p>{}</p>", escape(line)).unwrap();
    }
    writeln!(
        html,
        "<div><button>{}</button></div>\n</footer>\n<!-- tracking -->\n</body></html>",
        escape(lines[lines.len() - 1])
    )
    .unwrap();
    html
}

fn seed_article() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/seed-article.txt"))
        .unwrap()
}

fn repeats(doc: &Value) -> Vec<(u64, u64)> {
    doc["repeats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["paragraph"].as_u64().unwrap(),
                r["copy_of"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_seed_article_as_html_in_a_gzipped_warc_gives_the_repeats_and_clean_text_of_the_text() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let seed = seed_article();
    std::fs::write(dir.join("seed.txt"), &seed).unwrap();
    let page = seed_html(&seed);
    let uri = "https://www.rudaw.net/english/world/101220241";
    let records = [
        warc_record(
            "warcinfo",
            &[("WARC-Record-ID", "<urn:uuid:0>")],
            b"software: neardup tests\r\n",
        ),
        warc_record(
            "request",
            &[("WARC-Record-ID", "<urn:uuid:1>"), ("WARC-Target-URI", uri)],
            b"GET /english/world/101220241 HTTP/1.1\r\nHost: www.rudaw.net\r\n\r\n",
        ),
        html_response("<urn:uuid:2>", uri, page.as_bytes()),
        warc_record(
            "metadata",
            &[("WARC-Record-ID", "<urn:uuid:3>"), ("WARC-Target-URI", uri)],
            b"fetchTimeMs: 120\r\n",
        ),
        response(
            "<urn:uuid:4>",
            "https://www.rudaw.net/x.jpg",
            "200 OK",
            "Content-Type: image/jpeg\r\n",
            b"\xff\xd8\xff\xe0 not really a jpeg",
        ),
        response(
            "<urn:uuid:5>",
            "https://www.rudaw.net/gone",
            "404 Not Found",
            "Content-Type: text/html\r\n",
            b"<html><body><p>This page has gone away.</p></body></html>",
        ),
    ];
    // gzip per record, as Common Crawl ships WARC files
    let offsets: Vec<u64> = records
        .iter()
        .scan(0u64, |at, r| {
            let here = *at;
            *at += r.len() as u64;
            Some(here)
        })
        .collect();
    let gz: Vec<u8> = records.iter().flat_map(|r| gzip(r)).collect();
    std::fs::write(dir.join("seed.warc.gz"), &gz).unwrap();

    let text_out = run(dir, &["seed.txt"], "text", &["--emit-clean"]);
    let warc_out = run(dir, &["seed.warc.gz"], "warc", &["--emit-clean"]);
    let text_docs = docs_lines(&text_out);
    let docs = docs_lines(&warc_out);
    // the response with HTML, the image and the 404 have a line; the warcinfo, request
    // and metadata records do not
    assert_eq!(
        statuses(&docs),
        [
            ("ok".to_owned(), offsets[2]),
            ("not_html".to_owned(), offsets[4]),
            ("http_status".to_owned(), offsets[5]),
        ]
    );
    assert_eq!(docs[0]["id"], "<urn:uuid:2>");
    assert_eq!(docs[0]["file"], "seed.warc.gz");
    assert_eq!(docs[1]["id"], "<urn:uuid:4>");
    assert_eq!(docs[1]["cluster"], Value::Null);
    assert_eq!(repeats(&docs[0]), repeats(&text_docs[0]));
    assert_eq!(
        repeats(&docs[0]),
        (14..=22).map(|p| (p, p - 9)).collect::<Vec<_>>()
    );
    assert_eq!(docs[0]["repeat_blocks"], text_docs[0]["repeat_blocks"]);
    let s = summary(&warc_out);
    assert_eq!(
        s["counts"]["warc_records"],
        serde_json::json!({"metadata": 1, "request": 1, "response": 3, "warcinfo": 1})
    );
    assert_eq!(
        s["counts"]["skipped"],
        serde_json::json!({"http_status": 1, "not_html": 1})
    );
    assert_eq!(s["counts"]["records"], 3);
    assert_eq!(s["counts"]["compared"], 1);
    // not documents, not errors: no warnings
    assert_eq!(s["warnings"], serde_json::json!([]));
    assert_eq!(s["inputs"][0]["warc_records"], s["counts"]["warc_records"]);

    // the clean text: the same paragraphs (the page's are separated by blank lines, the
    // text file's by line ends)
    let clean = |out: &Path| -> Value {
        let text = std::fs::read_to_string(out.join("clean.jsonl")).unwrap();
        serde_json::from_str(text.lines().next().unwrap()).unwrap()
    };
    let from_text = clean(&text_out);
    let from_warc = clean(&warc_out);
    let text_paragraphs: Vec<&str> = from_text["text"].as_str().unwrap().split('\n').collect();
    let warc_paragraphs: Vec<&str> = from_warc["text"].as_str().unwrap().split("\n\n").collect();
    assert_eq!(warc_paragraphs, text_paragraphs);
    assert_eq!(from_warc["id"], "<urn:uuid:2>");
    assert_eq!(from_warc["url"], uri);
    assert_eq!(from_warc["outlet"], "rudaw.net");
    assert_eq!(from_warc["date"], "2024-12-10T08:00:00Z");

    // not documents are not errors: --on-error stop does not stop at them
    run(dir, &["seed.warc.gz"], "stop", &["--on-error", "stop"]);
    // --warc-status any: the 404 page is a document too
    let any = run(dir, &["seed.warc.gz"], "any", &["--warc-status", "any"]);
    let docs = docs_lines(&any);
    assert_eq!(docs[2]["status"], "ok");
    assert_eq!(summary(&any)["params"]["input"]["warc_status"], "any");
}

/// Three HTML responses, plain.
fn three_pages() -> Vec<Vec<u8>> {
    (0..3)
        .map(|i| {
            html_response(
                &format!("<urn:uuid:p{i}>"),
                &format!("https://news.example/{i}"),
                format!("<html><body><p>Page number {i} says something of its own here.</p></body></html>").as_bytes(),
            )
        })
        .collect()
}

#[test]
fn a_truncated_warc_record_ends_the_file_with_its_offset_and_keeps_the_records_before() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let pages = three_pages();
    // inside the third record's block, 20 bytes into it
    let header = pages[2].windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let cut = pages[0].len() + pages[1].len() + header + 20;
    let bytes = pages.concat();
    std::fs::write(dir.join("cut.warc"), &bytes[..cut]).unwrap();
    std::fs::write(
        dir.join("after.jsonl"),
        "{\"id\":\"j\",\"text\":\"another file\"}\n",
    )
    .unwrap();
    let out = run(dir, &["cut.warc", "after.jsonl"], "out", &[]);
    let docs = docs_lines(&out);
    let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["<urn:uuid:p0>", "<urn:uuid:p1>", "j"]);
    let s = summary(&out);
    let offset = pages[0].len() + pages[1].len();
    let block = pages[2].len() - header - 4;
    let available = 20;
    assert_eq!(
        s["inputs"][0]["error"],
        format!(
            "cut.warc: reading stopped at byte {offset}: record 2 at byte {offset}: \
             Content-Length {block} runs past the end of the stream ({available} bytes of \
             the block are there) (the records before were kept)"
        )
    );
    assert_eq!(s["inputs"][0]["reason"], "truncated");
    assert_eq!(
        s["counts"]["input_errors"],
        serde_json::json!({"truncated": 1})
    );
    // under --on-error stop: exit 2, naming the file and the record
    let stopped = neardup(
        dir,
        &[
            "dedup",
            "cut.warc",
            "--out",
            "stop",
            "--quiet",
            "--on-error",
            "stop",
        ],
    );
    assert_eq!(stopped.status.code(), Some(2));
    let err = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        err.contains(&format!("cut.warc: reading stopped at byte {offset}")),
        "{err}"
    );
}

#[test]
fn a_wrong_content_length_is_one_malformed_record_and_the_next_is_read() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let pages = three_pages();
    let broken = String::from_utf8(pages[1].clone()).unwrap();
    let length = broken
        .split("Content-Length: ")
        .nth(1)
        .and_then(|s| s.split("\r\n").next())
        .unwrap()
        .to_owned();
    let wrong: u64 = length.parse::<u64>().unwrap() + 7;
    let broken = broken.replacen(
        &format!("Content-Length: {length}"),
        &format!("Content-Length: {wrong}"),
        1,
    );
    let bytes = [pages[0].clone(), broken.into_bytes(), pages[2].clone()].concat();
    std::fs::write(dir.join("bad.warc"), &bytes).unwrap();
    let out = run(dir, &["bad.warc"], "out", &[]);
    let docs = docs_lines(&out);
    let at1 = pages[0].len() as u64;
    let at2 = (pages[0].len() + pages[1].len()) as u64;
    assert_eq!(
        statuses(&docs),
        [
            ("ok".to_owned(), 0),
            ("malformed_record".to_owned(), at1),
            ("ok".to_owned(), at2),
        ]
    );
    assert_eq!(docs[1]["id"], format!("bad.warc@{at1}"));
    let s = summary(&out);
    assert_eq!(
        s["counts"]["skipped"],
        serde_json::json!({"malformed_record": 1})
    );
    assert_eq!(
        s["warnings"][0],
        format!(
            "bad.warc@{at1}: malformed_record: record 1 at byte {at1}: Content-Length {wrong} \
             does not end the record (no blank line and next record after the block); record \
             skipped"
        )
    );
    assert_eq!(s["inputs"][0]["error"], Value::Null);
}

#[test]
fn a_gzip_member_cut_short_keeps_the_members_before() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let pages = three_pages();
    let mut bytes: Vec<u8> = pages[..2].iter().flat_map(|r| gzip(r)).collect();
    let last = gzip(&pages[2]);
    bytes.extend_from_slice(&last[..last.len() / 2]);
    std::fs::write(dir.join("cut.warc.gz"), &bytes).unwrap();
    let out = run(dir, &["cut.warc.gz"], "out", &[]);
    let docs = docs_lines(&out);
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|d| d["status"] == "ok"));
    let s = summary(&out);
    let err = s["inputs"][0]["error"].as_str().unwrap();
    let offset = pages[0].len() + pages[1].len();
    let want = format!(
        "cut.warc.gz: reading stopped at byte {offset}: record 2 at byte {offset}: the \
         Gzip stream is cut short or corrupt"
    );
    assert!(err.starts_with(&want), "{err}\n{want}");
    assert_eq!(s["inputs"][0]["reason"], "truncated");
}

/// The clean text of each kept record, by id.
fn clean_texts(out: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(out.join("clean.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_owned(),
                v["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn html_whose_declared_charset_is_wrong_is_decoded_as_declared_with_replacements() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let page = |body: &[u8]| {
        let mut html = b"<html><body><p>".to_vec();
        html.extend_from_slice(body);
        html.extend_from_slice(b"</p></body></html>");
        html
    };
    let records = [
        // declared UTF-8, written in Latin-1
        response(
            "<urn:uuid:a>",
            "https://a.example/",
            "200 OK",
            "Content-Type: text/html; charset=utf-8\r\n",
            &page(b"Un caf\xe9 cr\xe8me"),
        ),
        // declared Latin-1, written in UTF-8
        response(
            "<urn:uuid:b>",
            "https://b.example/",
            "200 OK",
            "Content-Type: text/html; charset=iso-8859-1\r\n",
            &page("Un café crème".as_bytes()),
        ),
        // declared nothing: detected
        response(
            "<urn:uuid:c>",
            "https://c.example/",
            "200 OK",
            "Content-Type: text/html\r\n",
            &page(b"Un caf\xe9 cr\xe8me et une tr\xe8s longue phrase fran\xe7aise d\xe9j\xe0"),
        ),
    ];
    std::fs::write(dir.join("charsets.warc"), records.concat()).unwrap();
    let out = run(dir, &["charsets.warc"], "out", &["--emit-clean"]);
    let docs = docs_lines(&out);
    assert!(docs.iter().all(|d| d["status"] == "ok"), "{docs:?}");
    let texts = clean_texts(&out);
    assert_eq!(texts["<urn:uuid:a>"], "Un caf\u{fffd} cr\u{fffd}me");
    assert_eq!(texts["<urn:uuid:b>"], "Un cafÃ© crÃ¨me");
    assert_eq!(
        texts["<urn:uuid:c>"],
        "Un café crème et une très longue phrase française déjà"
    );
}

#[test]
fn a_50_mb_page_is_extracted_within_the_limit_and_too_large_beyond_it() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut html = b"<html><body>".to_vec();
    let mut i = 0u64;
    while html.len() < 50 << 20 {
        html.extend_from_slice(format!("<p>Paragraph {i} of a very long page.</p>\n").as_bytes());
        i += 1;
    }
    html.extend_from_slice(b"</body></html>");
    let records = [
        html_response("<urn:uuid:big>", "https://big.example/", &html),
        three_pages().remove(0),
    ];
    std::fs::write(dir.join("big.warc"), records.concat()).unwrap();
    let out = run(dir, &["big.warc"], "within", &["--paragraphs", "off"]);
    let docs = docs_lines(&out);
    assert_eq!(docs[0]["status"], "ok");
    assert_eq!(docs[1]["status"], "ok");
    let limit = (10u64 << 20).to_string();
    let out = run(dir, &["big.warc"], "beyond", &["--max-doc-bytes", &limit]);
    let docs = docs_lines(&out);
    assert_eq!(docs[0]["status"], "too_large");
    assert_eq!(docs[0]["id"], "<urn:uuid:big>");
    assert_eq!(docs[0]["offset"], 0);
    assert_eq!(docs[1]["status"], "ok");
    let s = summary(&out);
    let length = records[0].len()
        - records[0]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap()
        - 8;
    assert_eq!(
        s["warnings"][0],
        format!("big.warc@0: too_large: record of {length} bytes exceeds max_doc_bytes = {limit}")
    );
}

#[test]
fn deeply_nested_html_is_read_in_linear_time() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let depth = 200_000;
    let mut html = "<html><body>".to_owned();
    html.push_str(&"<div><span>".repeat(depth));
    html.push_str("Deep inside the page there is one sentence worth reading.");
    html.push_str(&"</span></div>".repeat(depth));
    html.push_str("<p>And one after it.</p></body></html>");
    std::fs::write(
        dir.join("deep.warc"),
        html_response("<urn:uuid:deep>", "https://deep.example/", html.as_bytes()),
    )
    .unwrap();
    let out = run(dir, &["deep.warc"], "out", &["--emit-clean"]);
    assert_eq!(docs_lines(&out)[0]["status"], "ok");
    assert_eq!(
        clean_texts(&out)["<urn:uuid:deep>"],
        "Deep inside the page there is one sentence worth reading.\n\nAnd one after it."
    );
}

#[cfg(feature = "columnar")]
mod columnar {
    use std::fs::File;
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder, StringDictionaryBuilder};
    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// The sample as a batch: id (string), text (large string), outlet (dictionary),
    /// date (string), and a list column no flag names.
    fn sample_batch() -> RecordBatch {
        let rows = sample();
        let ids = StringArray::from_iter_values(rows.iter().map(|r| r["id"].clone()));
        let texts = LargeStringArray::from_iter_values(rows.iter().map(|r| r["text"].clone()));
        let mut outlets = StringDictionaryBuilder::<Int32Type>::new();
        for r in &rows {
            outlets.append_value(&r["outlet"]);
        }
        let dates = StringArray::from_iter_values(rows.iter().map(|r| r["date"].clone()));
        let mut tags = ListBuilder::new(StringBuilder::new());
        for _ in &rows {
            tags.values().append_value("news");
            tags.append(true);
        }
        batch(&[
            ("id", Arc::new(ids)),
            ("text", Arc::new(texts)),
            ("outlet", Arc::new(outlets.finish())),
            ("date", Arc::new(dates)),
            ("tags", Arc::new(tags.finish())),
        ])
    }

    fn batch(columns: &[(&str, ArrayRef)]) -> RecordBatch {
        let schema = Schema::new(
            columns
                .iter()
                .map(|(name, c)| Field::new(*name, c.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            columns.iter().map(|(_, c)| Arc::clone(c)).collect(),
        )
        .unwrap()
    }

    fn write_parquet(path: &Path, batch: &RecordBatch, group_rows: usize) {
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows))
            .build();
        let mut w =
            ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn parquet_and_arrow_give_the_partition_of_the_jsonl_run() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        std::fs::copy(sample_path(), dir.join("sample.jsonl")).unwrap();
        let batch = sample_batch();
        // several row groups; and a name that says nothing: recognised by content
        write_parquet(&dir.join("sample.data"), &batch, 300);
        let mut w = arrow_ipc::writer::FileWriter::try_new(
            File::create(dir.join("sample.arrow")).unwrap(),
            &batch.schema(),
        )
        .unwrap();
        w.write(&batch.slice(0, 400)).unwrap();
        w.write(&batch.slice(400, 600)).unwrap();
        w.finish().unwrap();
        let mut w = arrow_ipc::writer::StreamWriter::try_new(
            File::create(dir.join("sample.ipc")).unwrap(),
            &batch.schema(),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        let jsonl = run(dir, &["sample.jsonl"], "jsonl", &[]);
        let want = partition(&jsonl);
        let jsonl_docs = docs_lines(&jsonl);
        for input in ["sample.data", "sample.arrow", "sample.ipc"] {
            let out = run(dir, &[input], &format!("out-{input}"), &[]);
            assert_eq!(partition(&out), want, "{input}");
            let docs = docs_lines(&out);
            assert_eq!(docs.len(), 1000);
            for (i, (d, j)) in docs.iter().zip(&jsonl_docs).enumerate() {
                assert_eq!(d["row"], i as u64, "{input}");
                assert_eq!(d["id"], j["id"]);
                assert_eq!(d["status"], j["status"]);
                assert_eq!(d["duplicate_of"], j["duplicate_of"], "{input}");
                assert_eq!(d["repeats"], j["repeats"]);
                assert_eq!(d["boilerplate"], j["boilerplate"]);
            }
            assert_eq!(summary(&out)["inputs"][0]["records"], 1000);
            // explain and report read the texts back from the file
            let name = format!("out-{input}");
            let explained = neardup_ok(dir, &["explain", &name, "d0000000", "d0000166", "--json"]);
            let explained: Value = serde_json::from_slice(&explained.stdout).unwrap();
            assert_eq!(explained["texts"]["state"], "available", "{input}");
            assert_eq!(explained["a"]["row"], 0, "{input}");
            assert_eq!(explained["b"]["row"], 166, "{input}");
            neardup_ok(dir, &["report", &name, "--max-clusters", "5"]);
            let md = std::fs::read_to_string(dir.join(&name).join("report.md")).unwrap();
            assert!(!md.contains("Input file"), "{input}: {md}");
        }
    }

    #[test]
    fn a_missing_or_wrongly_typed_column_is_refused_naming_it_and_the_other_inputs_are_read() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let batch = sample_batch().slice(0, 10);
        write_parquet(&dir.join("a.parquet"), &batch, 100);
        let numbers: ArrayRef = Arc::new(Int64Array::from_iter_values(0..10));
        let ids: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..10).map(|i| format!("n{i}")),
        ));
        write_parquet(
            &dir.join("b.parquet"),
            &self::batch(&[("id", ids), ("text", numbers)]),
            100,
        );
        std::fs::write(
            dir.join("c.jsonl"),
            "{\"id\":\"j\",\"text\":\"another file\"}\n",
        )
        .unwrap();
        let out = run(
            dir,
            &["a.parquet", "b.parquet", "c.jsonl"],
            "body",
            &["--text-field", "body"],
        );
        let s = summary(&out);
        assert_eq!(
            s["inputs"][0]["error"],
            "a.parquet: no column `body` for the text field; the columns are: id, text, \
             outlet, date, tags"
        );
        assert_eq!(s["inputs"][0]["reason"], "unusable");
        assert_eq!(
            s["counts"]["input_errors"],
            serde_json::json!({"unusable": 2})
        );
        assert_eq!(s["counts"]["records"], 1);
        let out = run(dir, &["a.parquet", "b.parquet", "c.jsonl"], "types", &[]);
        let s = summary(&out);
        assert_eq!(s["inputs"][0]["error"], Value::Null);
        assert_eq!(s["inputs"][0]["records"], 10);
        assert_eq!(
            s["inputs"][1]["error"],
            "b.parquet: column `text` (the text field) is Int64, not a string column"
        );
        assert_eq!(s["counts"]["records"], 11);
        // a nested column named for a field
        let out = run(dir, &["a.parquet"], "nested", &["--outlet-field", "tags"]);
        let err = summary(&out)["inputs"][0]["error"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            err.starts_with("a.parquet: column `tags` (the outlet field) is List("),
            "{err}"
        );
        // under --on-error stop: exit 2 with the same message
        let stopped = neardup(
            dir,
            &[
                "dedup",
                "b.parquet",
                "--out",
                "stop",
                "--quiet",
                "--on-error",
                "stop",
            ],
        );
        assert_eq!(stopped.status.code(), Some(2));
        let err = String::from_utf8_lossy(&stopped.stderr);
        assert!(
            err.contains("b.parquet: column `text` (the text field) is Int64"),
            "{err}"
        );
    }

    #[test]
    fn a_corrupt_page_costs_its_row_group_one_line_a_row_and_a_corrupt_footer_the_file() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let batch = sample_batch().slice(0, 300);
        let path = dir.join("pages.parquet");
        write_parquet(&path, &batch, 100);
        let bytes = std::fs::read(&path).unwrap();
        let metadata = parquet::file::reader::FileReader::metadata(
            &parquet::file::serialized_reader::SerializedFileReader::new(
                File::open(&path).unwrap(),
            )
            .unwrap(),
        )
        .clone();
        // the text column of the second row group
        let (start, len) = metadata.row_group(1).column(1).byte_range();
        let mut garbled = bytes.clone();
        for b in &mut garbled[start as usize + 40..(start + len) as usize] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        std::fs::write(&path, &garbled).unwrap();
        let out = run(dir, &["pages.parquet"], "pages", &[]);
        let docs = docs_lines(&out);
        assert_eq!(docs.len(), 300, "every row has its line");
        let bad: Vec<u64> = docs
            .iter()
            .filter(|d| d["status"] == "corrupt_data")
            .map(|d| d["row"].as_u64().unwrap())
            .collect();
        let first = bad[0];
        assert!((100..200).contains(&first), "{first}");
        assert_eq!(bad, (first..200).collect::<Vec<_>>());
        assert!(docs[..first as usize].iter().all(|d| d["status"] == "ok"));
        assert!(docs[200..].iter().all(|d| d["status"] == "ok"));
        assert_eq!(docs[first as usize]["id"], format!("pages.parquet#{first}"));
        let s = summary(&out);
        assert_eq!(
            s["counts"]["skipped"],
            serde_json::json!({"corrupt_data": 200 - first})
        );
        let warning = s["warnings"][0].as_str().unwrap();
        assert!(
            warning.starts_with(&format!(
                "pages.parquet#{first}: corrupt_data: corrupt data ({} rows from row {first} \
                 lost): ",
                200 - first
            )),
            "{warning}"
        );

        // the footer
        let n = bytes.len();
        let mut footer = bytes.clone();
        for b in &mut footer[n - 60..n - 8] {
            *b ^= 0x5a;
        }
        std::fs::write(dir.join("footer.parquet"), &footer).unwrap();
        let out = run(dir, &["footer.parquet"], "footer", &[]);
        assert!(docs_lines(&out).is_empty());
        let s = summary(&out);
        let err = s["inputs"][0]["error"].as_str().unwrap();
        assert!(err.starts_with("footer.parquet: corrupt file: "), "{err}");
        assert_eq!(s["inputs"][0]["reason"], "unusable");
    }

    #[test]
    fn parquet_from_standard_input_is_refused_with_a_message() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let path = dir.join("a.parquet");
        write_parquet(&path, &sample_batch().slice(0, 5), 100);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_neardup"))
            .current_dir(dir)
            .args([
                "dedup",
                "-",
                "--out",
                "out",
                "--quiet",
                "--on-error",
                "stop",
            ])
            .stdin(File::open(&path).unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "-: Parquet and Arrow files are read by seeking in them, which a pipe or \
                 standard input does not allow: name the file itself"
            ),
            "{err}"
        );
    }

    /// Every row of a Parquet file, in one batch.
    fn read_all(path: &Path) -> RecordBatch {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            File::open(path).unwrap(),
        )
        .unwrap();
        let schema = reader.schema().clone();
        // one batch larger than any file here reads across the row groups
        let mut batches: Vec<RecordBatch> = reader
            .with_batch_size(1 << 20)
            .build()
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(batches.len() <= 1);
        batches
            .pop()
            .unwrap_or_else(|| RecordBatch::new_empty(schema))
    }

    fn string_at(column: &ArrayRef, i: usize) -> Option<String> {
        use arrow_array::Array;
        use arrow_array::cast::AsArray;
        match column.data_type() {
            arrow_schema::DataType::Utf8 => {
                let c = column.as_string::<i32>();
                c.is_valid(i).then(|| c.value(i).to_owned())
            }
            arrow_schema::DataType::LargeUtf8 => {
                let c = column.as_string::<i64>();
                c.is_valid(i).then(|| c.value(i).to_owned())
            }
            other => panic!("{other}"),
        }
    }

    /// The sample with one more column of another type (integers, a null every 5th row),
    /// written as Parquet in row groups of 300 rows.
    fn sample_with_numbers(path: &Path) -> RecordBatch {
        let sample = sample_batch();
        let rows = i64::try_from(sample.num_rows()).unwrap();
        let numbers: ArrayRef = Arc::new(
            (0..rows)
                .map(|i| (i % 5 != 0).then_some(i * 7))
                .collect::<Int64Array>(),
        );
        let schema = sample.schema();
        let mut columns: Vec<(&str, ArrayRef)> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .zip(sample.columns().iter().cloned())
            .collect();
        columns.push(("n", numbers));
        let batch = batch(&columns);
        write_parquet(path, &batch, 300);
        batch
    }

    #[test]
    fn clean_parquet_keeps_every_other_column_as_it_was_and_only_the_kept_rows() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        std::fs::copy(sample_path(), dir.join("sample.jsonl")).unwrap();
        let input = sample_with_numbers(&dir.join("sample.parquet"));
        let mut w = arrow_ipc::writer::FileWriter::try_new(
            File::create(dir.join("sample.arrow")).unwrap(),
            &input.schema(),
        )
        .unwrap();
        w.write(&input.slice(0, 400)).unwrap();
        w.write(&input.slice(400, 600)).unwrap();
        w.finish().unwrap();

        let jsonl = run(dir, &["sample.jsonl"], "jsonl", &["--emit-clean"]);
        let pq = run(dir, &["sample.parquet"], "pq", &["--emit-clean"]);
        assert!(
            !pq.join("clean.jsonl").exists(),
            "no JSONL input, no clean.jsonl"
        );
        let clean = read_all(&pq.join("clean.parquet"));
        // the same schema: names, types (a large string, a dictionary, a list, integers),
        // nullability
        assert_eq!(clean.schema().fields(), input.schema().fields());

        // the kept rows, in input order
        let kept: Vec<(usize, String)> = docs_lines(&pq)
            .iter()
            .enumerate()
            .filter(|(_, d)| d["keep"] == true)
            .map(|(i, d)| (i, d["id"].as_str().unwrap().to_owned()))
            .collect();
        assert!(kept.len() < input.num_rows(), "the sample has duplicates");
        assert_eq!(clean.num_rows(), kept.len());
        let texts = clean_texts(&jsonl);
        assert_eq!(texts.len(), kept.len());
        let text_column = input.schema().index_of("text").unwrap();
        let mut cleaned_somewhere = false;
        for (r, (i, id)) in kept.iter().enumerate() {
            assert_eq!(string_at(clean.column(0), r).as_deref(), Some(id.as_str()));
            for c in 0..input.num_columns() {
                if c == text_column {
                    let text = string_at(clean.column(c), r).unwrap();
                    assert_eq!(text, texts[id], "{id}: the text of clean.jsonl");
                    cleaned_somewhere |= text != string_at(input.column(c), *i).unwrap();
                } else {
                    // value for value, through the array's own equality (a dictionary
                    // compares by the values its keys point at)
                    assert_eq!(
                        clean.column(c).slice(r, 1).as_ref(),
                        input.column(c).slice(*i, 1).as_ref(),
                        "{id}: column {c}"
                    );
                }
            }
        }
        assert!(cleaned_somewhere, "some boilerplate was removed");

        // Arrow input: the same rows into clean.parquet, in its schema
        let arrow = run(dir, &["sample.arrow"], "arrow", &["--emit-clean"]);
        assert_eq!(read_all(&arrow.join("clean.parquet")), clean);
    }

    #[test]
    fn mixed_inputs_give_clean_jsonl_and_clean_parquet_and_each_run_removes_the_other() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let sample = std::fs::read_to_string(sample_path()).unwrap();
        let lines: Vec<&str> = sample.lines().collect();
        std::fs::write(dir.join("first.jsonl"), lines[..500].join("\n") + "\n").unwrap();
        write_parquet(
            &dir.join("second.parquet"),
            &sample_batch().slice(500, 500),
            100,
        );
        std::fs::copy(sample_path(), dir.join("all.jsonl")).unwrap();
        let all = run(dir, &["all.jsonl"], "all", &["--emit-clean"]);
        let want = clean_texts(&all);

        let o = run(
            dir,
            &["first.jsonl", "second.parquet"],
            "o",
            &["--emit-clean"],
        );
        assert_eq!(partition(&o), partition(&all));
        let mut got = clean_texts(&o);
        assert!(
            got.keys()
                .all(|id| lines[..500].iter().any(|l| l.contains(id.as_str())))
        );
        let clean = read_all(&o.join("clean.parquet"));
        for r in 0..clean.num_rows() {
            let id = string_at(clean.column(0), r).unwrap();
            got.insert(id, string_at(clean.column(1), r).unwrap());
        }
        assert_eq!(got, want);

        // a JSONL-only run removes clean.parquet; a Parquet-only run, clean.jsonl; a run
        // without --emit-clean, both
        run(dir, &["first.jsonl"], "o", &["--emit-clean"]);
        assert!(o.join("clean.jsonl").exists() && !o.join("clean.parquet").exists());
        run(dir, &["second.parquet"], "o", &["--emit-clean"]);
        assert!(!o.join("clean.jsonl").exists() && o.join("clean.parquet").exists());
        run(dir, &["second.parquet"], "o", &[]);
        assert!(!o.join("clean.jsonl").exists() && !o.join("clean.parquet").exists());
    }

    #[test]
    fn warc_documents_go_to_clean_parquet_with_output_format_parquet() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let mut warc = Vec::new();
        for (i, r) in sample().iter().take(200).enumerate() {
            let mut html = String::from("<html><body>");
            for p in r["text"].split("\n\n") {
                let p = p.replace('&', "&amp;").replace('<', "&lt;");
                write!(html, "<p>{p}</p>").unwrap();
            }
            html.push_str("</body></html>");
            let uri = format!("https://{}/{i}", host(&r["outlet"]));
            warc.extend(html_response(&r["id"], &uri, html.as_bytes()));
        }
        std::fs::write(dir.join("pages.warc"), warc).unwrap();
        let js = run(dir, &["pages.warc"], "js", &["--emit-clean"]);
        assert!(!js.join("clean.parquet").exists());
        let pq = run(
            dir,
            &["pages.warc"],
            "pq",
            &["--emit-clean", "--output-format", "parquet"],
        );
        assert!(!pq.join("clean.jsonl").exists());
        let clean = read_all(&pq.join("clean.parquet"));
        let names: Vec<String> = clean
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["id", "url", "date", "text", "outlet"]);
        let lines: Vec<Value> = std::fs::read_to_string(js.join("clean.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(clean.num_rows(), lines.len());
        for (r, line) in lines.iter().enumerate() {
            for name in ["id", "url", "date", "text", "outlet"] {
                assert_eq!(
                    string_at(clean.column_by_name(name).unwrap(), r).as_deref(),
                    line[name].as_str(),
                    "{name}"
                );
            }
        }
    }
}

/// `--output-format parquet` (issue 15): docs.parquet and clusters.parquet hold the lines
/// of docs.jsonl and clusters.jsonl, byte-identical across thread counts; the readers
/// refuse a Parquet run by name; a run in one format removes the other's files.
#[cfg(feature = "columnar")]
mod parquet_output {
    use std::fs::File;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::{Array, RecordBatch};
    use neardup::output::schema::{ClusterLine, DocLine};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::util::neardup;

    fn batches(path: &Path) -> Vec<RecordBatch> {
        ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn text(b: &RecordBatch, name: &str, i: usize) -> Option<String> {
        let c = b.column_by_name(name).unwrap().as_string::<i32>();
        c.is_valid(i).then(|| c.value(i).to_owned())
    }

    fn int(b: &RecordBatch, name: &str, i: usize) -> Option<u64> {
        let c = b.column_by_name(name).unwrap().as_primitive::<Int64Type>();
        c.is_valid(i).then(|| u64::try_from(c.value(i)).unwrap())
    }

    fn float(b: &RecordBatch, name: &str, i: usize) -> Option<f64> {
        let c = b
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>();
        c.is_valid(i).then(|| c.value(i))
    }

    fn parsed<T: DeserializeOwned>(b: &RecordBatch, name: &str, i: usize) -> Option<T> {
        text(b, name, i).map(|t| serde_json::from_str(&t).unwrap())
    }

    /// Every row of docs.parquet as a `DocLine`, column by column.
    fn parquet_docs(path: &Path) -> Vec<DocLine<'static>> {
        let mut out = Vec::new();
        for b in batches(path) {
            for i in 0..b.num_rows() {
                out.push(DocLine {
                    id: text(&b, "id", i).unwrap().into(),
                    cluster: int(&b, "cluster", i),
                    keep: b.column_by_name("keep").unwrap().as_boolean().value(i),
                    duplicate_of: text(&b, "duplicate_of", i).map(Into::into),
                    similarity: float(&b, "similarity", i),
                    containment: float(&b, "containment", i),
                    split_from: text(&b, "split_from", i).map(Into::into),
                    provenance: parsed(&b, "provenance", i),
                    status: text(&b, "status", i).unwrap().into(),
                    file: text(&b, "file", i).unwrap().into(),
                    line: int(&b, "line", i),
                    offset: int(&b, "offset", i),
                    row: int(&b, "row", i),
                    repeats: parsed(&b, "repeats", i),
                    repeat_blocks: parsed(&b, "repeat_blocks", i),
                    boilerplate: parsed(&b, "boilerplate", i),
                });
            }
        }
        out
    }

    fn jsonl<T: DeserializeOwned>(path: &Path) -> Vec<T> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn sample_run(work: &Path, out: &str, extra: &[&str]) -> PathBuf {
        let sample = sample_path();
        run(work, &[sample.to_str().unwrap()], out, extra)
    }

    /// The column tables under "## Parquet output" in docs/outputs.md, in order: the
    /// first for docs.parquet, the second for clusters.parquet.
    fn documented_columns() -> Vec<Vec<(String, String)>> {
        let page =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/outputs.md"))
                .unwrap();
        let section = page
            .split("\n## ")
            .find(|s| s.starts_with("Parquet output"))
            .expect("docs/outputs.md has a Parquet output section");
        let mut tables: Vec<Vec<(String, String)>> = Vec::new();
        let mut in_table = false;
        for line in section.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 4 || cells[1] == "column" || cells[1].starts_with("---") {
                in_table &= cells.len() >= 4;
                continue;
            }
            if !in_table {
                tables.push(Vec::new());
                in_table = true;
            }
            let name = cells[1].trim_matches('`').to_owned();
            tables.last_mut().unwrap().push((name, cells[2].to_owned()));
        }
        tables
    }

    #[test]
    fn docs_outputs_md_lists_every_parquet_column_with_its_type() {
        let work = tempfile::tempdir().unwrap();
        let p = sample_run(work.path(), "p", &["--output-format", "parquet"]);
        let documented = documented_columns();
        assert_eq!(documented.len(), 2, "{documented:?}");
        for (file, doc) in ["docs.parquet", "clusters.parquet"].iter().zip(&documented) {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(File::open(p.join(file)).unwrap())
                    .unwrap();
            let actual: Vec<(String, String)> = reader
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    let ty = match f.data_type() {
                        arrow_schema::DataType::Utf8 => "string",
                        arrow_schema::DataType::Int64 => "int64",
                        arrow_schema::DataType::Float64 => "double",
                        arrow_schema::DataType::Boolean => "boolean",
                        other => panic!("{file}: undocumented type {other}"),
                    };
                    (f.name().clone(), ty.to_owned())
                })
                .collect();
            let documented: Vec<(String, String)> = doc
                .iter()
                .map(|(n, t)| (n.clone(), t.trim_end_matches(" (JSON)").to_owned()))
                .collect();
            assert_eq!(actual, documented, "{file}");
        }
    }

    #[test]
    fn docs_parquet_equals_docs_jsonl_row_by_row_and_clusters_parquet_has_a_row_per_member() {
        let work = tempfile::tempdir().unwrap();
        let j = sample_run(work.path(), "j", &[]);
        let p = sample_run(work.path(), "p", &["--output-format", "parquet"]);
        for name in ["docs.jsonl", "clusters.jsonl"] {
            assert!(!p.join(name).exists(), "{name}");
        }

        let expected: Vec<DocLine<'static>> = jsonl(&j.join("docs.jsonl"));
        let got = parquet_docs(&p.join("docs.parquet"));
        assert_eq!(got.len(), expected.len());
        for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "row {k}");
        }
        // the sample exercises the nested columns
        assert!(got.iter().any(|d| d.provenance.is_some()));
        assert!(
            got.iter()
                .all(|d| d.repeats.is_some() && d.boilerplate.is_some())
        );

        let clusters: Vec<ClusterLine<'static>> = jsonl(&j.join("clusters.jsonl"));
        let members: usize = clusters.iter().map(|c| c.members.len()).sum();
        let rows = batches(&p.join("clusters.parquet"));
        assert_eq!(
            rows.iter().map(RecordBatch::num_rows).sum::<usize>(),
            members
        );
        // flattened in cluster order, members in their order, the cluster's fields repeated
        let flat: Vec<(u64, u64, String, String)> = clusters
            .iter()
            .flat_map(|c| {
                c.members.iter().enumerate().map(|(k, m)| {
                    (
                        c.cluster,
                        k as u64,
                        c.representative.to_string(),
                        m.id.to_string(),
                    )
                })
            })
            .collect();
        let mut read = Vec::new();
        for b in &rows {
            for i in 0..b.num_rows() {
                read.push((
                    int(b, "cluster", i).unwrap(),
                    int(b, "member_index", i).unwrap(),
                    text(b, "representative", i).unwrap(),
                    text(b, "member_id", i).unwrap(),
                ));
            }
        }
        assert_eq!(read, flat);

        // summary.json vouches for the files written, by digest
        let s = summary(&p);
        let outputs = s["outputs"].as_object().unwrap();
        let names: BTreeSet<&str> = outputs.keys().map(String::as_str).collect();
        assert_eq!(names, BTreeSet::from(["clusters.parquet", "docs.parquet"]));
        for (name, digest) in outputs {
            assert_eq!(
                neardup::output::digest_file(&p.join(name)).unwrap(),
                digest.as_str().unwrap()
            );
        }
    }

    #[test]
    fn parquet_outputs_are_byte_identical_across_thread_counts() {
        let work = tempfile::tempdir().unwrap();
        let a = sample_run(
            work.path(),
            "a",
            &["--output-format", "parquet", "--threads", "1"],
        );
        let b = sample_run(
            work.path(),
            "b",
            &["--output-format", "parquet", "--threads", "2"],
        );
        for name in ["docs.parquet", "clusters.parquet"] {
            let (x, y) = (
                std::fs::read(a.join(name)).unwrap(),
                std::fs::read(b.join(name)).unwrap(),
            );
            assert!(x == y, "{name} differs between --threads 1 and 2");
        }
        assert_eq!(summary(&a)["outputs"], summary(&b)["outputs"]);
    }

    #[test]
    fn report_eval_and_explain_refuse_a_parquet_run_naming_the_format() {
        let work = tempfile::tempdir().unwrap();
        let p = sample_run(work.path(), "p", &["--output-format", "parquet"]);
        let truth = work.path().join("truth.jsonl");
        std::fs::write(&truth, "").unwrap();
        let ids = sample();
        for args in [
            vec!["report", "p"],
            vec!["eval", "p", "--truth", truth.to_str().unwrap()],
            vec!["explain", "p", &ids[0]["id"], &ids[1]["id"]],
        ] {
            let out = neardup(work.path(), &args);
            assert!(!out.status.success(), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("Parquet") && err.contains("--output-format jsonl"),
                "{args:?}: {err}"
            );
        }
        assert!(!p.join("report.html").exists());

        // --report with parquet is refused before anything is read or written
        let out = neardup(
            work.path(),
            &[
                "dedup",
                sample_path().to_str().unwrap(),
                "--out",
                "r",
                "--quiet",
                "--output-format",
                "parquet",
                "--report",
            ],
        );
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--report") && err.contains("parquet"), "{err}");
        assert!(!work.path().join("r").exists());
    }

    #[test]
    fn a_run_in_one_format_removes_the_other_formats_files() {
        let work = tempfile::tempdir().unwrap();
        let o = sample_run(work.path(), "o", &["--report"]);
        assert!(o.join("report.html").exists());
        sample_run(work.path(), "o", &["--output-format", "parquet"]);
        for gone in [
            "docs.jsonl",
            "clusters.jsonl",
            "report.html",
            "syndication.csv",
        ] {
            assert!(!o.join(gone).exists(), "{gone}");
        }
        for kept in ["docs.parquet", "clusters.parquet", "summary.json"] {
            assert!(o.join(kept).exists(), "{kept}");
        }
        sample_run(work.path(), "o", &[]);
        for gone in ["docs.parquet", "clusters.parquet"] {
            assert!(!o.join(gone).exists(), "{gone}");
        }
        neardup_ok(work.path(), &["report", "o"]);
    }
}
