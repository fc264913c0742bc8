//! Outputs: the result of a run in, files in the output directory out.
//!
//! - `docs.jsonl`: one line per input record, in input order.
//! - `clusters.jsonl`: one line per cluster of two or more records.
//! - `summary.json`: parameters, format version, counts, timings.
//! - with `--emit-clean`, `clean.jsonl` and/or `clean.parquet` (`write_clean`).
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

#[cfg(feature = "columnar")]
pub mod parquet;
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
use crate::input::{Raw, Source, read_sources};
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
        Self::try_acquire(&dir.join(LOCK_FILE))?.map_err(|holder| Error::Busy {
            dir: dir.to_path_buf(),
            holder,
        })
    }

    /// Locks the lock file `path` (created if missing) for this process; `Err(holder)`
    /// when another process holds it, `holder` being what its file says (`pid N`).
    pub fn try_acquire(path: &Path) -> Result<std::result::Result<Self, String>> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::output(path, e))?;
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
                return Ok(Err(holder));
            }
            Err(TryLockError::Error(e)) => return Err(Error::output(path, e)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "pid {}", std::process::id()))
            .map_err(|e| Error::output(path, e))?;
        Ok(Ok(DirLock { _file: file }))
    }
}

/// Files a run writes only when asked (`--emit-clean`: `clean.jsonl`, `clean.parquet` or
/// both; `--report`: the
/// other three, written by `report::write_report` right after the run). One left by an
/// earlier run that this run does not write is stale: `write_all` removes it, by this one
/// rule, before it renames this run's files into place. No input can be among them: a
/// run refuses an input inside its output directory before it starts.
pub const OPTIONAL_OUTPUTS: [&str; 5] = [
    "clean.jsonl",
    "clean.parquet",
    REPORT_FILES[0],
    REPORT_FILES[1],
    REPORT_FILES[2],
];

/// The files `report::write_report` writes into a run's directory: the page, the
/// Markdown report and the CSV of copies, in that order.
pub const REPORT_FILES: [&str; 3] = ["report.html", "report.md", "syndication.csv"];

/// The format of `docs` and `clusters` (`--output-format`): an output choice, not a
/// parameter of the result (the same rows either way). `summary.json` is JSON in both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// `docs.jsonl` and `clusters.jsonl`, one JSON object a line.
    #[default]
    Jsonl,
    /// `docs.parquet` and `clusters.parquet` (needs the `columnar` feature; see
    /// `output::parquet` for the columns).
    Parquet,
}

impl OutputFormat {
    /// The docs and clusters files this format writes.
    #[must_use]
    pub fn files(self) -> [&'static str; 2] {
        match self {
            OutputFormat::Jsonl => ["docs.jsonl", "clusters.jsonl"],
            OutputFormat::Parquet => ["docs.parquet", "clusters.parquet"],
        }
    }

    /// The files of the other format: stale in a directory this format writes into.
    #[must_use]
    pub fn other_files(self) -> [&'static str; 2] {
        match self {
            OutputFormat::Jsonl => OutputFormat::Parquet.files(),
            OutputFormat::Parquet => OutputFormat::Jsonl.files(),
        }
    }

    /// Whether this build can write it: Parquet needs the `columnar` feature.
    pub fn check(self) -> Result<()> {
        if self == OutputFormat::Parquet && !cfg!(feature = "columnar") {
            return Err(Error::params(
                "output_format",
                "--output-format parquet needs neardup built with the `columnar` feature \
                 (on by default); this build has it off: use --output-format jsonl",
            ));
        }
        Ok(())
    }
}

/// Where `docs` lines go: a JSONL file or a Parquet file.
enum DocsSink {
    Jsonl(Pending),
    #[cfg(feature = "columnar")]
    Parquet(parquet::DocsWriter),
}

/// Where `clusters` lines go: a JSONL file or a Parquet file (one row per member).
enum ClustersSink {
    Jsonl(Pending),
    #[cfg(feature = "columnar")]
    Parquet(parquet::ClustersWriter),
}

impl DocsSink {
    fn new(dir: &Path, format: OutputFormat) -> Result<Self> {
        format.check()?;
        match format {
            #[cfg(feature = "columnar")]
            OutputFormat::Parquet => Ok(DocsSink::Parquet(parquet::DocsWriter::new(dir)?)),
            _ => Ok(DocsSink::Jsonl(Pending::new(dir, "docs.jsonl")?)),
        }
    }

    /// Writes lines `0..n` in order; `lines(from, to)` makes lines `from..to`.
    fn write_lines<'a>(
        &mut self,
        dir: &Path,
        n: usize,
        lines: impl Fn(usize, usize) -> Result<Vec<DocLine<'a>>> + Sync,
        progress: &dyn Progress,
    ) -> Result<()> {
        match self {
            DocsSink::Jsonl(p) => write_lines(p, dir, n, lines, progress),
            #[cfg(feature = "columnar")]
            DocsSink::Parquet(w) => (0..n).step_by(SLICE).try_for_each(|from| {
                check_cancel(progress)?;
                for line in lines(from, (from + SLICE).min(n))? {
                    w.push(dir, &line)?;
                }
                Ok(())
            }),
        }
    }

    /// The digest of what was written, when it was taken while writing.
    fn digest(&self) -> Option<String> {
        match self {
            DocsSink::Jsonl(p) => Some(p.digest()),
            #[cfg(feature = "columnar")]
            DocsSink::Parquet(_) => None,
        }
    }

    fn finish(self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        match self {
            DocsSink::Jsonl(p) => p.finish(dir),
            #[cfg(feature = "columnar")]
            DocsSink::Parquet(w) => w.finish(dir),
        }
    }
}

impl ClustersSink {
    fn new(dir: &Path, format: OutputFormat) -> Result<Self> {
        format.check()?;
        match format {
            #[cfg(feature = "columnar")]
            OutputFormat::Parquet => Ok(ClustersSink::Parquet(parquet::ClustersWriter::new(dir)?)),
            _ => Ok(ClustersSink::Jsonl(Pending::new(dir, "clusters.jsonl")?)),
        }
    }

    /// Writes lines `0..n` in order; `lines(from, to)` makes lines `from..to`.
    fn write_lines<'a>(
        &mut self,
        dir: &Path,
        n: usize,
        lines: impl Fn(usize, usize) -> Result<Vec<ClusterLine<'a>>> + Sync,
        progress: &dyn Progress,
    ) -> Result<()> {
        match self {
            ClustersSink::Jsonl(p) => write_lines(p, dir, n, lines, progress),
            #[cfg(feature = "columnar")]
            ClustersSink::Parquet(w) => (0..n).try_for_each(|i| {
                check_cancel(progress)?;
                for line in lines(i, i + 1)? {
                    w.push(dir, &line)?;
                }
                Ok(())
            }),
        }
    }

    /// The digest of what was written, when it was taken while writing.
    fn digest(&self) -> Option<String> {
        match self {
            ClustersSink::Jsonl(p) => Some(p.digest()),
            #[cfg(feature = "columnar")]
            ClustersSink::Parquet(_) => None,
        }
    }

    fn finish(self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        match self {
            ClustersSink::Jsonl(p) => p.finish(dir),
            #[cfg(feature = "columnar")]
            ClustersSink::Parquet(w) => w.finish(dir),
        }
    }
}

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

/// Writes every output of `dedup` into `dir`, docs and clusters in `format`; `extra`
/// files (already complete) are renamed into place with them. The docs and clusters files
/// of the other format, left by an earlier run, are stale and removed.
pub fn write_all(
    dir: &Path,
    dedup: &Dedup,
    summary: &mut Summary,
    started: Instant,
    extra: Vec<Finished>,
    format: OutputFormat,
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
    // Against an index, the records before the batch's came from it: they are members of
    // clusters, never lines of docs.jsonl.
    let archived = dedup.archived.as_ref().map_or(0, |a| a.records);
    // the record table and the provenance are on disk: a slice of lines reads its rows in
    // one go, and the few records it names (representatives) one by one
    let id_of = |r: u32| -> Result<Cow<'_, str>> {
        Ok(Cow::Owned(metas.get(r as usize)?.id.into_string()))
    };
    let doc_lines = |from: usize, to: usize| -> Result<Vec<DocLine<'_>>> {
        let rows = metas.range(archived + from, archived + to)?;
        let assignments = dedup.assignments.range(archived + from, archived + to)?;
        let mut lines = Vec::with_capacity(rows.len());
        for (k, (meta, a)) in rows.into_iter().zip(assignments).enumerate() {
            let i = archived + from + k;
            let (repeats, boilerplate): (&[Repeat], &[u32]) = match meta.doc {
                Some(d) => (records.repeats_of(d), records.boilerplate_of(d)),
                None => (&[], &[]),
            };
            let position = meta.position.unpack();
            lines.push(DocLine {
                id: Cow::Owned(meta.id.into_string()),
                cluster: a.cluster(),
                keep: a.keep(),
                duplicate_of: a.duplicate_of().map(id_of).transpose()?,
                similarity: a.similarity(),
                containment: a.containment(),
                split_from: a.split_from().map(id_of).transpose()?,
                provenance: dedup.provenance.get(i as u32)?.map(Cow::Owned),
                status: Cow::Borrowed(meta.status.as_str()),
                file: Cow::Borrowed(&source_names[meta.source as usize]),
                line: position.line(),
                offset: position.offset(),
                row: position.row(),
                repeats: paragraphs.then_some(Cow::Borrowed(repeats)),
                repeat_blocks: paragraphs.then(|| blocks(repeats)),
                boilerplate: paragraphs.then_some(Cow::Borrowed(boilerplate)),
            });
        }
        Ok(lines)
    };
    let mut docs = DocsSink::new(dir, format)?;
    docs.write_lines(dir, metas.len() - archived, doc_lines, progress)?;
    // every duplicate grouped by cluster, in record order inside one, read back from
    // temporary disk a cluster at a time (sorted runs merged; the assignments stay on
    // disk too); against an index, an archived cluster this run did not touch is not
    // written
    let mut split_off: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let dups = dedup.assignments.duplicates_by_cluster(
        |i, a| {
            if let Some(from) = a.split_from() {
                split_off.entry(from).or_default().push(i as u32);
            }
        },
        |group| {
            group.iter().any(|d| d.record as usize >= archived) || group[0].rep as usize >= archived
        },
    )?;
    // the runs and the merged groups live from here to the end, beside the record
    // table, the accepted pairs, the provenance and the assignments (the spill and the
    // placements are gone)
    let dup_bytes = dups.file_bytes();
    let disk = |k: &str| summary.disk.get(k).copied().unwrap_or(0);
    let write_peak = disk("records")
        + disk("accepted_pairs")
        + disk("provenance")
        + disk("assignments")
        + dup_bytes;
    if !summary.disk.is_empty() {
        let peak = disk("peak").max(write_peak);
        summary.disk.insert("duplicates".to_owned(), dup_bytes);
        summary.disk.insert("peak".to_owned(), peak);
    }
    let cluster_line = |k: usize| -> Result<ClusterLine<'_>> {
        let group = dups.group(k)?;
        let (cluster, rep) = (group[0].cluster, group[0].rep);
        let cluster = &cluster;
        // (record, similarity) of every member, the representative's 1
        let mut all: Vec<(u32, f64)> = group.iter().map(|d| (d.record, d.similarity)).collect();
        all.push((rep, 1.0));
        all.sort_unstable_by_key(|m| m.0);
        let mut member_lines = Vec::with_capacity(all.len());
        let mut weak_links = Vec::new();
        let mut representative = None;
        for &(r, similarity) in &all {
            let m = metas.get(r as usize)?;
            let provenance = dedup.provenance.get(r)?;
            let id: Cow<'_, str> = Cow::Owned(m.id.to_string());
            if provenance.as_ref().is_some_and(|p| p.weak) {
                weak_links.push(id.clone());
            }
            if r == rep {
                representative = Some(id.clone());
            }
            member_lines.push(ClusterMember {
                id,
                similarity,
                outlet: records.outlet(&m).map(Cow::Borrowed),
                date: m.date.map(|d| Cow::Owned(d.into_string())),
                provenance: provenance.map(Cow::Owned),
                run: dedup
                    .archived
                    .as_ref()
                    .and_then(|a| a.runs.get(r as usize).copied()),
            });
        }
        Ok(ClusterLine {
            cluster: *cluster,
            size: all.len(),
            representative: representative.expect("the representative is a member"),
            members: member_lines,
            weak_links,
            split_off: split_off
                .get(&rep)
                .map(|v| v.iter().map(|&r| id_of(r)).collect::<Result<_>>())
                .transpose()?
                .unwrap_or_default(),
            previous_representative: dedup
                .archived
                .as_ref()
                .and_then(|a| a.previous_representative.get(cluster))
                .map(|&r| id_of(r))
                .transpose()?,
        })
    };
    let cluster_lines =
        |from: usize, to: usize| (from..to).map(cluster_line).collect::<Result<Vec<_>>>();
    let mut clusters = ClustersSink::new(dir, format)?;
    clusters.write_lines(dir, dups.len(), cluster_lines, progress)?;

    check_cancel(progress)?;
    let digests = [docs.digest(), clusters.digest()];
    let docs = docs.finish(dir)?;
    let clusters = clusters.finish(dir)?;
    summary.outputs.clear();
    for ((file, name), digest) in [&docs, &clusters].into_iter().zip(digests) {
        // JSONL is digested as it is written; Parquet's bytes are the encoder's, read back
        let digest = match digest {
            Some(d) => d,
            None => digest_file(file.path()).map_err(|e| Error::output(dir.join(name), e))?,
        };
        summary.outputs.insert((*name).to_owned(), digest);
    }
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
    // (`OPTIONAL_OUTPUTS`): it goes, and so do the docs and clusters files of the other
    // format. A report this run asked for is written after it.
    for stale in std::iter::once("summary.json")
        .chain(OPTIONAL_OUTPUTS)
        .chain(format.other_files())
    {
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

/// Lines made and formatted by one task: a slice of docs.jsonl reads its rows of the
/// record table in one go.
const SLICE: usize = 256;

/// Writes lines `0..n` as JSON lines, in that order, `lines(from, to)` making lines
/// `from..to`: each block of `FORMAT_BLOCK` lines is made and formatted in parallel, in
/// slices whose texts are then written in order, so the file does not depend on the
/// thread count. A block is written (and digested, on one thread) while the next one is
/// formatted, so the other threads do not wait for the write.
fn write_lines<T: Serialize>(
    out: &mut Pending,
    dir: &Path,
    n: usize,
    lines: impl Fn(usize, usize) -> Result<Vec<T>> + Sync,
    progress: &dyn Progress,
) -> Result<()> {
    let name = out.name;
    let format = |start: usize| -> Result<Vec<Vec<u8>>> {
        let end = (start + FORMAT_BLOCK).min(n);
        (start..end)
            .step_by(SLICE)
            .collect::<Vec<usize>>()
            .into_par_iter()
            .map(|from| -> Result<Vec<u8>> {
                let mut text = Vec::new();
                for line in lines(from, (from + SLICE).min(end))? {
                    serde_json::to_writer(&mut text, &line)
                        .map_err(|e| Error::output(dir.join(name), e.into()))?;
                    text.push(b'\n');
                }
                Ok(text)
            })
            .collect()
    };
    let write = |out: &mut Pending, texts: Vec<Vec<u8>>| -> Result<()> {
        texts.iter().try_for_each(|text| out.write(dir, text))
    };
    let mut formatted: Option<Vec<Vec<u8>>> = None;
    for start in (0..n).step_by(FORMAT_BLOCK) {
        let (written, next) = rayon::join(
            || formatted.take().map_or(Ok(()), |texts| write(out, texts)),
            || format(start),
        );
        written?;
        formatted = Some(next?);
        check_cancel(progress)?;
    }
    formatted.map_or(Ok(()), |texts| write(out, texts))
}

/// Writes the clean files (`--emit-clean`): every kept record, its text rebuilt without
/// its repeats and boilerplate (paragraph separators preserved), in the form of its input
/// (see [`CleanPlan`]):
///
/// - a JSONL record: a line of `clean.jsonl`, byte for byte as it was except its text;
/// - a Parquet or Arrow row: a row of `clean.parquet`, every column as read, in the inputs'
///   schema (one for all of them, checked before the run by [`CleanPlan::new`]);
/// - a WARC or WET record or a plain-text document: a line of `clean.jsonl` (id, text, date,
///   outlet, url), or, with `--output-format parquet` and no Parquet or Arrow input, a row
///   of `clean.parquet` (id, url, date, text, outlet).
///
/// The inputs are read again, one at a time and in order, and must give the same records
/// in the same order as the run did: each record read again is checked against the
/// digest of the fields the first pass took from it (`RecordMeta::raw_digest`), and a
/// record that changed is an error naming its file and line or row. On an error nothing is
/// renamed into place: the temporary files go, and the previous outputs stay.
pub fn write_clean(
    dir: &Path,
    dedup: &Dedup,
    params: &ValidParams,
    plan: &CleanPlan,
    progress: &dyn Progress,
) -> Result<Vec<Finished>> {
    let mut sinks = CleanSinks::default();
    let mut next = 0usize;
    for (index, source) in dedup.sources.iter().enumerate() {
        check_cancel(progress)?;
        if plan.columnar.get(index).copied().unwrap_or(false) {
            #[cfg(feature = "columnar")]
            clean_rows(
                dir,
                index as u32,
                dedup,
                params,
                &mut sinks,
                &mut next,
                progress,
            )?;
            continue;
        }
        let docs_as_parquet = plan.docs_as_parquet;
        read_sources(std::slice::from_ref(source), &params.input, |batch| {
            check_cancel(progress)?;
            let start = next;
            next += batch.records.len();
            let lines: Vec<Result<Option<CleanOut>>> = batch
                .records
                .into_par_iter()
                .enumerate()
                .map(|(k, mut rec)| {
                    rec.source = index as u32;
                    let index = start + k;
                    let meta =
                        same_record(dedup, index, rec.source, rec.position, || rec.raw.digest())?;
                    let Some(meta) = meta else { return Ok(None) };
                    clean_out(rec.raw, &meta, &dedup.records, params, docs_as_parquet)
                        .map(Some)
                        .map_err(|why| changed(&source.path, rec.position, &why))
                })
                .collect();
            for line in lines {
                match line? {
                    None => {}
                    Some(CleanOut::Json(bytes)) => sinks
                        .jsonl(dir)?
                        .tmp
                        .write_all(&bytes)
                        .map_err(|e| Error::output(dir.join(CLEAN_JSONL), e))?,
                    #[cfg(feature = "columnar")]
                    Some(CleanOut::Doc(doc)) => sinks.docs(dir)?.push(dir, &doc)?,
                }
            }
            Ok(())
        })?;
    }
    let metas = &dedup.records.metas;
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
    sinks.finish(dir, plan)
}

/// `clean.jsonl`, the file of the JSON records.
const CLEAN_JSONL: &str = "clean.jsonl";

/// What `--emit-clean` writes, decided from the inputs before the run reads them.
#[derive(Debug, Clone, Default)]
pub struct CleanPlan {
    /// For each source: whether it is read as Parquet or Arrow (its rows go to
    /// `clean.parquet` in its own schema).
    pub columnar: Vec<bool>,
    /// Whether WARC, WET and plain-text documents go to `clean.parquet` (id, url, date,
    /// text, outlet) rather than `clean.jsonl`: with `--output-format parquet` when no input
    /// is Parquet or Arrow, whose schema `clean.parquet` then has.
    pub docs_as_parquet: bool,
}

impl CleanPlan {
    /// The plan for `sources`. Every Parquet and Arrow input must have the same schema
    /// (one `clean.parquet` holds one): a file whose schema differs from the first's is
    /// an error here, before anything is read. A file that cannot be opened is left to
    /// the run, which reports it as it would without `--emit-clean`.
    pub fn new(sources: &[Source], params: &ValidParams, format: OutputFormat) -> Result<Self> {
        let columnar: Vec<bool> = sources
            .iter()
            .map(crate::input::is_columnar_source)
            .collect();
        #[cfg(feature = "columnar")]
        {
            let columns = crate::input::columns_of(&params.input);
            let mut first: Option<(&Path, arrow_schema::SchemaRef)> = None;
            for (source, _) in sources.iter().zip(&columnar).filter(|(_, c)| **c) {
                let Ok(reader) =
                    crate::input::columnar::ColumnarReader::open_present(&source.path, &columns)
                else {
                    continue;
                };
                let schema = reader.schema();
                match &first {
                    None => first = Some((&source.path, schema)),
                    Some((path, first)) => {
                        parquet::same_schema(path, first, &source.path, &schema)?;
                    }
                }
            }
        }
        #[cfg(not(feature = "columnar"))]
        let _ = params;
        Ok(CleanPlan {
            docs_as_parquet: format == OutputFormat::Parquet && !columnar.contains(&true),
            columnar,
        })
    }
}

/// The clean files being written, each started when its first record comes (a run whose
/// inputs are all JSONL writes no `clean.parquet`, one whose inputs are all Parquet no
/// `clean.jsonl`).
#[derive(Default)]
struct CleanSinks {
    jsonl: Option<Pending>,
    #[cfg(feature = "columnar")]
    rows: Option<parquet::CleanRows>,
    #[cfg(feature = "columnar")]
    docs: Option<parquet::CleanDocs>,
}

impl CleanSinks {
    fn jsonl(&mut self, dir: &Path) -> Result<&mut Pending> {
        if self.jsonl.is_none() {
            self.jsonl = Some(Pending::new(dir, CLEAN_JSONL)?);
        }
        Ok(self.jsonl.as_mut().expect("just made"))
    }

    #[cfg(feature = "columnar")]
    fn docs(&mut self, dir: &Path) -> Result<&mut parquet::CleanDocs> {
        if self.docs.is_none() {
            self.docs = Some(parquet::CleanDocs::new(dir)?);
        }
        Ok(self.docs.as_mut().expect("just made"))
    }

    /// The finished files. A run whose inputs gave no record still writes one clean
    /// file, empty: the one its documents would have gone to.
    fn finish(mut self, dir: &Path, plan: &CleanPlan) -> Result<Vec<Finished>> {
        #[cfg(feature = "columnar")]
        let none = self.jsonl.is_none() && self.rows.is_none() && self.docs.is_none();
        #[cfg(not(feature = "columnar"))]
        let none = self.jsonl.is_none();
        if none {
            #[cfg(feature = "columnar")]
            if plan.docs_as_parquet {
                self.docs(dir)?;
            }
            if !plan.docs_as_parquet {
                self.jsonl(dir)?;
            }
        }
        let mut done = Vec::new();
        if let Some(p) = self.jsonl {
            let (file, name) = p.finish(dir)?;
            done.push(Finished(file, name));
        }
        #[cfg(feature = "columnar")]
        for finished in [
            self.rows.map(|w| w.finish(dir)),
            self.docs.map(|w| w.finish(dir)),
        ]
        .into_iter()
        .flatten()
        {
            let (file, name) = finished?;
            done.push(Finished(file, name));
        }
        Ok(done)
    }
}

/// A kept record's clean form: a line of `clean.jsonl`, or a row of `clean.parquet`.
enum CleanOut {
    Json(Vec<u8>),
    #[cfg(feature = "columnar")]
    Doc(parquet::CleanDoc),
}

/// The first pass's record `index` when the record read again (from `source`, at
/// `position`, whose digest `digest` gives) is the same one: `None` when it is not kept
/// (its digest is then not needed), an error naming its place when it changed.
fn same_record(
    dedup: &Dedup,
    index: usize,
    source: u32,
    position: Position,
    digest: impl FnOnce() -> u64,
) -> Result<Option<RecordMeta>> {
    let path = &dedup.sources[source as usize].path;
    let metas = &dedup.records.metas;
    let meta = if index < metas.len() {
        Some(metas.get(index)?)
    } else {
        None
    };
    let Some(meta) = meta.filter(|m| m.source == source && m.position.unpack() == position) else {
        return Err(changed(
            path,
            position,
            &format!("record {} is not where the first pass read it", index + 1),
        ));
    };
    if !dedup.assignments.get(index)?.keep() {
        return Ok(None);
    }
    if digest() != meta.raw_digest {
        return Err(changed(
            path,
            position,
            "its bytes differ from the first pass",
        ));
    }
    Ok(Some(meta))
}

/// The rows of Parquet or Arrow input `index`, read again with every column, into
/// `clean.parquet`: the kept rows, the text column replaced, in order, a batch at a time.
/// A corrupt row group's rows were not read by the first pass either (they are
/// `corrupt_data`, not kept); an error that ends the file ends it here too, and the
/// record count after the last input tells whether both passes read as many.
#[cfg(feature = "columnar")]
fn clean_rows(
    dir: &Path,
    index: u32,
    dedup: &Dedup,
    params: &ValidParams,
    sinks: &mut CleanSinks,
    next: &mut usize,
    progress: &dyn Progress,
) -> Result<()> {
    use crate::input::columnar::{ColumnarError, ColumnarReader};
    let path = &dedup.sources[index as usize].path;
    let Ok(reader) = ColumnarReader::open_whole(path, &crate::input::columns_of(&params.input))
    else {
        return Ok(()); // the first pass could not open it either, or the count tells
    };
    match &sinks.rows {
        Some(rows) => rows.check(path, &reader.schema())?,
        None => {
            sinks.rows = Some(parquet::CleanRows::new(
                dir,
                path,
                reader.schema(),
                &params.input.text_field,
            )?);
        }
    }
    let limit = params.input.max_doc_bytes;
    for batch in reader {
        check_cancel(progress)?;
        let batch = match batch {
            Ok(batch) => batch,
            Err(ColumnarError::CorruptRows {
                row,
                skipped: Some(n),
                ..
            }) => {
                for r in row..row + n {
                    same_record(dedup, *next, index, Position::Row(r), || 0)?;
                    *next += 1;
                }
                continue;
            }
            Err(_) => break,
        };
        let whole = batch.whole().expect("opened whole").clone();
        let start = *next;
        *next += batch.len();
        let texts: Vec<Result<Option<Option<String>>>> = (0..batch.len())
            .into_par_iter()
            .map(|i| {
                let row = batch.row(i);
                let raw = crate::input::row_raw(&row, limit);
                let meta = same_record(dedup, start + i, index, Position::Row(row.row), || {
                    raw.digest()
                })?;
                Ok(meta.map(|meta| {
                    row.text
                        .map(|text| clean_text(text, &meta, &dedup.records, params))
                }))
            })
            .collect();
        let mut kept = Vec::with_capacity(texts.len());
        let mut values = Vec::with_capacity(texts.len());
        for text in texts {
            // a row not kept is sliced away; its placeholder text is never written
            let text = text?;
            kept.push(text.is_some());
            values.push(text.unwrap_or_else(|| Some(String::new())));
        }
        sinks
            .rows
            .as_mut()
            .expect("started above")
            .push(dir, path, &whole, &values, &kept)?;
    }
    Ok(())
}

/// The error for a record that changed between the two passes of `--emit-clean`, naming
/// its file and line, WARC offset (`byte N`) or row (`row N`); a whole-file record: its file.
fn changed(path: &Path, position: Position, why: &str) -> Error {
    let message =
        format!("the input changed while it was read a second time for --emit-clean: {why}");
    match position {
        Position::Line(line) => Error::BadLine {
            path: path.to_path_buf(),
            line,
            message,
        },
        Position::File => Error::Input {
            path: path.to_path_buf(),
            message,
        },
        Position::Offset(_) | Position::Row(_) => Error::Input {
            path: path.to_path_buf(),
            message: format!("{position}: {message}"),
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

/// A kept record's text without its repeats and boilerplate, paragraph separators kept.
fn clean_text(text: &str, meta: &RecordMeta, records: &Records, params: &ValidParams) -> String {
    let mut removed: Vec<u32> = Vec::new();
    if let Some(d) = meta.doc {
        removed.extend(records.repeats_of(d).iter().map(|r| r.paragraph));
        removed.extend_from_slice(records.boilerplate_of(d));
        removed.sort_unstable();
    }
    let mut spans = Vec::new();
    segment(text, params.paragraphs.split, &mut spans);
    rebuild(text, &spans, |i| removed.binary_search(&(i as u32)).is_ok())
}

/// The clean form of a kept record: a line of `clean.jsonl`, or, for a WARC, WET or
/// plain-text document when `docs_as_parquet`, a row of `clean.parquet`.
fn clean_out(
    raw: Raw,
    meta: &RecordMeta,
    records: &Records,
    params: &ValidParams,
    docs_as_parquet: bool,
) -> std::result::Result<CleanOut, String> {
    let cleaned = |text: &str| clean_text(text, meta, records, params);
    #[cfg(feature = "columnar")]
    if docs_as_parquet && matches!(raw, Raw::Warc(_) | Raw::File { .. } | Raw::Document { .. }) {
        let parsed = crate::input::parse_record(raw, &params.input);
        return Ok(CleanOut::Doc(parquet::CleanDoc {
            id: meta.id.to_string(),
            url: parsed.url,
            date: parsed.date,
            text: cleaned(&parsed.text),
            outlet: parsed.outlet,
        }));
    }
    #[cfg(not(feature = "columnar"))]
    let _ = docs_as_parquet;
    let text_field = params.input.text_field.clone();
    let value = match raw {
        Raw::Line(bytes) => {
            return clean_json_line(&bytes, meta, params, cleaned).map(CleanOut::Json);
        }
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
    Ok(CleanOut::Json(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn lines_written_while_the_next_block_is_formatted_keep_their_order() {
        let n = 3 * FORMAT_BLOCK + 5;
        let mut want = Vec::new();
        for i in 0..n {
            serde_json::to_writer(&mut want, &[i]).unwrap();
            want.push(b'\n');
        }
        for threads in [1, 2, 4] {
            let dir = tempfile::tempdir().unwrap();
            let mut out = Pending::new(dir.path(), "docs.jsonl").unwrap();
            let lines = |from: usize, to: usize| Ok((from..to).map(|i| [i]).collect());
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| write_lines(&mut out, dir.path(), n, lines, &NoProgress))
                .unwrap();
            let digest = out.digest();
            let (file, _) = out.finish(dir.path()).unwrap();
            let got = std::fs::read(file.path()).unwrap();
            assert!(got == want, "{threads} threads");
            assert_eq!(
                digest,
                format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&want))
            );
        }
    }
}
