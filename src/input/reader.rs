//! Sequential reading of every source into batches of raw records.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::{Raw, RawRecord};
use crate::document::Position;
use crate::error::{Error, Result};
use crate::params::{ErrorPolicy, InputParams};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Jsonl,
    Text,
}

/// One input file (or standard input), as the user will see it named in messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub path: PathBuf,
    pub kind: SourceKind,
    /// For a plain-text document: its id.
    #[serde(skip)]
    pub doc_id: Option<String>,
}

impl Source {
    #[must_use]
    pub fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// What happened to one source, for `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// The path as given (`-` for standard input).
    pub path: PathBuf,
    /// Records read.
    pub records: u64,
    /// Blank lines skipped.
    #[serde(default)]
    pub blank_lines: u64,
    /// Bytes read (after decompression).
    #[serde(default)]
    pub bytes: u64,
    /// Set when the file could not be read to its end (unreadable, truncated, corrupt).
    #[serde(default)]
    pub error: Option<String>,
}

const JSONL_EXTENSIONS: [&str; 3] = ["jsonl", "ndjson", "json"];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn has_jsonl_name(path: &Path) -> bool {
    let mut p = path.to_path_buf();
    if matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("gz" | "zst" | "zstd")
    ) {
        p.set_extension("");
    }
    matches!(p.extension().and_then(|e| e.to_str()), Some(e) if JSONL_EXTENSIONS.contains(&e))
}

/// Resolves the user's paths into sources. A path named twice (after resolving links) is
/// read once; the repeats are returned as the second value so the caller can warn.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<(Vec<Source>, Vec<PathBuf>)> {
    let mut sources = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut repeated = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            if seen.insert(PathBuf::from("-")) {
                sources.push(Source {
                    path: path.clone(),
                    kind: SourceKind::Jsonl,
                    doc_id: None,
                });
            } else {
                repeated.push(path.clone());
            }
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            for file in files {
                let canon = file.canonicalize().map_err(|e| Error::io(&file, e))?;
                if !seen.insert(canon) {
                    repeated.push(file);
                    continue;
                }
                let kind = if has_jsonl_name(&file) {
                    SourceKind::Jsonl
                } else {
                    SourceKind::Text
                };
                let doc_id = (kind == SourceKind::Text).then(|| {
                    file.strip_prefix(path)
                        .unwrap_or(&file)
                        .to_string_lossy()
                        .replace('\\', "/")
                });
                sources.push(Source {
                    path: file,
                    kind,
                    doc_id,
                });
            }
        } else {
            let canon = path.canonicalize().map_err(|e| Error::io(path, e))?;
            if !seen.insert(canon) {
                repeated.push(path.clone());
                continue;
            }
            let kind = if has_jsonl_name(path) || sniff_jsonl(path) {
                SourceKind::Jsonl
            } else {
                SourceKind::Text
            };
            let doc_id = (kind == SourceKind::Text).then(|| path.to_string_lossy().into_owned());
            sources.push(Source {
                path: path.clone(),
                kind,
                doc_id,
            });
        }
    }
    Ok((sources, repeated))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if meta.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// True when the first non-blank byte of the (decompressed) file is `{`.
fn sniff_jsonl(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let Ok(mut reader) = open_decompressed(Box::new(file)) else {
        return false;
    };
    let mut buf = [0u8; 512];
    let Ok(n) = reader.read(&mut buf) else {
        return false;
    };
    let start = if buf[..n].starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    buf[start..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Wraps a reader in a gzip or zstd decoder when its first bytes say so.
fn open_decompressed(inner: Box<dyn Read + Send>) -> io::Result<Box<dyn BufRead + Send>> {
    let mut buffered = BufReader::with_capacity(1 << 16, inner);
    let head = buffered.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )))
    } else if head.starts_with(&ZSTD_MAGIC) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            zstd::stream::read::Decoder::with_buffer(buffered)?,
        )))
    } else {
        Ok(Box::new(buffered))
    }
}

/// A batch of raw records handed from the reader thread to the workers.
pub struct RawBatch {
    pub records: Vec<RawRecord>,
}

const BATCH_RECORDS: usize = 1024;
const BATCH_BYTES: usize = 8 << 20;

/// Reads every source in order, handing batches of records to `sink`. File-level problems
/// (unreadable, truncated, corrupt) end that file; under `ErrorPolicy::Stop` they end the
/// run, otherwise they are recorded in the file's report and reading goes on.
pub fn read_sources(
    sources: &[Source],
    params: &InputParams,
    mut sink: impl FnMut(RawBatch) -> Result<()>,
) -> Result<Vec<FileReport>> {
    let mut reports = Vec::with_capacity(sources.len());
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let mut batch_bytes = 0usize;
    for (index, source) in sources.iter().enumerate() {
        let mut report = FileReport {
            path: source.path.clone(),
            ..FileReport::default()
        };
        let result = read_one(
            index as u32,
            source,
            params,
            &mut report,
            &mut |rec, bytes| {
                batch.push(rec);
                batch_bytes += bytes;
                if batch.len() >= BATCH_RECORDS || batch_bytes >= BATCH_BYTES {
                    batch_bytes = 0;
                    sink(RawBatch {
                        records: std::mem::replace(&mut batch, Vec::with_capacity(BATCH_RECORDS)),
                    })
                } else {
                    Ok(())
                }
            },
        );
        if let Err(e) = result {
            let file_level = matches!(e, Error::Io { .. } | Error::Truncated { .. });
            if params.on_error == ErrorPolicy::Stop || !file_level {
                return Err(e);
            }
            report.error = Some(e.to_string());
        }
        reports.push(report);
    }
    if !batch.is_empty() {
        sink(RawBatch { records: batch })?;
    }
    Ok(reports)
}

fn read_one(
    index: u32,
    source: &Source,
    params: &InputParams,
    report: &mut FileReport,
    emit: &mut dyn FnMut(RawRecord, usize) -> Result<()>,
) -> Result<()> {
    let path = &source.path;
    let inner: Box<dyn Read + Send> = if source.is_stdin() {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| Error::io(path, e))?)
    };
    let mut reader = open_decompressed(inner).map_err(|e| Error::io(path, e))?;
    match source.kind {
        SourceKind::Text => {
            let mut bytes = Vec::new();
            let limit = params.max_doc_bytes;
            (&mut reader)
                .take(limit + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| truncated(path, 0, e))?;
            report.records = 1;
            report.bytes = bytes.len() as u64;
            let id = source
                .doc_id
                .clone()
                .unwrap_or_else(|| path.to_string_lossy().into_owned());
            if bytes.len() as u64 > limit {
                // count the rest without keeping it
                let rest =
                    io::copy(&mut reader, &mut io::sink()).map_err(|e| truncated(path, 0, e))?;
                report.bytes += rest;
                let raw = Raw::Oversized {
                    bytes: report.bytes,
                    id: Some(id),
                };
                return emit(
                    RawRecord {
                        source: index,
                        position: Position::File,
                        raw,
                    },
                    0,
                );
            }
            let n = bytes.len();
            emit(
                RawRecord {
                    source: index,
                    position: Position::File,
                    raw: Raw::File { id, bytes },
                },
                n,
            )
        }
        SourceKind::Jsonl => {
            read_lines(index, path, &mut reader, params.max_doc_bytes, report, emit)
        }
    }
}

fn truncated(path: &Path, line: u64, source: io::Error) -> Error {
    Error::Truncated {
        path: path.to_path_buf(),
        line,
        source,
    }
}

fn read_lines(
    index: u32,
    path: &Path,
    reader: &mut dyn BufRead,
    max_bytes: u64,
    report: &mut FileReport,
    emit: &mut dyn FnMut(RawRecord, usize) -> Result<()>,
) -> Result<()> {
    let mut line_no = 0u64;
    let mut line: Vec<u8> = Vec::new();
    let mut line_len = 0u64;
    let mut in_line = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(truncated(path, line_no, e)),
        };
        if buf.is_empty() {
            if in_line {
                line_no += 1;
                finish_line(index, line_no, &mut line, line_len, max_bytes, report, emit)?;
            }
            return Ok(());
        }
        let (chunk, consumed, ends_line) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        in_line = true;
        line_len += chunk.len() as u64;
        report.bytes += consumed as u64;
        if line_len <= max_bytes.saturating_add(1 << 16) {
            line.extend_from_slice(chunk);
        } else {
            line.clear(); // over the limit: stop storing, keep counting
        }
        reader.consume(consumed);
        if ends_line {
            line_no += 1;
            finish_line(index, line_no, &mut line, line_len, max_bytes, report, emit)?;
            line_len = 0;
            in_line = false;
        }
    }
}

fn finish_line(
    index: u32,
    line_no: u64,
    line: &mut Vec<u8>,
    line_len: u64,
    max_bytes: u64,
    report: &mut FileReport,
    emit: &mut dyn FnMut(RawRecord, usize) -> Result<()>,
) -> Result<()> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line_no == 1 && line.starts_with(b"\xef\xbb\xbf") {
        line.drain(..3);
    }
    // A line's JSON framing (id, other fields, escapes) may exceed the text limit a little;
    // 64 KiB of slack keeps the limit about the text while bounding what is buffered.
    if line_len > max_bytes.saturating_add(1 << 16) {
        report.records += 1;
        line.clear();
        return emit(
            RawRecord {
                source: index,
                position: Position::Line(line_no),
                raw: Raw::Oversized {
                    bytes: line_len,
                    id: None,
                },
            },
            0,
        );
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        report.blank_lines += 1;
        line.clear();
        return Ok(());
    }
    report.records += 1;
    let bytes = std::mem::take(line);
    let n = bytes.len();
    emit(
        RawRecord {
            source: index,
            position: Position::Line(line_no),
            raw: Raw::Line(bytes),
        },
        n,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(path: &Path, params: &InputParams) -> (Vec<RawRecord>, Vec<FileReport>) {
        let (sources, _) = expand_inputs(&[path.to_path_buf()]).unwrap();
        let mut out = Vec::new();
        let reports = read_sources(&sources, params, |b| {
            out.extend(b.records);
            Ok(())
        })
        .unwrap();
        (out, reports)
    }

    fn line(r: &RawRecord) -> u64 {
        r.position.line().unwrap_or(0)
    }

    fn lines(recs: &[RawRecord]) -> Vec<(u64, String)> {
        recs.iter()
            .map(|r| match &r.raw {
                Raw::Line(b) => (line(r), String::from_utf8_lossy(b).into_owned()),
                other => (line(r), format!("{other:?}")),
            })
            .collect()
    }

    #[test]
    fn crlf_bom_blank_and_no_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, b"\xef\xbb\xbf{\"a\":1}\r\n\r\n  \n{\"b\":2}").unwrap();
        let (recs, reports) = collect(&p, &InputParams::default());
        assert_eq!(
            lines(&recs),
            vec![(1, "{\"a\":1}".into()), (4, "{\"b\":2}".into())]
        );
        assert_eq!(reports[0].blank_lines, 2);
        assert_eq!(reports[0].records, 2);
    }

    #[test]
    fn gzip_and_zstd_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"{\"id\":\"x\",\"text\":\"t\"}\n{\"id\":\"y\",\"text\":\"u\"}\n";
        let gz = dir.path().join("data.bin");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(body).unwrap();
        enc.finish().unwrap();
        let (recs, _) = collect(&gz, &InputParams::default());
        assert_eq!(recs.len(), 2);
        let zs = dir.path().join("data.jsonl.zst");
        std::fs::write(&zs, zstd::encode_all(&body[..], 3).unwrap()).unwrap();
        let (recs, _) = collect(&zs, &InputParams::default());
        assert_eq!(recs.len(), 2);
    }

    #[test]
    fn truncated_gzip_is_reported_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = Vec::new();
        for i in 0..2000 {
            writeln!(
                body,
                "{{\"id\":\"{i}\",\"text\":\"some text number {i} here\"}}"
            )
            .unwrap();
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&body).unwrap();
        let gz = enc.finish().unwrap();
        let p = dir.path().join("cut.jsonl.gz");
        std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
        let (recs, reports) = collect(&p, &InputParams::default());
        assert!(!recs.is_empty() && recs.len() < 2000);
        let err = reports[0].error.as_deref().unwrap();
        assert!(err.contains("truncated or corrupt"), "{err}");
        assert!(err.contains("cut.jsonl.gz"), "{err}");
        let stop = InputParams {
            on_error: ErrorPolicy::Stop,
            ..InputParams::default()
        };
        let (sources, _) = expand_inputs(std::slice::from_ref(&p)).unwrap();
        assert!(matches!(
            read_sources(&sources, &stop, |_| Ok(())),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn oversized_lines_are_not_buffered() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.jsonl");
        let big = "x".repeat(300_000);
        std::fs::write(&p, format!("{{\"text\":\"{big}\"}}\n{{\"text\":\"ok\"}}\n")).unwrap();
        let params = InputParams {
            max_doc_bytes: 1000,
            ..InputParams::default()
        };
        let (recs, _) = collect(&p, &params);
        assert!(matches!(recs[0].raw, Raw::Oversized { bytes, .. } if bytes > 300_000));
        assert!(matches!(&recs[1].raw, Raw::Line(b) if b.as_slice() == b"{\"text\":\"ok\"}"));
    }

    #[test]
    fn directories_sorted_with_relative_ids() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), "beta").unwrap();
        std::fs::write(dir.path().join("a.txt"), "alpha").unwrap();
        std::fs::write(dir.path().join(".hidden"), "no").unwrap();
        std::fs::write(dir.path().join("c.jsonl"), "{\"text\":\"gamma\"}\n").unwrap();
        let (sources, _) = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
        let ids: Vec<_> = sources.iter().map(|s| (s.kind, s.doc_id.clone())).collect();
        assert_eq!(
            ids,
            vec![
                (SourceKind::Text, Some("a.txt".into())),
                (SourceKind::Jsonl, None),
                (SourceKind::Text, Some("sub/b.txt".into())),
            ]
        );
    }

    #[test]
    fn input_named_twice_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, "{\"text\":\"x\"}\n").unwrap();
        let (sources, repeated) = expand_inputs(&[p.clone(), p.clone()]).unwrap();
        assert_eq!(sources.len(), 1);
        assert_eq!(repeated, vec![p]);
    }
}
