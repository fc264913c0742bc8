//! Sequential reading of every source into batches of raw records: JSONL lines, text
//! files, WARC records (their blocks, parsed later in the workers) and Parquet or Arrow
//! rows. What a source holds is decided by its first bytes, its name when they say
//! nothing (see the module docs of `input`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::{Raw, RawRecord, WarcDoc};
use super::walk::{FileId, InputProblem, UnreadInput, walk};
use super::warc::{self, RecordKind, WarcError, WarcReader};
use crate::document::Position;
use crate::error::{Error, Result, SkipReason};
use crate::params::{ErrorPolicy, InputParams};

/// What a source holds, as far as its name (or its being named directly) says; its
/// first bytes have the last word (see `read_sources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// JSONL: named `.jsonl`, `.ndjson` or `.json`, or standard input.
    Jsonl,
    /// One plain-text document: a file in a directory without another format's name.
    Text,
    /// WARC or WET: named `.warc` or `.wet` (before an optional `.gz` or `.zst`).
    Warc,
    /// Parquet or Arrow IPC: named `.parquet`, `.arrow`, `.feather` or `.ipc`.
    Columnar,
    /// A file named directly without a JSONL, WARC, Parquet or Arrow name (and whose first
    /// bytes are none of those either): JSONL when its first non-blank byte
    /// (after decompression) is `{`, else one text document. Decided while reading, from
    /// the bytes read, so that a pipe is read once.
    Sniffed,
}

/// One input file (or standard input), as the user will see it named in messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The path as given or as found in a directory; `-` is standard input.
    #[serde(with = "crate::paths::as_text")]
    pub path: PathBuf,
    /// How its records are split; `Sniffed` is settled when it is read.
    pub kind: SourceKind,
    /// For a plain-text document (or a `Sniffed` source that turns out to be one): its id.
    #[serde(skip)]
    pub doc_id: Option<String>,
}

impl Source {
    /// Whether this source is standard input (the path `-`), which is read, not opened.
    #[must_use]
    pub fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// What happened to one source, for `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// The path as given (`-` for standard input), as text (see `crate::paths`).
    #[serde(with = "crate::paths::as_text")]
    pub path: PathBuf,
    /// The path's exact bytes, for a path that is not UTF-8 (see `crate::paths`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
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
    /// Why, when `error` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<InputProblem>,
    /// For a WARC or WET file: its records by WARC-Type (`response`, `request`,
    /// `metadata`...), each counted whether it became a record of the run or not.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub warc_records: BTreeMap<String, u64>,
    /// Problems that did not stop reading and belong to no record (bytes between WARC
    /// records that are not a record), the first [`MAX_FILE_NOTES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The most `notes` a file's report keeps.
pub const MAX_FILE_NOTES: usize = 20;

impl FileReport {
    /// An empty report for the source at `path`.
    #[must_use]
    pub fn new(path: &Path) -> Self {
        FileReport {
            path: path.to_path_buf(),
            path_hex: crate::paths::hex(path),
            ..FileReport::default()
        }
    }

    /// The source's path, exact even when it is not UTF-8.
    #[must_use]
    pub fn source_path(&self) -> PathBuf {
        crate::paths::from_output(&crate::paths::text(&self.path), self.path_hex.as_deref())
    }
}

const JSONL_EXTENSIONS: [&str; 3] = ["jsonl", "ndjson", "json"];
const WARC_EXTENSIONS: [&str; 2] = ["warc", "wet"];
const COLUMNAR_EXTENSIONS: [&str; 4] = ["parquet", "arrow", "feather", "ipc"];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The kind a file's name says, if it says one: JSONL and WARC names may end in `.gz`,
/// `.zst` or `.zstd` too; Parquet and Arrow files are never compressed as a whole.
fn kind_by_name(path: &Path) -> Option<SourceKind> {
    let ext = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
    };
    if ext(path).is_some_and(|e| COLUMNAR_EXTENSIONS.contains(&e.as_str())) {
        return Some(SourceKind::Columnar);
    }
    let mut p = path.to_path_buf();
    if matches!(ext(&p).as_deref(), Some("gz" | "zst" | "zstd")) {
        p.set_extension("");
    }
    match ext(&p)?.as_str() {
        e if JSONL_EXTENSIONS.contains(&e) => Some(SourceKind::Jsonl),
        e if WARC_EXTENSIONS.contains(&e) => Some(SourceKind::Warc),
        _ => None,
    }
}

/// The user's paths resolved into sources, and what else the resolving found.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Every file to read, in order.
    pub sources: Vec<Source>,
    /// Paths that name a file already among the sources (after following links): read
    /// once, for the caller to warn about.
    pub repeated: Vec<PathBuf>,
    /// Directory entries not read: errors (under `ErrorPolicy::Skip`) and skipped FIFOs,
    /// sockets and devices.
    pub unread: Vec<UnreadInput>,
}

/// Resolves the user's paths into sources. A path named twice (the same file, through
/// any link) is read once. A path named directly that cannot be looked at is an error;
/// an entry of a directory that cannot is one under `on_error` (see `walk`).
pub fn expand_inputs(paths: &[PathBuf], on_error: ErrorPolicy) -> Result<Inputs> {
    let mut out = Inputs::default();
    let mut seen = std::collections::HashSet::new();
    let mut stdin_seen = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if std::mem::replace(&mut stdin_seen, true) {
                out.repeated.push(path.clone());
            } else {
                out.sources.push(Source {
                    path: path.clone(),
                    kind: SourceKind::Jsonl,
                    doc_id: None,
                });
            }
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let found = walk(path, &meta, on_error)?;
            out.unread.extend(found.unread);
            for (file, meta) in found.files {
                let id = FileId::of(&file, &meta).map_err(|e| Error::io(&file, e))?;
                if !seen.insert(id) {
                    out.repeated.push(file);
                    continue;
                }
                let kind = kind_by_name(&file).unwrap_or(SourceKind::Text);
                let doc_id = (kind == SourceKind::Text).then(|| relative_id(path, &file));
                out.sources.push(Source {
                    path: file,
                    kind,
                    doc_id,
                });
            }
        } else {
            let id = FileId::of(path, &meta).map_err(|e| Error::io(path, e))?;
            if !seen.insert(id) {
                out.repeated.push(path.clone());
                continue;
            }
            let kind = kind_by_name(path).unwrap_or(SourceKind::Sniffed);
            let doc_id =
                matches!(kind, SourceKind::Sniffed).then(|| crate::paths::text(path).into_owned());
            out.sources.push(Source {
                path: path.clone(),
                kind,
                doc_id,
            });
        }
    }
    Ok(out)
}

/// The id of a text file found under `dir`: its path below `dir`, names joined by `/`
/// whatever the system's separator, each written as `crate::paths` writes a name.
fn relative_id(dir: &Path, file: &Path) -> String {
    let below = file.strip_prefix(dir).unwrap_or(file);
    let names: Vec<_> = below
        .components()
        .map(|c| crate::paths::os_text(c.as_os_str()))
        .collect();
    names.join("/")
}

/// Whether `path` can be opened again and give the same bytes: a regular file, or a link
/// to one. Standard input, pipes, FIFOs, sockets and devices cannot. Asking does not open
/// the path, so it never blocks.
#[must_use]
pub fn rereadable(path: &Path) -> bool {
    path.as_os_str() != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// A stream with its head put back in front.
type Replay<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads from `inner` until `done` accepts what was read, `limit` bytes were read, or the
/// stream ends. Returns those bytes and a reader that gives them again, then the rest:
/// a look at the head of a stream (a pipe too) without reopening it.
fn peek<R: Read>(
    mut inner: R,
    limit: usize,
    done: impl Fn(&[u8]) -> bool,
) -> io::Result<(Vec<u8>, Replay<R>)> {
    let mut head = vec![0u8; limit];
    let mut n = 0;
    // One read may give fewer bytes than asked (a pipe hands over what it has), so read on
    // until the head decides; asking for no more than that keeps a slow pipe from stalling.
    while n < limit && !done(&head[..n]) {
        match inner.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(n);
    let seen = head.clone();
    Ok((seen, io::Cursor::new(head).chain(inner)))
}

/// Whether `head` starts a zstd frame: a compressed frame (this format or a legacy one the
/// decoder reads) or a skippable frame, which pzstd and seekable zstd put first.
fn is_zstd(head: &[u8]) -> bool {
    let Some(&[first, b1, b2, b3]) = head.get(..4) else {
        return false;
    };
    let frame = [b1, b2, b3] == [0xb5, 0x2f, 0xfd] && (0x1e..=0x28).contains(&first);
    let skippable = [b1, b2, b3] == [0x2a, 0x4d, 0x18] && first & 0xf0 == 0x50;
    frame || skippable
}

/// Wraps a reader in a gzip or zstd decoder when its first bytes say so; says which.
fn open_decompressed(
    inner: Box<dyn Read + Send>,
) -> io::Result<(warc::Compression, Box<dyn BufRead + Send>)> {
    // By content, not by name: dumps get renamed and piped, and stdin has no name at all.
    // Four bytes are the longest magic looked for (zstd's).
    let (head, stream) = peek(inner, 4, |h| h.len() >= 4)?;
    if head.starts_with(&GZIP_MAGIC) {
        // Multi-member: concatenated .gz files (`cat`, parallel gzip) are one stream.
        Ok((
            warc::Compression::Gzip,
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(stream),
            )),
        ))
    } else if is_zstd(&head) {
        Ok((
            warc::Compression::Zstd,
            Box::new(BufReader::with_capacity(
                1 << 16,
                zstd::stream::read::Decoder::new(stream)?,
            )),
        ))
    } else {
        Ok((
            warc::Compression::None,
            Box::new(BufReader::with_capacity(1 << 16, stream)),
        ))
    }
}

/// Whether a file's first bytes start a Parquet file (`PAR1`), an Arrow IPC file
/// (`ARROW1`) or an Arrow IPC stream (the continuation marker `FF FF FF FF`).
fn is_columnar(head: &[u8]) -> bool {
    head.starts_with(b"PAR1") || head.starts_with(b"ARROW1") || head.starts_with(&[0xff; 4])
}

/// Bytes of blank lines a WARC stream may start with before its `WARC/1.` line.
const WARC_SNIFF_BYTES: usize = 64;

/// Whether a decompressed stream starts a WARC record: `WARC/1.` after blank lines.
/// Returns the answer and the stream, whole.
fn sniff_warc(reader: Box<dyn BufRead + Send>) -> io::Result<(bool, Box<dyn BufRead + Send>)> {
    let start = |h: &[u8]| h.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
    let decided = |h: &[u8]| h.len() >= start(h) + 7;
    let (head, stream) = peek(reader, WARC_SNIFF_BYTES, decided)?;
    let warc = head[start(&head)..].starts_with(b"WARC/1.");
    Ok((warc, Box::new(BufReader::with_capacity(1 << 16, stream))))
}

/// Bytes a sniffed source may start with before its first non-blank byte decides.
const SNIFF_BYTES: usize = 512;

/// The kind of a `Sniffed` source from its decompressed head: JSONL when the first
/// non-blank byte (after a BOM) is `{`. Returns the kind and the stream, whole.
fn sniff(reader: Box<dyn BufRead + Send>) -> io::Result<(SourceKind, Box<dyn BufRead + Send>)> {
    let first_non_blank = |h: &[u8]| {
        let h = h.strip_prefix(b"\xef\xbb\xbf").unwrap_or(h);
        h.iter().find(|b| !b.is_ascii_whitespace()).copied()
    };
    // a BOM cut in the middle is not blank: wait for the third byte
    let decided = |h: &[u8]| h.len() >= 3 && first_non_blank(h).is_some();
    let (head, stream) = peek(reader, SNIFF_BYTES, decided)?;
    let kind = if first_non_blank(&head) == Some(b'{') {
        SourceKind::Jsonl
    } else {
        SourceKind::Text
    };
    Ok((kind, Box::new(BufReader::with_capacity(1 << 16, stream))))
}

/// A batch of raw records handed from the reader thread to the workers.
pub struct RawBatch {
    /// Records in input order; batches are handed over in that order too.
    pub records: Vec<RawRecord>,
}

// A batch ends at whichever limit comes first: enough records to spread over the workers
// and pay for a channel send, few enough bytes that the batches in flight (the pipeline's
// channel holds a few) bound the memory, whatever the size of the documents.
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
        let mut report = FileReport::new(&source.path);
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
            // Only the file's own trouble is recorded and read past; any other error came
            // from `sink` (the consumers stopped) and ends the reading.
            let reason = match e {
                Error::Io { .. } => InputProblem::Unreadable,
                Error::Truncated { .. } | Error::StoppedAt { .. } => InputProblem::Truncated,
                Error::Unusable { .. } => InputProblem::Unusable,
                _ => return Err(e),
            };
            if params.on_error == ErrorPolicy::Stop {
                return Err(e);
            }
            report.error = Some(e.to_string());
            report.reason = Some(reason);
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
    // the first bytes decide: Parquet and Arrow (never compressed as a whole), then,
    // decompressed, WARC; the name only when they say nothing
    let (head, inner) = peek(inner, 8, |h| h.len() >= 8).map_err(|e| Error::io(path, e))?;
    if is_columnar(&head) || source.kind == SourceKind::Columnar {
        drop(inner);
        return read_columnar(index, source, params, report, emit);
    }
    let (compression, mut reader) =
        open_decompressed(Box::new(inner)).map_err(|e| Error::io(path, e))?;
    let is_warc;
    (is_warc, reader) = sniff_warc(reader).map_err(|e| truncated(path, 0, e))?;
    if is_warc || source.kind == SourceKind::Warc {
        return read_warc(index, path, reader, compression, params, report, emit);
    }
    let mut kind = source.kind;
    // Sniffed after decompression (compressed bytes say nothing of the content) and on
    // the same stream, through `peek`'s buffer: the source may be a pipe that cannot be
    // opened a second time.
    if kind == SourceKind::Sniffed {
        (kind, reader) = sniff(reader).map_err(|e| truncated(path, 0, e))?;
    }
    match kind {
        SourceKind::Text | SourceKind::Sniffed | SourceKind::Warc | SourceKind::Columnar => {
            let mut bytes = Vec::new();
            let limit = params.max_doc_bytes;
            // one byte past the limit tells an oversized file without holding more of it
            (&mut reader)
                .take(limit + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| truncated(path, 0, e))?;
            report.records = 1;
            report.bytes = bytes.len() as u64;
            let id = source
                .doc_id
                .clone()
                .unwrap_or_else(|| crate::paths::text(path).into_owned());
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

/// Reads a WARC or WET stream (already decompressed): a `response`, `resource` or
/// `conversion` record becomes a record of the run, its block parsed later by a worker; a
/// record of another type is only counted, by type, in the file's report. A record over
/// `max_doc_bytes` (plus 64 KiB of headers) is skipped unread as `too_large`, a
/// malformed one gets the status `malformed_record`, and reading goes on after both;
/// bytes between records that are not a record are a note of the file's report. A record
/// cut short (the stream or a gzip member ends inside it) ends the file with an error
/// naming its byte offset.
fn read_warc(
    index: u32,
    path: &Path,
    reader: Box<dyn BufRead + Send>,
    compression: warc::Compression,
    params: &InputParams,
    report: &mut FileReport,
    emit: &mut dyn FnMut(RawRecord, usize) -> Result<()>,
) -> Result<()> {
    let is_document = |kind: &RecordKind| {
        matches!(
            kind,
            RecordKind::Response | RecordKind::Resource | RecordKind::Conversion
        )
    };
    let mut records = WarcReader::new(reader)
        .with_compression(compression)
        .max_record_bytes(params.max_doc_bytes.saturating_add(1 << 16));
    let result = loop {
        let Some(item) = records.next() else {
            break Ok(());
        };
        let record = match item {
            Ok(record) => record,
            Err(WarcError::TooLarge {
                offset,
                length,
                warc_type,
                record_id,
                ..
            }) => {
                let kind = RecordKind::parse(&warc_type);
                *report
                    .warc_records
                    .entry(kind.as_str().to_owned())
                    .or_default() += 1;
                if !is_document(&kind) {
                    continue;
                }
                report.records += 1;
                let raw = Raw::Oversized {
                    bytes: length,
                    id: record_id,
                };
                emit(
                    RawRecord {
                        source: index,
                        position: Position::Offset(offset),
                        raw,
                    },
                    0,
                )?;
                continue;
            }
            Err(e @ WarcError::Garbage { .. }) => {
                if report.notes.len() < MAX_FILE_NOTES {
                    report.notes.push(format!("{}: {e}", path.display()));
                }
                continue;
            }
            Err(e) if e.is_fatal() => {
                break Err(Error::StoppedAt {
                    path: path.to_path_buf(),
                    position: Position::Offset(e.offset()),
                    message: e.to_string(),
                });
            }
            Err(e) => {
                report.records += 1;
                *report
                    .warc_records
                    .entry("malformed".to_owned())
                    .or_default() += 1;
                let raw = Raw::Unreadable {
                    id: None,
                    reason: SkipReason::MalformedRecord,
                    detail: e.to_string(),
                };
                emit(
                    RawRecord {
                        source: index,
                        position: Position::Offset(e.offset()),
                        raw,
                    },
                    0,
                )?;
                continue;
            }
        };
        let kind = record.kind();
        *report
            .warc_records
            .entry(kind.as_str().to_owned())
            .or_default() += 1;
        if !is_document(&kind) {
            continue;
        }
        report.records += 1;
        let header = |name: &str| record.header(name).map(str::to_owned);
        let doc = WarcDoc {
            record_id: header("WARC-Record-ID"),
            target_uri: header("WARC-Target-URI"),
            date: header("WARC-Date"),
            content_type: header("Content-Type"),
            kind,
            block: Vec::new(),
        };
        let offset = record.offset;
        let block = record.block;
        let n = block.len();
        emit(
            RawRecord {
                source: index,
                position: Position::Offset(offset),
                raw: Raw::Warc(WarcDoc { block, ..doc }),
            },
            n,
        )?;
    };
    report.bytes = records.bytes_read();
    result
}

/// Reads the rows of a Parquet or Arrow IPC file, a batch at a time: the columns
/// `--text-field` and the other field flags name (the text column must be there; the
/// others are used when they are). A row group whose page is corrupt gives one
/// `corrupt_data` record per row lost, and reading goes on with the next row group; a
/// corrupt footer, a missing or non-string column end the file before any row.
#[cfg(feature = "columnar")]
fn read_columnar(
    index: u32,
    source: &Source,
    params: &InputParams,
    report: &mut FileReport,
    emit: &mut dyn FnMut(RawRecord, usize) -> Result<()>,
) -> Result<()> {
    use super::columnar::{ColumnarError, ColumnarReader};
    let path = &source.path;
    if source.is_stdin() || !rereadable(path) {
        return Err(Error::Unusable {
            path: path.clone(),
            message: "Parquet and Arrow files are read by seeking in them, which a pipe or \
                      standard input does not allow: name the file itself"
                .to_owned(),
        });
    }
    let columns = columns_of(params);
    let unusable = |e: ColumnarError| Error::Unusable {
        path: path.clone(),
        message: strip_path(path, &e.to_string()),
    };
    let reader = ColumnarReader::open_present(path, &columns).map_err(unusable)?;
    report.bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let limit = params.max_doc_bytes;
    for batch in reader {
        let batch = match batch {
            Ok(batch) => batch,
            Err(ColumnarError::CorruptRows {
                row,
                skipped: Some(n),
                message,
                ..
            }) => {
                let detail = format!("corrupt data ({n} rows from row {row} lost): {message}");
                for r in row..row + n {
                    report.records += 1;
                    let raw = Raw::Unreadable {
                        id: None,
                        reason: SkipReason::CorruptData,
                        detail: detail.clone(),
                    };
                    emit(
                        RawRecord {
                            source: index,
                            position: Position::Row(r),
                            raw,
                        },
                        0,
                    )?;
                }
                continue;
            }
            Err(ColumnarError::CorruptRows { row, message, .. }) => {
                return Err(Error::StoppedAt {
                    path: path.clone(),
                    position: Position::Row(row),
                    message: format!("corrupt data: {message}"),
                });
            }
            Err(e) => return Err(unusable(e)),
        };
        for row in batch.rows() {
            report.records += 1;
            let text_len = row.text.map_or(0, str::len);
            let raw = row_raw(&row, limit);
            emit(
                RawRecord {
                    source: index,
                    position: Position::Row(row.row),
                    raw,
                },
                text_len,
            )?;
        }
    }
    Ok(())
}

/// The columns a Parquet or Arrow file's records are read from: those the field flags name.
#[cfg(feature = "columnar")]
#[must_use]
pub fn columns_of(params: &InputParams) -> super::columnar::Columns {
    super::columnar::Columns {
        text: params.text_field.clone(),
        id: Some(params.id_field.clone()),
        date: Some(params.date_field.clone()),
        outlet: Some(params.outlet_field.clone()),
        url: Some(params.url_field.clone()),
    }
}

/// The raw record of a Parquet or Arrow row: its named columns' values, or, when its text
/// is over `max_doc_bytes`, only its length (the same rule as for any record).
#[cfg(feature = "columnar")]
#[must_use]
pub fn row_raw(row: &super::columnar::Row<'_>, max_doc_bytes: u64) -> Raw {
    let owned = |v: Option<&str>| v.map(str::to_owned);
    let text_len = row.text.map_or(0, str::len);
    if text_len as u64 > max_doc_bytes {
        Raw::Oversized {
            bytes: text_len as u64,
            id: owned(row.id),
        }
    } else {
        Raw::Row {
            id: owned(row.id),
            text: owned(row.text),
            date: owned(row.date),
            outlet: owned(row.outlet),
            url: owned(row.url),
        }
    }
}

/// Whether `source` is read as a Parquet or Arrow file, by the rule `read_sources` applies:
/// its first bytes, or its name. A source that cannot be opened is not (reading it fails
/// as any file's would).
#[must_use]
pub fn is_columnar_source(source: &Source) -> bool {
    if source.kind == SourceKind::Columnar {
        return true;
    }
    if source.is_stdin() {
        return false;
    }
    let mut head = [0u8; 8];
    let Ok(mut file) = File::open(&source.path) else {
        return false;
    };
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    is_columnar(&head[..got])
}

/// Without the `columnar` feature: a Parquet or Arrow file is an error saying so.
#[cfg(not(feature = "columnar"))]
fn read_columnar(
    _index: u32,
    source: &Source,
    _params: &InputParams,
    _report: &mut FileReport,
    _emit: &mut dyn FnMut(RawRecord, usize) -> Result<()>,
) -> Result<()> {
    Err(Error::Unusable {
        path: source.path.clone(),
        message: "a Parquet or Arrow file, and this build of neardup reads neither (it was \
                  built without the `columnar` feature)"
            .to_owned(),
    })
}

/// A reader's message without the path it starts with (the error names the file once).
#[cfg(feature = "columnar")]
fn strip_path(path: &Path, message: &str) -> String {
    let shown = format!("{}: ", path.display());
    message.strip_prefix(&shown).unwrap_or(message).to_owned()
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
    // By `fill_buf` and `consume`, not `read_until`: that stores a line whole, and one line
    // of a dump can be gigabytes. Here a line past the limit is measured, not stored.
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
        // still a record, so it gets a status; 0 bytes towards the batch, as none are held
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
    // Handed on as bytes: this thread is the only reader, so JSON parsing (and UTF-8
    // checks) wait for the workers, which do them in parallel.
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
        let sources = expand_inputs(&[path.to_path_buf()], ErrorPolicy::Skip)
            .unwrap()
            .sources;
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

    /// A reader that hands out one byte a call, as a slow pipe may.
    struct Trickle(io::Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn a_stream_read_a_byte_at_a_time_is_recognised_and_read_whole() {
        let body = b"\xef\xbb\xbf  \n{\"id\":\"x\",\"text\":\"t\"}\n";
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(body).unwrap();
        let gz = enc.finish().unwrap();
        for bytes in [body.to_vec(), gz, zstd::encode_all(&body[..], 3).unwrap()] {
            let (_, reader) = open_decompressed(Box::new(Trickle(io::Cursor::new(bytes)))).unwrap();
            let (kind, mut reader) = sniff(reader).unwrap();
            assert_eq!(kind, SourceKind::Jsonl);
            let mut all = Vec::new();
            reader.read_to_end(&mut all).unwrap();
            assert_eq!(all, body, "nothing looked at is lost");
        }
        let (kind, _) = sniff(Box::new(io::Cursor::new(b"  plain words".to_vec()))).unwrap();
        assert_eq!(kind, SourceKind::Text);
        let (kind, _) = sniff(Box::new(io::Cursor::new(Vec::new()))).unwrap();
        assert_eq!(kind, SourceKind::Text);
    }

    #[test]
    fn zstd_after_a_skippable_frame_and_in_several_frames() {
        let body = b"{\"id\":\"x\",\"text\":\"t\"}\n{\"id\":\"y\",\"text\":\"u\"}\n";
        // what pzstd writes first: a skippable frame (magic 0x184D2A50, length, payload)
        let mut bytes = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
        bytes.extend(zstd::encode_all(&body[..20], 3).unwrap());
        bytes.extend([0x5e, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]);
        bytes.extend(zstd::encode_all(&body[20..], 3).unwrap());
        assert!(is_zstd(&bytes));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pzstd-output");
        std::fs::write(&p, &bytes).unwrap();
        let (recs, reports) = collect(&p, &InputParams::default());
        assert_eq!(lines(&recs).len(), 2, "{:?}", lines(&recs));
        assert_eq!(reports[0].bytes, body.len() as u64);
        assert_eq!(reports[0].error, None);
        assert!(!is_zstd(b"\x50\x2a\x4d"));
        assert!(!is_zstd(b"\x60\x2a\x4d\x18"));
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
        assert_eq!(reports[0].reason, Some(InputProblem::Truncated));
        assert!(err.contains("truncated or corrupt"), "{err}");
        assert!(err.contains("cut.jsonl.gz"), "{err}");
        let stop = InputParams {
            on_error: ErrorPolicy::Stop,
            ..InputParams::default()
        };
        let sources = expand_inputs(std::slice::from_ref(&p), ErrorPolicy::Skip)
            .unwrap()
            .sources;
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
        let sources = expand_inputs(&[dir.path().to_path_buf()], ErrorPolicy::Skip)
            .unwrap()
            .sources;
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

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_give_distinct_ids_and_exact_reports() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let e9 = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt"));
        let e8 = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe8.txt"));
        std::fs::write(&e9, "some words").unwrap();
        std::fs::write(&e8, "other words").unwrap();
        let (recs, reports) = collect(dir.path(), &InputParams::default());
        let ids: Vec<_> = recs
            .iter()
            .map(|r| match &r.raw {
                Raw::File { id, .. } => id.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, ["caf\\xE8.txt", "caf\\xE9.txt"]);
        let json = serde_json::to_value(&reports[1]).unwrap();
        assert!(
            json["path"].as_str().unwrap().ends_with("/caf\\xE9.txt"),
            "{json}"
        );
        let back: FileReport = serde_json::from_value(json).unwrap();
        assert_eq!(back.source_path(), e9);
        assert_eq!(
            std::fs::read_to_string(back.source_path()).unwrap(),
            "some words"
        );
    }

    #[test]
    fn formats_by_content_first_then_by_name_in_a_directory() {
        use crate::input::warc::writer::{gzip, record, response};
        let dir = tempfile::tempdir().unwrap();
        let page = response(
            "<urn:uuid:1>",
            "https://example.com/a",
            "Content-Type: text/html\r\n",
            b"<p>hello</p>",
        );
        let request = record(
            "request",
            &[("WARC-Record-ID", "<urn:uuid:0>")],
            b"GET /\r\n",
        );
        let warc = [request.clone(), page.clone()].concat();
        // WARC by content, whatever the name; gzip per record too
        std::fs::write(dir.path().join("a.txt"), &warc).unwrap();
        std::fs::write(
            dir.path().join("b.bin"),
            [gzip(&request), gzip(&page)].concat(),
        )
        .unwrap();
        // WARC by name: garbage first, then a record
        std::fs::write(
            dir.path().join("c.warc"),
            [b"junk line\r\n".to_vec(), page.clone()].concat(),
        )
        .unwrap();
        // a text file stays one text document, even one that starts with `{`
        std::fs::write(dir.path().join("d.txt"), "{\"not\": \"jsonl here\"}").unwrap();
        let sources = expand_inputs(&[dir.path().to_path_buf()], ErrorPolicy::Skip)
            .unwrap()
            .sources;
        let kinds: Vec<SourceKind> = sources.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SourceKind::Text,
                SourceKind::Text,
                SourceKind::Warc,
                SourceKind::Text
            ]
        );
        let (recs, reports) = collect(dir.path(), &InputParams::default());
        let got: Vec<(u32, Position, &str)> = recs
            .iter()
            .map(|r| {
                let what = match &r.raw {
                    Raw::Warc(doc) => doc.record_id.as_deref().unwrap_or("?"),
                    Raw::File { .. } => "file",
                    _ => "other",
                };
                (r.source, r.position, what)
            })
            .collect();
        let at = request.len() as u64;
        assert_eq!(
            got,
            [
                (0, Position::Offset(at), "<urn:uuid:1>"),
                (1, Position::Offset(at), "<urn:uuid:1>"),
                (2, Position::Offset(11), "<urn:uuid:1>"),
                (3, Position::File, "file"),
            ]
        );
        let counts: BTreeMap<String, u64> =
            [("request".to_owned(), 1), ("response".to_owned(), 1)].into();
        assert_eq!(reports[0].warc_records, counts);
        assert_eq!(reports[0].records, 1);
        assert_eq!(reports[0].bytes, warc.len() as u64);
        assert_eq!(reports[1].warc_records, counts);
        assert_eq!(reports[2].notes.len(), 1, "{:?}", reports[2].notes);
        assert!(reports[2].notes[0].contains("11 bytes that are not a WARC record"));
        assert_eq!(kind_by_name(Path::new("x.WARC.gz")), Some(SourceKind::Warc));
        assert_eq!(kind_by_name(Path::new("x.wet.zst")), Some(SourceKind::Warc));
        assert_eq!(
            kind_by_name(Path::new("x.feather")),
            Some(SourceKind::Columnar)
        );
        assert_eq!(kind_by_name(Path::new("x.parquet.gz")), None);
        assert_eq!(
            kind_by_name(Path::new("x.ndjson.gz")),
            Some(SourceKind::Jsonl)
        );
    }

    #[test]
    fn input_named_twice_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, "{\"text\":\"x\"}\n").unwrap();
        let inputs = expand_inputs(&[p.clone(), p.clone()], ErrorPolicy::Skip).unwrap();
        assert_eq!(inputs.sources.len(), 1);
        assert_eq!(inputs.repeated, vec![p]);
    }
}
