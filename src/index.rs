//! The persistent index (`dedup --index DIR`): every document seen by earlier runs, kept so
//! that a new batch is compared with all of them without reading the archive's text again.
//!
//! An index directory holds a `MANIFEST` (the live segments, the parameters, the run
//! count; replaced atomically by rename), a `LOCK` (held by the one writer, naming its
//! pid) and `segments/NAME/`, one directory per run that added documents (or one per
//! compaction), each holding, in `store` files (magic, format version, parameters'
//! digest, checksum):
//!
//! | file | what |
//! |---|---|
//! | `records` | every record of the run in input order: run, id, date, outlet, status |
//! | `sets.idx`, `sets.dat` | each compared document's text, zstd-compressed, and its paragraph hashes (`spill::TextEntry`), from which a run makes its paragraph record (the spill record) again; offsets, a checksum of each entry and of each record, sizes, outlet groups, the paragraphs left out and the boilerplate among them |
//! | `bands` | each document's band keys and opening keys, one row each with its checksum (`bands`) |
//! | `bandruns` | per band, `(key, document)` sorted; and the opening keys' run (`bands`) |
//! | `paragraphs` | per outlet group, the documents and the paragraph-key counts (boilerplate) |
//! | `clusters` | the cluster table of every record up to this segment: stable cluster id, kept or not, a compared document or not, component |
//!
//! A run's cost and memory follow its batch and what the batch touches, not the archive:
//! it probes each segment's band runs with the batch's sorted keys (streamed, a band at a
//! time), finds the components (documents joined by accepted pairs) of the archived
//! documents hit, and loads only their members (records, band keys, set-store entries,
//! whose texts are made into paragraph records again), in archive order, before the
//! batch's (`pipeline::Archive`). Candidates come from the
//! ordinary LSH stage over those; it then verifies and places only the components that a
//! batch document is a candidate of: every other archived pair would be decided as
//! before, since nothing new is joined to either side, and an archived document outside
//! the loaded components shares no bucket with the batch. So the batch's records
//! get exactly the clusters and representatives a full run over everything would give
//! them (with the paragraph stage off, and no LSH bucket over `max_bucket`; see
//! docs/index.md). Archived decisions about boilerplate stand: an archived document keeps
//! the paragraphs its own run left out.
//!
//! Cluster ids with an index are the index position (0-based, over all runs) of the
//! cluster's first record: a cluster only ever gains members, so its id never changes;
//! when a late document joins two clusters the union keeps the smaller id.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::analyze::Analyzer;
use crate::boilerplate::is_boilerplate;
use crate::cluster::{AcceptedPairs, UnionFind, Verdicts};
use crate::document::{PackedPosition, Position};
use crate::error::{Error, Result, SkipReason};
use crate::ids::{DocId, DocLists, Pair};
use crate::lsh::BandTable;
use crate::output::DirLock;
use crate::output::schema::IndexRun;
use crate::params::{CandidateMethod, Params, ValidParams, VerifyMethod};
use crate::pipeline::{Archive, RunOptions, run_with};
use crate::progress::Progress;
use crate::records::{Archived, Assignment, Dedup, RecordMeta, Records, Status};
use crate::sketch::pass::{CleanArticles, ParagraphIndex};
use crate::spill::{Scratch, ShingleSets, ShingleSpill, TextEntry, TextUnpacker};
use crate::store::{self, Decoder, Encoder};

mod bands;
mod verdicts;

/// The manifest's file name in an index directory.
pub const MANIFEST: &str = "MANIFEST";
/// The lock file's name in an index directory.
pub const LOCK: &str = "LOCK";
/// The directory of the segments.
pub const SEGMENTS: &str = "segments";
/// A segment being written: a directory of this prefix is never live.
const TEMP_PREFIX: &str = ".tmp-";

const NO_CLUSTER: u64 = u64::MAX;

/// The current version of an index: what `MANIFEST` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The parameters every segment was written under, as validated.
    pub params: Params,
    /// `store::params_digest` of them, in hex.
    pub params_digest: String,
    /// Runs that added documents so far.
    pub runs: u64,
    /// The live segments, in archive order.
    pub segments: Vec<SegmentEntry>,
    /// The segment whose `clusters` file is the current cluster table.
    pub clusters: String,
}

/// One live segment, as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Its directory under `segments/`.
    pub name: String,
    /// The first and last run whose records it holds.
    pub runs: (u64, u64),
    /// Records it holds.
    pub records: u64,
    /// Compared documents among them.
    pub docs: u64,
}

/// How a run uses an index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// The index directory (created by the first run).
    pub dir: PathBuf,
    /// Compare with the index without adding the batch to it (`--index-readonly`).
    pub readonly: bool,
}

fn index_error(dir: &Path, message: impl Into<String>) -> Error {
    Error::Index {
        dir: dir.to_path_buf(),
        message: message.into(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Refuses what an index cannot hold: candidates or scores that depend on the whole
/// corpus (SimHash's tf-idf weights) or on per-document data the index does not keep
/// (signatures for estimated verification, SimHash fingerprints).
fn check_supported(dir: &Path, params: &ValidParams) -> Result<()> {
    if params.candidates.method != CandidateMethod::MinHash {
        return Err(index_error(
            dir,
            "an index keeps MinHash band keys only: use --method minhash (the default) with \
             --index",
        ));
    }
    if params.verify.method != VerifyMethod::Exact {
        return Err(index_error(
            dir,
            "an index verifies from its stored sets: use --verify exact (the default) with \
             --index",
        ));
    }
    Ok(())
}

/// Every leaf of a JSON value, by dotted path.
fn leaves(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, x, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The parameters of `now` that differ from the index's, each as `name: index has X, this
/// run Y`.
fn params_differences(index: &Params, now: &Params) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves(
        "",
        &serde_json::to_value(index).expect("params serialize"),
        &mut a,
    );
    leaves(
        "",
        &serde_json::to_value(now).expect("params serialize"),
        &mut b,
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let none = "(none)".to_owned();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}: index has {}, this run {}",
                a.get(k).unwrap_or(&none),
                b.get(k).unwrap_or(&none)
            )
        })
        .collect()
}

/// Reads `dir`'s manifest, `None` when there is none (an index not created yet).
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(None);
    }
    let body = store::read(&path, "manifest", None)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| store::corrupt(&path, format!("not a manifest: {e}")))
}

fn write_manifest(dir: &Path, m: &Manifest, digest: u128) -> Result<()> {
    let body = serde_json::to_vec_pretty(m).expect("a manifest serializes");
    store::write(&dir.join(MANIFEST), "manifest", digest, &body)
}

fn parse_digest(dir: &Path, m: &Manifest) -> Result<u128> {
    u128::from_str_radix(&m.params_digest, 16)
        .map_err(|_| store::corrupt(&dir.join(MANIFEST), "params_digest is not hex"))
}

/// One record of a segment's record table.
#[derive(Debug, Clone, PartialEq)]
struct RecordRow {
    run: u64,
    id: String,
    date: Option<String>,
    outlet: Option<String>,
    status: Status,
}

fn status_from(s: &str) -> Option<Status> {
    match s {
        "ok" => Some(Status::Ok),
        "empty" => Some(Status::Empty),
        other => SkipReason::ALL
            .iter()
            .find(|r| r.as_str() == other)
            .map(|&r| Status::Skipped(r)),
    }
}

fn encode_records(rows: &[RecordRow]) -> Vec<u8> {
    let mut e = Encoder::default();
    e.count(rows.len());
    for r in rows {
        e.u64(r.run);
        e.str(&r.id);
        e.opt_str(r.date.as_deref());
        e.opt_str(r.outlet.as_deref());
        e.str(r.status.as_str());
    }
    e.buf
}

fn decode_records(path: &Path, body: &[u8]) -> Result<Vec<RecordRow>> {
    let mut d = Decoder::new(path, body);
    let n = d.count()?;
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        let run = d.u64()?;
        let id = d.str()?.to_owned();
        let date = d.opt_str()?.map(str::to_owned);
        let outlet = d.opt_str()?.map(str::to_owned);
        let s = d.str()?;
        let status = status_from(s).ok_or_else(|| d.error(format!("unknown status {s:?}")))?;
        rows.push(RecordRow {
            run,
            id,
            date,
            outlet,
            status,
        });
    }
    d.finish()?;
    Ok(rows)
}

/// A segment's record table read a row at a time, each row's run checked against its
/// segment's (`entry`) and, after the last, the counts against the manifest; the
/// checksum is checked by `finish`.
struct RecordRows<'a> {
    r: store::BodyReader,
    entry: &'a SegmentEntry,
    rows: u64,
    next: u64,
    docs: u64,
    id: Vec<u8>,
    date: Vec<u8>,
    outlet: Vec<u8>,
    status: Vec<u8>,
}

/// A record row as read: run, id, date, outlet (borrowed from the reader) and status.
type RowRef<'b> = (u64, &'b [u8], Option<&'b [u8]>, Option<&'b [u8]>, Status);

impl<'a> RecordRows<'a> {
    fn open(path: &Path, digest: u128, entry: &'a SegmentEntry) -> Result<Self> {
        let mut r = store::BodyReader::open(path, "records", Some(digest))?;
        let rows = r.count(8)? as u64;
        Ok(RecordRows {
            r,
            entry,
            rows,
            next: 0,
            docs: 0,
            id: Vec::new(),
            date: Vec::new(),
            outlet: Vec::new(),
            status: Vec::new(),
        })
    }

    /// The next row, `None` after the last (when the counts are checked).
    fn next(&mut self) -> Result<Option<RowRef<'_>>> {
        let (entry, path) = (self.entry, self.r.path());
        if self.next == self.rows {
            if self.rows != entry.records || self.docs != entry.docs {
                return Err(store::corrupt(
                    path,
                    format!(
                        "holds {} records and {} documents where the manifest names {} and {}",
                        self.rows, self.docs, entry.records, entry.docs
                    ),
                ));
            }
            return Ok(None);
        }
        let r = &mut self.r;
        let run = r.u64()?;
        r.str_into(&mut self.id)?;
        let has_date = r.opt_str_into(&mut self.date)?;
        let has_outlet = r.opt_str_into(&mut self.outlet)?;
        let s = r.str_into(&mut self.status)?;
        let st = status_from(s).ok_or_else(|| r.error(format!("unknown status {s:?}")))?;
        if run < entry.runs.0 || run > entry.runs.1 {
            return Err(store::corrupt(
                r.path(),
                format!(
                    "record {} says run {run}, outside the segment's runs {}-{}",
                    self.next, entry.runs.0, entry.runs.1
                ),
            ));
        }
        self.docs += u64::from(st == Status::Ok);
        self.next += 1;
        Ok(Some((
            run,
            &self.id,
            has_date.then_some(&self.date[..]),
            has_outlet.then_some(&self.outlet[..]),
            st,
        )))
    }

    fn finish(self) -> Result<()> {
        self.r.finish()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Streams a segment's `records` (`entry` says how many records and documents it holds
/// and which runs), keeping the rows at the positions `want` (ascending) with them.
/// Memory follows `want`, not the segment.
fn pick_records(
    path: &Path,
    digest: u128,
    entry: &SegmentEntry,
    want: &[u64],
) -> Result<Vec<RecordRow>> {
    let mut rows = RecordRows::open(path, digest, entry)?;
    let mut out = Vec::with_capacity(want.len());
    let mut next = want.iter().peekable();
    let mut i = 0u64;
    while let Some((run, id, date, outlet, status)) = rows.next()? {
        if next.peek() == Some(&&i) {
            next.next();
            out.push(RecordRow {
                run,
                id: text(id),
                date: date.map(text),
                outlet: outlet.map(text),
                status,
            });
        }
        i += 1;
    }
    rows.finish()?;
    if next.next().is_some() {
        return Err(store::corrupt(
            path,
            format!("holds {i} records, fewer than a run asked for"),
        ));
    }
    Ok(out)
}

/// The index of a segment's set store: where each document's entry (`spill::TextEntry`:
/// its text, compressed, and its paragraph hashes) lies in `sets.dat` (offsets into its
/// body), the entry's checksum, the checksum of the paragraph record its run compared
/// (which the record made again from the text must match), its size, the paragraphs
/// left out, its outlet group and the boilerplate its run flagged.
#[derive(Debug, Default)]
struct SetsIndex {
    offsets: Vec<u64>,
    /// xxh3-64 of each paragraph record as its run spilled it.
    digests: Vec<u64>,
    /// xxh3-64 of each entry's bytes in `sets.dat`.
    entries: Vec<u64>,
    sizes: Vec<u32>,
    removed: Vec<(u32, Vec<u32>)>,
    /// Each document's outlet group, as an index into its segment's `paragraphs` groups
    /// (empty when the run counted no paragraphs): whose counts decide its boilerplate.
    groups: Vec<u32>,
    /// The paragraphs its run flagged as boilerplate (a part of `removed`, which holds
    /// repeats too), for the documents that have any, sorted by document: what `verify`
    /// compares with the counts as they stand now.
    flagged: Vec<(u32, Vec<u32>)>,
}

impl SetsIndex {
    fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.count(self.digests.len());
        for &o in &self.offsets {
            e.u64(o);
        }
        for &x in &self.digests {
            e.u64(x);
        }
        for &x in &self.entries {
            e.u64(x);
        }
        e.u32s(&self.sizes);
        e.count(self.removed.len());
        for (d, r) in &self.removed {
            e.u32(*d);
            e.u32s(r);
        }
        e.u32s(&self.groups);
        e.count(self.flagged.len());
        for (d, r) in &self.flagged {
            e.u32(*d);
            e.u32s(r);
        }
        e.buf
    }

    fn decode(path: &Path, body: &[u8]) -> Result<Self> {
        let mut d = Decoder::new(path, body);
        let n = d.count()?;
        let offsets = (0..=n).map(|_| d.u64()).collect::<Result<Vec<_>>>()?;
        let digests = (0..n).map(|_| d.u64()).collect::<Result<Vec<_>>>()?;
        let entries = (0..n).map(|_| d.u64()).collect::<Result<Vec<_>>>()?;
        let sizes = d.u32s()?;
        let k = d.count()?;
        let removed = (0..k)
            .map(|_| Ok((d.u32()?, d.u32s()?)))
            .collect::<Result<Vec<_>>>()?;
        if sizes.len() != n || offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(d.error("sizes or offsets do not fit the document count"));
        }
        let groups = d.u32s()?;
        let k = d.count()?;
        let flagged = (0..k)
            .map(|_| Ok((d.u32()?, d.u32s()?)))
            .collect::<Result<Vec<_>>>()?;
        if !(groups.is_empty() || groups.len() == n) {
            return Err(d.error(format!("{} outlet groups for {n} documents", groups.len())));
        }
        if flagged.windows(2).any(|w| w[0].0 >= w[1].0)
            || flagged.last().is_some_and(|l| l.0 as usize >= n)
        {
            return Err(d.error("the flagged paragraphs do not fit the documents"));
        }
        d.finish()?;
        Ok(SetsIndex {
            offsets,
            digests,
            entries,
            sizes,
            removed,
            groups,
            flagged,
        })
    }
}

/// Per outlet group: documents, and documents holding each paragraph key.
#[derive(Debug, Default)]
struct ParagraphCounts {
    /// `(group name, documents)`.
    groups: Vec<(String, u64)>,
    /// `(group index, paragraph hash, documents)`, sorted.
    keys: Vec<(u32, u64, u64)>,
}

impl ParagraphCounts {
    fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.count(self.groups.len());
        for (name, n) in &self.groups {
            e.str(name);
            e.u64(*n);
        }
        e.count(self.keys.len());
        for &(g, h, n) in &self.keys {
            e.u32(g);
            e.u64(h);
            e.u64(n);
        }
        e.buf
    }

    /// The counts read whole: the oracle of the streaming readers (`for_each_paragraph_key`).
    #[cfg(test)]
    fn decode(path: &Path, body: &[u8]) -> Result<Self> {
        let mut d = Decoder::new(path, body);
        let n = d.count()?;
        let groups = (0..n)
            .map(|_| Ok((d.str()?.to_owned(), d.u64()?)))
            .collect::<Result<Vec<_>>>()?;
        let m = d.count()?;
        let keys = (0..m)
            .map(|_| Ok((d.u32()?, d.u64()?, d.u64()?)))
            .collect::<Result<Vec<_>>>()?;
        if keys.iter().any(|&(g, _, _)| g as usize >= groups.len()) {
            return Err(d.error("a paragraph key names a group that is not there"));
        }
        d.finish()?;
        Ok(ParagraphCounts { groups, keys })
    }

    /// Adds `other`'s counts, by group name, in memory: the oracle of
    /// `sum_paragraph_keys` inside a budget.
    #[cfg(test)]
    fn merge(&mut self, other: &ParagraphCounts) {
        let mut index: HashMap<String, u32> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i as u32))
            .collect();
        let mut counts: HashMap<(u32, u64), u64> =
            self.keys.iter().map(|&(g, h, n)| ((g, h), n)).collect();
        let mut map = Vec::with_capacity(other.groups.len());
        for (name, n) in &other.groups {
            let g = *index.entry(name.clone()).or_insert_with(|| {
                self.groups.push((name.clone(), 0));
                (self.groups.len() - 1) as u32
            });
            self.groups[g as usize].1 += n;
            map.push(g);
        }
        for &(g, h, n) in &other.keys {
            *counts.entry((map[g as usize], h)).or_default() += n;
        }
        self.keys = counts.into_iter().map(|((g, h), n)| (g, h, n)).collect();
        self.keys.sort_unstable();
    }
}

/// One row of the cluster table, per record of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClusterRow {
    /// Its stable cluster id (`NO_CLUSTER` for a record that could not be read).
    cluster: u64,
    /// Whether it is its cluster's representative.
    keep: bool,
    /// Whether it is a compared document (its status is `ok`): the `n`th such row is
    /// archived document `n`, which is how the probe's hits find their rows.
    doc: bool,
    /// Its component (the documents joined by accepted pairs, before the star check
    /// splits them), named by the index position of its first record: a run reconsiders
    /// only the components its documents touch.
    component: u64,
}

/// Bytes of a cluster-table row.
const CLUSTER_ROW: usize = 17;

fn encode_cluster_row(r: &ClusterRow, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.cluster.to_le_bytes());
    out.push(u8::from(r.keep) | (u8::from(r.doc) << 1));
    out.extend_from_slice(&r.component.to_le_bytes());
}

fn decode_cluster_row(b: &[u8]) -> Option<ClusterRow> {
    let flags = b[8];
    (flags < 4).then(|| ClusterRow {
        cluster: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
        keep: flags & 1 != 0,
        doc: flags & 2 != 0,
        component: u64::from_le_bytes(b[9..17].try_into().expect("8 bytes")),
    })
}

/// Writes a cluster table of `rows` rows at `path`, `fill` giving them in order.
fn write_clusters(
    path: &Path,
    digest: u128,
    rows: u64,
    fill: impl FnOnce(&mut dyn FnMut(&ClusterRow) -> Result<()>) -> Result<()>,
) -> Result<()> {
    store::write_stream(
        path,
        "clusters",
        digest,
        8 + rows * CLUSTER_ROW as u64,
        |sink| {
            sink.put(&rows.to_le_bytes())?;
            let mut written = 0u64;
            fill(&mut |row| {
                written += 1;
                sink.put_with(|buf| encode_cluster_row(row, buf))
            })?;
            assert_eq!(written, rows, "the table has the rows announced");
            Ok(())
        },
    )
}

/// A cluster table read a row at a time; the checksum is checked by `finish`, after
/// the last row.
struct ClusterRows {
    r: store::BodyReader,
    rows: u64,
    next: u64,
    buf: Vec<u8>,
    at: usize,
}

impl ClusterRows {
    /// Opens the table at `path`, which must hold `records` rows.
    fn open(path: &Path, digest: u128, records: u64) -> Result<Self> {
        let mut r = store::BodyReader::open(path, "clusters", Some(digest))?;
        let rows = r.count(CLUSTER_ROW as u64)? as u64;
        if rows != records {
            return Err(store::corrupt(
                path,
                format!("{rows} rows for the index's {records} records"),
            ));
        }
        Ok(ClusterRows {
            r,
            rows,
            next: 0,
            buf: Vec::new(),
            at: 0,
        })
    }

    /// The next row, `None` after the last.
    fn next(&mut self) -> Result<Option<ClusterRow>> {
        if self.next == self.rows {
            return Ok(None);
        }
        if self.at == self.buf.len() {
            let k = (self.rows - self.next).min(8192) as usize;
            self.buf.resize(k * CLUSTER_ROW, 0);
            self.r.read(&mut self.buf)?;
            self.at = 0;
        }
        let b = &self.buf[self.at..self.at + CLUSTER_ROW];
        let row = decode_cluster_row(b).ok_or_else(|| {
            self.r
                .error(format!("row {}: flag byte {}", self.next, b[8]))
        })?;
        self.at += CLUSTER_ROW;
        self.next += 1;
        Ok(Some(row))
    }

    fn finish(self) -> Result<()> {
        self.r.finish()
    }
}

/// Streams a cluster table of `records` rows, calling `f` with each record's index
/// position and row; the checksum is checked after the last.
fn scan_clusters(
    path: &Path,
    digest: u128,
    records: u64,
    mut f: impl FnMut(u64, ClusterRow) -> Result<()>,
) -> Result<()> {
    let mut rows = ClusterRows::open(path, digest, records)?;
    let mut i = 0;
    while let Some(row) = rows.next()? {
        f(i, row)?;
        i += 1;
    }
    rows.finish()
}

/// A cluster table read whole (`index verify`, `index records`).
fn read_clusters(path: &Path, digest: u128, records: u64) -> Result<Vec<ClusterRow>> {
    let mut rows = Vec::new();
    scan_clusters(path, digest, records, |_, r| {
        rows.push(r);
        Ok(())
    })?;
    Ok(rows)
}

/// The files of one segment read whole, for `verify` (a segment at a time) and
/// `records`, but for the paragraph keys, of which only the groups are read: they grow
/// with the documents, so `verify` streams them. A run reads only what its batch needs;
/// `compact` streams every file.
struct Segment {
    records: Vec<RecordRow>,
    sets: SetsIndex,
    /// Its `paragraphs` groups: `(group name, documents)`.
    groups: Vec<(String, u64)>,
}

fn segment_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(SEGMENTS).join(name)
}

impl Segment {
    /// Reads a live segment's record table and set-store index, each checked whole, and
    /// the groups of its paragraph counts.
    fn read(seg: &Path, digest: u128, entry: &SegmentEntry) -> Result<Self> {
        let file = |name: &str| seg.join(name);
        let records = decode_records(
            &file("records"),
            &store::read(&file("records"), "records", Some(digest))?,
        )?;
        let sets = SetsIndex::decode(
            &file("sets.idx"),
            &store::read(&file("sets.idx"), "setsidx", Some(digest))?,
        )?;
        let groups = paragraph_groups(&mut store::BodyReader::open(
            &file("paragraphs"),
            "paras",
            Some(digest),
        )?)?;
        let docs = records.iter().filter(|r| r.status == Status::Ok).count();
        let mismatch = |what: &str, n: usize, want: u64| {
            store::corrupt(
                &file(what),
                format!(
                    "holds {n} entries where the manifest names {want} (records {}, \
                     documents {})",
                    entry.records, entry.docs
                ),
            )
        };
        if records.len() as u64 != entry.records {
            return Err(mismatch("records", records.len(), entry.records));
        }
        if docs as u64 != entry.docs {
            return Err(mismatch("records", docs, entry.docs));
        }
        if sets.digests.len() != docs {
            return Err(mismatch("sets.idx", sets.digests.len(), entry.docs));
        }
        if let Some((d, g)) = sets
            .groups
            .iter()
            .enumerate()
            .find(|&(_, &g)| g as usize >= groups.len())
        {
            return Err(group_out_of_range(&file("sets.idx"), d, *g, groups.len()));
        }
        if let Some(r) = records
            .iter()
            .find(|r| r.run < entry.runs.0 || r.run > entry.runs.1)
        {
            return Err(store::corrupt(
                &file("records"),
                format!(
                    "record {:?} says run {}, outside the segment's runs {}-{}",
                    r.id, r.run, entry.runs.0, entry.runs.1
                ),
            ));
        }
        Ok(Segment {
            records,
            sets,
            groups,
        })
    }

    /// Reads the segment's paragraph counts whole, checked (the tests' oracles).
    #[cfg(test)]
    fn paragraphs(seg: &Path, digest: u128) -> Result<ParagraphCounts> {
        let path = seg.join("paragraphs");
        ParagraphCounts::decode(&path, &store::read(&path, "paras", Some(digest))?)
    }

    /// Opens `sets.dat` for reading its entries (`spill::TextEntry`) by document, each
    /// checked against its checksum.
    fn open_sets(&self, seg: &Path) -> Result<ShingleSets> {
        let path = seg.join("sets.dat");
        let file = open_sets_file(&path, self.sets.offsets.last().copied().unwrap_or(0))?;
        let offsets = self
            .sets
            .offsets
            .iter()
            .map(|&o| o + store::HEADER as u64)
            .collect();
        Ok(ShingleSets::from_file(
            path,
            file,
            offsets,
            Some(self.sets.entries.clone()),
        ))
    }
}

/// The error for document `d` of a segment whose `sets.idx` names outlet group `g` where
/// its `paragraphs` holds `groups`.
fn group_out_of_range(path: &Path, d: usize, g: u32, groups: usize) -> Error {
    store::corrupt(
        path,
        format!(
            "document {d} is in outlet group {g}, where the segment's paragraphs hold {groups} \
             groups"
        ),
    )
}

/// Opens a `sets.dat` whose body `sets.idx` says is `end` bytes long, refusing one of
/// another length (its records are checked one by one as they are read).
fn open_sets_file(path: &Path, end: u64) -> Result<std::fs::File> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let size = file.metadata().map_err(|e| io_error(path, e))?.len();
    let want = end + (store::HEADER + 16) as u64;
    if want != size {
        return Err(store::corrupt(
            path,
            format!("{size} bytes where sets.idx needs {want}: cut short or extended"),
        ));
    }
    Ok(file)
}

/// What a run takes of a segment's set store for some of its documents: their entries'
/// spans in `sets.dat`'s body, the entries' and their records' checksums, sizes and
/// left-out paragraphs.
#[derive(Debug, Default)]
struct PickedSets {
    spans: Vec<(u64, u64)>,
    digests: Vec<u64>,
    entries: Vec<u64>,
    sizes: Vec<u32>,
    /// `(position in the documents asked for, paragraphs left out)`.
    removed: Vec<(usize, Vec<u32>)>,
    /// The body's length by `sets.idx`.
    end: u64,
}

/// Streams a segment's `sets.idx` (of `docs` documents), keeping what `want` (ascending
/// segment documents) needs. Memory follows `want`. The outlet groups are checked against
/// `groups`, the segment's (from its `paragraphs`; `None`: not checked), and the flagged
/// lists skipped: a run does not use them.
fn pick_sets(
    path: &Path,
    digest: u128,
    docs: usize,
    groups: Option<usize>,
    want: &[u32],
) -> Result<PickedSets> {
    let mut r = store::BodyReader::open(path, "setsidx", Some(digest))?;
    let n = r.count(20)?;
    if n != docs {
        return Err(store::corrupt(
            path,
            format!("holds {n} documents where the manifest names {docs}"),
        ));
    }
    let mut out = PickedSets::default();
    let (mut j, mut prev) = (0usize, 0u64);
    for i in 0..=n {
        let o = r.u64()?;
        if o < prev {
            return Err(r.error("offsets go backwards"));
        }
        if i > 0 && want.get(j) == Some(&((i - 1) as u32)) {
            out.spans.push((prev, o));
            j += 1;
        }
        prev = o;
    }
    out.end = prev;
    for list in [&mut out.digests, &mut out.entries] {
        let mut j = 0;
        for i in 0..n {
            let x = r.u64()?;
            if want.get(j) == Some(&(i as u32)) {
                list.push(x);
                j += 1;
            }
        }
    }
    if r.count(4)? != n {
        return Err(r.error("sizes do not fit the document count"));
    }
    let mut j = 0;
    for i in 0..n {
        let x = r.u32()?;
        if want.get(j) == Some(&(i as u32)) {
            out.sizes.push(x);
            j += 1;
        }
    }
    let k = r.count(16)?;
    for _ in 0..k {
        let d = r.u32()?;
        let list = r.u32s()?;
        if let Ok(at) = want.binary_search(&d) {
            out.removed.push((at, list));
        }
    }
    let g = r.count(4)?;
    if g != 0 && g != n {
        return Err(r.error(format!("{g} outlet groups for {n} documents")));
    }
    let mut bad = None;
    for d in 0..g {
        let x = r.u32()?;
        if groups.is_some_and(|n| x as usize >= n) && bad.is_none() {
            bad = Some((d, x));
        }
    }
    let k = r.count(12)?;
    for _ in 0..k {
        r.u32()?;
        let m = r.count(4)?;
        r.skip(4 * m as u64)?;
    }
    // the checksum first, so that damage is said as damage
    r.finish()?;
    if let (Some((d, x)), Some(n)) = (bad, groups) {
        return Err(group_out_of_range(path, d, x, n));
    }
    Ok(out)
}

/// A segment's documents of each batch group `(group, documents)`, its documents holding
/// each batch key `((group, hash), documents)`, and its number of groups.
type PriorCounts = (Vec<(u32, u64)>, Vec<((u32, u64), u64)>, usize);

/// Streams a segment's `paragraphs` and returns what the batch needs of it: for each
/// group of the batch's (`groups`, by name) the segment's documents, and for each of
/// the batch's keys (`keys`, `(group, hash)` sorted) the segment's documents holding it.
/// The counts of keys the batch does not hold are never looked up (boilerplate is
/// decided for the batch's paragraphs only), so they are not kept.
fn pick_paragraphs(
    path: &Path,
    digest: u128,
    groups: &HashMap<&str, u32>,
    keys: &[(u32, u64)],
) -> Result<PriorCounts> {
    let mut r = store::BodyReader::open(path, "paras", Some(digest))?;
    let n = r.count(16)?;
    let mut name = Vec::new();
    let mut to_batch = Vec::with_capacity(n);
    let mut docs = Vec::new();
    for _ in 0..n {
        let g = groups.get(r.str_into(&mut name)?).copied();
        let d = r.u64()?;
        if let Some(g) = g {
            docs.push((g, d));
        }
        to_batch.push(g);
    }
    // the segment's keys are sorted by (its group, hash): each of its groups is a run of
    // ascending hashes, merge-joined with the batch's keys of the same group
    let mut counts = Vec::new();
    let mut group: Option<u32> = None;
    let mut slice: &[(u32, u64)] = &[];
    let mut j = 0;
    for_each_paragraph_key(&mut r, n, |g, h, c| {
        if group != Some(g) {
            group = Some(g);
            slice = match to_batch[g as usize] {
                Some(bg) => {
                    let start = keys.partition_point(|k| k.0 < bg);
                    let end = keys.partition_point(|k| k.0 <= bg);
                    &keys[start..end]
                }
                None => &[],
            };
            j = 0;
        }
        while j < slice.len() && slice[j].1 < h {
            j += 1;
        }
        if j < slice.len() && slice[j].1 == h {
            counts.push((slice[j], c));
        }
    })?;
    r.finish()?;
    Ok((docs, counts, n))
}

/// Reads the groups of a segment's `paragraphs`, `(group name, documents)`, leaving the
/// reader at its keys.
fn paragraph_groups(r: &mut store::BodyReader) -> Result<Vec<(String, u64)>> {
    let n = r.count(16)?;
    let mut name = Vec::new();
    (0..n)
        .map(|_| Ok((r.str_into(&mut name)?.to_owned(), r.u64()?)))
        .collect()
}

/// Bytes of one key of a segment's `paragraphs`: group `u32`, hash `u64`, documents `u64`.
const PARAGRAPH_KEY: usize = 20;

/// Streams the keys of a segment's `paragraphs` (the reader standing after its `groups`
/// groups) into `f` as `(group, hash, documents)`, checking that they ascend and name a
/// group that is there.
fn for_each_paragraph_key(
    r: &mut store::BodyReader,
    groups: usize,
    mut f: impl FnMut(u32, u64, u64),
) -> Result<()> {
    let mut left = r.count(PARAGRAPH_KEY as u64)?;
    let mut buf = vec![0u8; PARAGRAPH_KEY * 8192];
    let mut prev: Option<(u32, u64)> = None;
    while left > 0 {
        let k = left.min(8192);
        r.read(&mut buf[..PARAGRAPH_KEY * k])?;
        for e in buf[..PARAGRAPH_KEY * k].chunks_exact(PARAGRAPH_KEY) {
            let g = u32::from_le_bytes(e[..4].try_into().expect("4 bytes"));
            let h = u64::from_le_bytes(e[4..12].try_into().expect("8 bytes"));
            let c = u64::from_le_bytes(e[12..].try_into().expect("8 bytes"));
            if prev.is_some_and(|p| p >= (g, h)) {
                return Err(r.error("paragraph keys out of order"));
            }
            if g as usize >= groups {
                return Err(r.error("a paragraph key names a group that is not there"));
            }
            prev = Some((g, h));
            f(g, h, c);
        }
        left -= k;
    }
    Ok(())
}

/// Writes a segment's record table, set-store index, band keys (rows and runs) and
/// paragraph counts into `seg` (which exists); the caller streams `sets.dat`.
fn write_segment_files(
    seg: &Path,
    digest: u128,
    records: &[RecordRow],
    sets: &SetsIndex,
    paragraphs: &ParagraphCounts,
) -> Result<()> {
    store::write(
        &seg.join("records"),
        "records",
        digest,
        &encode_records(records),
    )?;
    store::write(&seg.join("sets.idx"), "setsidx", digest, &sets.encode())?;
    store::write(
        &seg.join("paragraphs"),
        "paras",
        digest,
        &paragraphs.encode(),
    )
}

/// Streams the first `n` entries (`spill::TextEntry`) of each `(sets, n)` of `sources`,
/// in order, into `seg/sets.dat`, filling `index`'s offsets and entry checksums (the
/// records' checksums are the caller's).
fn write_sets(
    seg: &Path,
    digest: u128,
    sources: &[(&ShingleSets, usize)],
    index: &mut SetsIndex,
) -> Result<()> {
    index.offsets = vec![0];
    index.entries.clear();
    let mut len = 0u64;
    // one pass for the length the header needs, one to copy: the page cache holds them
    for &(sets, n) in sources {
        for d in 0..n {
            let b = sets.read_bytes(d as DocId)?;
            len += b.len() as u64;
            index.offsets.push(len);
            index.entries.push(xxhash_rust::xxh3::xxh3_64(&b));
        }
    }
    store::write_stream(&seg.join("sets.dat"), "setsdat", digest, len, |sink| {
        for &(sets, n) in sources {
            for d in 0..n {
                sink.put(&sets.read_bytes(d as DocId)?)?;
            }
        }
        Ok(())
    })
}
/// An open index: its directory, manifest (`None` until the first run adds one) and, for
/// a writer, its lock.
pub struct Index {
    dir: PathBuf,
    manifest: Option<Manifest>,
    digest: u128,
    _lock: Option<DirLock>,
}

impl Index {
    /// Opens `dir` for writing (`readonly` false: takes the lock, failing at once when
    /// another writer holds it; creates the directory) or for reading.
    pub fn open(dir: &Path, readonly: bool) -> Result<Self> {
        if readonly && !dir.join(MANIFEST).exists() {
            return Err(index_error(
                dir,
                "no index here (no MANIFEST): a read-only run needs an index made by an \
                 earlier run",
            ));
        }
        let lock = if readonly {
            None
        } else {
            std::fs::create_dir_all(dir.join(SEGMENTS)).map_err(|e| Error::output(dir, e))?;
            Some(DirLock::try_acquire(&dir.join(LOCK))?.map_err(|holder| {
                index_error(
                    dir,
                    format!("in use by another neardup run ({holder}); wait for it to finish"),
                )
            })?)
        };
        let manifest = read_manifest(dir)?;
        let digest = match &manifest {
            Some(m) => parse_digest(dir, m)?,
            None => 0,
        };
        Ok(Index {
            dir: dir.to_path_buf(),
            manifest,
            digest,
            _lock: lock,
        })
    }

    /// The manifest, `None` for an index no run has added to yet.
    #[must_use]
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Refuses `params` when they differ from the index's, naming each difference.
    fn check_params(&mut self, params: &ValidParams) -> Result<()> {
        check_supported(&self.dir, params)?;
        let digest = store::params_digest(params);
        match &self.manifest {
            None => {
                self.digest = digest;
                Ok(())
            }
            Some(_) if digest == self.digest => Ok(()),
            Some(m) => {
                let diffs = params_differences(&m.params, params.get());
                Err(index_error(
                    &self.dir,
                    format!(
                        "this run's parameters would change the answer; the index was built \
                         with others ({}). Use the index's parameters (a run's config file: \
                         `neardup index info` shows them) or another --index",
                        if diffs.is_empty() {
                            "the parameters' digest differs".to_owned()
                        } else {
                            diffs.join("; ")
                        }
                    ),
                ))
            }
        }
    }

    /// Reads every live segment (the tests' oracle of what the streaming readers read).
    #[cfg(test)]
    fn segments(&self) -> Result<Vec<(SegmentEntry, Segment)>> {
        let Some(m) = &self.manifest else {
            return Ok(Vec::new());
        };
        m.segments
            .iter()
            .map(|e| {
                Ok((
                    e.clone(),
                    Segment::read(&segment_dir(&self.dir, &e.name), self.digest, e)?,
                ))
            })
            .collect()
    }

    /// Records held by the live segments.
    fn records(&self) -> u64 {
        self.manifest
            .as_ref()
            .map_or(0, |m| m.segments.iter().map(|s| s.records).sum())
    }

    /// The path of the current cluster table, `None` before the first run.
    fn clusters_path(&self) -> Option<PathBuf> {
        let m = self.manifest.as_ref()?;
        Some(segment_dir(&self.dir, &m.clusters).join("clusters"))
    }

    /// The current cluster table, read whole.
    fn clusters(&self) -> Result<Vec<ClusterRow>> {
        match self.clusters_path() {
            None => Ok(Vec::new()),
            Some(path) => read_clusters(&path, self.digest, self.records()),
        }
    }
}

/// Runs `dedup` on `inputs` against the index `index.dir` (created when absent), writing
/// the batch's outputs into `opts.out_dir` and then, unless read-only, adding the batch to
/// the index.
pub fn run(
    inputs: &[PathBuf],
    params: &ValidParams,
    opts: &RunOptions,
    index: &IndexOptions,
    progress: &dyn Progress,
) -> Result<crate::output::schema::Summary> {
    if opts.emit_clean {
        return Err(Error::params(
            "emit_clean",
            "--emit-clean reads the run's records again, and an index run's archived \
             records are not among its inputs: run --emit-clean without --index",
        ));
    }
    let mut ix = Index::open(&index.dir, index.readonly)?;
    ix.check_params(params)?;
    let mut archive = IndexArchive::load(ix, index.readonly);
    run_with(inputs, params, opts, progress, Some(&mut archive))
}

/// An archived document a run loads: a member of a component its batch touches.
struct Member {
    /// Its index position (over all runs).
    record: u64,
    /// Its archived document number (over all runs).
    doc: DocId,
    /// Its row of the cluster table before this run.
    row: ClusterRow,
}

/// The archive as a run needs it, and what the run adds.
///
/// A run never holds the archive: the probe streams each segment's band runs, two
/// scans of the cluster table turn its hits into the members of the components they
/// belong to, and only those members' records, band keys and set-store entries are read
/// (by scans that keep what they need, and rows read by position). The members, then the
/// batch's documents, are the documents of the run: local document `i < members` is
/// `members[i]`, in archive order, so every order-dependent decision is a full run's.
struct IndexArchive {
    index: Index,
    readonly: bool,
    /// Records and compared documents the index holds.
    archived_records: u64,
    archived_docs: u64,
    /// Archived documents sharing a bucket (a band key or an opening key) with a batch
    /// document.
    probe_hits: u64,
    /// The loaded archived documents, in archive order.
    members: Vec<Member>,
    /// Their records.
    rows: Vec<RecordRow>,
    /// Per member: whether a batch document is a candidate of its component (set by
    /// `candidates`); the others keep their stored answer.
    in_scope: Vec<bool>,
    /// This run's segment, written into a temporary directory until `commit`.
    pending: Option<tempfile::TempDir>,
    /// The batch's own paragraph counts.
    batch_paragraphs: ParagraphCounts,
    /// The batch's documents' outlet groups, indices into `batch_paragraphs.groups`.
    batch_groups: Vec<u32>,
    /// Each live segment's number of outlet groups (from its `paragraphs`, streamed by
    /// `before_clean`), which its `sets.idx` groups are checked against.
    segment_groups: Vec<usize>,
    batch_records: usize,
    batch_docs: usize,
    /// Every local record's component after this run (see `ClusterRow::component`).
    components: Vec<u64>,
    /// The verdicts of the pairs this run scored, in archived document numbers, for its
    /// segment's `verdicts`.
    scored: Vec<verdicts::Entry>,
}

/// What `load_members` reads of the members, in local document order.
struct Loaded {
    keys: Vec<u64>,
    openings: Vec<(u64, DocId)>,
    /// The members' paragraph records, made again from their texts.
    sets: ShingleSets,
    sizes: Vec<u32>,
    removed: DocLists<u32>,
}

impl IndexArchive {
    fn load(index: Index, readonly: bool) -> Self {
        let (archived_records, archived_docs) = index.manifest.as_ref().map_or((0, 0), |m| {
            (
                m.segments.iter().map(|s| s.records).sum(),
                m.segments.iter().map(|s| s.docs).sum(),
            )
        });
        IndexArchive {
            archived_records,
            archived_docs,
            probe_hits: 0,
            members: Vec::new(),
            rows: Vec::new(),
            in_scope: Vec::new(),
            pending: None,
            batch_paragraphs: ParagraphCounts::default(),
            batch_groups: Vec::new(),
            segment_groups: Vec::new(),
            batch_records: 0,
            batch_docs: 0,
            components: Vec::new(),
            scored: Vec::new(),
            readonly,
            index,
        }
    }

    fn run_number(&self) -> u64 {
        self.index.manifest.as_ref().map_or(0, |m| m.runs) + 1
    }

    fn live(&self) -> Vec<SegmentEntry> {
        self.index
            .manifest
            .as_ref()
            .map(|m| m.segments.clone())
            .unwrap_or_default()
    }

    /// The archived documents sharing a key of some band run (or the opening keys') with
    /// the batch, sorted: each segment's `bandruns` streamed once, merge-joined with the
    /// batch's sorted keys.
    fn probe(&self, keys: &[Vec<u64>]) -> Result<Vec<DocId>> {
        let mut hits = Vec::new();
        let mut base: u64 = 0;
        for e in self.live() {
            let first = DocId::try_from(base).map_err(|_| too_many(&self.index.dir))?;
            bands::probe(
                &segment_dir(&self.index.dir, &e.name).join("bandruns"),
                self.index.digest,
                usize::try_from(e.docs).map_err(|_| too_many(&self.index.dir))?,
                keys,
                first,
                &mut hits,
            )?;
            base += e.docs;
        }
        hits.sort_unstable();
        hits.dedup();
        Ok(hits)
    }

    /// The members of the components of `hits`, from two scans of the cluster table (the
    /// first finds the components, the second their members): memory follows them, not
    /// the archive.
    fn find_members(&self, hits: &[DocId]) -> Result<Vec<Member>> {
        let Some(path) = self.index.clusters_path() else {
            return Ok(Vec::new());
        };
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let digest = self.index.digest;
        let mut touched: HashSet<u64> = HashSet::new();
        let (mut doc, mut next) = (0u64, hits.iter().peekable());
        scan_clusters(&path, digest, self.archived_records, |_, row| {
            if row.doc {
                if next.peek().is_some_and(|&&h| u64::from(h) == doc) {
                    next.next();
                    touched.insert(row.component);
                }
                doc += 1;
            }
            Ok(())
        })?;
        if doc != self.archived_docs {
            return Err(store::corrupt(
                &path,
                format!(
                    "{doc} rows are documents where the manifest names {}",
                    self.archived_docs
                ),
            ));
        }
        let mut members = Vec::new();
        let mut doc: DocId = 0;
        scan_clusters(&path, digest, self.archived_records, |record, row| {
            if row.doc {
                if touched.contains(&row.component) {
                    members.push(Member { record, doc, row });
                }
                doc += 1;
            }
            Ok(())
        })?;
        Ok(members)
    }

    /// Reads the members' records, band and opening keys, and set-store entries,
    /// segment by segment, making each member's paragraph record again from its text
    /// into a spill of `scratch`.
    fn load_members(&mut self, params: &ValidParams, scratch: &Scratch) -> Result<Loaded> {
        let bands = params.bands();
        let mut out = Loaded {
            keys: Vec::new(),
            openings: Vec::new(),
            sets: ShingleSets::chain(Vec::new()),
            sizes: Vec::new(),
            removed: DocLists::default(),
        };
        let mut spill = ShingleSpill::create_in(&scratch.dir)?;
        let digest = self.index.digest;
        let (mut rec_base, mut doc_base) = (0u64, 0u64);
        let mut at = 0; // the first member of this segment
        for (i, e) in self.live().into_iter().enumerate() {
            let seg = segment_dir(&self.index.dir, &e.name);
            let end = self.members[at..].partition_point(|m| m.record < rec_base + e.records) + at;
            let mine = &self.members[at..end];
            if !mine.is_empty() {
                let want: Vec<u64> = mine.iter().map(|m| m.record - rec_base).collect();
                let rows = pick_records(&seg.join("records"), digest, &e, &want)?;
                if let Some(r) = rows.iter().find(|r| r.status != Status::Ok) {
                    return Err(store::corrupt(
                        &seg.join("records"),
                        format!(
                            "record {:?} is {}, where the cluster table says it is a document",
                            r.id,
                            r.status.as_str()
                        ),
                    ));
                }
                self.rows.extend(rows);
                let docs: Vec<u32> = mine
                    .iter()
                    .map(|m| u32::try_from(u64::from(m.doc) - doc_base).expect("a segment's"))
                    .collect();
                let picked = pick_sets(
                    &seg.join("sets.idx"),
                    digest,
                    usize::try_from(e.docs).map_err(|_| too_many(&self.index.dir))?,
                    self.segment_groups.get(i).copied(),
                    &docs,
                )?;
                let path = seg.join("sets.dat");
                let file = open_sets_file(&path, picked.end)?;
                let spans: Vec<(u64, u64)> = picked
                    .spans
                    .iter()
                    .map(|&(s, t)| (s + store::HEADER as u64, t + store::HEADER as u64))
                    .collect();
                let entries = ShingleSets::from_spans(
                    path.clone(),
                    file,
                    &spans,
                    picked.entries,
                    docs.clone(),
                );
                rebuild_records(&path, &entries, &docs, &picked.digests, params, &mut spill)?;
                out.sizes.extend_from_slice(&picked.sizes);
                for (k, list) in &picked.removed {
                    out.removed.push((at + k) as DocId, list);
                }
                let rows = bands::Rows::open(&seg.join("bands"), digest)?;
                if rows.bands() != bands {
                    return Err(index_error(
                        &self.index.dir,
                        format!(
                            "the index holds {} bands a document, this run {bands}",
                            rows.bands()
                        ),
                    ));
                }
                if rows.docs() as u64 != e.docs {
                    return Err(store::corrupt(
                        &seg.join("bands"),
                        format!(
                            "holds {} documents where the manifest names {}",
                            rows.docs(),
                            e.docs
                        ),
                    ));
                }
                for (k, &d) in docs.iter().enumerate() {
                    let keys = rows.get(d)?;
                    out.keys.extend_from_slice(&keys.bands);
                    out.openings
                        .extend(keys.openings.iter().map(|&o| (o, (at + k) as DocId)));
                }
            }
            at = end;
            rec_base += e.records;
            doc_base += e.docs;
        }
        out.sets = spill.finish()?;
        Ok(out)
    }
}

/// Makes again, from their texts, the paragraph records of the documents `docs` (of the
/// segment whose `sets.dat` is `path`) whose entries `entries` holds in that order,
/// checks each against `digests` (the checksum of the record its run compared), and
/// appends them to `spill`. The streaming pass's work for these documents, in parallel,
/// a chunk at a time so that memory stays a chunk's.
fn rebuild_records(
    path: &Path,
    entries: &ShingleSets,
    docs: &[u32],
    digests: &[u64],
    params: &ValidParams,
    spill: &mut ShingleSpill,
) -> Result<()> {
    const CHUNK: usize = 1024;
    for start in (0..docs.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(docs.len());
        let records: Vec<Vec<u8>> = (start..end)
            .into_par_iter()
            .map_init(Rebuilder::default, |r, i| {
                let bytes = entries.read_into(i as DocId, &mut r.buf)?.to_vec();
                r.record(path, &bytes, docs[i], digests[i], params)
            })
            .collect::<Result<_>>()?;
        for r in &records {
            spill.push_bytes(r)?;
        }
    }
    Ok(())
}

/// What makes a paragraph record again from an archived text; one per worker.
#[derive(Default)]
struct Rebuilder {
    analyzer: Analyzer,
    unpacker: TextUnpacker,
    buf: Vec<u8>,
}

impl Rebuilder {
    /// The paragraph record of document `doc` (of the segment whose `sets.dat` is
    /// `path`) from its entry `bytes`, which must match `digest`, the checksum of the
    /// record its run compared: the same text through the same code gives the same
    /// record, so a record that differs is an error, never a different answer.
    fn record(
        &mut self,
        path: &Path,
        bytes: &[u8],
        doc: u32,
        digest: u64,
        params: &ValidParams,
    ) -> Result<Vec<u8>> {
        let damaged = |what: &str| store::corrupt(path, format!("document {doc}: {what}"));
        let entry = TextEntry::parse(bytes).ok_or_else(|| damaged("its entry is cut short"))?;
        let text = self
            .unpacker
            .text(&entry)
            .ok_or_else(|| damaged("its text does not decompress"))?;
        let record = self.analyzer.record_of(text, params).encode();
        if xxhash_rust::xxh3::xxh3_64(&record) != digest {
            return Err(damaged(
                "its text gives another paragraph record than the one its run compared (was \
                 the index written by a neardup that segments, normalizes or shingles text \
                 otherwise?): rebuild the index",
            ));
        }
        Ok(record)
    }
}

/// Pushes documents into `table`: `keys` document-major (`bands` a document), `openings`
/// as `(key, document)` in document order, documents numbered from 0 in `keys`.
fn push_docs(
    table: &mut BandTable,
    bands: usize,
    keys: &[u64],
    openings: &[(u64, DocId)],
) -> Result<()> {
    let mut rest = openings;
    let mut doc_openings = Vec::new();
    for (d, doc_keys) in keys.chunks(bands.max(1)).enumerate() {
        let n = rest.iter().take_while(|&&(_, o)| o as usize == d).count();
        doc_openings.clear();
        doc_openings.extend(rest[..n].iter().map(|&(k, _)| k));
        rest = &rest[n..];
        table.push(doc_keys, &doc_openings)?;
    }
    debug_assert!(
        rest.is_empty(),
        "every opening key names a document of `keys`"
    );
    Ok(())
}

fn too_many(dir: &Path) -> Error {
    index_error(dir, "more than 2^32 documents: too many for one index")
}

impl Archive for IndexArchive {
    fn before_clean(&mut self, index: &mut ParagraphIndex) -> Result<()> {
        // the batch's own counts and its documents' groups, for its segment
        self.batch_groups.clone_from(&index.doc_groups);
        let mut keys: Vec<(u32, u64, u64)> = Vec::new();
        index
            .keys
            .for_each_count(|(g, h), n| keys.push((g, h, n)))?;
        self.batch_paragraphs = ParagraphCounts {
            groups: index
                .group_names
                .iter()
                .cloned()
                .zip(index.group_docs.iter().copied())
                .collect(),
            keys,
        };
        // and what the archive counted of the batch's groups and keys, added to the
        // batch's when its boilerplate is decided
        let groups: HashMap<&str, u32> = index
            .group_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as u32))
            .collect();
        let wanted: Vec<(u32, u64)> = self
            .batch_paragraphs
            .keys
            .iter()
            .map(|&(g, h, _)| (g, h))
            .collect();
        let mut prior: HashMap<(u32, u64), u64> = HashMap::new();
        let mut group_docs = vec![0u64; index.group_docs.len()];
        self.segment_groups.clear();
        for e in self.live() {
            let path = segment_dir(&self.index.dir, &e.name).join("paragraphs");
            let (docs, counts, n) = pick_paragraphs(&path, self.index.digest, &groups, &wanted)?;
            self.segment_groups.push(n);
            for (g, d) in docs {
                group_docs[g as usize] += d;
            }
            for (k, c) in counts {
                *prior.entry(k).or_default() += c;
            }
        }
        for (g, d) in group_docs.into_iter().enumerate() {
            index.group_docs[g] += d;
        }
        index.prior = prior;
        Ok(())
    }

    fn keeps_texts(&self) -> bool {
        !self.readonly
    }

    fn prepend(
        &mut self,
        records: &mut Records,
        cleaned: &mut CleanArticles,
        texts: Option<ShingleSets>,
        params: &ValidParams,
        scratch: &Scratch,
    ) -> Result<()> {
        let batch_docs = records.doc_records.len();
        let bands = params.bands();
        self.batch_records = records.metas.len();
        self.batch_docs = batch_docs;
        // a document's number over all runs is a `DocId` (the verdicts name pairs by them)
        DocId::try_from(self.archived_docs + batch_docs as u64)
            .map_err(|_| too_many(&self.index.dir))?;
        let batch_spill = std::mem::replace(&mut cleaned.records, ShingleSets::chain(Vec::new()));
        let keys = if self.readonly {
            bands::batch_runs(
                None,
                self.index.digest,
                bands,
                &cleaned.keys,
                &cleaned.openings,
            )?
        } else {
            let seg = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempdir_in(self.index.dir.join(SEGMENTS))
                .map_err(|e| Error::output(&self.index.dir, e))?;
            let run = self.run_number();
            let digest = self.index.digest;
            let mut sets = SetsIndex {
                sizes: cleaned.sizes.clone(),
                removed: cleaned
                    .removed
                    .iter()
                    .map(|(d, r)| (d, r.to_vec()))
                    .collect(),
                groups: std::mem::take(&mut self.batch_groups),
                flagged: records
                    .boilerplate
                    .iter()
                    .map(|(d, r)| (d, r.to_vec()))
                    .collect(),
                ..SetsIndex::default()
            };
            // the record each text must give back when it is made again: the spill's
            let mut buf = Vec::new();
            sets.digests = (0..batch_docs)
                .map(|d| {
                    Ok(xxhash_rust::xxh3::xxh3_64(
                        batch_spill.read_into(d as DocId, &mut buf)?,
                    ))
                })
                .collect::<Result<_>>()?;
            let texts = texts.expect("an index that adds the batch keeps its texts");
            write_sets(seg.path(), digest, &[(&texts, batch_docs)], &mut sets)?;
            let mut rows: Vec<RecordRow> = Vec::with_capacity(records.metas.len());
            records.metas.scan(|_, m| {
                rows.push(RecordRow {
                    run,
                    id: m.id.to_string(),
                    date: m.date.as_deref().map(str::to_owned),
                    outlet: records.outlet(&m).map(str::to_owned),
                    status: m.status,
                });
                Ok(())
            })?;
            let paragraphs = std::mem::take(&mut self.batch_paragraphs);
            write_segment_files(seg.path(), digest, &rows, &sets, &paragraphs)?;
            bands::write_rows(
                &seg.path().join("bands"),
                digest,
                bands,
                &cleaned.keys,
                &cleaned.openings,
            )?;
            let keys = bands::batch_runs(
                Some(&seg.path().join("bandruns")),
                digest,
                bands,
                &cleaned.keys,
                &cleaned.openings,
            )?;
            self.pending = Some(seg);
            keys
        };

        // the probe, then the members of the components it hit
        let hits = self.probe(&keys)?;
        drop(keys);
        self.probe_hits = hits.len() as u64;
        self.members = self.find_members(&hits)?;
        drop(hits);
        let loaded = self.load_members(params, scratch)?;

        // the members' records, then the batch's
        let base_docs =
            DocId::try_from(self.members.len()).map_err(|_| too_many(&self.index.dir))?;
        let mut all = Records::in_scratch(scratch);
        for row in &self.rows {
            let outlet = row.outlet.clone().map(|o| all.outlet_id(o));
            let d = all.doc_records.len() as DocId;
            all.doc_records.push(all.metas.len() as u32);
            all.metas.push(&RecordMeta {
                id: row.id.as_str().into(),
                date: row.date.as_deref().map(Into::into),
                outlet,
                // archived records are never written to docs.jsonl, where these go
                source: 0,
                position: PackedPosition::from(Position::Line(0)),
                status: row.status,
                doc: Some(d),
                raw_digest: 0,
            })?;
        }
        let batch = std::mem::replace(records, Records::in_scratch(scratch));
        batch.metas.scan(|_, mut m| {
            m.outlet = m
                .outlet
                .map(|o| all.outlet_id(batch.outlets[o as usize].clone()));
            m.doc = m.doc.map(|d| d + base_docs);
            all.metas.push(&m)
        })?;
        all.doc_records
            .extend(batch.doc_records.iter().map(|&r| r + base_docs));
        all.repeats = batch
            .repeats
            .into_iter()
            .map(|(d, r)| (d + base_docs, r))
            .collect();
        all.boilerplate = DocLists::default();
        all.boilerplate
            .extend_shifted(&batch.boilerplate, base_docs);
        *records = all;

        let mut table = BandTable::with_budget(bands, scratch.band_budget(), &scratch.dir);
        push_docs(&mut table, bands, &loaded.keys, &loaded.openings)?;
        push_docs(&mut table, bands, &cleaned.keys, &cleaned.openings)?;
        cleaned.table = table;
        cleaned.openings = Vec::new();
        cleaned.records = ShingleSets::chain(vec![loaded.sets, batch_spill]);
        let mut removed = loaded.removed;
        removed.extend_shifted(&cleaned.removed, base_docs);
        cleaned.removed = removed;
        let mut sizes = loaded.sizes;
        sizes.extend_from_slice(&cleaned.sizes);
        cleaned.sizes = sizes;
        Ok(())
    }

    fn candidates(&mut self, pairs: &mut Vec<Pair>) {
        let first_new = self.members.len() as DocId;
        let component = |d: DocId| self.members[d as usize].row.component;
        let touched: HashSet<u64> = pairs
            .iter()
            .filter(|&&(a, b)| a < first_new && b >= first_new)
            .map(|&(a, _)| component(a))
            .collect();
        self.in_scope = (0..first_new)
            .map(|d| touched.contains(&component(d)))
            .collect();
        let in_scope = |d: DocId| d >= first_new || self.in_scope[d as usize];
        pairs.retain(|&(a, b)| in_scope(a) && in_scope(b));
    }

    fn known(&mut self) -> Result<Verdicts> {
        let mut out = Verdicts::default();
        if !self.in_scope.iter().any(|&s| s) {
            return Ok(out);
        }
        let docs: Vec<DocId> = self.members.iter().map(|m| m.doc).collect();
        let mut through = 0u64;
        for e in self.live() {
            through += e.docs;
            let path = segment_dir(&self.index.dir, &e.name).join(verdicts::FILE);
            verdicts::pick(
                &path,
                self.index.digest,
                through,
                &docs,
                |i| self.in_scope[i],
                &mut out,
            )?;
        }
        verdicts::sort(&mut out);
        Ok(out)
    }

    fn after_cluster(&mut self, dedup: &mut Dedup, scored: Verdicts, taken: u64) -> Result<()> {
        let archived = self.members.len();
        if !self.readonly {
            let members = &self.members;
            let first_new = self.archived_docs;
            self.scored = verdicts::entries(&scored, |d| {
                if (d as usize) < archived {
                    members[d as usize].doc
                } else {
                    // the batch's documents follow the archive's (`prepend` checked
                    // that the numbers fit)
                    (first_new + u64::from(d) - archived as u64) as DocId
                }
            });
        }
        drop(scored);
        let members = &self.members;
        let first_batch = self.archived_records;
        let position = |i: usize| {
            if i < archived {
                members[i].record
            } else {
                first_batch + (i - archived) as u64
            }
        };
        // stable ids: the index position of each cluster's first record (local order is
        // index order); the loaded members no batch document is a candidate of keep what
        // their runs decided (this run saw none of their pairs; see `candidates`)
        let mut first: HashMap<u64, u64> = HashMap::new();
        let in_scope = &self.in_scope;
        dedup.assignments = dedup.assignments.map(|i, a| {
            // every record's cluster names its first record, the stored ones' too
            let a = match a.cluster() {
                Some(c) => a.in_cluster(*first.entry(c).or_insert(position(i))),
                None => a,
            };
            if i < archived && !in_scope[i] {
                let row = members[i].row;
                Assignment::stored((row.cluster != NO_CLUSTER).then_some(row.cluster), row.keep)
            } else {
                a
            }
        })?;
        // components, for the next run's scope: of the touched, from this run's edges
        let records = &dedup.records;
        let mut uf = UnionFind::new(dedup.records.doc_records.len());
        dedup.edges.scan(&mut |e| {
            uf.union(e.a, e.b);
            Ok(())
        })?;
        let mut first_of_root: HashMap<DocId, u64> = HashMap::new();
        self.components = (0..records.metas.len())
            .map(|i| match records.doc_of(i) {
                Some(d) if i >= archived || self.in_scope[d as usize] => {
                    *first_of_root.entry(uf.find(d)).or_insert(position(i))
                }
                _ if i < archived => members[i].row.component,
                _ => position(i),
            })
            .collect();
        let mut size: HashMap<u64, u64> = HashMap::new();
        let mut rep: HashMap<u64, u32> = HashMap::new();
        let mut touched = std::collections::BTreeSet::new();
        dedup.assignments.scan(|i, a| {
            if let Some(c) = a.cluster() {
                *size.entry(c).or_default() += 1;
                if a.keep() {
                    rep.insert(c, i as u32);
                }
                if i >= archived {
                    touched.insert(c);
                }
            }
            Ok(())
        })?;
        // what the representative of each touched cluster was before this run (a
        // cluster lies inside one component, so its members are all loaded)
        let before: HashMap<u64, u32> = members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.row.keep && m.row.cluster != NO_CLUSTER)
            .map(|(i, m)| (m.row.cluster, i as u32))
            .collect();
        let mut previous = BTreeMap::new();
        for &c in &touched {
            if let (Some(&old), Some(&new)) = (before.get(&c), rep.get(&c))
                && old != new
            {
                previous.insert(c, old);
            }
        }
        // the batch's counts: of its records, not the archive's
        let counts = &mut dedup.summary.counts;
        counts.clusters = touched
            .iter()
            .filter(|c| size.get(c).copied().unwrap_or(0) > 1)
            .count() as u64;
        counts.docs_in_clusters = 0;
        counts.duplicates = 0;
        counts.kept = 0;
        dedup
            .assignments
            .scan_range(archived, dedup.assignments.len(), |_, a| {
                if a.cluster().is_some_and(|c| size[&c] > 1) {
                    counts.docs_in_clusters += 1;
                }
                if a.duplicate_of().is_some() {
                    counts.duplicates += 1;
                }
                if a.keep() {
                    counts.kept += 1;
                }
                Ok(())
            })?;
        let run = self.run_number();
        dedup.summary.index = Some(IndexRun {
            dir: self.index.dir.clone(),
            run,
            added: !self.readonly,
            archived_records: self.archived_records,
            archived_docs: self.archived_docs,
            probe_hits: self.probe_hits,
            loaded_docs: archived as u64,
            stored_verdicts: taken,
            representative_changes: previous.len() as u64,
        });
        dedup.archived = Some(Archived {
            records: archived,
            runs: self.rows.iter().map(|r| r.run).collect(),
            run,
            previous_representative: previous,
        });
        Ok(())
    }

    fn commit(&mut self, dedup: &Dedup) -> Result<()> {
        let Some(seg) = self.pending.take() else {
            return Ok(()); // read-only
        };
        let digest = self.index.digest;
        verdicts::write(
            &seg.path().join(verdicts::FILE),
            digest,
            &std::mem::take(&mut self.scored),
        )?;
        // the cluster table: the old one streamed, the members' rows replaced, the
        // batch's appended
        // rows asked for in rising order: the members', then the batch's
        let mut assignments = dedup.assignments.reader();
        let components = &self.components;
        let mut row = |i: usize| -> Result<ClusterRow> {
            let a = assignments.get(i)?;
            Ok(ClusterRow {
                cluster: a.cluster().unwrap_or(NO_CLUSTER),
                keep: a.keep(),
                doc: dedup.records.doc_of(i).is_some(),
                component: components[i],
            })
        };
        let old = self.index.clusters_path();
        let members = &self.members;
        write_clusters(
            &seg.path().join("clusters"),
            digest,
            self.archived_records + self.batch_records as u64,
            |put| {
                if let Some(old) = &old {
                    let mut next = 0;
                    scan_clusters(old, digest, self.archived_records, |i, r| {
                        if members.get(next).is_some_and(|m| m.record == i) {
                            next += 1;
                            put(&row(next - 1)?)
                        } else {
                            put(&r)
                        }
                    })?;
                }
                for i in members.len()..dedup.assignments.len() {
                    put(&row(i)?)?;
                }
                Ok(())
            },
        )?;
        let run = self.run_number();
        let name = format!("s{run:06}-{run:06}");
        let dest = segment_dir(&self.index.dir, &name);
        if dest.exists() {
            // an orphan of a run killed after its rename, before its manifest: never live
            std::fs::remove_dir_all(&dest).map_err(|e| Error::output(&dest, e))?;
        }
        let tmp = seg.keep();
        std::fs::rename(&tmp, &dest).map_err(|e| Error::output(&dest, e))?;
        let mut m = self.index.manifest.clone().unwrap_or_else(|| Manifest {
            params: dedup.summary.params.clone(),
            params_digest: format!("{:032x}", self.index.digest),
            runs: 0,
            segments: Vec::new(),
            clusters: String::new(),
        });
        m.runs = run;
        m.segments.push(SegmentEntry {
            name: name.clone(),
            runs: (run, run),
            records: self.batch_records as u64,
            docs: self.batch_docs as u64,
        });
        m.clusters = name;
        write_manifest(&self.index.dir, &m, self.index.digest)?;
        self.index.manifest = Some(m);
        Ok(())
    }
}

/// What `neardup index info` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// The manifest.
    pub manifest: Manifest,
    /// Records and compared documents in the live segments.
    pub records: u64,
    /// Compared documents.
    pub docs: u64,
    /// Bytes of the live segments' files.
    pub bytes: u64,
    /// Directories under `segments/` that the manifest does not name (a killed run's, a
    /// compaction's leftovers): not part of the index; `compact` removes them.
    pub orphans: Vec<String>,
    /// From `verify` only (it reads every set-store entry): archived documents whose
    /// article sets the paragraph counts as they stand would make otherwise than their
    /// runs did (boilerplate learned later; their runs' decisions stand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_boilerplate: Option<u64>,
}

fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let e = e.map_err(|e| io_error(dir, e))?;
        n += e.metadata().map_err(|x| io_error(&e.path(), x))?.len();
    }
    Ok(n)
}

fn orphans(dir: &Path, m: &Manifest) -> Result<Vec<String>> {
    let seg = dir.join(SEGMENTS);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&seg).map_err(|e| io_error(&seg, e))? {
        let name = e
            .map_err(|e| io_error(&seg, e))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !m.segments.iter().any(|s| s.name == name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn existing(dir: &Path) -> Result<Manifest> {
    read_manifest(dir)?.ok_or_else(|| index_error(dir, "no index here (no MANIFEST)"))
}

/// The index's size, runs, parameters and orphans, from the manifest and the directory.
pub fn info(dir: &Path) -> Result<Info> {
    let m = existing(dir)?;
    let mut bytes = 0;
    for s in &m.segments {
        bytes += dir_bytes(&segment_dir(dir, &s.name))?;
    }
    Ok(Info {
        records: m.segments.iter().map(|s| s.records).sum(),
        docs: m.segments.iter().map(|s| s.docs).sum(),
        bytes,
        orphans: orphans(dir, &m)?,
        stale_boilerplate: None,
        manifest: m,
    })
}

/// Checks every file of every live segment whole (checksums, lengths, counts against the
/// manifest, every record of every run in exactly one segment, the cluster table covering
/// every record, every set-store entry against its checksum). Returns the index's
/// figures, with the archived documents boilerplate learned later would make compare
/// differently (`StaleBoilerplate`); an error names the first bad file. Orphans are
/// listed in the figures, never taken as part of the index.
pub fn verify(dir: &Path) -> Result<Info> {
    let info = info(dir)?;
    let ix = Index::open(dir, true)?;
    let m = &info.manifest;
    let digest = ix.digest;
    let mut run_seen = vec![0u64; usize::try_from(m.runs).unwrap_or(0) + 1];
    let mut next_run = 1;
    let mut bands_a_doc = None;
    let mut is_doc: Vec<bool> = Vec::new();
    let mut docs_through = 0u64;
    let mut stale = StaleBoilerplate::new(
        &m.params.clone().validate()?,
        dir,
        &m.segments,
        digest,
        COUNTS_BUDGET,
    )?;
    let mut buf = Vec::new();
    // one segment at a time: what the index holds a document is never all in memory
    for entry in &m.segments {
        let path = segment_dir(dir, &entry.name);
        let seg = Segment::read(&path, digest, entry)?;
        // pairs of the segment's documents and earlier ones', sorted
        docs_through += entry.docs;
        verdicts::check(&path.join(verdicts::FILE), digest, docs_through)?;
        // every file's checksum first, so damage is said as damage
        let len = store::check_stream(&path.join("sets.dat"), "setsdat", Some(digest))?;
        for (name, kind) in [("bands", "bands"), ("bandruns", "bandruns")] {
            store::check_stream(&path.join(name), kind, Some(digest))?;
        }
        if len != seg.sets.offsets.last().copied().unwrap_or(0) {
            return Err(store::corrupt(
                &path.join("sets.dat"),
                "its length is not the one sets.idx gives",
            ));
        }
        // every set-store entry against its checksum, its paragraph hashes compared with
        // the paragraph counts as they stand
        let sets = seg.open_sets(&path)?;
        stale.segment(&path.join("sets.dat"), &seg, &sets, &mut buf)?;
        let (shape, docs) = bands::for_each_row(&path.join("bands"), digest, |_, _| Ok(()))?;
        if docs as u64 != entry.docs || *bands_a_doc.get_or_insert(shape.bands) != shape.bands {
            return Err(store::corrupt(
                &path.join("bands"),
                format!(
                    "{docs} documents of {} bands where the manifest names {} documents \
                     and the other segments {} bands",
                    shape.bands,
                    entry.docs,
                    bands_a_doc.unwrap_or(shape.bands)
                ),
            ));
        }
        bands::check_runs(&path.join("bandruns"), digest, shape.bands + 1, docs)?;
        if entry.runs.0 != next_run || entry.runs.1 < entry.runs.0 {
            return Err(store::corrupt(
                &dir.join(MANIFEST),
                format!(
                    "segment {} holds runs {}-{}, expected to start at run {next_run}",
                    entry.name, entry.runs.0, entry.runs.1
                ),
            ));
        }
        next_run = entry.runs.1 + 1;
        for r in &seg.records {
            run_seen[r.run as usize] += 1;
            is_doc.push(r.status == Status::Ok);
        }
    }
    if next_run != m.runs + 1 {
        return Err(store::corrupt(
            &dir.join(MANIFEST),
            format!(
                "the segments hold runs 1-{}, the manifest counts {}",
                next_run - 1,
                m.runs
            ),
        ));
    }
    let clusters = ix.clusters()?;
    let path = segment_dir(dir, &m.clusters).join("clusters");
    let mut reps: HashMap<u64, u64> = HashMap::new();
    for (i, row) in clusters.iter().enumerate() {
        let (c, keep) = (row.cluster, row.keep);
        if row.doc != is_doc[i] {
            return Err(store::corrupt(
                &path,
                format!("record {i}: the table and the record disagree on its being a document"),
            ));
        }
        if row.component as usize > i {
            return Err(store::corrupt(
                &path,
                format!(
                    "record {i} is in component {}, which starts after it",
                    row.component
                ),
            ));
        }
        if c != NO_CLUSTER && (c as usize > i) {
            return Err(store::corrupt(
                &path,
                format!("record {i} is in cluster {c}, which starts after it"),
            ));
        }
        if keep && c != NO_CLUSTER {
            *reps.entry(c).or_default() += 1;
        }
    }
    if let Some((c, n)) = reps.iter().find(|(_, n)| **n != 1) {
        return Err(store::corrupt(
            &path,
            format!("cluster {c} has {n} representatives"),
        ));
    }
    Ok(Info {
        stale_boilerplate: Some(stale.docs),
        ..info
    })
}

/// Bytes of summed paragraph keys `verify` and `compact` hold in memory at once
/// (`SummedKeys`).
const COUNTS_BUDGET: usize = 64 << 20;

/// A paragraph key with its documents, `(group, hash, documents)`.
type CountedKey = (u32, u64, u64);

/// `(group, hash, documents)` keys from several segments, summed by key inside a memory
/// budget: held in memory when they fit it, else split by hash into parts on disk.
struct SummedKeys {
    /// The keys, when one part holds them all.
    held: Vec<CountedKey>,
    /// The parts on disk (none when `held` is used), 20 bytes a key as in `paragraphs`.
    parts: Vec<BufWriter<File>>,
    /// Where the parts are: unnamed files, gone when closed.
    dir: PathBuf,
}

/// The part of `parts` that holds `hash`: its top bits (hashes are uniform), so that
/// the parts split the hashes into ascending ranges.
fn part_of(hash: u64, parts: usize) -> usize {
    ((u128::from(hash) * parts as u128) >> 64) as usize
}

fn write_key(out: &mut impl Write, (g, h, n): CountedKey) -> std::io::Result<()> {
    out.write_all(&g.to_le_bytes())?;
    out.write_all(&h.to_le_bytes())?;
    out.write_all(&n.to_le_bytes())
}

/// The next key of a part, `None` at its end.
fn read_key(r: &mut impl Read) -> std::io::Result<Option<CountedKey>> {
    let mut e = [0u8; PARAGRAPH_KEY];
    match r.read_exact(&mut e) {
        Ok(()) => Ok(Some((
            u32::from_le_bytes(e[..4].try_into().expect("4 bytes")),
            u64::from_le_bytes(e[4..12].try_into().expect("8 bytes")),
            u64::from_le_bytes(e[12..].try_into().expect("8 bytes")),
        ))),
        Err(x) if x.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(x) => Err(x),
    }
}

/// An unnamed temporary file in `dir`, buffered, for keys.
fn key_file(dir: &Path) -> Result<BufWriter<File>> {
    tempfile::tempfile_in(dir)
        .map(|f| BufWriter::with_capacity(1 << 16, f))
        .map_err(|e| Error::spill(dir, e))
}

/// A part written, read back from its start.
fn rewound(part: BufWriter<File>, dir: &Path) -> Result<BufReader<File>> {
    let mut file = part
        .into_inner()
        .map_err(|e| Error::spill(dir, e.into_error()))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::spill(dir, e))?;
    Ok(BufReader::with_capacity(1 << 16, file))
}

/// Sorts `keys` by `(group, hash)` and sums the documents of each key into one entry.
fn sum_in_place(keys: &mut Vec<CountedKey>) {
    keys.sort_unstable_by_key(|&(g, h, _)| (g, h));
    keys.dedup_by(|later, kept| {
        let same = (later.0, later.1) == (kept.0, kept.1);
        if same {
            kept.2 += later.2;
        }
        same
    });
}

impl SummedKeys {
    /// Room for about `keys` keys in parts of at most `budget` bytes each, those on disk
    /// in `dir`.
    fn new(keys: u64, budget: usize, dir: &Path) -> Result<Self> {
        let entry = std::mem::size_of::<CountedKey>() as u64;
        let parts = (keys * entry).div_ceil(budget.max(1) as u64);
        let parts = if parts <= 1 {
            Vec::new()
        } else {
            (0..parts)
                .map(|_| key_file(dir))
                .collect::<Result<Vec<_>>>()?
        };
        // the keys' room at once when they are held: a vector grown by doubling could
        // hold twice the budget
        let held = if parts.is_empty() {
            Vec::with_capacity(usize::try_from(keys).unwrap_or(0))
        } else {
            Vec::new()
        };
        Ok(SummedKeys {
            held,
            parts,
            dir: dir.to_path_buf(),
        })
    }

    fn add(&mut self, key: CountedKey) -> Result<()> {
        if self.parts.is_empty() {
            self.held.push(key);
            return Ok(());
        }
        let part = part_of(key.1, self.parts.len());
        write_key(&mut self.parts[part], key).map_err(|e| Error::spill(&self.dir, e))
    }

    /// Calls `f` with every distinct `(group, hash)` and its summed documents, one part
    /// after the other, each part's in `(group, hash)` order.
    fn for_each_sum(self, mut f: impl FnMut(CountedKey) -> Result<()>) -> Result<()> {
        if self.parts.is_empty() {
            let mut held = self.held;
            sum_in_place(&mut held);
            return held.into_iter().try_for_each(f);
        }
        let mut keys = Vec::new();
        for part in self.parts {
            let mut r = rewound(part, &self.dir)?;
            let bytes = r.get_ref().metadata().map_or(0, |m| m.len());
            keys.clear();
            // the part's size, so that its keys are never held twice by a growing vector
            keys.reserve_exact(usize::try_from(bytes).unwrap_or(0) / PARAGRAPH_KEY);
            while let Some(k) = read_key(&mut r).map_err(|e| Error::spill(&self.dir, e))? {
                keys.push(k);
            }
            sum_in_place(&mut keys);
            keys.iter().try_for_each(|&k| f(k))?;
        }
        Ok(())
    }

    /// The sums of every distinct key, to be read in `(group, hash)` order: each part's
    /// sums written to a part of their own (in memory when one part held them all).
    fn into_sorted(self) -> Result<SortedKeys> {
        let dir = self.dir.clone();
        let mut sorted = SortedKeys {
            held: Vec::new(),
            parts: Vec::new(),
            len: 0,
            dir: dir.clone(),
        };
        if self.parts.is_empty() {
            sorted.held = self.held;
            sum_in_place(&mut sorted.held);
            sorted.len = sorted.held.len() as u64;
            return Ok(sorted);
        }
        let mut outs = (0..self.parts.len())
            .map(|_| key_file(&dir))
            .collect::<Result<Vec<_>>>()?;
        let len = &mut sorted.len;
        let parts = outs.len();
        self.for_each_sum(|k| {
            *len += 1;
            write_key(&mut outs[part_of(k.1, parts)], k).map_err(|e| Error::spill(&dir, e))
        })?;
        sorted.parts = outs
            .into_iter()
            .map(|o| rewound(o, &dir))
            .collect::<Result<_>>()?;
        Ok(sorted)
    }
}

/// Summed paragraph keys (`SummedKeys::into_sorted`), in memory or in parts each sorted
/// by `(group, hash)` whose hashes lie in ascending ranges.
struct SortedKeys {
    held: Vec<CountedKey>,
    parts: Vec<BufReader<File>>,
    /// The distinct keys.
    len: u64,
    dir: PathBuf,
}

impl SortedKeys {
    /// Calls `f` with every key in `(group, hash)` order: for each group, the parts'
    /// keys of that group one part after the other, since each part's hashes all lie
    /// below the next part's.
    fn for_each(self, mut f: impl FnMut(CountedKey) -> Result<()>) -> Result<()> {
        if self.parts.is_empty() {
            return self.held.into_iter().try_for_each(f);
        }
        let err = |e| Error::spill(&self.dir, e);
        let mut parts = self.parts;
        let mut heads = parts
            .iter_mut()
            .map(read_key)
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(err)?;
        while let Some(g) = heads.iter().flatten().map(|k| k.0).min() {
            for (head, part) in heads.iter_mut().zip(&mut parts) {
                while let Some(k) = head.filter(|k| k.0 == g) {
                    f(k)?;
                    *head = read_key(part).map_err(err)?;
                }
            }
        }
        Ok(())
    }
}

/// The outlet groups of several segments' paragraph counts, summed by name.
#[derive(Debug, Default)]
struct MergedGroups {
    /// `(group name, documents)`, in order of first appearance.
    groups: Vec<(String, u64)>,
    /// For each segment, its groups' positions in `groups`.
    to_merged: Vec<Vec<u32>>,
}

/// Streams the `paragraphs` files `paths` (segments in index order) into `keys`, each
/// key's group renamed to its position among the groups summed by name, which are
/// returned.
fn sum_paragraph_keys(
    paths: &[PathBuf],
    digest: u128,
    keys: &mut SummedKeys,
) -> Result<MergedGroups> {
    let mut merged = MergedGroups::default();
    let mut names: HashMap<String, u32> = HashMap::new();
    for path in paths {
        let mut r = store::BodyReader::open(path, "paras", Some(digest))?;
        let mut to_merged = Vec::new();
        for (name, docs) in paragraph_groups(&mut r)? {
            let next = merged.groups.len() as u32;
            let g = *names.entry(name.clone()).or_insert(next);
            if g == next {
                merged.groups.push((name, 0));
            }
            merged.groups[g as usize].1 += docs;
            to_merged.push(g);
        }
        let mut written = Ok(());
        for_each_paragraph_key(&mut r, to_merged.len(), |g, h, c| {
            if written.is_ok() {
                written = keys.add((to_merged[g as usize], h, c));
            }
        })?;
        written?;
        r.finish()?;
        merged.to_merged.push(to_merged);
    }
    Ok(merged)
}

/// Keys a segment's `paragraphs` files hold at most, by their sizes.
fn paragraph_keys_in(paths: &[PathBuf]) -> Result<u64> {
    let mut bytes = 0u64;
    for path in paths {
        bytes += std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
    }
    Ok(bytes / PARAGRAPH_KEY as u64)
}

/// Document `d`'s list in `lists` (sorted by document; empty when it has none), for
/// documents asked in ascending order: `at` is the cursor kept between calls.
fn list_at<'a>(lists: &'a [(u32, Vec<u32>)], at: &mut usize, d: usize) -> &'a [u32] {
    while lists.get(*at).is_some_and(|(x, _)| (*x as usize) < d) {
        *at += 1;
    }
    match lists.get(*at) {
        Some((x, l)) if *x as usize == d => l,
        _ => &[],
    }
}

/// Counts the archived documents whose article sets the archive's paragraph counts, as
/// they stand, would make otherwise than their runs did: a paragraph that is boilerplate
/// now and that their run kept, or one their run flagged that is no longer boilerplate
/// (its group's documents grew faster than its count: `boilerplate_min_fraction`). Their
/// runs' decisions stand (docs/index.md, "The paragraph stage with an index"); this says
/// how many. It needs every document's paragraph hashes, so `verify`, which reads every
/// set-store entry (each against its checksum), counts it.
struct StaleBoilerplate {
    params: ValidParams,
    /// Whether boilerplate changes what is compared at all (the paragraph stage on, its
    /// paragraphs left out of the articles).
    applies: bool,
    /// Group name to its index among all segments' groups (summed by name).
    names: HashMap<String, u32>,
    /// Each of those groups' documents now.
    group_docs: Vec<u64>,
    /// The `(group, paragraph hash)` keys that are boilerplate by the counts as they
    /// stand, only those: a lookup here missed the cache far less than a binary search
    /// among all the summed keys (benches/README.md). `is_boilerplate` grows with the
    /// count, so a key not here is boilerplate only if a count of 0 would be.
    now: FxHashSet<(u32, u64)>,
    docs: u64,
}

impl StaleBoilerplate {
    /// Sums the paragraph counts of the live segments `entries` of the index in `dir` by
    /// group name and keeps the keys that are boilerplate by those sums. The summed keys
    /// grow with the archive, so they are gathered in at most `budget` bytes: past it,
    /// the keys are split by hash into parts written to unnamed temporary files (in the
    /// system's temporary directory: `verify` writes nothing into the index), and each
    /// part is summed alone.
    fn new(
        params: &ValidParams,
        dir: &Path,
        entries: &[SegmentEntry],
        digest: u128,
        budget: usize,
    ) -> Result<Self> {
        let applies = params.paragraphs.enabled && params.paragraphs.clean_articles;
        let mut stale = StaleBoilerplate {
            applies,
            params: params.clone(),
            names: HashMap::new(),
            group_docs: Vec::new(),
            now: FxHashSet::default(),
            docs: 0,
        };
        if !applies {
            return Ok(stale);
        }
        let paths: Vec<PathBuf> = entries
            .iter()
            .map(|e| segment_dir(dir, &e.name).join("paragraphs"))
            .collect();
        let temp = std::env::temp_dir();
        let mut parts = SummedKeys::new(paragraph_keys_in(&paths)?, budget, &temp)?;
        let merged = sum_paragraph_keys(&paths, digest, &mut parts)?;
        for (g, (name, docs)) in merged.groups.into_iter().enumerate() {
            stale.names.insert(name, g as u32);
            stale.group_docs.push(docs);
        }
        let group_docs = &stale.group_docs;
        let now = &mut stale.now;
        parts.for_each_sum(|(g, h, n)| {
            if is_boilerplate(n, group_docs[g as usize], params) {
                now.insert((g, h));
            }
            Ok(())
        })?;
        Ok(stale)
    }

    /// Reads every entry of `seg` from `sets` (its `sets.dat`, at `path`),
    /// each checked against its checksum, and counts its documents that differ.
    fn segment(
        &mut self,
        path: &Path,
        seg: &Segment,
        sets: &ShingleSets,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let n = seg.sets.digests.len();
        if !self.applies || seg.sets.groups.is_empty() {
            for d in 0..n {
                sets.read_into(d as DocId, buf)?;
            }
            return Ok(());
        }
        // each of the segment's groups, as (group among all, its documents now)
        let groups: Vec<(u32, u64)> = seg
            .groups
            .iter()
            .map(|(name, _)| {
                let g = self.names[name];
                (g, self.group_docs[g as usize])
            })
            .collect();
        let (mut removed, mut flagged) = (0, 0);
        let mut hashes = Vec::new();
        for d in 0..n {
            let bytes = sets.read_into(d as DocId, buf)?;
            TextEntry::parse(bytes)
                .ok_or_else(|| store::corrupt(path, format!("record {d} is cut short")))?
                .hashes_into(&mut hashes);
            let kept_out = list_at(&seg.sets.removed, &mut removed, d);
            let was_flagged = list_at(&seg.sets.flagged, &mut flagged, d);
            let (g, group_docs) = groups[seg.sets.groups[d] as usize];
            let unseen = is_boilerplate(0, group_docs, &self.params);
            let differs = hashes.iter().enumerate().any(|(i, &h)| {
                let now = unseen || self.now.contains(&(g, h));
                let i = i as u32;
                (now && !kept_out.contains(&i)) || (!now && was_flagged.contains(&i))
            });
            if differs {
                self.docs += 1;
            }
        }
        Ok(())
    }
}

/// One record of the index as it stands: `neardup index records` prints one a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexedRecord {
    /// The record's id.
    pub id: String,
    /// The run that added it.
    pub run: u64,
    /// `ok`, `empty` or why it could not be read, as in `docs.jsonl`.
    pub status: &'static str,
    /// Its cluster now (`None` for a record that could not be read).
    pub cluster: Option<u64>,
    /// True for its cluster's representative now.
    pub keep: bool,
}

/// Calls `f` with every record of the index in index order, with its cluster and
/// representative as they stand after the last run (which may differ from what that
/// record's own run wrote: a later run's `clusters.jsonl` says so). Streamed: every
/// record table and the cluster table are checked whole first (nothing is handed out
/// from a damaged file), then read side by side, so memory does not grow with the index.
pub fn for_each_record<E: From<Error>>(
    dir: &Path,
    mut f: impl FnMut(IndexedRecord) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    existing(dir)?;
    let ix = Index::open(dir, true)?;
    let (Some(m), Some(table)) = (&ix.manifest, ix.clusters_path()) else {
        return Ok(());
    };
    let files: Vec<PathBuf> = m
        .segments
        .iter()
        .map(|e| segment_dir(dir, &e.name).join("records"))
        .collect();
    for (file, entry) in files.iter().zip(&m.segments) {
        pick_records(file, ix.digest, entry, &[])?;
    }
    store::check_stream(&table, "clusters", Some(ix.digest))?;
    let mut clusters = ClusterRows::open(&table, ix.digest, ix.records())?;
    for (file, entry) in files.iter().zip(&m.segments) {
        let mut rows = RecordRows::open(file, ix.digest, entry)?;
        while let Some((run, id, _, _, status)) = rows.next()? {
            let c = clusters
                .next()?
                .ok_or_else(|| store::corrupt(&table, "fewer rows than records"))?;
            f(IndexedRecord {
                id: text(id),
                run,
                status: status.as_str(),
                cluster: (c.cluster != NO_CLUSTER).then_some(c.cluster),
                keep: c.keep,
            })?;
        }
        rows.finish()?;
    }
    clusters.finish()?;
    Ok(())
}

/// Writes the record tables of the segments at `paths` (`entries` their manifest
/// entries) one after the other as one at `path`: every row is checked first (runs,
/// statuses, counts against the manifest), then the bodies are copied.
fn concat_records(
    path: &Path,
    digest: u128,
    paths: &[PathBuf],
    entries: &[SegmentEntry],
) -> Result<()> {
    let files: Vec<PathBuf> = paths.iter().map(|p| p.join("records")).collect();
    let mut len = 8u64;
    for (file, entry) in files.iter().zip(entries) {
        pick_records(file, digest, entry, &[])?;
        len += store::BodyReader::open(file, "records", Some(digest))?.len() - 8;
    }
    let records: u64 = entries.iter().map(|e| e.records).sum();
    store::write_stream(path, "records", digest, len, |sink| {
        sink.put(&records.to_le_bytes())?;
        for file in &files {
            let mut r = store::BodyReader::open(file, "records", Some(digest))?;
            r.u64()?;
            r.copy_to(r.left(), |b| sink.put(b))?;
            r.finish()?;
        }
        Ok(())
    })
}

/// Writes at `path` the paragraph counts of the segments at `paths` summed by group
/// name: the groups in order of first appearance, the keys sorted by `(group, hash)`,
/// at most `budget` bytes of them in memory (past it, in parts on unnamed files in
/// `temp`). Returns each segment's groups' positions among the merged.
fn merge_paragraphs(
    path: &Path,
    digest: u128,
    paths: &[PathBuf],
    temp: &Path,
    budget: usize,
) -> Result<Vec<Vec<u32>>> {
    let files: Vec<PathBuf> = paths.iter().map(|p| p.join("paragraphs")).collect();
    let mut keys = SummedKeys::new(paragraph_keys_in(&files)?, budget, temp)?;
    let merged = sum_paragraph_keys(&files, digest, &mut keys)?;
    let sorted = keys.into_sorted()?;
    let mut head = store::Encoder::default();
    head.count(merged.groups.len());
    for (name, n) in &merged.groups {
        head.str(name);
        head.u64(*n);
    }
    head.u64(sorted.len);
    let len = head.buf.len() as u64 + sorted.len * PARAGRAPH_KEY as u64;
    store::write_stream(path, "paras", digest, len, |sink| {
        sink.put(&head.buf)?;
        sorted
            .for_each(|k| sink.put_with(|buf| write_key(buf, k).expect("a Vec takes every write")))
    })?;
    Ok(merged.to_merged)
}

/// Writes the set stores of the segments at `paths` (`entries` their manifest entries)
/// one after the other into `out`'s `sets.dat` and `sets.idx`: the entries copied as
/// they are (their checksums hold), documents renumbered after the segments before,
/// outlet groups renamed to the merged ones (`to_merged`, from `merge_paragraphs`) and
/// kept only when every segment has them. The `sets.idx` files are read side by side,
/// a section of each at a time, so none is ever whole in memory.
fn concat_sets(
    out: &Path,
    digest: u128,
    paths: &[PathBuf],
    entries: &[SegmentEntry],
    to_merged: &[Vec<u32>],
) -> Result<()> {
    let index: Vec<PathBuf> = paths.iter().map(|p| p.join("sets.idx")).collect();
    let docs: Vec<usize> = entries.iter().map(|e| e.docs as usize).collect();
    let total: usize = docs.iter().sum();
    // each segment's `sets.dat` body length, by its `sets.idx`
    let mut ends = Vec::new();
    store::write_stream_measured(&out.join("sets.idx"), "setsidx", digest, |sink| {
        ends.clear();
        let mut rs = index
            .iter()
            .map(|p| store::BodyReader::open(p, "setsidx", Some(digest)))
            .collect::<Result<Vec<_>>>()?;
        for (r, &n) in rs.iter_mut().zip(&docs) {
            let k = r.count(20)?;
            if k != n {
                return Err(r.error(format!("holds {k} documents where the manifest names {n}")));
            }
        }
        sink.put(&(total as u64).to_le_bytes())?;
        // offsets: a segment's entries come after the bytes of the segments before
        sink.put(&0u64.to_le_bytes())?;
        let mut base = 0u64;
        for (r, &n) in rs.iter_mut().zip(&docs) {
            if r.u64()? != 0 {
                return Err(r.error("the first offset is not 0"));
            }
            let mut prev = 0;
            for _ in 0..n {
                let o = r.u64()?;
                if o < prev {
                    return Err(r.error("offsets go backwards"));
                }
                sink.put(&(base + o).to_le_bytes())?;
                prev = o;
            }
            ends.push(prev);
            base += prev;
        }
        // the records' checksums, then the entries', as they are
        for width in [8, 8] {
            for (r, &n) in rs.iter_mut().zip(&docs) {
                r.copy_to(width * n as u64, |b| sink.put(b))?;
            }
        }
        for (r, &n) in rs.iter_mut().zip(&docs) {
            if r.count(4)? != n {
                return Err(r.error("sizes do not fit the document count"));
            }
        }
        sink.put(&(total as u64).to_le_bytes())?;
        for (r, &n) in rs.iter_mut().zip(&docs) {
            r.copy_to(4 * n as u64, |b| sink.put(b))?;
        }
        concat_doc_lists(&mut rs, &docs, false, sink)?;
        let mut groups = Vec::with_capacity(rs.len());
        for (r, &n) in rs.iter_mut().zip(&docs) {
            let g = r.count(4)?;
            if g != 0 && g != n {
                return Err(r.error(format!("{g} outlet groups for {n} documents")));
            }
            groups.push(g);
        }
        let kept = groups == docs;
        sink.put(&(if kept { total as u64 } else { 0 }).to_le_bytes())?;
        for ((r, &g), to_merged) in rs.iter_mut().zip(&groups).zip(to_merged) {
            for d in 0..g {
                let x = r.u32()?;
                let Some(&merged) = to_merged.get(x as usize) else {
                    return Err(group_out_of_range(r.path(), d, x, to_merged.len()));
                };
                if kept {
                    sink.put(&merged.to_le_bytes())?;
                }
            }
        }
        concat_doc_lists(&mut rs, &docs, true, sink)?;
        rs.into_iter().try_for_each(store::BodyReader::finish)
    })?;
    let files: Vec<PathBuf> = paths.iter().map(|p| p.join("sets.dat")).collect();
    let mut opened = Vec::with_capacity(files.len());
    for (file, &end) in files.iter().zip(&ends) {
        let r = store::BodyReader::open(file, "setsdat", Some(digest))?;
        if r.len() != end {
            return Err(store::corrupt(
                file,
                "its length is not the one sets.idx gives",
            ));
        }
        opened.push(r);
    }
    store::write_stream(
        &out.join("sets.dat"),
        "setsdat",
        digest,
        ends.iter().sum(),
        |sink| {
            for mut r in opened {
                r.copy_to(r.len(), |b| sink.put(b))?;
                r.finish()?;
            }
            Ok(())
        },
    )
}

/// Copies a section of `(document, u32 list)` entries of every segment's `sets.idx`
/// (each reader standing at its count) as one: documents renumbered after the
/// segments' before (`docs` documents each), checked to be in the segment and, when
/// `ascending` (the flagged lists), to ascend.
fn concat_doc_lists(
    rs: &mut [store::BodyReader],
    docs: &[usize],
    ascending: bool,
    sink: &mut store::Sink,
) -> Result<()> {
    let counts = rs
        .iter_mut()
        .map(|r| r.count(12))
        .collect::<Result<Vec<_>>>()?;
    sink.put(&(counts.iter().sum::<usize>() as u64).to_le_bytes())?;
    let mut base = 0u32;
    for ((r, &n), &k) in rs.iter_mut().zip(docs).zip(&counts) {
        let mut prev = None;
        for _ in 0..k {
            let d = r.u32()?;
            if d as usize >= n || (ascending && prev.is_some_and(|p| p >= d)) {
                return Err(r.error(format!("a list names document {d} of {n}, or out of order")));
            }
            prev = Some(d);
            let m = r.count(4)?;
            sink.put(&(base + d).to_le_bytes())?;
            sink.put(&(m as u64).to_le_bytes())?;
            r.copy_to(4 * m as u64, |b| sink.put(b))?;
        }
        base += n as u32;
    }
    Ok(())
}

/// Merges every live segment into one and removes the rest (old segments, orphans): the
/// index's answer is unchanged, its files fewer. Takes the lock.
pub fn compact(dir: &Path) -> Result<Info> {
    let ix = Index::open(dir, false)?;
    let m = ix
        .manifest
        .clone()
        .ok_or_else(|| index_error(dir, "no index here (no MANIFEST)"))?;
    if m.segments.len() > 1 {
        let digest = ix.digest;
        let seg_dir = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(dir.join(SEGMENTS))
            .map_err(|e| Error::output(dir, e))?;
        let out = seg_dir.path();
        let paths: Vec<PathBuf> = m
            .segments
            .iter()
            .map(|e| segment_dir(dir, &e.name))
            .collect();
        // every file streamed, the segments' one after the other: what the index holds a
        // document is never all in memory
        concat_records(&out.join("records"), digest, &paths, &m.segments)?;
        let to_merged =
            merge_paragraphs(&out.join("paragraphs"), digest, &paths, out, COUNTS_BUDGET)?;
        concat_sets(out, digest, &paths, &m.segments, &to_merged)?;
        let rows: Vec<PathBuf> = paths.iter().map(|p| p.join("bands")).collect();
        let rows: Vec<&Path> = rows.iter().map(PathBuf::as_path).collect();
        bands::merge_rows(&out.join("bands"), digest, &rows)?;
        let bands_a_doc = bands::Rows::open(&out.join("bands"), digest)?.bands();
        let runs: Vec<PathBuf> = paths.iter().map(|p| p.join("bandruns")).collect();
        let runs: Vec<(&Path, usize)> = runs
            .iter()
            .zip(&m.segments)
            .map(|(p, e)| (p.as_path(), e.docs as usize))
            .collect();
        bands::merge_runs(&out.join("bandruns"), digest, bands_a_doc + 1, &runs)?;
        let verdict_files: Vec<PathBuf> = paths.iter().map(|p| p.join(verdicts::FILE)).collect();
        let mut through = 0u64;
        let verdict_files: Vec<(&Path, u64)> = verdict_files
            .iter()
            .zip(&m.segments)
            .map(|(p, e)| {
                through += e.docs;
                (p.as_path(), through)
            })
            .collect();
        verdicts::merge(&out.join(verdicts::FILE), digest, &verdict_files)?;
        let old = ix
            .clusters_path()
            .expect("an index with segments has a table");
        let records_n = ix.records();
        write_clusters(&out.join("clusters"), digest, records_n, |put| {
            scan_clusters(&old, digest, records_n, |_, r| put(&r))
        })?;
        let first = m.segments[0].runs.0;
        let name = format!("s{first:06}-{:06}", m.runs);
        let dest = segment_dir(dir, &name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(|e| Error::output(&dest, e))?;
        }
        std::fs::rename(seg_dir.keep(), &dest).map_err(|e| Error::output(&dest, e))?;
        let new = Manifest {
            segments: vec![SegmentEntry {
                name: name.clone(),
                runs: (first, m.runs),
                records: m.segments.iter().map(|s| s.records).sum(),
                docs: m.segments.iter().map(|s| s.docs).sum(),
            }],
            clusters: name,
            ..m
        };
        write_manifest(dir, &new, digest)?;
    }
    // what the manifest no longer names goes, only now that the new one is in place
    let now = existing(dir)?;
    for o in orphans(dir, &now)? {
        let p = dir.join(SEGMENTS).join(o);
        std::fs::remove_dir_all(&p).map_err(|e| Error::output(&p, e))?;
    }
    drop(ix);
    info(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_differences_are_named() {
        let a = Params::default();
        let mut b = Params::default();
        b.shingle.size += 1;
        b.minhash.seed += 1;
        let d = params_differences(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("minhash.seed: index has"), "{d:?}");
        assert!(d[1].starts_with("shingle.size"), "{d:?}");
    }

    /// The set store's promise: every archived text, made into a paragraph record again
    /// as a run loads it (`Rebuilder`), gives back byte for byte the record the streaming
    /// pass of a plain run spilled, for every document of data/sample.jsonl and of a
    /// generated corpus, with the paragraph stage on and off. The whole text is kept:
    /// what lies between the paragraphs decides which way `auto` segments, and a text
    /// without paragraphs is shingled whole.
    /// A run of `input` on 2 threads that adds it to the index at `dir`, its outputs in
    /// `out`.
    fn add_to_index(input: &Path, params: &ValidParams, dir: &Path, out: &Path) {
        let opts = RunOptions {
            out_dir: out.to_path_buf(),
            threads: Some(2),
            spill_dir: None,
            memory: None,
            emit_clean: false,
            output_format: crate::output::OutputFormat::default(),
        };
        let index = IndexOptions {
            dir: dir.to_path_buf(),
            readonly: false,
        };
        run(
            std::slice::from_ref(&input.to_path_buf()),
            params,
            &opts,
            &index,
            &crate::progress::NoProgress,
        )
        .unwrap();
    }

    #[test]
    fn every_archived_text_rebuilds_the_record_a_plain_run_spills() {
        let tmp = tempfile::tempdir().unwrap();
        let generated = tmp.path().join("generated.jsonl");
        let gen_params = crate::generate::GenParams {
            docs: 1500,
            seed: 16,
            ..crate::generate::GenParams::default()
        };
        crate::generate::generate_to(&gen_params, &generated).unwrap();
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl");
        for input in [sample, generated] {
            let texts: Vec<(String, String)> = std::fs::read_to_string(&input)
                .unwrap()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    (v["id"].to_string(), v["text"].as_str().unwrap().to_owned())
                })
                .collect();
            for paragraphs in [true, false] {
                let mut p = Params::default();
                p.paragraphs.enabled = paragraphs;
                let params = p.validate().unwrap();
                let sketched = crate::pipeline::sketch_texts(&texts, &params).unwrap();
                let spill = sketched.verifier.records();
                let dir = tmp.path().join(format!("ix-{paragraphs}"));
                let _ = std::fs::remove_dir_all(&dir);
                add_to_index(&input, &params, &dir, &tmp.path().join("out"));
                let segs = Index::open(&dir, true).unwrap().segments().unwrap();
                let [(entry, seg)] = &segs[..] else {
                    panic!("one run, one segment")
                };
                let path = segment_dir(&dir, &entry.name);
                let entries = seg.open_sets(&path).unwrap();
                let path = path.join("sets.dat");
                assert_eq!(entries.docs(), spill.docs(), "{}", input.display());
                assert!(spill.docs() > 900, "{}", spill.docs());
                let mut r = Rebuilder::default();
                for d in 0..spill.docs() {
                    let bytes = entries.read_bytes(d as DocId).unwrap();
                    let record = r
                        .record(&path, &bytes, d as u32, seg.sets.digests[d], &params)
                        .unwrap();
                    assert!(
                        record == spill.read_bytes(d as DocId).unwrap(),
                        "{} (paragraphs {paragraphs}): document {d}",
                        input.display()
                    );
                }
                // a text that gives another record than its run compared is an error
                // naming the file and the document, never another answer
                let bytes = entries.read_bytes(7).unwrap();
                let err = r
                    .record(&path, &bytes, 7, seg.sets.digests[7] ^ 1, &params)
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains("sets.dat") && err.contains("document 7: its text gives another"),
                    "{err}"
                );
                // and a frame that does not decompress, damage the checksum let through
                let mut cut = bytes.clone();
                cut.truncate(cut.len() - 3);
                let err = r
                    .record(&path, &cut, 7, seg.sets.digests[7], &params)
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains("document 7: its text does not decompress"),
                    "{err}"
                );
            }
        }
    }

    /// The boilerplate keys and stale documents `verify` finds with the summed keys
    /// held in `budget` bytes, the keys by group name.
    fn stale_by_budget(dir: &Path, budget: usize) -> (HashSet<(String, u64)>, u64) {
        let ix = Index::open(dir, true).unwrap();
        let m = ix.manifest.clone().unwrap();
        let params = m.params.clone().validate().unwrap();
        let mut stale =
            StaleBoilerplate::new(&params, dir, &m.segments, ix.digest, budget).unwrap();
        let mut buf = Vec::new();
        for e in &m.segments {
            let path = segment_dir(dir, &e.name);
            let seg = Segment::read(&path, ix.digest, e).unwrap();
            let sets = seg.open_sets(&path).unwrap();
            stale
                .segment(&path.join("sets.dat"), &seg, &sets, &mut buf)
                .unwrap();
        }
        let names: HashMap<u32, &String> = stale.names.iter().map(|(n, &g)| (g, n)).collect();
        let now = stale
            .now
            .iter()
            .map(|&(g, h)| (names[&g].clone(), h))
            .collect();
        (now, stale.docs)
    }

    /// An index at `tmp/ix` of three runs over a generated corpus of 3,000 documents
    /// split in three, with default parameters.
    fn three_segment_index(tmp: &Path) -> (PathBuf, ValidParams) {
        let generated = tmp.join("generated.jsonl");
        let gen_params = crate::generate::GenParams {
            docs: 3000,
            seed: 21,
            ..crate::generate::GenParams::default()
        };
        crate::generate::generate_to(&gen_params, &generated).unwrap();
        let lines: Vec<String> = std::fs::read_to_string(&generated)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let dir = tmp.join("ix");
        let params = Params::default().validate().unwrap();
        for (i, batch) in lines.chunks(lines.len().div_ceil(3)).enumerate() {
            let input = tmp.join(format!("batch{i}.jsonl"));
            std::fs::write(&input, batch.join("\n") + "\n").unwrap();
            add_to_index(&input, &params, &dir, &tmp.join(format!("out{i}")));
        }
        (dir, params)
    }

    /// The streaming compaction's promise: the merged segment's record table, set-store
    /// index and paragraph counts are byte for byte what merging the segments read whole
    /// in memory gives (documents renumbered, groups merged by name, counts summed), the
    /// paragraph counts so inside any budget, and `sets.dat` is the segments' entries one
    /// after the other.
    #[test]
    fn compact_streams_what_an_in_memory_merge_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, _) = three_segment_index(tmp.path());
        let ix = Index::open(&dir, true).unwrap();
        let m = ix.manifest.clone().unwrap();
        let digest = ix.digest;
        let paths: Vec<PathBuf> = m
            .segments
            .iter()
            .map(|e| segment_dir(&dir, &e.name))
            .collect();
        // the oracle, as `compact` did before it streamed
        let mut records = Vec::new();
        let mut sets = SetsIndex {
            offsets: vec![0],
            ..SetsIndex::default()
        };
        let mut paragraphs = ParagraphCounts::default();
        let mut dat = Vec::new();
        let mut base = 0u32;
        for (e, path) in m.segments.iter().zip(&paths) {
            let s = Segment::read(path, digest, e).unwrap();
            records.extend(s.records.iter().cloned());
            let end = *sets.offsets.last().unwrap();
            sets.offsets
                .extend(s.sets.offsets[1..].iter().map(|o| end + o));
            sets.digests.extend_from_slice(&s.sets.digests);
            sets.entries.extend_from_slice(&s.sets.entries);
            sets.sizes.extend_from_slice(&s.sets.sizes);
            sets.removed
                .extend(s.sets.removed.iter().map(|(d, r)| (base + d, r.clone())));
            sets.flagged
                .extend(s.sets.flagged.iter().map(|(d, r)| (base + d, r.clone())));
            let counts = Segment::paragraphs(path, digest).unwrap();
            paragraphs.merge(&counts);
            let merged: HashMap<&str, u32> = paragraphs
                .groups
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (n.as_str(), i as u32))
                .collect();
            sets.groups.extend(
                s.sets
                    .groups
                    .iter()
                    .map(|&g| merged[s.groups[g as usize].0.as_str()]),
            );
            let body = store::read(&path.join("sets.dat"), "setsdat", Some(digest)).unwrap();
            dat.extend_from_slice(&body);
            base += s.sets.digests.len() as u32;
        }
        // `index records` streamed, against the segments and the cluster table read whole
        let listed = || {
            let mut all = Vec::new();
            for_each_record(&dir, |r| {
                all.push(r);
                Ok::<(), Error>(())
            })
            .unwrap();
            all
        };
        let clusters = ix.clusters().unwrap();
        let want: Vec<IndexedRecord> = records
            .iter()
            .zip(&clusters)
            .map(|(r, c)| IndexedRecord {
                id: r.id.clone(),
                run: r.run,
                status: r.status.as_str(),
                cluster: (c.cluster != NO_CLUSTER).then_some(c.cluster),
                keep: c.keep,
            })
            .collect();
        assert_eq!(want.len(), 3000);
        assert!(want.iter().any(|r| r.cluster.is_some() && !r.keep));
        assert_eq!(listed(), want);
        assert!(!sets.removed.is_empty() && !sets.flagged.is_empty());
        assert!(paragraphs.groups.len() > 3 && paragraphs.keys.len() > 1000);
        assert_eq!(sets.groups.len(), sets.digests.len());
        // the paragraph counts alone, inside budgets of about 7 and 50 parts
        let keys = paragraph_keys_in(
            &paths
                .iter()
                .map(|p| p.join("paragraphs"))
                .collect::<Vec<_>>(),
        )
        .unwrap() as usize;
        for parts in [7, 50] {
            let budget = keys * 24 / parts;
            let out = tmp.path().join(format!("paragraphs-{parts}"));
            merge_paragraphs(&out, digest, &paths, tmp.path(), budget).unwrap();
            let body = store::read(&out, "paras", Some(digest)).unwrap();
            assert_eq!(body, paragraphs.encode(), "{parts} parts");
        }
        drop(ix);
        compact(&dir).unwrap();
        let ix = Index::open(&dir, true).unwrap();
        let m = ix.manifest.clone().unwrap();
        assert_eq!(m.segments.len(), 1);
        let seg = segment_dir(&dir, &m.segments[0].name);
        let body =
            |name: &str, kind: &str| store::read(&seg.join(name), kind, Some(digest)).unwrap();
        assert!(body("records", "records") == encode_records(&records));
        assert!(body("sets.idx", "setsidx") == sets.encode());
        assert!(body("paragraphs", "paras") == paragraphs.encode());
        assert!(body("sets.dat", "setsdat") == dat);
        // and what was compacted reads back whole, the same records listed
        Segment::read(&seg, digest, &m.segments[0]).unwrap();
        assert_eq!(listed(), want);
    }

    #[test]
    fn verify_sums_the_archives_paragraph_counts_the_same_inside_any_budget() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, params) = three_segment_index(tmp.path());
        // the oracle: every segment's counts merged in memory, as `compact` does
        let ix = Index::open(&dir, true).unwrap();
        let m = ix.manifest.clone().unwrap();
        assert_eq!(m.segments.len(), 3);
        let mut all = ParagraphCounts::default();
        let mut bytes = 0;
        for e in &m.segments {
            let seg = segment_dir(&dir, &e.name);
            bytes += std::fs::metadata(seg.join("paragraphs")).unwrap().len() as usize;
            all.merge(&Segment::paragraphs(&seg, ix.digest).unwrap());
        }
        let want: HashSet<(String, u64)> = all
            .keys
            .iter()
            .filter(|&&(g, _, n)| is_boilerplate(n, all.groups[g as usize].1, &params))
            .map(|&(g, h, _)| (all.groups[g as usize].0.clone(), h))
            .collect();
        assert!(want.len() > 10, "{} boilerplate keys", want.len());
        let (held, stale) = stale_by_budget(&dir, usize::MAX);
        assert_eq!(held, want);
        // about 7 and 50 parts on disk
        let keys = bytes / PARAGRAPH_KEY;
        for parts in [7, 50] {
            let budget = keys * 24 / parts;
            assert!(
                SummedKeys::new(keys as u64, budget, tmp.path())
                    .unwrap()
                    .parts
                    .len()
                    >= parts
            );
            assert_eq!(stale_by_budget(&dir, budget), (want.clone(), stale));
        }
    }

    #[test]
    fn sets_index_keeps_groups_and_flags_and_a_group_out_of_range_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sets.idx");
        let sets = SetsIndex {
            offsets: vec![0, 0, 0],
            digests: vec![1, 2],
            entries: vec![5, 6],
            sizes: vec![3, 4],
            removed: vec![(1, vec![0, 2])],
            groups: vec![0, 5],
            flagged: vec![(1, vec![2])],
        };
        store::write(&path, "setsidx", 7, &sets.encode()).unwrap();
        let back = SetsIndex::decode(&path, &store::read(&path, "setsidx", None).unwrap()).unwrap();
        assert_eq!((back.groups, back.flagged), (sets.groups, sets.flagged));
        // a run's streaming reader takes what it wants and checks the groups
        let picked = pick_sets(&path, 7, 2, Some(6), &[1]).unwrap();
        assert_eq!(picked.removed, vec![(0, vec![0, 2])]);
        assert_eq!((picked.digests, picked.entries), (vec![2], vec![6]));
        let err = pick_sets(&path, 7, 2, Some(2), &[1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("sets.idx"), "{err}");
        assert!(
            err.contains("document 1 is in outlet group 5, where the segment's paragraphs hold 2"),
            "{err}"
        );
    }

    #[test]
    fn paragraph_counts_merge_by_group_name() {
        let mut a = ParagraphCounts {
            groups: vec![(String::new(), 2), ("x".into(), 3)],
            keys: vec![(1, 7, 2)],
        };
        let b = ParagraphCounts {
            groups: vec![("x".into(), 1), ("y".into(), 4)],
            keys: vec![(0, 7, 1), (1, 9, 4)],
        };
        a.merge(&b);
        assert_eq!(
            a.groups,
            vec![(String::new(), 2), ("x".into(), 4), ("y".into(), 4)]
        );
        assert_eq!(a.keys, vec![(1, 7, 3), (2, 9, 4)]);
    }
}
