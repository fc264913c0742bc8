//! Outputs: the result of a run in, files in the output directory out.
//!
//! - `docs.jsonl`: one line per input record, in input order.
//! - `clusters.jsonl`: one line per cluster of two or more records.
//! - `summary.json`: parameters, format version, counts, timings.
//!
//! Each file is written under a temporary name in the same directory and renamed into
//! place only after all of them are complete, `summary.json` last: a directory whose
//! `summary.json` is fresh holds a complete, consistent result, and an interrupted run
//! never leaves a partial file under a final name.
//!
//! The files' formats are in `schema`; `rundir` reads a finished run back.
//!
//! A run holds `DirLock` on its output directory from before it reads its first input to
//! after its last rename, so two runs into one directory cannot interleave their renames;
//! and `summary.json` records the xxh3-128 digest of every other file it was written with
//! (`Summary::outputs`), so a reader can tell a directory that holds one run from a mixture.

pub mod rundir;
pub mod schema;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufWriter, Read, Seek, Write};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use tempfile::NamedTempFile;

use rayon::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::document::Position;
use crate::error::{Error, Result};
use crate::input::{FileReport, Raw, RawBatch};
use crate::output::schema::{ClusterLine, ClusterMember, DocLine, Summary};
use crate::paragraph::{Repeat, blocks};
use crate::paragraph::{rebuild, segment};
use crate::params::ValidParams;
use crate::progress::{Progress, check_cancel};
use crate::records::{Dedup, RecordMeta, Records};

/// The lock file in an output directory: its advisory lock is held by the run writing
/// there, its text is that run's pid (for the message a second run gives).
pub const LOCK_FILE: &str = ".neardup.lock";

/// The advisory lock of an output directory, held until dropped. `std`'s `File::try_lock`
/// (`flock` on Unix, `LockFileEx` on Windows) is enough: the operating system releases it
/// when the process ends however it ends, so a killed run never leaves the directory locked,
/// and no extra crate is needed. The lock file itself stays: removing it would let a third
/// run lock a fresh file while a second still holds the old one.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir` (which must exist) for this process, or fails at once with
    /// `Error::Busy` naming the pid of the run that holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::output(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                // The holder may be between truncating and writing its pid: say so rather
                // than fail on a lock file we only read for the message.
                let holder = match file.read_to_string(&mut text) {
                    Ok(_) if !text.trim().is_empty() => text.trim().to_owned(),
                    _ => "pid unknown".to_owned(),
                };
                return Err(Error::Busy {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::output(&path, e)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "pid {}", std::process::id()))
            .map_err(|e| Error::output(&path, e))?;
        Ok(DirLock { _file: file })
    }
}

/// Files a run writes only when asked (`--emit-clean`: `clean.jsonl`; `--report`: the
/// other three, written by `report::write_report` right after the run). One left by an
/// earlier run that this run does not write is stale: `write_all` removes it, by this one
/// rule, before it renames this run's files into place. No input can be among them: a
/// run refuses an input inside its output directory before it starts.
pub const OPTIONAL_OUTPUTS: [&str; 4] = [
    "clean.jsonl",
    REPORT_FILES[0],
    REPORT_FILES[1],
    REPORT_FILES[2],
];

/// The files `report::write_report` writes into a run's directory: the page, the
/// Markdown report and the CSV of copies, in that order.
pub const REPORT_FILES: [&str; 3] = ["report.html", "report.md", "syndication.csv"];

/// The xxh3-128 digest of a file's bytes, in hex, as `Summary::outputs` records it.
pub fn digest_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:032x}", hasher.digest128()))
}

/// A file being written under a temporary name, and the xxh3-128 digest of what was
/// written so far (the digest `digest_file` would take of it, without reading it back).
struct Pending {
    tmp: BufWriter<NamedTempFile>,
    name: &'static str,
    digest: xxhash_rust::xxh3::Xxh3,
}

/// A temporary file beside the final `name` (so the rename cannot cross filesystems),
/// readable by others like any file the user writes: the 0600 that temporary files get by
/// default is for secrets, and these are data to share and join back.
pub fn temp_beside(dir: &Path, name: &str) -> Result<NamedTempFile> {
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder
        .tempfile_in(dir)
        .map_err(|e| Error::output(dir.join(name), e))
}

impl Pending {
    fn new(dir: &Path, name: &'static str) -> Result<Self> {
        let tmp = temp_beside(dir, name)?;
        Ok(Pending {
            tmp: BufWriter::with_capacity(1 << 20, tmp),
            name,
            digest: xxhash_rust::xxh3::Xxh3::new(),
        })
    }

    /// Appends `bytes` (whole lines).
    fn write(&mut self, dir: &Path, bytes: &[u8]) -> Result<()> {
        self.digest.update(bytes);
        self.tmp
            .write_all(bytes)
            .map_err(|e| Error::output(dir.join(self.name), e))
    }

    /// The digest of everything written, as `summary.json`'s `outputs` records it.
    fn digest(&self) -> String {
        format!("{:032x}", self.digest.digest128())
    }

    fn finish(self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        let file = self
            .tmp
            .into_inner()
            .map_err(|e| Error::output(dir.join(self.name), e.into_error()))?;
        file.as_file()
            .sync_all()
            .map_err(|e| Error::output(dir.join(self.name), e))?;
        Ok((file, self.name))
    }
}

/// A complete output file under a temporary name, to be renamed with the others.
pub struct Finished(NamedTempFile, &'static str);

/// Writes every output of `dedup` into `dir`; `extra` files (already complete) are renamed
/// into place with them.
pub fn write_all(
    dir: &Path,
    dedup: &Dedup,
    summary: &mut Summary,
    started: Instant,
    extra: Vec<Finished>,
    progress: &dyn Progress,
) -> Result<()> {
    let records = &dedup.records;
    let metas = &records.metas;
    let source_names: Vec<String> = dedup
        .sources
        .iter()
        .map(|s| crate::paths::text(&s.path).into_owned())
        .collect();

    let paragraphs = dedup.summary.params.paragraphs.enabled;
    let doc_line = |i: usize| {
        let (meta, a) = (&metas[i], &dedup.assignments[i]);
        let (repeats, boilerplate): (&[Repeat], &[u32]) = match meta.doc {
            Some(d) => (records.repeats_of(d), records.boilerplate_of(d)),
            None => (&[], &[]),
        };
        DocLine {
            id: Cow::Borrowed(&meta.id),
            cluster: a.cluster,
            keep: a.keep,
            duplicate_of: a
                .duplicate_of
                .map(|r| Cow::Borrowed(&*metas[r as usize].id)),
            similarity: a.similarity,
            containment: a.containment,
            split_from: a.split_from.map(|r| Cow::Borrowed(&*metas[r as usize].id)),
            provenance: dedup.provenance[i].as_deref().map(Cow::Borrowed),
            status: Cow::Borrowed(meta.status.as_str()),
            file: Cow::Borrowed(&source_names[meta.source as usize]),
            line: meta.position.unpack().line(),
            offset: meta.position.unpack().offset(),
            row: meta.position.unpack().row(),
            repeats: paragraphs.then_some(Cow::Borrowed(repeats)),
            repeat_blocks: paragraphs.then(|| blocks(repeats)),
            boilerplate: paragraphs.then_some(Cow::Borrowed(boilerplate)),
        }
    };
    let mut docs = Pending::new(dir, "docs.jsonl")?;
    write_lines(&mut docs, dir, metas.len(), doc_line, progress)?;
    let mut members: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    let mut split_off: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (i, a) in dedup.assignments.iter().enumerate() {
        if let (Some(c), Some(_)) = (a.cluster, a.duplicate_of) {
            members.entry(c).or_default().push(i as u32);
        }
        if let Some(from) = a.split_from {
            split_off.entry(from).or_default().push(i as u32);
        }
    }

    let members: Vec<(&u64, &Vec<u32>)> = members.iter().collect();
    let cluster_line = |k: usize| {
        let (cluster, dups) = members[k];
        let rep = dedup.assignments[dups[0] as usize]
            .duplicate_of
            .expect("members are duplicates");
        let mut all: Vec<u32> = dups.clone();
        all.push(rep);
        all.sort_unstable();
        let member = |r: u32| {
            let m = &metas[r as usize];
            ClusterMember {
                id: Cow::Borrowed(&m.id),
                similarity: dedup.assignments[r as usize].similarity.unwrap_or(1.0),
                outlet: records.outlet(m).map(Cow::Borrowed),
                date: m.date.as_deref().map(Cow::Borrowed),
                provenance: dedup.provenance[r as usize].as_deref().map(Cow::Borrowed),
            }
        };
        let weak_links = all
            .iter()
            .filter(|&&r| {
                dedup.provenance[r as usize]
                    .as_ref()
                    .is_some_and(|p| p.weak)
            })
            .map(|&r| Cow::Borrowed(&*metas[r as usize].id))
            .collect();
        ClusterLine {
            cluster: *cluster,
            size: all.len(),
            representative: Cow::Borrowed(&metas[rep as usize].id),
            members: all.into_iter().map(member).collect(),
            weak_links,
            split_off: split_off
                .get(&rep)
                .map(|v| {
                    v.iter()
                        .map(|&r| Cow::Borrowed(&*metas[r as usize].id))
                        .collect()
                })
                .unwrap_or_default(),
        }
    };
    let mut clusters = Pending::new(dir, "clusters.jsonl")?;
    write_lines(&mut clusters, dir, members.len(), cluster_line, progress)?;

    check_cancel(progress)?;
    summary.outputs.clear();
    for written in [&docs, &clusters] {
        summary
            .outputs
            .insert(written.name.to_owned(), written.digest());
    }
    let docs = docs.finish(dir)?;
    let clusters = clusters.finish(dir)?;
    for Finished(file, name) in &extra {
        let digest = digest_file(file.path()).map_err(|e| Error::output(dir.join(name), e))?;
        summary.outputs.insert((*name).to_owned(), digest);
    }
    summary
        .seconds
        .insert("write".into(), started.elapsed().as_secs_f64());
    let mut sum = Pending::new(dir, "summary.json")?;
    serde_json::to_writer_pretty(&mut sum.tmp, &summary)
        .map_err(|e| Error::output(dir.join("summary.json"), e.into()))?;
    sum.tmp
        .write_all(b"\n")
        .map_err(|e| Error::output(dir.join("summary.json"), e))?;
    let sum = sum.finish(dir)?;
    // An old summary.json must not vouch for a half-replaced directory: it goes first, and
    // the new one is renamed last. An optional output this run did not write is stale
    // (`OPTIONAL_OUTPUTS`): it goes. A report this run asked for is written after it.
    for stale in std::iter::once("summary.json").chain(OPTIONAL_OUTPUTS) {
        if stale == "summary.json" || !extra.iter().any(|Finished(_, n)| *n == stale) {
            match std::fs::remove_file(dir.join(stale)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::output(dir.join(stale), e));
                }
                _ => {}
            }
        }
    }
    let extra = extra.into_iter().map(|Finished(f, n)| (f, n));
    for (file, name) in [docs, clusters].into_iter().chain(extra).chain([sum]) {
        file.persist(dir.join(name))
            .map_err(|e| Error::output(dir.join(name), e.error))?;
    }
    Ok(())
}

/// Lines formatted at once: enough to keep every thread busy, few enough that their text
/// stays small.
const FORMAT_BLOCK: usize = 1 << 14;

/// Writes `line(0)`, ..., `line(n - 1)` as JSON lines, in that order: each block of
/// `FORMAT_BLOCK` lines is formatted in parallel, in slices whose texts are then written in
/// order, so the file does not depend on the thread count.
fn write_lines<T: Serialize>(
    out: &mut Pending,
    dir: &Path,
    n: usize,
    line: impl Fn(usize) -> T + Sync,
    progress: &dyn Progress,
) -> Result<()> {
    const SLICE: usize = 256;
    for start in (0..n).step_by(FORMAT_BLOCK) {
        let end = (start + FORMAT_BLOCK).min(n);
        let texts: Vec<Vec<u8>> = (start..end)
            .step_by(SLICE)
            .collect::<Vec<usize>>()
            .into_par_iter()
            .map(|from| -> Result<Vec<u8>> {
                let mut text = Vec::new();
                for i in from..(from + SLICE).min(end) {
                    serde_json::to_writer(&mut text, &line(i))
                        .map_err(|e| Error::output(dir.join(out.name), e.into()))?;
                    text.push(b'\n');
                }
                Ok(text)
            })
            .collect::<Result<_>>()?;
        for text in &texts {
            out.write(dir, text)?;
        }
        check_cancel(progress)?;
    }
    Ok(())
}

/// Writes `clean.jsonl`: every kept record with its fields, its text rebuilt without its
/// repeats and boilerplate (paragraph separators preserved). `read` replays the inputs,
/// which must give the same records in the same order as the run did: each record read
/// again is checked against the digest of its bytes the first pass kept
/// (`RecordMeta::raw_digest`), and a record that changed is an error naming its file and
/// line. On an error nothing is renamed into place: the temporary file goes, and the
/// previous outputs stay.
pub fn write_clean(
    dir: &Path,
    dedup: &Dedup,
    params: &ValidParams,
    progress: &dyn Progress,
    read: impl FnOnce(&mut dyn FnMut(RawBatch) -> Result<()>) -> Result<Vec<FileReport>>,
) -> Result<Finished> {
    let mut out = Pending::new(dir, "clean.jsonl")?;
    let mut next = 0usize;
    let metas = &dedup.records.metas;
    read(&mut |batch| {
        check_cancel(progress)?;
        let start = next;
        next += batch.records.len();
        let lines: Vec<Result<Option<Vec<u8>>>> = batch
            .records
            .into_par_iter()
            .enumerate()
            .map(|(k, rec)| {
                let index = start + k;
                let source = &dedup.sources[rec.source as usize];
                let position = rec.position;
                let Some(meta) = metas
                    .get(index)
                    .filter(|m| m.source == rec.source && m.position.unpack() == position)
                else {
                    return Err(changed(
                        &source.path,
                        position,
                        &format!("record {} is not where the first pass read it", index + 1),
                    ));
                };
                if !dedup.assignments[index].keep {
                    return Ok(None);
                }
                if rec.raw.digest() != meta.raw_digest {
                    return Err(changed(
                        &source.path,
                        position,
                        "its bytes differ from the first pass",
                    ));
                }
                clean_line(rec.raw, meta, &dedup.records, params)
                    .map(Some)
                    .map_err(|why| changed(&source.path, position, &why))
            })
            .collect();
        for line in lines {
            if let Some(bytes) = line? {
                out.tmp
                    .write_all(&bytes)
                    .map_err(|e| Error::output(dir.join("clean.jsonl"), e))?;
            }
        }
        Ok(())
    })?;
    if next != metas.len() {
        let first = dedup
            .sources
            .first()
            .map_or(Path::new("-"), |s| s.path.as_path());
        return Err(Error::Input {
            path: first.to_path_buf(),
            message: format!(
                "the input changed while it was read a second time for --emit-clean: {next} \
                 records now, {} in the first pass",
                metas.len()
            ),
        });
    }
    let (file, name) = out.finish(dir)?;
    Ok(Finished(file, name))
}

/// The error for a record that changed between the two passes of `--emit-clean`, naming
/// its file and line (a whole-file record: its file).
fn changed(path: &Path, position: Position, why: &str) -> Error {
    let message =
        format!("the input changed while it was read a second time for --emit-clean: {why}");
    match position.line() {
        Some(line) => Error::BadLine {
            path: path.to_path_buf(),
            line,
            message,
        },
        None => Error::Input {
            path: path.to_path_buf(),
            message,
        },
    }
}

/// A kept JSONL record with its text field replaced, every other byte as it was (field
/// order, number formats, escapes): values are never re-parsed, so whatever the first pass
/// accepted is written back unchanged. A record without an id gets the id it was given.
/// A record that no longer parses as the object it was is an error (the digest check
/// comes first, so this is a second line of defence, not a panic).
fn clean_json_line(
    bytes: &[u8],
    meta: &RecordMeta,
    params: &ValidParams,
    cleaned: impl Fn(&str) -> String,
) -> std::result::Result<Vec<u8>, String> {
    let line = std::str::from_utf8(bytes).map_err(|_| "it is no longer valid UTF-8")?;
    let fields: BTreeMap<String, &RawValue> =
        serde_json::from_str(line).map_err(|e| format!("it is no longer a JSON object ({e})"))?;
    let mut out = String::with_capacity(line.len() + 64);
    let mut rest = line;
    if !fields.contains_key(&params.input.id_field) {
        let brace = line.find('{').ok_or("it is no longer a JSON object")?;
        out.push_str(&line[..=brace]);
        out.push_str(&json_string(&params.input.id_field));
        out.push(':');
        out.push_str(&json_string(&meta.id));
        let after = line[brace + 1..].trim_start();
        if !after.starts_with('}') {
            out.push(',');
        }
        rest = &line[brace + 1..];
    }
    let text_span = fields.get(&params.input.text_field).and_then(|raw| {
        let text: String = serde_json::from_str(raw.get()).ok()?;
        // the raw value borrows from `line`: its position is where the text stands
        let start = raw.get().as_ptr() as usize - rest.as_ptr() as usize;
        Some((start, start + raw.get().len(), text))
    });
    match text_span {
        Some((start, end, text)) => {
            out.push_str(&rest[..start]);
            out.push_str(&json_string(&cleaned(&text)));
            out.push_str(&rest[end..]);
        }
        None => out.push_str(rest),
    }
    out.push('\n');
    Ok(out.into_bytes())
}

/// A string as a JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

/// One line of `clean.jsonl` for a kept record.
fn clean_line(
    raw: Raw,
    meta: &RecordMeta,
    records: &Records,
    params: &ValidParams,
) -> std::result::Result<Vec<u8>, String> {
    let mut removed: Vec<u32> = Vec::new();
    if let Some(d) = meta.doc {
        removed.extend(records.repeats_of(d).iter().map(|r| r.paragraph));
        removed.extend_from_slice(records.boilerplate_of(d));
        removed.sort_unstable();
    }
    let cleaned = |text: &str| {
        let mut spans = Vec::new();
        segment(text, params.paragraphs.split, &mut spans);
        rebuild(text, &spans, |i| removed.binary_search(&(i as u32)).is_ok())
    };
    let text_field = params.input.text_field.clone();
    let value = match raw {
        Raw::Line(bytes) => return clean_json_line(&bytes, meta, params, cleaned),
        Raw::File { bytes, .. } => {
            let text = String::from_utf8_lossy(&bytes);
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let mut map = Map::new();
            map.insert(
                params.input.id_field.clone(),
                Value::String(meta.id.to_string()),
            );
            map.insert(text_field, Value::String(cleaned(text)));
            Value::Object(map)
        }
        Raw::Document { text, .. } => {
            let mut map = Map::new();
            map.insert(
                params.input.id_field.clone(),
                Value::String(meta.id.to_string()),
            );
            map.insert(text_field, Value::String(cleaned(&text)));
            Value::Object(map)
        }
        raw @ (Raw::Warc(_) | Raw::Row { .. }) => {
            // a WARC record's text is extracted again, as the first pass did
            let parsed = crate::input::parse_record(raw, &params.input);
            let mut map = Map::new();
            map.insert(
                params.input.id_field.clone(),
                Value::String(meta.id.to_string()),
            );
            map.insert(text_field, Value::String(cleaned(&parsed.text)));
            let input = &params.input;
            for (field, value) in [
                (&input.date_field, parsed.date),
                (&input.outlet_field, parsed.outlet),
                (&input.url_field, parsed.url),
            ] {
                if let Some(v) = value {
                    map.insert(field.clone(), Value::String(v));
                }
            }
            Value::Object(map)
        }
        Raw::Oversized { .. } => return Err("it is now longer than max_doc_bytes".into()),
        Raw::Unreadable { .. } => return Err("it can no longer be read".into()),
    };
    let mut line = serde_json::to_vec(&value).expect("JSON values serialize");
    line.push(b'\n');
    Ok(line)
}
